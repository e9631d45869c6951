"""Run the real server (`banrimkwae serve`) as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ARTIFACTS = Path(
    os.environ.get("BANRIMKWAE_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """Start `banrimkwae serve` with `env` added; yield its base URL; stop it afterwards.

    The server's output goes to test-artifacts/server-logs/<port>.log, not to a pipe that
    nobody reads while it runs (a full pipe would stall the server): after a failure, the
    server's side of it is there.
    """
    port = free_port()
    log_dir = ARTIFACTS / "server-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{port}.log"
    log_file = log_path.open("wb")
    command = [
        str(Path(sys.executable).with_name("banrimkwae")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")
                raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
            try:
                httpx.get(f"{base_url}/openapi.json", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start within 30 s") from None
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
