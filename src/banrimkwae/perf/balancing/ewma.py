"""Peak-EWMA latency: an average that jumps up to a slow sample at once and decays slowly.

A plain moving average hides a replica that just turned slow until many samples agree; the
peak variant takes any sample above the average as the new average, then lets it decay with
a time constant, so a slow endpoint is avoided at once and tried again once it has cooled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class PeakEwma:
    """Latency estimate in seconds; `decay_seconds` is the time constant of the decay."""

    decay_seconds: float = 10.0
    value: float = 0.0
    stamp: float | None = None

    def observe(self, latency: float, now: float) -> None:
        if self.stamp is None or latency > self.value:
            self.value = latency
        else:
            # The weight of the old value shrinks with the time since the last sample.
            elapsed = max(now - self.stamp, 0.0)
            keep = math.exp(-elapsed / self.decay_seconds)
            self.value = self.value * keep + latency * (1.0 - keep)
        self.stamp = now
