"""A busy database is a 503 with Retry-After, never a bare 500."""

from __future__ import annotations

import sqlite3

import httpx

from banrimkwae import migrate
from banrimkwae.app import create_fastapi_app
from tests.conftest import ScratchDatabases, make_settings, staff_headers


async def test_a_locked_sqlite_database_answers_503(scratch_databases: ScratchDatabases) -> None:
    url = await scratch_databases.create("sqlite")
    await migrate.upgrade(url)
    app = create_fastapi_app(make_settings(url))
    holder = sqlite3.connect(url.split(":///", 1)[1], timeout=1)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app.state.platform.wrap(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            try:
                holder.execute("BEGIN IMMEDIATE")  # SQLite's single write lock, kept
                response = await client.post(
                    "/api/v1/properties",
                    json={"code": "BUSY-1", "name": "Busy", "city": "Rayong", "country": "TH"},
                    headers=staff_headers(),
                )
            finally:
                holder.rollback()
                holder.close()
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"] == "application/problem+json"
            # Nothing was half-written: once the lock is gone the property does not exist.
            listed = await client.get("/api/v1/properties")
            assert listed.json()["data"] == []
