"""Entity tags per coding and If-None-Match by weak comparison (RFC 9110 §13.1.2)."""

from __future__ import annotations

import pytest

from banrimkwae.perf.responses.validators import (
    etag_for_encoding,
    if_none_match,
    not_modified_headers,
    strong_etag,
)

BODY = b'{"id":1,"name":"Lagoon Villa"}'
TAG = strong_etag(BODY)


def test_a_strong_tag_is_quoted_and_depends_only_on_the_body() -> None:
    assert TAG.startswith(b'"') and TAG.endswith(b'"') and not TAG.startswith(b"W/")
    assert strong_etag(BODY) == TAG  # the same in every worker and after a restart
    assert strong_etag(BODY + b" ") != TAG
    # Pinned: a change of digest would invalidate every tag clients hold.
    assert strong_etag(b"") == b'"cae66941d9efbd404e4d88758ea67670"'


def test_every_coding_has_its_own_strong_tag() -> None:
    tags = {etag_for_encoding(TAG, coding) for coding in (None, "gzip", "br", "zstd")}
    assert len(tags) == 4
    assert etag_for_encoding(TAG, "br") == TAG[:-1] + b'-br"'
    assert etag_for_encoding(TAG, "identity") == TAG


@pytest.mark.parametrize(
    "header",
    [
        TAG,
        TAG.decode(),
        b"W/" + TAG,
        b"*",
        b' "other" , ' + TAG,
        b'"other",W/' + TAG + b',"third"',
        # The client holds another coding of the same body: the content is the same.
        etag_for_encoding(TAG, "gzip"),
        b"W/" + etag_for_encoding(TAG, "zstd"),
    ],
)
def test_matches(header: bytes | str) -> None:
    assert if_none_match(header, TAG)
    assert if_none_match(header, etag_for_encoding(TAG, "br"))


@pytest.mark.parametrize(
    "header",
    [None, b"", b'"other"', TAG[1:-1], b'"a,b", "c"', strong_etag(b"x"), b"garbage\xff"],
)
def test_does_not_match(header: bytes | None) -> None:
    assert not if_none_match(header, TAG)


def test_a_comma_inside_a_tag_is_part_of_the_tag() -> None:
    assert if_none_match(b'"x", "a,b"', b'"a,b"')
    assert not if_none_match(b'"a,b"', b'"a"')


def test_a_weak_current_tag_matches_weakly() -> None:
    assert if_none_match(b'"v1"', b'W/"v1"')


def test_not_modified_keeps_only_the_fields_a_304_carries() -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"123"),
        (b"content-encoding", b"br"),
        (b"etag", TAG),
        (b"vary", b"Accept-Encoding"),
        (b"cache-control", b"private, max-age=60"),
        (b"date", b"Fri, 27 Nov 2026 12:00:00 GMT"),
        (b"expires", b"Fri, 27 Nov 2026 12:01:00 GMT"),
        (b"content-location", b"/api/v1/properties/1"),
        (b"set-cookie", b"a=b"),
    ]
    assert [name for name, _ in not_modified_headers(headers)] == [
        b"etag",
        b"vary",
        b"cache-control",
        b"date",
        b"expires",
        b"content-location",
    ]
