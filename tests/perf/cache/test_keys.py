"""Cache keys: the same request shape gives one key, requests the app may answer differently
give different keys, and the canonical query means to the app what the original meant."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from starlette.datastructures import QueryParams

from banrimkwae.perf.cache.keys import (
    KeyParts,
    KeyPatternError,
    KeyTemplate,
    canonical_query,
    key_field,
    key_path,
)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (b"b=2&a=1", b"a=1&b=2"),
        (b"a=1&empty=&b=2", b"a=1&b=2"),
        (b"name=caf%C3%A9", b"name=caf%c3%a9"),
        (b"name=a+b", b"name=a%20b"),
        (b"name=%7Euser", b"name=~user"),
        (b"x=1&&y=2&", b"x=1&y=2"),
    ],
)
def test_equivalent_queries_share_one_canonical_form(left: bytes, right: bytes) -> None:
    assert canonical_query(left) == canonical_query(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (b"a=1", b"a=2"),
        (b"a=1", b"A=1"),
        (b"a=1&a=2", b"a=2&a=1"),  # a list in another order, a different last value
        (b"a=1%262", b"a=1&2"),  # an encoded '&' is data, not a separator
        (b"a=%2B", b"a=+"),  # '+' as data against '+' as a space
    ],
)
def test_queries_the_app_reads_differently_never_share_a_form(left: bytes, right: bytes) -> None:
    assert canonical_query(left) != canonical_query(right)


@pytest.mark.parametrize(
    "query",
    [b"b=2&a=1&a=3", b"x=%26&y=%3D&z=a+b", b"limit=10&offset=", b"q=%FF%FE", b"k=caf\xc3\xa9"],
)
def test_the_canonical_query_means_the_same_to_the_app(query: bytes) -> None:
    original = QueryParams(query.decode("latin-1"))
    canonical = QueryParams(canonical_query(query).decode("latin-1"))
    for name in original:
        non_empty = [value for value in original.getlist(name) if value != ""]
        assert canonical.getlist(name) == non_empty
        if non_empty and original[name] != "":
            assert canonical[name] == original[name]


def test_duplicate_parameters_keep_their_order_within_a_name() -> None:
    assert parse_qsl(canonical_query(b"b=1&a=z&b=0&a=y").decode()) == [
        ("a", "z"),
        ("a", "y"),
        ("b", "1"),
        ("b", "0"),
    ]


def test_paths_are_quoted_so_no_character_poses_as_a_separator() -> None:
    # The server decodes %3F to '?' and %7C to '|' in scope["path"]: the key re-encodes them.
    assert key_path("/api/v1/a?b|c d") == "/api/v1/a%3Fb%7Cc%20d"
    assert key_path("/API/v1/x") != key_path("/api/v1/x")
    assert key_path("/api/v1/x/") != key_path("/api/v1/x")
    assert key_path("/x", "/root") == "/root/x"


def test_identities_are_quoted_and_none_is_a_dash() -> None:
    assert key_field(None) == "-"
    assert key_field(42) == "42"
    assert key_field("guest:42|u=1") == "guest%3A42%7Cu%3D1"


def test_a_template_renders_its_fields() -> None:
    template = KeyTemplate("{method} {endpoint}?{query} u={user_id} c={client_id}")
    parts = KeyParts("/p", "GET", "a=1", user_id="7", client_id="9")
    assert template.render(parts) == "GET /p?a=1 u=7 c=9"
    assert template.varies_on("user_id") and template.varies_on("client_id")
    assert KeyTemplate(None).render(parts) == "GET:/p?a=1"


@pytest.mark.parametrize("pattern", ["{endpoint}", "{query}", "{endpoint}{query}{nope}"])
def test_a_template_that_could_merge_requests_is_refused(pattern: str) -> None:
    with pytest.raises(KeyPatternError):
        KeyTemplate(pattern)
