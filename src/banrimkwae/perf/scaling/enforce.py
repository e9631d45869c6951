"""What the controller (and the simulator, so that both agree) imposes on any decision:
min/max and the configured cooldowns."""

from __future__ import annotations

from banrimkwae.perf.scaling.model import Decision, History, ScalingConfig, decision_to, hold


def enforce(
    decision: Decision, history: History, config: ScalingConfig, now: float, current: int
) -> Decision:
    target = config.clamp(decision.target)
    reasons = decision.reasons
    if target != decision.target:
        reasons = (*reasons, f"clamped to [{config.min_instances}, {config.max_instances}]")
    if target > current:
        last = history.last_scaling("up")
        if last is not None and now - last.at < config.scale_up_cooldown_seconds:
            return hold(
                current,
                f"scale-up cooldown: last scale-up {now - last.at:.0f} s ago",
                decision.trigger_metric,
                decision.trigger_value,
                decision.threshold_value,
                decision.recommended,
            )
    elif target < current:
        last = history.last_scaling()
        if last is not None and now - last.at < config.scale_down_cooldown_seconds:
            return hold(
                current,
                f"scale-down cooldown: last scaling {now - last.at:.0f} s ago",
                decision.trigger_metric,
                decision.trigger_value,
                decision.threshold_value,
                decision.recommended,
            )
    return decision_to(
        current,
        target,
        reasons,
        decision.trigger_metric,
        decision.trigger_value,
        decision.threshold_value,
        decision.recommended,
    )
