"""The platform's admin API: the performance report for now."""

from banrimkwae.perf.admin.report import PERIODS, Period, Window, build_report
from banrimkwae.perf.admin.router import performance_router

__all__ = ["PERIODS", "Period", "Window", "build_report", "performance_router"]
