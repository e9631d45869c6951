"""How long a uvicorn worker added by SIGTTIN takes to serve: the simulator's start-up delay.

    .venv/bin/python -m bench.scaling_startup [--rounds 7] [--database sqlite] [--scale small]

Starts the app under uvicorn's multiprocess supervisor (2 workers, platform on, the seeded
bench database), then per round sends SIGTTIN to the supervisor and times until a new worker
logs "Application startup complete", then SIGTTOU and waits for that worker to finish. The
time includes the supervisor's signal polling (every 0.5 s), as the autoscaler sees it.
Per-instance capacity comes from `bench.run` on one worker (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from bench.harness import (
    LOOPBACK,
    REPO_ROOT,
    Variant,
    free_port,
    prepare_database,
    server_environment,
)

READY_LINE = "Application startup complete"
FINISHED_LINE = "Finished server process"


def _reader(stream: object, lines: queue.Queue[tuple[float, str]]) -> None:
    for raw in stream:  # type: ignore[attr-defined]
        lines.put((time.monotonic(), raw.decode(errors="replace")))


def _wait_for(
    lines: queue.Queue[tuple[float, str]], marker: str, count: int, timeout: float
) -> float:
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < count:
        at, line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        if marker in line:
            seen += 1
    return at


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--scale", default="small")
    args = parser.parse_args(argv)
    database = prepare_database(
        args.database, scale=args.scale, log=lambda m: print(m, file=sys.stderr)
    )
    env = server_environment(
        database.url,
        secrets.token_urlsafe(32),
        Variant("platform", {"BANRIMKWAE_PLATFORM_ENABLED": "true"}),
    )
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "banrimkwae.app:create_app",
        "--factory",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "info",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    threading.Thread(target=_reader, args=(process.stderr, lines), daemon=True).start()
    samples: list[float] = []
    try:
        _wait_for(lines, READY_LINE, 2, 60)
        time.sleep(1.0)
        for number in range(1, args.rounds + 1):
            sent = time.monotonic()
            os.kill(process.pid, signal.SIGTTIN)
            ready = _wait_for(lines, READY_LINE, 1, 60)
            samples.append(ready - sent)
            print(f"round {number}: {ready - sent:.2f} s", file=sys.stderr)
            os.kill(process.pid, signal.SIGTTOU)
            _wait_for(lines, FINISHED_LINE, 1, 60)
            time.sleep(1.0)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    print(
        f"SIGTTIN to serving: median {statistics.median(samples):.2f} s, "
        f"min {min(samples):.2f} s, max {max(samples):.2f} s over {len(samples)} rounds "
        f"({args.database}, {args.scale}, command: python -m bench.scaling_startup "
        f"--rounds {args.rounds} --database {args.database} --scale {args.scale})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
