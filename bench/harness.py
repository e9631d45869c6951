"""The benchmark harness: server variants side by side, interleaved, under wrk.

For every round, every variant in turn gets a fresh server process on a free loopback port,
a readiness check, a warm-up and one measured wrk run of the workload; the rounds interleave
the variants (ABAB...) so that the noise of a shared machine hits all of them alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from banrimkwae import migrate
from banrimkwae.config import Settings
from banrimkwae.resort.auth import issue_token
from banrimkwae.seed import seed_database
from bench.workloads import Request, RequestPlan, Workload, load_workload, write_lua_table

LOOPBACK = "127.0.0.1"
READY_PATH = "/api/v1/properties"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
WRK_DRIVER = Path(__file__).resolve().parent / "workloads" / "cycle.lua"
POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
SCALES = ("small", "medium", "large")
DEFAULT_DATA_SEED: int = Settings.model_fields["seed"].default
# Tokens outlive any benchmark.
_TOKEN_TTL_SECONDS = 6 * 3600
_RESULT_MARKER = "BENCH_RESULT "

Log = Callable[[str], None]


class HarnessError(Exception):
    """The benchmark could not run; the message says what to fix."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- variants -----------------------------------------------------------------------------

BUILTIN_VARIANTS: dict[str, dict[str, str]] = {
    "naive": {"BANRIMKWAE_PLATFORM_ENABLED": "false"},
    "platform": {"BANRIMKWAE_PLATFORM_ENABLED": "true"},
    # The monitoring stack alone: the platform without its response layers.
    "monitoring": {
        "BANRIMKWAE_PLATFORM_ENABLED": "true",
        "BANRIMKWAE_CACHE_ENABLED": "false",
        "BANRIMKWAE_COMPRESSION_ENABLED": "false",
    },
    # The peer: the naive app instrumented by prometheus-fastapi-instrumentator.
    "instrumentator": {"BANRIMKWAE_PLATFORM_ENABLED": "false"},
    # Compression peers (bench/peers/compression.py), and the platform's compression alone.
    "starlette-gzip": {"BANRIMKWAE_PLATFORM_ENABLED": "false"},
    "brotli-asgi": {"BANRIMKWAE_PLATFORM_ENABLED": "false"},
    "compression": {"BANRIMKWAE_PLATFORM_ENABLED": "false"},
}
# Variants served by another app factory than `banrimkwae serve`'s.
BUILTIN_APPS: dict[str, str] = {
    "instrumentator": "bench.peers.instrumentator:create_app",
    "starlette-gzip": "bench.peers.compression:starlette_gzip",
    "brotli-asgi": "bench.peers.compression:brotli_asgi",
    "compression": "bench.peers.compression:own_compression",
}


