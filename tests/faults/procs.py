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
    C{Local/<number>@callee-...;1} channel: one entry per number actually dialed.
    """

    CHANNEL = re.compile(r"^Local/(\+?\d+)@callee-[0-9a-f]+;1$")

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.dials: list[tuple[float, str]] = []
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
                if headers.get("Event") == "Newchannel":
                    m = self.CHANNEL.match(headers.get("Channel", ""))
                    if m:
                        self.dials.append((time.monotonic(), m.group(1)))

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.close()
