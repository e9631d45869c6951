"""The alert rules as Prometheus alerting rules, over the metrics /metrics exports.

Each rule becomes one alerting rule with the same threshold, window (the range of its
rate()), `for`, severity label and annotations. A rule whose metric /metrics does not carry
(scale_failed events) or carries without an endpoint label (cache, database time, replica
lag) when the rule names an endpoint cannot be written in PromQL: it is left out, and named
in `skipped`. The hysteresis of a resolve threshold has no PromQL equivalent either: the
exported rule resolves as soon as its expression is false (Prometheus' `keep_firing_for`
holds it a while instead).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from banrimkwae.perf.alerts.rules import METRICS, Rule, format_duration

GROUP = "banrimkwae"
HTTP = "http_server_request_duration_seconds"
DB = "db_client_operation_duration_seconds"
CACHE = "banrimkwae_cache_requests_total"
REPLICA_LAG = "banrimkwae_db_replica_lag_seconds"


@dataclass(slots=True)
class Export:
    rules: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {"groups": [{"name": GROUP, "rules": self.rules}]}

    def yaml(self) -> str:
        header = "# Banrimkwae alert rules as Prometheus alerting rules.\n"
        for name, reason in self.skipped:
            header += f"# not exported: {name}: {reason}\n"
        body: str = yaml.safe_dump(self.document(), sort_keys=False, allow_unicode=True)
        return header + body


def promql(rule: Rule) -> str | None:
    """The PromQL of the rule's metric (without the comparison), or None where none exists."""
    window = format_duration(rule.window_seconds)
    route = f"http_route={json.dumps(rule.endpoint)}" if rule.endpoint else ""
    matcher = f"{{{route}}}" if route else ""

    def requests_rate(extra: str = "") -> str:
        labels = ",".join(part for part in (route, extra) if part)
        selector = f"{{{labels}}}" if labels else ""
        return f"sum(rate({HTTP}_count{selector}[{window}]))"

    metric = rule.metric
    if metric in ("p95_ms", "p99_ms"):
        q = "0.95" if metric == "p95_ms" else "0.99"
        return (
            f"histogram_quantile({q}, sum by (le) (rate({HTTP}_bucket{matcher}[{window}]))) * 1000"
        )
    if metric == "avg_ms":
        return f"sum(rate({HTTP}_sum{matcher}[{window}])) / {requests_rate()} * 1000"
    if metric == "error_rate":
        errors = requests_rate('http_response_status_code="5xx"')
        return f"100 * {errors} / {requests_rate()}"
    if metric == "requests_per_second":
        return requests_rate()
    if rule.endpoint is not None:
        return None  # the families below carry no route label
    if metric == "cache_hit_rate":
        hits = f'sum(rate({CACHE}{{result="hit"}}[{window}]))'
        return f"100 * {hits} / {requests_rate()}"
    if metric == "db_time_ms":
        return f"sum(rate({DB}_sum[{window}])) / {requests_rate()} * 1000"
    if metric == "replica_lag_seconds":
        return f"max(max_over_time({REPLICA_LAG}[{window}]))"
    return None


def referenced_metrics() -> set[str]:
    """Every sample name an export may reference (for checking them against /metrics)."""
    return {f"{HTTP}_bucket", f"{HTTP}_sum", f"{HTTP}_count", f"{DB}_sum", CACHE, REPLICA_LAG}


def export_rules(rules: Iterable[Rule]) -> Export:
    export = Export()
    for rule in rules:
        if not rule.enabled:
            continue
        expression = promql(rule)
        if expression is None:
            reason = (
                "/metrics has no such series"
                if rule.endpoint is None
                else f"/metrics has no per-endpoint {rule.metric}"
            )
            export.skipped.append((rule.name, reason))
            continue
        sign = ">" if rule.comparison == "above" else "<"
        entry: dict[str, Any] = {
            "alert": rule.name,
            "expr": f"{expression} {sign} {rule.threshold:g}",
        }
        if rule.for_seconds:
            entry["for"] = format_duration(rule.for_seconds)
        labels = {"severity": rule.severity, "metric": rule.metric}
        if rule.endpoint:
            labels["endpoint"] = rule.endpoint
        entry["labels"] = labels
        unit = METRICS[rule.metric].unit
        entry["annotations"] = {
            "summary": rule.summary(),
            "description": rule.description or rule.summary(),
            "value": f'{{{{ $value | printf "%.4g" }}}} {unit}',
        }
        export.rules.append(entry)
    return export
