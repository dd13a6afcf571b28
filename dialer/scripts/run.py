"""`dialer run --config FILE` (the daemon) and `dialer check-config --config FILE`."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, cast


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run",
        help="run the dialer daemon / 运行外呼守护进程",
        description="Run the daemon: AMI clients, FastAGI, campaigns, /metrics and /healthz, "
        "until SIGINT/SIGTERM. Same as `twist dialer --config FILE`. "
        "/ 运行守护进程，直到收到 SIGINT/SIGTERM。",
    )
    run.add_argument(
        "--config", default=argparse.SUPPRESS, metavar="FILE", help="configuration file / 配置文件"
    )
    run.set_defaults(func=run_command)
    check = subparsers.add_parser(
        "check-config",
        help="validate the daemon configuration / 检查配置文件",
        description="Read and validate the configuration without starting anything; errors "
        "name the file, the key and the problem. / 检查配置文件，不启动任何服务。",
    )
    check.add_argument(
        "--config", default=argparse.SUPPRESS, metavar="FILE", help="configuration file / 配置文件"
    )
    check.add_argument(
        "--no-db", action="store_true", help="do not open the database / 不检查数据库"
    )
    check.set_defaults(func=check_command)


def _config_path(args: argparse.Namespace) -> str:
    from dialer.errors import ConfigError

    path = getattr(args, "config", None)
    if not path:
        raise ConfigError("--config FILE is required / 必须指定 --config 配置文件")
    return str(path)


def check_command(args: argparse.Namespace) -> int:
    from dialer import daemonconf
    from dialer.store.engine import create_engine
    from dialer.store.migrate import require_current

    path = _config_path(args)
    config = daemonconf.load(path, db=getattr(args, "db", None))
    if not args.no_db:
        engine = create_engine(config.database_url)
        try:
            require_current(engine)
        finally:
            engine.dispose()
    print(f"{path}: OK / 配置有效")
    for ami in config.ami:
        print(f"  AMI {ami.name}: {ami.endpoint} user {ami.username}, {ami.lines} lines / 线路")
    print(f"  FastAGI: {config.agi_endpoint} (scripts 问卷目录 {config.agi_scripts})")
    print(f"  HTTP (/metrics, /healthz 指标与健康检查): {config.http_endpoint}")
    agents = ", ".join(config.agents.names) or "-"
    kind = "simulated / 模拟" if config.agents.simulated else "desktop / 坐席端"
    print(f"  agents / 坐席: {agents} ({kind})")
    return 0


def run_command(args: argparse.Namespace) -> NoReturn:
    from twisted.internet import defer, task
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from dialer.tap import build

    path = _config_path(args)
    db = getattr(args, "db", None)
    from twisted.internet import reactor as global_reactor

    service = build(path, db, global_reactor)  # errors before the reactor starts

    def main(reactor: Any) -> defer.Deferred[None]:
        globalLogBeginner.beginLoggingTo([cast(Any, textFileLogObserver(sys.stderr))])
        finished: defer.Deferred[None] = defer.Deferred()

        def stop() -> defer.Deferred[None]:
            d: defer.Deferred[None] = defer.maybeDeferred(service.stopService)
            return d

        reactor.addSystemEventTrigger("before", "shutdown", stop)
        service.startService()
        return finished  # fires never: SIGINT/SIGTERM stop the reactor

    task.react(main)
