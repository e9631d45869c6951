"""`banrimkwae db indexes | advise [--apply] | explain FINGERPRINT`: index analysis and advice;
`banrimkwae db pools`: each pool's settings, counters and recommended size.

Registered on the `db` group of cli.py by `register_index_commands(db_app)`. The helpers
(settings, one-line failures, the console) are cli.py's, imported when a command runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from banrimkwae.cli_support import cli_settings as _settings
from banrimkwae.cli_support import console, err_console
from banrimkwae.cli_support import fail as _fail
from banrimkwae.cli_support import run_async as _run

if TYPE_CHECKING:
    from banrimkwae.perf.db.advice import Advice

TEXT_WIDTH = 90
# Values in a plan's text: quoted literals, and numbers compared with (` = 3`, ` < 10.5`);
# the planner's own numbers (cost=, rows=, width=) stay.
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_COMPARED_NUMBER = re.compile(r"(?<= )(=|<>|!=|<=|>=|<|>) -?\d+(?:\.\d+)?\b")


def scrub_plan_line(line: str) -> str:
    return _COMPARED_NUMBER.sub(r"\1 ?", _QUOTED.sub("?", line))


def _short(text: str, width: int = TEXT_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def indexes() -> None:
    """Index usage: used, unused and duplicate indexes, sequential scans, slow fingerprints."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.db.fingerprints import slow_fingerprints
    from banrimkwae.perf.db.indexes import analyse_indexes

    settings = _settings()

    async def work() -> Any:
        engine = create_engine_for_url(settings.database_url)
        try:
            async with engine.connect() as connection:
                return await analyse_indexes(connection), await slow_fingerprints(connection)
        finally:
            await engine.dispose()

    report, slow = _run(work)
    table = Table(title=f"indexes ({report.dialect}; usage from {report.evidence})")
    for column in ("table", "index", "columns", "status", "scans", "plan uses", "size"):
        table.add_column(column)
    for index in report.indexes:
        status = index.status
        if index.duplicate_of:
            status = f"duplicate of {index.duplicate_of}"
        table.add_row(
            index.table,
            index.name,
            ", ".join(index.columns),
            status,
            "-" if index.scans is None else f"{index.scans:,}",
            f"{index.plan_uses:,}",
            "-" if index.size_bytes is None else f"{index.size_bytes / 1024:,.0f} KiB",
        )
    console.print(table)
    scans = Table(title="tables read by sequential scan (heavy: worth an index)")
    for column in ("table", "rows", "seq scans", "rows read by seq scans", "plan full scans"):
        scans.add_column(column)
    for entry in report.seq_scan_heavy:
        scans.add_row(
            entry.table,
            "-" if entry.rows is None else f"{entry.rows:,}",
            "-" if entry.seq_scans is None else f"{entry.seq_scans:,}",
            "-" if entry.seq_rows_read is None else f"{entry.seq_rows_read:,}",
            f"{entry.plan_full_scans:,}",
        )
    console.print(scans)
    _print_slow(slow[:10])


def _print_slow(slow: list[Any]) -> None:

    table = Table(title="slow fingerprints (most total time first)")
    for column in ("fingerprint", "runs", "median ms", "statement"):
        table.add_column(column)
    for entry in slow:
        table.add_row(
            entry.hash[:12], f"{entry.count:,}", f"{entry.median_ms:,.1f}", _short(entry.text)
        )
    console.print(table)


def advise(
    apply: Annotated[bool, typer.Option("--apply", help="Build the proposed indexes.")] = False,
    min_improvement: Annotated[
        float, typer.Option(help="Smallest improvement proposed (0.3 = 30% less).", min=0, max=1)
    ] = 0.3,
    hypopg: Annotated[
        bool, typer.Option(help="Use HypoPG on PostgreSQL when the extension is installed.")
    ] = True,
) -> None:
    """Propose indexes for the slow fingerprints, each measured first; --apply builds them."""
    from banrimkwae.perf.db import advice as advisor
    from banrimkwae.perf.db import create_engine_for_url, recommend

    settings = _settings()

    async def work() -> tuple[Advice, list[int]]:
        engine = create_engine_for_url(settings.database_url)
        try:
            found = await advisor.advise(engine, min_improvement=min_improvement, use_hypopg=hypopg)
            return found, await recommend.record(engine, found.proposals)
        finally:
            await engine.dispose()

    found, ids = _run(work)
    table = Table(title=f"index advice ({found.dialect}; measured by {found.method})")
    for column in ("rec", "index", "why", "measure", "before", "after", "better", "priority"):
        table.add_column(column)
    for proposal, recommendation_id in zip(found.proposals, ids, strict=True):
        table.add_row(
            str(recommendation_id),
            proposal.candidate.target,
            proposal.candidate.reason,
            proposal.measure,
            f"{proposal.current_value:,.2f}",
            f"{proposal.expected_value:,.2f}",
            f"{proposal.improvement:.0%}",
            proposal.priority,
        )
    console.print(table)
    for fingerprint, note in found.notes.items():
        console.print(f"{fingerprint[:12]}  {note}", highlight=False)
    if not found.proposals:
        console.print("no index to propose")
        return
    if not apply:
        console.print("run `banrimkwae db advise --apply` to build them")
        return
    # The audit log entry for each build comes with the audit helper (not written yet).
    with Progress(console=err_console, transient=False) as progress:
        task = progress.add_task("building indexes", total=len(found.proposals))
        for proposal, recommendation_id in zip(found.proposals, ids, strict=True):
            progress.update(task, description=f"building {proposal.index_name}")
            statement = _run(_applying(proposal, recommendation_id))
            progress.advance(task)
            console.print(f"built: {statement}", highlight=False)


