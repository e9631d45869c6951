"""The kubernetes orchestrator: the scale subresource of a Deployment, via the official client.

Like the HPA, it takes the scale's `spec.replicas` as the current count and changes it with a
merge patch of the scale subresource (RBAC: get and patch on `deployments/scale`). It then
verifies: it reads the Deployment (RBAC: get on `deployments`) until the controller has
observed the change and `status.replicas` and `status.readyReplicas` both equal the target,
bounded by `verify_timeout`. The client is synchronous, so every call runs in a thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from banrimkwae.perf.scaling.orchestrators import OrchestratorError

# What a pod's service account sees when it runs in a cluster.
IN_CLUSTER_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_MERGE_PATCH = "application/merge-patch+json"
_REQUEST_TIMEOUT_SECONDS = 10.0
T = TypeVar("T")


def load_client_configuration(
    kubeconfig: Path | None = None, context: str | None = None
) -> tuple[client.Configuration, str | None]:
    """(client configuration, the namespace it implies or None).

    With a kubeconfig file, that file (and `context`, else its current one); without, the
    service account of the pod when running in a cluster, else the default kubeconfig
    (KUBECONFIG or ~/.kube/config). Every failure is an OrchestratorError.
    """
    configuration = client.Configuration()
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            namespace = (
                IN_CLUSTER_NAMESPACE_FILE.read_text().strip()
                if IN_CLUSTER_NAMESPACE_FILE.exists()
                else None
            )
            return configuration, namespace
        file = str(kubeconfig) if kubeconfig is not None else None
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=file,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        contexts, current = config.list_kube_config_contexts(config_file=file)  # type: ignore[no-untyped-call]
        chosen = (
            next((c for c in contexts if c["name"] == context), current) if context else current
        )
        namespace = (chosen or {}).get("context", {}).get("namespace")
        return configuration, namespace
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "in-cluster or default kubeconfig"
        raise OrchestratorError(f"kubernetes configuration ({where}): {exc}") from None


class KubernetesOrchestrator:
    """Scales one Deployment; raises OrchestratorError naming what it saw."""

    name = "kubernetes"

    def __init__(
        self,
        deployment: str,
        *,
        namespace: str = "default",
        configuration: client.Configuration | None = None,
        verify_timeout: float = 300.0,
        poll_seconds: float = 1.0,
    ) -> None:
        self.deployment = deployment
        self.namespace = namespace
        self.verify_timeout = verify_timeout
        self.poll_seconds = poll_seconds
        self._api_client = client.ApiClient(configuration)
        self._apps = client.AppsV1Api(self._api_client)

    @classmethod
    def from_config(
        cls,
        deployment: str,
        *,
        namespace: str | None = None,
        kubeconfig: Path | None = None,
        context: str | None = None,
        **options: Any,
    ) -> KubernetesOrchestrator:
        """In-cluster or from a kubeconfig; the namespace defaults to the configuration's."""
        configuration, implied = load_client_configuration(kubeconfig, context)
        return cls(
            deployment,
            namespace=namespace or implied or "default",
            configuration=configuration,
            **options,
        )

    @property
    def target(self) -> str:
        return f"deployment {self.namespace}/{self.deployment}"

    async def current(self) -> int:
        scale = await self._call(
            "get",
            "deployments/scale",
            self._apps.read_namespaced_deployment_scale,
            self.deployment,
            self.namespace,
            _request_timeout=_REQUEST_TIMEOUT_SECONDS,
        )
        return int(scale.spec.replicas or 0) if scale.spec else 0

    async def ready(self) -> tuple[int, int]:
        """(replicas, ready replicas) from the Deployment's status, once it has observed its
        latest spec; before that, (-1, -1)."""
        deployment = await self._call(
            "get",
            "deployments",
            self._apps.read_namespaced_deployment,
            self.deployment,
            self.namespace,
            _request_timeout=_REQUEST_TIMEOUT_SECONDS,
        )
        status = deployment.status
        generation = deployment.metadata.generation if deployment.metadata else None
        if status is None or (
            generation is not None and (status.observed_generation or 0) < generation
        ):
            return -1, -1
        return int(status.replicas or 0), int(status.ready_replicas or 0)

    async def scale_to(self, target: int) -> int:
        if target < 0:
            raise OrchestratorError(f"{self.target}: cannot scale to {target} replicas")
        await self._call(
            "patch",
            "deployments/scale",
            self._apps.patch_namespaced_deployment_scale,
            self.deployment,
            self.namespace,
            {"spec": {"replicas": target}},
            _content_type=_MERGE_PATCH,
            _request_timeout=_REQUEST_TIMEOUT_SECONDS,
        )
        deadline = time.monotonic() + self.verify_timeout
        replicas, ready = await self.ready()
        while (replicas, ready) != (target, target):
            if time.monotonic() >= deadline:
                seen = (
                    "the controller had not observed the change"
                    if replicas < 0
                    else f"{replicas} replicas, {ready} ready"
                )
                raise OrchestratorError(
                    f"{self.target}: scaled to {target} replicas; "
                    f"after {self.verify_timeout:g} s saw {seen}"
                )
            await asyncio.sleep(self.poll_seconds)
            replicas, ready = await self.ready()
        return ready

    def close(self) -> None:
        self._api_client.close()  # type: ignore[no-untyped-call]

    async def _call(self, verb: str, resource: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except ApiException as exc:
            raise OrchestratorError(self._explain(exc, verb, resource)) from None
        except urllib3.exceptions.HTTPError as exc:
            host = self._api_client.configuration.host
            raise OrchestratorError(f"cannot reach the kubernetes API at {host}: {exc}") from None

    def _explain(self, exc: ApiException, verb: str, resource: str) -> str:
        message = _status_message(exc)
        if exc.status == 404:
            return f"{self.target} not found (404): {message}"
        if exc.status == 403:
            return (
                f"forbidden (403): {verb} on {resource} in namespace {self.namespace} is not "
                f"granted; the service account needs a Role with verb {verb!r} on "
                f"{resource!r} (deploy/kubernetes/rbac.yaml): {message}"
            )
        if exc.status == 401:
            return f"unauthorised (401): the kubernetes API refused the credentials: {message}"
        return f"{self.target}: the kubernetes API answered {exc.status} {exc.reason}: {message}"


def _status_message(exc: ApiException) -> str:
    """The `message` of the API's Status object, else the reason."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or "").strip()
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or "").strip()
