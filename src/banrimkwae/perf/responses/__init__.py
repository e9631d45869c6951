"""Response shaping shared by the API and the platform's own endpoints."""

from banrimkwae.perf.responses.codecs import (
    BEST_LEVELS,
    DYNAMIC_LEVELS,
    compress,
    decompress,
    stream_compressor,
)
from banrimkwae.perf.responses.links import relative_link
from banrimkwae.perf.responses.negotiation import SERVER_PREFERENCE, choose_encoding
from banrimkwae.perf.responses.validators import (
    etag_for_encoding,
    if_none_match,
    not_modified_headers,
    strong_etag,
)

__all__ = [
    "BEST_LEVELS",
    "DYNAMIC_LEVELS",
    "SERVER_PREFERENCE",
    "choose_encoding",
    "compress",
    "decompress",
    "etag_for_encoding",
    "if_none_match",
    "not_modified_headers",
    "relative_link",
    "stream_compressor",
    "strong_etag",
]
