"""The live feed: server-sent events of this worker's last minute, one per second."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.metrics import RequestStats
from tests.conftest import make_settings, staff_headers

LIVE = "/api/admin/performance/live"
EVENT = re.compile(rb"id: (\d+)\ndata: (.+)\n\n")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    # The feed reads memory only: the database is never touched.
    app = create_fastapi_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/live.db"))
    yield app
    await app.state.database.dispose()


def _events(body: bytes) -> list[dict[str, Any]]:
    events = EVENT.findall(body)
    assert b"".join(b"id: %s\ndata: %s\n\n" % event for event in events) == body
    return [json.loads(data) for _id, data in events]


async def test_once_sends_one_event_with_the_last_minute_by_second(app: FastAPI) -> None:
    requests = app.state.platform.requests
    two_seconds_ago = time.time() - 2
    for duration in (10.0, 20.0, 30.0):
        requests.record("/x", "GET", 200, duration, 0, 0, RequestStats("r"), two_seconds_ago)
    requests.record("/x", "GET", 503, 5.0, 0, 0, RequestStats("r"), two_seconds_ago)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get(LIVE, params={"once": "true"}, headers=staff_headers())

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-cache"
    [event] = _events(answer.content)
    assert event["worker"] == app.state.platform.config.worker
    series = event["series"]
    assert len(series) == 60
    assert [point["t"] for point in series] == list(range(series[0]["t"], series[0]["t"] + 60))
    second = next(point for point in series if point["t"] == int(two_seconds_ago))
    assert (second["count"], second["errors"]) == (4, 1)
    assert second["avg_ms"] == pytest.approx(16.25)
    assert second["max_ms"] == 30.0
    quiet = series[0]
    assert (quiet["count"], quiet["avg_ms"], quiet["max_ms"]) == (0, None, None)


# Before ASGI 2.4 Starlette listens for the disconnect itself; from 2.4 on it leaves that to
# the server failing a send, and the feed checks between events so as not to wait for one.
@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
async def test_stream_stops_when_the_client_disconnects(app: FastAPI, spec_version: str) -> None:
    disconnected = asyncio.Event()
    events: list[bytes] = []
    headers = [(name.lower().encode(), value.encode()) for name, value in staff_headers().items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": LIVE,
        "raw_path": LIVE.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 40000),
        "app": app,
    }
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            events.append(message["body"])
            if len(events) == 2:
                disconnected.set()

    started = time.monotonic()
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    assert time.monotonic() - started < 5
    assert 2 <= len(events) <= 3
    ids = [int(EVENT.fullmatch(event).group(1)) for event in events[:2]]  # type: ignore[union-attr]
    assert ids[1] - ids[0] in (1, 2)
