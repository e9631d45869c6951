"""The security suite: one guest's cached data is never served to anyone else.

Guest 1's answers are cached first; then every trick below tries to obtain them as guest 2,
as anonymous, with a forged or expired token, or through a key that might collide. The
origin always answers from the caller's own identity, so any leak shows as guest 1's secret
in a response that was not guest 1's.
"""

from __future__ import annotations

import pytest

from banrimkwae.perf.cache.store import ResponseStore
from tests.perf.cache.origin import POLICY_ROWS, cached_client, policies

SECRET = "private data of guest-1"
GUEST_1 = {"Authorization": "Bearer guest-1"}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/me", {"Authorization": "Bearer guest-2"}),
        ("/me", {}),
        ("/me", {"Authorization": "Bearer guest-x1"}),  # does not verify: BYPASS
        ("/me", {"Authorization": "Basic Z3Vlc3QtMQ=="}),
        ("/me", {"Cookie": "session=guest-1"}),
        ("/me?", {"Authorization": "Bearer guest-2"}),
        ("/me?user=guest-1", {"Authorization": "Bearer guest-2"}),
        ("/me?u=guest-1", {}),
        ("/me/", {"Authorization": "Bearer guest-2"}),
        ("/ME", {"Authorization": "Bearer guest-2"}),
        ("//me", {"Authorization": "Bearer guest-2"}),
        ("/me%3Fu=guest-1", {}),
        ("/me%7Cu=guest-1", {}),
        ("/./me", {"Authorization": "Bearer guest-2"}),
        ("/x/../me", {}),
        ("/me", {"Authorization": "Bearer guest-2", "X-Client-Id": "1"}),
    ],
)
async def test_another_caller_never_gets_a_guests_cached_answer(
    store: ResponseStore, path: str, headers: dict[str, str]
) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        for _ in range(2):  # cached, and a hit for guest 1
            mine = await client.get("/me", headers=GUEST_1)
            assert SECRET in mine.text
        assert mine.headers["x-cache"] == "HIT l1"
        for _ in range(2):  # the trick, twice: also never from its own entry
            response = await client.get(path, headers=headers)
            assert SECRET not in response.text


async def test_an_anonymous_answer_is_never_served_to_a_guest(store: ResponseStore) -> None:
    rows = [dict(r) for r in POLICY_ROWS]
    async with cached_client(store, holder=policies(rows)) as (client, _origin, _cache):
        anonymous = await client.get("/me")
        mine = await client.get("/me", headers=GUEST_1)
    assert anonymous.status_code == 401
    assert mine.status_code == 200 and SECRET in mine.text


async def test_credentials_on_a_public_policy_bypass_the_cache(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        await client.get("/items")
        with_token = await client.get("/items", headers=GUEST_1)
        await client.get("/items", headers=GUEST_1)
    assert with_token.headers["x-cache"] == "BYPASS"
    assert origin.calls["GET /items"] == 3


async def test_without_an_identify_hook_no_credentialed_request_is_cached(
    store: ResponseStore,
) -> None:
    async with cached_client(store, identify_with=None) as (client, origin, _cache):
        for _ in range(2):
            response = await client.get("/me", headers=GUEST_1)
            assert response.headers["x-cache"] == "BYPASS"
    assert origin.calls["GET /me"] == 2


async def test_a_guest_key_cannot_be_forged_through_the_query(store: ResponseStore) -> None:
    # The default user-scoped key is ...?{query}|u={user_id}: a query that spells "|u=1"
    # is percent-encoded, so it can never end like guest 1's key.
    async with cached_client(store) as (client, _origin, _cache):
        await client.get("/me", headers=GUEST_1)
        forged = await client.get(
            "/me?x=%7Cu%3Dguest-1", headers={"Authorization": "Bearer guest-2"}
        )
    assert SECRET not in forged.text
