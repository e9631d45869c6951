"""Sensitive fields of the platform's answers, hidden from everyone but an admin.

Sensitive are the ids of users and clients, and what a query said and how it ran: its text
and its plan (which name tables, indexes and, in a literal, data). They are found by field
name at any depth, so a field added later under one of these names is covered too. A string
field becomes "[redacted]", any other becomes null: sensitive fields must therefore be
strings or nullable in their schemas.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from banrimkwae.perf.access import granted

REDACTED = "[redacted]"
SENSITIVE_FIELDS = frozenset(
    {
        "user_id",
        "client_id",
        "client_address",
        "query_text",
        "normalized_text",
        "plan",
        "execution_plan",
        "index_usage",
    }
)

M = TypeVar("M", bound=BaseModel)


def sees_sensitive(request: Request) -> bool:
    """Whether this request's caller was granted the admin role."""
    found = granted(request)
    return found is not None and found.role == "admin"


def redact(value: Any) -> Any:
    """A copy of JSON-like `value` (dicts, lists, scalars) with sensitive fields hidden."""
    if isinstance(value, dict):
        return {
            key: _hidden(item) if key in SENSITIVE_FIELDS else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _hidden(value: Any) -> Any:
    if value is None:
        return None
    return REDACTED if isinstance(value, str) else None


def redact_model(model: M) -> M:
    """The same model with sensitive fields hidden (validated again, so still well-formed)."""
    return type(model).model_validate(redact(model.model_dump()))


def for_caller(request: Request, model: M) -> M:
    """`model` as this caller may see it."""
    return model if sees_sensitive(request) else redact_model(model)


def payload_for_caller(request: Request, payload: dict[str, Any]) -> dict[str, Any]:
    """A JSON payload (e.g. a live event) as this caller may see it."""
    return payload if sees_sensitive(request) else redact(payload)
