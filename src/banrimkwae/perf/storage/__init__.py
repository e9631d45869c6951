"""SQLAlchemy models of the platform's own tables."""

from banrimkwae.perf.storage.models import (
    ApiCacheConfig,
    ApiPerformanceMetric,
    AuditLog,
    AutoScalingConfig,
    CacheStatistic,
    DatabaseQueryPerformance,
    PerformanceRecommendation,
    PlatformBase,
    ScalingEvent,
)

PARTITIONED_TABLES = {
    "api_performance_metrics": "timestamp",
    "database_query_performance": "executed_at",
}

__all__ = [
    "PARTITIONED_TABLES",
    "ApiCacheConfig",
    "ApiPerformanceMetric",
    "AuditLog",
    "AutoScalingConfig",
    "CacheStatistic",
    "DatabaseQueryPerformance",
    "PerformanceRecommendation",
    "PlatformBase",
    "ScalingEvent",
]
