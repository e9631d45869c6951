"""Gentle synthetic traffic for `banrimkwae demo`, so a first dashboard has something to show.

A daemon thread waits for the server to answer, finds the seeded properties, keeps the public
read paths that answer 200, then requests them at a few per second with jitter until stopped.
It only reads: the demo's data stays as seeded. Errors (the server restarting, a path that
starts failing) are counted and waited out, never raised: this is decoration, not a test.
"""

from __future__ import annotations

import logging
import random
import threading

import httpx

logger = logging.getLogger(__name__)

API = "/api/v1"
DEFAULT_RATE = 3.0  # requests per second, on average
# Per property: what a guest browsing the resort opens, most popular first.
PROPERTY_PATHS = ("", "/rooms", "/room-types", "/restaurants", "/activities")


def candidate_paths(property_ids: list[int]) -> list[str]:
    paths = [f"{API}/properties"]
    for property_id in property_ids:
        paths.extend(f"{API}/properties/{property_id}{suffix}" for suffix in PROPERTY_PATHS)
    return paths


class DemoTraffic:
    """Reads public resort endpoints of `base_url` at about `rate` requests per second."""

    def __init__(self, base_url: str, *, rate: float = DEFAULT_RATE, seed: int | None = None):
        self.base_url = base_url.rstrip("/")
        self.rate = rate
        self.random = random.Random(seed)
        self.stopped = threading.Event()
        self.sent = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _wait_until_serving(self, client: httpx.Client) -> bool:
        while not self.stopped.is_set():
            try:
                client.get(f"{API}/properties")
                return True
            except httpx.TransportError:
                self.stopped.wait(0.5)
        return False

    def _paths(self, client: httpx.Client) -> list[str]:
        listed = client.get(f"{API}/properties")
        items = listed.json().get("data", []) if listed.is_success else []
        ids = [int(item["id"]) for item in items[:10]]
        # Only what answers 200 without credentials: the demo should show a healthy API.
        return [path for path in candidate_paths(ids) if client.get(path).status_code == 200]

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            if not self._wait_until_serving(client):
                return
            try:
                paths = self._paths(client)
            except (httpx.HTTPError, ValueError):
                logger.warning("demo traffic: could not list the demo's paths", exc_info=True)
                return
            if not paths:
                logger.warning("demo traffic: no public path answered 200; not generating")
                return
            # Earlier paths are the popular ones: a long tail, as real browsing has.
            weights = [1.0 / (rank + 1) for rank in range(len(paths))]
            while not self.stopped.is_set():
                path = self.random.choices(paths, weights)[0]
                try:
                    client.get(path)
                    self.sent += 1
                except httpx.HTTPError:
                    self.failed += 1
                # Exponential gaps: Poisson arrivals at `rate`, never a lockstep beat.
                self.stopped.wait(self.random.expovariate(self.rate))


def local_base_url(host: str, port: int) -> str:
    """Where this machine reaches the server: a wildcard bind address is reached on loopback."""
    reachable = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}"


def start_demo_traffic(host: str, port: int, *, rate: float = DEFAULT_RATE) -> DemoTraffic:
    traffic = DemoTraffic(local_base_url(host, port), rate=rate)
    traffic.start()
    return traffic


async def demo_viewer_key(database_url: str) -> str:
    """A fresh viewer key for the demo's dashboard link (audited like any other key)."""
    from banrimkwae.perf.admin.keys import create_key
    from banrimkwae.perf.db import create_engine_for_url

    engine = create_engine_for_url(database_url)
    try:
        async with engine.begin() as connection:
            created = await create_key(
                connection, role="viewer", name="banrimkwae demo dashboard", actor="cli:demo"
            )
    finally:
        await engine.dispose()
    return created.key
