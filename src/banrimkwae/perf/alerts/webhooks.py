"""Alert notifications to webhooks, in Alertmanager's webhook format, with retries.

Each firing or resolution is posted to every configured URL in the background: a failed
attempt (no answer, a 5xx or a 429) is retried with exponential backoff, and the outcome
(delivered, or failed with the last error) is recorded on the event. Nothing here runs on
a request's path, and a receiver that is down delays nothing but its own notification.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.alerts.evaluation import AlertState
from banrimkwae.perf.alerts.rules import METRICS, Rule
from banrimkwae.perf.alerts.store import record_delivery

log = logging.getLogger(__name__)
# Alertmanager's zero time: a firing alert has no end yet.
_NO_END = "0001-01-01T00:00:00Z"


def alert_payload(rule: Rule, state: AlertState, *, external_url: str = "") -> dict[str, Any]:
    """The body Alertmanager posts to a webhook receiver (version 4), for one alert."""
    labels = {"alertname": rule.name, "severity": rule.severity, "metric": rule.metric}
    if rule.endpoint:
        labels["endpoint"] = rule.endpoint
    unit = METRICS[rule.metric].unit if rule.metric in METRICS else ""
    value = "no data" if state.value is None else f"{state.value:.4g} {unit}".rstrip()
    annotations = {
        "summary": f"{rule.summary()} (now {value})",
        "description": rule.description or rule.summary(),
        "value": "" if state.value is None else repr(state.value),
        "threshold": repr(rule.threshold),
    }
    moment = _iso(state.since)
    alert = {
        "status": state.status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": moment if state.status == "firing" else _NO_END,
        "endsAt": moment if state.status == "resolved" else _NO_END,
        "generatorURL": external_url,
        "fingerprint": hashlib.sha256(str(sorted(labels.items())).encode()).hexdigest()[:16],
    }
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname={json.dumps(rule.name)}}}",
        "truncatedAlerts": 0,
        "status": state.status,
        "receiver": "banrimkwae",
        "groupLabels": {"alertname": rule.name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [alert],
    }


class WebhookSender:
    """Posts payloads to `urls` in background tasks; `drain()` waits for those under way."""

    def __init__(
        self,
        urls: Sequence[str],
        engine: AsyncEngine,
        *,
        attempts: int = 4,
        backoff: float = 1.0,
        timeout: float = 5.0,
    ) -> None:
        self.urls = tuple(urls)
        self.engine = engine
        self.attempts = max(attempts, 1)
        self.backoff = backoff
        self.timeout = timeout
        self.failures = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def send(self, event_id: int, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self._deliver(event_id, payload), name=f"alert-{event_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.drain()

    async def _deliver(self, event_id: int, payload: dict[str, Any]) -> None:
        attempts = 0
        errors: list[str] = []
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for url in self.urls:
                used, error = await self._post(client, url, payload)
                attempts += used
                if error is not None:
                    errors.append(f"{url}: {error}")
        if errors:
            self.failures += 1
            log.warning("alert notification %d not delivered: %s", event_id, "; ".join(errors))
        try:
            await record_delivery(
                self.engine,
                event_id,
                delivered=not errors,
                attempts=attempts,
                error="; ".join(errors) or None,
            )
        except Exception:
            log.warning("alert delivery of event %d not recorded", event_id, exc_info=True)

    async def _post(
        self, client: httpx.AsyncClient, url: str, payload: dict[str, Any]
    ) -> tuple[int, str | None]:
        """Attempts used and the last error (None once delivered)."""
        error: str | None = None
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                answer = await client.post(url, json=payload)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            if answer.is_success:
                return attempt + 1, None
            error = f"HTTP {answer.status_code}"
            if answer.status_code < 500 and answer.status_code != 429:
                return attempt + 1, error  # the receiver refuses it: retrying will not help
        return self.attempts, error


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return _NO_END
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")
