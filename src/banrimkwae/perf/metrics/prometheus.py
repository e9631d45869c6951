"""/metrics: the platform's measurements in the Prometheus text format, OpenTelemetry names.

Nothing here runs per request. The request aggregator keeps cumulative per-endpoint bucket
counts (a bisect and two additions: under a microsecond per request on the development
machines, against 3-5 us for a prometheus_client Histogram.observe and 6-9 us in its
multiprocess mode), and the query tracker keeps the same per statement operation; this
module turns them into metric families when Prometheus scrapes.

Several workers (`serve --workers N`): when PROMETHEUS_MULTIPROC_DIR names a directory, each
worker writes a snapshot of all its values there (a JSON file per process) every second and
right before it answers a scrape, and any worker's /metrics merges every file. Counters and
histograms are summed over every worker that ever wrote one, so totals never go back when a
worker restarts; gauges only over workers whose snapshot is fresh. A worker's values reach a
scrape only through its own file, which only grows, so the merged counters are monotonic
whichever worker answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.access import Authorizer
from banrimkwae.perf.db.pools import pool_stats
from banrimkwae.perf.metrics.aggregator import DURATION_BOUNDS_MS, RequestAggregator
from banrimkwae.perf.problems import problem_responses
from banrimkwae.perf.queries.aggregate import DB_DURATION_BOUNDS_MS, OperationDurations

logger = logging.getLogger(__name__)

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUBLISH_INTERVAL = 1.0
# A worker whose snapshot is older than this has stopped: its gauges no longer count.
_STALE_AFTER = 5.0
_SNAPSHOT_PREFIX = "banrimkwae-"

LabelValues = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Family:
    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    bounds_ms: tuple[float, ...] = ()


HTTP_DURATION = _Family(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests.",
    ("http_route", "http_request_method", "http_response_status_code"),
    DURATION_BOUNDS_MS,
)
DB_DURATION = _Family(
    "db_client_operation_duration_seconds",
    "Duration of database client operations.",
    ("db_operation_name",),
    DB_DURATION_BOUNDS_MS,
)
CACHE_REQUESTS = _Family(
    "banrimkwae_cache_requests",
    "Response cache lookups by layer and result (hit or miss).",
    ("layer", "result"),
)
DROPPED = _Family(
    "banrimkwae_metrics_dropped",
    "Raw request samples dropped because the buffer was full.",
)
FLUSH_FAILURES = _Family(
    "banrimkwae_metrics_flush_failures",
    "Flushes of request or query rollups that failed (their data waits for the next one).",
    ("rollup",),
)
ACTIVE_REQUESTS = _Family("http_server_active_requests", "Number of active HTTP server requests.")
# Pool gauges under OpenTelemetry's db.client.connections.* names: the newer
# db.client.connection.count would end in "_count", which Prometheus reserves for histograms.
POOL_CONNECTIONS = _Family(
    "db_client_connections_usage",
    "Connections currently open in the pool, by state (used or idle).",
    ("pool_name", "state"),
)
POOL_MAX = _Family(
    "db_client_connections_max",
    "The most connections the pool may open (its size plus the overflow allowed).",
    ("pool_name",),
)
POOL_IDLE_MAX = _Family(
    "db_client_connections_idle_max",
    "The most idle connections the pool keeps (its size).",
    ("pool_name",),
)
POOL_OVERFLOW = _Family(
    "db_client_connections_overflow",
    "Connections open beyond the pool size.",
    ("pool_name",),
)
POOL_WAITS = _Family(
    "db_client_connections_waits",
    "Checkouts that found the pool exhausted and had to wait for a connection.",
    ("pool_name",),
)
POOL_WAIT_TIME = _Family(
    "db_client_connections_wait_time_seconds",
    "Total time spent waiting for a connection from an exhausted pool.",
    ("pool_name",),
)
POOL_TIMEOUTS = _Family(
    "db_client_connections_timeouts",
    "Checkouts that gave up waiting for a connection (pool timeout).",
    ("pool_name",),
)
DB_ROUTED = _Family(
    "banrimkwae_db_routed_statements",
    "Statements routed by the replica router, by target (primary or a replica) and reason.",
    ("target", "reason"),
)
REPLICA_IN_ROTATION = _Family(
    "banrimkwae_db_replica_in_rotation",
    "1 when the replica receives reads (healthy, not ejected, not lagging), else 0.",
    ("replica",),
)
REPLICA_LAG = _Family(
    "banrimkwae_db_replica_lag_seconds",
    "Replication lag of the replica at its last check.",
    ("replica",),
)
_HISTOGRAMS = (HTTP_DURATION, DB_DURATION)
_COUNTERS = (
    CACHE_REQUESTS,
    DROPPED,
    FLUSH_FAILURES,
    POOL_WAITS,
    POOL_WAIT_TIME,
    POOL_TIMEOUTS,
    DB_ROUTED,
)
_GAUGES = (
    ACTIVE_REQUESTS,
    POOL_CONNECTIONS,
    POOL_MAX,
    POOL_IDLE_MAX,
    POOL_OVERFLOW,
    REPLICA_IN_ROTATION,
    REPLICA_LAG,
)


@dataclass(slots=True)
class Snapshot:
    """Every value /metrics shows, for one worker or merged over several.

    Histograms hold per label set the non-cumulative bucket counts and then the sum in
    seconds; counters and gauges one number per label set.
    """

    written: float = 0.0
    histograms: dict[str, dict[LabelValues, list[float]]] = field(default_factory=dict)
    counters: dict[str, dict[LabelValues, float]] = field(default_factory=dict)
    gauges: dict[str, dict[LabelValues, float]] = field(default_factory=dict)

    def add(self, other: Snapshot, *, with_gauges: bool) -> None:
        for name, series in other.histograms.items():
            mine = self.histograms.setdefault(name, {})
            for labels, values in series.items():
                current = mine.get(labels)
                if current is None:
                    mine[labels] = list(values)
                else:
                    for index, value in enumerate(values):
                        current[index] += value
        _add_values(self.counters, other.counters)
        if with_gauges:
            _add_values(self.gauges, other.gauges)

    def to_json(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "histograms": _series_to_json(self.histograms),
            "counters": _series_to_json(self.counters),
            "gauges": _series_to_json(self.gauges),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls(
            written=float(data["written"]),
            histograms={
                name: {tuple(labels): [float(v) for v in values] for labels, values in series}
                for name, series in data["histograms"].items()
            },
            counters=_series_from_json(data["counters"]),
            gauges=_series_from_json(data["gauges"]),
        )


def _add_values(
    into: dict[str, dict[LabelValues, float]], other: Mapping[str, Mapping[LabelValues, float]]
) -> None:
    for name, series in other.items():
        mine = into.setdefault(name, {})
        for labels, value in series.items():
            mine[labels] = mine.get(labels, 0.0) + value


def _series_to_json(families: Mapping[str, Mapping[LabelValues, Any]]) -> dict[str, Any]:
    # Label tuples become lists: JSON objects only have string keys.
    return {
        name: [[list(labels), value] for labels, value in series.items()]
        for name, series in families.items()
    }


def _series_from_json(data: Mapping[str, Any]) -> dict[str, dict[LabelValues, float]]:
    return {
        name: {tuple(labels): float(value) for labels, value in series}
        for name, series in data.items()
    }


class PrometheusExporter:
    """Renders this worker's (or all workers') measurements for a Prometheus scrape.

    Sources the other parts of the platform plug in: `db_operations`, the query tracker's
    cumulative statement durations per operation; `cache_requests` returns cumulative
    (layer, result) -> count, `flush_failures` the failures per rollup ("requests",
    "queries"). Pools are read from the engines at scrape time.
    """

    def __init__(
        self,
        requests: RequestAggregator,
        *,
        pools: Mapping[str, AsyncEngine] | None = None,
        exchange_dir: str | os.PathLike[str] | None = None,
        publish_interval: float = PUBLISH_INTERVAL,
        db_operations: OperationDurations | None = None,
        flush_failures: Callable[[], Mapping[str, int]] = dict,
        cache_requests: Callable[[], Mapping[tuple[str, str], int]] = dict,
        replicas: Callable[[], Mapping[str, Mapping[LabelValues, float]]] = dict,
    ) -> None:
        self.requests = requests
        self.pools = dict(pools or {})
        self.db_operations = OperationDurations() if db_operations is None else db_operations
        self.flush_failures = flush_failures
        self.cache_requests = cache_requests
        # Replica router: {"routed": {(target, reason): n}, "healthy": ..., "lag": ...}.
        self.replicas = replicas
        self.exchange_dir = Path(exchange_dir) if exchange_dir else None
        self.publish_interval = publish_interval

    @property
    def _own_file(self) -> Path | None:
        # Asked each time: a server that forks its workers after building the app changes pid.
        if self.exchange_dir is None:
            return None
        return self.exchange_dir / f"{_SNAPSHOT_PREFIX}{os.getpid()}.json"

    def snapshot(self, now: float | None = None) -> Snapshot:
        """This worker's values now."""
        snapshot = Snapshot(written=time.time() if now is None else now)
        snapshot.histograms[HTTP_DURATION.name] = {
            (route, method, f"{status_class}xx"): [*totals.buckets, totals.sum_ms / 1000.0]
            for (route, method, status_class), totals in self.requests.totals.items()
        }
        snapshot.histograms[DB_DURATION.name] = {
            (operation,): [*totals[:-1], totals[-1] / 1000.0]
            for operation, totals in self.db_operations.totals.items()
        }
        snapshot.counters[CACHE_REQUESTS.name] = {
            (layer, result): float(count)
            for (layer, result), count in self.cache_requests().items()
        }
        snapshot.counters[DROPPED.name] = {(): float(self.requests.dropped_samples)}
        snapshot.counters[FLUSH_FAILURES.name] = {
            (rollup,): float(count) for rollup, count in self.flush_failures().items()
        }
        snapshot.gauges[ACTIVE_REQUESTS.name] = {(): float(self.requests.active_requests)}
        for name, engine in self.pools.items():
            _read_pool(snapshot, name, engine)
        replicas = self.replicas()
        snapshot.counters[DB_ROUTED.name] = dict(replicas.get("routed", {}))
        snapshot.gauges[REPLICA_IN_ROTATION.name] = dict(replicas.get("healthy", {}))
        snapshot.gauges[REPLICA_LAG.name] = dict(replicas.get("lag", {}))
        return snapshot

    def merged(self) -> Snapshot:
        """What a scrape shows: this worker alone, or every worker of the directory."""
        if self.exchange_dir is None:
            return self.snapshot()
        self.publish()
        now = time.time()
        total = Snapshot(written=now)
        for snapshot in self._read_all():
            total.add(snapshot, with_gauges=now - snapshot.written <= _STALE_AFTER)
        return total

    def render(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_SnapshotCollector(self.merged()))
        return generate_latest(registry)

    def publish(self) -> None:
        """Write this worker's snapshot for the other workers (atomically: write, rename)."""
        own_file = self._own_file
        if own_file is None:
            return
        data = json.dumps(self.snapshot().to_json(), separators=(",", ":"))
        partial = own_file.with_suffix(".tmp")
        partial.write_text(data)
        partial.replace(own_file)

    def _read_all(self) -> Iterator[Snapshot]:
        assert self.exchange_dir is not None
        for path in self.exchange_dir.glob(f"{_SNAPSHOT_PREFIX}*.json"):
            try:
                yield Snapshot.from_json(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                # A file that vanished or is not ours: it has nothing to add.
                logger.warning("skipping unreadable metrics snapshot %s", path)

    @contextlib.asynccontextmanager
    async def publishing(self) -> AsyncIterator[None]:
        """While the app runs with several workers, publish this worker's snapshot."""
        if self.exchange_dir is None:
            yield
            return
        task = asyncio.create_task(self._publish_loop(), name="prometheus-snapshot")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # The last values stay: counters of a stopped worker still count in the totals.
            self._publish_quietly()

    async def _publish_loop(self) -> None:
        while True:
            self._publish_quietly()
            await asyncio.sleep(self.publish_interval)

    def _publish_quietly(self) -> None:
        try:
            self.publish()
        except OSError:
            logger.warning("could not write the metrics snapshot", exc_info=True)


def _read_pool(snapshot: Snapshot, name: str, engine: AsyncEngine) -> None:
    pool: Any = engine.pool
    # Only queue pools have sizes; a NullPool or StaticPool has nothing to report.
    if not all(hasattr(pool, attr) for attr in ("size", "checkedout", "checkedin", "overflow")):
        return
    size = pool.size()
    connections = snapshot.gauges.setdefault(POOL_CONNECTIONS.name, {})
    connections[(name, "used")] = float(pool.checkedout())
    connections[(name, "idle")] = float(pool.checkedin())
    # overflow() counts from -size: the connections opened beyond the pool size, if any.
    snapshot.gauges.setdefault(POOL_OVERFLOW.name, {})[(name,)] = float(max(pool.overflow(), 0))
    snapshot.gauges.setdefault(POOL_IDLE_MAX.name, {})[(name,)] = float(size)
    stats = pool_stats(pool)
    if stats is not None:
        snapshot.counters.setdefault(POOL_WAITS.name, {})[(name,)] = float(stats.waits)
        snapshot.counters.setdefault(POOL_WAIT_TIME.name, {})[(name,)] = stats.wait_seconds
        snapshot.counters.setdefault(POOL_TIMEOUTS.name, {})[(name,)] = float(stats.timeouts)
    max_overflow = getattr(pool, "_max_overflow", None)
    if isinstance(max_overflow, int) and max_overflow >= 0:
        snapshot.gauges.setdefault(POOL_MAX.name, {})[(name,)] = float(size + max_overflow)


class _SnapshotCollector(Collector):
    """Metric families of one (merged) snapshot, in a fixed order."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        for family in _HISTOGRAMS:
            yield _histogram(family, self.snapshot.histograms.get(family.name, {}))
        for family in _COUNTERS:
            counter = CounterMetricFamily(family.name, family.documentation, labels=family.labels)
            for labels, value in sorted(self.snapshot.counters.get(family.name, {}).items()):
                counter.add_metric(labels, value)
            yield counter
        for family in _GAUGES:
            gauge = GaugeMetricFamily(family.name, family.documentation, labels=family.labels)
            for labels, value in sorted(self.snapshot.gauges.get(family.name, {}).items()):
                gauge.add_metric(labels, value)
            yield gauge


def _histogram(family: _Family, series: Mapping[LabelValues, list[float]]) -> Metric:
    histogram = HistogramMetricFamily(family.name, family.documentation, labels=family.labels)
    # repr: the shortest text that reads back as the same float ("0.005", "10.0").
    bounds = [repr(bound / 1000.0) for bound in family.bounds_ms] + ["+Inf"]
    for labels, values in sorted(series.items()):
        counts, total_seconds = values[:-1], values[-1]
        cumulative = 0.0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip(bounds, counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        histogram.add_metric(list(labels), buckets, total_seconds)
    return histogram


def multiprocess_dir() -> str | None:
    """The directory the workers of one server share, when it runs several."""
    return os.environ.get(MULTIPROCESS_DIR_ENV) or None


def metrics_router(
    exporter: PrometheusExporter, authorize: Authorizer, *, public: bool
) -> APIRouter:
    """GET /metrics; its lifespan publishes this worker's snapshot when there are several."""
    router = APIRouter(lifespan=lambda _app: exporter.publishing())

    @router.get(
        "/metrics",
        tags=["monitoring"],
        response_class=Response,
        responses={
            200: {
                "description": "The Prometheus text exposition format, version 0.0.4.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **problem_responses(401, 403),
        },
    )
    async def metrics(request: Request) -> Response:
        """Request, database, cache and pool metrics, totals of every worker."""
        if not public:
            await authorize(request, "viewer")
        return Response(exporter.render(), media_type=CONTENT_TYPE)

    return router
