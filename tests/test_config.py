"""Settings: environment over TOML file over defaults; bad values name themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from banrimkwae.config import SettingsError, load_settings


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "PLATFORM_ENABLED", "CONFIG_FILE"):
        monkeypatch.delenv(f"BANRIMKWAE_{name}", raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.platform_enabled is True
    assert settings.redis_url is None


def test_environment_overrides_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config_file = tmp_path / "banrimkwae.toml"
    config_file.write_text("port = 9001\nworkers = 3\nplatform_enabled = false\n")
    monkeypatch.setenv("BANRIMKWAE_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("BANRIMKWAE_WORKERS", "5")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.workers == 5
    assert settings.platform_enabled is False


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BANRIMKWAE_PORT", "not-a-port", "BANRIMKWAE_PORT"),
        ("BANRIMKWAE_WORKERS", "0", "BANRIMKWAE_WORKERS"),
        ("BANRIMKWAE_DATABASE_URL", "oracle://db", "BANRIMKWAE_DATABASE_URL"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANRIMKWAE_TOKEN_SECRET", "super-secret-value")
    monkeypatch.setenv(
        "BANRIMKWAE_DATABASE_URL", "postgresql+asyncpg://app:hunter2@db.internal:5432/resort"
    )
    shown = load_settings().masked()
    assert shown["token_secret"] == "**********"
    assert "hunter2" not in str(shown["database_url"])
    assert "db.internal" in str(shown["database_url"])


def test_generated_secret_is_shared_through_the_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BANRIMKWAE_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("BANRIMKWAE_SECRET_FILE", str(tmp_path / "secret"))
    first = load_settings().resolved_token_secret()
    second = load_settings().resolved_token_secret()
    assert first == second
    assert len(first) >= 32
