"""Routes of the dashboard: the page at /admin/performance and its assets.

The page itself holds no data and needs no credential: it reads the admin API with the API
key the operator types in, like any script would. Assets are read once, named by a hash of
their content in the page (`?v=`), and served with a year-long immutable Cache-Control, so a
browser fetches each version once; the page itself is revalidated on every load. Compression
is the platform's CompressionMiddleware, which wraps every response.

Charts use the plotly.js bundle shipped inside the `plotly` wheel: no CDN, works offline.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from fastapi import APIRouter
from starlette.responses import Response

from banrimkwae.perf.problems import ProblemError

DASHBOARD_PATH = "/admin/performance"
ASSETS_PATH = f"{DASHBOARD_PATH}/assets"
IMMUTABLE = "public, max-age=31536000, immutable"
# The page lists its assets by version; it must be revalidated so a new version is seen.
PAGE_CACHE = "no-cache"
# Scripts and styles come only from this server; the API is on the same origin.
# Plotly sets inline styles on its chart elements, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str


def _asset(name: str, body: bytes) -> Asset:
    suffix = name[name.rfind(".") :]
    return Asset(body, _MEDIA_TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])


def _plotly_bundle() -> Traversable | None:
    try:
        bundle = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    except ModuleNotFoundError:
        return None
    return bundle if bundle.is_file() else None


def load_assets() -> dict[str, Asset]:
    """The dashboard's own files and plotly.js, read once."""
    static = importlib.resources.files("banrimkwae.perf.dashboard") / "static"
    assets = {
        name: _asset(name, (static / name).read_bytes())
        for name in ("dashboard.js", "dashboard.css")
    }
    bundle = _plotly_bundle()
    if bundle is not None:
        assets["plotly.min.js"] = _asset("plotly.min.js", bundle.read_bytes())
    return assets


def render_page(assets: dict[str, Asset]) -> bytes:
    """index.html with each `{{name}}` placeholder replaced by the asset's versioned URL."""
    static = importlib.resources.files("banrimkwae.perf.dashboard") / "static"
    page = (static / "index.html").read_text(encoding="utf-8")
    if "plotly.min.js" not in assets:
        # Without plotly the page still works, tables only: its script tag goes.
        page = "\n".join(line for line in page.splitlines() if "{{plotly.min.js}}" not in line)
    for name, asset in assets.items():
        page = page.replace("{{" + name + "}}", f"{ASSETS_PATH}/{name}?v={asset.version}")
    return page.encode()


def dashboard_router() -> APIRouter:
    assets = load_assets()
    page = render_page(assets)
    page_etag = f'"{hashlib.sha256(page).hexdigest()[:16]}"'
    router = APIRouter(include_in_schema=False)

    @router.get(DASHBOARD_PATH)
    async def dashboard_page() -> Response:
        return Response(
            page,
            media_type=_MEDIA_TYPES[".html"],
            headers={
                "Cache-Control": PAGE_CACHE,
                "ETag": page_etag,
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    @router.get(ASSETS_PATH + "/{name}")
    async def dashboard_asset(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            raise ProblemError(404, f"no dashboard asset named {name!r}")
        return Response(
            found.body,
            media_type=found.media_type,
            headers={
                "Cache-Control": IMMUTABLE,
                "ETag": f'"{found.version}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router
