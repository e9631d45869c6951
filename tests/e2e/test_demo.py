"""`banrimkwae demo` as a new user runs it: migrate, seed when empty, print URLs, serve."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.server import free_port

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))


def test_demo_seeds_an_empty_database_then_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        "BANRIMKWAE_SECRET_FILE": str(tmp_path / "secret"),
    }
    process = subprocess.Popen(
        [BANRIMKWAE, "demo", "--scale", "small", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/properties", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "demo did not start serving in 120 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert len(response.json()["data"]) == 2  # the small scale's properties
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/api/v1/properties" in output
    assert f"http://127.0.0.1:{port}/docs" in output
