"""Cache policies: rows of `api_cache_config`, compiled once, matched per request in a lookup.

A pattern is an exact path (`/api/v1/properties`), a route template (`/api/v1/properties/
{property_id}`: a `{name}` is one path segment) or a glob (`*` within one segment, `**`
across segments). Exact paths win over templates, templates over globs; within a kind the
pattern with more literal characters wins. `PolicySet.match(path, method)` memoises its
answer per path in a bounded dict, so the hot path is one dictionary lookup.

A policy is *user-scoped* when its strategy is `hierarchical` or its key names {user_id}:
only then may a response to an authenticated caller be stored, and its keys always carry
the caller (keys.USER_PATTERN is enforced for hierarchical policies that do not name it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from banrimkwae.perf.cache.keys import USER_PATTERN, KeyPatternError, KeyTemplate

Strategy = Literal["simple", "tagged", "hierarchical"]
STRATEGIES: tuple[Strategy, ...] = ("simple", "tagged", "hierarchical")
CACHEABLE_METHODS = frozenset(("GET", "HEAD"))
_MATCH_CACHE_SIZE = 8192
_TEMPLATE_FIELD = re.compile(r"\{[^{}/]+\}")


class PolicyError(ValueError):
    """A policy row that cannot be compiled; the message names the pattern and why."""


@dataclass(frozen=True, slots=True)
class RouteLabel:
    path_format: str


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """One compiled policy. `name` is its endpoint pattern, unique in the table."""

    name: str
    ttl: float
    strategy: Strategy = "simple"
    key: KeyTemplate = field(default_factory=lambda: KeyTemplate(None))
    methods: frozenset[str] = CACHEABLE_METHODS
    # Extra tags every entry of this policy carries: "table:<name>" or any tag.
    invalidation_triggers: tuple[str, ...] = ()
    warming: bool = False
    compression_enabled: bool = True
    is_active: bool = True
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    # Soft invalidation: for this many seconds after an entry was computed, a write that
    # invalidates it leaves it servable STALE to anonymous callers (the answer is at most this
    # old). Callers with credentials never share entries, so a writer reads its own write.
    # 0 (the default): an invalidation ends the entry for everyone at once.
    invalidation_grace: float = 0.0
    # Outward Cache-Control max-age (0: clients revalidate every time, with the ETag).
    client_max_age: int = 0
    # Whether a client's `Cache-Control: no-cache` may skip the shared server cache.
    honour_client_no_cache: bool = False
    # Parameter sets the warmer requests for this policy: {"path": ..., "query": ...}.
    warm_requests: tuple[Mapping[str, str], ...] = ()
    id: int | None = None
    # What a hit puts in scope["route"] (it never reaches the router): the metrics then
    # count it under the route template, which a template policy's name is.
    route: RouteLabel = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "route", RouteLabel(self.name))

    @property
    def user_scoped(self) -> bool:
        return self.strategy == "hierarchical" or self.key.varies_on("user_id")

    @property
    def stale_ttl(self) -> float:
        return max(self.stale_while_revalidate, self.stale_if_error)

    @property
    def tag(self) -> str:
        return f"policy:{self.name}"


def compile_policy(row: Mapping[str, Any]) -> CachePolicy:
    """A policy from an `api_cache_config` row (as a mapping of column -> value)."""
    pattern = str(row["endpoint_pattern"])
    strategy = str(row.get("cache_strategy") or "simple")
    if strategy not in STRATEGIES:
        raise PolicyError(f"{pattern}: unknown cache_strategy {strategy!r}")
    key_pattern = row.get("cache_key_pattern")
    if strategy == "hierarchical" and key_pattern and "{user_id}" not in key_pattern:
        raise PolicyError(f"{pattern}: a hierarchical key pattern must contain {{user_id}}")
    try:
        key = KeyTemplate(key_pattern or (USER_PATTERN if strategy == "hierarchical" else None))
    except KeyPatternError as exc:
        raise PolicyError(f"{pattern}: {exc}") from None
    methods = frozenset(str(m).upper() for m in (row.get("http_methods") or ("GET", "HEAD")))
    # Only safe methods are ever cached, whatever the row says; GET covers HEAD.
    methods = (methods & CACHEABLE_METHODS) | ({"HEAD"} if "GET" in methods else set())
    if not methods:
        raise PolicyError(f"{pattern}: http_methods must include GET or HEAD")
    ttl = float(row.get("cache_ttl_seconds") or 0)
    if ttl <= 0:
        raise PolicyError(f"{pattern}: cache_ttl_seconds must be positive")
    options: Mapping[str, Any] = row.get("cache_options") or {}
    triggers = row.get("invalidation_triggers") or ()
    if isinstance(triggers, Mapping):
        triggers = triggers.get("tags", ())
    policy = CachePolicy(
        name=pattern,
        ttl=ttl,
        strategy=strategy,
        key=key,
        methods=methods,
        invalidation_triggers=tuple(str(t) for t in triggers),
        warming=bool(row.get("cache_warming_enabled", False)),
        compression_enabled=bool(row.get("compression_enabled", True)),
        is_active=bool(row.get("is_active", True)),
        stale_while_revalidate=float(row.get("stale_while_revalidate_seconds") or 0),
        stale_if_error=float(row.get("stale_if_error_seconds") or 0),
        invalidation_grace=_invalidation_grace(pattern, options),
        client_max_age=int(options.get("client_max_age", 0)),
        honour_client_no_cache=bool(options.get("honour_client_no_cache", False)),
        warm_requests=tuple(dict(r) for r in options.get("warm_requests", ())),
        id=row.get("id"),
    )
    if policy.invalidation_grace and policy.user_scoped:
        # A guest's own data is read back by the guest who changed it, with credentials.
        raise PolicyError(
            f"{pattern}: a user-scoped policy cannot serve invalidated entries "
            "(cache_options.invalidation_grace_seconds must be 0)"
        )
    return policy


def _invalidation_grace(pattern: str, options: Mapping[str, Any]) -> float:
    value = options.get("invalidation_grace_seconds", 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise PolicyError(
            f"{pattern}: cache_options.invalidation_grace_seconds must be a number of "
            "seconds from 0 to 3600"
        )
    return float(value)


def _kind(pattern: str) -> int:
    if "*" in pattern:
        return 2
    if _TEMPLATE_FIELD.search(pattern):
        return 1
    return 0


def _regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for match in re.finditer(r"\*\*|\*|\{[^{}/]+\}", pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        token = match.group()
        parts.append(".*" if token == "**" else "[^/]+" if token.startswith("{") else "[^/]*")
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("".join(parts))


def _literal_length(pattern: str) -> int:
    return len(_TEMPLATE_FIELD.sub("", pattern).replace("*", ""))


class PolicySet:
    """The active policies of one version, compiled for matching."""

    def __init__(self, policies: Iterable[CachePolicy], *, version: int = 0) -> None:
        active = [p for p in policies if p.is_active]
        self.policies: tuple[CachePolicy, ...] = tuple(active)
        self.version = version
        self._exact = {p.name: p for p in active if _kind(p.name) == 0}
        ordered = sorted(
            (p for p in active if _kind(p.name) > 0),
            key=lambda p: (_kind(p.name), -_literal_length(p.name), p.name),
        )
        self._patterns: list[tuple[re.Pattern[str], CachePolicy]] = [
            (_regex(p.name), p) for p in ordered
        ]
        self._memo: dict[str, CachePolicy | None] = {}

    def __len__(self) -> int:
        return len(self.policies)

    def by_name(self, name: str) -> CachePolicy | None:
        return next((p for p in self.policies if p.name == name), None)

    def match(self, path: str) -> CachePolicy | None:
        """The policy covering `path` (the decoded request path), or None."""
        try:
            return self._memo[path]
        except KeyError:
            pass
        found = self._exact.get(path)
        if found is None:
            for regex, policy in self._patterns:
                if regex.fullmatch(path):
                    found = policy
                    break
        if len(self._memo) >= _MATCH_CACHE_SIZE:
            self._memo.clear()
        self._memo[path] = found
        return found


def compile_rows(rows: Sequence[Mapping[str, Any]], *, version: int = 0) -> PolicySet:
    """Compile every row; a row that does not compile is left out (and named in the error list)."""
    policies, _errors = compile_rows_checked(rows)
    return PolicySet(policies, version=version)


def compile_rows_checked(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[CachePolicy], list[str]]:
    policies: list[CachePolicy] = []
    errors: list[str] = []
    for row in rows:
        try:
            policies.append(compile_policy(row))
        except PolicyError as exc:
            errors.append(str(exc))
    return policies, errors


class PolicyHolder:
    """The PolicySet in force; swapped whole on reload, read with one attribute access."""

    __slots__ = ("current",)

    def __init__(self, policies: PolicySet | None = None) -> None:
        self.current = policies if policies is not None else PolicySet(())

    def replace(self, policies: PolicySet) -> None:
        self.current = policies
