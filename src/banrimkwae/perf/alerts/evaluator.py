"""The alert rules on the platform's periodic loop: fetch, evaluate, record, notify.

The decisions are evaluation.evaluate's; this loop only reads the rules and their values,
stores each new state (compare-and-set, so one worker wins a transition), writes the event
of a firing or resolution in the same transaction, and hands it to the webhooks after the
commit. A rule that was disabled while firing resolves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from banrimkwae.perf.alerts.evaluation import AlertState, evaluate, notified
from banrimkwae.perf.alerts.observe import ReplicaLag, no_replicas, observe
from banrimkwae.perf.alerts.rules import Rule
from banrimkwae.perf.alerts.store import (
    StoredState,
    add_event,
    load_rules,
    load_states,
    save_state,
    stored_or_initial,
)
from banrimkwae.perf.alerts.webhooks import WebhookSender, alert_payload
from banrimkwae.perf.periodic import PeriodicTask

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 30.0


@dataclass(frozen=True, slots=True)
class Transition:
    rule: Rule
    state: AlertState
    event_id: int


class AlertEvaluator:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        webhooks: WebhookSender | None = None,
        replica_lag: ReplicaLag = no_replicas,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.engine = engine
        self.webhooks = webhooks
        self.replica_lag = replica_lag
        self._periodic = PeriodicTask(
            "alert-evaluator",
            interval,
            self.evaluate_once,
            log=log,
            failure="alert evaluation failed; retrying next interval",
        )

    @property
    def failures(self) -> int:
        return self._periodic.failures

    async def evaluate_once(self, now: float | None = None) -> list[Transition]:
        """Evaluate every rule at `now`; the firings and resolutions this call recorded."""
        moment = time.time() if now is None else now
        async with AsyncSession(self.engine) as session:
            rules = await load_rules(session)
            states = await load_states(session)
            enabled = [rule for rule in rules if rule.enabled]
            values = await observe(session, enabled, moment, replica_lag=self.replica_lag)
        transitions: list[Transition] = []
        for rule in rules:
            previous = stored_or_initial(states, rule.id)
            if rule.enabled:
                state = evaluate(rule, values.get(rule.id), previous.state, moment)
            elif previous.state.status == "firing":
                state = AlertState("resolved", moment, previous.state.value)
            else:
                continue
            transition = await self._record(rule, previous, state, moment)
            if transition is not None:
                transitions.append(transition)
        return transitions

    async def _record(
        self, rule: Rule, previous: StoredState, state: AlertState, now: float
    ) -> Transition | None:
        announce = notified(previous.state, state)
        delivery = "pending" if self.webhooks is not None and self.webhooks.enabled else "none"
        async with self.engine.begin() as connection:
            if not await save_state(connection, rule.id, previous, state, now):
                return None  # another worker got there first
            if not announce:
                return None
            event_id = await add_event(connection, rule, state, delivery=delivery)
        log.info("alert %s %s (value %s)", rule.name, state.status, state.value)
        if delivery == "pending" and self.webhooks is not None:
            self.webhooks.send(event_id, alert_payload(rule, state))
        return Transition(rule, state, event_id)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
