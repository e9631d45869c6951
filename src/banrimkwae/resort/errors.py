"""Domain errors, translated from the database at the boundary into problem documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError

from banrimkwae.perf.problems import ProblemError


def not_found(kind: str, identifier: object) -> ProblemError:
    return ProblemError(404, f"{kind} {identifier} does not exist")


@asynccontextmanager
async def conflict_on_integrity(detail: str) -> AsyncIterator[None]:
    """Turn a unique or foreign-key violation raised inside the block into 409 Conflict."""
    try:
        yield
    except IntegrityError:
        raise ProblemError(409, detail) from None
