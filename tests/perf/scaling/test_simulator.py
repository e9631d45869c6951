"""The simulator on the shipped traces: the targets of the issue, the CLI, bad traces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from banrimkwae.perf.scaling.simulator import (
    MEASURED_CAPACITY_RPS,
    SimulationResult,
    simulate,
    simulation_config,
)
from banrimkwae.perf.scaling.trace import Trace, TraceError, read_trace
from banrimkwae.perf.scaling.tracegen import TRACES, write_traces

SHIPPED = Path(__file__).parents[3] / "src" / "banrimkwae" / "perf" / "scaling" / "traces"
CLI = str(Path(sys.executable).with_name("banrimkwae"))
JSON_KEYS = {
    "accuracy",
    "under_provisioning_accuracy",
    "over_provisioning_accuracy",
    "timeshare_under",
    "timeshare_over",
    "jitter",
    "slo_violation_minutes",
    "instance_hours",
    "capacity_rps",
    "startup_seconds",
}
_results: dict[tuple[str, str], SimulationResult] = {}


def result(trace: str, policy: str) -> SimulationResult:
    if (trace, policy) not in _results:
        loaded = read_trace(SHIPPED / f"{trace}.csv")
        _results[trace, policy] = simulate(
            loaded, policy, simulation_config(policy, MEASURED_CAPACITY_RPS)
        )
    return _results[trace, policy]


@pytest.mark.parametrize("trace", sorted(TRACES))
def test_slo_is_accurate_on_every_shipped_trace(trace: str) -> None:
    assert result(trace, "slo").accuracy >= 0.95


@pytest.mark.parametrize("trace", sorted(TRACES))
def test_slo_beats_hpa_on_violations_without_more_instance_hours(trace: str) -> None:
    slo, hpa = result(trace, "slo"), result(trace, "hpa")
    assert slo.slo_violation_minutes < hpa.slo_violation_minutes
    assert slo.instance_hours <= hpa.instance_hours


def test_shipped_traces_are_what_the_generator_writes(tmp_path: Path) -> None:
    for path in write_traces(tmp_path):
        assert path.read_text() == (SHIPPED / path.name).read_text(), path.name


def test_an_ideal_supply_scores_full_accuracy() -> None:
    """A flat trace the policy starts right on: no scaling, every second in the band."""
    flat = Trace("flat", (0.0, 3600.0), (900.0, 900.0))
    scored = simulate(flat, "slo", simulation_config("slo", MEASURED_CAPACITY_RPS))
    assert scored.accuracy == 1.0
    assert scored.slo_violation_minutes == 0
    assert scored.timeshare_under == 0


def test_cli_json_has_the_documented_keys() -> None:
    finished = subprocess.run(
        [
            CLI,
            "autoscale",
            "simulate",
            "--trace",
            str(SHIPPED / "flash_crowd.csv"),
            "--policy",
            "hpa",
            "--format",
            "json",
            "--capacity",
            "500",
            "--startup",
            "3",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(finished.stdout)
    assert document.keys() >= JSON_KEYS
    assert (document["capacity_rps"], document["startup_seconds"]) == (500.0, 3.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("t,rps\n0,10\n60,abc\n", "line 3: rps 'abc' is not a number"),
        ("t,rps\n0,10\n60\n", "line 3: expected 2 columns, found 1"),
        ("t,rps\n0,10\n0,20\n", "line 3: t 0 does not increase"),
        ("t,rps\n0,-5\n", "line 2: rps '-5' must be a non-negative number"),
        ("time,rate\n0,1\n", "line 1: the header must be 't,rps'"),
        ("t,rps\n", "line 2: the trace has no rows"),
    ],
)
def test_malformed_trace_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TraceError, match=message):
        read_trace(path)
    finished = subprocess.run(
        [CLI, "autoscale", "simulate", "--trace", str(path)], capture_output=True, text=True
    )
    assert finished.returncode != 0
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
