"""`banrimkwae cache policies|stats|invalidate|warm`: the response cache from the shell.

- `policies`: the policies in `api_cache_config` as every worker compiles them, and the
  rows that do not compile, with the reason.
- `stats [--days N]`: the daily roll-up in `cache_statistics`, per policy and layer.
- `invalidate --tag T ... | --pattern GLOB`: a tag bump reaches every worker through the
  shared store (Redis, or the machine's tag file); a pattern deletes matching keys in Redis
  (workers' L1 copies then live out their TTL: prefer tags). Without a shared store there
  is nothing another process can reach, which is an error.
- `warm [--url URL]`: requests every declared warming target (exact-path policies and their
  parameter sets) from the running server, throttled, with a progress bar.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from banrimkwae.cli_support import cli_settings as _settings
from banrimkwae.cli_support import console, err_console
from banrimkwae.cli_support import fail as _fail
from banrimkwae.cli_support import run_async as _run
from banrimkwae.config import Settings

cache_app = typer.Typer(help="The response cache: policies, statistics, invalidation, warming.")


@cache_app.command("policies")
def policies() -> None:
    """List the cache policies."""
    from banrimkwae.perf.cache.policies import PolicySet, compile_rows_checked
    from banrimkwae.perf.cache.policy_loader import describe, load_policy_rows
    from banrimkwae.perf.db import create_engine_for_url

    settings = _settings()

    async def rows() -> list[dict[str, Any]]:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await load_policy_rows(engine)
        finally:
            await engine.dispose()

    compiled, errors = compile_rows_checked(_run(rows))
    table = Table("pattern", "ttl s", "strategy", "key", "swr s", "sie s", "warm", "user")
    for row in describe(PolicySet(compiled)):
        table.add_row(
            str(row["pattern"]),
            f"{row['ttl']:g}",
            str(row["strategy"]),
            str(row["key"]),
            f"{row['swr']:g}",
            f"{row['stale_if_error']:g}",
            "yes" if row["warming"] else "",
            "yes" if row["user_scoped"] else "",
        )
    console.print(table)
    inactive = sum(1 for p in compiled if not p.is_active)
    console.print(f"{len(compiled) - inactive} active, {inactive} inactive")
    for error in errors:
        err_console.print(f"[yellow]not compiled:[/] {error}", highlight=False)


@cache_app.command("stats")
def stats(
    days: Annotated[int, typer.Option(min=1, help="Days back from today.")] = 1,
) -> None:
    """Hits, misses and bytes per policy and layer, from the daily roll-up."""
    from sqlalchemy import select

    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.storage.models import CacheStatistic

    settings = _settings()
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)

    async def rows() -> list[Any]:
        engine = create_engine_for_url(settings.database_url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(
                    select(CacheStatistic)
                    .where(CacheStatistic.date_recorded >= since)
                    .order_by(CacheStatistic.date_recorded, CacheStatistic.cache_key_pattern)
                )
                return list(result)
        finally:
            await engine.dispose()

    found = _run(rows)
    if not found:
        console.print(f"no cache statistics since {since} (rolled up every minute by the server)")
        return
    table = Table("date", "policy", "layer", "requests", "hits", "misses", "hit %", "bytes")
    for row in found:
        table.add_row(
            str(row.date_recorded),
            row.cache_key_pattern,
            row.cache_layer,
            f"{row.total_requests:,}",
            f"{row.cache_hits:,}",
            f"{row.cache_misses:,}",
            f"{row.hit_ratio or 0:.1f}",
            f"{row.total_bytes_served:,}",
        )
    console.print(table)


def _shared_store(settings: Settings) -> Any:
    from banrimkwae.perf.cache.store import ResponseStore

    if settings.redis_url is None and settings.cache_tag_file is None:
        _fail(
            "no shared cache store: set BANRIMKWAE_REDIS_URL or BANRIMKWAE_CACHE_TAG_FILE "
            "(as the server has it) so the workers can see the change"
        )
    return ResponseStore(
        l1_max_bytes=1 << 20, redis_url=settings.redis_url, tag_file=settings.cache_tag_file
    )


@cache_app.command("invalidate")
def invalidate(
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag to bump.")] = None,
    pattern: Annotated[str | None, typer.Option(help="A glob over cache keys.")] = None,
) -> None:
    """Invalidate by tag (e.g. table:rooms, policy:/api/v1/properties) or key pattern."""
    if not tag and pattern is None:
        _fail("give --tag (one or more) or --pattern", 2)
    settings = _settings()

    async def go() -> int:
        store = _shared_store(settings)
        await store.start()
        try:
            if tag:
                await store.invalidate(tag)
            return await store.delete_matching(pattern) if pattern is not None else 0
        finally:
            await store.stop()

    removed = _run(go)
    if tag:
        console.print(f"bumped {len(tag)} tag(s): {', '.join(tag)}")
    if pattern is not None:
        console.print(f"deleted {removed} key(s) matching {pattern!r}")


@cache_app.command("warm")
def warm(
    url: Annotated[str | None, typer.Option(help="The running server.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=16)] = 2,
) -> None:
    """Request every declared warming target from the running server."""
    import httpx

    from banrimkwae.perf.cache.policies import PolicySet, compile_rows_checked
    from banrimkwae.perf.cache.policy_loader import load_policy_rows
    from banrimkwae.perf.cache.warming import declared_targets
    from banrimkwae.perf.db import create_engine_for_url

    settings = _settings()
    base = url or f"http://{settings.host}:{settings.port}"

    async def go() -> dict[str, int]:
        engine = create_engine_for_url(settings.database_url)
        try:
            compiled, _errors = compile_rows_checked(await load_policy_rows(engine))
        finally:
            await engine.dispose()
        targets = declared_targets(PolicySet(compiled))
        outcomes: dict[str, int] = {}
        limit = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
            with Progress(console=err_console, transient=False) as progress:
                task = progress.add_task("warming", total=len(targets))

                async def one(path: str, query: bytes) -> None:
                    async with limit:
                        target = f"{path}?{query.decode()}" if query else path
                        try:
                            response = await client.get(target)
                            outcome = response.headers.get("x-cache", str(response.status_code))
                        except httpx.HTTPError as exc:
                            outcome = type(exc).__name__
                        outcomes[outcome] = outcomes.get(outcome, 0) + 1
                        progress.advance(task)

                await asyncio.gather(*(one(t.path, t.query) for t in targets))
        return outcomes

    try:
        outcomes = _run(go)
    except httpx.HTTPError as exc:
        _fail(f"{base}: {exc}")
    if not outcomes:
        console.print("no warming targets: no active policy has cache_warming_enabled")
        return
    console.print(", ".join(f"{name}: {count}" for name, count in sorted(outcomes.items())))
    if any(not name.startswith(("HIT", "MISS", "STALE")) for name in outcomes):
        _fail(f"some targets could not be warmed from {base}")
