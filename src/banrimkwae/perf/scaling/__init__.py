"""Auto-scaling: pure policies, a simulator that scores them, health, controller, orchestrators."""

from __future__ import annotations

from banrimkwae.perf.scaling.model import (
    Decision,
    History,
    Observation,
    ScaleRecord,
    ScalingConfig,
    ScalingConfigError,
)

__all__ = [
    "Decision",
    "History",
    "Observation",
    "ScaleRecord",
    "ScalingConfig",
    "ScalingConfigError",
]
