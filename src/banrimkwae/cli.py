"""The `banrimkwae` command line: serve, demo, migrate, seed, config, db, token."""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from banrimkwae.cli_alerts import alerts_app
from banrimkwae.cli_apikey import apikey_app
from banrimkwae.cli_autoscale import autoscale_app
from banrimkwae.cli_cache import cache_app
from banrimkwae.cli_config import register_config_commands
from banrimkwae.cli_db import register_index_commands
from banrimkwae.cli_recommend import recommend_app
from banrimkwae.cli_shards import register_shard_commands
from banrimkwae.cli_support import cli_settings as _settings
from banrimkwae.cli_support import console, err_console
from banrimkwae.cli_support import fail as _fail
from banrimkwae.cli_support import run_async as _run
from banrimkwae.config import Settings

app = typer.Typer(
    help="Banrimkwae resort-management API and its performance platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
token_app = typer.Typer(help="Issue bearer tokens for guests and staff.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
register_index_commands(db_app)
register_shard_commands(db_app)
register_config_commands(config_app)
app.add_typer(apikey_app, name="apikey")
app.add_typer(autoscale_app, name="autoscale")
app.add_typer(cache_app, name="cache")
app.add_typer(alerts_app, name="alerts")
app.add_typer(recommend_app, name="recommend")


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database schema (domain and platform tables)."""
    from banrimkwae import migrate as migrations

    settings = _settings()
    _run(lambda: migrations.upgrade(settings.database_url, revision))
    console.print(f"schema at [bold]{revision}[/] on {settings.masked()['database_url']}")
    for name, url in settings.database_shards.items():  # every shard has the same schema
        _run(functools.partial(migrations.upgrade, url, revision, shard=True))
        console.print(f"schema at [bold]{revision}[/] on shard {name}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision.")]) -> None:
    """Downgrade the schema to REVISION ('base' removes every table)."""
    from banrimkwae import migrate as migrations

    settings = _settings()
    _run(lambda: migrations.downgrade(settings.database_url, revision))
    for url in settings.database_shards.values():
        _run(functools.partial(migrations.downgrade, url, revision, shard=True))
    console.print(f"schema at [bold]{revision}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    from banrimkwae import migrate as migrations

    settings = _settings()
    console.print(_run(lambda: migrations.current_revision(settings.database_url)) or "none")


@db_app.command("partitions")
def db_partitions() -> None:
    """Create the coming monthly partitions and drop those older than the retention."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.storage.partitions import maintain_partitions

    settings = _settings()

    async def work() -> Any:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await maintain_partitions(
                engine,
                now=dt.datetime.now(dt.UTC),
                months_ahead=settings.partition_months_ahead,
                retention_months=settings.partition_retention_months,
            )
        finally:
            await engine.dispose()

    report = _run(work)
    for name in report.created:
        console.print(f"created {name}")
    for name in report.dropped:
        console.print(f"dropped {name}")
    if getattr(report, "note", None):
        console.print(report.note)
    if not report.created and not report.dropped:
        console.print("partitions already up to date")


@app.command()
def seed(
    scale: Annotated[str, typer.Option(help="small | medium | large")] = "medium",
    seed_value: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: the `seed` setting).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Fill an empty, migrated database with deterministic, realistic resort data."""
    from banrimkwae.seed import SeedError, seed_database

    settings = _settings()
    chosen_seed = settings.seed if seed_value is None else seed_value
    try:
        report = _run(
            lambda: seed_database(
                settings.database_url,
                scale,
                seed=chosen_seed,
                progress=progress and sys.stderr.isatty(),
                console=err_console,
            )
        )
    except SeedError as exc:
        _fail(str(exc))
    table = Table(title=f"seeded {scale} (seed {chosen_seed}) in {report.elapsed_seconds:.1f} s")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    autoscale: Annotated[
        bool, typer.Option(help="Run the auto-scaling controller (auto_scaling_config row).")
    ] = False,
    autoscale_service: Annotated[str, typer.Option(help="Service name to scale.")] = "api",
    autoscale_interval: Annotated[float, typer.Option(help="Controller interval, s.")] = 15.0,
) -> None:
    """Serve the API (uvicorn with uvloop and httptools)."""
    settings = _settings()
    if autoscale:
        _check_autoscale(settings, autoscale_service)
    _serve(
        settings,
        host=host,
        port=port,
        workers=workers,
        autoscale=(autoscale_service, autoscale_interval) if autoscale else None,
    )


def _check_autoscale(settings: Settings, service: str) -> None:
    """Refuse to start on a missing or invalid auto_scaling_config row (one line)."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.scaling import ScalingConfigError
    from banrimkwae.perf.scaling.store import load_service

    async def work() -> Any:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await load_service(engine, service)
        finally:
            await engine.dispose()

    try:
        found = _run(work)
    except ScalingConfigError as exc:
        _fail(f"auto_scaling_config of {service!r} is invalid: {exc}")
    if found is None:
        _fail(f"no auto_scaling_config for {service!r}: run `banrimkwae autoscale configure`")


def _serve(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    workers: int | None,
    autoscale: tuple[str, float] | None = None,
) -> None:
    import tempfile

    import uvicorn

    worker_count = workers or settings.workers
    # With --autoscale the worker count may grow past one.
    several = worker_count > 1 or autoscale is not None
    if several and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics snapshot here; any worker's /metrics merges them.
        metrics_dir = tempfile.TemporaryDirectory(prefix="banrimkwae-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name
    if several and settings.redis_url is None and settings.cache_tag_file is None:
        # Without Redis the workers share cache tag versions through one mapped file.
        tag_dir = tempfile.TemporaryDirectory(prefix="banrimkwae-cache-")
        os.environ["BANRIMKWAE_CACHE_TAG_FILE"] = os.path.join(tag_dir.name, "tags")
    if autoscale is not None:
        from banrimkwae.perf.scaling.uvicorn_runner import serve_autoscaled

        serve_autoscaled(
            "banrimkwae.app:create_app",
            database_url=settings.database_url,
            service=autoscale[0],
            interval=autoscale[1],
            redis_url=settings.redis_url,
            leader_lock=settings.autoscale_leader_lock,
            workers=worker_count,
            host=host or settings.host,
            port=port or settings.port,
            loop="uvloop",
            http="httptools",
            log_level=settings.log_level,
            access_log=False,
            proxy_headers=False,
        )
        return
    uvicorn.run(
        "banrimkwae.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=worker_count,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=False,
    )


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    scale: Annotated[str, typer.Option(help="Seed scale when the database is empty.")] = "medium",
    traffic: Annotated[
        bool, typer.Option(help="Generate gentle synthetic read traffic for the dashboard.")
    ] = True,
) -> None:
    """Migrate, seed (when the database is empty), then serve and print the URLs."""
    from banrimkwae import migrate as migrations
    from banrimkwae.seed import SeedError, database_is_empty, seed_database

    settings = _settings()
    _run(lambda: migrations.upgrade(settings.database_url))
    if _run(lambda: database_is_empty(settings.database_url)):
        err_console.print(f"seeding {scale} data (first run only) ...")
        try:
            _run(
                lambda: seed_database(
                    settings.database_url,
                    scale,
                    seed=settings.seed,
                    progress=sys.stderr.isatty(),
                    console=err_console,
                )
            )
        except SeedError as exc:
            _fail(str(exc))
    bind_host = host or settings.host
    bind_port = port or settings.port
    base = f"http://{bind_host}:{bind_port}"
    console.print(f"API:      {base}/api/v1/properties")
    console.print(f"OpenAPI:  {base}/docs")
    if settings.platform_enabled:
        from banrimkwae.demo_traffic import demo_viewer_key, start_demo_traffic

        key = _run(lambda: demo_viewer_key(settings.database_url))
        console.print(f"Dashboard: {base}/admin/performance#key={key}", soft_wrap=True)
        console.print(f"Viewer key (new, shown once): {key}", soft_wrap=True)
        if traffic:
            start_demo_traffic(bind_host, bind_port)
    _serve(settings, host=bind_host, port=bind_port, workers=None)


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings, secrets masked."""
    settings = _settings()
    table = Table(title="effective settings")
    table.add_column("setting")
    table.add_column("environment variable")
    table.add_column("value")
    for name, value in settings.masked().items():
        table.add_row(name, f"BANRIMKWAE_{name.upper()}", str(value))
    console.print(table)


@token_app.command("guest")
def token_guest(
    guest_id: Annotated[int, typer.Argument(help="The guest's id.", min=1)],
    ttl: Annotated[int | None, typer.Option(help="Lifetime in seconds.")] = None,
) -> None:
    """Print a bearer token for a guest (for scripts and load tests)."""
    from banrimkwae.resort.auth import issue_token

    settings = _settings()
    lifetime = ttl or settings.token_ttl_seconds
    print(issue_token(settings.resolved_token_secret(), guest_id, "guest", lifetime))


@token_app.command("staff")
def token_staff(
    ttl: Annotated[int | None, typer.Option(help="Lifetime in seconds.")] = None,
) -> None:
    """Print a staff bearer token (resort management writes and reports)."""
    from banrimkwae.resort.auth import issue_token

    settings = _settings()
    lifetime = ttl or settings.token_ttl_seconds
    print(issue_token(settings.resolved_token_secret(), 0, "staff", lifetime))


def main() -> None:  # pragma: no cover - console-script shim
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
