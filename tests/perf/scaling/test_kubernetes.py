"""The kubernetes orchestrator through the official client, over real HTTP to a stand-in API
server (tests/perf/scaling/kube_api.py: no control plane can run here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.scaling import ScalingConfig
from banrimkwae.perf.scaling.controller import Controller
from banrimkwae.perf.scaling.kubernetes import KubernetesOrchestrator
from banrimkwae.perf.scaling.orchestrators import OrchestratorError
from banrimkwae.perf.scaling.store import pin_service, recent_events, save_service
from banrimkwae.perf.storage.models import ScalingEvent
from tests.perf.scaling.conftest import DEPLOYMENT, NAMESPACE
from tests.perf.scaling.kube_api import KubeApiServer, role_rules

SCALE_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}/scale"
T0 = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def orchestrator(kubeconfig: Path) -> AsyncIterator[KubernetesOrchestrator]:
    orchestrator = KubernetesOrchestrator.from_config(
        DEPLOYMENT, kubeconfig=kubeconfig, verify_timeout=10, poll_seconds=0.05
    )
    yield orchestrator
    orchestrator.close()


async def test_current_is_the_scale_subresource_in_the_kubeconfig_namespace(
    orchestrator: KubernetesOrchestrator, kube_api: KubeApiServer
) -> None:
    assert orchestrator.namespace == NAMESPACE
    assert await orchestrator.current() == 2
    assert kube_api.requests == [("GET", SCALE_PATH, "")]


async def test_scaling_up_and_down_waits_for_ready_replicas(
    orchestrator: KubernetesOrchestrator, kube_api: KubeApiServer
) -> None:
    deployment = kube_api.deployments[(NAMESPACE, DEPLOYMENT)]
    assert await orchestrator.scale_to(4) == 4
    # It returned only once the pods were ready, not when the patch was accepted.
    assert deployment.replicas == 4 and deployment.ready_now() == 4
    patches = [r for r in kube_api.requests if r[0] == "PATCH"]
    assert patches == [("PATCH", SCALE_PATH, "application/merge-patch+json")]
    assert await orchestrator.current() == 4
    assert await orchestrator.scale_to(1) == 1
    assert deployment.ready_now() == 1


async def test_replicas_that_never_become_ready_fail_naming_what_was_seen(
    kube_api: KubeApiServer, kubeconfig: Path
) -> None:
    kube_api.add(NAMESPACE, DEPLOYMENT, 2, ready_delay=0.1, room=2)  # a full cluster
    orchestrator = KubernetesOrchestrator.from_config(
        DEPLOYMENT, kubeconfig=kubeconfig, verify_timeout=0.5, poll_seconds=0.05
    )
    with pytest.raises(OrchestratorError) as raised:
        await orchestrator.scale_to(3)
    assert str(raised.value) == (
        f"deployment {NAMESPACE}/{DEPLOYMENT}: scaled to 3 replicas; "
        "after 0.5 s saw 3 replicas, 2 ready"
    )


async def test_a_missing_deployment_is_named(kube_api: KubeApiServer, kubeconfig: Path) -> None:
    # rbac.yaml names its Deployment (any other is forbidden): grant every name here.
    kube_api.rules = [{**rule, "resourceNames": []} for rule in role_rules()]
    orchestrator = KubernetesOrchestrator.from_config("nope", kubeconfig=kubeconfig)
    with pytest.raises(OrchestratorError, match=f"deployment {NAMESPACE}/nope not found \\(404\\)"):
        await orchestrator.current()


async def test_forbidden_names_the_rbac_verb_that_is_missing(
    kube_api: KubeApiServer, kubeconfig: Path
) -> None:
    # A Role that forgot `patch` on the scale subresource.
    kube_api.rules = [
        {**rule, "verbs": [verb for verb in rule["verbs"] if verb != "patch"]}
        for rule in role_rules()
    ]
    orchestrator = KubernetesOrchestrator.from_config(DEPLOYMENT, kubeconfig=kubeconfig)
    assert await orchestrator.current() == 2
    with pytest.raises(OrchestratorError) as raised:
        await orchestrator.scale_to(3)
    message = str(raised.value)
    assert message.startswith("forbidden (403): patch on deployments/scale in namespace resort")
    assert "verb 'patch' on 'deployments/scale'" in message
    assert 'cannot patch resource "deployments/scale"' in message  # the API's own words


async def test_wrong_credentials_and_unreachable_api_are_clear(
    kube_api: KubeApiServer, tmp_path: Path
) -> None:
    bad = kube_api.write_kubeconfig(tmp_path / "bad", namespace=NAMESPACE, token="wrong")
    with pytest.raises(OrchestratorError, match="unauthorised \\(401\\)"):
        await KubernetesOrchestrator.from_config(DEPLOYMENT, kubeconfig=bad).current()
    good = kube_api.write_kubeconfig(tmp_path / "good", namespace=NAMESPACE)
    kube_api.stop()
    with pytest.raises(OrchestratorError, match="cannot reach the kubernetes API at http://"):
        await KubernetesOrchestrator.from_config(DEPLOYMENT, kubeconfig=good).current()


def test_configuration_errors_are_orchestrator_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(OrchestratorError, match=r"kubernetes configuration \(kubeconfig .*missing"):
        KubernetesOrchestrator.from_config(DEPLOYMENT, kubeconfig=tmp_path / "missing")
    # In a pod without its service account token mounted.
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(OrchestratorError, match="in-cluster"):
        KubernetesOrchestrator.from_config(DEPLOYMENT)


async def test_an_explicit_context_and_namespace_win(
    kube_api: KubeApiServer, kubeconfig: Path
) -> None:
    kube_api.add("staging", DEPLOYMENT, 5)
    orchestrator = KubernetesOrchestrator.from_config(
        DEPLOYMENT, kubeconfig=kubeconfig, context="stand-in", namespace="staging"
    )
    assert await orchestrator.current() == 5
    with pytest.raises(OrchestratorError, match="kubernetes configuration"):
        KubernetesOrchestrator.from_config(DEPLOYMENT, kubeconfig=kubeconfig, context="absent")


async def _service(engine: AsyncEngine, service: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(ScalingEvent).where(ScalingEvent.service_name == service))
    await save_service(engine, ScalingConfig(service_name=service, max_instances=6), "threshold")


async def test_the_controller_scales_the_deployment_and_records_it(
    engine: AsyncEngine, orchestrator: KubernetesOrchestrator, kube_api: KubeApiServer
) -> None:
    await _service(engine, "k8s-up")
    await pin_service(engine, "k8s-up", 4, T0 + dt.timedelta(minutes=5))
    controller = Controller(engine, orchestrator, service="k8s-up", holder="test")
    result = await controller.cycle(T0)
    assert (result.event, result.instances) == ("scale_up", 4)
    assert kube_api.deployments[(NAMESPACE, DEPLOYMENT)].ready_now() == 4
    events = list(reversed(await recent_events(engine, "k8s-up")))
    assert [e.event_type for e in events] == ["scale_triggered", "scale_up"]
    assert (events[1].from_instances, events[1].to_instances) == (2, 4)
    assert events[1].event_details["orchestrator"] == "kubernetes"
    assert events[1].event_details["verified_instances"] == 4


async def test_the_controller_records_pods_that_never_become_ready(
    engine: AsyncEngine, kube_api: KubeApiServer, kubeconfig: Path
) -> None:
    await _service(engine, "k8s-full")
    kube_api.add(NAMESPACE, DEPLOYMENT, 2, ready_delay=0.1, room=3)
    orchestrator = KubernetesOrchestrator.from_config(
        DEPLOYMENT, kubeconfig=kubeconfig, verify_timeout=0.5, poll_seconds=0.05
    )
    await pin_service(engine, "k8s-full", 5, T0 + dt.timedelta(minutes=5))
    result = await Controller(engine, orchestrator, service="k8s-full", holder="t").cycle(T0)
    assert result.event == "scale_failed"
    failed = (await recent_events(engine, "k8s-full"))[0]
    assert failed.event_type == "scale_failed"
    assert "saw 5 replicas, 3 ready" in failed.event_details["error"]
