"""`banrimkwae serve --autoscale`: uvicorn's multiprocess supervisor plus the controller.

The supervisor runs in the main thread exactly as `uvicorn --workers N` runs it (it is
what answers SIGTTIN/SIGTTOU); the controller runs in a thread of the same process with its
own event loop and engine, so the orchestrator can read the supervisor's worker list.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.scaling.controller import Controller
from banrimkwae.perf.scaling.health import DRAIN_DIR_ENV
from banrimkwae.perf.scaling.leader import LeaderLock, choose_lease
from banrimkwae.perf.scaling.orchestrators import UvicornOrchestrator

logger = logging.getLogger("banrimkwae.autoscale")


def _control(
    supervisor: Any,
    workers: int,
    database_url: str,
    service: str,
    interval: float,
    leader: tuple[str | None, LeaderLock],
    drain_dir: Path,
    stopping: threading.Event,
    stopped: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]],
    loop_ready: threading.Event,
) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        stopped.append((asyncio.get_running_loop(), stop))
        loop_ready.set()
        # Let the supervisor start its first workers before observing them.
        while len(supervisor.processes) < workers and not stopping.is_set():  # noqa: ASYNC110 - another thread's list
            await asyncio.sleep(0.1)
        engine = create_engine_for_url(database_url)
        orchestrator = UvicornOrchestrator(supervisor, drain_dir=drain_dir)
        controller = Controller(engine, orchestrator, service=service, interval=interval)
        redis_url, lock = leader
        controller.lease = choose_lease(
            engine,
            service,
            controller.holder,
            controller.lease_seconds,
            redis_url=redis_url,
            lock=lock,
        )
        try:
            await controller.run(stop)
        finally:
            await controller.leader_lease.close()
            await engine.dispose()

    asyncio.run(main())


def serve_autoscaled(
    app: str,
    *,
    database_url: str,
    service: str,
    interval: float,
    workers: int,
    redis_url: str | None = None,
    leader_lock: LeaderLock = "auto",
    **uvicorn_options: Any,
) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    drain_dir = Path(tempfile.mkdtemp(prefix="banrimkwae-drain-"))
    os.environ[DRAIN_DIR_ENV] = str(drain_dir)  # the workers inherit it when spawned
    config = uvicorn.Config(app, factory=True, workers=workers, **uvicorn_options)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    stopping = threading.Event()
    stopped: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    loop_ready = threading.Event()
    thread = threading.Thread(
        target=_control,
        args=(
            supervisor,
            workers,
            database_url,
            service,
            interval,
            (redis_url, leader_lock),
            drain_dir,
            stopping,
            stopped,
            loop_ready,
        ),
        name="autoscale-controller",
        daemon=True,
    )
    thread.start()
    loop_ready.wait(10)
    try:
        supervisor.run()
    finally:
        stopping.set()
        for loop, event in stopped:
            # The controller's loop runs in the other thread: wake it through the loop.
            loop.call_soon_threadsafe(event.set)
        thread.join(timeout=15)
        shutil.rmtree(drain_dir, ignore_errors=True)
