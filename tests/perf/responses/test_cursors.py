"""Signed cursors: what they carry survives the trip; anything altered or moved is a 400."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest

from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.responses.cursors import (
    MAX_CURSOR_LENGTH,
    Cursor,
    CursorCodec,
    derive_cursor_key,
    filters_digest,
)

CODEC = CursorCodec(derive_cursor_key("a secret long enough for the suite"))
FILTERS = filters_digest({"property_id": 7, "status": None})


def _cursor(*values: object, direction: str = "next") -> Cursor:
    return Cursor("bookings", direction, values, FILTERS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [
        (1,),
        ("Kayak", 12),
        (dt.date(2026, 12, 1), 99),
        (dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC), 3),
        (dt.datetime(2026, 12, 1, 9, 30), 3),
        (Decimal("1600.50"), 4),
    ],
)
def test_values_keep_their_type(values: tuple[object, ...]) -> None:
    token = CODEC.encode(_cursor(*values, direction="prev"))
    decoded = CODEC.decode(token, ordering="bookings", filters=FILTERS)
    assert decoded.values == values
    assert [type(value) for value in decoded.values] == [type(value) for value in values]
    assert decoded.direction == "prev"


def test_cursors_are_url_safe_and_short() -> None:
    token = CODEC.encode(_cursor(dt.date(2026, 12, 1), 123456789))
    assert token.replace("-", "").replace("_", "").isalnum()
    assert len(token) < 120


def _problem(token: str, *, ordering: str = "bookings", filters: str = FILTERS) -> ProblemError:
    with pytest.raises(ProblemError) as raised:
        CODEC.decode(token, ordering=ordering, filters=filters)
    assert raised.value.status == 400
    assert raised.value.extensions["parameter"] == "cursor"
    return raised.value


def test_a_tampered_cursor_is_rejected() -> None:
    token = CODEC.encode(_cursor(41))
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    # The payload says [1,"bookings","n",[41],...]: move the position to 42.
    raw[raw.index(b"41")] = ord("4")
    raw[raw.index(b"41") + 1] = ord("2")
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert "altered" in (_problem(forged).detail or "")


def test_a_cursor_from_another_server_is_rejected() -> None:
    other = CursorCodec(derive_cursor_key("another secret, another server"))
    assert "altered" in (_problem(other.encode(_cursor(1))).detail or "")


def test_a_cursor_reused_with_other_filters_is_rejected() -> None:
    token = CODEC.encode(_cursor(1))
    other = filters_digest({"property_id": 8})
    assert "other filters" in (_problem(token, filters=other).detail or "")


def test_a_cursor_of_another_list_is_rejected() -> None:
    token = CODEC.encode(_cursor(1))
    assert "another list" in (_problem(token, ordering="rooms").detail or "")


@pytest.mark.parametrize("token", ["", "abc", "not base64 !", "%%%", "A" * 30, "x" * 5000])
def test_garbage_is_rejected(token: str) -> None:
    problem = _problem(token)
    assert "links.next" in (problem.detail or "")
    if len(token) > MAX_CURSOR_LENGTH:
        assert "longer" in (problem.detail or "")


def test_filter_digests_ignore_absent_filters_and_order() -> None:
    assert filters_digest({"a": 1, "b": None}) == filters_digest({"a": 1})
    assert filters_digest({"a": 1, "c": "x"}) == filters_digest({"c": "x", "a": 1})
    assert filters_digest({"a": 1}) != filters_digest({"a": 2})
    assert filters_digest({"day": dt.date(2026, 1, 1)}) != filters_digest({"day": "2026-01-01"})


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        CursorCodec(b"short")
