"""`banrimkwae recommend`: run the recommendation rules now, and show what is open.

The same run the platform makes on its timer (perf.recommend.engine): new findings are
added, open ones updated, solved ones closed with their measured after-value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from banrimkwae.cli_support import cli_settings, console, fail, run_async

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
    table = Table("id", "type", "priority", "status", "target", "now", "aim")
    for row in rows:
        table.add_row(
            str(row.id),
            row.recommendation_type,
            row.priority,
            row.status,
            row.target_resource,
            str(row.current_metric_value),
            str(row.recommended_metric_value),
        )
    console.print(table)
