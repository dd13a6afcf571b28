# -*- test-case-name: tests.agi.test_shim -*-
"""
Process AGI: the same survey runner for sites that prefer C{AGI(program)} to FastAGI.

Asterisk starts one process per call and speaks AGI over its stdin/stdout: the same
environment block (without C{agi_network*}), the same commands and replies, the same
bare C{HANGUP} line. So the shim puts the very same L{FastAGIProtocol} and
L{SurveyRunner} on Twisted's C{StandardIO} instead of a socket; nothing is parsed twice.
(pyst2's C{AGI} class would also read this stream, but synchronously and with its own
reply parser; one parser and one runner for both modes is worth more.)

Dialplan::

    exten => s,1,Set(AGISIGHUP=no)
     same => n,AGI(/opt/minyi/.venv/bin/python,-m,dialer.agi.shim,--db,postgresql+psycopg://...,--scripts,/opt/minyi/ivr_scripts)

C{MINYI_ATTEMPT} must be set on the channel (see L{dialer.agi.runner}). Asterisk
sends SIGHUP to an AGI process when the caller hangs up unless C{AGISIGHUP=no}; the
shim ignores SIGHUP anyway and ends on the C{HANGUP} line or a 511 reply, so the
answers and the outcome are always written. The process exits when the runner ends
(closing stdout is how we "close the socket").

Each process opens the store itself, so use PostgreSQL (or SQLite in WAL mode for a
small site) and keep C{--db} out of logs that could expose a password.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet import defer, task
from twisted.internet.stdio import StandardIO
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

from dialer.agi.protocol import DEFAULT_COMMAND_TIMEOUT, FastAGIProtocol
from dialer.agi.runner import PoolAnswerStore, RunnerConfig, ScriptDirectory, SurveyRunner
from dialer.store.connect import engine_from_args
from dialer.store.pool import DBThreadPool

log = Logger()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dialer.agi.shim",
        description="process-AGI IVR survey (run by Asterisk's AGI()) / 进程方式 AGI 语音问卷",
    )
    parser.add_argument("--db", metavar="URL", help="database URL / 数据库地址")
    parser.add_argument("--config", metavar="FILE", help="configuration file (TOML) / 配置文件")
    parser.add_argument(
        "--scripts",
        metavar="DIR",
        default="ivr_scripts",
        help="directory of questionnaires (campaigns.questionnaire names a file in it) / 问卷目录",
    )
    parser.add_argument(
        "--recordings",
        metavar="DIR",
        default=RunnerConfig.recordings_dir,
        help="where RECORD FILE writes voice comments / 留言录音目录",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_COMMAND_TIMEOUT,
        help="seconds to wait for a reply to a short command / 命令超时秒数",
    )
    parser.add_argument(
        "--log",
        metavar="FILE",
        help="append logs here (stdout is the AGI channel; default: stderr) / 日志文件",
    )
    # AGI(program,arg1,...) also passes its arguments on the command line (and as
    # agi_arg_N, which the runner reads): accept and ignore them here.
    parser.add_argument("agi_args", nargs="*", help=argparse.SUPPRESS)
    return parser


async def run(reactor: Any, args: argparse.Namespace) -> None:
    engine = engine_from_args(args)
    pool = DBThreadPool(engine, reactor)
    pool.start()
    try:
        runner = SurveyRunner(
            PoolAnswerStore(pool),
            ScriptDirectory(Path(args.scripts)),
            reactor,
            RunnerConfig(recordings_dir=args.recordings),
        )
        protocol = FastAGIProtocol(reactor, lambda env: runner, command_timeout=args.timeout)
        ended: defer.Deferred[None] = protocol.ended
        StandardIO(protocol, reactor=reactor)  # type: ignore[no-untyped-call]
        await ended
    finally:
        pool.stop()
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # The caller's hang-up arrives as the HANGUP line; SIGHUP must not kill us first.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stream = open(args.log, "a", encoding="utf-8") if args.log else sys.stderr  # noqa: SIM115
    observer: Any = textFileLogObserver(stream)
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor, args)))


if __name__ == "__main__":
    main()
