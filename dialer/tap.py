"""
C{twist dialer} / C{dialer run}: options and C{makeService} (Twisted's tap.py shape).

The configuration is validated and the schema checked here, before any service
starts, so a bad file or a stale database stops the daemon with one clear line.
"""

# test-case-name: tests.daemon.test_service

from __future__ import annotations

from typing import Any

from twisted.python import usage

from dialer.errors import DialerError


class Options(usage.Options):
    optParameters = [  # noqa: RUF012 (Twisted's usage.Options API)
        ["config", "c", None, "configuration file (TOML) / 配置文件"],
        ["db", None, None, "database URL (overrides the file) / 数据库地址"],
    ]

    def postOptions(self) -> None:
        if not self["config"]:
            raise usage.UsageError("--config FILE is required / 必须指定 --config 配置文件")


def build(config_path: str, db: str | None, reactor: Any) -> Any:
    """The root service for C{config_path}; raises L{DialerError} on a bad config or schema."""
    from dialer import daemonconf
    from dialer.service import DialerService
    from dialer.store.engine import create_engine
    from dialer.store.migrate import require_current
    from dialer.store.pool import DBThreadPool

    config = daemonconf.load(config_path, db=db)
    engine = create_engine(config.database_url)
    require_current(engine)
    pool = DBThreadPool(engine, reactor)
    return DialerService(config, reactor, pool)


def makeService(options: Options) -> Any:
    from twisted.internet import reactor

    try:
        return build(options["config"], options["db"], reactor)
    except DialerError as e:
        raise usage.UsageError(str(e)) from e
