"""The parameters of a list, as one FastAPI dependency: parsed here, documented in OpenAPI.

`cursor`, `limit`, `count`, `fields`, `include` and one `fields[<relation>]` per includable
relation arrive as text and are parsed by this module, so that a malformed value is a 400
problem naming what is allowed instead of FastAPI's generic 422; the documented schema of each
still says what a valid value looks like (integer bounds, an enum, a pattern of the allowed
names), which is what a contract fuzzer generates from.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import WithJsonSchema

from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.responses.counts import COUNT_MODES, parse_count
from banrimkwae.perf.responses.cursors import MAX_CURSOR_LENGTH
from banrimkwae.perf.responses.expansion import MAX_INCLUDE_DEPTH, parse_include
from banrimkwae.perf.responses.fields import parse_fields
from banrimkwae.perf.responses.listing import ListSpec, PageRequest


def _limit_error(raw: str, spec: ListSpec) -> ProblemError:
    return ProblemError(
        400,
        f"limit: {raw[:20]!r} is not a whole number from 1 to {spec.max_limit}",
        title="Invalid limit",
        parameter="limit",
        minimum=1,
        maximum=spec.max_limit,
    )


def parse_limit(raw: str | None, spec: ListSpec) -> int:
    if raw is None:
        return spec.default_limit
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise _limit_error(raw, spec)
    limit = int(raw)
    if not 1 <= limit <= spec.max_limit:
        raise _limit_error(raw, spec)
    return limit


def page_parameters(spec: ListSpec) -> Callable[..., Awaitable[PageRequest]]:
    """A dependency whose signature documents this list's parameters in OpenAPI.

    Every parameter arrives as text and is parsed here, so that a malformed value is a 400
    naming what is allowed; the documented schema still says what a valid value looks like.
    """
    paths = spec.paths

    # async, though it awaits nothing: FastAPI would run a plain def in a worker thread.
    async def parse(request: Request, **raw: str | None) -> PageRequest:
        relation_fields = {
            path: parse_fields(raw[_relation_param(path)], relation.fields, f"fields[{path}]")
            for path, relation in paths.items()
        }
        return PageRequest(
            spec=spec,
            url=request.url,
            codec=spec.codec(request),
            limit=parse_limit(raw["limit"], spec),
            count=parse_count(raw["count"]),
            fields=parse_fields(raw["fields"], spec.fields, "fields"),
            include=parse_include(raw["include"], spec.relations),
            relation_fields=relation_fields,
            token=raw["cursor"],
        )

    parameters = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        _text(
            "cursor",
            "An opaque cursor from links.next or links.prev of this list (default: the first"
            " page). It only works with the filters it was issued for.",
            {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
        ),
        _text(
            "limit",
            f"Items per page, 1 to {spec.max_limit} (default {spec.default_limit}).",
            {"type": "integer", "minimum": 1, "maximum": spec.max_limit},
        ),
        _text(
            "count",
            "Add meta.total: exact (COUNT), estimate (planner statistics), none (default).",
            {"type": "string", "enum": list(COUNT_MODES)},
        ),
        _text("fields", spec.fields.describe("fields"), _names_schema(spec.fields.names)),
        _text(
            "include",
            (
                "Comma-separated relations to embed in each item, one query each; nested with"
                f" dots, at most {MAX_INCLUDE_DEPTH} levels. One or more of: {', '.join(paths)}."
                if paths
                else "This list embeds no relations: leave it out."
            ),
            _names_schema(tuple(paths)) if paths else {"type": "string", "maxLength": 0},
        ),
    ]
    for path, relation in paths.items():
        parameters.append(
            _text(
                _relation_param(path),
                relation.fields.describe(f"fields[{path}]") + f" Applies with include={path}.",
                _names_schema(relation.fields.names),
                alias=f"fields[{path}]",
            )
        )
    parse.__signature__ = inspect.Signature(parameters, return_annotation=PageRequest)  # type: ignore[attr-defined]
    return parse


def _relation_param(path: str) -> str:
    return "fields__" + path.replace(".", "__")


def _names_schema(names: Iterable[str]) -> dict[str, Any]:
    # A comma-separated list of these names: a pattern says so to a contract fuzzer.
    alternatives = "|".join(re.escape(name) for name in names)
    return {"type": "string", "pattern": f"^({alternatives})(,({alternatives}))*$"}


def _text(
    name: str, description: str, schema: dict[str, Any], *, alias: str | None = None
) -> inspect.Parameter:
    annotation = Annotated[
        str | None,
        WithJsonSchema(schema),
        Query(alias=alias or name, description=description),
    ]
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None
    )


__all__ = ["page_parameters", "parse_limit"]
