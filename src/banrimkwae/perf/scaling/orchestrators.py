"""Where scaling decisions are carried out, behind one narrow interface.

- DryRunOrchestrator: only records; its count is what it was last asked for.
- UvicornOrchestrator: the embedded default. It holds uvicorn's multiprocess supervisor (the
  controller runs in a thread of the supervisor's process), marks the worker that will go as
  draining (its /health/ready answers 503), waits `drain_seconds`, then sends SIGTTIN/SIGTTOU
  one at a time (Python coalesces a signal that arrives twice before its handler runs) and
  verifies the live worker count after each.
- KubernetesOrchestrator (perf.scaling.kubernetes): patches the scale subresource of a
  Deployment through the official client and verifies its ready replicas.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any, Protocol

import psutil

from banrimkwae.perf.scaling.health import drain_marker

# uvicorn handles queued signals every 0.5 s; a worker process appears at once when spawned.
_POLL_SECONDS = 0.1


class OrchestratorError(RuntimeError):
    """A scaling that did not happen as asked; the message says what was seen."""


class Orchestrator(Protocol):
    name: str

    async def current(self) -> int:
        """The live count of instances."""
        ...

    async def scale_to(self, target: int) -> int:
        """Move to `target` instances; return the verified live count or raise OrchestratorError."""
        ...


class DryRunOrchestrator:
    """Records what it is asked; `room` models a cluster that fits only so many instances."""

    name = "dry-run"

    def __init__(self, instances: int, *, room: int | None = None) -> None:
        self.instances = instances
        self.room = room
        self.requested: list[int] = []

    async def current(self) -> int:
        return self.instances

    async def scale_to(self, target: int) -> int:
        self.requested.append(target)
        if self.room is not None and target > self.room:
            raise OrchestratorError(f"asked for {target} instances; there is room for {self.room}")
        self.instances = target
        return target


# A worker's CPU counts only once it has run this long: its own start-up (imports, the
# lifespan) is not load. The Kubernetes HPA ignores a new pod's CPU for a while likewise.
CPU_STARTUP_GRACE_SECONDS = 10.0


class UvicornOrchestrator:
    """Scales uvicorn's `Multiprocess` supervisor running in this very process."""

    name = "uvicorn"

    def __init__(
        self,
        supervisor: Any,
        *,
        drain_dir: Path | None = None,
        drain_seconds: float = 2.0,
        verify_timeout: float = 20.0,
        cpu_startup_grace: float = CPU_STARTUP_GRACE_SECONDS,
    ) -> None:
        self.supervisor = supervisor
        self.drain_dir = drain_dir
        self.drain_seconds = drain_seconds
        self.verify_timeout = verify_timeout
        self.cpu_startup_grace = cpu_startup_grace
        self._tracked: dict[int, psutil.Process] = {}

    def usage(self) -> tuple[float | None, float | None]:
        """(mean CPU % of one core, mean memory %) of the live workers since the last call.

        Workers younger than `cpu_startup_grace` seconds count for memory, not for CPU.
        """
        cpu: list[float] = []
        memory: list[float] = []
        seen: dict[int, psutil.Process] = {}
        settled_before = time.time() - self.cpu_startup_grace
        for process in list(self.supervisor.processes):
            pid = process.pid
            if pid is None or not process.process.is_alive():
                continue
            try:
                tracked = self._tracked.get(pid) or psutil.Process(pid)
                first = pid not in self._tracked
                seen[pid] = tracked
                value = tracked.cpu_percent(interval=None)
                # The first call of a psutil.Process has no interval yet.
                if not first and tracked.create_time() <= settled_before:
                    cpu.append(value)
                memory.append(tracked.memory_percent())
            except psutil.Error:
                continue
        self._tracked = seen
        return (sum(cpu) / len(cpu) if cpu else None, sum(memory) / len(memory) if memory else None)

    def _live(self) -> int:
        return sum(1 for process in list(self.supervisor.processes) if process.process.is_alive())

    async def current(self) -> int:
        return self._live()

    async def scale_to(self, target: int) -> int:
        if target < 1:
            raise OrchestratorError(f"uvicorn keeps at least one worker, not {target}")
        while (live := self._live()) != target:
            if live < target:
                await self._step(signal.SIGTTIN, live + 1)
            else:
                marker = await self._drain_last()
                try:
                    await self._step(signal.SIGTTOU, live - 1)
                finally:
                    if marker is not None:  # a later worker may get the same pid
                        marker.unlink(missing_ok=True)
        return self._live()

    async def _drain_last(self) -> Path | None:
        # uvicorn's SIGTTOU retires the last worker of its list: tell its readiness first.
        processes = list(self.supervisor.processes)
        if self.drain_dir is None or not processes or processes[-1].pid is None:
            return None
        marker = drain_marker(self.drain_dir, processes[-1].pid)
        marker.touch()
        await asyncio.sleep(self.drain_seconds)
        return marker

    async def _step(self, signum: signal.Signals, expected: int) -> None:
        os.kill(os.getpid(), signum)
        deadline = time.monotonic() + self.verify_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(_POLL_SECONDS)
            if self._live() == expected and self.supervisor.processes_num == expected:
                return
        raise OrchestratorError(
            f"sent {signum.name}; expected {expected} live workers, "
            f"saw {self._live()} after {self.verify_timeout:.0f} s"
        )
