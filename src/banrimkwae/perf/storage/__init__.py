"""SQLAlchemy models of the platform's own tables."""

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
    PerformanceRecommendation,
    PlatformBase,
    ProcessSample,
    QueryFingerprintRollup,
    ScalingEvent,
)

PARTITIONED_TABLES = {
    "api_performance_metrics": "timestamp",
    "database_query_performance": "executed_at",
}

__all__ = [
    "PARTITIONED_TABLES",
    "ApiCacheConfig",
    "ApiKey",
    "ApiMetricRollup",
    "ApiPerformanceMetric",
    "AuditLog",
    "AutoScalingConfig",
    "CacheStatistic",
    "ConfigVersion",
    "DatabaseQueryPerformance",
    "PerformanceRecommendation",
    "PlatformBase",
    "ProcessSample",
    "QueryFingerprintRollup",
    "ScalingEvent",
]
