"""
C{twist dialer} / C{dialer run}: options and C{makeService} (Twisted's tap.py shape).

The configuration is validated and the schema checked in L{Options.postOptions},
before any service is built, so a bad file or a stale database stops C{twist dialer}
with one usage line instead of a traceback.
"""

# test-case-name: tests.daemon.test_service

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.python import usage

from dialer.errors import DialerError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dialer.daemonconf import DaemonConfig


class Options(usage.Options):
    optParameters = [  # noqa: RUF012 (Twisted's usage.Options API)
        ["config", "c", None, "configuration file (TOML) / 配置文件"],
        ["db", None, None, "database URL (overrides the file) / 数据库地址"],
    ]

    #: the validated configuration and an engine on a current schema, set by L{postOptions}
    prepared: tuple[DaemonConfig, sa.Engine] | None = None

    def postOptions(self) -> None:
        if not self["config"]:
            raise usage.UsageError("--config FILE is required / 必须指定 --config 配置文件")
        try:
            self.prepared = prepare(self["config"], self["db"])
        except DialerError as e:
            raise usage.UsageError(str(e)) from None


def prepare(config_path: str, db: str | None) -> tuple[DaemonConfig, sa.Engine]:
    """The validated configuration and its engine; raises L{DialerError} on a bad file or schema."""
    from dialer import daemonconf
    from dialer.store.engine import create_engine
    from dialer.store.migrate import require_current

    config = daemonconf.load(config_path, db=db)
    engine = create_engine(config.database_url)
    try:
        require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return config, engine


def build(config_path: str, db: str | None, reactor: Any) -> Any:
    """The root service for C{config_path}; raises L{DialerError} on a bad config or schema."""
    return service(*prepare(config_path, db), reactor)


def service(config: DaemonConfig, engine: sa.Engine, reactor: Any) -> Any:
    """The root service for a prepared configuration (see L{prepare})."""
    from dialer.service import DialerService
    from dialer.store.pool import DBThreadPool

    pool = DBThreadPool(engine, reactor)
    return DialerService(config, reactor, pool)


def makeService(options: Options) -> Any:
    from twisted.internet import reactor

    try:
        prepared = options.prepared or prepare(options["config"], options["db"])
        return service(*prepared, reactor)
    except DialerError as e:  # pragma: no cover - postOptions has checked both
        raise usage.UsageError(str(e)) from None
