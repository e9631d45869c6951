"""Performance recommendations: their status workflow, admin API, and verified apply."""

from banrimkwae.perf.recommend.apply import ApplyOptions, apply_recommendation
from banrimkwae.perf.recommend.engine import ENGINE_RULES, RunResult, run_rules
from banrimkwae.perf.recommend.router import recommendations_router
from banrimkwae.perf.recommend.timer import RecommendationTimer
from banrimkwae.perf.recommend.verification import (
    RecommendationVerifier,
    VerifyResult,
    verify_due,
)
from banrimkwae.perf.recommend.workflow import OPEN_STATUSES, TRANSITIONS, allowed

__all__ = [
    "ENGINE_RULES",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "ApplyOptions",
    "RecommendationTimer",
    "RecommendationVerifier",
    "RunResult",
    "VerifyResult",
    "allowed",
    "apply_recommendation",
    "recommendations_router",
    "run_rules",
    "verify_due",
]
