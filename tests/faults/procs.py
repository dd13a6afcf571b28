"""Subprocess helpers for the fault tests: the simulator, the daemon, an AMI observer."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5) as r:
            return r.status == 200
    except OSError:
        return False


class Proc:
    """A child process whose output goes to a log file; stopped by its own pid only."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self.out = log.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "dialer", *args],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )

    def kill9(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.out.close()


class Observer(threading.Thread):
    """An independent AMI client that records every callee channel the simulator creates.

    C{dials} is a list of (monotonic time, number) for each C{Newchannel} of a
    C{Local/<number>@callee-...;1} channel: one entry per number actually dialed;
    C{hangups} one (monotonic time, number, cause) per C{Hangup} of such a channel.
    """

    CHANNEL = re.compile(r"^Local/(\+?\d+)@callee-[0-9a-f]+;1$")

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.dials: list[tuple[float, str]] = []
        self.hangups: list[tuple[float, str, int]] = []
        self.up_channels = 0
        self._stop = threading.Event()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"Action: Login\r\nUsername: dialer\r\nSecret: dialer\r\n\r\n")
        self.sock.settimeout(0.5)

    def run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                block, buf = buf.split(b"\r\n\r\n", 1)
                headers = {}
                for line in block.decode("utf-8", "replace").split("\r\n"):
                    key, sep, value = line.partition(": ")
                    if sep:
                        headers.setdefault(key, value)
                event = headers.get("Event")
                if event in ("Newchannel", "Hangup"):
                    m = self.CHANNEL.match(headers.get("Channel", ""))
                    if m and event == "Newchannel":
                        self.dials.append((time.monotonic(), m.group(1)))
                    elif m:
                        cause = int(headers.get("Cause", "0") or 0)
                        self.hangups.append((time.monotonic(), m.group(1), cause))

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.close()


AGENTS = 100

PROFILE = """
version = 1
mode = "profile"
description = "fault test: most numbers answer fast, long calls"
[callee]
answer = 0.85
busy = 0.05
unallocated = 0.02
no_answer_after = 6
ring = { min = 0.5, max = 2.0 }
talk = 300
[agents]
answer_after = 0.2
talk = 300
"""


def config(tmp_path, db, ami, agi, http):
    names = ", ".join(f'"agent{i}"' for i in range(1, AGENTS + 1))
    return f"""
[database]
url = "{db}"
[[ami]]
name = "pbx1"
endpoint = "tcp:127.0.0.1:{ami}"
secret = "dialer"
lines = 160
[agi]
endpoint = "tcp:{agi}:interface=127.0.0.1"
scripts = "{ROOT / "ivr_scripts"}"
[http]
endpoint = "tcp:{http}:interface=127.0.0.1"
[dialer]
always_open = true
heartbeat = 0.5
drain_timeout = 2.0
[agents]
names = [{names}]
simulated = true
wrap_mean = 5.0
[campaigns]
poll = 0.5
"""


def make_rig(tmp_path: Path, profile: str = PROFILE) -> tuple[Path, int, int, list[str]]:
    """A running campaign in a fresh SQLite store, config and profile files, free ports.

    Returns the database path, the AMI and HTTP ports and the `dialer sim` arguments
    (without a seed); the caller starts the simulator and the daemon.
    """
    from dialer.store import campaigns as store
    from dialer.store.engine import create_engine
    from dialer.store.migrate import upgrade
    from tests.campaign.storehelp import make_campaign, seed_frame

    db_path = tmp_path / "fault.db"
    url = f"sqlite:///{db_path}"
    eng = create_engine(url)
    upgrade(eng)
    with eng.begin() as conn:
        seed_frame(conn, n_units=4, per_unit=100)
        # a questionnaire that loads from [agi] scripts (the daemon refuses a campaign
        # whose questionnaire does not)
        cid = make_campaign(conn, mode="progressive", questionnaire="hechi_annual")
        store.thd_set_status(conn, cid, "running", time.time())
    eng.dispose()
    ami, agi, http = free_port(), free_port(), free_port()
    (tmp_path / "profile.toml").write_text(profile, encoding="utf-8")
    (tmp_path / "dialer.toml").write_text(config(tmp_path, url, ami, agi, http), encoding="utf-8")
    sim_args = [
        "sim",
        "--ami",
        f"127.0.0.1:{ami}",
        "--agi",
        f"127.0.0.1:{agi}",
        "--profile",
        str(tmp_path / "profile.toml"),
        "--recordings",
        str(tmp_path / "rec"),
    ]
    return db_path, ami, http, sim_args
