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

`add_cache_tags(...)` adds explicit tags: carried by a read, bumped by a write.
"""

from __future__ import annotations

from collections.abc import Iterable

from banrimkwae.perf.metrics.context import RequestStats, current_request_stats

TABLE_PREFIX = "table:"
ANY_SCOPE = "*"


def table_tag(table: str) -> str:
    return f"{TABLE_PREFIX}{table}"


def scoped_table_tag(table: str, scope: str) -> str:
    return f"{TABLE_PREFIX}{table}@{scope}"


def cache_scope(kind: str, value: object) -> None:
    """Declare that the current request concerns only `kind:value` (e.g. property 3)."""
    stats = current_request_stats()
    if stats is None:
        return
    scope = f"{kind}:{value}"
    if stats.cache_scopes is None:
        stats.cache_scopes = [scope]
    elif scope not in stats.cache_scopes:
        stats.cache_scopes.append(scope)


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
    for table in stats.tables_read or ():
        tags.add(table_tag(table))
        tags.update(scoped_table_tag(table, scope) for scope in scopes)
    if stats.cache_tags:
        tags.update(stats.cache_tags)
    return tags


def write_tags(stats: RequestStats | None) -> set[str]:
    """The tags this request's committed writes make stale."""
    tags: set[str] = set()
    if stats is None:
        return tags
    written = stats.tables_written or ()
    scopes = stats.cache_scopes
    for table in written:
        if scopes:
            tags.add(scoped_table_tag(table, ANY_SCOPE))
            tags.update(scoped_table_tag(table, scope) for scope in scopes)
        else:
            tags.add(table_tag(table))
    if written and stats.cache_tags:
        tags.update(stats.cache_tags)
    return tags
