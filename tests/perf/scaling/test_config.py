"""A configuration that cannot work is refused with a message naming what is wrong."""

from __future__ import annotations

import pytest

from banrimkwae.perf.scaling import ScalingConfig, ScalingConfigError


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"min_instances": 5, "max_instances": 2},
            "min_instances (5) is greater than max_instances (2)",
        ),
        ({"min_instances": 0}, "min_instances must be at least 1"),
        ({"scale_up_cooldown_seconds": -1}, "scale_up_cooldown_seconds must be a non-negative"),
        (
            {"scale_down_cooldown_seconds": -30},
            "scale_down_cooldown_seconds must be a non-negative",
        ),
        ({"hpa_down_stabilisation_seconds": -5}, "hpa_down_stabilisation_seconds"),
        ({"slo_down_stabilisation_seconds": float("nan")}, "slo_down_stabilisation_seconds"),
        ({"scale_up_threshold_count": 0}, "scale_up_threshold_count must be at least 1"),
        ({"target_cpu_percent": 0}, "target_cpu_percent must be positive"),
    ],
)
def test_refused(values: dict[str, float], message: str) -> None:
    with pytest.raises(ScalingConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ScalingConfig(**values)  # type: ignore[arg-type]


def test_clamp() -> None:
    config = ScalingConfig(min_instances=2, max_instances=4)
    assert [config.clamp(n) for n in (0, 2, 3, 9)] == [2, 2, 3, 4]
