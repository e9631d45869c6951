"""The dashboard at /admin/performance in a real browser, against `banrimkwae serve`.

Playwright's Python client drives Debian's Chromium (`/usr/bin/chromium`, never a downloaded
one). The server runs on a fresh SQLite database with a viewer and an operator key and one
pending recommendation; the tests read the page as an operator would and compare it with what
the admin API answered. Screenshots go to test-artifacts/dashboard/ (gitignored).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import insert

from banrimkwae import migrate
from banrimkwae.perf.admin.keys import create_key
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage.models import PerformanceRecommendation
from tests.conftest import TEST_SECRET, service_missing
from tests.e2e.server import ARTIFACTS, free_port, running_server

CHROMIUM = os.environ.get("BANRIMKWAE_TEST_CHROMIUM", "/usr/bin/chromium")
BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))
RECOMMENDATIONS = "/api/admin/performance/recommendations"
ALERTS_POLL_MS = 10_000  # dashboard.js polls the alerts this often
KPIS = (
    "avg_response_time_ms",
    "p95_response_time_ms",
    "cache_hit_rate",
    "total_requests",
    "avg_db_time_ms_per_request",
)


@dataclass(frozen=True)
class Served:
    url: str
    viewer: str
    operator: str
    recommendation_id: int


async def _prepare(url: str) -> tuple[str, str, int]:
    await migrate.upgrade(url)
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            viewer = await create_key(connection, role="viewer", name="e2e", actor="test")
            operator = await create_key(connection, role="operator", name="e2e", actor="test")
            created = await connection.execute(
                insert(PerformanceRecommendation).values(
                    recommendation_type="index",
                    priority="high",
                    target_resource="bookings(guest_id)",
                    description="Index bookings.guest_id: every guest page scans the table.",
                    expected_improvement="guest bookings p95 from 120 ms to 5 ms",
                    status="pending",
                )
            )
            recommendation_id = int(created.inserted_primary_key[0])  # type: ignore[index]
    finally:
        await engine.dispose()
    return viewer.key, operator.key, recommendation_id


def _report(served: Served, period: str = "24h") -> dict[str, Any]:
    response = httpx.get(
        f"{served.url}/api/admin/performance/report",
        params={"period": period},
        headers={"X-API-Key": served.viewer},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    database = tmp_path_factory.mktemp("dashboard") / "dashboard.db"
    url = f"sqlite+aiosqlite:///{database}"
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        viewer, operator, recommendation_id = thread.submit(asyncio.run, _prepare(url)).result()
    env = {
        "BANRIMKWAE_DATABASE_URL": url,
        "BANRIMKWAE_TOKEN_SECRET": TEST_SECRET,
        "BANRIMKWAE_LOG_LEVEL": "warning",
        "BANRIMKWAE_METRICS_FLUSH_INTERVAL": "1",
    }
    with running_server(env) as base_url:
        served = Served(base_url, viewer, operator, recommendation_id)
        # Traffic for the report to show, then wait until a flush has written it.
        for _ in range(20):
            httpx.get(f"{base_url}/api/v1/properties")
        deadline = time.monotonic() + 30
        while _report(served)["summary"]["total_requests"] < 20:
            assert time.monotonic() < deadline, "the traffic never reached the report"
            time.sleep(0.5)
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        service_missing(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
        assert errors == [], f"script errors on the page: {errors}"
    finally:
        _screenshot(opened, request.node.name + "-final")
        context.close()


def _screenshot(page: Page, name: str) -> None:
    directory = ARTIFACTS / "dashboard"
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def _open(page: Page, served: Served, key: str) -> dict[str, Any]:
    """Open the dashboard signed in through the #key= link; the report the page received."""
    with page.expect_response(
        lambda response: "/api/admin/performance/report?period=24h" in response.url
    ) as answer:
        page.goto(f"{served.url}/admin/performance#key={key}")
    page.wait_for_selector("body[data-loaded-period='24h']")
    return dict(answer.value.json())


def _kpi_values(page: Page) -> dict[str, str]:
    return {kpi: page.get_attribute(f"[data-kpi={kpi}]", "data-value") or "" for kpi in KPIS}


def _expected(summary: dict[str, Any]) -> dict[str, str]:
    # data-value holds the number as JavaScript prints it; '' for null.
    return {
        kpi: "" if summary[kpi] is None else json.dumps(summary[kpi]).removesuffix(".0")
        for kpi in KPIS
    }


