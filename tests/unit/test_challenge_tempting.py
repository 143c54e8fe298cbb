"""`[[tempting]]` in a challenge: a wrong design with its name, why it tempts, and the goal metric that catches it;
each mistake is one message naming the file and the field."""

from __future__ import annotations

import pytest

from sandbox.teach.challenges import ChallengeError, Design, parse_challenge_text
from tests.unit.test_challenges import CHALLENGE

TEMPTING = '''
[[tempting]]
name = "retry harder"
why = "More retries look like more resilience; they multiply the load on a dead service."
architecture = "sync"
http.retries = 3
fails = "read.error_rate"
'''


def test_a_tempting_design_loads_like_the_solution_with_its_name_why_and_metric() -> None:
    challenge = parse_challenge_text(CHALLENGE + TEMPTING, "c.toml")
    (tempting,) = challenge.tempting
    assert tempting.name == "retry harder" and tempting.fails == "read.error_rate"
    assert tempting.design == Design("sync", {"http.retries": 3})
    assert parse_challenge_text(CHALLENGE, "c.toml").tempting == ()


@pytest.mark.parametrize(("edit", "message"), [
    (("read.error_rate", "write.error_rate"), "tempting[0].fails: 'write.error_rate' is not a metric of the goal"),
    (('name = "retry harder"\n', ""), "tempting[0].name: is required"),
    (("http.retries = 3", "http.retries = 99"), "tempting[0].http.retries"),
    (('architecture = "sync"', 'architecture = "grpc"'), "tempting[0].architecture"),
])
def test_each_mistake_in_a_tempting_design_names_the_field(edit: tuple[str, str], message: str) -> None:
    with pytest.raises(ChallengeError) as error:
        parse_challenge_text(CHALLENGE + TEMPTING.replace(*edit), "c.toml")
    assert message in str(error.value)
