"""deploy/kubernetes: the manifests parse, the API pods have the three probes, and the Role
grants exactly what the kubernetes orchestrator calls, to the account its controller runs as."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from banrimkwae.perf.scaling.kubernetes import KubernetesOrchestrator
from tests.perf.scaling.kube_api import KubeApiServer

MANIFESTS = Path(__file__).parents[3] / "deploy" / "kubernetes"


def _documents() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                assert {"apiVersion", "kind", "metadata"} <= document.keys(), path
                found[(document["kind"], document["metadata"]["name"])] = document
    return found


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def test_the_api_pods_answer_the_three_probes() -> None:
    api = _container(_documents()[("Deployment", "banrimkwae-api")])
    paths = {
        probe: api[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths == {
        "startupProbe": "/health/startup",
        "livenessProbe": "/health/live",
        "readinessProbe": "/health/ready",
    }


def test_the_role_is_bound_to_the_account_the_controller_runs_as() -> None:
    documents = _documents()
    controller = documents[("Deployment", "banrimkwae-autoscaler")]
    account = controller["spec"]["template"]["spec"]["serviceAccountName"]
    assert ("ServiceAccount", account) in documents
    binding = documents[("RoleBinding", "banrimkwae-autoscaler")]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "banrimkwae-autoscaler",
    }
    assert {"kind": "ServiceAccount", "name": account} in binding["subjects"]
    env = {item["name"]: item["value"] for item in _container(controller)["env"]}
    assert env["BANRIMKWAE_AUTOSCALE_ORCHESTRATOR"] == "kubernetes"
    scaled = env["BANRIMKWAE_AUTOSCALE_KUBERNETES_DEPLOYMENT"]
    assert ("Deployment", scaled) in documents
    assert _container(controller)["args"][:3] == ["banrimkwae", "autoscale", "run"]


async def test_the_role_grants_what_the_orchestrator_calls_and_no_more(tmp_path: Path) -> None:
    rules = _documents()[("Role", "banrimkwae-autoscaler")]["rules"]
    granted = {
        (resource, verb, name)
        for rule in rules
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule["resourceNames"]
    }
    assert granted == {
        ("deployments/scale", "get", "banrimkwae-api"),
        ("deployments/scale", "patch", "banrimkwae-api"),
        ("deployments", "get", "banrimkwae-api"),
    }
    # And these rules suffice: the stand-in API authorises every call by them.
    server = KubeApiServer(rules=rules).start()
    try:
        server.add("default", "banrimkwae-api", 1, ready_delay=0.0)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        orchestrator = KubernetesOrchestrator.from_config(
            "banrimkwae-api", kubeconfig=kubeconfig, poll_seconds=0.01
        )
        assert await orchestrator.scale_to(2) == 2
        assert await orchestrator.current() == 2
        orchestrator.close()
        assert {(method, path.rsplit("/", 1)[-1]) for method, path, _ in server.requests} == {
            ("PATCH", "scale"),
            ("GET", "banrimkwae-api"),
            ("GET", "scale"),
        }
    finally:
        server.stop()
