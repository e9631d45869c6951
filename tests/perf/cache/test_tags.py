"""Versioned tags without Redis: the shared counter table that workers of one machine map."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from banrimkwae.perf.cache.tags import LocalTagVersions


def test_a_bump_changes_the_versions_of_its_tags_only() -> None:
    versions = LocalTagVersions()
    before = {"property:1": versions.version("property:1"), "property:2": 0}
    stamped = versions.stamp(["property:1", "property:2"], versions.snapshot())
    assert stamped == before
    versions.bump(["property:1"])
    assert not versions.is_current(stamped)
    assert versions.is_current({"property:2": stamped["property:2"]})


def test_stamping_refuses_tags_bumped_after_the_snapshot() -> None:
    versions = LocalTagVersions()
    snapshot = versions.snapshot()
    versions.bump(["table:bookings"])
    assert versions.stamp(["table:bookings"], snapshot) is None
    assert versions.stamp(["table:rooms"], snapshot) is not None
    assert versions.stamp(["table:bookings"], versions.snapshot()) is not None


def test_two_instances_on_one_file_see_each_other_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "tags")
    one, two = LocalTagVersions(path), LocalTagVersions(path)
    stamped = two.stamp(["room:9"], two.snapshot())
    assert stamped is not None
    one.bump(["room:9"])
    assert not two.is_current(stamped)  # no delivery delay: a read of shared memory
    assert two.snapshot() == one.snapshot()


def _bump_in_child(path: str, tag: str) -> None:
    LocalTagVersions(path).bump([tag])


def test_a_bump_in_another_os_process_is_seen(tmp_path: Path) -> None:
    path = str(tmp_path / "tags")
    here = LocalTagVersions(path)
    stamped = here.stamp(["table:guests"], here.snapshot())
    assert stamped is not None
    child = multiprocessing.get_context("spawn").Process(
        target=_bump_in_child, args=(path, "table:guests")
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert not here.is_current(stamped)


def test_colliding_tags_only_over_invalidate() -> None:
    versions = LocalTagVersions(slots=1)  # every tag shares one counter
    stamped = versions.stamp(["a", "b"], versions.snapshot())
    assert stamped is not None
    versions.bump(["a"])
    assert not versions.is_current({"b": stamped["b"]})  # over-invalidated, never stale


def test_versions_survive_reopening_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "tags")
    first = LocalTagVersions(path)
    first.bump(["x"])
    version = first.version("x")
    first.close()
    assert LocalTagVersions(path).version("x") == version
