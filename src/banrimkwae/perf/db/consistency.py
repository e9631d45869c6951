"""Read-your-writes bookkeeping: who a client is, and which of its writes replicas may lack."""

from __future__ import annotations

import hashlib


class RecentWrites:
    """Per client: the WAL position (or none) of its last write, and until when it matters."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._writes: dict[str, tuple[int | None, float]] = {}

    def record(self, client: str, lsn: int | None, now: float) -> None:
        self._writes[client] = (lsn, now + self.window)
        if len(self._writes) > 10_000:
            self.expire(now)

    def pending(self, client: str | None, now: float) -> tuple[bool, int | None]:
        """(True, lsn) while the client's last write may not be on every replica yet."""
        if client is None or client not in self._writes:
            return False, None
        lsn, until = self._writes[client]
        if now >= until:
            del self._writes[client]
            return False, None
        return True, lsn

    def expire(self, now: float) -> None:
        for client in [c for c, (_lsn, until) in self._writes.items() if now >= until]:
            del self._writes[client]


def client_key(authorization: str | None, address: str | None) -> str | None:
    """Who a request comes from, for read-your-writes: its credentials, else its address."""
    if authorization:
        return hashlib.blake2b(authorization.encode(), digest_size=12).hexdigest()
    return address
