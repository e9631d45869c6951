"""The platform's own configuration: plain values, so perf/ needs nothing from the app."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class MonitoringConfig:
    flush_interval: float = 10.0
    buffer_size: int = 10_000
    sample_rate: float = 0.01
    slow_request_ms: float = 500.0
    slow_query_ms: float = 100.0
    n_plus_one_threshold: int = 10
    n_plus_one_strict: bool = False
    resource_sample_interval: float = 5.0
    raw_retention_days: int = 7
    rollup_retention_days: int = 90
    # /metrics without a key (the admin issue adds keys; until then it is open).
    metrics_public: bool = True
    # Response compression (perf.responses.compression): off leaves bodies as the app sent them.
    compression_enabled: bool = True
    compression_min_size: int = 256
    # Verified changes (perf.recommend.verification): window, tolerance, verifier interval.
    recommendation_verify_seconds: float = 900.0
    recommendation_tolerance: float = 0.1
    recommendation_verify_interval: float = 60.0
    worker: str = field(default_factory=_worker_name)


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """The response cache (perf.cache): L1 only unless a Redis URL is given."""

    enabled: bool = True
    redis_url: str | None = None
    l1_max_bytes: int = 64 * 1024 * 1024
    # Without Redis: a file every worker of the machine maps to share tag versions.
    tag_file: str | None = None
    # Keys in Redis live under bk:c:<namespace>: (several installations on one Redis).
    namespace: str = ""
    max_body: int = 1024 * 1024
    policy_check_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Alert evaluation (perf.alerts): how often, and the webhooks notified."""

    evaluation_interval: float = 30.0
    webhooks: tuple[str, ...] = ()
    webhook_attempts: int = 4
    webhook_backoff: float = 1.0
    webhook_timeout: float = 5.0
