"""Performance recommendations: their status workflow and admin API."""

from banrimkwae.perf.recommend.router import recommendations_router
from banrimkwae.perf.recommend.workflow import OPEN_STATUSES, TRANSITIONS, allowed

__all__ = ["OPEN_STATUSES", "TRANSITIONS", "allowed", "recommendations_router"]
