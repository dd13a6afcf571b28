"""
The `dialer` command line.

Each module in L{dialer.scripts} adds one subcommand family: it defines
C{register(subparsers)} which adds its parser(s) and sets C{func=handler} on them.
A handler takes the parsed namespace and returns an exit code (or None for 0).
Modules are found automatically, so adding a subcommand never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from dialer import __version__, scripts
from dialer.errors import DialerError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialer",
        description="Minyi (民意) survey dialer / 民意调查外呼与语音问卷系统",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $DIALER_DB, then the config file, then sqlite:///var/dialer.db)"
        " / 数据库地址",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (TOML) / 配置文件", default=None
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(scripts.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{scripts.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        result = func(args)
    except DialerError as error:
        print(f"dialer {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dialer {args.command}: interrupted / 已中断", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `dialer ... | head`: the reader left; say nothing more and exit like other tools.
        _silence_stdout()
        return 141
    return int(result or 0)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
