"""Apply a recommendation: carry out its change, remember how to undo it, verify it later.

What the platform can carry out, by action (the default follows the recommendation's type):
- `index` (type index): build the proposed index (CONCURRENTLY on PostgreSQL); judged by
  its statements' average time; undone by dropping it.
- `cache_ttl` (type cache): raise the endpoint's policy TTL (the given value, else the one
  the recommendation proposes, else twice the current); `cache_warming`: enable warming.
  Judged by the endpoint's cache hit rate.
- `scaling` (type scaling): change the service's scaling configuration as given. Judged by
  the p95 of all requests.
Configuration changes go through the versioned path (perf.admin.versioned): a new version
and an audit row; the change records the version before and the version it made, so a
rollback restores the former only while the latter is still current. Query rewrites and
other configuration are not the platform's to carry out: a 409 problem says so.

The recommendation becomes implementing with `applied_change`, `applied_at`,
`verify_after` (now + the window) and `before_value` (the metric over the window before),
in one transaction with its audit row (and the configuration change, if any).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from banrimkwae.perf.admin.audit import record_change
from banrimkwae.perf.admin.cache_admin import CACHE_POLICIES
from banrimkwae.perf.admin.config_router import not_found
from banrimkwae.perf.admin.scaling_admin import SCALING_CONFIGS
from banrimkwae.perf.admin.versioned import (
    Actor,
    VersionedResource,
    change_item,
    commit,
    read_row,
)
from banrimkwae.perf.cache.policies import compile_rows
from banrimkwae.perf.db.advice import create_statement, index_name
from banrimkwae.perf.db.candidates import Candidate
from banrimkwae.perf.db.indexes import existing_indexes
from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.recommend.measures import TargetMetric, measure
from banrimkwae.perf.storage import PerformanceRecommendation

Action = Literal["index", "cache_ttl", "cache_warming", "scaling"]
DEFAULT_ACTION: dict[str, Action] = {"index": "index", "cache": "cache_ttl", "scaling": "scaling"}
# A change the rules propose in the impact analysis ({"kind", "id", "set"}), by its kind.
PROPOSED_ACTION: dict[str, Action] = {"cache_policy": "cache_ttl", "scaling_config": "scaling"}
MAX_TTL = 30 * 86400
_MAX_VALUE = Decimal("999999999999.999")
Announce = Callable[[str], Awaitable[None]]


class ApplyOptions(BaseModel):
    """How to apply; every field optional (the recommendation says the rest)."""

    model_config = ConfigDict(extra="forbid")

    action: Action | None = Field(
        default=None, description="Default: index, cache_ttl or scaling, by the type."
    )
    policy_id: int | None = Field(
        default=None, ge=1, description="The cache policy (default: the endpoint's policy)."
    )
    cache_ttl_seconds: int | None = Field(default=None, ge=1, le=MAX_TTL)
    scaling_config_id: int | None = Field(
        default=None, ge=1, description="Default: the configuration of the target service."
    )
    scaling_changes: dict[str, Any] | None = Field(
        default=None, description="Fields of the scaling configuration to change."
    )


def _table() -> Table:
    return cast(Table, PerformanceRecommendation.__table__)


def decimal(value: float | None) -> Decimal | None:
    return None if value is None else min(Decimal(f"{value:.3f}"), _MAX_VALUE)


async def read_recommendation(
    db: AsyncSession, recommendation_id: int, *, lock: bool = False
) -> dict[str, Any]:
    query = select(_table()).where(_table().c.id == recommendation_id)
    if lock:
        query = query.with_for_update()
    found = (await db.execute(query)).mappings().first()
    if found is None:
        raise not_found(f"recommendation {recommendation_id}")
    return dict(found)


def _refuse(detail: str, **extensions: Any) -> ProblemError:
    return ProblemError(409, detail, title="Cannot apply", **extensions)


def _check_open(row: Mapping[str, Any]) -> None:
    if row["applied_change"] is not None:
        raise _refuse(f"recommendation {row['id']} was applied already")
    if row["status"] != "pending":
        raise _refuse(f"a {row['status']} recommendation cannot be applied; only a pending one")


def _action(row: Mapping[str, Any], options: ApplyOptions) -> Action:
    kind = str(row["recommendation_type"])
    by_proposal = PROPOSED_ACTION.get(str(_proposed(row).get("kind")))
    action = options.action or (by_proposal if "set" in _proposed(row) else None)
    action = action or DEFAULT_ACTION.get(kind)
    if action is None:
        raise _refuse(
            f"the platform cannot carry out a {kind} recommendation (a query rewrite or a "
            "configuration outside its tables): do it by hand, then move its status",
            recommendation_type=kind,
        )
    fits = {"index": "index", "cache_ttl": "cache", "cache_warming": "cache"}
    if fits.get(action, "scaling") != kind:
        raise _refuse(f"action {action} does not fit a {kind} recommendation")
    return action


def _index_target(row: Mapping[str, Any]) -> Candidate:
    impact = row["impact_analysis"] or {}
    table, columns = impact.get("table"), impact.get("columns")
    if not table or not columns:
        raise _refuse("the recommendation names no index (impact_analysis table and columns)")
    return Candidate(str(table), tuple(str(c) for c in columns), "recommended")


@dataclass(slots=True)
class _ConfigPlan:
    resource: VersionedResource
    item_id: int
    changes: dict[str, Any]


def _proposed(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The change the rules propose: {"kind", "id", "set"} in the impact analysis, or {}."""
    change = (row["impact_analysis"] or {}).get("change")
    return change if isinstance(change, Mapping) else {}


