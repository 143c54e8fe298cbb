"""`post-office-lab open`'s command line for Streamlit and its port check, without starting a server."""

from __future__ import annotations

import socket

import pytest

from sandbox.catalog import STREAMLIT_CONFIG
from sandbox.ui import launch


def flags(argv: list[str]) -> dict[str, str]:
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}


def test_streamlit_runs_the_packages_app_on_loopback_with_statistics_off_and_small_uploads():
    argv = launch.streamlit_argv(8600, headless=True)
    assert argv[1:5] == ["-m", "streamlit", "run", str(launch.APP_PATH)]
    assert launch.APP_PATH.is_file() and launch.APP_PATH.parent.parent.name == "sandbox"
    given = flags(argv)
    assert given["--server.address"] == "127.0.0.1"
    assert given["--server.port"] == "8600"
    assert given["--browser.gatherUsageStats"] == "false"
    assert given["--server.maxUploadSize"] == "1"
    assert given["--server.headless"] == "true"
    assert given["--runner.magicEnabled"] == "false"  # no docstring of a page is ever drawn on it
    assert flags(launch.streamlit_argv(8600, headless=False))["--server.headless"] == "false"


def test_the_settings_file_gives_only_the_theme_and_the_toolbar_and_cannot_move_the_server(tmp_path):
    assert "--theme.primaryColor" in flags(launch.settings_flags(STREAMLIT_CONFIG))
    hostile = tmp_path / "config.toml"
    hostile.write_text('[server]\naddress = "0.0.0.0"\n[browser]\ngatherUsageStats = true\n'
                       '[theme]\nbase = "dark"\n[client]\nshowErrorDetails = false\n')
    assert launch.settings_flags(hostile) == ["--theme.base", "dark", "--client.showErrorDetails", "false"]
    assert launch.settings_flags(tmp_path / "missing.toml") == []


def test_headless_without_a_display(monkeypatch):
    monkeypatch.setattr(launch.sys, "platform", "linux")
    assert not launch.has_display({})
    assert launch.has_display({"DISPLAY": ":0"})
    assert launch.has_display({"WAYLAND_DISPLAY": "wayland-0"})


@pytest.mark.parametrize("port", [0, 80, 1023, 65536])
def test_a_port_out_of_range_is_refused_in_one_line(port):
    with pytest.raises(launch.LaunchError, match=r"out of range: use a port from 1024 to 65535") as error:
        launch.check_port(port)
    assert "\n" not in str(error.value)


def test_a_port_in_use_is_refused_with_what_to_do():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(launch.LaunchError, match=rf"port {port} on 127.0.0.1 is already in use") as error:
            launch.check_port(port)
    assert "--port" in str(error.value) and "\n" not in str(error.value)


def test_another_address_is_passed_on_and_a_name_is_refused_in_one_line():
    assert flags(launch.streamlit_argv(8600, headless=True, address="0.0.0.0"))["--server.address"] == "0.0.0.0"
    assert launch.check_address("127.0.0.1") and launch.check_address("::1")
    assert not launch.check_address("0.0.0.0")
    with pytest.raises(launch.LaunchError, match=r"'example\.org' is not an IP address"):
        launch.check_address("example.org")


@pytest.mark.parametrize(("address", "allow", "allowed"), [("127.0.0.1", False, None), ("0.0.0.0", False, None),
                                                           ("0.0.0.0", True, "1")])
def test_open_tells_the_server_whether_learners_code_may_run(monkeypatch, address, allow, allowed):
    monkeypatch.setenv(launch.ALLOW_CODE_ENV, "1")  # a value the operator did not choose with --allow-code goes
    monkeypatch.setattr(launch, "check_port", lambda port: None)
    became = {}
    monkeypatch.setattr(launch.os, "execv", lambda path, argv: became.update(
        argv=argv, allowed=launch.os.environ.get(launch.ALLOW_CODE_ENV)))
    launch.open_sandbox(8600, env={}, address=address, allow_code=allow)
    assert flags(became["argv"])["--server.address"] == address
    assert became["allowed"] == allowed
