"""
AMI event masks (L{dialer.ami.eventmask}) as Asterisk 22's manager.c reads them, and the
simulated PBX honouring a Login C{Events:} mask exactly as Asterisk does.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from dialer.ami.client import AMIClient
from dialer.ami.eventmask import (
    CLASSES,
    DEFAULT_EVENT_MASK,
    ENGINE_EVENTS,
    MaskError,
    check_setting,
    sends,
    session_classes,
)
from dialer.ami.message import Message
from dialer.sim.profile import load_profile
from dialer.sim.server import SimulatedPBX

PROFILES = Path(__file__).resolve().parents[2] / "dialer" / "sim" / "profiles"
T0 = 1_795_594_000.0
ALL = frozenset(CLASSES)


@pytest.mark.parametrize(
    ("value", "classes"),
    [
        (None, None),  # no header: the session keeps its mask
        ("", None),
        ("on", ALL),
        ("YES", ALL),  # ast_true is case-insensitive
        ("off", frozenset()),
        ("no", frozenset()),
        ("0", frozenset()),
        ("1", frozenset({"system"})),  # digits are a bit mask, checked before ast_true
        ("8194", frozenset({"call", "agi"})),  # EVENT_FLAG_CALL | EVENT_FLAG_AGI
        ("all", ALL),
        ("call,all", ALL),
        ("system,call,user,agi", frozenset({"system", "call", "user", "agi"})),
        ("call, agi", frozenset({"call"})),  # " agi" matches no label (no trimming)
        ("Call,agi", frozenset({"agi"})),  # labels are case-sensitive
        ("call,bogus", frozenset({"call"})),  # unknown names add nothing
        ("none", frozenset()),
        ("call,", frozenset({"call"})),  # a trailing comma ends the list
        ("c,agi", frozenset({"call", "command", "config", "cdr", "cc", "agi"})),  # prefix quirk
    ],
)
def test_session_classes_as_manager_c(value, classes):
    """strings_to_mask/get_perm/ast_instring: digits, true/false words, lists and their quirks."""
    assert session_classes(value) == classes


def test_sends_needs_every_class_of_the_event():
    """process_events sends an event only when all its classes are in the mask."""
    mask = frozenset({"call", "system"})
    assert sends(mask, "call,all")
    assert not sends(mask, "dialplan,all")
    assert not sends(mask, "call,dialplan,all")  # a two-class event needs both
    assert sends(None, "dialplan,all")  # no mask set: everything


def test_default_mask_covers_the_engine():
    """The default asks for every class the engine reads, plus user (AMD), and no dialplan."""
    classes = session_classes(DEFAULT_EVENT_MASK)
    assert classes is not None and set(ENGINE_EVENTS) | {"user"} == classes
    assert check_setting(DEFAULT_EVENT_MASK, amd=True) == DEFAULT_EVENT_MASK


@pytest.mark.parametrize(
    ("value", "amd", "text"),
    [
        ("call,agi,user,system", False, "system,call,user,agi"),  # manager.c order
        (" Call , AGI ,system ", False, "system,call,agi"),  # spaces and case normalised
        (["agi", "call", "system", "dialplan"], True, "system,call,dialplan,agi"),
        ("call,all", False, "all"),
    ],
)
def test_check_setting_normalises(value, amd, text):
    """A good setting becomes the exact Events: value sent (lower-case, no spaces, ordered)."""
    assert check_setting(value, amd=amd) == text
    assert session_classes(text) == (ALL if text == "all" else frozenset(text.split(",")))


@pytest.mark.parametrize(
    ("value", "amd", "problem"),
    [
        ("call,agi,system,bogus", False, "unknown AMI event class 'bogus'"),
        ("on", False, "unknown AMI event class 'on'"),
        ("", False, "empty event mask"),
        (" , ", False, "empty event mask"),
        (42, False, "comma-separated list"),
        (["call", 1], False, "comma-separated list"),
        ("call,agi", False, "drops class 'system'"),
        ("system,agi,user", False, "drops class 'call'"),
        ("system,call,user", False, "drops class 'agi'"),
        ("system,call,agi", True, "amd is on"),
    ],
)
def test_check_setting_refuses(value, amd, problem):
    """Unknown classes and masks that drop events the engine needs are refused, in two languages."""
    with pytest.raises(MaskError, match=problem) as info:
        check_setting(value, amd=amd)
    assert " / " in str(info.value)  # English / 中文


class SimMaskTests(SynchronousTestCase):
    """The simulated PBX filters by the Login Events: mask exactly as Asterisk does."""

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.sim = SimulatedPBX(
            clock=self.clock,
            rng=random.Random(5),
            profile=load_profile(PROFILES / "reference.toml"),
        )

    def run_for(self, seconds, step=0.1):
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def client(self, events):
        seen: list[Message] = []
        c = AMIClient(
            self.sim.ami_endpoint(),
            "dialer",
            "dialer",
            clock=self.clock,
            keepalive_interval=None,
            boot_timeout=3.0,
            retry_policy=lambda attempt: 0.5,
            events=events,
        )
        c.subscribe(None, seen.append)
        c.startService()
        self.addCleanup(c.stopService)
        return c, seen

    def call(self, client):
        """One answered call (number ending 2: answers, speaks, hangs up) into the survey."""
        client.originate("Local/10002@callee", context="hold", exten="s", priority=1, timeout=25)
        self.run_for(15)

    def test_default_mask_drops_dialplan_and_cdr_keeps_call(self):
        """With the default mask only system, call, user and agi events arrive."""
        c, seen = self.client(DEFAULT_EVENT_MASK)
        self.run_for(1)
        assert c.ready
        self.call(c)
        names = {m.name for m in seen}
        assert {"FullyBooted", "Newchannel", "Newstate", "Hangup", "OriginateResponse"} <= names
        assert "UserEvent" in names  # hold's MinyiAMD verdict (class user)
        assert not names & {"Newexten", "VarSet", "Cdr", "SuccessfulAuth"}
        privileges = {m.get("Privilege") for m in seen if m.get("Privilege")}
        assert privileges <= {"system,all", "call,all", "user,all", "agi,all"}
        session = self.sim.sessions[0]
        assert session.wants("call,all") and not session.wants("call,dialplan,all")

    def test_unmasked_login_gets_everything(self):
        """Without an Events: header the session keeps every class (Asterisk's default)."""
        c, seen = self.client(None)
        self.run_for(1)
        self.call(c)
        names = {m.name for m in seen}
        assert {"Newexten", "VarSet", "Cdr"} <= names
        assert self.sim.sessions[0].event_classes is None

    def test_mask_without_system_has_no_fully_booted(self):
        """No system class: Asterisk sends no FullyBooted after Login, so the client waits."""
        c, seen = self.client("call,agi")
        self.run_for(1)
        assert not c.ready and "FullyBooted" not in {m.name for m in seen}
        self.run_for(3)  # boot_timeout
        assert c.ready

    def test_spaces_in_a_raw_mask_drop_classes(self):
        """A raw `call, agi` (as Asterisk reads it) is call only; the config normalises it."""
        c, seen = self.client("system,call, agi")
        self.run_for(1)
        assert self.sim.sessions[0].event_classes == frozenset({"system", "call"})
        self.call(c)
        assert "AGIExecStart" not in {m.name for m in seen}

    def test_events_action_replies_as_asterisk(self):
        """Events action: On for classes, Off for off/none, an error for an empty mask."""
        c, _ = self.client(DEFAULT_EVENT_MASK)
        self.run_for(1)
        replies = []
        for mask in ("call", "none", "off", ""):
            d = c.send_action(Message.action("Events", {"EventMask": mask}))
            d.addBoth(replies.append)
            self.run_for(0.2)
        assert [getattr(r, "get", lambda k: None)("Events") for r in replies[:3]] == [
            "On",
            "Off",
            "Off",
        ]
        assert "Invalid event mask" in str(replies[3].value)


def test_manager_conf_read_allows_the_default_mask():
    """asterisk_conf/manager.conf's dialer user may read every class of the default mask."""
    import configparser

    conf = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=(";",))
    conf.read(Path(__file__).resolve().parents[2] / "asterisk_conf" / "manager.conf")
    read = session_classes(conf["dialer"]["read"])  # get_perm reads the list the same way
    wanted = session_classes(DEFAULT_EVENT_MASK)
    assert read is not None and wanted is not None and wanted <= read
