"""One JSON form for instants on every dialect.

PostgreSQL returns aware values; SQLite and MariaDB return the stored UTC wall time without a
zone. `UtcDateTime` makes both the same aware UTC value, to whole seconds (MariaDB's TIMESTAMP
keeps no fraction), so every dialect answers the same RFC 3339 text.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def as_utc(value: dt.datetime) -> dt.datetime:
    """The same instant as an aware UTC datetime to whole seconds; naive values are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).replace(microsecond=0)


UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]
# Input instants must carry their offset: a bare local time is ambiguous.
AwareUtcDateTime = Annotated[AwareDatetime, AfterValidator(as_utc)]

__all__ = ["AwareUtcDateTime", "UtcDateTime", "as_utc"]
