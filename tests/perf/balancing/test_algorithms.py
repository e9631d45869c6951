"""The balancing algorithms, driven by tables of endpoint states."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from banrimkwae.perf.balancing import (
    ALGORITHMS,
    Endpoint,
    LeastOutstanding,
    PeakEwma,
    PowerOfTwoPeakEwma,
    RoundRobin,
    SmoothWeighted,
    make_algorithm,
)


def endpoints(*names: str) -> list[Endpoint]:
    return [Endpoint(name) for name in names]


def picks(algorithm: object, candidates: list[Endpoint], count: int) -> list[str]:
    return [algorithm.choose(candidates).name for _ in range(count)]  # type: ignore[attr-defined]


def test_round_robin_takes_each_in_turn() -> None:
    assert picks(RoundRobin(), endpoints("a", "b", "c"), 7) == ["a", "b", "c", "a", "b", "c", "a"]


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"a": 1, "b": 1}, ["a", "b", "a", "b"]),
        # Interleaved, not bursts: a a b would hit a twice in a row first.
        ({"a": 2, "b": 1}, ["a", "b", "a", "a", "b", "a"]),
        ({"a": 5, "b": 1, "c": 1}, ["a", "a", "b", "a", "c", "a", "a"]),
        ({"a": 0, "b": 1}, ["b", "b", "b"]),
    ],
)
def test_smooth_weighted_follows_the_weights_interleaved(
    weights: dict[str, int], expected: list[str]
) -> None:
    candidates = [Endpoint(name, weight=weight) for name, weight in weights.items()]
    assert picks(SmoothWeighted(), candidates, len(expected)) == expected


def test_smooth_weighted_shares_match_weights_over_a_cycle() -> None:
    candidates = [Endpoint("a", weight=3), Endpoint("b", weight=2), Endpoint("c", weight=1)]
    assert Counter(picks(SmoothWeighted(), candidates, 600)) == {"a": 300, "b": 200, "c": 100}


@pytest.mark.parametrize(
    ("outstanding", "allowed"),
    [
        ({"a": 3, "b": 0, "c": 2}, {"b"}),
        ({"a": 1, "b": 1, "c": 4}, {"a", "b"}),
        ({"a": 0}, {"a"}),
    ],
)
def test_least_outstanding_picks_the_least_busy(
    outstanding: dict[str, int], allowed: set[str]
) -> None:
    candidates = [Endpoint(name, outstanding=n) for name, n in outstanding.items()]
    chosen = set(picks(LeastOutstanding(), candidates, 10))
    assert chosen == allowed  # ties are shared, never starved


def test_peak_ewma_jumps_up_at_once_and_decays_slowly() -> None:
    ewma = PeakEwma(decay_seconds=10.0)
    ewma.observe(0.010, now=0.0)
    ewma.observe(0.100, now=0.1)
    assert ewma.value == pytest.approx(0.100)  # a slow sample is believed at once
    ewma.observe(0.010, now=0.2)
    assert 0.09 < ewma.value < 0.100  # a fast one only nudges it down
    ewma.observe(0.010, now=60.0)
    assert ewma.value == pytest.approx(0.010, rel=0.05)  # long after, the past is forgotten


def test_p2c_avoids_the_slow_endpoint() -> None:
    fast, slow = Endpoint("fast"), Endpoint("slow")
    fast.latency.observe(0.002, now=0.0)
    slow.latency.observe(0.050, now=0.0)
    # With two candidates both are always sampled: the cheaper one always wins.
    assert set(picks(PowerOfTwoPeakEwma(random.Random(1)), [fast, slow], 50)) == {"fast"}


def test_p2c_weighs_load_against_latency() -> None:
    fast, slow = Endpoint("fast", outstanding=30), Endpoint("slow")
    fast.latency.observe(0.002, now=0.0)  # cost 0.002 * 31 = 0.062
    slow.latency.observe(0.050, now=0.0)  # cost 0.050 * 1 = 0.050
    assert PowerOfTwoPeakEwma(random.Random(1)).choose([fast, slow]) is slow


def test_p2c_tries_an_unmeasured_endpoint() -> None:
    measured, fresh = Endpoint("measured"), Endpoint("fresh")
    measured.latency.observe(0.005, now=0.0)
    assert PowerOfTwoPeakEwma(random.Random(1)).choose([measured, fresh]) is fresh


def test_p2c_spreads_over_equal_endpoints() -> None:
    candidates = endpoints("a", "b", "c", "d")
    counts = Counter(picks(PowerOfTwoPeakEwma(random.Random(7)), candidates, 400))
    assert set(counts) == {"a", "b", "c", "d"}


@pytest.mark.parametrize("name", ALGORITHMS)
def test_every_algorithm_returns_the_only_candidate(name: str) -> None:
    only = Endpoint("only")
    assert make_algorithm(name).choose([only]) is only  # type: ignore[arg-type]


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown balancing algorithm"):
        make_algorithm("random")  # type: ignore[arg-type]
