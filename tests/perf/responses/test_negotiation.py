"""Accept-Encoding negotiation as RFC 9110 §12.5.3 describes it."""

from __future__ import annotations

import pytest

from banrimkwae.perf.responses.negotiation import (
    SERVER_PREFERENCE,
    choose_encoding,
    parse_accept_encoding,
)


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        # What browsers send: the server's preference decides among equals.
        ("gzip, deflate, br, zstd", "br"),
        ("gzip, deflate", "gzip"),
        ("zstd, gzip", "zstd"),
        # q-values win over the server's preference.
        ("gzip;q=0.9, br;q=0.5", "gzip"),
        ("br;q=0.1, zstd;q=0.2, gzip;q=0.3", "gzip"),
        # q=0 means never, even through `*`.
        ("br;q=0, *", "zstd"),
        ("br;q=0, zstd;q=0, gzip;q=0", None),
        ("*;q=0", None),
        ("*", "br"),
        ("*;q=0.5, gzip", "gzip"),
        # identity asked for with a higher q than any coding.
        ("gzip;q=0.2, identity;q=0.8", None),
        ("gzip;q=0.8, identity;q=0.2", "gzip"),
        # A coding alone at a low q is still better than nothing.
        ("gzip;q=0.001", "gzip"),
        ("identity", None),
        ("deflate, compress", None),
        # Names are case-insensitive; x-gzip is gzip; spaces around members and parameters.
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("  br ; q=1.000 ,gzip", "br"),
        ("BR;Q=0.5, gzip;q=0.4", "br"),
        # The first occurrence of a coding counts.
        ("gzip;q=0, gzip;q=1", None),
        # No header, or an empty one: identity.
        (None, None),
        ("", None),
        (b"gzip, br", "br"),
    ],
)
def test_choice(header: str | bytes | None, chosen: str | None) -> None:
    assert choose_encoding(header, SERVER_PREFERENCE) == chosen


@pytest.mark.parametrize(
    "header",
    [
        "gzip;q=2",  # above 1
        "gzip;q=1.5",
        "gzip;q=0.1234",  # more than three decimals
        "gzip;q=",
        "gzip;q=abc",
        "gzip;q=-1",
        "gz ip",
        "gzip\x00",
        ";q=1",
        ",,,",
        "br;q=0.5;q",
    ],
)
def test_malformed_members_are_absent(header: str) -> None:
    assert choose_encoding(header, SERVER_PREFERENCE) is None


def test_a_malformed_member_does_not_hide_the_others() -> None:
    assert choose_encoding("br;q=7, gzip;q=0.5", SERVER_PREFERENCE) == "gzip"
    assert choose_encoding("@@@, zstd", SERVER_PREFERENCE) == "zstd"


def test_only_the_available_codings_are_chosen() -> None:
    assert choose_encoding("br, zstd, gzip", ("gzip",)) == "gzip"
    assert choose_encoding("br", ["gzip", "zstd"]) is None
    assert choose_encoding("gzip, zstd", ["zstd", "gzip"]) == "zstd"


def test_other_parameters_are_ignored() -> None:
    assert parse_accept_encoding("gzip;level=9;q=0.5, br") == {"gzip": 0.5, "br": 1.0}


def test_repeated_headers_give_the_same_answer_from_the_cache() -> None:
    first = [choose_encoding(f"gzip;q=0.{n:03d}, br;q=0.5", SERVER_PREFERENCE) for n in range(999)]
    again = [choose_encoding(f"gzip;q=0.{n:03d}, br;q=0.5", SERVER_PREFERENCE) for n in range(999)]
    assert first == again
    assert first[400] == "br" and first[600] == "gzip"


def test_a_huge_header_is_answered_and_not_remembered() -> None:
    from banrimkwae.perf.responses import negotiation

    header = "gzip;q=0.5, " + ", ".join(f"x-{n}" for n in range(2000)) + ", br"
    assert choose_encoding(header, SERVER_PREFERENCE) == "br"
    assert all(len(key[0]) <= 256 for key in negotiation._cache)
