"""docker-compose.yml, the Dockerfile and the CI workflow, checked statically (no Docker engine here):
services, loopback ports, healthchecks, the image's user, command and files."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from urllib.parse import urlsplit

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
    assert rabbit["image"] == "rabbitmq:4-management", "4.x: what users run today, and what the lessons teach"
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
    assert job["env"]["SANDBOX_CHROMIUM"].startswith("/"), "the runner has no Debian chromium at /usr/bin/chromium"
    assert job["steps"][-1]["run"] == "./dev test"
    assert "./dev test" in (ROOT / "README.md").read_text()


# the sandbox's own container -------------------------------------------------------------------------------

APP_SCRIPT = "sandbox/ui/app.py"
HEALTH = "http://127.0.0.1:8501/_stcore/health"


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def instruction(name: str) -> list[str]:
    return [arguments for keyword, arguments in dockerfile() if keyword == name]


def exec_form(arguments: str) -> list[str]:
    """An instruction's JSON (exec) form, e.g. CMD ["streamlit", "run", ...]."""
    assert arguments.startswith("["), f"not in exec form: {arguments}"
    return json.loads(arguments)


def flags(argv: list[str]) -> dict[str, str]:
    """`--name value` pairs of a command line."""
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}


def test_the_image_is_python_3_11_slim_with_the_requirements_installed_without_a_cache():
    assert instruction("FROM") == ["python:3.11-slim"]
    installs = [run for run in instruction("RUN") if "pip install" in run]
    assert len(installs) == 1
    assert "--no-cache-dir" in installs[0] and "-r requirements.txt" in installs[0]


def test_every_file_the_dockerfile_copies_exists_and_is_not_docker_ignored():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    copies = instruction("COPY")
    assert copies, "the Dockerfile copies nothing"
    for arguments in copies:
        *sources, _destination = [a for a in arguments.split() if not a.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), f"{source} is docker-ignored"
    assert any(arguments.split()[0] == "." for arguments in copies), "the project itself is copied"


def test_the_build_context_leaves_out_local_state_but_keeps_what_the_app_needs():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".lab", ".pytest_cache", ".ruff_cache", "**/__pycache__"} <= ignored
    needed = ["requirements.txt", "sandbox", APP_SCRIPT, "scenarios", "lessons", ".streamlit/config.toml"]
    for path in needed:
        assert (ROOT / path).exists(), path
        parents = [str(p) for p in Path(path).parents if str(p) != "."]
        assert not any(fnmatch.fnmatch(part, pattern) for part in [path, *parents] for pattern in ignored), path


def test_the_image_runs_as_a_user_that_is_not_root():
    users = [(i, arguments) for i, (keyword, arguments) in enumerate(dockerfile()) if keyword == "USER"]
    assert users, "no USER: the app would run as root"
    last_user, user = users[-1]
    assert user.split(":")[0] not in ("root", "0")
    last_cmd = max(i for i, (keyword, _) in enumerate(dockerfile()) if keyword == "CMD")
    assert last_user < last_cmd


def test_the_image_serves_streamlit_on_8501_with_a_healthcheck_on_its_health_endpoint():
    assert instruction("EXPOSE") == ["8501"]
    (healthcheck,) = instruction("HEALTHCHECK")
    assert "--interval=" in healthcheck and "--retries=" in healthcheck
    assert HEALTH in healthcheck.partition(" CMD ")[2]
    (cmd,) = instruction("CMD")
    argv = exec_form(cmd)
    assert argv[:3] == ["streamlit", "run", APP_SCRIPT]
    assert (ROOT / APP_SCRIPT).is_file()
    assert flags(argv) == {"--server.address": "0.0.0.0", "--server.port": "8501",
                           "--browser.gatherUsageStats": "false", "--server.headless": "true"}


def test_compose_app_is_built_here_and_published_on_loopback_8501():
    app = COMPOSE["services"]["app"]
    assert app["build"] == "."
    assert published("app") == {8501: "127.0.0.1"}


