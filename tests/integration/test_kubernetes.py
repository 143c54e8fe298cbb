"""deploy/ on Kubernetes, checked statically (no cluster and no kubectl here): the kinds, every selector against the
labels it must match, ports, probes, the sticky Ingress, the autoscaler's target, and the three RabbitMQ nodes named
as the compose `cluster` profile's settings file expects."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
DOCUMENTS = [doc for resource in KUSTOMIZATION["resources"]
             for doc in yaml.safe_load_all((DEPLOY / resource).read_text()) if doc]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def one(kind: str, name: str) -> dict:
    (found,) = [d for d in DOCUMENTS if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def container_ports(workload: dict) -> dict[str, int]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return {port["name"]: port["containerPort"] for port in container["ports"]}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def test_the_kustomization_lists_files_that_exist_and_holds_every_kind_the_classroom_needs():
    for resource in KUSTOMIZATION["resources"]:
        assert (DEPLOY / resource).is_file(), resource
    kinds = {(d["apiVersion"], d["kind"]) for d in DOCUMENTS}
    assert {("apps/v1", "Deployment"), ("v1", "Service"), ("networking.k8s.io/v1", "Ingress"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"), ("apps/v1", "StatefulSet")} <= kinds
    names = [(d["kind"], d["metadata"]["name"]) for d in DOCUMENTS]
    assert len(names) == len(set(names)), "two objects of one kind share a name"


def test_the_deployment_selects_its_own_pods_and_every_service_selects_pods_that_exist():
    for workload in (d for d in DOCUMENTS if d["kind"] in ("Deployment", "StatefulSet")):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selects(workload["spec"]["selector"]["matchLabels"], labels), workload["metadata"]["name"]
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in DOCUMENTS if d["kind"] in ("Deployment",
                                                                                           "StatefulSet")]
    for service in (d for d in DOCUMENTS if d["kind"] == "Service"):
        assert any(selects(service["spec"]["selector"], labels) for labels in pods), service["metadata"]["name"]


def test_the_app_serves_the_image_s_streamlit_port_with_health_probes_and_a_cpu_request():
    deployment = one("Deployment", "sandbox")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container_ports(deployment) == {"http": 8501}
    assert container["args"][container["args"].index("--server.port") + 1] == "8501"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/_stcore/health", "port": "http"}, probe
    assert container["resources"]["requests"]["cpu"], "an HPA on CPU utilization needs a CPU request"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_service_is_sticky_by_client_address_and_targets_the_container_port_by_name():
    service = one("Service", "sandbox")
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in container_ports(one("Deployment", "sandbox"))


def test_the_ingress_pins_a_browser_to_a_pod_with_a_cookie_and_keeps_websockets_open():
    ingress = one("Ingress", "sandbox")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert notes["nginx.ingress.kubernetes.io/session-cookie-name"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600, "a lesson's websocket outlives 60 s"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    service = one("Service", backend["name"])
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    assert path["path"] == "/" and path["pathType"] == "Prefix"


def test_the_autoscaler_scales_the_app_on_cpu_and_scales_down_slowly():
    hpa = one("HorizontalPodAutoscaler", "sandbox")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    one("Deployment", target["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300, "a scale-down ends sessions"


def test_the_rabbitmq_nodes_are_the_compose_cluster_s_names_with_its_settings_file_and_one_cookie():
    rabbit = one("StatefulSet", "rabbit")
    replicas, start = rabbit["spec"]["replicas"], rabbit["spec"].get("ordinals", {}).get("start", 0)
    pods = {f"{rabbit['metadata']['name']}-{i}" for i in range(start, start + replicas)}
    compose_nodes = {name for name, s in COMPOSE["services"].items() if s.get("profiles") == ["cluster"]}
    assert pods == compose_nodes == {"rabbit-1", "rabbit-2", "rabbit-3"}
    settings = (DEPLOY / "rabbitmq-cluster.conf").read_text()
    assert {f"rabbit@{pod}" for pod in pods} <= set(settings.split())
    (generated,) = [g for g in KUSTOMIZATION["configMapGenerator"] if g["name"] == "rabbit-config"]
    (entry,) = generated["files"]
    key, _, source = entry.partition("=")
    assert (DEPLOY / source).resolve() == (DEPLOY / "rabbitmq-cluster.conf").resolve()
    spec = rabbit["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "config"]
    assert mount["subPath"] == key and mount["mountPath"].startswith("/etc/rabbitmq/conf.d/")
    headless = one("Service", rabbit["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    namespace = KUSTOMIZATION["namespace"]
    assert spec["dnsConfig"]["searches"] == [f"{headless['metadata']['name']}.{namespace}.svc.cluster.local"], \
        "the peers' short names resolve through the headless Service"
    env = {e["name"]: e for e in container["env"]}
    assert env["RABBIT_COOKIE"]["valueFrom"]["secretKeyRef"]["name"] in {
        s["name"] for s in KUSTOMIZATION["secretGenerator"]}
    assert "-setcookie $(RABBIT_COOKIE)" in env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]["value"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert '--erlang-cookie "$RABBIT_COOKIE"' in container[probe]["exec"]["command"][-1], probe
    assert {"amqp", "epmd", "distribution"} <= set(container_ports(rabbit))
    assert container_ports(rabbit)["distribution"] == 25672 and container_ports(rabbit)["epmd"] == 4369
