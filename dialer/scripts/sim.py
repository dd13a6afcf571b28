"""`dialer sim`: run the simulated PBX (a fake Asterisk 22) on loopback ports."""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from dialer.errors import ConfigError, InputError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="run the simulated PBX (fake Asterisk: AMI server + FastAGI client) / 模拟交换机",
        description=(
            "Run a simulated Asterisk 22: an AMI server on --ami and a FastAGI client that "
            "connects to --agi for AGI() in the dialplan. Behaviour comes from --profile. "
            "/ 运行模拟 Asterisk：在 --ami 提供 AMI 服务，拨号计划中的 AGI() 连接到 --agi。"
        ),
    )
    parser.add_argument(
        "--ami",
        default="127.0.0.1:5038",
        metavar="HOST:PORT",
        help="AMI listen address (default 127.0.0.1:5038) / AMI 监听地址",
    )
    parser.add_argument(
        "--agi",
        default="127.0.0.1:4573",
        metavar="HOST:PORT",
        help="the dialer's FastAGI server (default 127.0.0.1:4573) / FastAGI 服务地址",
    )
    parser.add_argument(
        "--profile",
        required=True,
        type=Path,
        help="callee/agent behaviour (TOML or YAML) / 被叫行为配置文件",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed (default: the profile's, else 0) / 随机种子",
    )
    parser.add_argument(
        "--dialplan",
        type=Path,
        default=None,
        help="extensions.conf to run (default: asterisk_conf/extensions.conf) / 拨号计划",
    )
    parser.add_argument(
        "--recordings",
        type=Path,
        default=Path("recordings"),
        help="MixMonitor directory (default ./recordings) / 录音目录",
    )
    parser.add_argument(
        "--audio",
        type=Path,
        action="append",
        default=[],
        help="8 kHz WAV clip used as speech in recordings (repeatable) / 语音片段",
    )
    parser.add_argument(
        "--user",
        default="dialer:dialer",
        metavar="NAME:SECRET",
        help="AMI user (default dialer:dialer) / AMI 用户",
    )
    parser.add_argument(
        "--survey",
        type=Path,
        action="append",
        default=[],
        metavar="SCRIPT",
        help="questionnaire whose prompts the simulated respondents understand (keys each "
        "question accepts; repeatable) / 模拟受访者能听懂的问卷（每题可按的键）",
    )
    parser.set_defaults(func=run)


def _hostport(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"{what}: expected HOST:PORT, got {text!r} / 格式应为 HOST:PORT")
    return host or "127.0.0.1", int(port)


def run(args: argparse.Namespace) -> int:
    from twisted.internet import reactor, task
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

    from dialer.sim.dialplan import Dialplan, DialplanError
    from dialer.sim.profile import ProfileError, load_profile
    from dialer.sim.server import DEFAULT_DIALPLAN, SimulatedPBX, listen_tcp

    ami_host, ami_port = _hostport(args.ami, "--ami")
    agi_host, agi_port = _hostport(args.agi, "--agi")
    try:
        profile = load_profile(args.profile)
    except ProfileError as e:
        raise ConfigError(f"profile / 配置文件: {e}") from e
    try:
        dialplan = Dialplan.from_file(args.dialplan or DEFAULT_DIALPLAN)
    except DialplanError as e:
        raise ConfigError(f"dialplan / 拨号计划: {e}") from e
    prompt_keys: dict[str, str] = {}
    if args.survey:
        from dialer.sim.respondent import prompt_keys_of
        from dialer.surveys import loader

        for path in args.survey:  # a bad file is a ScriptError: one line, exit 1
            prompt_keys |= prompt_keys_of(loader.load(path))
    name, _, secret = args.user.partition(":")
    seed = args.seed if args.seed is not None else (profile.seed or 0)
    recordings = args.recordings.resolve()
    recordings.mkdir(parents=True, exist_ok=True)

    def agi_endpoint(host: str, port: int) -> TCP4ClientEndpoint:
        # The dialplan's agi:// URL names 127.0.0.1:4573; --agi says where it really is.
        return TCP4ClientEndpoint(reactor, agi_host, agi_port, timeout=2)

    import sys

    observer: Any = textFileLogObserver(sys.stderr)
    globalLogBeginner.beginLoggingTo([observer])
    log = Logger(namespace="dialer.sim")

    def main(_: Any) -> Any:
        sim = SimulatedPBX(
            clock=reactor,
            rng=random.Random(seed),
            profile=profile,
            dialplan=dialplan,
            recordings=recordings,
            agi_endpoint=agi_endpoint,
            users={name: secret},
            audio=list(args.audio),
            prompt_keys=prompt_keys,
        )
        listen_tcp(sim, reactor, ami_port, ami_host)
        import gc

        gc.freeze()  # start-up objects stay out of full collections (shorter GC pauses)
        log.info(
            "simulated Asterisk 22: AMI on {ami}, FastAGI to {agi}, profile {profile} ({mode})",
            ami=args.ami,
            agi=args.agi,
            profile=str(args.profile),
            mode=profile.mode,
        )
        from twisted.internet import defer

        return defer.Deferred()  # run until interrupted

    react: Any = task.react  # exits the process when main's Deferred fires
    react(main)
    return 0
