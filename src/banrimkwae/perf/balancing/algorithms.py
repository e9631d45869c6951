"""Load distribution algorithms: each picks one endpoint among the healthy candidates.

They are pure apart from their own small state (a counter, the smooth weights) and a random
generator handed in, so tests drive them with tables and a seeded `random.Random`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from banrimkwae.perf.balancing.ewma import PeakEwma

AlgorithmName = Literal["round_robin", "weighted", "least_outstanding", "p2c_peak_ewma"]
ALGORITHMS: tuple[AlgorithmName, ...] = (
    "round_robin",
    "weighted",
    "least_outstanding",
    "p2c_peak_ewma",
)
# A never-measured endpoint costs this much: low enough that it gets tried soon.
_UNMEASURED_LATENCY = 0.0


@dataclass(slots=True, eq=False)
class Endpoint:
    """What the algorithms know of one endpoint: its weight, load and latency."""

    name: str
    weight: int = 1
    outstanding: int = 0
    latency: PeakEwma = field(default_factory=PeakEwma)

    def cost(self) -> float:
        # Expected wait if we add one more request: latency times the queue it joins.
        latency = self.latency.value if self.latency.stamp is not None else _UNMEASURED_LATENCY
        return latency * (self.outstanding + 1)


class Algorithm(Protocol):
    name: AlgorithmName

    def choose(self, candidates: Sequence[Endpoint]) -> Endpoint:
        """One of `candidates` (never empty)."""
        ...


class RoundRobin:
    name: AlgorithmName = "round_robin"

    def __init__(self) -> None:
        self._next = 0

    def choose(self, candidates: Sequence[Endpoint]) -> Endpoint:
        chosen = candidates[self._next % len(candidates)]
        self._next += 1
        return chosen


class SmoothWeighted:
    """Weighted round robin that interleaves (a, a, b -> a b a), not bursts (a a b)."""

    name: AlgorithmName = "weighted"

    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def choose(self, candidates: Sequence[Endpoint]) -> Endpoint:
        total = 0
        best: Endpoint | None = None
        for endpoint in candidates:
            weight = max(endpoint.weight, 0)
            total += weight
            current = self._current.get(endpoint.name, 0) + weight
            self._current[endpoint.name] = current
            if best is None or current > self._current[best.name]:
                best = endpoint
        assert best is not None
        self._current[best.name] -= total
        return best


class LeastOutstanding:
    """The endpoint with the fewest requests in flight; ties go round robin."""

    name: AlgorithmName = "least_outstanding"

    def __init__(self) -> None:
        self._tie = 0

    def choose(self, candidates: Sequence[Endpoint]) -> Endpoint:
        fewest = min(endpoint.outstanding for endpoint in candidates)
        tied = [endpoint for endpoint in candidates if endpoint.outstanding == fewest]
        self._tie += 1
        return tied[self._tie % len(tied)]


class PowerOfTwoPeakEwma:
    """Two endpoints at random, keep the cheaper by peak-EWMA latency times load.

    Sampling two instead of scanning all avoids sending every request to the one endpoint
    that looked best a moment ago (herding) while still steering away from a slow one.
    """

    name: AlgorithmName = "p2c_peak_ewma"

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def choose(self, candidates: Sequence[Endpoint]) -> Endpoint:
        if len(candidates) == 1:
            return candidates[0]
        first, second = self._rng.sample(range(len(candidates)), 2)
        a, b = candidates[first], candidates[second]
        return a if a.cost() <= b.cost() else b


def make_algorithm(name: AlgorithmName, rng: random.Random | None = None) -> Algorithm:
    if name == "round_robin":
        return RoundRobin()
    if name == "weighted":
        return SmoothWeighted()
    if name == "least_outstanding":
        return LeastOutstanding()
    if name == "p2c_peak_ewma":
        return PowerOfTwoPeakEwma(rng)
    raise ValueError(f"unknown balancing algorithm {name!r}; one of {', '.join(ALGORITHMS)}")
