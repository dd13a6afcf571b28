"""
A DB "pool" that runs C{thd_*} functions at once on the calling thread (buildbot's
NonThreadPool, Synapse's fake DB pool).

For tests and for benchmarks on a virtual clock: the same SQL runs, but results come
back as already-fired Deferreds, so a C{task.Clock} drives everything with no threads.
Never use it in the daemon: it would block the reactor.
"""

# test-case-name: tests.campaign.test_controller

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from twisted.internet import defer

T = TypeVar("T")


class InlineDB:
    """Same interface as L{dialer.store.pool.DBThreadPool}; runs synchronously."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def do(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> defer.Deferred[T]:
        try:
            with self.engine.connect() as conn:
                return defer.succeed(fn(conn, *args, **kwargs))
        except Exception:
            return defer.fail()

    def do_with_transaction(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> defer.Deferred[T]:
        try:
            with self.engine.begin() as conn:
                return defer.succeed(fn(conn, *args, **kwargs))
        except Exception:
            return defer.fail()
