"""The scenarios page on the live lab: a real run, with the simulation's prediction drawn beside it."""

import pytest

from sandbox.engine import live_unavailable
from sandbox.live.servers import START_RABBITMQ
from tests.helpers import unavailable
from tests.integration.ui.support import app

pytestmark = pytest.mark.live

SHORT_USER_DOWN = b"""
id = "short-user-down"
title = "User down, briefly, for real"
duration = 14
[load]
reads_per_s = 20
writes_per_s = 2
[[timeline]]
at = 4
do = "kill"
target = "user"
[[expect]]
variant = "sync"
metric = "read.error_rate"
during = [7, 14]
above = 0.5
[[expect]]
variant = "queue"
metric = "read.error_rate"
during = [7, 14]
below = 0.01
"""


def test_a_live_run_from_the_page_shows_verdicts_and_the_simulations_prediction():
    reason = live_unavailable()
    if reason:
        unavailable(reason, START_RABBITMQ)
    at = app("scenarios")
    at.radio(key="source").set_value("upload a TOML file").run()
    at.file_uploader(key="upload").set_value(("short.toml", SHORT_USER_DOWN, "application/toml")).run()
    at.segmented_control(key="engine").set_value("live").run()
    assert not at.warning, "the page says the live lab is unavailable although RabbitMQ answers"
    at.button(key="run").click().run(timeout=120)
    assert not at.exception, at.exception
    assert not at.error, at.error[0].value
    summary = next(m.value for m in at.markdown if "expectations hold" in m.value)
    assert "2/2 expectations hold · live" in summary
    played, prediction = at.session_state["scenario_run"]
    assert played.engine.name == "live" and prediction
    assert {f["variant"] for f in prediction} == {"sync", "queue"}