def test_loads_with_a_viewer_key_from_the_link(page: Page, served: Served) -> None:
    _open(page, served, served.viewer)
    # The key left the address bar and lives in this tab's session storage only.
    assert "#key" not in page.url
    assert page.evaluate("sessionStorage.getItem('banrimkwae.apiKey')") == served.viewer
    assert page.evaluate("localStorage.length") == 0
    assert page.is_visible("[role=tablist]")
    assert page.locator("[data-kpi]").count() == len(KPIS)
    _screenshot(page, "overview-viewer")


def test_a_wrong_key_is_refused_with_a_message(page: Page, served: Served) -> None:
    page.goto(f"{served.url}/admin/performance")
    page.fill("#api-key", "bk_not_a_real_key")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#sign-in-error:has-text('not valid')")
    assert page.is_hidden("#app")


def test_shows_the_numbers_the_report_api_returns(page: Page, served: Served) -> None:
    report = _open(page, served, served.viewer)
    summary = report["summary"]
    assert summary["total_requests"] >= 20
    assert _kpi_values(page) == _expected(summary)
    shown_total = page.inner_text("[data-kpi=total_requests] .value")
    assert shown_total == f"{summary['total_requests']:,}"
    # The slowest endpoints table lists the report's, in its order.
    shown = page.locator("#overview-slowest td[data-column=endpoint]").all_inner_texts()
    assert shown == [row["endpoint"] for row in report["top_slow_endpoints"][:10]]
    assert shown


def test_switches_period_and_tab(page: Page, served: Served) -> None:
    _open(page, served, served.viewer)
    with page.expect_response(lambda r: "/report?period=1h" in r.url) as answer:
        page.select_option("#period", "1h")
    page.wait_for_selector("body[data-loaded-period='1h']")
    assert _kpi_values(page) == _expected(answer.value.json()["summary"])

    page.get_by_role("tab", name="Endpoints").click()
    assert page.get_attribute("#tab-endpoints", "aria-selected") == "true"
    assert page.is_visible("#panel-endpoints") and page.is_hidden("#panel-overview")
    assert "/api/v1/properties" in page.inner_text("#endpoints-table")
    _screenshot(page, "endpoints-1h")

    # Keyboard: arrows move between tabs, as the ARIA tabs pattern has it.
    page.focus("#tab-endpoints")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-database", "aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "tab-database"
    assert page.is_visible("#panel-database")

    page.get_by_role("tab", name="Auto Scaling").click()
    # Either the scaling API answers, or the panel says plainly that it is not there.
    page.wait_for_selector("#scaling-instances > *")
    _screenshot(page, "auto-scaling")


def test_the_live_view_follows_the_feed(page: Page, served: Served) -> None:
    _open(page, served, served.viewer)
    page.get_by_role("tab", name="Live").click()
    page.wait_for_selector("#live-state:has-text('Worker')")
    page.wait_for_selector("#chart-live .main-svg")
    _screenshot(page, "live")


def _recommendations_exist(served: Served) -> bool:
    answer = httpx.get(f"{served.url}{RECOMMENDATIONS}", headers={"X-API-Key": served.viewer})
    return answer.status_code != 404


def _status_of(served: Served, recommendation_id: int) -> str:
    answer = httpx.get(
        f"{served.url}{RECOMMENDATIONS}",
        params={"limit": 200},
        headers={"X-API-Key": served.viewer},
    )
    body = answer.json()
    rows = body["data"] if isinstance(body, dict) else body
    return str(next(row["status"] for row in rows if row["id"] == recommendation_id))


def test_a_viewer_is_refused_a_status_change(page: Page, served: Served) -> None:
    if not _recommendations_exist(served):
        pytest.skip(f"{RECOMMENDATIONS} is not served yet")
    before = _status_of(served, served.recommendation_id)
    _open(page, served, served.viewer)
    page.get_by_role("tab", name="Recommendations").click()
    # The viewer sees the actions; the server, not the page, decides who may use them.
    button = page.locator(f"button[data-id='{served.recommendation_id}']").first
    with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        button.click()
    assert answer.value.status == 403
    page.wait_for_selector("#recommendations-message:has-text('operator key')")
    assert _status_of(served, served.recommendation_id) == before
    _screenshot(page, "recommendation-refused")


def test_an_operator_changes_a_recommendations_status(page: Page, served: Served) -> None:
    if not _recommendations_exist(served):
        pytest.skip(f"{RECOMMENDATIONS} is not served yet")
    _open(page, served, served.operator)
    page.get_by_role("tab", name="Recommendations").click()
    button = f"button[data-id='{served.recommendation_id}'][data-action=implementing]"
    with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        page.click(button)
    assert answer.value.status == 200
    page.wait_for_selector(f"button[data-id='{served.recommendation_id}'][data-action=completed]")
    assert _status_of(served, served.recommendation_id) == "implementing"
    _screenshot(page, "recommendation-implementing")


