"""`banrimkwae serve --workers 1 --autoscale` under real load: up, then down, nothing lost.

The slo policy is told a per-instance capacity of 20 req/s (5 req/s within a 200 ms p95), so
the few dozen requests per second this test drives need more than one worker; when the load
ends, a trickle of requests (each on a new connection, as from many clients) runs through
the scale-down and every one of them must succeed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.server import free_port

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))
pytestmark = pytest.mark.slow


def _workers(pid: int) -> int:
    count = 0
    for child in psutil.Process(pid).children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                count += 1
        except psutil.Error:
            continue
    return count


def _wait(condition: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} within {timeout:.0f} s; server log:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.5)


class Load:
    """`threads` loops of GETs until stopped; statuses and failures counted."""

    def __init__(self, url: str, threads: int, *, pause: float = 0.0, reuse: bool = True) -> None:
        self.url, self.pause, self.reuse = url, pause, reuse
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    response = (
                        client.get(self.url) if self.reuse else httpx.get(self.url, timeout=10)
                    )
                    self.statuses[response.status_code] += 1
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                if self.pause:
                    time.sleep(self.pause)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def test_scales_up_under_load_and_down_after_it(tmp_path: Path) -> None:
    database = tmp_path / "live.db"
    env = {
        **os.environ,
        "BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "BANRIMKWAE_SECRET_FILE": str(tmp_path / "secret"),
        "BANRIMKWAE_METRICS_FLUSH_INTERVAL": "1",
        "BANRIMKWAE_LOG_LEVEL": "info",
    }
    subprocess.run([BANRIMKWAE, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            BANRIMKWAE,
            "autoscale",
            "configure",
            "--policy",
            "slo",
            "--min",
            "1",
            "--max",
            "3",
            "--capacity",
            "20",
            "--up-cooldown",
            "0",
            "--down-cooldown",
            "15",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                BANRIMKWAE,
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--autoscale",
                "--autoscale-interval",
                "2",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait(ready, 60, "the server was not ready", log)
        assert _workers(server.pid) == 1
        with Load(f"{url}/api/v1/properties", threads=6) as heavy:
            _wait(lambda: _workers(server.pid) >= 2, 120, "no scale-up to 2 workers", log)
        assert sum(heavy.statuses.values()) > 0
        # The load is over: a trickle keeps going through the scale-down.
        with Load(f"{url}/api/v1/properties", threads=1, pause=0.5, reuse=False) as trickle:
            _wait(lambda: _workers(server.pid) == 1, 240, "no scale-down to 1 worker", log)
            time.sleep(3)  # requests right after the last worker left
        assert trickle.failures == []
        assert set(trickle.statuses) == {200}
        assert sum(trickle.statuses.values()) >= 5
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    with sqlite3.connect(database) as connection:
        events = connection.execute(
            "SELECT event_type, from_instances, to_instances, trigger_metric, trigger_value, "
            "threshold_value FROM scaling_events ORDER BY id"
        ).fetchall()
    kinds = [event[0] for event in events]
    assert "scale_up" in kinds and "scale_down" in kinds, events
    assert "scale_failed" not in kinds, events
    for index, event in enumerate(events):
        if event[0] in ("scale_up", "scale_down"):
            assert events[index - 1][0] == "scale_triggered"
            assert event[3] in ("rps", "p95_ms", "cpu_percent", "forecast_rps")
    up = next(event for event in events if event[0] == "scale_up")
    assert up[2] > up[1] and float(up[4]) > float(up[5])  # the value crossed its threshold
