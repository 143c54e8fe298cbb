"""docker-compose.yml, checked statically (no Docker engine here): services, loopback ports, healthchecks."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def published(service: str) -> dict[int, str]:
    """container port -> host address it is published on."""
    out = {}
    for mapping in COMPOSE["services"][service]["ports"]:
        host, host_port, container_port = mapping.split(":")
        assert host_port == container_port
        out[int(container_port)] = host
    return out


def test_rabbitmq_with_management_on_loopback_and_a_healthcheck():
    rabbit = COMPOSE["services"]["rabbitmq"]
    assert rabbit["image"] == "rabbitmq:3-management"
    assert published("rabbitmq") == {5672: "127.0.0.1", 15672: "127.0.0.1"}
    assert rabbit["healthcheck"]["test"][:2] == ["CMD", "rabbitmq-diagnostics"]
    config = rabbit["volumes"][0].split(":")[0]
    assert "loopback_users = none" in (ROOT / config).read_text()


def test_redis_7_on_loopback_with_a_healthcheck():
    redis = COMPOSE["services"]["redis"]
    assert redis["image"] == "redis:7"
    assert published("redis") == {6379: "127.0.0.1"}
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_every_service_has_a_healthcheck_with_retries():
    for name, service in COMPOSE["services"].items():
        check = service["healthcheck"]
        assert check["retries"] >= 3 and check["interval"].endswith("s"), name


def test_github_ci_runs_the_readme_test_command_against_real_servers():
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert set(job["services"]) == {"rabbitmq", "redis"}
    assert job["services"]["rabbitmq"]["image"] == "rabbitmq:3-management"
    assert all("--health-cmd" in service["options"] for service in job["services"].values())
    assert job["env"]["SANDBOX_REQUIRE_LIVE"] == "1"
    assert job["steps"][-1]["run"] == "./dev test"
    assert "./dev test" in (ROOT / "README.md").read_text()
