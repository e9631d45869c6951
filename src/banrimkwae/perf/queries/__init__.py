"""Query tracking: fingerprints, per-endpoint aggregates, slow-query plans, N+1 detection."""

from banrimkwae.perf.queries.aggregate import OperationDurations, QueryAggregate, QueryWindow
from banrimkwae.perf.queries.capture import PlanCapture, SlowStatement
from banrimkwae.perf.queries.fingerprint import Fingerprint, Fingerprinter, normalise
from banrimkwae.perf.queries.nplusone import NPlusOneError, NPlusOneFlags
from banrimkwae.perf.queries.plans import index_usage
from banrimkwae.perf.queries.tracker import QueryTracker, RequestQueries

__all__ = [
    "Fingerprint",
    "Fingerprinter",
    "NPlusOneError",
    "NPlusOneFlags",
    "OperationDurations",
    "PlanCapture",
    "QueryAggregate",
    "QueryTracker",
    "QueryWindow",
    "RequestQueries",
    "SlowStatement",
    "index_usage",
    "normalise",
]
