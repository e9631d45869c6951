"""`banrimkwae autoscale simulate|configure|show|pin|events|run`.

simulate replays a trace (a CSV path, or the name of a shipped trace: diurnal, weekly,
bursts, flash_crowd) through the queueing model; the others read and write the
`auto_scaling_config` rows the controller of `banrimkwae serve --autoscale` runs on; run
runs that controller alone on the kubernetes (or dry-run) orchestrator.
Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from banrimkwae.cli_support import T, console, run_async
from banrimkwae.cli_support import cli_settings as _settings
from banrimkwae.cli_support import fail as _fail
from banrimkwae.config import Settings

autoscale_app = typer.Typer(
    help="Auto-scaling: simulate policies on traces, configure, pin, read events.",
    no_args_is_help=True,
)
SHIPPED_TRACES = Path(__file__).parent / "perf" / "scaling" / "traces"


class UnknownService(Exception):
    """No auto_scaling_config row for the service."""


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from banrimkwae.perf.scaling import ScalingConfigError

    return run_async(work, explain={ScalingConfigError: "invalid scaling configuration"})


def _trace_path(trace: str) -> Path:
    path = Path(trace)
    if not path.exists() and (SHIPPED_TRACES / f"{trace}.csv").exists():
        return SHIPPED_TRACES / f"{trace}.csv"
    return path


@autoscale_app.command()
def simulate(
    trace: Annotated[str, typer.Option(help="CSV (t,rps) or a shipped trace name.")],
    policy: Annotated[str, typer.Option(help="threshold | hpa | slo")] = "slo",
    output: Annotated[str, typer.Option("--format", help="text | json")] = "text",
    capacity: Annotated[
        float | None, typer.Option(help="Per-instance capacity, req/s (default: measured).")
    ] = None,
    startup: Annotated[
        float | None, typer.Option(help="Instance start-up delay, s (default: measured).")
    ] = None,
    interval: Annotated[float, typer.Option(help="Controller interval, s.")] = 15.0,
    min_instances: Annotated[int, typer.Option("--min", help="Minimum instances.")] = 1,
    max_instances: Annotated[int, typer.Option("--max", help="Maximum instances.")] = 20,
) -> None:
    """Replay a load trace through a queueing model of instances and score a policy."""
    from banrimkwae.perf.scaling import ScalingConfigError
    from banrimkwae.perf.scaling.policies import POLICIES
    from banrimkwae.perf.scaling.simulator import (
        MEASURED_CAPACITY_RPS,
        MEASURED_STARTUP_SECONDS,
        simulation_config,
    )
    from banrimkwae.perf.scaling.simulator import (
        simulate as run_simulation,
    )
    from banrimkwae.perf.scaling.trace import TraceError, read_trace

    if policy not in POLICIES:
        _fail(f"unknown policy {policy!r}: use one of {', '.join(POLICIES)}", 2)
    if output not in ("text", "json"):
        _fail(f"unknown format {output!r}: use text or json", 2)
    capacity_rps = MEASURED_CAPACITY_RPS if capacity is None else capacity
    startup_s = MEASURED_STARTUP_SECONDS if startup is None else startup
    if capacity_rps <= 0 or startup_s < 0 or interval <= 0:
        _fail("--capacity and --interval must be positive, --startup non-negative", 2)
    try:
        loaded = read_trace(_trace_path(trace))
        config = simulation_config(
            policy, capacity_rps, min_instances=min_instances, max_instances=max_instances
        )
    except (TraceError, ScalingConfigError) as exc:
        _fail(str(exc))
    result = run_simulation(
        loaded,
        policy,
        config,
        capacity_rps=capacity_rps,
        startup_seconds=startup_s,
        interval_seconds=interval,
    )
    if output == "json":
        print(json.dumps(result.as_dict()))
        return
    table = Table(title=f"{policy} on {loaded.name} ({result.duration_seconds / 3600:.1f} h)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.as_dict().items():
        if name not in ("trace", "policy"):
            table.add_row(name, f"{value}")
    console.print(table)
    console.print(
        f"capacity {capacity_rps:g} req/s per instance and start-up {startup_s:g} s "
        f"({'measured' if capacity is None and startup is None else 'given'}: see docs/scaling.md)"
    )


@autoscale_app.command()
def configure(
    service: Annotated[str, typer.Option(help="Service name.")] = "api",
    policy: Annotated[str, typer.Option(help="threshold | hpa | slo")] = "slo",
    min_instances: Annotated[int, typer.Option("--min")] = 1,
    max_instances: Annotated[int, typer.Option("--max")] = 4,
    cpu: Annotated[float, typer.Option(help="Target CPU %.")] = 70.0,
    memory: Annotated[float, typer.Option(help="Target memory %.")] = 80.0,
    response_time: Annotated[float, typer.Option(help="Target p95, ms.")] = 200.0,
    up_cooldown: Annotated[float, typer.Option(help="Scale-up cooldown, s.")] = 0.0,
    down_cooldown: Annotated[float, typer.Option(help="Scale-down cooldown, s.")] = 60.0,
    up_count: Annotated[int, typer.Option(help="Observations over target to scale up.")] = 2,
    down_count: Annotated[int, typer.Option(help="Observations under target to scale down.")] = 3,
    capacity: Annotated[
        float, typer.Option(help="slo: per-instance req/s (0: estimate from rate and CPU).")
    ] = 0.0,
    enabled: Annotated[bool, typer.Option(help="Whether the controller acts.")] = True,
) -> None:
    """Create or replace a service's auto_scaling_config row (validated first)."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.scaling import ScalingConfig
    from banrimkwae.perf.scaling.store import save_service

    settings = _settings()

    async def work() -> None:
        config = ScalingConfig(
            service_name=service,
            min_instances=min_instances,
            max_instances=max_instances,
            target_cpu_percent=cpu,
            target_memory_percent=memory,
            target_response_time_ms=response_time,
            scale_up_cooldown_seconds=up_cooldown,
            scale_down_cooldown_seconds=down_cooldown,
            scale_up_threshold_count=up_count,
            scale_down_threshold_count=down_count,
            capacity_rps=capacity,
        )
        engine = create_engine_for_url(settings.database_url)
        try:
            await save_service(engine, config, policy, enabled=enabled)
        finally:
            await engine.dispose()

    _run(work)
    console.print(f"{service}: {policy}, {min_instances}..{max_instances} instances")


