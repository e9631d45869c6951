"""Which tags a cached response carries, and which tags a committed write bumps.

Automatic, with no configuration: the query tracker records the tables each request read
and wrote (RequestStats.tables_read / tables_written, from statement fingerprints). A
response is stamped with `table:<name>` for every table it read; a write bumps `table:<name>`
for every table it wrote. A client that writes, then reads, sees its write.

Finer, by declaration: the application may scope a request to a partition of the data, e.g.
`cache_scope("property", 3)` in the handlers of one property's availability and of a booking
at that property. Then
- a scoped read carries `table:<t>` and `table:<t>@property:3`;
- an unscoped read carries `table:<t>` and `table:<t>@*`;
- a scoped write bumps `table:<t>@property:3` and `table:<t>@*` (not `table:<t>`);
- an unscoped write bumps `table:<t>`, which every reader of `t` carries.
So a booking at property 3 invalidates property 3's availability and every unscoped read of
bookings (a guest's own list), and leaves property 4's availability alone. Declaring a write
scoped is a promise that everything it wrote belongs to that scope; one kind of scope
(the resort uses `property`) keeps that promise easy to check.

Finer still, a scope may have parts: `cache_scope_days("property", 3, check_in, check_out)`
declares one nested scope `property:3/day:<date>` per night. A nested scope `P/C`
- on a read carries `table:<t>@P/C` and `table:<t>@P/*` (not `table:<t>@P`);
- on a write bumps `table:<t>@P/C`, `table:<t>@P` and `table:<t>@*`;
and a plain write scoped `P` also bumps `table:<t>@P/*`. So a booking at property 3 for
some nights invalidates the availability searches of property 3 that cover one of those
nights, plus whatever reads property 3 or the table as a whole, and leaves property 3's
other dates cached; a property-wide write still reaches every nested read.

`add_cache_tags(...)` adds explicit tags: carried by a read, bumped by a write.

A statement that only takes a lock (SQLite has no row locks: a no-op `UPDATE t SET id = id`
takes the database's write lock) changes nothing; run inside `with cache_lock_only():` its
tables do not count as written, so it invalidates nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from banrimkwae.perf.metrics.context import RequestStats, current_request_stats

TABLE_PREFIX = "table:"
ANY_SCOPE = "*"
PART_SEPARATOR = "/"
# A longer span declares the whole scope instead: one tag per day stops paying off.
MAX_SCOPED_DAYS = 62


def table_tag(table: str) -> str:
    return f"{TABLE_PREFIX}{table}"


def scoped_table_tag(table: str, scope: str) -> str:
    return f"{TABLE_PREFIX}{table}@{scope}"


def cache_scope(kind: str, value: object) -> None:
    """Declare that the current request concerns only `kind:value` (e.g. property 3)."""
    stats = current_request_stats()
    if stats is None:
        return
    _declare(stats, _scope(kind, value))


def cache_scope_days(kind: str, value: object, start: dt.date, end: dt.date) -> None:
    """Declare that the current request concerns only the days [start, end) of `kind:value`.

    Bookings of a property for some nights, or the availability of those nights. Spans
    longer than MAX_SCOPED_DAYS (or empty) declare the whole `kind:value` scope.
    """
    stats = current_request_stats()
    if stats is None:
        return
    days = (end - start).days
    parent = _scope(kind, value)
    if not 0 < days <= MAX_SCOPED_DAYS:
        _declare(stats, parent)
        return
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        _declare(stats, f"{parent}{PART_SEPARATOR}day:{day.isoformat()}")


def _scope(kind: str, value: object) -> str:
    # The separator is reserved for parts.
    return f"{kind}:{value}".replace(PART_SEPARATOR, "%2F")


def _declare(stats: RequestStats, scope: str) -> None:
    if stats.cache_scopes is None:
        stats.cache_scopes = [scope]
    elif scope not in stats.cache_scopes:
        stats.cache_scopes.append(scope)


@contextmanager
def cache_lock_only() -> Iterator[None]:
    """Statements run inside only lock rows or tables: what they "write" bumps no tag."""
    stats = current_request_stats()
    written = None if stats is None or stats.tables_written is None else set(stats.tables_written)
    try:
        yield
    finally:
        if stats is not None:
            stats.tables_written = written


def add_cache_tags(*tags: str) -> None:
    """Tags the current request's cached response carries, or that its write bumps."""
    stats = current_request_stats()
    if stats is None:
        return
    if stats.cache_tags is None:
        stats.cache_tags = set(tags)
    else:
        stats.cache_tags.update(tags)


def read_tags(stats: RequestStats | None, extra: Iterable[str] = ()) -> set[str]:
    """The tags a response computed by this request is stamped with."""
    tags = set(extra)
    if stats is None:
        return tags
    scopes = stats.cache_scopes or (ANY_SCOPE,)
    read_scopes: set[str] = set()
    for scope in scopes:
        parent, nested, _part = scope.partition(PART_SEPARATOR)
        read_scopes.add(scope)
        if nested:
            read_scopes.add(f"{parent}{PART_SEPARATOR}{ANY_SCOPE}")
    for table in stats.tables_read or ():
        tags.add(table_tag(table))
        tags.update(scoped_table_tag(table, scope) for scope in read_scopes)
    if stats.cache_tags:
        tags.update(stats.cache_tags)
    return tags


def write_tags(stats: RequestStats | None) -> set[str]:
    """The tags this request's committed writes make stale."""
    tags: set[str] = set()
    if stats is None:
        return tags
    written = stats.tables_written or ()
    write_scopes = {ANY_SCOPE}
    for scope in stats.cache_scopes or ():
        parent, nested, _part = scope.partition(PART_SEPARATOR)
        write_scopes.add(scope)
        write_scopes.add(parent if nested else f"{scope}{PART_SEPARATOR}{ANY_SCOPE}")
    for table in written:
        if stats.cache_scopes:
            tags.update(scoped_table_tag(table, scope) for scope in write_scopes)
        else:
            tags.add(table_tag(table))
    if written and stats.cache_tags:
        tags.update(stats.cache_tags)
    return tags
