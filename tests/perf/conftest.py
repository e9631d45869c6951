"""Fixtures of the platform's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db import create_engine_for_url


@pytest.fixture
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the module's own migrated database."""
    engine = create_engine_for_url(module_database_url)
    yield engine
    await engine.dispose()
