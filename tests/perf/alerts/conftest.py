"""Fixtures of the alert tests: rollup rows by hand, rules, and a real webhook receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert

from banrimkwae.perf.metrics import LatencyHistogram
from banrimkwae.perf.storage import AlertEvent, AlertRule, AlertState, ApiMetricRollup
from tests.perf.admin.conftest import admin_app, role_keys

__all__ = [
    "Receiver",
    "admin_app",
    "clear_alerts",
    "insert_rows",
    "role_keys",
    "rollup",
    "rule_row",
]

MINUTE = 60


def rollup(
    start: float,
    path: str,
    latencies: Sequence[float],
    *,
    errors: int = 0,
    cache_hits: int = 0,
) -> dict[str, Any]:
    """One minute of requests to `path` as the metrics flusher writes it."""
    histogram = LatencyHistogram()
    for latency in latencies:
        histogram.add(latency)
    return {
        "bucket_start": dt.datetime.fromtimestamp(start - start % MINUTE, dt.UTC),
        "bucket_seconds": MINUTE,
        "endpoint_path": path,
        "http_method": "GET",
        "status_class": 2,
        "request_count": len(latencies),
        "error_count": errors,
        "total_time_ms": sum(latencies),
        "min_time_ms": min(latencies),
        "max_time_ms": max(latencies),
        "latency_histogram": histogram.to_json(),
        "db_queries": 0,
        "db_time_ms": 0.0,
        "cache_hits": cache_hits,
        "request_bytes": 0,
        "response_bytes": 0,
        "worker": "host:1",
    }


async def insert_rows(app: FastAPI, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    async with app.state.database.sessions() as session:
        await session.execute(insert(table), list(rows))
        await session.commit()


async def clear_alerts(app: FastAPI) -> None:
    """No rules (the migration's defaults included), states, events or rollups."""
    async with app.state.database.sessions() as session:
        for table in (AlertEvent, AlertState, AlertRule, ApiMetricRollup):
            await session.execute(delete(table))
        await session.commit()


def rule_row(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "metric": "p95_ms",
        "comparison": "above",
        "threshold": 200.0,
        "resolve_threshold": 150.0,
        "window_seconds": 300,
        "for_seconds": 0,
        "endpoint": None,
        "severity": "critical",
        "description": "Rooms are slow.",
        "is_enabled": True,
        **fields,
    }


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers the statuses queued, then 200; keeps bodies."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, status: int = 200) -> list[dict[str, Any]]:
        with self.lock:
            return [body for answered, body in self.received if answered == status]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                status = state.answers.pop(0) if state.answers else 200
                state.received.append((status, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
