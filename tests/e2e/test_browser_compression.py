"""A real browser reads br, zstd and gzip responses from the running server.

Headless Chromium (Debian package `chromium`) is driven over the DevTools protocol: for each
coding the page's requests carry only that coding in Accept-Encoding
(Network.setExtraHTTPHeaders), the page opens a JSON endpoint of `banrimkwae serve`, and the
test reads what the browser decoded and compares it with the identity JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from banrimkwae import migrate
from tests.conftest import TEST_SECRET, service_missing, staff_headers
from tests.e2e.server import running_server

CHROMIUM = os.environ.get("BANRIMKWAE_TEST_CHROMIUM", "/usr/bin/chromium")


class DevTools:
    """A minimal DevTools client on one page target: commands and the events before them."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        request_id = next(self.ids)
        self.socket.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method:
                    self.events.remove(event)
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.socket.recv(timeout=remaining)))


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A headless Chromium; yields the DevTools websocket URL of its browser target."""
    if not shutil.which(CHROMIUM):
        service_missing(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Chromium writes its chosen port and the browser target's path to this file.
        active_port = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not active_port.exists() or len(active_port.read_text().split()) < 2:
            if process.poll() is not None:
                service_missing(f"chromium exited with {process.returncode}")
            if time.monotonic() > deadline:
                service_missing("chromium opened no DevTools port within 30 s")
            time.sleep(0.1)
        port, path = active_port.read_text().split()[:2]
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("browser") / "browser.db"
    url = f"sqlite+aiosqlite:///{database}"
    asyncio.run(migrate.upgrade(url))
    env = {
        "BANRIMKWAE_DATABASE_URL": url,
        "BANRIMKWAE_TOKEN_SECRET": TEST_SECRET,
        "BANRIMKWAE_LOG_LEVEL": "warning",
    }
    with running_server(env) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def property_url(server: str) -> str:
    created = httpx.post(
        f"{server}/api/v1/properties",
        json={
            "code": f"WEB-{uuid.uuid4().hex[:8].upper()}",
            "name": "Browser Bay",
            "city": "Krabi",
            "country": "TH",
            "description": "Long-tail boats at dawn over a glass-still lagoon. " * 40,
        },
        headers=staff_headers(),
    )
    assert created.status_code == 201, created.text
    return f"{server}/api/v1/properties/{created.json()['id']}"


def _page(browser_url: str) -> ClientConnection:
    """A new page target of the browser, connected."""
    with connect(browser_url, max_size=None) as browser:
        browser.send(
            json.dumps({"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}})
        )
        while True:
            message = json.loads(browser.recv(timeout=30))
            if message.get("id") == 1:
                target = message["result"]["targetId"]
                break
    page_url = browser_url.split("/devtools/")[0] + f"/devtools/page/{target}"
    return connect(page_url, max_size=None)


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
def test_chromium_decodes_each_coding_to_the_same_json(
    chromium: str, property_url: str, coding: str
) -> None:
    identity = httpx.get(property_url, headers={"Accept-Encoding": "identity"})
    assert identity.status_code == 200
    assert "content-encoding" not in identity.headers

    with _page(chromium) as socket:
        devtools = DevTools(socket)
        devtools.call("Network.enable")
        devtools.call("Page.enable")
        devtools.call("Network.setCacheDisabled", cacheDisabled=True)
        devtools.call("Network.setExtraHTTPHeaders", headers={"Accept-Encoding": coding})
        devtools.call("Page.navigate", url=property_url)
        response = devtools.wait_for("Network.responseReceived")["params"]["response"]
        devtools.wait_for("Page.loadEventFired")
        headers = {name.lower(): value for name, value in response["headers"].items()}
        assert response["status"] == 200
        assert headers["content-encoding"] == coding
        assert "accept-encoding" in headers["vary"].lower()
        shown = devtools.call(
            "Runtime.evaluate", expression="document.body.innerText", returnByValue=True
        )["result"]["value"]

    assert json.loads(shown) == identity.json()
    # Fewer bytes crossed the wire than the identity body has.
    assert int(headers["content-length"]) < len(identity.content)


def test_chromium_sees_the_openapi_document_in_its_default_coding(
    chromium: str, server: str
) -> None:
    """Without any header override the browser's own Accept-Encoding picks br."""
    with _page(chromium) as socket:
        devtools = DevTools(socket)
        devtools.call("Network.enable")
        devtools.call("Page.enable")
        devtools.call("Page.navigate", url=f"{server}/openapi.json")
        response = devtools.wait_for("Network.responseReceived")["params"]["response"]
        devtools.wait_for("Page.loadEventFired")
        shown = devtools.call(
            "Runtime.evaluate", expression="document.body.innerText", returnByValue=True
        )["result"]["value"]
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert headers["content-encoding"] == "br"
    assert json.loads(shown) == httpx.get(f"{server}/openapi.json").json()
