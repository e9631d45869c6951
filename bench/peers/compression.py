"""Compression peers: the naive app (platform off) with what a FastAPI user adds today.

`starlette_gzip`: Starlette's GZipMiddleware at its defaults (level 9, 500 bytes minimum);
`brotli_asgi`: brotli-asgi's BrotliMiddleware at its defaults (quality 4, gzip fallback);
`own_compression`: the same naive app wrapped by the platform's CompressionMiddleware alone,
so the three differ only in how they compress.
"""

from __future__ import annotations

from brotli_asgi import BrotliMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import load_settings
from banrimkwae.perf.responses.compression import CompressionMiddleware


def starlette_gzip() -> ASGIApp:
    app = create_fastapi_app(load_settings(), with_platform=False)
    app.add_middleware(GZipMiddleware)
    return app


def brotli_asgi() -> ASGIApp:
    app = create_fastapi_app(load_settings(), with_platform=False)
    app.add_middleware(BrotliMiddleware)
    return app


def own_compression() -> ASGIApp:
    settings = load_settings()
    app = create_fastapi_app(settings, with_platform=False)
    return CompressionMiddleware(app, min_size=settings.compression_min_size)
