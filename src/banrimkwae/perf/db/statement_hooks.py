"""One timed hook per engine around every statement, shared by everything that observes them.

SQLAlchemy's dialect events `do_execute`, `do_executemany` and `do_execute_no_params` let a
listener run the statement itself (and return True); the first listener that does ends the
chain, so two independent listeners could not both time the same statement. `statement_hooks`
therefore installs one set of hooks per engine, and observers join it: query tracking on
every engine, the replica router's latency and health on each replica.

An observer is two callables. `begin()` runs before the statement and returns a token, or
None when this statement is none of its business (query tracking: no request is current).
If no observer wants the statement, the dialect runs it as if nothing listened. Otherwise the
hook runs it, times it once, and hands each interested observer its token and the duration
(`end`). An exception from `end` (strict N+1 detection) propagates to the caller.

Not the engine's before/after_cursor_execute: any engine-level listener switches on
SQLAlchemy's per-connection event dispatch for every begin, commit and execute, which measured
at about 30 µs per request on a one-statement read; these hooks cost one call around the
statement. Errors are seen through `handle_error`, also a dialect event.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

# begin() -> token or None; end(token, cursor, statement, parameters, context, elapsed_ms)
Begin = Callable[[], Any]
End = Callable[[Any, Any, str, Any, Any, float], None]


@dataclass(frozen=True, slots=True)
class StatementObserver:
    begin: Begin
    end: End


def always() -> bool:
    """A `begin` for observers that want every statement."""
    return True


class StatementHooks:
    """The hooks of one engine and the observers they serve, in the order they joined."""

    def __init__(self, engine: Engine) -> None:
        self.observers: tuple[StatementObserver, ...] = ()
        dialect = engine.dialect
        # The hooks also see what SQLAlchemy runs while it sets up a new DBAPI connection (the
        # dialect's initialisation on the first one: server version, settings), which no
        # engine event showed and nobody asked for: statements on a connection inside the
        # pool's "connect" event are left alone.
        self._initializing: set[int] = set()
        no_params = self._hook(
            lambda cursor, statement, _parameters, context: dialect.do_execute_no_params(
                cursor, statement, context
            )
        )

        def no_params_hook(cursor: Any, statement: str, context: Any) -> bool | None:
            return no_params(cursor, statement, None, context)

        # One listener before SQLAlchemy's own "connect" listeners, one after them.
        event.listen(engine, "connect", self._initializing_started, insert=True)
        event.listen(engine, "connect", self._initializing_done)
        event.listen(engine, "do_execute", self._hook(dialect.do_execute))
        event.listen(engine, "do_executemany", self._hook(dialect.do_executemany))
        event.listen(engine, "do_execute_no_params", no_params_hook)

    def add(self, begin: Begin, end: End) -> StatementObserver:
        observer = StatementObserver(begin, end)
        self.observers = (*self.observers, observer)
        return observer

    def remove(self, observer: StatementObserver) -> None:
        self.observers = tuple(o for o in self.observers if o is not observer)

    def _hook(self, run: Callable[..., Any]) -> Callable[..., bool | None]:
        initializing = self._initializing

        def hook(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
            wanted: list[tuple[End, Any]] | None = None
            for observer in self.observers:
                token = observer.begin()
                if token is not None:
                    if wanted is None:
                        wanted = [(observer.end, token)]
                    else:
                        wanted.append((observer.end, token))
            if wanted is None or (
                initializing
                and id(context.root_connection.connection.dbapi_connection) in initializing
            ):
                return None  # nobody's business: the dialect runs it as usual
            started = perf_counter()
            run(cursor, statement, parameters, context)
            elapsed_ms = (perf_counter() - started) * 1000.0
            for end, token in wanted:
                end(token, cursor, statement, parameters, context, elapsed_ms)
            return True  # executed here

        return hook

    def _initializing_started(self, dbapi_connection: Any, _record: Any) -> None:
        self._initializing.add(id(dbapi_connection))

    def _initializing_done(self, dbapi_connection: Any, _record: Any) -> None:
        self._initializing.discard(id(dbapi_connection))


_hooks: weakref.WeakKeyDictionary[Engine, StatementHooks] = weakref.WeakKeyDictionary()


def statement_hooks(engine: AsyncEngine | Engine) -> StatementHooks:
    """The engine's hooks, installed on first use."""
    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    hooks = _hooks.get(sync)
    if hooks is None:
        hooks = _hooks[sync] = StatementHooks(sync)
    return hooks
