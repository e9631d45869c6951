"""The platform's admin API: the performance report, the audit log, API keys and access."""

from banrimkwae.perf.admin.audit import record_change, request_actor
from banrimkwae.perf.admin.audit_router import audit_router
from banrimkwae.perf.admin.auth import ApiKeyAuthorizer, Principal, TokenCheck, client_address
from banrimkwae.perf.admin.ratelimit import FailureLimiter
from banrimkwae.perf.admin.redaction import SENSITIVE_FIELDS, for_caller, redact
from banrimkwae.perf.admin.report import PERIODS, Period, Window, build_report
from banrimkwae.perf.admin.router import performance_router

__all__ = [
    "PERIODS",
    "SENSITIVE_FIELDS",
    "ApiKeyAuthorizer",
    "FailureLimiter",
    "Period",
    "Principal",
    "TokenCheck",
    "Window",
    "audit_router",
    "build_report",
    "client_address",
    "for_caller",
    "performance_router",
    "record_change",
    "redact",
    "request_actor",
]
