"""The scenarios page in AppTest: run a scenario and read its verdicts; a bad upload shows the loader's message."""

import json

from sandbox.catalog import find_scenario
from sandbox.present.charts import PANEL_KEYS
from sandbox.present.diagram import HEALTH_COLOURS, HEALTH_WORDS
from sandbox.present.html_report import html_report
from tests.integration.ui.support import app


def _chart_specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def _y_domain(spec: dict) -> list[float]:
    return next(layer["encoding"]["y"]["scale"]["domain"] for layer in spec["layer"] if layer["mark"]["type"] == "line")


def test_running_a_scenario_shows_its_verdict_first_in_words_with_every_why():
    at = app("scenarios")
    at.selectbox(key="scenario_id").set_value("user-down").run()
    assert at.expander[0].label == "**The User Service goes down** — what it does"
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    expected = len(find_scenario("user-down").expectations)
    texts = [m.value for m in at.markdown]
    summary = next(i for i, text in enumerate(texts) if "expectations hold" in text)
    assert f"✅ {expected}/{expected} expectations hold" in texts[summary]
    checks = [text for text in texts if text.startswith(("✅", "❌"))]
    assert len(checks) == expected and all(c.startswith("✅") for c in checks)
    assert checks[0].startswith("✅ **sync: failed reads from 12 to 30 s above 50.0%** — observed **")
    assert texts.index(checks[0]) == summary + 1  # the verdicts come before any chart
    assert not any("read.error_rate" in text for text in texts)  # raw names only in the help
    whys = [c.value for c in at.caption if c.value.startswith("why: ")]
    assert len(whys) == expected and "a miss that needs the User Service" in whys[0]
    assert {d.label for d in at.download_button} == {"⬇️ run as JSON", "⬇️ report (HTML with the charts)"}
    assert len(at.dataframe) == 2


def test_the_scenario_charts_share_one_y_axis_per_panel_and_label_the_timeline():
    at = app("scenarios")
    at.selectbox(key="scenario_id").set_value("user-down").run()
    at.button(key="run").click().run()
    specs = _chart_specs(at)
    assert len(specs) == 2 * len(PANEL_KEYS)
    for sync, queue in zip(specs[::2], specs[1::2], strict=True):  # one row per panel: sync, then queue
        assert sync["title"]["text"] == queue["title"]["text"]
        assert _y_domain(sync) == _y_domain(queue)
    titles = [spec["title"]["text"] for spec in specs[::2]]
    assert titles[0] == "failed requests (%)" and _y_domain(specs[0]) == [0.0, 100.0]
    line = next(layer for layer in specs[0]["layer"] if layer["mark"]["type"] == "line")
    assert line["mark"]["interpolate"] == "step-before"
    numbers = [row["n"] for layer in specs[0]["layer"] if layer["mark"]["type"] == "text"
               for row in layer["data"]["values"]]
    assert sorted(numbers) == ["①", "②"]  # the charts number the moments; the caption says them
    assert any("① 10 s kill User Service · ② 30 s revive User Service" in c.value for c in at.caption)


def test_a_failing_expectation_shows_a_cross(tmp_path):
    upload = b"""
title = "a claim that is false"
duration = 20
[[expect]]
variant = "sync"
metric = "read.error_rate"
above = 0.5
why = "nothing breaks, so this cannot hold"
"""
    at = app("scenarios")
    at.radio(key="source").set_value("upload a TOML file").run()
    at.file_uploader(key="upload").set_value(("false-claim.toml", upload, "application/toml")).run()
    at.button(key="run").click().run()
    assert any("❌ 0/1 expectations hold" in m.value for m in at.markdown)
    assert any(m.value.startswith("❌ **sync: failed reads from 0 to 20 s above 50.0%**") for m in at.markdown)
    assert "nothing breaks, so this cannot hold" in "\n".join(c.value for c in at.caption)


def test_a_bad_upload_shows_the_loaders_message_not_a_traceback():
    at = app("scenarios")
    at.radio(key="source").set_value("upload a TOML file").run()
    at.file_uploader(key="upload").set_value(
        ("broken.toml", b'title = "x"\nduration = 30\n[[timeline]]\nat = 5\ndo = "explode"\n', "application/toml")
    ).run()
    assert not at.exception
    [error] = at.error
    assert "broken.toml" in error.value and "timeline[0]" in error.value and "explode" in error.value
    at.file_uploader(key="upload").set_value(("junk.toml", b"title = [unclosed", "application/toml")).run()
    assert not at.exception
    assert "not valid TOML" in at.error[0].value
    at.file_uploader(key="upload").set_value(("binary.toml", b"\xff\xfe\x00", "application/toml")).run()
    assert "not a text file" in at.error[0].value


def test_the_report_is_self_contained_html_with_the_charts():
    from sandbox.catalog import find_scenario
    from sandbox.engine import run_scenario

    result = run_scenario(find_scenario("consumer-crash"))
    html = html_report(result)
    assert html.startswith("<!doctype html>")
    assert html.count("<svg") == len(PANEL_KEYS) * len(result.scenario.variants)
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "expectations" in html.lower()


def test_the_about_page_names_the_real_ports():
    at = app("about")
    text = "\n".join(m.value for m in at.markdown)
    assert "5672" in text and "15672" in text and "6379" in text
    assert at.warning or at.success  # the live lab's availability, in words


def test_the_engine_switch_says_why_the_live_lab_is_unavailable(monkeypatch):
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:1/%2F")
    at = app("scenarios")
    at.segmented_control(key="engine").set_value("live").run()
    [warning] = at.warning
    assert "RabbitMQ is not reachable at 127.0.0.1:1" in warning.value
    assert "docker compose up -d rabbitmq" in warning.value
    assert at.button(key="run").disabled


def test_the_about_page_shows_each_colour_as_a_swatch_with_its_meaning():
    at = app("about")
    legend = next(m.value for m in at.markdown if "refuses connections" in m.value)
    for name, (fill, border) in HEALTH_COLOURS.items():
        assert f"background:{fill};border:2px solid {border}'></span> {HEALTH_WORDS[name]}" in legend
    assert "up: up" not in legend


def test_the_about_page_names_the_broker_version_from_its_server_properties(monkeypatch):
    import sandbox.live.servers

    monkeypatch.setattr(sandbox.live.servers, "check_rabbitmq", lambda url, timeout_s=3.0: "RabbitMQ 4.3.0")
    at = app("about")
    [success] = at.success
    assert success.value.startswith("Live lab here: RabbitMQ 4.3.0 answers (the version its server properties")
    assert any("only a reject or a lost connection counts" in caption.value for caption in at.caption)
