"""Opaque, signed page cursors.

A cursor carries the name of the ordering it was made for, the direction to read in, the
sort-key values of the row it points after (or before), and a digest of the filters of the
list it came from. It is compact JSON in URL-safe base64 followed by a truncated HMAC-SHA256,
so a client can neither forge a position nor move a cursor to a list with other filters:
both answer 400 problem+json.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson

from banrimkwae.perf.problems import ProblemError

Direction = Literal["next", "prev"]

_VERSION = 1
_MAC_BYTES = 16
# Longer than any cursor this module writes; anything longer is not worth decoding.
MAX_CURSOR_LENGTH = 1024


def derive_cursor_key(secret: str | bytes) -> bytes:
    """A key for cursors alone, derived from an application secret (never the secret itself)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"banrimkwae page cursor v1", hashlib.sha256).digest()


def filters_digest(filters: Mapping[str, object]) -> str:
    """A short stable digest of a list's filters (None values count as absent)."""
    present = {name: _tag(value) for name, value in sorted(filters.items()) if value is not None}
    return hashlib.sha256(orjson.dumps(present)).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    """A decoded cursor: read `direction` from the row whose sort keys are `values`."""

    ordering: str
    direction: Direction
    values: tuple[Any, ...]
    filters: str


def cursor_error(detail: str) -> ProblemError:
    return ProblemError(
        400,
        f"{detail}; use the cursor from this list's links.next or links.prev unchanged,"
        " with the same filters, or leave it out for the first page",
        title="Invalid cursor",
        parameter="cursor",
    )


class CursorCodec:
    """Signs and verifies cursors with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self._key = key

    def encode(self, cursor: Cursor) -> str:
        payload = orjson.dumps(
            [
                _VERSION,
                cursor.ordering,
                cursor.direction[0],
                [_tag(value) for value in cursor.values],
                cursor.filters,
            ]
        )
        return _b64(payload + self._mac(payload))

    def decode(self, token: str, *, ordering: str, filters: str) -> Cursor:
        """The cursor in `token`, checked against the list it is used on; 400 when it is not."""
        if len(token) > MAX_CURSOR_LENGTH:
            raise cursor_error(f"the cursor is longer than {MAX_CURSOR_LENGTH} characters")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise cursor_error("the cursor is not URL-safe base64") from None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise cursor_error("the cursor was altered or was not issued by this server")
        version, name, direction, values, digest = orjson.loads(payload)
        if version != _VERSION:  # pragma: no cover - one version exists
            raise cursor_error("the cursor is from another version of the API")
        if name != ordering:
            raise cursor_error("the cursor belongs to another list")
        if digest != filters:
            raise cursor_error("the cursor was issued for other filters")
        return Cursor(
            name, "next" if direction == "n" else "prev", tuple(map(_untag, values)), digest
        )

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Sort keys keep their Python type across the round trip, so the keyset comparison binds
# a date as a date and a Decimal as a Decimal on every dialect.
def _tag(value: object) -> object:
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _untag(value: object) -> object:
    if not isinstance(value, dict):
        return value
    ((kind, text),) = value.items()
    if kind == "t":
        return dt.datetime.fromisoformat(text)
    if kind == "d":
        return dt.date.fromisoformat(text)
    return Decimal(text)


__all__ = [
    "MAX_CURSOR_LENGTH",
    "Cursor",
    "CursorCodec",
    "Direction",
    "cursor_error",
    "derive_cursor_key",
    "filters_digest",
]
