"""`banrimkwae recommend`: run the recommendation rules now and show what is open; apply one;
verify the applied ones (perf.recommend.apply, perf.recommend.verification).

The same run the platform makes on its timer (perf.recommend.engine): new findings are
added, open ones updated, solved ones closed with their measured after-value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from banrimkwae.cli_support import cli_actor, cli_settings, console, fail, run_async

if TYPE_CHECKING:
    from banrimkwae.perf.recommend.engine import RunResult


def recommend(
    period: Annotated[
        str, typer.Option(help="How far back the rules look: 1h, 24h, 7d, 30d or 90d.")
    ] = "7d",
) -> None:
    """Run the recommendation rules now and list the open recommendations."""
    from sqlalchemy import select

    from banrimkwae.perf.admin.report import PERIODS
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.recommend.engine import run_rules
    from banrimkwae.perf.recommend.workflow import OPEN_STATUSES
    from banrimkwae.perf.storage import PerformanceRecommendation

    if period not in PERIODS:
        fail(f"period {period!r} is not one of: {', '.join(PERIODS)}", 2)
    settings = cli_settings()

    async def work() -> tuple[RunResult, list[Any]]:
        engine = create_engine_for_url(settings.database_url)
        try:
            result = await run_rules(engine, period=period)
            table = PerformanceRecommendation.__table__
            async with engine.connect() as connection:
                rows = await connection.execute(
                    select(table).where(table.c.status.in_(OPEN_STATUSES)).order_by(table.c.id)
                )
                return result, list(rows)
        finally:
            await engine.dispose()

    result, rows = run_async(work)
    console.print(
        f"created {len(result.created)}, updated {len(result.updated)}, closed {len(result.closed)}"
    )
    table = Table("id", "type", "rule", "priority", "status", "target", "now", "aim")
    for row in rows:
        impact = row.impact_analysis if isinstance(row.impact_analysis, dict) else {}
        table.add_row(
            str(row.id),
            row.recommendation_type,
            str(impact.get("rule", "index" if row.recommendation_type == "index" else "-")),
            row.priority,
            row.status,
            row.target_resource,
            str(row.current_metric_value),
            str(row.recommended_metric_value),
        )
    console.print(table)


recommend_app = typer.Typer(
    help="Recommendations: run the rules (no subcommand), apply one, verify applied ones.",
    pretty_exceptions_enable=False,
)


@recommend_app.callback(invoke_without_command=True)
def _rules_unless_subcommand(
    ctx: typer.Context,
    period: Annotated[
        str, typer.Option(help="How far back the rules look: 1h, 24h, 7d, 30d or 90d.")
    ] = "7d",
) -> None:
    """Run the recommendation rules now and list the open recommendations."""
    if ctx.invoked_subcommand is None:
        recommend(period)


def _setting(pair: str) -> tuple[str, Any]:
    import json

    name, sep, value = pair.partition("=")
    if not sep or not name:
        fail(f"--set {pair!r} is not name=value", 2)
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value  # a bare word: a string


@recommend_app.command("apply")
def recommend_apply(
    recommendation_id: Annotated[int, typer.Argument(min=1, help="The recommendation's id.")],
    action: Annotated[
        str | None,
        typer.Option(help="index, cache_ttl, cache_warming or scaling (default: by its type)."),
    ] = None,
    cache_ttl_seconds: Annotated[
        int | None, typer.Option(min=1, help="The new TTL (cache_ttl).")
    ] = None,
    policy_id: Annotated[int | None, typer.Option(min=1, help="The cache policy.")] = None,
    scaling_config_id: Annotated[
        int | None, typer.Option(min=1, help="The scaling configuration.")
    ] = None,
    settings_to_change: Annotated[
        list[str] | None,
        typer.Option("--set", help="A scaling setting to change, name=value (repeatable)."),
    ] = None,
) -> None:
    """Carry out a recommendation; it is verified after the configured window (audited)."""
    from pydantic import ValidationError

    from banrimkwae.perf.admin.versioned import Actor
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.problems import ProblemError
    from banrimkwae.perf.recommend.apply import ApplyOptions, apply_recommendation

    settings = cli_settings()
    try:
        options = ApplyOptions(
            action=action,
            cache_ttl_seconds=cache_ttl_seconds,
            policy_id=policy_id,
            scaling_config_id=scaling_config_id,
            scaling_changes=dict(map(_setting, settings_to_change or [])) or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}", 2)
    actor = Actor(cli_actor())

    async def work() -> dict[str, Any]:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await apply_recommendation(
                engine,
                recommendation_id,
                options,
                actor,
                verify_seconds=settings.recommendation_verify_seconds,
            )
        finally:
            await engine.dispose()

    row = run_async(work, explain={ProblemError: ""})
    change = row["applied_change"] or {}
    changed = ", ".join(f"{k}={v}" for k, v in (change.get("changes") or {}).items())
    done = change.get("statement") or f"{change.get('kind')} {change.get('target_id')}: {changed}"
    console.print(f"applied recommendation {recommendation_id}: {done}")
    metric = change["metric"]["name"]
    console.print(f"{metric} before: {row['before_value']}; verified after {row['verify_after']}")


@recommend_app.command("verify")
def recommend_verify() -> None:
    """Verify the applied recommendations whose window has passed; roll back what got worse."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.problems import ProblemError
    from banrimkwae.perf.recommend.verification import VerifyResult, verify_due

    settings = cli_settings()

    async def work() -> VerifyResult:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await verify_due(engine, tolerance=settings.recommendation_tolerance)
        finally:
            await engine.dispose()

    result = run_async(work, explain={ProblemError: ""})
    for outcome in ("verified", "rolled_back", "not_rolled_back", "waiting"):
        ids = getattr(result, outcome)
        console.print(f"{outcome.replace('_', ' ')}: {', '.join(map(str, ids)) or 'none'}")