@autoscale_app.command()
def show() -> None:
    """Print every auto_scaling_config row, and whether the controller would accept it."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.scaling import ScalingConfigError
    from banrimkwae.perf.scaling.store import list_services, service_from_row

    settings = _settings()

    async def work() -> list[Any]:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await list_services(engine)
        finally:
            await engine.dispose()

    rows = _run(work)
    table = Table(title="auto_scaling_config")
    for column in (
        "service",
        "policy",
        "min",
        "max",
        "cpu %",
        "p95 ms",
        "cooldowns s",
        "pin",
        "valid",
    ):
        table.add_column(column)
    for row in rows:
        try:
            service_from_row(row)
            valid = "yes"
        except ScalingConfigError as exc:
            valid = str(exc)
        pin = f"{row.pinned_instances} until {row.pinned_until}" if row.pinned_instances else ""
        table.add_row(
            row.service_name,
            row.policy,
            str(row.min_instances),
            str(row.max_instances),
            str(row.target_cpu_percent),
            str(row.target_response_time_ms),
            f"{row.scale_up_cooldown_seconds}/{row.scale_down_cooldown_seconds}",
            pin,
            valid,
        )
    console.print(table)


@autoscale_app.command()
def pin(
    count: Annotated[int | None, typer.Argument(help="Instances to hold.", min=1)] = None,
    service: Annotated[str, typer.Option(help="Service name.")] = "api",
    duration: Annotated[float, typer.Option("--for", help="How long, s.")] = 3600.0,
    clear: Annotated[bool, typer.Option(help="Remove the pin.")] = False,
) -> None:
    """Hold COUNT instances for a while (the controller obeys the pin over its policy)."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.scaling.store import pin_service

    if not clear and count is None:
        _fail("give a COUNT to pin, or --clear", 2)
    if duration <= 0:
        _fail("--for must be positive", 2)
    settings = _settings()
    until = None if clear else dt.datetime.now(dt.UTC) + dt.timedelta(seconds=duration)

    async def work() -> bool:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await pin_service(engine, service, None if clear else count, until)
        finally:
            await engine.dispose()

    if not _run(work):
        _fail(
            f"no auto_scaling_config for service {service!r}: run `banrimkwae autoscale configure`"
        )
    console.print(
        f"{service}: pin cleared"
        if clear
        else f"{service}: pinned to {count} until {until:%Y-%m-%d %H:%M:%S} UTC"
    )


