"""The cache rules: a TTL too short for reuse, warming for cold starts, a policy for a hot read.

From the period's per-policy statistics (`cache_statistics`), the policies themselves
(`api_cache_config`) and the per-minute request rollups:

- cache_ttl: a policy with enough lookups whose hit rate is under 50 %. Entries that live
  `ttl` seconds and are asked for at a rate r per key are hit with probability
  r*ttl / (1 + r*ttl) (the TTL-cache model of Fofack et al.), so the hit rate seen gives
  r*ttl = h / (1 - h), and a longer TTL's hit rate can be foretold. The rule recommends the
  TTL that reaches 80 % (within a day), with stale-while-revalidate when the policy has none,
  if it gains at least 10 points. A hit rate of zero says keys are never asked twice: no TTL
  helps, and the rule says nothing.
- cache_warming: a hot endpoint under a policy without warming whose misses bunch up in a
  few minutes (right after start-up or an invalidation) while the rest of the time it is
  mostly served from the cache.
- cache_policy: a resort GET endpoint with many requests and no active policy. The
  request rule "low cache hit rate" is then silent on it: it is about policies that miss.

Targets name the policy pattern (`cache-ttl:`, `cache-warming:`) or the endpoint
(`cache-policy:GET ...`); the change to make is in the impact analysis under "change".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from banrimkwae.perf.admin.schemas import EndpointStats
from banrimkwae.perf.cache.policies import CachePolicy, PolicySet
from banrimkwae.perf.recommend.cache_inputs import CacheInputs, MinuteCounts, PolicyUsage
from banrimkwae.perf.recommend.rules import Evaluation, Finding

CACHE_RULES = ("cache_ttl", "cache_warming", "cache_policy")
MIN_LOOKUPS = 100
LOW_HIT_RATE = 0.5
TARGET_HIT_RATE = 0.8
MIN_GAIN = 0.10
MAX_TTL_SECONDS = 86_400
# Warming: a hot endpoint, mostly served from the cache, whose misses bunch up.
HOT_REQUESTS_PER_MINUTE = 10.0
STEADY_HIT_RATE = 0.5
COLD_SHARE_OF_MISSES = 0.5
MAX_COLD_SHARE_OF_MINUTES = 0.3
# A policy for an uncached read: this many requests in the period.
NO_POLICY_MIN_REQUESTS = 1000
# Paths that are no resort read: the platform's own, health probes, documentation.
UNCACHEABLE_PREFIXES = ("/api/admin", "/admin", "/metrics", "/health", "/docs", "/openapi")


def ttl_for(hit_rate: float, ttl: float, aim: float = TARGET_HIT_RATE) -> float:
    """The TTL at which the TTL-cache model reaches `aim`, from the hit rate seen at `ttl`."""
    reuse = hit_rate / (1.0 - hit_rate)  # r * ttl
    wanted = aim / (1.0 - aim)
    return ttl * wanted / reuse


def hit_rate_at(hit_rate: float, ttl: float, new_ttl: float) -> float:
    reuse = hit_rate / (1.0 - hit_rate) * new_ttl / ttl
    return reuse / (1.0 + reuse)


def cache_ttl(usage: Iterable[PolicyUsage], into: Evaluation) -> None:
    for used in usage:
        policy = used.policy
        if used.lookups < MIN_LOOKUPS:
            continue
        target = f"cache-ttl:{policy.name}"
        rate = used.hit_rate
        into.measured[target] = round(100.0 * rate, 2)
        if rate >= LOW_HIT_RATE or rate <= 0.0 or policy.ttl >= MAX_TTL_SECONDS:
            continue
        new_ttl = min(MAX_TTL_SECONDS, _round_up(ttl_for(rate, policy.ttl), 60))
        new_ttl = max(new_ttl, 2 * int(policy.ttl))
        foreseen = hit_rate_at(rate, policy.ttl, new_ttl)
        if foreseen - rate < MIN_GAIN:
            continue
        change: dict[str, Any] = {"cache_ttl_seconds": new_ttl}
        steps = [f"Set the policy's cache_ttl_seconds from {policy.ttl:.0f} to {new_ttl}"]
        if policy.stale_while_revalidate <= 0:
            change["stale_while_revalidate_seconds"] = max(30, new_ttl // 10)
            steps.append(
                f"Serve stale while revalidating for {change['stale_while_revalidate_seconds']} s"
                " (stale_while_revalidate_seconds), so an expiry costs no miss"
            )
        steps.append(_policy_patch(policy, change))
        if policy.strategy == "simple":
            steps.append(
                "A simple policy is only refreshed by its TTL: make it tagged so writes "
                "invalidate it, or accept answers up to the new TTL old"
            )
        into.findings.append(
            Finding(
                rule="cache_ttl",
                type="cache",
                priority="medium" if rate >= 0.2 else "high",
                target=target,
                current=100.0 * rate,
                recommended=round(100.0 * foreseen, 2),
                description=(
                    f"Cache entries of {policy.name} expire before they are reused: "
                    f"{100 * rate:.1f} % hit rate over {used.lookups} lookups with a "
                    f"{policy.ttl:.0f} s TTL"
                ),
                steps=steps,
                expected=(
                    f"Hit rate from {100 * rate:.1f} % to about {100 * foreseen:.0f} % "
                    f"(TTL-cache model at {new_ttl} s)"
                ),
                impact={
                    "policy_id": policy.id,
                    "pattern": policy.name,
                    "lookups": used.lookups,
                    "hits": used.hits,
                    "ttl_seconds": policy.ttl,
                    "stale_while_revalidate_seconds": policy.stale_while_revalidate,
                    "strategy": policy.strategy,
                    "staleness_bound_seconds": new_ttl,
                    "change": _change(policy, change),
                },
            )
        )


def cache_warming(
    policies: PolicySet, minutes: Sequence[MinuteCounts], window_seconds: float, into: Evaluation
) -> None:
    by_policy: dict[str, list[MinuteCounts]] = defaultdict(list)
    for minute in minutes:
        policy = policies.match(minute.endpoint)
        if policy is not None and not policy.user_scoped:
            by_policy[policy.name].append(minute)
    for name, counts in sorted(by_policy.items()):
        policy = policies.by_name(name)
        assert policy is not None
        requests = sum(c.requests for c in counts)
        active_minutes = sum(c.seconds for c in counts) / 60.0
        if requests < MIN_LOOKUPS or requests / max(active_minutes, 1.0) < HOT_REQUESTS_PER_MINUTE:
            continue
        hits = sum(c.hits for c in counts)
        misses = requests - hits
        steady = hits / requests
        cold = [c for c in counts if c.hits < c.requests * steady / 2]
        cold_requests = sum(c.requests for c in cold)
        cold_rate = sum(c.hits for c in cold) / cold_requests if cold_requests else steady
        target = f"cache-warming:{name}"
        into.measured[target] = round(100.0 * cold_rate, 2)
        if policy.warming or steady < STEADY_HIT_RATE or misses <= 0:
            continue
        cold_misses = cold_requests - sum(c.hits for c in cold)
        if cold_misses < COLD_SHARE_OF_MISSES * misses or len(
            cold
        ) > MAX_COLD_SHARE_OF_MINUTES * len(counts):
            continue
        change = {"cache_warming_enabled": True}
        into.findings.append(
            Finding(
                rule="cache_warming",
                type="cache",
                priority="medium",
                target=target,
                current=round(100.0 * cold_rate, 2),
                recommended=round(100.0 * steady, 2),
                description=(
                    f"{name} misses in bursts: {cold_misses} of its {misses} misses fell in "
                    f"{len(cold)} of {len(counts)} minutes (after start-up or invalidations), "
                    f"with {100 * cold_rate:.0f} % hits then against {100 * steady:.0f} % overall"
                ),
                steps=[
                    "Enable cache warming on the policy (cache_warming_enabled)",
                    "Name its most asked parameter sets in cache_options.warm_requests "
                    "when its pattern is a template",
                    _policy_patch(policy, change),
                ],
                expected=(
                    f"Cold minutes served from the cache like the rest: about "
                    f"{100 * steady:.0f} % hits instead of {100 * cold_rate:.0f} %"
                ),
                impact={
                    "policy_id": policy.id,
                    "pattern": name,
                    "requests": requests,
                    "misses": misses,
                    "cold_minutes": len(cold),
                    "minutes": len(counts),
                    "cold_misses": cold_misses,
                    "window_seconds": window_seconds,
                    "change": _change(policy, change),
                },
            )
        )


def cache_policy(policies: PolicySet, endpoints: Iterable[EndpointStats], into: Evaluation) -> None:
    """Findings for hot reads under no policy."""
    for stats in endpoints:
        path = stats.endpoint
        if (
            stats.method != "GET"
            or not path.startswith("/")
            or path.startswith(UNCACHEABLE_PREFIXES)
        ):
            continue
        target = f"cache-policy:GET {path}"
        covered = policies.match(path) is not None
        into.measured[target] = float(stats.requests) if not covered else 0.0
        if covered or stats.requests < NO_POLICY_MIN_REQUESTS:
            continue
        ttl = 300
        into.findings.append(
            Finding(
                rule="cache_policy",
                type="cache",
                priority="high" if stats.requests >= 10 * NO_POLICY_MIN_REQUESTS else "medium",
                target=target,
                current=0.0,
                recommended=TARGET_HIT_RATE * 100.0,
                description=(
                    f"GET {path} has no cache policy: {stats.requests} requests at "
                    f"{stats.avg_ms:.0f} ms on average, every one computed"
                ),
                steps=[
                    f"Add a tagged policy for {path} with a {ttl} s TTL "
                    "(POST /api/admin/cache/policies): writes invalidate it through table tags",
                    "If its answer depends on the caller, use the hierarchical strategy",
                ],
                expected=(
                    f"Most of its {stats.requests} requests answered from the cache, "
                    f"without the {stats.avg_ms:.0f} ms"
                ),
                impact={
                    "endpoint": path,
                    "requests": stats.requests,
                    "avg_ms": round(stats.avg_ms, 3),
                    "p95_ms": round(stats.p95_ms, 3),
                    "avg_db_time_ms": round(stats.avg_db_time_ms, 3),
                    "change": {
                        "kind": "cache_policy",
                        "id": None,
                        "create": {
                            "endpoint_pattern": path,
                            "http_methods": ["GET", "HEAD"],
                            "cache_ttl_seconds": ttl,
                            "cache_strategy": "tagged",
                        },
                    },
                },
            )
        )


def evaluate_cache(
    inputs: CacheInputs,
    endpoints: Sequence[EndpointStats],
    window_seconds: float,
    into: Evaluation,
) -> None:
    cache_ttl(inputs.usage, into)
    cache_warming(inputs.policies, inputs.minutes, window_seconds, into)
    cache_policy(inputs.policies, endpoints, into)
    # "Low hit rate" is about a policy that misses: an endpoint under none is either a hot
    # read (told by cache_policy) or the platform's own path, never to be cached.
    into.findings = [
        f
        for f in into.findings
        if f.rule != "low_cache_hit_rate"
        or inputs.policies.match(f.target.removeprefix("cache:GET ")) is not None
    ]


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def _change(policy: CachePolicy, values: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": "cache_policy", "id": policy.id, "set": dict(values)}


def _policy_patch(policy: CachePolicy, values: Mapping[str, Any]) -> str:
    body = ", ".join(f'"{name}": {str(value).lower()}' for name, value in values.items())
    where = policy.id if policy.id is not None else f"<id of {policy.name}>"
    return f"PATCH /api/admin/cache/policies/{where} with {{{body}}}"
