"""
A dedicated thread pool for database work (buildbot's DBThreadPool, simplified).

Queries are plain functions named C{thd_*} that take a C{Connection}; C{do} and
C{do_with_transaction} run them on the pool and return a Deferred with the result.
They must return plain values or dataclasses, never a live C{Result}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorThreads
from twisted.python.threadpool import ThreadPool

from dialer.store.engine import is_sqlite

P = ParamSpec("P")
T = TypeVar("T")


class DBThreadPool:
    """Runs C{thd_*} functions on their own threads; SQLite gets exactly one."""

    def __init__(self, engine: sa.Engine, reactor: IReactorThreads) -> None:
        self.engine = engine
        self._reactor = reactor
        size = 1 if is_sqlite(engine.url) else 5
        self._pool = ThreadPool(minthreads=1, maxthreads=size, name="dialer-db")
        self._running = False

    def start(self) -> None:
        if not self._running:
            self._pool.start()
            self._running = True

    def stop(self) -> None:
        if self._running:
            self._pool.stop()
            self._running = False

    def do(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> defer.Deferred[T]:
        """Run C{fn(conn, *args, **kwargs)} on a pool thread without a transaction."""

        def run() -> T:
            with self.engine.connect() as conn:
                result = fn(conn, *args, **kwargs)
                _check_not_result(result)
                return result

        return threads.deferToThreadPool(self._reactor, self._pool, run)

    def do_with_transaction(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> defer.Deferred[T]:
        """Run C{fn(conn, ...)} in one transaction: committed if it returns, rolled back if it raises."""

        def run() -> T:
            with self.engine.begin() as conn:
                result = fn(conn, *args, **kwargs)
                _check_not_result(result)
                return result

        return threads.deferToThreadPool(self._reactor, self._pool, run)


def _check_not_result(value: object) -> None:
    if isinstance(value, sa.engine.Result):
        raise TypeError("thd_* functions must not return a live Result; fetch the rows first")