def test_missing_admin_endpoints_show_not_available(page: Page, served: Served) -> None:
    _open(page, served, served.viewer)
    page.get_by_role("tab", name="Recommendations").click()
    if _recommendations_exist(served):
        assert page.locator("#recommendations-table table").count() == 1
    else:
        # The report's pending recommendations are still listed, read-only.
        page.wait_for_selector("#recommendations-table [data-state=unavailable]")
        assert "bookings(guest_id)" in page.inner_text("#recommendations-table")


def _as_operator(served: Served, method: str, path: str, **options: Any) -> dict[str, Any]:
    answer = httpx.request(
        method, f"{served.url}{path}", headers={"X-API-Key": served.operator}, **options
    )
    assert answer.is_success, answer.text
    return dict(answer.json())


def _alert_status(served: Served, name: str) -> str | None:
    alerts = _as_operator(served, "GET", "/api/admin/alerts")["data"]
    return next((alert["status"] for alert in alerts if alert["name"] == name), None)


def test_an_alert_appears_as_it_fires_and_as_it_resolves(page: Page, served: Served) -> None:
    rule = _as_operator(
        served,
        "POST",
        "/api/admin/alerts/rules",
        json={"name": "e2e_p95_above_zero", "metric": "p95_ms", "threshold": 0,
              "window_seconds": 3600, "severity": "critical"},
    )  # fmt: skip
    try:
        # Evaluated now (the server's own timer may evaluate it first: either way it fires).
        _as_operator(served, "POST", "/api/admin/alerts/evaluate")
        assert _alert_status(served, "e2e_p95_above_zero") == "firing"

        # The page's timers run on a clock the test can move: its next alert poll is brought
        # forward below instead of waited for (time otherwise flows as usual).
        page.clock.install()
        _open(page, served, served.viewer)
        item = "#alerts-list [data-rule=e2e_p95_above_zero]"
        page.wait_for_selector(f"{item}[data-status=firing][data-severity=critical]")
        assert "p95_ms > 0 ms" in page.inner_text(item)
        # The badge in the header, seen whichever tab is open.
        page.get_by_role("tab", name="Cache").click()
        assert page.is_visible("#alerts-badge.bad")
        assert int(page.get_attribute("#alerts-badge", "data-firing") or 0) >= 1
        _screenshot(page, "alert-firing")

        # Raised out of reach, the rule resolves; the open page shows it at its next poll.
        _as_operator(served, "PATCH", f"/api/admin/alerts/rules/{rule['id']}",
                     json={"threshold": 1_000_000})  # fmt: skip
        _as_operator(served, "POST", "/api/admin/alerts/evaluate")
        assert _alert_status(served, "e2e_p95_above_zero") == "resolved"
        page.clock.fast_forward(ALERTS_POLL_MS)
        page.wait_for_selector(f"{item}[data-status=resolved]", timeout=30_000)
        page.wait_for_selector("#alerts .alert.resolved:has-text('e2e_p95_above_zero')")
        _screenshot(page, "alert-resolved")
    finally:
        httpx.delete(
            f"{served.url}/api/admin/alerts/rules/{rule['id']}",
            headers={"X-API-Key": served.operator},
        )


def test_demo_prints_a_signed_in_dashboard_link_and_makes_traffic(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        "BANRIMKWAE_SECRET_FILE": str(tmp_path / "secret"),
        "BANRIMKWAE_METRICS_FLUSH_INTERVAL": "1",
    }
    process = subprocess.Popen(
        [BANRIMKWAE, "demo", "--scale", "small", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        link = ""
        while not link:
            line = process.stdout.readline()
            assert line, "demo exited without printing the dashboard link"
            if line.startswith("Dashboard:"):
                link = line.split(maxsplit=1)[1].strip()
        page, _, key = link.partition("#key=")
        assert page == f"http://127.0.0.1:{port}/admin/performance"
        # Only the generator reads single properties: once they show up, it is running.
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, "demo exited"
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/admin/performance/endpoints",
                    params={"period": "1h"},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=5,
                )
            except httpx.TransportError:
                answer = None
            if answer is not None:
                assert answer.status_code == 200, answer.text
                served = {row["endpoint"] for row in answer.json()["data"]}
                if "/api/v1/properties/{property_id}" in served:
                    break
            assert time.monotonic() < deadline, "no demo traffic reached the report in 120 s"
            time.sleep(1)
    finally:
        process.terminate()
        process.communicate(timeout=20)
