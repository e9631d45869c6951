"""`banrimkwae migrate`, `db shards` and `db reshard` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import inspect

from banrimkwae.perf.db import create_engine_for_url
from tests.perf.db.sharding.conftest import Deployment
from tests.perf.db.sharding.test_reshard import ids_on
from tests.perf.db.sharding.test_sharded_api import property_on
from tests.resort.test_bookings import booked, day
from tests.resort.test_guests import register_guest

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))


def run(home: str, shards: dict[str, str] | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BANRIMKWAE_")}
    env.update({"BANRIMKWAE_DATABASE_URL": home, "COLUMNS": "250"})
    if shards is not None:
        env["BANRIMKWAE_DATABASE_SHARDS"] = ",".join(f"{k}={v}" for k, v in shards.items())
    return subprocess.run([BANRIMKWAE, *args], env=env, capture_output=True, text=True, timeout=300)


async def run_beside_app(
    home: str, shards: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    # The app of this process keeps serving (and flushing metrics) while the command runs.
    return await asyncio.to_thread(run, home, shards, *args)


async def foreign_keys(url: str, table: str) -> list[str]:
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(lambda sync: inspect(sync).get_foreign_keys(table))
            return sorted(str(key["referred_table"]) for key in found)
    finally:
        await engine.dispose()


async def test_migrate_brings_home_and_every_shard_to_the_head(tmp_path: Path) -> None:
    home = f"sqlite+aiosqlite:///{tmp_path}/home.db"
    shards = {
        "a": f"sqlite+aiosqlite:///{tmp_path}/a.db",
        "b": f"sqlite+aiosqlite:///{tmp_path}/b.db",
    }
    result = run(home, shards, "migrate")
    assert result.returncode == 0, result.stderr
    assert "on shard a" in result.stdout and "on shard b" in result.stdout
    # The references of bookings live at home: enforced there, not on the shards.
    assert await foreign_keys(home, "bookings") == ["guests", "properties", "rooms"]
    assert await foreign_keys(shards["a"], "bookings") == []


async def test_shards_and_reshard_from_the_command_line(
    sharded_client: httpx.AsyncClient, deployment: Deployment
) -> None:
    property_id, room_type = await property_on(sharded_client, "east")
    _guest, headers = await register_guest(sharded_client)
    made = [
        (await booked(sharded_client, headers, property_id, room_type, day(n), day(n + 1)))["id"]
        for n in range(40, 46)
    ]
    summary = await run_beside_app(deployment.home, deployment.shards, "db", "shards")
    assert summary.returncode == 0, summary.stderr
    east_line = next(line for line in summary.stdout.splitlines() if "│ east" in line)
    assert "east" in east_line

    moved = await run_beside_app(
        deployment.home,
        deployment.shards,
        "db",
        "reshard",
        "--property",
        str(property_id),
        "--to",
        "west",
        "--batch",
        "4",
    )
    assert moved.returncode == 0, moved.stderr
    assert f"property {property_id} moved east → west: 6 bookings verified" in moved.stdout
    assert await ids_on(deployment, "west", property_id) == sorted(made)
    assert await ids_on(deployment, "east", property_id) == []

    again = await run_beside_app(
        deployment.home,
        deployment.shards,
        "db",
        "reshard",
        "--property",
        str(property_id),
        "--to",
        "west",
    )
    assert again.returncode == 1
    assert f"property {property_id} is already on shard west" in again.stderr


def test_bad_reshard_input_is_one_line_and_a_non_zero_exit(deployment: Deployment) -> None:
    cases = [
        (["--property", "1", "--to", "north"], deployment.shards, "unknown shard 'north'"),
        (["--property", "987654321", "--to", "west"], deployment.shards, "does not exist"),
        (["--property", "1", "--to", "west"], None, "sharding is off"),
    ]
    for args, shards, message in cases:
        result = run(deployment.home, shards, "db", "reshard", *args)
        assert result.returncode != 0
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