async def _policy(db: AsyncSession, row: Mapping[str, Any], options: ApplyOptions) -> int:
    impact = row["impact_analysis"] or {}
    for given in (options.policy_id, _proposed(row).get("id"), impact.get("policy_id")):
        if given is not None:
            return int(given)
    target = str(row["target_resource"])
    endpoint = target.split(" ", 1)[1] if " " in target else target.split(":", 1)[-1]
    rows = [dict(r) for r in (await db.execute(select(CACHE_POLICIES.table))).mappings()]
    policies = compile_rows(rows)
    found = policies.by_name(endpoint) or policies.match(endpoint)
    if found is None or found.id is None:
        raise _refuse(f"no active cache policy covers {endpoint}; give policy_id")
    return found.id


async def _scaling_id(db: AsyncSession, row: Mapping[str, Any], options: ApplyOptions) -> int:
    for given in (options.scaling_config_id, _proposed(row).get("id")):
        if given is not None:
            return int(given)
    service = str(row["target_resource"]).removeprefix("scaling:")
    table = SCALING_CONFIGS.table
    found = await db.scalar(select(table.c.id).where(table.c.service_name == service))
    if found is None:
        raise _refuse(f"no scaling configuration for {service!r}; give scaling_config_id")
    return int(found)


async def _config_plan(
    db: AsyncSession, row: Mapping[str, Any], action: Action, options: ApplyOptions
) -> _ConfigPlan:
    """The configuration to change and how."""
    proposed = _proposed(row).get("set")
    if action == "scaling":
        changes = options.scaling_changes or proposed
        if not changes:
            raise _refuse("give scaling_changes: the recommendation proposes none")
        return _ConfigPlan(SCALING_CONFIGS, await _scaling_id(db, row, options), dict(changes))
    policy_id = await _policy(db, row, options)
    if action == "cache_warming":
        return _ConfigPlan(CACHE_POLICIES, policy_id, {"cache_warming_enabled": True})
    if action == "cache_ttl" and options.cache_ttl_seconds is not None:
        return _ConfigPlan(
            CACHE_POLICIES, policy_id, {"cache_ttl_seconds": options.cache_ttl_seconds}
        )
    if proposed:
        return _ConfigPlan(CACHE_POLICIES, policy_id, dict(proposed))
    ttl = (await read_row(db, CACHE_POLICIES, policy_id))["cache_ttl_seconds"]
    return _ConfigPlan(CACHE_POLICIES, policy_id, {"cache_ttl_seconds": min(int(ttl) * 2, MAX_TTL)})


async def _metric(
    db: AsyncSession, row: Mapping[str, Any], plan: _ConfigPlan | None
) -> TargetMetric:
    if plan is None:
        fingerprints = (row["impact_analysis"] or {}).get("fingerprints") or []
        return TargetMetric("query_avg_ms", fingerprints=tuple(fingerprints))
    if plan.resource is SCALING_CONFIGS:
        return TargetMetric("p95_ms")
    policy = await read_row(db, CACHE_POLICIES, plan.item_id)
    return TargetMetric("cache_hit_rate", pattern=str(policy["endpoint_pattern"]))


