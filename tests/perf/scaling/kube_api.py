"""A stand-in for the Kubernetes API server, for the kubernetes orchestrator's tests.

No control plane can run here, so this real HTTP server on a loopback port answers exactly
what the official client asks of it, in the API's own JSON shapes:

- GET   /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale   -> autoscaling/v1 Scale
- PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale   (merge or strategic merge)
- GET   /apis/apps/v1/namespaces/{ns}/deployments/{name}         -> apps/v1 Deployment

It checks the bearer token (401 Status otherwise), answers 404 Status objects for unknown
deployments, and authorises every request against RBAC rules (by default those of
deploy/kubernetes/rbac.yaml), answering a 403 Status like the real one. A deployment's pods
become ready `ready_delay` seconds after a change, up to `room` pods (the rest stay Pending),
as the Deployment controller and scheduler would have it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

RBAC_MANIFEST = Path(__file__).parents[3] / "deploy" / "kubernetes" / "rbac.yaml"
_PATH = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+?)(/scale)?$")
_PATCH_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def role_rules(manifest: Path = RBAC_MANIFEST) -> list[dict[str, Any]]:
    """The rules of the Role in a manifest file."""
    for document in yaml.safe_load_all(manifest.read_text()):
        if document and document.get("kind") == "Role":
            return list(document["rules"])
    raise ValueError(f"no Role in {manifest}")


@dataclass
class FakeDeployment:
    namespace: str
    name: str
    replicas: int
    ready_delay: float = 0.2
    room: int | None = None
    generation: int = 1
    ready: int = 0
    previous_ready: int = 0
    changed_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.ready = self.previous_ready = self._fits(self.replicas)

    def _fits(self, count: int) -> int:
        return count if self.room is None else min(count, self.room)

    def scale(self, replicas: int) -> None:
        self.previous_ready = self.ready_now()
        self.replicas = replicas
        self.generation += 1
        self.changed_at = time.monotonic()

    def ready_now(self) -> int:
        if time.monotonic() - self.changed_at >= self.ready_delay:
            return self._fits(self.replicas)
        return min(self.previous_ready, self.replicas)  # scale-down stops pods at once

    def labels(self) -> dict[str, str]:
        return {"app": self.name}

    def scale_object(self) -> dict[str, Any]:
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": str(self.generation),
            },
            "spec": {"replicas": self.replicas},
            "status": {"replicas": self.replicas, "selector": f"app={self.name}"},
        }

    def deployment_object(self) -> dict[str, Any]:
        ready = self.ready_now()
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "generation": self.generation,
                "resourceVersion": str(self.generation),
                "labels": self.labels(),
            },
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": self.labels()},
                "template": {
                    "metadata": {"labels": self.labels()},
                    "spec": {"containers": [{"name": "api", "image": "banrimkwae:latest"}]},
                },
            },
            "status": {
                "observedGeneration": self.generation,
                "replicas": self.replicas,
                "updatedReplicas": self.replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": self.replicas - ready,
            },
        }


def _status(code: int, reason: str, message: str, name: str = "") -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"name": name, "group": "apps", "kind": "deployments"},
        "code": code,
    }


class KubeApiServer:
    """The stand-in server; `url` is its address, `token` the bearer token it accepts."""

    def __init__(
        self,
        *,
        token: str = "test-token",
        rules: list[dict[str, Any]] | None = None,
        user: str = "system:serviceaccount:default:banrimkwae-autoscaler",
    ) -> None:
        self.token = token
        self.rules = role_rules() if rules is None else rules
        self.user = user
        self.deployments: dict[tuple[str, str], FakeDeployment] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, content type)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, namespace: str, name: str, replicas: int, **options: Any) -> FakeDeployment:
        deployment = FakeDeployment(namespace, name, replicas, **options)
        self.deployments[(namespace, name)] = deployment
        return deployment

    def allowed(self, verb: str, resource: str, name: str) -> bool:
        for rule in self.rules:
            if "apps" not in rule.get("apiGroups", []):
                continue
            names = rule.get("resourceNames")
            if (
                resource in rule.get("resources", [])
                and verb in rule.get("verbs", [])
                and (not names or name in names)
            ):
                return True
        return False

    def write_kubeconfig(self, path: Path, *, namespace: str = "default", token: str = "") -> Path:
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "users": [{"name": "autoscaler", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "stand-in",
                    "context": {
                        "cluster": "stand-in",
                        "user": "autoscaler",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "stand-in",
        }
        path.write_text(yaml.safe_dump(kubeconfig))
        return path

    def start(self) -> KubeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests assert on `server.requests` instead."""

            def do_GET(self) -> None:
                self._serve("get")

            def do_PATCH(self) -> None:
                self._serve("patch")

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, verb: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                content_type = self.headers.get("Content-Type", "")
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.requests.append((verb.upper(), path, content_type))
                    code, body = self._answer(verb, path, content_type, payload)
                self._send(code, body)

            def _answer(
                self, verb: str, path: str, content_type: str, payload: bytes
            ) -> tuple[int, dict[str, Any]]:
                if self.headers.get("Authorization") != f"Bearer {server.token}":
                    return 401, _status(401, "Unauthorized", "Unauthorized")
                match = _PATH.match(path)
                if match is None:
                    return 404, _status(404, "NotFound", "the server could not find the resource")
                namespace, name, scale = match.groups()
                resource = "deployments/scale" if scale else "deployments"
                if not server.allowed(verb, resource, name):
                    message = (
                        f'deployments.apps "{name}" is forbidden: User "{server.user}" cannot '
                        f'{verb} resource "{resource}" in API group "apps" in the namespace '
                        f'"{namespace}"'
                    )
                    return 403, _status(403, "Forbidden", message, name)
                deployment = server.deployments.get((namespace, name))
                if deployment is None:
                    message = f'deployments.apps "{name}" not found'
                    return 404, _status(404, "NotFound", message, name)
                if verb == "patch":
                    if content_type not in _PATCH_TYPES:
                        return 415, _status(415, "UnsupportedMediaType", content_type)
                    replicas = json.loads(payload)["spec"]["replicas"]
                    deployment.scale(int(replicas))
                if scale:
                    return 200, deployment.scale_object()
                return 200, deployment.deployment_object()

        return Handler
