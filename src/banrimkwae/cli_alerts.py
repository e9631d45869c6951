"""`banrimkwae alerts list|export`: the alert rules and their states from the shell.

- `list`: every rule with its threshold, window, severity and current state.
- `export [--output FILE]`: the enabled rules as Prometheus alerting rules (YAML), over the
  metric names /metrics exports; rules PromQL cannot express are named on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from banrimkwae.cli_support import cli_settings, console, err_console, fail, run_async

if TYPE_CHECKING:
    from banrimkwae.perf.alerts import AlertState, Rule

alerts_app = typer.Typer(help="Alert rules: list them with their states, export for Prometheus.")


def _read() -> tuple[list[Rule], dict[int, AlertState]]:
    from banrimkwae.perf.alerts import load_rules, load_states
    from banrimkwae.perf.db import create_engine_for_url

    settings = cli_settings()

    async def work() -> tuple[list[Rule], dict[int, AlertState]]:
        engine = create_engine_for_url(settings.database_url)
        try:
            async with engine.connect() as connection:
                rules = await load_rules(connection)
                states = await load_states(connection)
        finally:
            await engine.dispose()
        return rules, {rule_id: stored.state for rule_id, stored in states.items()}

    return run_async(work)


@alerts_app.command("list")
def list_rules() -> None:
    """List the alert rules and where each stands now."""
    from banrimkwae.perf.alerts import INITIAL, format_duration

    rules, states = _read()
    table = Table("id", "name", "condition", "window", "for", "severity", "enabled", "state")
    for rule in rules:
        state = states.get(rule.id, INITIAL)
        shown: str = state.status
        if state.value is not None:
            shown += f" ({state.value:.4g})"
        table.add_row(
            str(rule.id),
            rule.name,
            rule.summary(),
            format_duration(rule.window_seconds),
            format_duration(rule.for_seconds) if rule.for_seconds else "-",
            rule.severity,
            "yes" if rule.enabled else "no",
            shown,
        )
    console.print(table)


@alerts_app.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
) -> None:
    """Write the enabled rules as Prometheus alerting rules (promtool check rules accepts)."""
    from banrimkwae.perf.alerts import export_rules

    rules, _states = _read()
    exported = export_rules(rules)
    text = exported.yaml()
    if output is None:
        typer.echo(text, nl=False)
    else:
        try:
            output.write_text(text)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        err_console.print(f"wrote {len(exported.rules)} rules to {output}", highlight=False)
    for name, reason in exported.skipped:
        err_console.print(f"not exported: {name}: {reason}", highlight=False)
