"""Scaling policies: pure functions from an observation and its history to a decision."""

from __future__ import annotations

from collections.abc import Callable

from banrimkwae.perf.scaling.model import Decision, History, Observation, ScalingConfig
from banrimkwae.perf.scaling.policies import hpa, slo, threshold

Policy = Callable[[Observation, History, ScalingConfig, float], Decision]

POLICIES: dict[str, Policy] = {
    "threshold": threshold.decide,
    "hpa": hpa.decide,
    "slo": slo.decide,
}

__all__ = ["POLICIES", "Policy"]
