"""Identifier parameters: positive and within BIGINT, so no driver sees an out-of-range id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalQueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]

__all__ = ["MAX_ID", "OptionalQueryId", "PathId"]
