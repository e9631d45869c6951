"""Index advice: candidates from the slow fingerprints, each measured before it is proposed.

For every slow fingerprint (most total time first) the advisor makes the statement runnable
(explain.representative) twice, with the values of the middle row and of the newest row of
its tables, measures it, reads its candidates (candidates.py), drops those an existing index
already leads with, and tries each one (trials.py) on both; the mean of the two is its
measure, so an index must serve the present as well as the history. Of the candidates the plan
actually reads through, an index already proposed for another statement that saves 90% of
what the best one saves, else the narrowest within 10% of the cheapest result, becomes a
proposal if it improves the statement by at least `min_improvement` (plan cost on PostgreSQL, else
measured time); several fingerprints proposing the same index make one proposal. Write cost
is weighed from the rollups: on a table that is written more than it is read, an index must
earn at least WRITE_HEAVY_IMPROVEMENT; each proposal carries the table's write share, its
index count and the index's estimated width.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, types
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from banrimkwae.perf.db.candidates import Candidate, index_candidates
from banrimkwae.perf.db.explain import Measurement, ValueSampler, representative
from banrimkwae.perf.db.fingerprints import (
    SlowFingerprint,
    TableTraffic,
    slow_fingerprints,
    table_traffic,
)
from banrimkwae.perf.db.indexes import IndexInfo, existing_indexes
from banrimkwae.perf.db.trials import Trials, open_trials

log = logging.getLogger(__name__)
MAX_FINGERPRINTS = 20
MIN_IMPROVEMENT = 0.3
CLOSE_ENOUGH = 1.1
REUSE_SHARE = 0.9
MIN_SAVED_MS = 0.05
# A statement this fast alone is slow in the log only because it queued behind others (for
# the event loop, for a lock): an index has nothing to win there and costs every write.
# Every dialect times the baseline, PostgreSQL too (the plan cost of a small table's scan
# can still fall 90% while the statement takes 0.15 ms).
MIN_BASELINE_MS = 0.5
WRITE_HEAVY_SHARE = 0.5
WRITE_HEAVY_IMPROVEMENT = 0.6


@dataclass(slots=True)
class Proposal:
    candidate: Candidate
    method: str
    before: Measurement
    after: Measurement
    fingerprints: list[str]
    # The fingerprints' median time in monitoring (ms), for the record.
    observed_median_ms: float
    write_cost: dict[str, Any] = field(default_factory=dict)

    @property
    def measure(self) -> str:
        return "plan cost" if self.before.cost is not None else "median ms"

    def _values(self) -> tuple[float, float]:
        if self.before.cost is not None and self.after.cost is not None:
            return self.before.cost, self.after.cost
        return self.before.median_ms or 0.0, self.after.median_ms or 0.0

    @property
    def current_value(self) -> float:
        return self._values()[0]

    @property
    def expected_value(self) -> float:
        return self._values()[1]

    @property
    def improvement(self) -> float:
        before, after = self._values()
        return 1 - after / before if before > 0 else 0.0

    @property
    def priority(self) -> str:
        if self.improvement >= 0.9 and self.observed_median_ms >= 1000:
            return "critical"
        if self.improvement >= 0.9:
            return "high"
        return "medium" if self.improvement >= 0.5 else "low"

    @property
    def index_name(self) -> str:
        return index_name(self.candidate)


@dataclass(slots=True)
class Advice:
    dialect: str
    method: str
    proposals: list[Proposal] = field(default_factory=list)
    # Per fingerprint examined: why nothing (or what) was proposed.
    notes: dict[str, str] = field(default_factory=dict)


def index_name(candidate: Candidate) -> str:
    name = f"ix_{candidate.table}_{'_'.join(candidate.columns)}"
    if len(name) <= 60:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:51]}_{digest}"


def create_statement(candidate: Candidate, dialect: str) -> str:
    concurrently = "CONCURRENTLY " if dialect == "postgresql" else ""
    columns = ", ".join(candidate.columns)
    name = index_name(candidate)
    return f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {candidate.table} ({columns})"


def covered(candidate: Candidate, indexes: list[IndexInfo]) -> bool:
    """An existing index on the table already leads with these columns."""
    return any(
        index.table == candidate.table
        and index.columns[: len(candidate.columns)] == candidate.columns
        for index in indexes
    )


async def primary_keys(connection: AsyncConnection) -> dict[str, list[str]]:
    """Table -> its primary-key columns, from the live schema (where it has one)."""

    def read(sync: Any) -> dict[str, list[str]]:
        inspector = inspect(sync)
        keys = {
            table: inspector.get_pk_constraint(table).get("constrained_columns") or []
            for table in inspector.get_table_names()
        }
        return {table: columns for table, columns in keys.items() if columns}

    return await connection.run_sync(read)


async def table_columns(connection: AsyncConnection) -> dict[str, dict[str, Any]]:
    """Table -> column -> SQLAlchemy type, from the live schema."""

    def read(sync: Any) -> dict[str, dict[str, Any]]:
        inspector = inspect(sync)
        return {
            table: {column["name"]: column["type"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }

    return await connection.run_sync(read)


def _width(column_type: Any) -> int:
    """A rough entry width in bytes, for the write-cost note."""
    if isinstance(column_type, types.String) and column_type.length:
        return min(int(column_type.length), 255) // 2 + 1
    if isinstance(column_type, types.BigInteger | types.DateTime | types.Numeric):
        return 8
    return 4


async def advise(
    engine: AsyncEngine,
    *,
    min_improvement: float = MIN_IMPROVEMENT,
    max_fingerprints: int = MAX_FINGERPRINTS,
    use_hypopg: bool = True,
) -> Advice:
    """Measured index proposals for the slow fingerprints monitoring has recorded."""
    dialect = engine.dialect.name
    async with engine.connect() as connection:
        slow = (await slow_fingerprints(connection))[:max_fingerprints]
        traffic = await table_traffic(connection)
        indexes = await existing_indexes(connection)
        columns = await table_columns(connection)
        keys = await primary_keys(connection)
    schema = {table: set(cols) for table, cols in columns.items()}
    chosen: dict[tuple[str, tuple[str, ...]], Proposal] = {}
    async with engine.connect() as sampling, open_trials(engine, use_hypopg=use_hypopg) as trials:
        advice = Advice(dialect, trials.method)
        samplers = [
            ValueSampler(sampling, schema),
            ValueSampler(sampling, schema, newest=True, keys=keys),
        ]
        for fingerprint in slow:
            try:
                note, proposal = await _advise_one(
                    fingerprint,
                    trials,
                    samplers,
                    indexes,
                    schema,
                    min_improvement,
                    [p.candidate for p in chosen.values()],
                )
            except Exception as exc:  # one unreadable statement is one note, not the end
                log.warning("advice failed for %s", fingerprint.hash, exc_info=True)
                note, proposal = f"not evaluated: {type(exc).__name__}: {exc}", None
                if trials.connection.in_transaction():
                    await trials.connection.rollback()
            advice.notes[fingerprint.hash] = note
            if proposal is None:
                continue
            key = (proposal.candidate.table, proposal.candidate.columns)
            if key in chosen:
                chosen[key].fingerprints.append(fingerprint.hash)
                continue
            _weigh_writes(proposal, traffic.get(proposal.candidate.table), indexes, columns)
            heavy = proposal.write_cost["write_share"] > WRITE_HEAVY_SHARE
            if heavy and proposal.improvement < WRITE_HEAVY_IMPROVEMENT:
                advice.notes[fingerprint.hash] = (
                    f"{proposal.candidate.target} rejected: write-heavy table, "
                    f"only {proposal.improvement:.0%} better"
                )
                continue
            chosen[key] = proposal
    # A chosen index that leads a wider chosen index on the same table is served by it.
    advice.proposals = [
        p
        for p in chosen.values()
        if not any(
            o is not p
            and o.candidate.table == p.candidate.table
            and len(o.candidate.columns) > len(p.candidate.columns)
            and o.candidate.columns[: len(p.candidate.columns)] == p.candidate.columns
            for o in chosen.values()
        )
    ]
    advice.proposals.sort(key=lambda p: p.improvement, reverse=True)
    return advice


async def _advise_one(
    fingerprint: SlowFingerprint,
    trials: Trials,
    samplers: list[ValueSampler],
    indexes: list[IndexInfo],
    schema: dict[str, set[str]],
    min_improvement: float,
    already_chosen: list[Candidate],
) -> tuple[str, Proposal | None]:
    dialect = trials.dialect
    samples: list[tuple[str, str]] = []
    for sampler in samplers:
        made = await representative(fingerprint.text, dialect, sampler)
        if made is None:
            return "not evaluated: the statement could not be parsed", None
        if made not in samples:  # the same values from both rows: measured once
            samples.append(made)
    candidates = [
        c
        for c in index_candidates(fingerprint.text, dialect, schema)
        if c.table in schema and all(col in schema[c.table] for col in c.columns)
    ]
    fresh = [c for c in candidates if not covered(c, indexes)]
    if not fresh:
        return "no candidate: existing indexes already cover its predicates", None
    # An index already proposed for another statement on these tables is tried as well.
    tables = set(fingerprint.tables) & set(schema)
    fresh += [c for c in already_chosen if c.table in tables and c not in fresh]
    before = await trials.baseline(samples, tables)
    if before.median_ms is not None and before.median_ms < MIN_BASELINE_MS:
        return f"fast alone ({before.median_ms:.2f} ms): slow only under load", None
    used: list[Proposal] = []
    for candidate in fresh:
        after = await trials.with_index(candidate, samples, tables)
        if after.uses_index(candidate.table, trials.trial_index_name):
            used.append(
                Proposal(
                    candidate,
                    trials.method,
                    before,
                    after,
                    [fingerprint.hash],
                    fingerprint.median_ms,
                )
            )
    if not used:
        return f"no candidate used by the plan (tried {len(fresh)})", None
    best = choose(used, already_chosen)
    if best.improvement < min_improvement:
        return f"best candidate {best.candidate.target} only {best.improvement:.0%} better", None
    saved = best.current_value - best.expected_value
    if best.before.cost is None and saved < MIN_SAVED_MS:
        # Below this, a timed difference is the machine's noise, not the index.
        return f"best candidate {best.candidate.target} saves only {saved:.2f} ms", None
    return f"proposed {best.candidate.target}: {best.improvement:.0%} better", best


def choose(used: list[Proposal], already_chosen: list[Candidate]) -> Proposal:
    """The candidate to propose for one statement, of those its plan read through.

    An index already proposed for another statement is taken if it saves at least REUSE_SHARE
    of what the best candidate saves: one index fewer on the table is worth more to every
    write than the last tenth of the saving. Otherwise the cheapest result; a narrower index
    within CLOSE_ENOUGH of it is worth its fewer bytes on every write.
    """
    cheapest = min(p.expected_value for p in used)
    best_saving = max(p.current_value - p.expected_value for p in used)
    reusable = [
        p
        for p in used
        if p.candidate in already_chosen
        and p.current_value - p.expected_value >= REUSE_SHARE * best_saving
    ]
    if reusable:
        return min(reusable, key=lambda p: p.expected_value)
    close = [p for p in used if p.expected_value <= cheapest * CLOSE_ENOUGH]
    return min(close, key=lambda p: (len(p.candidate.columns), p.expected_value))


def _weigh_writes(
    proposal: Proposal,
    traffic: TableTraffic | None,
    indexes: list[IndexInfo],
    columns: dict[str, dict[str, Any]],
) -> None:
    table = proposal.candidate.table
    count = sum(1 for index in indexes if index.table == table)
    width = sum(_width(columns[table].get(c)) for c in proposal.candidate.columns) + 8
    traffic = traffic or TableTraffic()
    proposal.write_cost = {
        "table_reads": traffic.reads,
        "table_writes": traffic.writes,
        "write_share": round(traffic.write_share, 3),
        "indexes_on_table": count,
        "estimated_entry_bytes": width,
        # Each insert maintains the table and its indexes: one more structure to update.
        "extra_index_writes_per_insert": f"{count + 1} -> {count + 2} structures",
    }