@autoscale_app.command()
def events(
    service: Annotated[str, typer.Option(help="Service name.")] = "api",
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 20,
) -> None:
    """The newest scaling events of a service."""
    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.scaling.store import recent_events

    settings = _settings()

    async def work() -> list[Any]:
        engine = create_engine_for_url(settings.database_url)
        try:
            return await recent_events(engine, service, limit)
        finally:
            await engine.dispose()

    table = Table(title=f"scaling events of {service}")
    for column in ("at", "event", "from", "to", "trigger", "value", "threshold", "reason"):
        table.add_column(column)
    for row in _run(work):
        reasons = (row.event_details or {}).get("reasons", [])
        table.add_row(
            str(row.created_at),
            row.event_type,
            str(row.from_instances),
            str(row.to_instances),
            row.trigger_metric,
            str(row.trigger_value),
            str(row.threshold_value),
            "; ".join(reasons),
        )
    console.print(table)


def build_orchestrator(settings: Settings) -> Any:
    """The orchestrator `autoscale run` drives, from the settings (uvicorn is refused here:
    it lives inside `banrimkwae serve --autoscale`)."""
    from banrimkwae.perf.scaling.orchestrators import DryRunOrchestrator, OrchestratorError

    if settings.autoscale_orchestrator == "uvicorn":
        raise OrchestratorError(
            "the uvicorn orchestrator runs inside `banrimkwae serve --autoscale`; set "
            "BANRIMKWAE_AUTOSCALE_ORCHESTRATOR=kubernetes or dry-run for `autoscale run`"
        )
    if settings.autoscale_orchestrator == "dry-run":
        return DryRunOrchestrator(1)
    from banrimkwae.perf.scaling.kubernetes import KubernetesOrchestrator

    return KubernetesOrchestrator.from_config(
        settings.autoscale_kubernetes_deployment,
        namespace=settings.autoscale_kubernetes_namespace,
        kubeconfig=settings.autoscale_kubernetes_kubeconfig,
        context=settings.autoscale_kubernetes_context,
        verify_timeout=settings.autoscale_kubernetes_verify_timeout,
    )


@autoscale_app.command()
def run(
    service: Annotated[str, typer.Option(help="Service name.")] = "api",
    interval: Annotated[float, typer.Option(help="Controller interval, s.", min=0.1)] = 15.0,
    once: Annotated[bool, typer.Option(help="One cycle, print what it did, and exit.")] = False,
) -> None:
    """Run the controller on BANRIMKWAE_AUTOSCALE_ORCHESTRATOR (kubernetes | dry-run) until
    SIGTERM; instances share one leader (Redis lock when a Redis URL is set, else the database)."""
    import signal

    from banrimkwae.perf.db import create_engine_for_url
    from banrimkwae.perf.scaling.controller import Controller, CycleResult
    from banrimkwae.perf.scaling.leader import choose_lease
    from banrimkwae.perf.scaling.orchestrators import OrchestratorError
    from banrimkwae.perf.scaling.store import load_service

    settings = _settings()
    if settings.autoscale_leader_lock == "redis" and not settings.redis_url:
        _fail("BANRIMKWAE_AUTOSCALE_LEADER_LOCK=redis needs BANRIMKWAE_REDIS_URL", 2)

    async def work() -> CycleResult | None:
        engine = create_engine_for_url(settings.database_url)
        orchestrator = None
        try:
            if await load_service(engine, service) is None:
                raise UnknownService(
                    f"no auto_scaling_config for {service!r}: run `banrimkwae autoscale configure`"
                )
            orchestrator = build_orchestrator(settings)
            controller = Controller(engine, orchestrator, service=service, interval=interval)
            controller.lease = choose_lease(
                engine,
                service,
                controller.holder,
                controller.lease_seconds,
                redis_url=settings.redis_url,
                lock=settings.autoscale_leader_lock,
            )
            try:
                if once:
                    return await controller.cycle()
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, stop.set)
                await controller.run(stop)
                return None
            finally:
                await controller.leader_lease.close()
        finally:
            if orchestrator is not None and hasattr(orchestrator, "close"):
                orchestrator.close()
            await engine.dispose()

    from banrimkwae.perf.scaling import ScalingConfigError

    result = run_async(
        work,
        explain={
            ScalingConfigError: "invalid scaling configuration",
            OrchestratorError: "",
            UnknownService: "",
        },
    )
    if result is None:
        return
    if not result.leader:
        console.print(f"{service}: another instance leads; nothing done")
        return
    reasons = "; ".join(result.decision.reasons) if result.decision else "service disabled"
    console.print(
        f"{service}: {result.event or 'no change'} at {result.instances} instances ({reasons})"
    )
