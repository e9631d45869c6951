"""Alerts: threshold rules on report metrics, evaluated with hysteresis, sent to webhooks
and exported as Prometheus alerting rules."""

from banrimkwae.perf.alerts.evaluation import INITIAL, STATUSES, AlertState, Status, evaluate
from banrimkwae.perf.alerts.evaluator import AlertEvaluator, Transition
from banrimkwae.perf.alerts.export import Export, export_rules, referenced_metrics
from banrimkwae.perf.alerts.observe import observe, request_metric
from banrimkwae.perf.alerts.router import alerts_router
from banrimkwae.perf.alerts.rules import (
    METRICS,
    SEVERITIES,
    MetricInfo,
    Rule,
    RuleError,
    check_rule,
    format_duration,
    parse_duration,
)
from banrimkwae.perf.alerts.store import load_rules, load_states
from banrimkwae.perf.alerts.webhooks import WebhookSender, alert_payload

__all__ = [
    "INITIAL",
    "METRICS",
    "SEVERITIES",
    "STATUSES",
    "AlertEvaluator",
    "AlertState",
    "Export",
    "MetricInfo",
    "Rule",
    "RuleError",
    "Status",
    "Transition",
    "WebhookSender",
    "alert_payload",
    "alerts_router",
    "check_rule",
    "evaluate",
    "export_rules",
    "format_duration",
    "load_rules",
    "load_states",
    "observe",
    "parse_duration",
    "referenced_metrics",
    "request_metric",
]
