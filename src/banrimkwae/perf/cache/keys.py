"""Cache keys: one request shape, one key; two requests that may differ, two keys.

The key is built from what the application itself routes and parses, never from raw bytes it
would read differently:
- the path is the server's decoded `scope["path"]` (what Starlette routes on), behind the
  `root_path`, re-quoted so no character of it can pose as a separator of the key;
- the query is parsed exactly as Starlette parses it (latin-1, `parse_qsl`, blanks kept),
  then empty values are dropped and parameters sorted by name with a stable sort, so
  repeated names keep their relative order (FastAPI reads the last of a scalar and all of
  a list in order). `canonical_query` re-encodes that list; the cache hands the canonical
  string to the application on a miss, so what is stored under a key is by construction the
  answer to exactly that key;
- the caller (user, client) is rendered through the same escaping, "-" for none.

`KeyTemplate` compiles a policy's `cache_key_pattern` (`{endpoint} {method} {query}
{user_id} {client_id}`); a template must name {endpoint} and {query}, or two different
requests would share one key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

FIELDS = ("endpoint", "method", "query", "user_id", "client_id")
REQUIRED_FIELDS = ("endpoint", "query")
DEFAULT_PATTERN = "{method}:{endpoint}?{query}"
USER_PATTERN = "{method}:{endpoint}?{query}|u={user_id}"
NOBODY = "-"
# Characters left as they are in keys; everything else is percent-encoded (upper-case hex).
_PATH_SAFE = "/-._~!$'()*+,;=:@"
_FIELD = re.compile(r"\{([^{}]*)\}")
_CANONICAL_CACHE_SIZE = 4096
_canonical: dict[bytes, bytes] = {}


class KeyPatternError(ValueError):
    """A cache_key_pattern that names an unknown field or leaves out a required one."""


def canonical_query(query_string: bytes) -> bytes:
    """The query as the cache keys it: blanks dropped, names sorted, encoding normalised."""
    try:
        return _canonical[query_string]
    except KeyError:
        pass
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    kept = sorted(((name, value) for name, value in pairs if value != ""), key=_name)
    canonical = "&".join(f"{_quote(name)}={_quote(value)}" for name, value in kept).encode("ascii")
    if len(_canonical) >= _CANONICAL_CACHE_SIZE:
        del _canonical[next(iter(_canonical))]
    _canonical[query_string] = canonical
    return canonical


def _name(pair: tuple[str, str]) -> str:
    return pair[0]


def _quote(text: str) -> str:
    # Nothing but unreserved characters stays literal: "&", "=", "+" and "%" are encoded.
    return quote(text, safe="-._~")


def key_path(scope_path: str, root_path: str = "") -> str:
    """The decoded request path as a key component: quoted, so it holds no separator."""
    return quote(root_path + scope_path, safe=_PATH_SAFE)


def key_field(value: str | int | None) -> str:
    """A caller identity as a key component; "-" when there is none."""
    if value is None:
        return NOBODY
    return quote(str(value), safe="")


@dataclass(frozen=True, slots=True)
class KeyParts:
    endpoint: str
    method: str
    query: str
    user_id: str = NOBODY
    client_id: str = NOBODY


class KeyTemplate:
    """A compiled cache_key_pattern: `render(parts)` is a few string joins."""

    __slots__ = ("fields", "pattern", "render")

    def __init__(self, pattern: str | None) -> None:
        pattern = pattern or DEFAULT_PATTERN
        names = _FIELD.findall(pattern)
        unknown = sorted(set(names) - set(FIELDS))
        if unknown:
            raise KeyPatternError(f"unknown key field(s) {', '.join(unknown)} in {pattern!r}")
        missing = [name for name in REQUIRED_FIELDS if name not in names]
        if missing:
            raise KeyPatternError(f"key pattern {pattern!r} must contain {{{missing[0]}}}")
        self.pattern = pattern
        self.fields = frozenset(names)
        self.render: Callable[[KeyParts], str] = _compile(pattern)

    def varies_on(self, name: str) -> bool:
        return name in self.fields


def _compile(pattern: str) -> Callable[[KeyParts], str]:
    literals = _FIELD.split(pattern)
    # split() alternates literal, field, literal, ...
    pieces: list[tuple[bool, str]] = [
        (index % 2 == 1, piece) for index, piece in enumerate(literals) if piece or index % 2
    ]

    def render(parts: KeyParts) -> str:
        return "".join(getattr(parts, text) if is_field else text for is_field, text in pieces)

    return render
