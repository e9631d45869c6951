"""The performance dashboard at /admin/performance: a static page over the admin API."""

from banrimkwae.perf.dashboard.router import DASHBOARD_PATH, dashboard_router

__all__ = ["DASHBOARD_PATH", "dashboard_router"]
