"""Fixtures of the recommendations' tests: the admin API's keys and app (tests/perf/admin)."""

from tests.perf.admin.conftest import admin_app, role_keys
from tests.perf.recommend.rows import rules_app

__all__ = ["admin_app", "role_keys", "rules_app"]
