"""How the resort's lists page: keyset cursors signed with the app's secret, sparse fields,
includes. The machinery is banrimkwae.perf.responses; this module feeds it the resort's
models and its token secret (perf never imports the resort).

Every resort list is keyset-paged; offset paging is left to the platform's admin lists,
which are small and built in memory (see docs/responses.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.orm import ColumnProperty

from banrimkwae.config import Settings
from banrimkwae.perf.responses.cursors import CursorCodec, derive_cursor_key
from banrimkwae.perf.responses.expansion import Relation
from banrimkwae.perf.responses.fields import FieldSet
from banrimkwae.perf.responses.keyset import Ordering
from banrimkwae.perf.responses.listing import ListSpec, PageRequest, Slice
from banrimkwae.perf.responses.pagination import Links, Meta, Page

# Every model, so that the mappers can be configured when a list reads its relations.
from banrimkwae.resort import models as _models  # noqa: F401

# Derived once per secret: an HMAC per request is cheap, a fresh derivation is not needed.
_codecs: dict[str, CursorCodec] = {}


def cursor_codec(request: Request) -> CursorCodec:
    settings: Settings = request.app.state.settings
    secret = settings.resolved_token_secret()
    codec = _codecs.get(secret)
    if codec is None:
        codec = _codecs[secret] = CursorCodec(derive_cursor_key(secret))
    return codec


def fieldset(resource: str, out: type[BaseModel], model: Any = None) -> FieldSet:
    """The fields of `out`; those that are mapped columns of `model` are read through SQL."""
    columns: dict[str, Any] = {}
    if model is not None:
        for name in out.model_fields:
            attribute = getattr(model, name, None)
            if attribute is not None and isinstance(
                getattr(attribute, "property", None), ColumnProperty
            ):
                columns[name] = attribute
    return FieldSet(resource, out, columns)


def list_spec(
    ordering: Ordering, fields: FieldSet, relations: Mapping[str, Relation] | None = None
) -> ListSpec:
    return ListSpec(ordering, fields, cursor_codec, dict(relations or {}))


__all__ = [
    "Links",
    "ListSpec",
    "Meta",
    "Page",
    "PageRequest",
    "Slice",
    "cursor_codec",
    "fieldset",
    "list_spec",
]
