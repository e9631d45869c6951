"""Load traces: CSV with `t` (seconds from start) and `rps` (mean rate until the next row).

The last row's rate lasts as long as the step before it. A malformed file raises TraceError
whose message names the file and line in one line.
"""

from __future__ import annotations

import bisect
import csv
import math
from dataclasses import dataclass
from pathlib import Path


class TraceError(ValueError):
    """A trace that cannot be read; the message names the line."""


@dataclass(frozen=True, slots=True)
class Trace:
    name: str
    times: tuple[float, ...]
    rates: tuple[float, ...]

    @property
    def end(self) -> float:
        if len(self.times) == 1:
            return self.times[0] + 60.0
        return self.times[-1] + (self.times[-1] - self.times[-2])

    def next_change(self, t: float) -> float:
        """When the rate next changes after `t` (the end when it does not)."""
        index = bisect.bisect_right(self.times, t)
        return self.times[index] if index < len(self.times) else self.end

    def rate_at(self, t: float) -> float:
        index = bisect.bisect_right(self.times, t) - 1
        return self.rates[index] if index >= 0 else 0.0


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: {what} {text.strip()!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise TraceError(f"{where}: {what} {text.strip()!r} must be a non-negative number")
    return value


def read_trace(path: Path) -> Trace:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read the trace ({exc.strerror})") from None
    times: list[float] = []
    rates: list[float] = []
    with handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None or [cell.strip() for cell in header[:2]] != ["t", "rps"]:
            raise TraceError(
                f"{path} line 1: the header must be 't,rps', not {','.join(header or [])!r}"
            )
        for row in rows:
            where = f"{path} line {rows.line_num}"
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise TraceError(f"{where}: expected {len(header)} columns, found {len(row)}")
            t = _number(row[0], "t", where)
            if times and t <= times[-1]:
                raise TraceError(
                    f"{where}: t {row[0].strip()} does not increase (after {times[-1]:g})"
                )
            times.append(t)
            rates.append(_number(row[1], "rps", where))
    if not times:
        raise TraceError(f"{path} line 2: the trace has no rows")
    return Trace(path.stem, tuple(times), tuple(rates))
