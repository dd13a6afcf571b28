"""
The daemon's configuration file (TOML), validated into frozen dataclasses.

Every error names the file, the key and the problem, e.g.
C{dialer.toml: [[ami]][1].lines: expected a whole number >= 1, got "ten"}.
C{dialer check-config} runs L{load} and prints the result; C{dialer run} refuses to
start on an error. Example::

    [database]
    url = "sqlite:///var/dialer.db"

    [[ami]]                          # one table per Asterisk server
    name = "pbx1"
    endpoint = "tcp:127.0.0.1:5038"  # a Twisted client endpoint string
    username = "dialer"
    secret = "dialer"
    lines = 30                       # calls this server may carry at once
    dial_template = "PJSIP/{number}@trunk"   # optional: this trunk's dial string
    events = "system,call,user,agi"  # optional: the Login Events: class mask (this default)

    [agi]
    endpoint = "tcp:4573:interface=127.0.0.1"
    scripts = "ivr_scripts"

    [http]
    endpoint = "tcp:8080:interface=127.0.0.1"   # /metrics and /healthz

    [dialer]                         # controller settings (see ControllerSettings)
    grace = 2.0
    ring_timeout = 25.0

    [agents]
    names = ["agent1", "agent2", "agent3"]
    simulated = true                 # simulated desks give results (no desktop yet)
    wrap_mean = 10.0
"""

# test-case-name: tests.daemon.test_config

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.ami.eventmask import DEFAULT_EVENT_MASK, MaskError, check_setting
from dialer.campaign.controller import ControllerSettings
from dialer.campaign.dialstring import check_dial_template, control_characters
from dialer.config import DATABASE_KEYS, database_url, load_toml
from dialer.errors import ConfigError, InputError

DEFAULT_AMI_ENDPOINT = "tcp:127.0.0.1:5038"
DEFAULT_AGI_ENDPOINT = "tcp:4573:interface=127.0.0.1"
DEFAULT_HTTP_ENDPOINT = "tcp:8080:interface=127.0.0.1"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class AMIConfig:
    name: str
    endpoint: str
    username: str
    secret: str = field(repr=False)
    lines: int = 30
    md5: bool = False
    dial_template: str | None = None  # overrides the campaign's, e.g. PJSIP/{number}@trunk2
    #: the Login C{Events:} class mask (checked and normalised, see L{check_setting})
    events: str = DEFAULT_EVENT_MASK


@dataclass(frozen=True)
class AgentsConfig:
    names: tuple[str, ...] = ()
    simulated: bool = False
    wrap_mean: float = 10.0
    seed: int | None = None


