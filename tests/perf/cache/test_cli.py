"""`banrimkwae cache ...` as a user runs it: real subprocesses, a real server for warming,
and two workers that see each other's writes through the shared tag file."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.server import running_server
from tests.test_cli import run

SECRET = "cache-cli-secret-0123456789-0123456789"


def _migrated(tmp_path: Path) -> dict[str, str]:
    env = {
        "BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cache.db",
        "BANRIMKWAE_TOKEN_SECRET": SECRET,
    }
    assert run("migrate", **env).returncode == 0
    return env


def test_policies_lists_the_installed_defaults(tmp_path: Path) -> None:
    result = run("cache", "policies", **_migrated(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "/api/v1/properties/{property_id}/availability" in result.stdout
    assert "hierarchical" in result.stdout
    assert "19 active, 0 inactive" in result.stdout


def test_stats_without_rows_says_so(tmp_path: Path) -> None:
    result = run("cache", "stats", **_migrated(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no cache statistics" in result.stdout


def test_invalidate_needs_a_store_the_workers_share(tmp_path: Path) -> None:
    env = _migrated(tmp_path)
    alone = run("cache", "invalidate", "--tag", "table:rooms", **env)
    assert alone.returncode == 1
    assert alone.stderr.startswith("error: no shared cache store")
    assert alone.stderr.strip().count("\n") == 0
    nothing = run("cache", "invalidate", **env)
    assert nothing.returncode == 2
    shared = run(
        "cache",
        "invalidate",
        "--tag",
        "table:rooms",
        BANRIMKWAE_CACHE_TAG_FILE=str(tmp_path / "tags"),
        **env,
    )
    assert shared.returncode == 0, shared.stderr
    assert "bumped 1 tag(s): table:rooms" in shared.stdout


def test_a_cli_invalidation_reaches_the_servers_cache(tmp_path: Path) -> None:
    env = {**_migrated(tmp_path), "BANRIMKWAE_CACHE_TAG_FILE": str(tmp_path / "tags")}
    with running_server(env) as base_url:
        httpx.get(f"{base_url}/api/v1/properties")  # warmed at start-up, or stored now
        assert httpx.get(f"{base_url}/api/v1/properties").headers["x-cache"] == "HIT l1"
        bumped = run("cache", "invalidate", "--tag", "table:properties", **env)
        assert bumped.returncode == 0, bumped.stderr
        assert httpx.get(f"{base_url}/api/v1/properties").headers["x-cache"] == "MISS"


def test_warm_fills_the_running_servers_cache(tmp_path: Path) -> None:
    env = _migrated(tmp_path)
    with running_server(env) as base_url:
        warmed = run("cache", "warm", "--url", base_url, **env)
        assert warmed.returncode == 0, warmed.stderr
        assert "HIT" in warmed.stdout or "MISS" in warmed.stdout
        assert httpx.get(f"{base_url}/api/v1/properties").headers["x-cache"] == "HIT l1"
    unreachable = run("cache", "warm", "--url", "http://127.0.0.1:1", **env)
    assert unreachable.returncode == 1


def test_two_workers_without_redis_see_each_others_writes(tmp_path: Path) -> None:
    env = _migrated(tmp_path)
    staff = {"Authorization": "Bearer " + run("token", "staff", **env).stdout.strip()}
    with running_server(env, workers=2) as base_url, httpx.Client(base_url=base_url) as client:
        created = client.post(
            "/api/v1/properties",
            json={"code": "BK-CLI", "name": "Before", "city": "Krabi", "country": "TH"},
            headers=staff,
        )
        assert created.status_code == 201, created.text
        path = f"/api/v1/properties/{created.json()['id']}"
        for _ in range(20):  # new connections land on both workers; all of them cache it
            httpx.get(base_url + path)
        renamed = client.patch(path, json={"name": "After"}, headers=staff)
        assert renamed.status_code == 200
        names = {httpx.get(base_url + path).json()["name"] for _ in range(20)}
    assert names == {"After"}