@dataclass(frozen=True, slots=True)
class Variant:
    """A named server configuration: BANRIMKWAE_* settings and a worker count."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    # An ASGI app factory ("module:function") served instead of `banrimkwae serve`'s app.
    app: str | None = None
    # Run on each run's fresh database copy (its URL) before the server starts: a variant
    # that differs in stored configuration, such as a cache policy.
    prepare: Callable[[str], None] | None = None


def parse_variant(spec: str, *, workers: int = 1) -> Variant:
    """`naive`, `platform`, or `name:KEY=VALUE,KEY=VALUE` (KEY without BANRIMKWAE_ is fine).

    A WORKERS setting sets the variant's worker count instead of the default.
    """
    name, _, settings = spec.partition(":")
    if not name:
        raise HarnessError(f"variant {spec!r} has no name")
    env = dict(BUILTIN_VARIANTS.get(name, {}))
    if not settings and name not in BUILTIN_VARIANTS:
        known = ", ".join(BUILTIN_VARIANTS)
        raise HarnessError(f"unknown variant {name!r}: use one of {known} or name:KEY=VALUE")
    for assignment in filter(None, settings.split(",")):
        key, equals, value = assignment.partition("=")
        if not equals:
            raise HarnessError(f"variant {spec!r}: {assignment!r} is not KEY=VALUE")
        key = key.strip().upper()
        env[key if key.startswith("BANRIMKWAE_") else f"BANRIMKWAE_{key}"] = value.strip()
    if "BANRIMKWAE_WORKERS" in env:
        workers = int(env.pop("BANRIMKWAE_WORKERS"))
    return Variant(name, env, workers, BUILTIN_APPS.get(name))


# --- the server ---------------------------------------------------------------------------


def server_command(port: int, workers: int, app: str | None = None) -> list[str]:
    """How the API is started: exactly as a user serves it, or a peer's app factory."""
    if app is not None:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    return [
        str(Path(sys.executable).with_name("banrimkwae")),
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def server_environment(database_url: str, token_secret: str, variant: Variant) -> dict[str, str]:
    # Only the harness's settings reach the server: a stray BANRIMKWAE_* in the caller's
    # shell would make the variants differ from what the report says.
    env = {key: value for key, value in os.environ.items() if not key.startswith("BANRIMKWAE_")}
    env["BANRIMKWAE_DATABASE_URL"] = database_url
    env["BANRIMKWAE_TOKEN_SECRET"] = token_secret
    env["BANRIMKWAE_LOG_LEVEL"] = "warning"
    env.update(variant.env)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


class RunningServer(NamedTuple):
    url: str
    pid: int


@contextmanager
def running_server(
    variant: Variant,
    database_url: str,
    token_secret: str,
    log_path: Path,
    *,
    ready_timeout_s: float = 60.0,
) -> Iterator[RunningServer]:
    """Start the API for `variant`, wait until it answers, yield its URL and pid, stop it."""
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    with log_path.open("ab") as log:
        log.write(f"--- {dt.datetime.now().isoformat()} {variant.name} on {base_url}\n".encode())
        log.flush()
        process = subprocess.Popen(
            server_command(port, variant.workers, variant.app),
            env=server_environment(database_url, token_secret, variant),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    try:
        _wait_ready(process, base_url, log_path, ready_timeout_s)
        yield RunningServer(base_url, process.pid)
    finally:
        _stop(process)


def _wait_ready(
    process: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise HarnessError(
                    f"the server exited with status {process.returncode}:\n{_tail(log_path)}"
                )
            try:
                status = client.get(READY_PATH).status_code
            except httpx.TransportError as exc:
                last = type(exc).__name__
            else:
                if status == 200:
                    return
                last = f"HTTP {status}"
            time.sleep(0.2)
    raise HarnessError(
        f"the server was not ready within {timeout_s:.0f} s (last: {last}):\n{_tail(log_path)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            pass
    # The server got its chance; its own process group (workers included) goes now.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- the database -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    """The seeded database a benchmark reads its catalog from.

    A database the harness prepared is never written by a server: every server run gets a
    fresh copy of it (`run_copy`), so every variant and round starts from the same rows.
    A database given by URL is used as it is, and the runs' writes accumulate in it.
    """

    url: str
    # given: the caller's URL; reused: seeded by an earlier benchmark; created: seeded now.
    origin: str
    detail: str

    @property
    def copied_per_run(self) -> bool:
        return self.origin != "given"

    @property
    def copy_url(self) -> str:
        if self.url.startswith("sqlite"):
            return self.url.removesuffix(".db") + ".run.db"
        return self.url + "_run"

    def run_copy(self) -> str:
        """The URL a server run uses: a fresh copy of the seeded database, when it is ours."""
        if not self.copied_per_run:
            return self.url
        if self.url.startswith("sqlite"):
            source, target = _sqlite_path(self.url), _sqlite_path(self.copy_url)
            _remove_sqlite(target)
            with (
                closing(sqlite3.connect(source)) as seeded,
                closing(sqlite3.connect(target)) as copy,
            ):
                seeded.backup(copy)
        else:
            asyncio.run(_postgres_copy(self.url.rsplit("/", 1)[1], self.copy_url.rsplit("/", 1)[1]))
        return self.copy_url

    def drop_copy(self) -> None:
        if not self.copied_per_run:
            return
        if self.url.startswith("sqlite"):
            _remove_sqlite(_sqlite_path(self.copy_url))
        else:
            asyncio.run(_postgres_copy(None, self.copy_url.rsplit("/", 1)[1]))


def _sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def prepare_database(
    spec: str,
    *,
    scale: str,
    data_seed: int = DEFAULT_DATA_SEED,
    results_dir: Path = RESULTS_DIR,
    reseed: bool = False,
    log: Log = _stderr,
) -> BenchDatabase:
    """`sqlite`, `postgresql` (seeded once, then re-used) or a URL of a seeded database."""
    if "://" in spec:
        return BenchDatabase(spec, "given", "given by --database, used as it is")
    if scale not in SCALES:
        raise HarnessError(f"unknown scale {scale!r}: use one of {', '.join(SCALES)}")
    if spec == "sqlite":
        prepared = _prepare_sqlite(scale, data_seed, results_dir, reseed, log)
    elif spec == "postgresql":
        prepared = asyncio.run(_prepare_postgresql(scale, data_seed, reseed, log))
    else:
        raise HarnessError(f"--database {spec!r}: use sqlite, postgresql or a database URL")
    if prepared.origin == "reused":
        # A database seeded by an older revision gets the tables added since.
        asyncio.run(migrate.upgrade(prepared.url))
    return prepared


def _prepare_sqlite(
    scale: str, data_seed: int, results_dir: Path, reseed: bool, log: Log
) -> BenchDatabase:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = (results_dir / f"bench_{scale}.db").resolve()
    marker = path.with_name(path.name + ".seeded.json")
    url = f"sqlite+aiosqlite:///{path}"
    wanted = {"scale": scale, "seed": data_seed}
    if not reseed and path.exists() and marker.exists():
        seeded = json.loads(marker.read_text())
        if {key: seeded.get(key) for key in wanted} == wanted:
            detail = f"re-used {path.name} (seeded {seeded.get('seeded_on')}, scale {scale})"
            return BenchDatabase(url, "reused", detail)
    marker.unlink(missing_ok=True)
    _remove_sqlite(path)
    elapsed = asyncio.run(_migrate_and_seed(url, scale, data_seed, log))
    # Written last: a seed that did not finish leaves no marker and is redone next time.
    marker.write_text(json.dumps({**wanted, "seeded_on": dt.date.today().isoformat()}))
    return BenchDatabase(url, "created", f"created {path.name} (scale {scale}, {elapsed:.0f} s)")


def _postgres_admin() -> AsyncEngine:
    return create_async_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")


async def _prepare_postgresql(scale: str, data_seed: int, reseed: bool, log: Log) -> BenchDatabase:
    name = f"banrimkwae_bench_{scale}"
    url = f"{POSTGRES_SERVER}/{name}"
    marker = f"banrimkwae bench: seeded scale={scale} seed={data_seed}"
    admin = _postgres_admin()
    try:
        async with admin.connect() as connection:
            found = (
                await connection.execute(
                    text(
                        "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                        " WHERE datname = :name"
                    ),
                    {"name": name},
                )
            ).first()
            if found is not None and found[0] == marker and not reseed:
                return BenchDatabase(url, "reused", f"re-used database {name} ({marker})")
            if found is not None:
                # Ours by its name, and not completely seeded (or --reseed): start over.
                log(f"dropping {name}: not seeded as wanted ({found[0]!r})")
                await connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
            await connection.execute(text(f"CREATE DATABASE {name}"))
        elapsed = await _migrate_and_seed(url, scale, data_seed, log)
        async with admin.connect() as connection:
            # Set last: a seed that did not finish leaves no marker and is redone next time.
            await connection.execute(text(f"COMMENT ON DATABASE {name} IS '{marker}'"))
    except OSError as exc:
        raise HarnessError(f"PostgreSQL at {POSTGRES_SERVER}: {exc}") from None
    finally:
        await admin.dispose()
    detail = f"created database {name} (scale {scale}, {elapsed:.0f} s)"
    return BenchDatabase(url, "created", detail)


async def _postgres_copy(template: str | None, name: str) -> None:
    """Drop database `name` and, given a template, create it again as a copy of that."""
    admin = _postgres_admin()
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            if template is not None:
                await connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    finally:
        await admin.dispose()


async def _migrate_and_seed(url: str, scale: str, data_seed: int, log: Log) -> float:
    started = time.monotonic()
    log(f"migrating and seeding {scale} (seed {data_seed}) into {url} ...")
    await migrate.upgrade(url)
    await seed_database(url, scale, seed=data_seed, progress=False)
    return time.monotonic() - started


# --- wrk ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run, as its Lua done() hook reported it; latencies in milliseconds."""

    requests: int
    duration_s: float
    bytes_read: int
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]
    statuses: dict[int, int]
    # CPU seconds the server's processes used during the run (None when not measured).
    server_cpu_s: float | None = None
    # Responses by their X-Cache value ("HIT l1", "MISS", ..., "none" without one).
    cache: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())

    def percentile(self, p: str) -> float:
        return self.latency_ms[p]

    @classmethod
    def from_json(cls, line: str) -> WrkResult:
        raw = json.loads(line)
        latency = raw["latency_us"]
        latency_ms = {key: value / 1000 for key, value in latency["percentiles"].items()}
        latency_ms.update(mean=latency["mean"] / 1000, max=latency["max"] / 1000)
        errors = raw["errors"]
        return cls(
            requests=raw["requests"],
            duration_s=raw["duration_us"] / 1e6,
            bytes_read=raw["bytes"],
            # errors.status (4xx and 5xx) is in `statuses`, with 3xx beside it.
            socket_errors={key: errors[key] for key in ("connect", "read", "write", "timeout")},
            latency_ms=latency_ms,
            statuses={int(status): count for status, count in raw["statuses"].items()},
            cache=dict(raw.get("cache", {})),
        )


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise HarnessError("wrk is not installed: apt-get install -y wrk")
    return found


def valgrind_binary() -> str:
    found = shutil.which("valgrind")
    if found is None:
        raise SystemExit("instruction counts need valgrind (Debian package valgrind)")
    return found


def callgrind_control(state: str) -> None:
    """Turn callgrind's instrumentation of this process "on" or "off" (--instr-atstart=no)."""
    subprocess.run(
        ["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True
    )


def run_wrk(
    base_url: str,
    request_file: Path,
    *,
    threads: int,
    connections: int,
    duration_s: int,
    timeout_s: int = 10,
    accept_encoding: str | None = None,
) -> WrkResult:
    command = [
        wrk_binary(),
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{duration_s}s",
        "--timeout",
        f"{timeout_s}s",
        "-s",
        str(WRK_DRIVER),
        base_url,
        "--",
        str(request_file),
        str(threads),
        *([accept_encoding] if accept_encoding else []),
    ]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    for line in finished.stdout.splitlines():
        if line.startswith(_RESULT_MARKER):
            return WrkResult.from_json(line[len(_RESULT_MARKER) :])
    raise HarnessError(
        f"wrk gave no result (status {finished.returncode}):\n{finished.stdout}{finished.stderr}"
    )


# --- one benchmark ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchConfig:
    variants: tuple[Variant, ...]
    workload: str = "resort-read-mix"
    database: str = "sqlite"
    scale: str = "small"
    data_seed: int = DEFAULT_DATA_SEED
    seed: int = 1
    rounds: int = 3
    duration_s: int = 15
    warmup_s: int = 3
    threads: int = 1
    connections: int = 32
    timeout_s: int = 10
    request_count: int = 30_000
    results_dir: Path = RESULTS_DIR
    reseed: bool = False
    # Sent with every wrk request when set (wrk sends no Accept-Encoding of its own).
    accept_encoding: str | None = None

    def check(self) -> None:
        if not self.variants:
            raise HarnessError("at least one variant is needed")
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise HarnessError(f"variant names repeat: {', '.join(names)}")
        if self.rounds < 1 or self.duration_s < 1 or self.warmup_s < 0:
            raise HarnessError("rounds and duration must be at least 1, warm-up at least 0")
        if self.threads < 1 or self.connections < self.threads:
            raise HarnessError("need at least one thread and one connection per thread")


@dataclass(frozen=True, slots=True)
class Run:
    variant: str
    round: int
    result: WrkResult
    # What a `During` observer recorded while the run was measured.
    observed: dict[str, Any] = field(default_factory=dict)


# Started beside each measured wrk run (server, variant, round, the guests' token issuer): a
# context manager whose dict is filled in by the time it exits, e.g. a client checking what
# it reads back.
During = Callable[
    [RunningServer, Variant, int, Callable[[int], str]], AbstractContextManager[dict[str, Any]]
]


@dataclass(frozen=True, slots=True)
class VariantSummary:
    """Medians over the rounds; `ratio` is the median of per-round req/s ratios to baseline."""

    variant: Variant
    rps_by_round: list[float]
    rps: float
    ratio: float
    latency_ms: dict[str, float]
    requests: int
    non_2xx: int
    errors: int
    statuses: dict[int, int]
    # Median server CPU time per request: steadier than req/s on a shared machine, and what
    # an overhead (a middleware, instrumentation) adds to every request.
    cpu_us_per_request: float | None = None


@dataclass
class BenchReport:
    config: BenchConfig
    database: BenchDatabase
    workload: Workload
    started_at: dt.datetime
    server_log: Path
    runs: list[Run] = field(default_factory=list)
    # variant -> request kind -> status -> count, from one probe per variant before warm-up.
    probes: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)
    finished_at: dt.datetime | None = None

    def summaries(self) -> list[VariantSummary]:
        baseline = self.config.variants[0].name
        baseline_rps = {run.round: run.result.rps for run in self.runs if run.variant == baseline}
        summaries = []
        for variant in self.config.variants:
            runs = [run for run in self.runs if run.variant == variant.name]
            if not runs:
                continue
            ratios = [
                run.result.rps / baseline_rps[run.round]
                for run in runs
                if baseline_rps.get(run.round)
            ]
            statuses: Counter[int] = Counter()
            for run in runs:
                statuses.update(run.result.statuses)
            keys = runs[0].result.latency_ms.keys()
            summaries.append(
                VariantSummary(
                    variant=variant,
                    rps_by_round=[run.result.rps for run in runs],
                    rps=statistics.median(run.result.rps for run in runs),
                    ratio=statistics.median(ratios) if ratios else float("nan"),
                    latency_ms={
                        key: statistics.median(run.result.latency_ms[key] for run in runs)
                        for key in keys
                    },
                    requests=sum(run.result.requests for run in runs),
                    non_2xx=sum(run.result.non_2xx for run in runs),
                    errors=sum(run.result.errors for run in runs),
                    statuses=dict(sorted(statuses.items())),
                    cpu_us_per_request=_median_cpu_per_request(runs),
                )
            )
        return summaries

    def machine(self) -> dict[str, object]:
        return {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "git": _git_revision(),
        }


def _git_revision() -> str:
    try:
        revision = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return revision


class _Tokens:
    """Guest bearer tokens for the server's secret, issued once per guest."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._issued: dict[int, str] = {}

    def __call__(self, guest_id: int) -> str:
        token = self._issued.get(guest_id)
        if token is None:
            token = issue_token(self.secret, guest_id, "guest", _TOKEN_TTL_SECONDS)
            self._issued[guest_id] = token
        return token


def run_benchmark(
    config: BenchConfig, *, log: Log = _stderr, during: During | None = None
) -> BenchReport:
    """Prepare the database and the workload, then run every round of every variant."""
    config.check()
    wrk_binary()
    database = prepare_database(
        config.database,
        scale=config.scale,
        data_seed=config.data_seed,
        results_dir=config.results_dir,
        reseed=config.reseed,
        log=log,
    )
    log(f"database: {database.detail}")
    workload = asyncio.run(load_workload(config.workload, database.url, seed=config.seed))
    for note in workload.notes:
        log(f"note: {note}")
    started_at = dt.datetime.now()
    config.results_dir.mkdir(parents=True, exist_ok=True)
    server_log = config.results_dir / f"{started_at:%Y%m%d-%H%M%S}-{config.workload}.server.log"
    report = BenchReport(config, database, workload, started_at, server_log)
    tokens = _Tokens(secrets.token_urlsafe(32))
    lists = _RequestLists(config, workload, tokens, fresh_copies=database.copied_per_run)
    if database.copied_per_run:
        log(f"every server run gets a fresh copy of the seeded database: {database.copy_url}")
    else:
        log("the runs' writes stay in the given database")
    try:
        with tempfile.TemporaryDirectory(prefix="banrimkwae-bench-") as scratch:
            for round_number in range(1, config.rounds + 1):
                for variant in config.variants:
                    result, observed = _measure(
                        report, lists, Path(scratch), variant, round_number, during
                    )
                    report.runs.append(Run(variant.name, round_number, result, observed))
                    log(
                        f"round {round_number}/{config.rounds} {variant.name}: "
                        f"{result.rps:,.0f} req/s, p99 {result.percentile('99'):.1f} ms, "
                        f"non-2xx {result.non_2xx:,}, socket errors {result.errors:,}"
                    )
    finally:
        database.drop_copy()
    report.finished_at = dt.datetime.now()
    return report


class _RequestLists:
    """Writes the request list of each wrk run: the same reads for every variant of a round.

    Writes that can happen only once (a cancellation) need a slice of their own per database
    state: the warm-up and the measured run of one server share it, and without fresh copies
    so do all runs.
    """

    def __init__(
        self, config: BenchConfig, workload: Workload, tokens: _Tokens, *, fresh_copies: bool
    ) -> None:
        self.config = config
        self.workload = workload
        self.tokens = tokens
        self.fresh_copies = fresh_copies
        self.write_slices = 2 if fresh_copies else 2 * config.rounds * len(config.variants)
        self._written = itertools.count()

    def write(self, round_key: str, directory: Path) -> tuple[list[Request], Path]:
        number = next(self._written)
        plan = RequestPlan(
            self.config.request_count, round_key, number % self.write_slices, self.write_slices
        )
        requests = self.workload.requests(plan)
        path = directory / f"requests-{number}.lua"
        write_lua_table(requests, path, self.tokens)
        return requests, path


def _measure(
    report: BenchReport,
    lists: _RequestLists,
    directory: Path,
    variant: Variant,
    round_number: int,
    during: During | None = None,
) -> tuple[WrkResult, dict[str, Any]]:
    """One server run: fresh database copy, server, probe (first time), warm-up, measurement."""
    config = report.config
    warm_requests, warm_file = lists.write(f"warm-up:{round_number}", directory)
    _, run_file = lists.write(str(round_number), directory)
    database_url = report.database.run_copy()
    if variant.prepare is not None:
        if not report.database.copied_per_run:
            # It would change the given database for the variants after it too.
            raise HarnessError(f"variant {variant.name} changes the database: give none")
        variant.prepare(database_url)
    with running_server(variant, database_url, lists.tokens.secret, report.server_log) as server:
        if variant.name not in report.probes:
            report.probes[variant.name] = probe(server.url, warm_requests, lists.tokens)
        if config.warmup_s:
            _wrk(config, server.url, warm_file, config.warmup_s)
        observer = (
            during(server, variant, round_number, lists.tokens) if during else nullcontext({})
        )
        with observer as observed:
            cpu_before = server_cpu_seconds(server.pid)
            result = _wrk(config, server.url, run_file, config.duration_s)
            cpu_used = server_cpu_seconds(server.pid) - cpu_before
        return replace(result, server_cpu_s=cpu_used), observed


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of the server process and its live workers."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _median_cpu_per_request(runs: Sequence[Any]) -> float | None:
    per_request = [
        run.result.server_cpu_s / run.result.requests * 1e6
        for run in runs
        if run.result.server_cpu_s is not None and run.result.requests
    ]
    return statistics.median(per_request) if per_request else None


def _wrk(config: BenchConfig, base_url: str, request_file: Path, duration_s: int) -> WrkResult:
    return run_wrk(
        base_url,
        request_file,
        threads=config.threads,
        connections=config.connections,
        duration_s=duration_s,
        timeout_s=config.timeout_s,
        accept_encoding=config.accept_encoding,
    )


def probe(
    base_url: str,
    requests: Sequence[Request],
    token_for: Callable[[int], str],
    *,
    per_kind: int = 2,
) -> dict[str, dict[int, int]]:
    """Send the first few requests of every kind once and count the statuses per kind.

    wrk cannot tell which request a response belongs to; this says which endpoints answer
    non-2xx (for instance one that does not exist yet).
    """
    seen: dict[str, Counter[int]] = {}
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for request in requests:
            counts = seen.setdefault(request.kind, Counter())
            if counts.total() >= per_kind:
                continue
            headers = {}
            if request.guest_id is not None:
                headers["Authorization"] = f"Bearer {token_for(request.guest_id)}"
            if request.body:
                headers["Content-Type"] = "application/json"
            response = client.request(
                request.method, request.path, headers=headers, content=request.body
            )
            counts[response.status_code] += 1
    return {kind: dict(sorted(counts.items())) for kind, counts in seen.items()}
