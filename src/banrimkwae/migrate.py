"""Schema management: upgrade and downgrade the database named by a URL.

Placeholder until the Alembic history lands: creates every table from the models.
"""

from __future__ import annotations

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import PlatformBase
from banrimkwae.resort.models import metadata as resort_metadata


async def upgrade(url: str, revision: str = "head") -> None:
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(resort_metadata.create_all)
            await connection.run_sync(PlatformBase.metadata.create_all)
    finally:
        await engine.dispose()


async def downgrade(url: str, revision: str = "base") -> None:
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(PlatformBase.metadata.drop_all)
            await connection.run_sync(resort_metadata.drop_all)
    finally:
        await engine.dispose()
