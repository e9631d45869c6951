"""Engines, pools and (later) replica routing and sharding."""

from banrimkwae.perf.db.engines import Database, create_engine_for_url

__all__ = ["Database", "create_engine_for_url"]
