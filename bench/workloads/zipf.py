"""Zipf-distributed choice over ids: a few are hot, most are rarely asked for."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence


class ZipfPicker:
    """Picks ids with probability proportional to 1 / rank**s.

    Ranks are assigned by shuffling the ids once with `order_rng`, so the hot ids are spread
    over the id range (not simply the oldest rows) and stay the same for every round.
    """

    def __init__(self, ids: Sequence[int], s: float, order_rng: random.Random) -> None:
        if not ids:
            raise ValueError("no ids to pick from")
        self.ids = list(ids)
        order_rng.shuffle(self.ids)
        weights = (1.0 / rank**s for rank in range(1, len(self.ids) + 1))
        self._cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> int:
        point = rng.random() * self._cumulative[-1]
        return self.ids[bisect.bisect_right(self._cumulative, point)]
