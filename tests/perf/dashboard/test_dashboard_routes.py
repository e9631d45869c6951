"""The dashboard as the app serves it: the page, its versioned assets, caching, compression."""

from __future__ import annotations

import importlib.resources
import re

import httpx

PAGE = "/admin/performance"


async def _asset_urls(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get(PAGE)
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="(/admin/performance/assets/[^"]+)"', page.text)
    return {url.split("/")[-1].split("?")[0]: url for url in urls}


async def test_the_page_needs_no_key_and_locks_down_what_it_may_load(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # Revalidated on every load, so a new version's asset URLs are seen at once.
    assert page.headers["cache-control"] == "no-cache"
    unchanged = await client.get(PAGE, headers={"If-None-Match": page.headers["etag"]})
    assert unchanged.status_code == 304
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert 'role="tablist"' in page.text and 'id="api-key"' in page.text
    # The data itself stays behind a key.
    report = await client.get("/api/admin/performance/report")
    assert report.status_code == 401


async def test_assets_are_versioned_by_content_and_cached_for_a_year(
    client: httpx.AsyncClient,
) -> None:
    urls = await _asset_urls(client)
    assert set(urls) == {"dashboard.css", "dashboard.js", "plotly.min.js"}
    for name, url in urls.items():
        response = await client.get(url)
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "?v=" in url
    plotly = await client.get(urls["plotly.min.js"])
    shipped = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    assert plotly.content == shipped.read_bytes()
    assert plotly.headers["content-type"].startswith("text/javascript")


async def test_plotly_crosses_the_wire_compressed_and_revalidates_to_304(
    client: httpx.AsyncClient,
) -> None:
    url = (await _asset_urls(client))["plotly.min.js"]
    compressed = await client.get(url, headers={"Accept-Encoding": "br"})
    assert compressed.headers["content-encoding"] == "br"
    identity = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers
    # httpx decoded the br body: the same script, in well under a third of the bytes.
    assert compressed.content == identity.content
    assert int(compressed.headers["content-length"]) < len(identity.content) // 3
    again = await client.get(
        url, headers={"Accept-Encoding": "br", "If-None-Match": compressed.headers["etag"]}
    )
    assert again.status_code == 304


async def test_an_unknown_asset_is_a_problem_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PAGE}/assets/../../etc/passwd")
    assert response.status_code == 404
    missing = await client.get(f"{PAGE}/assets/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
