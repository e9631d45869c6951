"""Compression and conditional requests in the real app, as the platform serves it."""

from __future__ import annotations

import uuid

import httpx
import pytest

from banrimkwae.perf.responses.codecs import decompress
from banrimkwae.perf.responses.validators import strong_etag

PROPERTIES = "/api/v1/properties"
LIVE = "/api/admin/performance/live"


async def _raw_get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent, not decoded by httpx."""
    async with client.stream("GET", path, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


@pytest.fixture(scope="module")
async def property_path(client: httpx.AsyncClient, staff: dict[str, str]) -> str:
    """A property whose record is large enough to be worth compressing."""
    code = f"CMP-{uuid.uuid4().hex[:8].upper()}"
    created = await client.post(
        PROPERTIES,
        json={
            "code": code,
            "name": "Compression Cove",
            "city": "Krabi",
            "country": "TH",
            "description": "A lagoon, a reef and a long beach. " * 40,
        },
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return f"{PROPERTIES}/{created.json()['id']}"


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
async def test_each_coding_gives_the_same_json(
    client: httpx.AsyncClient, property_path: str, coding: str
) -> None:
    plain, plain_raw = await _raw_get(client, property_path, {"Accept-Encoding": "identity"})
    coded, coded_raw = await _raw_get(client, property_path, {"Accept-Encoding": coding})
    assert plain.status_code == coded.status_code == 200
    assert "content-encoding" not in plain.headers
    assert coded.headers["content-encoding"] == coding
    assert int(coded.headers["content-length"]) == len(coded_raw) < len(plain_raw)
    assert decompress(coded_raw, coding) == plain_raw
    assert "accept-encoding" in plain.headers["vary"].lower()
    assert "accept-encoding" in coded.headers["vary"].lower()


async def test_the_openapi_document_is_compressed(client: httpx.AsyncClient) -> None:
    response, raw = await _raw_get(client, "/openapi.json", {"Accept-Encoding": "gzip, br, zstd"})
    assert response.headers["content-encoding"] == "br"
    assert response.headers["content-type"] == "application/json"
    assert decompress(raw, "br").startswith(b'{"openapi"')


async def test_a_revalidation_gets_304(client: httpx.AsyncClient, property_path: str) -> None:
    first = await client.get(property_path, headers={"Accept-Encoding": "br"})
    etag = first.headers["etag"]
    assert (
        etag
        == strong_etag(
            (await _raw_get(client, property_path, {"Accept-Encoding": "identity"}))[1]
        ).decode()[:-1]
        + '-br"'
    )
    again = await client.get(
        property_path, headers={"Accept-Encoding": "br", "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert "content-encoding" not in again.headers
    # A client that kept the gzip copy holds the same content.
    gzip = await client.get(
        property_path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    )
    assert gzip.status_code == 304


async def test_a_change_gives_a_new_tag(
    client: httpx.AsyncClient, property_path: str, staff: dict[str, str]
) -> None:
    before = await client.get(property_path, headers={"Accept-Encoding": "identity"})
    changed = await client.patch(
        property_path, json={"name": f"Renamed {uuid.uuid4().hex[:8]}"}, headers=staff
    )
    assert changed.status_code == 200, changed.text
    after = await client.get(
        property_path,
        headers={"Accept-Encoding": "identity", "If-None-Match": before.headers["etag"]},
    )
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]


async def test_writes_are_compressed_but_not_tagged(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    response = await client.post(
        PROPERTIES,
        json={
            "code": f"CMW-{uuid.uuid4().hex[:8].upper()}",
            "name": "Write Bay",
            "city": "Krabi",
            "country": "TH",
            "description": "Reef " * 300,
        },
        headers={**staff, "Accept-Encoding": "zstd"},
    )
    assert response.status_code == 201
    assert response.headers["content-encoding"] == "zstd"
    assert "etag" not in response.headers
    assert response.json()["name"].startswith("Write Bay")


async def test_the_live_event_stream_is_not_compressed(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    response, raw = await _raw_get(
        client, f"{LIVE}?once=true", {**staff, "Accept-Encoding": "gzip, deflate, br, zstd"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in response.headers
    assert "etag" not in response.headers
    assert raw.startswith(b"id: ") and raw.endswith(b"\n\n")
    assert len(raw) > 256  # large enough that it would have been compressed otherwise
