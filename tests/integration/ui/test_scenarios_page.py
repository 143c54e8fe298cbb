"""The scenarios page in AppTest: run a scenario and read its verdicts; a bad upload shows the loader's message."""


from sandbox.present.html_report import html_report
from tests.integration.ui.support import app


def test_running_a_scenario_shows_its_verdicts_and_offers_the_run_for_download():
    at = app("scenarios")
    at.selectbox(key="scenario_id").set_value("user-down").run()
    assert any("The User Service goes down" in h.value for h in at.subheader)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    summary = next(m.value for m in at.markdown if "expectations hold" in m.value)
    assert "✅ 6/6 expectations hold" in summary
    checks = [m.value for m in at.markdown if m.value.startswith(("✅", "❌"))]
    assert len(checks) == 6 and all(c.startswith("✅") for c in checks)
    assert "sync read.error_rate during 12–30 s above 0.5" in checks[0]
    assert {d.label for d in at.download_button} == {"⬇️ run as JSON", "⬇️ report (HTML with the charts)"}
    assert len(at.dataframe) == 2


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
    assert any(m.value.startswith("❌ **sync read.error_rate") for m in at.markdown)


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
    assert html.startswith("<!doctype html>") and html.count("<svg") == 4 * len(result.scenario.variants)
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