async def build_index(engine: AsyncEngine, candidate: Candidate) -> str:
    """Build the index (outside a transaction: CONCURRENTLY refuses one); its statement."""
    statement = create_statement(candidate, engine.dialect.name)
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql(statement)
    return statement


async def apply_recommendation(
    engine: AsyncEngine,
    recommendation_id: int,
    options: ApplyOptions,
    actor: Actor,
    *,
    verify_seconds: float,
    now: float | None = None,
    announce: Announce | None = None,
) -> dict[str, Any]:
    """Carry out the recommendation's change; the recommendation's row afterwards."""
    now = time.time() if now is None else now
    async with AsyncSession(engine) as db:
        row = await read_recommendation(db, recommendation_id)
        _check_open(row)
        action = _action(row, options)
        plan = None if action == "index" else await _config_plan(db, row, action, options)
        metric = await _metric(db, row, plan)
        before_value = await measure(db, metric, now - verify_seconds, now)
    done: dict[str, Any] = {"action": action}
    if plan is None:
        candidate = _index_target(row)
        name = index_name(candidate)
        async with engine.connect() as connection:
            present = {index.name for index in await existing_indexes(connection)}
        if name in present:
            raise _refuse(f"index {name} exists already: nothing to apply", index=name)
        done |= {"index_name": name, "table": candidate.table, "columns": list(candidate.columns)}
        done["statement"] = await build_index(engine, candidate)
    done["metric"] = metric.to_json()
    applied_at = dt.datetime.fromtimestamp(now, dt.UTC)
    values = {
        "status": "implementing",
        "applied_change": done,
        "applied_at": applied_at,
        "verify_after": applied_at + dt.timedelta(seconds=verify_seconds),
        "before_value": decimal(before_value),
    }
    try:
        result = await _record_applied(engine, recommendation_id, plan, actor, values)
    except BaseException:
        if plan is None:  # not recorded: an index nobody knows to undo must not stay
            await drop_index(engine, done["table"], done["index_name"])
        raise
    if plan is not None and announce is not None:
        await announce(plan.resource.kind)
    return result


async def _record_applied(
    engine: AsyncEngine,
    recommendation_id: int,
    plan: _ConfigPlan | None,
    actor: Actor,
    values: dict[str, Any],
) -> dict[str, Any]:
    """In one transaction: the configuration change (if any), the record, the audit row."""
    async with AsyncSession(engine) as db:
        row = await read_recommendation(db, recommendation_id, lock=True)
        _check_open(row)
        if plan is not None:
            resource, item_id = plan.resource, plan.item_id
            applied = await change_item(db, resource, item_id, plan.changes, actor)
            if applied is None:
                raise _refuse(f"{resource.noun} {item_id} has these values already")
            # The version current before is the one a rollback restores (1 is the
            # baseline stored with the first change of a row that had no versions).
            values["applied_change"] = {
                **values["applied_change"],
                "kind": resource.kind,
                "target_id": item_id,
                "changes": plan.changes,
                "version_before": applied - 1,
                "version_applied": applied,
            }
        await db.execute(update(_table()).where(_table().c.id == recommendation_id).values(values))
        await record_change(
            db,
            actor=actor.name,
            action="recommendation.apply",
            target=f"recommendation:{recommendation_id}",
            before={"status": row["status"]},
            after=values,
            address=actor.address,
        )
        await commit(db, f"recommendation {recommendation_id}")
        return await read_recommendation(db, recommendation_id)


async def drop_index(engine: AsyncEngine, table: str, name: str) -> str:
    """Drop the index if it is there (CONCURRENTLY on PostgreSQL); the statement run."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        statement = f"DROP INDEX CONCURRENTLY IF EXISTS {name}"
    elif dialect in {"mysql", "mariadb"}:
        statement = f"DROP INDEX IF EXISTS {name} ON {table}"
    else:
        statement = f"DROP INDEX IF EXISTS {name}"
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql(statement)
    return statement
