"""The in-process overhead benchmark replays the same requests against every variant."""

from __future__ import annotations

import pytest

from bench import overhead


def test_every_variant_answers_the_same_replayed_read_mix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    overhead.main(["--workload", "resort-read-mix", "--requests", "30", "--rounds", "2"])

    report = capsys.readouterr().out
    rows = {
        line.split("|")[1].strip(): line.split("|")[5].strip()
        for line in report.splitlines()
        if line.startswith("| ") and not line.startswith("| variant")
    }
    assert set(rows) == set(overhead.VARIANTS)
    # Each variant ran on its own copy of the database, so the writes in the mix met the same
    # rows and every variant answered the same statuses.
    assert len(set(rows.values())) == 1, rows
    assert "200:" in rows["naive"].replace(" ", "")
    assert "One flush of the platform's in-memory aggregates" in report
