"""
Independent AMI clients against the simulator running in a subprocess on a loopback port:
the PyPI C{asterisk-ami} client and pyst2's C{asterisk.manager}.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

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