def test_compose_app_reaches_rabbitmq_and_redis_by_their_service_names():
    env = COMPOSE["services"]["app"]["environment"]
    amqp, management, redis = (urlsplit(env[name]) for name in
                               ("RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "REDIS_URL"))
    assert (amqp.scheme, amqp.hostname, amqp.port, amqp.path) == ("amqp", "rabbitmq", 5672, "/%2F")
    assert (management.scheme, management.hostname, management.port) == ("http", "rabbitmq", 15672)
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    assert {amqp.hostname, redis.hostname} <= set(COMPOSE["services"])
    assert {5672, 15672} <= set(published("rabbitmq")) and 6379 in published("redis")
    if amqp.username == "guest":  # guest over the compose network needs RabbitMQ's loopback restriction lifted
        config = COMPOSE["services"]["rabbitmq"]["volumes"][0].split(":")[0]
        assert "loopback_users = none" in (ROOT / config).read_text()


def test_compose_app_starts_once_both_servers_are_healthy_and_checks_its_own_health():
    app = COMPOSE["services"]["app"]
    assert app["depends_on"] == {"rabbitmq": {"condition": "service_healthy"},
                                 "redis": {"condition": "service_healthy"}}
    test = app["healthcheck"]["test"]
    assert test[0] == "CMD" and HEALTH in " ".join(test)


def test_the_compose_header_says_how_to_run_everything_or_only_the_servers():
    header = (ROOT / "docker-compose.yml").read_text().split("services:")[0]
    assert "docker compose up -d " in header and "http://127.0.0.1:8501" in header
    assert "docker compose up -d rabbitmq redis" in header


def test_github_ci_builds_the_image_and_smoke_tests_its_health_endpoint():
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    assert workflow["jobs"]["test"]["steps"][-1]["run"] == "./dev test"
    image = workflow["jobs"]["image"]
    assert image["timeout-minutes"] <= 30
    runs = [step["run"] for step in image["steps"] if "run" in step]
    assert "docker build -t post-office-lab ." in runs
    smoke = next(run for run in runs if "_stcore/health" in run)
    assert "docker run -d" in smoke and "post-office-lab" in smoke
    assert "-p 127.0.0.1:8501:8501" in smoke
    lines = smoke.splitlines()
    poll = next(i for i, line in enumerate(lines) if "curl" in line and "_stcore/health" in line)
    assert lines[poll - 1].strip().startswith("for _ in $(seq "), "the wait for the health endpoint is bounded"
    assert not any(word in smoke.split() for word in ("while", "until")), "no unbounded loop"
    assert 'docker stop "$id"' in smoke, "the container is stopped by its id"
    assert runs.index("docker build -t post-office-lab .") < runs.index(smoke)


# the `cluster` profile ------------------------------------------------------------------------------------------

CLUSTER = ("rabbit-1", "rabbit-2", "rabbit-3")
COOKIE_FLAG = "-setcookie"


def cookie(service: str) -> str:
    """The Erlang cookie a node is started with."""
    args = COMPOSE["services"][service]["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"].split()
    return args[args.index(COOKIE_FLAG) + 1]


def test_the_cluster_profile_has_three_rabbitmq_4_nodes_named_by_their_hosts_and_only_in_that_profile():
    services = COMPOSE["services"]
    for name in CLUSTER:
        node = services[name]
        assert node["profiles"] == ["cluster"], f"{name} starts only with --profile cluster"
        assert node["image"] == COMPOSE["services"]["rabbitmq"]["image"], "the cluster runs the single node's 4.x"
        assert node["hostname"] == name, "the node is rabbit@<hostname>, the name its peers look for"
    assert all("profiles" not in services[name] for name in ("rabbitmq", "redis", "app")), "the default stays as is"


def test_the_cluster_nodes_share_one_erlang_cookie_which_their_healthcheck_uses_too():
    cookies = {cookie(name) for name in CLUSTER}
    assert len(cookies) == 1 and cookies.pop()
    for name in CLUSTER:
        test = COMPOSE["services"][name]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "rabbitmq-diagnostics"]
        assert test[test.index("--erlang-cookie") + 1] == cookie(name)
        assert "check_running" in test


def test_the_cluster_nodes_find_each_other_by_classic_config_peer_discovery():
    for name in CLUSTER:
        config_file = COMPOSE["services"][name]["volumes"][0].split(":")[0]
        settings = dict(line.split(" = ", 1) for line in (ROOT / config_file).read_text().splitlines()
                        if " = " in line and not line.startswith("#"))
        assert settings["cluster_formation.peer_discovery_backend"] == "classic_config"
        assert {settings[f"cluster_formation.classic_config.nodes.{n}"] for n in (1, 2, 3)} == {
            f"rabbit@{peer}" for peer in CLUSTER}


def test_the_cluster_nodes_publish_amqp_and_management_on_loopback_ports_of_their_own():
    seen: set[str] = set()
    for name in CLUSTER:
        mappings = {}
        for mapping in COMPOSE["services"][name]["ports"]:
            host, host_port, container_port = mapping.split(":")
            assert host == "127.0.0.1", f"{name} publishes {mapping} beyond loopback"
            mappings[int(container_port)] = host_port
        assert set(mappings) == {5672, 15672}
        assert not seen & set(mappings.values()), "each node has host ports of its own"
        seen |= set(mappings.values())
    assert not seen & {"5672", "15672"}, "the cluster runs beside the one-node rabbitmq service"



def test_the_compose_broker_is_4x_and_the_lab_avoids_what_4x_deprecates_or_refuses():
    """4.3 refuses transient non-exclusive queues and global QoS; 4.0 made 20 a quorum queue's delivery limit."""
    from sandbox.live.rabbitmq.broker import Topology
    from sandbox.live.rabbitmq.policies import invalidation_policy

    assert COMPOSE["services"]["rabbitmq"]["image"].startswith("rabbitmq:4")
    quorum = Topology("q", queue_type="quorum")
    assert invalidation_policy(quorum, 0, "4.3.0").definition["delivery-limit"] == -1, "no limit on 4.x is -1"
    assert "delivery-limit" not in invalidation_policy(quorum, 0, "3.13.7").definition, "3.x has no default limit"
    assert Topology("q", durable=False).exclusive, "a transient queue is exclusive: 4.3 refuses any other"
    live = "".join(path.read_text() for path in (ROOT / "sandbox/live").rglob("*.py"))
    assert "global_qos=True" not in live and "x-queue-version" not in live, "refused or removed in 4.3"
    assert "4.x" in (ROOT / "docker-compose.yml").read_text().split("services:")[0], "the differences are stated"


# the `classroom` profile ---------------------------------------------------------------------------------------

def classroom_services() -> dict[str, dict]:
    return {name: s for name, s in COMPOSE["services"].items() if s.get("profiles") == ["classroom"]}


def test_the_classroom_profile_runs_two_sandbox_workers_of_this_image_behind_one_nginx():
    from sandbox.ui.classroom import proxy_block

    services = classroom_services()
    workers = sorted(name for name, s in services.items() if s.get("build") == ".")
    (proxy,) = [name for name, s in services.items() if s.get("image", "").startswith("nginx:")]
    assert len(workers) == 2 and set(services) == {*workers, proxy}
    for name in workers:
        assert "ports" not in services[name], "a worker is reached through the proxy only"
        assert services[name]["hostname"] == name
        assert HEALTH in " ".join(services[name]["healthcheck"]["test"])
    source, target, mode = services[proxy]["volumes"][0].split(":")
    assert (target, mode) == ("/etc/nginx/conf.d/default.conf", "ro")
    assert (ROOT / source).read_text().endswith(proxy_block([f"{name}:8501" for name in workers], "8501")), \
        "deploy/nginx-classroom.conf is what `open --workers` runs, for the compose workers"
    (mapping,) = services[proxy]["ports"]
    assert mapping.startswith("127.0.0.1:") and mapping.endswith(":8501"), "the proxy is published on loopback"
    assert mapping.split(":")[1] not in {"8501", "5672", "15672", "6379"}, "beside the default app's port"
    assert services[proxy]["depends_on"] == {name: {"condition": "service_healthy"} for name in workers}
    assert all("profiles" not in COMPOSE["services"][name] for name in ("rabbitmq", "redis", "app"))
