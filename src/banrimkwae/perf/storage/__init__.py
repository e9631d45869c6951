"""SQLAlchemy models of the platform's own tables."""

from banrimkwae.perf.storage.alert_models import AlertEvent, AlertRule, AlertState
from banrimkwae.perf.storage.models import (
    ApiCacheConfig,
    ApiKey,
    ApiMetricRollup,
    ApiPerformanceMetric,
    AuditLog,
    AutoScalingConfig,
    CacheStatistic,
    ConfigVersion,
    DatabaseQueryPerformance,
    JobRun,
    PerformanceRecommendation,
    PlatformBase,
    ProcessSample,
    QueryFingerprintRollup,
    ScalingEvent,
)
from banrimkwae.perf.storage.run_claims import claim_run
from banrimkwae.perf.storage.sharding import ShardDirectoryEntry, ShardSequence

PARTITIONED_TABLES = {
    "api_performance_metrics": "timestamp",
    "database_query_performance": "executed_at",
}

__all__ = [
    "PARTITIONED_TABLES",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "ApiCacheConfig",
    "ApiKey",
    "ApiMetricRollup",
    "ApiPerformanceMetric",
    "AuditLog",
    "AutoScalingConfig",
    "CacheStatistic",
    "ConfigVersion",
    "DatabaseQueryPerformance",
    "JobRun",
    "PerformanceRecommendation",
    "PlatformBase",
    "ProcessSample",
    "QueryFingerprintRollup",
    "ScalingEvent",
    "ShardDirectoryEntry",
    "ShardSequence",
    "claim_run",
]
