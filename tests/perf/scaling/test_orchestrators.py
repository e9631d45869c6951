"""What every orchestrator the controller can be given does alike (uvicorn's is exercised
live in tests/e2e/test_autoscale_live.py; here only how it reads its workers' CPU)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from banrimkwae.perf.scaling.kubernetes import KubernetesOrchestrator
from banrimkwae.perf.scaling.orchestrators import (
    DryRunOrchestrator,
    Orchestrator,
    OrchestratorError,
    UvicornOrchestrator,
)
from tests.perf.scaling.conftest import DEPLOYMENT, NAMESPACE
from tests.perf.scaling.kube_api import KubeApiServer


async def _orchestrator(
    request: pytest.FixtureRequest, room: int | None = None
) -> AsyncIterator[Orchestrator]:
    if request.param == "dry-run":
        yield DryRunOrchestrator(2, room=room)
        return
    server: KubeApiServer = request.getfixturevalue("kube_api")
    server.add(NAMESPACE, DEPLOYMENT, 2, ready_delay=0.1, room=room)
    orchestrator = KubernetesOrchestrator.from_config(
        DEPLOYMENT,
        kubeconfig=request.getfixturevalue("kubeconfig"),
        verify_timeout=1.0,
        poll_seconds=0.02,
    )
    yield orchestrator
    orchestrator.close()


@pytest.fixture(params=["dry-run", "kubernetes"])
async def orchestrator(request: pytest.FixtureRequest) -> AsyncIterator[Orchestrator]:
    async for made in _orchestrator(request):
        yield made


@pytest.fixture(params=["dry-run", "kubernetes"])
async def full_orchestrator(request: pytest.FixtureRequest) -> AsyncIterator[Orchestrator]:
    """One whose cluster has room for 3 instances only."""
    async for made in _orchestrator(request, room=3):
        yield made


async def test_scale_returns_the_verified_count_and_current_follows(
    orchestrator: Orchestrator,
) -> None:
    assert await orchestrator.current() == 2
    assert await orchestrator.scale_to(3) == 3
    assert await orchestrator.current() == 3
    assert await orchestrator.scale_to(3) == 3  # already there
    assert await orchestrator.scale_to(1) == 1
    assert await orchestrator.current() == 1


async def test_a_scaling_that_cannot_happen_is_an_orchestrator_error(
    full_orchestrator: Orchestrator,
) -> None:
    with pytest.raises(OrchestratorError, match="4"):
        await full_orchestrator.scale_to(4)


class _Worker:
    """A real process in the shape uvicorn's supervisor lists its workers."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.process = self

    def is_alive(self) -> bool:
        return self.popen.poll() is None


def test_a_worker_still_starting_up_is_not_cpu_load() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        supervisor = SimpleNamespace(processes=[_Worker(busy)])
        starting = UvicornOrchestrator(supervisor, cpu_startup_grace=3600)
        settled = UvicornOrchestrator(supervisor, cpu_startup_grace=0)
        for orchestrator in (starting, settled):
            orchestrator.usage()  # a process's first reading has no interval yet
        time.sleep(0.5)
        starting_cpu, starting_memory = starting.usage()
        settled_cpu, _memory = settled.usage()
    finally:
        busy.kill()
        busy.wait()
    assert starting_cpu is None
    assert starting_memory is not None and starting_memory > 0
    assert settled_cpu is not None and settled_cpu > 20
