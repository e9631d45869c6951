"""`banrimkwae alerts export`: Prometheus alerting rules that promtool accepts, over the
metric names /metrics really exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.alerts import Rule, export_rules, referenced_metrics
from banrimkwae.perf.alerts.router import AlertRuleFields
from tests.conftest import make_settings, service_missing

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))
ROOMS = "/api/v1/rooms/{room_id}"
# Names in a PromQL expression: an identifier followed by a selector or a range.
_SERIES = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[\[{]")


def promtool_check_rules(path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        service_missing("promtool (Debian package prometheus) is not installed")
        return
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def every_kind_of_rule() -> list[Rule]:
    """A rule of every metric, for the whole API and (where measured) for one endpoint."""
    rules: list[Rule] = []
    metrics = AlertRuleFields.model_fields["metric"].annotation.__args__  # type: ignore[union-attr]
    for number, metric in enumerate(metrics, start=1):
        rules.append(Rule(number, f"{metric}_all", metric, "above", 1.0, 300, "warning", 60))
        rules.append(
            Rule(100 + number, f"{metric}_rooms", metric, "below", 1.0, 600, "info", endpoint=ROOMS)
        )
    return rules


def test_every_rule_promql_can_express_is_exported_and_promtool_accepts_it(
    tmp_path: Path,
) -> None:
    exported = export_rules(every_kind_of_rule())
    path = tmp_path / "rules.yml"
    path.write_text(exported.yaml())

    promtool_check_rules(path)
    document = yaml.safe_load(path.read_text())
    by_name = {rule["alert"]: rule for rule in document["groups"][0]["rules"]}
    assert by_name["p95_ms_all"]["expr"].endswith("> 1")
    assert by_name["p95_ms_all"]["for"] == "1m"
    assert by_name["p95_ms_rooms"]["labels"] == {
        "severity": "info",
        "metric": "p95_ms",
        "endpoint": ROOMS,
    }
    assert f'http_route="{ROOMS}"' in by_name["error_rate_rooms"]["expr"]
    assert "[10m]" in by_name["error_rate_rooms"]["expr"]
    # /metrics has no scaling events, and no route label on cache, database and replica series.
    assert {name for name, _reason in exported.skipped} == {
        "scale_failed_events_all",
        "scale_failed_events_rooms",
        "cache_hit_rate_rooms",
        "db_time_ms_rooms",
        "replica_lag_seconds_rooms",
    }


async def test_every_series_an_export_names_is_on_metrics(module_database_url: str) -> None:
    app: FastAPI = create_fastapi_app(make_settings(module_database_url, metrics_public=True))
    async with app.router.lifespan_context(app):
        served = app.state.platform.wrap(app)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=served), base_url="http://testserver"
        ) as client:
            for _ in range(3):
                assert (await client.get("/api/v1/properties")).status_code == 200
            scrape = await client.get("/metrics")
    await app.state.database.dispose()
    assert scrape.status_code == 200, scrape.text
    families = list(text_string_to_metric_families(scrape.text))
    samples = {sample.name for family in families for sample in family.samples}
    declared = {family.name for family in families}

    named: set[str] = set()
    for rule in export_rules(every_kind_of_rule()).rules:
        named.update(_SERIES.findall(rule["expr"]))
    named -= {"by"}
    assert named == referenced_metrics()
    for name in named:
        # Replica lag is a series only with read replicas; its family is always declared.
        family = re.sub(r"_(bucket|sum|count|total)$", "", name)
        assert name in samples or family in declared, f"{name} is not on /metrics"
    assert named - {"banrimkwae_db_replica_lag_seconds"} <= samples


def test_the_command_exports_the_stored_rules(tmp_path: Path, migrated_url: str) -> None:
    output = tmp_path / "banrimkwae-alerts.yml"
    env = {**os.environ, "BANRIMKWAE_DATABASE_URL": migrated_url, "COLUMNS": "200"}
    done = subprocess.run(
        [BANRIMKWAE, "alerts", "export", "--output", str(output)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    promtool_check_rules(output)
    names = [rule["alert"] for rule in yaml.safe_load(output.read_text())["groups"][0]["rules"]]
    assert names == [
        "p95_above_target",
        "error_rate_high",
        "cache_hit_rate_low",
        "replica_lag_high",
    ]
    assert "not exported: scale_failed" in done.stderr

    listed = subprocess.run(
        [BANRIMKWAE, "alerts", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert "error_rate > 5 %" in listed.stdout and "scale_failed" in listed.stdout


def test_export_to_an_unwritable_place_fails_in_one_line(migrated_url: str) -> None:
    done = subprocess.run(
        [BANRIMKWAE, "alerts", "export", "--output", "/nonexistent/dir/rules.yml"],
        env={**os.environ, "BANRIMKWAE_DATABASE_URL": migrated_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: cannot write /nonexistent/dir/rules.yml")
    assert len(done.stderr.strip().splitlines()) == 1
