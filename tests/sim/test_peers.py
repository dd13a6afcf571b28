"""
Independent AMI clients against the simulator running in a subprocess on a loopback port:
the PyPI C{asterisk-ami} client and pyst2's C{asterisk.manager}.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    # pyst2 itself uses deprecated threading names (isSet, currentThread).
    pytest.mark.filterwarnings("ignore::DeprecationWarning:asterisk.manager"),
]

PROFILE = Path(__file__).resolve().parents[2] / "dialer" / "sim" / "profiles" / "reference.toml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sim_port(tmp_path):
    port = _free_port()
    agi_port = _free_port()  # nothing listens there: AGI() fails, as in trace j
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dialer",
            "sim",
            "--ami",
            f"127.0.0.1:{port}",
            "--agi",
            f"127.0.0.1:{agi_port}",
            "--profile",
            str(PROFILE),
            "--recordings",
            str(tmp_path / "rec"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("simulator did not start: " + proc.stderr.read().decode()[-2000:])
    yield port
    proc.terminate()
    proc.wait(10)


def test_asterisk_ami_client_logs_in_originates_and_gets_events(sim_port):
    """PyPI asterisk-ami: login, async Originate (busy), OriginateResponse Reason 5, Hangup events."""
    from asterisk.ami import AMIClient, SimpleAction

    client = AMIClient(address="127.0.0.1", port=sim_port, timeout=5)
    events = []
    got = threading.Event()

    def listener(event, **kwargs):
        events.append(event)
        if event.name == "OriginateResponse":
            got.set()

    client.add_event_listener(listener)
    login = client.login(username="dialer", secret="dialer").response
    assert login.status == "Success"
    resp = client.send_action(
        SimpleAction(
            "Originate",
            Channel="Local/10000@callee",
            Context="survey",
            Exten="s",
            Priority="1",
            Timeout="25000",
            Async="true",
            CallerID='"Survey Dialer" <5550100>',
        )
    ).response
    assert resp.status == "Success"
    assert got.wait(10)
    origin = next(e for e in events if e.name == "OriginateResponse")
    assert origin.keys["Reason"] == "5"
    time.sleep(0.3)
    assert {"Newchannel", "DialBegin", "DialEnd", "Hangup"} <= {e.name for e in events}
    client.logoff()


def test_pyst2_manager_logs_in_originates_and_gets_events(sim_port):
    """pyst2's manager: login, ping, Originate of an answering callee, events, status."""
    from asterisk.manager import Manager

    manager = Manager()
    events = []
    answered = threading.Event()

    def on_event(event, mgr):
        events.append(event)
        if event.name == "OriginateResponse":
            answered.set()

    manager.register_event("*", on_event)
    manager.connect("127.0.0.1", sim_port)
    try:
        assert manager.login("dialer", "dialer").get_header("Response") == "Success"
        assert manager.ping().get_header("Ping") == "Pong"
        manager.originate(
            "Local/10009@callee",
            "s",
            context="hold",
            priority="1",
            timeout="25000",
            caller_id='"Survey Dialer" <5550100>',
            run_async=True,
            variables={"CAMPAIGN": "test"},
        )
        assert answered.wait(10)
        response = next(e for e in events if e.name == "OriginateResponse")
        assert response.get_header("Reason") == "4"
        status = manager.status()
        assert status.get_header("Response") == "Success"
        assert {"Newchannel", "Newstate", "DialEnd"} <= {e.name for e in events}
    finally:
        manager.close()  # sends Logoff itself


def _read_until(sock, marker: bytes, timeout=5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_core_restart_over_tcp_closes_then_reopens_the_port(sim_port):
    """Over real TCP: core restart now -> Shutdown + EOF, port refused, then back with a banner."""
    sock = socket.create_connection(("127.0.0.1", sim_port))
    _read_until(sock, b"\r\n")
    sock.sendall(b"Action: Login\r\nUsername: dialer\r\nSecret: dialer\r\n\r\n")
    _read_until(sock, b"Event: SuccessfulAuth")
    sock.sendall(b"Action: Command\r\nCommand: core restart now\r\nActionID: r\r\n\r\n")
    data = b""
    sock.settimeout(5)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert b"Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\nRestart: True" in data
    # Right after the EOF a connect is refused, or (as Asterisk did once) accepted and reset.
    try:
        probe = socket.create_connection(("127.0.0.1", sim_port), timeout=1)
    except OSError:
        pass
    else:
        probe.settimeout(1)
        with contextlib.suppress(OSError):
            assert probe.recv(100) == b""
        probe.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            again = socket.create_connection(("127.0.0.1", sim_port), timeout=1)
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert _read_until(again, b"\r\n") == b"Asterisk Call Manager/11.0.0\r\n"
    again.close()


def test_bad_profile_is_a_one_line_error(tmp_path):
    """dialer sim with an invalid profile exits 1 with a message naming the file."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[callee]\nanswer = 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "dialer", "sim", "--profile", str(bad), "--ami", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "bad.toml" in proc.stderr + proc.stdout
