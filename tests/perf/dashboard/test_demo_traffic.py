"""Where the demo's traffic goes: the address it dials and the paths it may read."""

from __future__ import annotations

from banrimkwae.demo_traffic import candidate_paths, local_base_url


def test_a_wildcard_bind_address_is_reached_on_loopback() -> None:
    assert local_base_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert local_base_url("::", 8000) == "http://[::1]:8000"
    assert local_base_url("127.0.0.1", 9001) == "http://127.0.0.1:9001"
    assert local_base_url("demo.internal", 80) == "http://demo.internal:80"


def test_only_reads_of_the_listed_properties_are_candidates() -> None:
    paths = candidate_paths([7])
    assert paths[0] == "/api/v1/properties"
    assert "/api/v1/properties/7/rooms" in paths
    assert all(path.startswith("/api/v1/properties") for path in paths)
    assert candidate_paths([]) == ["/api/v1/properties"]
