"""The ORM Session that routes each statement: writes to the primary, reads to a replica.

SQLAlchemy asks `Session.get_bind` for the engine of every statement (its documented hook for
partitioning); this one answers from the statement and what the session did before, and asks
the ReplicaRouter for a replica once per session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from banrimkwae.perf.db.replicas import PRIMARY, Replica, ReplicaRouter

_WROTE = "banrimkwae.wrote"
_REPLICA = "banrimkwae.replica"
CLIENT = "banrimkwae.client"
# A session that may write (say, for a POST) reads from the primary from the start: a
# read-modify-write must not read a replica's older copy of the row it changes.
PRIMARY_ONLY = "banrimkwae.primary_only"


def _writes(clause: Any) -> bool:
    if clause is None or isinstance(clause, TextClause):
        return True  # unknown intent: the primary is always right
    if getattr(clause, "is_dml", False):
        return True
    return getattr(clause, "_for_update_arg", None) is not None or not getattr(
        clause, "is_select", False
    )


class RoutingSession(Session):
    """A Session that sends reads to replicas; `router` comes from the session factory."""

    def __init__(self, *args: Any, router: ReplicaRouter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.router = router

    def get_bind(self, mapper: Any = None, clause: Any = None, **kwargs: Any) -> Engine:
        router = self.router
        if self._flushing or self.info.get(_WROTE) or _writes(clause):
            # Counted as a write the moment the session flushes or sends a statement that
            # writes; from then on its reads stay on the primary.
            if not self.info.get(_WROTE) and (self._flushing or clause is not None):
                self.info[_WROTE] = True
            router.routed[(PRIMARY, "write")] += 1
            return router.primary.sync_engine
        if self.info.get(PRIMARY_ONLY):
            router.routed[(PRIMARY, "primary_only")] += 1
            return router.primary.sync_engine
        replica: Replica | None
        if _REPLICA in self.info:
            replica = self.info[_REPLICA]
        else:
            replica = router.choose_reader(self.info.get(CLIENT))
            self.info[_REPLICA] = replica
            if replica is not None:
                # Outstanding = sessions reading from it, counted from the choice on: sessions
                # choosing together then see each other, instead of all taking the same one.
                replica.endpoint.outstanding += 1
        if replica is None:
            return router.primary.sync_engine
        router.routed[(replica.name, "read")] += 1
        return replica.engine.sync_engine

    def _connection_for_bind(
        self, engine: Any, execution_options: Any = None, **kwargs: Any
    ) -> Any:
        # A replica that refuses connections must not fail the request: read from the primary.
        # (Private hook of Session; get_bind cannot see a connection fail, this can.)
        replica = self.router._by_engine.get(engine)
        if replica is None:
            return super()._connection_for_bind(engine, execution_options, **kwargs)
        try:
            return super()._connection_for_bind(engine, execution_options, **kwargs)
        except (DBAPIError, OSError) as error:
            self.router.replica_failed(replica, error)
            self._release_replica()
            self.info[_REPLICA] = None
            primary = self.router.primary.sync_engine
            return super()._connection_for_bind(primary, execution_options, **kwargs)

    def commit(self) -> None:
        wrote = bool(self.info.get(_WROTE))
        super().commit()
        if wrote:
            self.info.pop(_WROTE, None)
            self._release_replica()
            client = self.info.get(CLIENT)
            if client is not None:
                self.router.record_write(client, self.router.current_lsn())

    def close(self) -> None:
        self._release_replica()
        super().close()

    def _release_replica(self) -> None:
        replica = self.info.pop(_REPLICA, None)
        if replica is not None:
            replica.endpoint.outstanding = max(replica.endpoint.outstanding - 1, 0)
