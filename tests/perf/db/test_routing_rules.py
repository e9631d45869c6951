"""What counts as a write, who a client is, and how long its writes pin it to the primary."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, delete, insert, select, text, update

from banrimkwae.perf.db.consistency import RecentWrites, client_key
from banrimkwae.perf.db.routing_session import _writes

rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True))


@pytest.mark.parametrize(
    ("clause", "writes"),
    [
        (select(rows), False),
        (select(rows).union(select(rows)), False),
        (select(rows).with_for_update(), True),
        (insert(rows), True),
        (update(rows).values(id=2), True),
        (delete(rows), True),
        (text("SELECT 1"), True),  # raw SQL: intent unknown, so the primary
        (None, True),
    ],
)
def test_what_goes_to_the_primary(clause: object, writes: bool) -> None:
    assert _writes(clause) is writes


def test_client_key_prefers_credentials_and_hides_them() -> None:
    key = client_key("Bearer secret-token", "10.0.0.1")
    assert key is not None and "secret" not in key
    assert key == client_key("Bearer secret-token", "10.0.0.2")
    assert key != client_key("Bearer other-token", "10.0.0.1")
    assert client_key(None, "10.0.0.1") == "10.0.0.1"
    assert client_key(None, None) is None


def test_recent_writes_expire_after_the_window() -> None:
    writes = RecentWrites(window=5.0)
    writes.record("a", 1234, now=100.0)
    assert writes.pending("a", now=104.9) == (True, 1234)
    assert writes.pending("b", now=104.9) == (False, None)
    assert writes.pending(None, now=104.9) == (False, None)
    assert writes.pending("a", now=105.0) == (False, None)
