"""Links in response bodies."""

from __future__ import annotations

from starlette.datastructures import URL


def relative_link(url: URL) -> str:
    """Path and query only: the same bytes whatever host name the client used."""
    return f"{url.path}?{url.query}" if url.query else url.path
