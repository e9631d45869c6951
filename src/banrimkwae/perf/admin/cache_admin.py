"""/api/admin/cache/policies: the response cache's policies (api_cache_config), versioned.

Viewers read; operators create, change, delete and restore. A policy is checked by the
compiler the workers use (perf.cache.policies.compile_policy), so a policy the cache would
leave out is a 422 problem here instead. Each change is committed with its version and audit
row, then announced through the response store: every worker reloads its policies.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table

from banrimkwae.perf.admin.versioned import VersionedResource
from banrimkwae.perf.admin.versioned_router import ResourceApi, versioned_router
from banrimkwae.perf.cache.policies import PolicyError, compile_policy
from banrimkwae.perf.cache.policy_loader import announce_change
from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.storage import ApiCacheConfig

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

log = logging.getLogger(__name__)
KIND = "cache_policy"


class CachePolicyFields(BaseModel):
    """A policy as written: every field, with the table's defaults."""

    model_config = ConfigDict(extra="forbid")

    endpoint_pattern: str = Field(
        min_length=1,
        max_length=255,
        description="Exact path, route template (/a/{id}) or glob (* in a segment, ** across).",
    )
    http_methods: list[str] = Field(default=["GET", "HEAD"], min_length=1)
    cache_ttl_seconds: int = Field(default=300, ge=1, le=30 * 86400)
    cache_strategy: Literal["simple", "tagged", "hierarchical"] = "simple"
    cache_key_pattern: str | None = Field(default=None, max_length=500)
    invalidation_triggers: list[str] | None = Field(
        default=None, description='Extra tags entries carry: "table:<name>" or any tag.'
    )
    cache_warming_enabled: bool = False
    compression_enabled: bool = True
    is_active: bool = True
    stale_while_revalidate_seconds: int = Field(default=0, ge=0, le=86400)
    stale_if_error_seconds: int = Field(default=0, ge=0, le=7 * 86400)
    cache_options: dict[str, Any] | None = Field(
        default=None, description="client_max_age, honour_client_no_cache, warm_requests."
    )


class CachePolicyChange(BaseModel):
    """A partial change: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    endpoint_pattern: str | None = Field(default=None, min_length=1, max_length=255)
    http_methods: list[str] | None = Field(default=None, min_length=1)
    cache_ttl_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)
    cache_strategy: Literal["simple", "tagged", "hierarchical"] | None = None
    cache_key_pattern: str | None = Field(default=None, max_length=500)
    invalidation_triggers: list[str] | None = None
    cache_warming_enabled: bool | None = None
    compression_enabled: bool | None = None
    is_active: bool | None = None
    stale_while_revalidate_seconds: int | None = Field(default=None, ge=0, le=86400)
    stale_if_error_seconds: int | None = Field(default=None, ge=0, le=7 * 86400)
    cache_options: dict[str, Any] | None = None


class CachePolicy(BaseModel):
    """A policy as stored (unconstrained: a row edited in SQL is still shown as it is)."""

    id: int
    endpoint_pattern: str
    http_methods: list[str]
    cache_ttl_seconds: int
    cache_strategy: str
    cache_key_pattern: str | None
    invalidation_triggers: Any
    cache_warming_enabled: bool
    compression_enabled: bool
    is_active: bool
    stale_while_revalidate_seconds: int
    stale_if_error_seconds: int
    cache_options: Any
    version: int = Field(description="The newest stored version; 0 before the first change.")
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


FIELDS = tuple(CachePolicyFields.model_fields)


def _checked(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body validated as the cache would compile it; a 422 problem otherwise."""
    try:
        compile_policy(body)
    except PolicyError as exc:
        raise ProblemError(422, str(exc), title="Invalid cache policy") from None
    return dict(body)


CACHE_POLICIES = VersionedResource(
    kind=KIND,
    noun="cache policy",
    table=cast(Table, ApiCacheConfig.__table__),
    fields=FIELDS,
    nullable=frozenset({"cache_key_pattern", "invalidation_triggers", "cache_options"}),
    check=_checked,
    unique_field="endpoint_pattern",
    unique_noun="policy",
    unique_label="pattern",
)


CACHE_POLICIES_API = ResourceApi(
    resource=CACHE_POLICIES,
    prefix="/api/admin/cache/policies",
    collection="",
    tag="cache",
    id_name="policy_id",
    singular="policy",
    plural="policies",
    fields_model=CachePolicyFields,
    change_model=CachePolicyChange,
    out_model=CachePolicy,
)


async def announce_policies(platform: Platform) -> None:
    """Tell every worker to reload its policies (after a committed change)."""
    if platform.cache is None:
        return
    try:
        await announce_change(platform.cache.store)
    except Exception:
        # Committed already: the reloaders' full check (every 30 s) still finds it.
        log.warning("cache policy change not announced", exc_info=True)


def cache_admin_router(platform: Platform) -> APIRouter:
    return versioned_router(
        platform, CACHE_POLICIES_API, after_change=lambda: announce_policies(platform)
    )
