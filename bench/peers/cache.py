"""Response-cache peers for bench/cache_hit.py: the naive app (platform off) with the list
endpoint GET /api/v1/properties cached the way a FastAPI user would cache it today, and the
ceiling: a bare ASGI app answering the same pre-encoded bytes.

- `fastapi_cache2_app`: fastapi-cache2's `@cache` decorator on the endpoint (in-memory
  backend; PickleCoder, since the endpoint returns a ready Response; key = path and query).
- `cashews_app`: cashews (`mem://`) around the endpoint: the key is the path and query, a
  hit returns the stored body in a Response. Routing and dependencies still run for both:
  that is where such caches live.
- `cache_without_metrics_app`: the platform's cache (and compression) without its metrics
  middleware, to show the cache's own share of a hit;
- `bare_app`: no framework at all; the bytes come from `BODY_FILE`, written by the bench
  from the platform's own answer before the runs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cashews import cache as cashews_cache
from fastapi import FastAPI, Request, Response
from fastapi_cache import FastAPICache
from fastapi_cache.backends.inmemory import InMemoryBackend
from fastapi_cache.coder import PickleCoder
from fastapi_cache.decorator import cache as fastapi_cache
from starlette.types import Receive, Scope, Send

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import load_settings
from banrimkwae.perf.responses.compression import CompressionMiddleware
from banrimkwae.resort.properties.router import PROPERTIES, list_properties

CACHED_PATH = "/api/v1/properties"
BODY_FILE = Path(__file__).resolve().parent.parent / "results" / "cache_hit_body.json"
TTL_SECONDS = 600


def _replace_endpoint(
    app: FastAPI, decorate: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    """Serve GET CACHED_PATH by `decorate(list_properties)`, ahead of the resort's route."""
    app.add_api_route(
        CACHED_PATH,
        decorate(list_properties),
        methods=["GET"],
        response_model=PROPERTIES.response_model(),
    )
    # The first route that matches wins: the cached one goes first.
    app.router.routes.insert(0, app.router.routes.pop())


def _request_key(request: Request) -> str:
    return f"{request.url.path}?{request.url.query}"


def fastapi_cache2_app() -> FastAPI:
    app = create_fastapi_app(load_settings(), with_platform=False)
    FastAPICache.init(InMemoryBackend(), prefix="bench", coder=PickleCoder)

    def key_builder(
        func: Callable[..., Any],
        namespace: str = "",
        *,
        request: Request | None = None,
        response: Response | None = None,
        args: Any = (),
        kwargs: Any = None,
    ) -> str:
        assert request is not None
        return f"{namespace}:{_request_key(request)}"

    _replace_endpoint(app, fastapi_cache(expire=TTL_SECONDS, key_builder=key_builder))
    return app


def _cashews(endpoint: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    signature = inspect.signature(endpoint, eval_str=True)
    wants_request = "request" in signature.parameters

    @functools.wraps(endpoint)
    async def cached(request: Request, **kwargs: Any) -> Response:
        key = _request_key(request)
        body = await cashews_cache.get(key)
        if body is not None:
            return Response(body, media_type="application/json")
        if wants_request:
            kwargs["request"] = request
        response = await endpoint(**kwargs)
        await cashews_cache.set(key, bytes(response.body), expire=TTL_SECONDS)
        return response

    parameters = [p for p in signature.parameters.values() if p.name != "request"]
    request_parameter = inspect.Parameter(
        "request", inspect.Parameter.KEYWORD_ONLY, annotation=Request
    )
    cached.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[request_parameter, *(p.replace(kind=p.KEYWORD_ONLY) for p in parameters)]
    )
    return cached


def cashews_app() -> FastAPI:
    app = create_fastapi_app(load_settings(), with_platform=False)
    cashews_cache.setup("mem://")
    _replace_endpoint(app, _cashews)
    return app


def bare_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    body = BODY_FILE.read_bytes()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    message = {"type": "http.response.body", "body": body}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send(start)
        await send(message)

    return app


def cache_without_metrics_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The platform's cache and compression around the app, without the metrics layer:
    shows what the cache itself costs on a hit (the platform as served adds metrics)."""
    settings = load_settings()
    app = create_fastapi_app(settings)
    platform = app.state.platform
    assert platform is not None and platform.cache is not None
    inner = CompressionMiddleware(app, min_size=settings.compression_min_size)
    return platform.cache.wrap(inner)
