"""Tables of the shard directory (migration 0010), kept in the home database.

`shard_directory` says which shard holds each property's bookings; `shard_sequences` hands
out ids that are unique across every shard, in blocks.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TIMESTAMP

from banrimkwae.perf.storage.models import PlatformBase

SHARD_STATES = ("active", "moving")
# BIGINT on the servers, INTEGER on SQLite, like the resort's own keys.
_Key = BigInteger().with_variant(Integer(), "sqlite")


class ShardDirectoryEntry(PlatformBase):
    """The shard of one property. `moving` (with `target`) refuses its writes during a move;
    `version` grows with every change, so a cached entry can tell it is out of date."""

    __tablename__ = "shard_directory"
    __table_args__ = (CheckConstraint("state IN ('active', 'moving')", name="state"),)

    property_id: Mapped[int] = mapped_column(_Key, primary_key=True, autoincrement=False)
    shard: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="active")
    target: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    moved_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))


class ShardSequence(PlatformBase):
    """The next free id of a sharded table: ids stay unique when rows live on many shards."""

    __tablename__ = "shard_sequences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger)
