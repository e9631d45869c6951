"""The fast workload: one cheap read, over and over, to measure per-request overhead."""

from __future__ import annotations

from bench.workloads.base import API, RequestPlan, Share
from bench.workloads.catalog import Catalog
from bench.workloads.requests import Request


class Fast:
    name = "fast"
    shares: tuple[Share, ...] = (Share("property", 100.0, "GET /properties/{first id}"),)

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.property_id = min(catalog.property_ids, default=1)
        self.notes: tuple[str, ...] = (
            () if catalog.property_ids else ("no properties in the database: expect 404s",)
        )

    def requests(self, plan: RequestPlan) -> list[Request]:
        return [Request("property", "GET", f"{API}/properties/{self.property_id}")]
