"""BANRIMKWAE_ALERT_WEBHOOKS: comma-separated URLs, checked at start-up, masked when shown."""

from __future__ import annotations

import pytest

from banrimkwae.app import alert_config
from banrimkwae.config import SettingsError, load_settings


def test_webhooks_are_read_as_comma_separated_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "BANRIMKWAE_ALERT_WEBHOOKS",
        "http://127.0.0.1:9093/api/v2/alerts, https://hooks:s3cret@alerts.example.org/in",
    )
    monkeypatch.setenv("BANRIMKWAE_ALERT_WEBHOOK_ATTEMPTS", "6")
    settings = load_settings()
    config = alert_config(settings)
    assert config.webhooks == (
        "http://127.0.0.1:9093/api/v2/alerts",
        "https://hooks:s3cret@alerts.example.org/in",
    )
    assert config.webhook_attempts == 6
    # A password in a webhook URL is never shown.
    assert settings.masked()["alert_webhooks"] == [
        "http://127.0.0.1:9093/api/v2/alerts",
        "https://hooks:****@alerts.example.org/in",
    ]


def test_no_webhooks_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BANRIMKWAE_ALERT_WEBHOOKS", raising=False)
    assert alert_config(load_settings()).webhooks == ()


def test_a_webhook_that_is_not_a_url_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANRIMKWAE_ALERT_WEBHOOKS", "alertmanager:9093")
    with pytest.raises(
        SettingsError, match=r"BANRIMKWAE_ALERT_WEBHOOKS.*alertmanager:9093"
    ) as raised:
        load_settings()
    assert "\n" not in str(raised.value)
