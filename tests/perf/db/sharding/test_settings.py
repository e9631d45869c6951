"""The shards setting: three spellings, and one line naming what is wrong."""

from __future__ import annotations

import pytest

from banrimkwae.config import SettingsError, load_settings
from banrimkwae.perf.db.sharding import parse_shards

A = "sqlite+aiosqlite:///a.db"
B = "postgresql+asyncpg://postgres@127.0.0.1:5432/b"


@pytest.mark.parametrize(
    "value",
    [f"a={A},b={B}", f'{{"a": "{A}", "b": "{B}"}}', f'["a={A}", "b={B}"]', {"a": A, "b": B}],
)
def test_shards_are_read_from_each_spelling(value: object) -> None:
    assert parse_shards(value) == {"a": A, "b": B}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"a={A},a={B}", "named twice"),
        (f"home={A}", "bad shard name"),
        ("a", "name=url"),
        ("a=not-a-url", "not a database URL"),
    ],
)
def test_bad_shards_are_refused(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shards(value)


def test_the_environment_setting_names_itself_when_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANRIMKWAE_DATABASE_SHARDS", "a=redis://nowhere")
    with pytest.raises(SettingsError, match="BANRIMKWAE_DATABASE_SHARDS"):
        load_settings()


def test_the_environment_setting_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANRIMKWAE_DATABASE_SHARDS", f"a={A},b={B}")
    assert load_settings().database_shards == {"a": A, "b": B}
