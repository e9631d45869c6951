"""The status workflow of a recommendation: pending -> implementing -> completed | rejected.

A pending recommendation may also be rejected outright. Completed and rejected are final;
anything else is an invalid transition. `implemented_at` is set when one is completed.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["pending", "implementing", "completed", "rejected"]
OPEN_STATUSES: tuple[Status, ...] = ("pending", "implementing")
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"implementing", "rejected"}),
    "implementing": frozenset({"completed", "rejected"}),
    "completed": frozenset(),
    "rejected": frozenset(),
}


def allowed(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def next_statuses(current: str) -> list[str]:
    return sorted(TRANSITIONS.get(current, frozenset()))
