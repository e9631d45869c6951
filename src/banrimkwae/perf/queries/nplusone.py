"""N+1 detection: one statement shape repeated many times within a single request."""

from __future__ import annotations

from banrimkwae.perf.queries.fingerprint import Fingerprint


class NPlusOneError(RuntimeError):
    """Raised in strict mode by the statement that crosses the N+1 threshold.

    A statement does not know which route it serves: the endpoint (route template) is filled
    in by `finish_request` as the error leaves the request, before anyone prints it.
    """

    def __init__(
        self, fingerprint: Fingerprint, executions: int, threshold: int, request_id: str
    ) -> None:
        super().__init__(fingerprint.hash)
        self.fingerprint = fingerprint
        self.executions = executions
        self.threshold = threshold
        self.request_id = request_id
        self.endpoint: str | None = None

    def __str__(self) -> str:
        endpoint = self.endpoint or "an unrouted request"
        return (
            f"N+1 query on {endpoint} (request {self.request_id}): statement "
            f"{self.fingerprint.hash[:16]} ran {self.executions} times, more than the "
            f"threshold of {self.threshold}; load the rows in one query instead. "
            f"Statement: {self.fingerprint.text}"
        )


class NPlusOneFlags:
    """The (endpoint, fingerprint) pairs seen repeating, kept in memory for the report."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.flags: dict[tuple[str, str], Fingerprint] = {}
        self.dropped = 0

    def flag(self, endpoint: str, fingerprint: Fingerprint) -> None:
        key = (endpoint, fingerprint.hash)
        if key in self.flags:
            return
        if len(self.flags) >= self.limit:
            self.dropped += 1
            return
        self.flags[key] = fingerprint

    def __contains__(self, key: object) -> bool:
        return key in self.flags

    def __len__(self) -> int:
        return len(self.flags)


def is_n_plus_one_candidate(fingerprint: Fingerprint) -> bool:
    # Reads only: a unit-of-work flush legitimately issues one write per changed row.
    return fingerprint.query_type == "SELECT"
