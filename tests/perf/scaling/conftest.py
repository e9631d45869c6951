"""Fixtures of the scaling tests: the stand-in Kubernetes API, and the cache tests' Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.perf.cache.conftest import redis_cluster, redis_cluster_url, redis_url
from tests.perf.scaling.kube_api import KubeApiServer

__all__ = ["kube_api", "kubeconfig", "redis_cluster", "redis_cluster_url", "redis_url"]

NAMESPACE = "resort"
DEPLOYMENT = "banrimkwae-api"


@pytest.fixture
def kube_api() -> Iterator[KubeApiServer]:
    """A stand-in API server holding `resort/banrimkwae-api` at 2 ready replicas, authorising
    requests by the Role of deploy/kubernetes/rbac.yaml."""
    server = KubeApiServer().start()
    server.add(NAMESPACE, DEPLOYMENT, 2, ready_delay=0.3)
    yield server
    server.stop()


@pytest.fixture
def kubeconfig(kube_api: KubeApiServer, tmp_path: Path) -> Path:
    """A kubeconfig whose current context points at the stand-in, in namespace `resort`."""
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)