def _applying(proposal: Any, recommendation_id: int) -> Callable[[], Coroutine[Any, Any, str]]:
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.db.recommend import apply

    async def work() -> str:
        engine = create_engine_for_url(_settings().database_url)
        try:
            return await apply(engine, proposal, recommendation_id)
        finally:
            await engine.dispose()

    return work


def explain(
    fingerprint: Annotated[
        str, typer.Argument(help="A fingerprint hash, or its first characters.")
    ],
) -> None:
    """Plan a recorded fingerprint again (values taken from the table; never run)."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.db.advice import covered, table_columns
    from banrimkwae.perf.db.candidates import index_candidates
    from banrimkwae.perf.db.explain import ValueSampler, plan_lines, representative
    from banrimkwae.perf.db.fingerprints import find_fingerprints
    from banrimkwae.perf.db.indexes import existing_indexes

    if len(fingerprint) < 4:
        _fail("give at least 4 characters of the fingerprint")
    settings = _settings()

    async def work() -> Any:
        engine = create_engine_for_url(settings.database_url)
        dialect = engine.dialect.name
        try:
            async with engine.connect() as connection:
                matches = await find_fingerprints(connection, fingerprint.lower())
                if len(matches) != 1:
                    return matches, None, None, None
                text = next(iter(matches.values()))
                columns = await table_columns(connection)
                schema = {table: set(cols) for table, cols in columns.items()}
                made = await representative(text, dialect, ValueSampler(connection, schema))
                lines = [] if made is None else await plan_lines(connection, dialect, made[0])
                known = await existing_indexes(connection)
                candidates = [
                    (candidate, covered(candidate, known))
                    for candidate in index_candidates(text, dialect, schema)
                ]
                return matches, text, lines, candidates
        finally:
            await engine.dispose()

    matches, text, lines, candidates = _run(work)
    if not matches:
        _fail(f"no recorded fingerprint starts with {fingerprint!r}")
    if text is None:
        _fail(f"{fingerprint!r} is ambiguous: {len(matches)} fingerprints start with it")
    console.print(f"[bold]{next(iter(matches))}[/]")
    console.print(text, highlight=False, soft_wrap=True)
    console.print("[bold]plan[/] (values sampled from the tables, shown as ?):")
    for line in lines or ["(the statement could not be parsed)"]:
        console.print("  " + scrub_plan_line(line), highlight=False, soft_wrap=True)
    console.print("[bold]index candidates[/]:")
    for candidate, is_covered in candidates:
        state = "covered by an existing index" if is_covered else "not indexed"
        console.print(f"  {candidate.target} ({candidate.reason}): {state}", highlight=False)


def pools() -> None:
    """Each pool's settings, counters and the size the server's max_connections allows.

    The counters are this command's own (a fresh process has waited for nothing); the
    running server's pool rule sizes from its live counters, and its open recommendation,
    if any, is shown below the table.
    """
    from sqlalchemy import select

    from banrimkwae.app import database_from_settings
    from banrimkwae.perf.db.pool_sizing import PoolSampler, live_worker_count, size_pools
    from banrimkwae.perf.recommend.workflow import OPEN_STATUSES
    from banrimkwae.perf.storage import PerformanceRecommendation

    settings = _settings()

    async def work() -> tuple[list[Any], list[Any]]:
        database = database_from_settings(settings)
        try:
            sampler = PoolSampler(database.pools)
            sampler.sample()
            workers = max(settings.workers, await live_worker_count(database.engine))
            sizings = await size_pools(database.pools, sampler.observations(), workers=workers)
            table = PerformanceRecommendation.__table__
            async with database.engine.connect() as connection:
                open_rows = (
                    await connection.execute(
                        select(table.c.target_resource, table.c.description).where(
                            table.c.target_resource.like("pool:%"),
                            table.c.status.in_(OPEN_STATUSES),
                        )
                    )
                ).all()
            return sizings, list(open_rows)
        finally:
            await database.dispose()

    sizings, open_rows = _run(work)
    table = Table(title="connection pools (per worker)")
    for column in (
        "pool",
        "dialect",
        "size",
        "overflow",
        "timeout",
        "waits",
        "waited",
        "timeouts",
        "server limit",
        "workers",
        "recommended",
    ):
        table.add_column(column)
    for sizing in sizings:
        observed = sizing.observation
        server = "-" if sizing.server_limit is None else str(sizing.server_limit)
        if sizing.action == "not_applicable":
            recommended = "n/a (SQLite: no pool to size)"
        else:
            recommended = f"{sizing.action}: {sizing.size} + {sizing.max_overflow}"
        table.add_row(
            observed.name,
            observed.dialect,
            str(observed.size),
            str(observed.max_overflow),
            f"{observed.timeout:g} s",
            str(observed.waits),
            f"{observed.wait_seconds:.2f} s",
            str(observed.timeouts),
            server,
            str(sizing.workers),
            recommended,
        )
    console.print(table)
    for sizing in sizings:
        if sizing.action in ("grow", "shrink"):
            console.print(
                f"{sizing.observation.name}: BANRIMKWAE_DATABASE_POOL_SIZE={sizing.size} "
                f"BANRIMKWAE_DATABASE_POOL_MAX_OVERFLOW={sizing.max_overflow}",
                highlight=False,
            )
            for reason in sizing.reasons:
                console.print(f"  {reason}", highlight=False)
    for target, description in open_rows:
        console.print(f"open recommendation {target}: {description}", highlight=False)


def register_index_commands(db_app: typer.Typer) -> None:
    db_app.command("pools")(pools)
    db_app.command("indexes")(indexes)
    db_app.command("advise")(advise)
    db_app.command("explain")(explain)