@dataclass(frozen=True)
class DaemonConfig:
    path: str
    database_url: str
    ami: tuple[AMIConfig, ...]
    agi_endpoint: str
    agi_scripts: str
    http_endpoint: str
    dialer: ControllerSettings
    agents: AgentsConfig
    campaigns: tuple[str, ...] = ()  # names to run; empty = every running campaign
    poll_campaigns: float = 2.0


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {problem}")

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"[{key}]", "expected a table / 应为表")
        return value

    def unknown(self, where: str, table: dict[str, Any], known: set[str]) -> None:
        extra = sorted(set(table) - known)
        if extra:
            raise self.fail(
                f"{where}.{extra[0]}",
                f"unknown key (known: {', '.join(sorted(known))}) / 未知配置项",
            )

    def string(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {value!r} / 应为字符串")
        bad = control_characters(value)
        if bad:
            # most of these strings go into AMI headers, where a line break cannot be sent
            raise self.fail(
                where,
                f"control characters {' '.join(bad)} are not allowed / 不能包含控制字符",
            )
        return value

    def number(self, where: str, value: Any, *, minimum: float = 0.0) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < minimum
        ):
            raise self.fail(
                where,
                f"expected a number >= {minimum:g}, got {value!r} / 应为不小于 {minimum:g} 的数字",
            )
        return float(value)

    def whole(self, where: str, value: Any, *, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(
                where,
                f"expected a whole number >= {minimum}, got {value!r} / 应为不小于 {minimum} 的整数",
            )
        return value

    def boolean(self, where: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {value!r} / 应为 true 或 false")
        return value

    def endpoint(self, where: str, value: Any, *, server: bool) -> str:
        text = self.string(where, value)
        kind = text.split(":", 1)[0]
        if kind not in ("tcp", "tcp6", "unix", "ssl"):
            raise self.fail(
                where,
                f"{text!r} is not a Twisted endpoint string like tcp:127.0.0.1:5038 "
                "/ 应为 Twisted 端点字符串，如 tcp:127.0.0.1:5038",
            )
        if kind.startswith("tcp"):
            if server and "interface=" not in text:
                raise self.fail(
                    where,
                    f"{text!r} listens on every address; add :interface=127.0.0.1 "
                    "/ 只允许监听本机地址",
                )
            host = ""
            if server:
                host = text.split("interface=", 1)[1].split(":", 1)[0]
            else:
                parts = text.split(":")
                host = parts[1] if len(parts) > 1 else ""
                host = host.removeprefix("host=")
            if host and host not in _LOOPBACK and not os.environ.get("DIALER_ALLOW_REMOTE"):
                raise self.fail(
                    where,
                    f"{host} is not a loopback address (set DIALER_ALLOW_REMOTE=1 to allow) "
                    "/ 默认只允许本机地址",
                )
        return text


_SETTINGS = {f.name: f for f in dataclasses.fields(ControllerSettings)}

#: The least each numeric [dialer] setting may be (seconds, or a count). Below these the
#: daemon misbehaves rather than runs fast: heartbeat 0 spins the reactor, ring_timeout 0
#: fails every Originate at once, lost_after 0 ends every call on the first AMI blip, and
#: status_poll / hopper_refresh 0 hit the database on every tick.
DIALER_MINIMUMS: dict[str, float] = {
    "heartbeat": 0.05,
    "grace": 0.0,  # 0: an answered call with no free agent goes to the IVR at once
    "ring_timeout": 5.0,
    "amd_timeout": 1.0,
    "wrapup_timeout": 1.0,
    "failure_grace": 0.0,
    "lost_after": 5.0,
    "drain_timeout": 0.0,  # 0: stop without following calls in progress
    "pending_grace": 1.0,
    "per_unit": 1,
    "hopper_refresh": 1.0,
    "max_launch_per_tick": 1,
    "status_poll": 0.5,
    "astdb_timeout": 0.5,
    "breaker_threshold": 0,  # 0: never stop dialing a line for its failures
    "agent_miss_limit": 0,  # 0: never pause an agent for missed calls
    "zones_refresh": 1.0,
}


def resolve_scripts(config_path: str, scripts: str) -> Path:
    """C{[agi] scripts}: relative to the config file's directory, else to the working one."""
    path = Path(scripts)
    if path.is_absolute():
        return path
    beside = Path(config_path).resolve().parent / path
    return beside if beside.exists() else path.resolve()


def scripts_setting(config_path: str) -> Path:
    """The questionnaire directory the daemon would use for this config file (C{[agi] scripts})."""
    agi = load_toml(config_path).get("agi", {})
    scripts = agi.get("scripts") if isinstance(agi, dict) else None
    if not isinstance(scripts, str) or not scripts.strip():
        scripts = "ivr_scripts"
    return resolve_scripts(config_path, scripts)


def load(path: str | os.PathLike[str], *, db: str | None = None) -> DaemonConfig:
    """Read and validate the daemon configuration; raise L{ConfigError} naming the key."""
    p = str(path)
    data = load_toml(p)
    r = _Reader(p)
    r.unknown(
        "config",
        data,
        {"database", "ami", "agi", "http", "dialer", "agents", "campaigns"},
    )
    r.unknown("[database]", r.table(data, "database"), set(DATABASE_KEYS))
    url = database_url(db, p)

    raw_ami = data.get("ami", [])
    if isinstance(raw_ami, dict):
        raw_ami = [raw_ami]
    if not isinstance(raw_ami, list) or not raw_ami:
        raise r.fail("[[ami]]", "at least one AMI server is needed / 至少需要一个 AMI 服务器")
    amis = []
    masks: list[object] = []  # raw [[ami]] events values, checked once [dialer] amd is known
    names: set[str] = set()
    endpoints: dict[str, str] = {}  # endpoint -> server name
    for i, item in enumerate(raw_ami):
        where = f"[[ami]][{i}]"
        if not isinstance(item, dict):
            raise r.fail(where, "expected a table / 应为表")
        r.unknown(
            where,
            item,
            {"name", "endpoint", "username", "secret", "lines", "md5", "dial_template", "events"},
        )
        template = item.get("dial_template")
        if template is not None:
            text = r.string(f"{where}.dial_template", template)
            try:
                check_dial_template(text, f"{where}.dial_template")
            except InputError as e:
                raise ConfigError(f"{p}: {e}") from None
        name = r.string(f"{where}.name", item.get("name", f"pbx{i + 1}"))
        if name in names:
            raise r.fail(f"{where}.name", f"duplicate server name {name!r} / 服务器名称重复")
        names.add(name)
        if "secret" not in item:
            raise r.fail(f"{where}.secret", "missing / 缺少 AMI 密码")
        endpoint = r.endpoint(
            f"{where}.endpoint", item.get("endpoint", DEFAULT_AMI_ENDPOINT), server=False
        )
        if endpoint in endpoints:
            # Two connections to one Asterisk would see every call's events twice and count
            # its lines twice; one server is one [[ami]] entry.
            raise r.fail(
                f"{where}.endpoint",
                f"{endpoint!r} is already server {endpoints[endpoint]!r}'s endpoint"
                f" / 与服务器 {endpoints[endpoint]!r} 的地址重复",
            )
        endpoints[endpoint] = name
        amis.append(
            AMIConfig(
                name=name,
                endpoint=endpoint,
                username=r.string(f"{where}.username", item.get("username", "dialer")),
                secret=r.string(f"{where}.secret", item["secret"]),
                lines=r.whole(f"{where}.lines", item.get("lines", 30)),
                md5=r.boolean(f"{where}.md5", item.get("md5", False)),
                dial_template=template,
            )
        )
        masks.append(item.get("events", DEFAULT_EVENT_MASK))

    agi = r.table(data, "agi")
    r.unknown("[agi]", agi, {"endpoint", "scripts"})
    agi_endpoint = r.endpoint(
        "[agi].endpoint", agi.get("endpoint", DEFAULT_AGI_ENDPOINT), server=True
    )
    scripts = r.string("[agi].scripts", agi.get("scripts", "ivr_scripts"))
    scripts_path = resolve_scripts(p, scripts)
    if not scripts_path.is_dir():
        raise r.fail("[agi].scripts", f"directory {scripts} not found / 找不到问卷目录")

    http = r.table(data, "http")
    r.unknown("[http]", http, {"endpoint"})
    http_endpoint = r.endpoint(
        "[http].endpoint", http.get("endpoint", DEFAULT_HTTP_ENDPOINT), server=True
    )

    dialer = r.table(data, "dialer")
    r.unknown("[dialer]", dialer, set(_SETTINGS))
    values: dict[str, Any] = {}
    for key, value in dialer.items():
        default = getattr(ControllerSettings(), key)
        where = f"[dialer].{key}"
        if isinstance(default, bool):
            values[key] = r.boolean(where, value)
        elif isinstance(default, int):
            values[key] = r.whole(where, value, minimum=int(DIALER_MINIMUMS.get(key, 1)))
        elif isinstance(default, float):
            values[key] = r.number(where, value, minimum=DIALER_MINIMUMS.get(key, 0.0))
        else:
            values[key] = r.string(where, value)
    if "grace" in values and values["grace"] > 2.0:
        raise r.fail("[dialer].grace", "an answered call may wait at most 2 s / 最多等待 2 秒")
    settings = ControllerSettings(**values)

    for i, mask in enumerate(masks):
        # checked against what the engine reads, which depends on [dialer] amd
        try:
            amis[i] = dataclasses.replace(amis[i], events=check_setting(mask, amd=settings.amd))
        except MaskError as e:
            raise r.fail(f"[[ami]][{i}].events", str(e)) from None

    agents = r.table(data, "agents")
    r.unknown("[agents]", agents, {"names", "simulated", "wrap_mean", "seed"})
    raw_names = agents.get("names", [])
    if not isinstance(raw_names, list) or not all(
        isinstance(n, str) and n.strip() and not control_characters(n) for n in raw_names
    ):
        raise r.fail("[agents].names", "expected a list of agent names / 应为坐席名称列表")
    if len(set(raw_names)) != len(raw_names):
        raise r.fail("[agents].names", "duplicate agent names / 坐席名称重复")
    agents_conf = AgentsConfig(
        names=tuple(raw_names),
        simulated=r.boolean("[agents].simulated", agents.get("simulated", False)),
        wrap_mean=r.number("[agents].wrap_mean", agents.get("wrap_mean", 10.0)),
        seed=None
        if agents.get("seed") is None
        else r.whole("[agents].seed", agents.get("seed"), minimum=0),
    )

    camps = r.table(data, "campaigns")
    r.unknown("[campaigns]", camps, {"names", "poll"})
    names_list = camps.get("names", [])
    if not isinstance(names_list, list) or not all(isinstance(n, str) for n in names_list):
        raise r.fail(
            "[campaigns].names", "expected a list of campaign names / 应为调查项目名称列表"
        )
    poll = r.number("[campaigns].poll", camps.get("poll", 2.0), minimum=0.1)

    return DaemonConfig(
        path=p,
        database_url=url,
        ami=tuple(amis),
        agi_endpoint=agi_endpoint,
        agi_scripts=str(scripts_path),
        http_endpoint=http_endpoint,
        dialer=settings,
        agents=agents_conf,
        campaigns=tuple(names_list),
        poll_campaigns=poll,
    )
