"""Workloads the harness can drive: each turns a database's catalog into request lists."""

from __future__ import annotations

from bench.workloads.base import API, RequestPlan, Share, Workload
from bench.workloads.catalog import Catalog, load_catalog
from bench.workloads.fast import Fast
from bench.workloads.read_mix import ResortReadMix
from bench.workloads.requests import Request, write_lua_table

WORKLOAD_NAMES = ("resort-read-mix", "fast")


async def load_workload(name: str, database_url: str, *, seed: int) -> Workload:
    """Read what exists in the database and build the named workload over it."""
    if name not in WORKLOAD_NAMES:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOAD_NAMES)}")
    catalog = await load_catalog(database_url)
    if name == "fast":
        return Fast(catalog)
    return ResortReadMix(catalog, seed)


__all__ = [
    "API",
    "WORKLOAD_NAMES",
    "Catalog",
    "Fast",
    "Request",
    "RequestPlan",
    "ResortReadMix",
    "Share",
    "Workload",
    "load_catalog",
    "load_workload",
    "write_lua_table",
]
