# -*- test-case-name: tests.sim.test_ami -*-
"""
The simulator's AMI server: banner, login (plaintext and MD5 challenge), actions, events.

Responses, header sets and ordering follow the reference traces (scenarios a, c, d, e, e2,
f). Events come from the current L{dialer.sim.pbx.PBX} of the owning L{SimulatedPBX}.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any

from twisted.internet import protocol
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from dialer.ami.eventmask import CLASSES, sends, session_classes
from dialer.ami.message import Framer, FramingError, Message
from dialer.sim.dialplan import separate_args
from dialer.sim.pbx import Channel, OriginateRequest

if TYPE_CHECKING:
    from dialer.sim.server import SimulatedPBX

__all__ = ["BANNER", "AMIServerFactory", "AMISession"]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
VERSION_LINE = (
    "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-25 07:59:16 UTC"
)
AUTH_FAIL_DELAY = 1.0
_PUBLIC_ACTIONS = frozenset({"login", "challenge", "logoff"})


def _tv(epoch: float) -> str:
    ms = int((epoch % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{ms:03d}+0000"


def _addr(a: IAddress | None) -> str:
    host = getattr(a, "host", "127.0.0.1")
    port = getattr(a, "port", 0)
    return f"IPV4/TCP/{host}/{port}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class AMISession(protocol.Protocol):
    """One AMI connection to the simulator."""

    log = Logger()

    def __init__(self, sim: SimulatedPBX) -> None:
        self.sim = sim
        self.framer = Framer(banner=False, max_line=8192, max_message=1024 * 1024)
        self.authenticated = False
        self.username = ""
        self.events_on = True
        self.event_classes: frozenset[str] | None = None  # None: every class
        self._sent: dict[str, bool] = {}  # Privilege header -> sent under the current mask
        self.challenge: str | None = None
        self.closing = False
        self.session_id = f"0x{sim.rng.getrandbits(44):x}"

    # -- connection -----------------------------------------------------------------

    def connectionMade(self) -> None:
        self.sim.sessions.append(self)
        if self.sim.pbx is not None:
            self.sim.pbx.subscribe(self)
        self._write(BANNER)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self in self.sim.sessions:
            self.sim.sessions.remove(self)
        if self.sim.pbx is not None:
            self.sim.pbx.unsubscribe(self)

    def dataReceived(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            messages = self.framer.feed(data)
        except FramingError as e:
            self.log.warn("AMI client sent garbage ({error}); closing", error=str(e))  # noqa: G010
            self.close()
            return
        for msg in messages:
            self.handle(msg)
            if self.is_closing():
                break

    def _write(self, data: bytes) -> None:
        transport: Any = self.transport
        if transport is not None:
            transport.write(data)

    def send(self, msg: Message) -> None:
        """Write one message."""
        if not self.closing:
            self._write(msg.serialize())

    def event(self, msg: Message) -> None:
        """An event from the PBX (sent when logged in and its class is wanted)."""
        if not (self.authenticated and self.events_on):
            return
        if self.event_classes is not None:
            headers = msg.headers
            # Events put Privilege second; avoid building a look-up index per event.
            priv = headers[1][1] if len(headers) > 1 and headers[1][0] == "Privilege" else ""
            if not self.wants(priv):
                return
        self.send(msg)

    def wants(self, privilege: str) -> bool:
        """True when an event of C{privilege} (C{"call,all"}) would be sent to this session."""
        if not (self.authenticated and self.events_on):
            return False
        if self.event_classes is None:
            return True
        sent = self._sent.get(privilege)
        if sent is None:
            # manager.c process_events: every class of the event must be in the mask
            sent = self._sent[privilege] = sends(self.event_classes, privilege)
        return sent

    def set_event_mask(self, mask: str) -> bool | None:
        """
        Apply a Login C{Events:} / C{EventMask:} value as Asterisk's C{set_eventmask}
        (see L{dialer.ami.eventmask.session_classes}); returns None when the value is
        empty (mask unchanged), else whether any class is now on.
        """
        classes = session_classes(mask)
        if classes is None:
            return None
        self._sent = {}
        self.events_on = bool(classes)
        self.event_classes = None if classes == frozenset(CLASSES) else classes
        return self.events_on

    def is_closing(self) -> bool:
        """True once the session is closing (after Logoff or a failed login)."""
        return self.closing

    def close(self) -> None:
        """Close after what was written."""
        transport: Any = self.transport
        if transport is not None:
            transport.loseConnection()
        self.closing = True

    # -- security events ------------------------------------------------------------

    def _security(self, name: str, extra: list[tuple[str, str]], *, others: bool) -> None:
        now = self.sim.clock.seconds()
        base: list[tuple[str, str]] = [
            ("Privilege", "security,all"),
            ("EventTV", _tv(now)),
            ("Severity", "Informational" if name == "SuccessfulAuth" else "Error"),
            ("Service", "AMI"),
            ("EventVersion", "1" if name != "RequestBadFormat" else "2"),
        ]
        msg = Message.event(name, base + extra)
        targets = [s for s in self.sim.sessions if s is not self] if others else [self]
        for s in targets:
            s.event(msg)
        if name == "RequestBadFormat" and not others:
            pass

    def _addresses(self) -> list[tuple[str, str]]:
        transport: Any = self.transport
        return [
            ("SessionID", self.session_id),
            ("LocalAddress", _addr(transport.getHost() if transport else None)),
            ("RemoteAddress", _addr(transport.getPeer() if transport else None)),
        ]

    # -- dispatch -------------------------------------------------------------------

    def reply(self, msg: Message, status: str, headers: list[tuple[str, str]]) -> None:
        """Send a response, echoing the ActionID when one was given."""
        self.send(Message.response(status, headers, action_id=msg.get("ActionID")))

    def error(self, msg: Message, text: str) -> None:
        """Send C{Response: Error} with C{Message: text}."""
        self.reply(msg, "Error", [("Message", text)])

    def handle(self, msg: Message) -> None:
        """Dispatch one action."""
        action = msg.get("Action")
        now = self.sim.clock.seconds()
        if not action:
            self.error(msg, "Missing action in request")
            if self.authenticated:
                self._bad_format("")
            return
        name = action.lower()
        if not self.authenticated and name not in _PUBLIC_ACTIONS:
            self.error(msg, "Permission denied")
            self._security(
                "RequestNotAllowed",
                [
                    ("AccountID", ""),
                    *self._addresses(),
                    ("RequestType", action),
                    ("SessionTV", _tv(now)),
                ],
                others=True,
            )
            return
        handler = getattr(self, "action_" + name, None)
        if handler is None or self.sim.pbx is None:
            if handler is None:
                self.error(
                    msg,
                    f"Invalid/unknown command: {action}. Use Action: ListCommands to show "
                    "available commands.",
                )
                self._bad_format(action)
            return
        handler(msg)

    def _bad_format(self, action: str) -> None:
        now = self.sim.clock.seconds()
        self._security(
            "RequestBadFormat",
            [
                *self._addresses(),
                ("RequestType", action),
                ("SessionTV", _tv(now)),
                ("AccountID", self.username),
            ],
            others=False,
        )

    # -- login ------------------------------------------------------------------------

    def action_challenge(self, msg: Message) -> None:
        if (msg.get("AuthType") or "").lower() != "md5":
            self.error(msg, "Must specify AuthType")
            return
        self.challenge = str(self.sim.rng.randrange(10**8, 10**9))
        self.reply(msg, "Success", [("Challenge", self.challenge)])

    def action_login(self, msg: Message) -> None:
        now = self.sim.clock.seconds()
        user = msg.get("Username") or ""
        secret = self.sim.users.get(user)
        ok = False
        if secret is not None:
            if (msg.get("AuthType") or "").lower() == "md5":
                key = msg.get("Key") or ""
                if self.challenge:
                    want = hashlib.md5((self.challenge + secret).encode()).hexdigest()
                    ok = key.lower() == want
            else:
                ok = msg.get("Secret") == secret
        if not ok:
            event = "InvalidPassword" if secret is not None else "InvalidAccountID"
            extra: list[tuple[str, str]] = [
                ("AccountID", user),
                *self._addresses(),
                ("SessionTV", _tv(now)),
            ]
            if event == "InvalidPassword" and self.challenge:
                extra += [("Challenge", self.challenge), ("ReceivedChallenge", self.challenge)]
            self._security(event, extra, others=True)

            def fail() -> None:
                self.error(msg, "Authentication failed")
                self.close()

            self.closing_timer = self.sim.clock.callLater(AUTH_FAIL_DELAY, fail)
            return
        if self.authenticated:
            self.reply(msg, "Success", [("Message", "Authentication accepted")])
            return
        self.authenticated = True
        self.username = user
        self.set_event_mask(msg.get("Events") or "")  # empty or absent: unchanged (all)
        self.reply(msg, "Success", [("Message", "Authentication accepted")])
        if self.sim.booted:
            self.event(self.sim.fully_booted())
        self._security(
            "SuccessfulAuth",
            [
                ("AccountID", user),
                *self._addresses(),
                ("UsingPassword", "0"),
                ("SessionTV", _tv(now)),
            ],
            others=False,
        )

    def action_logoff(self, msg: Message) -> None:
        self.reply(msg, "Goodbye", [("Message", "Thanks for all the fish.")])
        self.close()

    # -- simple actions -------------------------------------------------------------

    def action_ping(self, msg: Message) -> None:
        self.reply(
            msg, "Success", [("Ping", "Pong"), ("Timestamp", f"{self.sim.clock.seconds():.6f}")]
        )

    def action_events(self, msg: Message) -> None:
        on = self.set_event_mask(msg.get("EventMask") or "")
        if on is None:
            self.error(msg, "Invalid event mask")
        else:
            self.reply(msg, "Success", [("Events", "On" if on else "Off")])

    def action_coresettings(self, msg: Message) -> None:
        self.reply(
            msg,
            "Success",
            [
                ("AMIversion", "11.0.0"),
                ("AsteriskVersion", "22.10.1"),
                ("SystemName", ""),
                ("CoreMaxCalls", "200"),
                ("CoreMaxLoadAvg", "0.000000"),
                ("CoreRunUser", ""),
                ("CoreRunGroup", ""),
                ("CoreMaxFilehandles", "0"),
                ("CoreRealTimeEnabled", "No"),
                ("CoreCDRenabled", "Yes"),
                ("CoreHTTPenabled", "No"),
                ("SoundsSearchCustomDir", "No"),
            ],
        )

    def action_corestatus(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        started = time.gmtime(pbx.started)
        live = {c.linkedid for c in pbx.channels.values() if not c.gone}
        self.reply(
            msg,
            "Success",
            [
                ("CoreStartupDate", time.strftime("%Y-%m-%d", started)),
                ("CoreStartupTime", time.strftime("%H:%M:%S", started)),
                ("CoreReloadDate", time.strftime("%Y-%m-%d", started)),
                ("CoreReloadTime", time.strftime("%H:%M:%S", started)),
                ("CoreCurrentCalls", str(len(live))),
                ("CoreProcessedCalls", str(pbx.processed_calls)),
            ],
        )

    def action_command(self, msg: Message) -> None:
        command = " ".join((msg.get("Command") or "").split())
        pbx = self.sim.pbx
        assert pbx is not None
        if command == "core show version":
            out = [VERSION_LINE]
        elif command == "core show channels concise":
            out = [self._concise(c) for c in self._live()]
        elif command == "core show uptime seconds":
            up = int(self.sim.clock.seconds() - pbx.started)
            out = [f"System uptime: {up}", f"Last reload: {up}"]
        elif command in (
            "core restart now",
            "core stop now",
            "core restart gracefully",
            "core stop gracefully",
        ):
            self.reply(msg, "Success", [("Message", "Command output follows"), ("Output", "")])
            self.sim.shutdown(restart="restart" in command)
            return
        else:
            self.reply(
                msg,
                "Error",
                [
                    ("Message", "Command output follows"),
                    (
                        "Output",
                        f"No such command '{command}' (type 'core show help {command}' "
                        "for other possible commands)",
                    ),
                ],
            )
            return
        self.reply(
            msg, "Success", [("Message", "Command output follows"), *[("Output", o) for o in out]]
        )

    def _live(self) -> list[Channel]:
        pbx = self.sim.pbx
        assert pbx is not None
        return [c for c in pbx.channels.values() if not c.gone]

    def _concise(self, c: Channel) -> str:
        now = self.sim.clock.seconds()
        bridge = c.bridge.uniqueid if c.bridge else ""
        dur = int(now - c.created)
        cid = "" if c.cid_num == "<unknown>" else c.cid_num
        return "!".join(
            [
                c.name,
                c.context,
                c.exten,
                str(c.priority),
                _state(c),
                c.app,
                c.app_data,
                cid,
                "",
                "",
                "3",
                str(dur),
                bridge,
                c.uniqueid,
            ]
        )

    # -- channel actions ---------------------------------------------------------------

    def action_originate(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        cid_name, cid_num = _parse_callerid(msg.get("CallerID") or "")
        variables = []
        for v in msg.get_all("Variable"):
            # manager.c: each header is split like application arguments (commas outside
            # quotes/parentheses; quotes removed), then each item at its first "="
            for part in separate_args(v.lstrip()):
                k, sep, val = part.partition("=")
                if sep and k.strip():
                    variables.append((k.strip(), val))
        try:
            timeout = float(msg.get("Timeout") or 30000) / 1000.0
            priority = int(msg.get("Priority") or 1)
        except ValueError:
            self.error(msg, "Invalid timeout")
            return
        req = OriginateRequest(
            channel=msg.get("Channel") or "",
            context=msg.get("Context"),
            exten=msg.get("Exten"),
            priority=priority,
            application=msg.get("Application"),
            data=msg.get("Data") or "",
            timeout=timeout if timeout > 0 else 30.0,
            caller_num=cid_num,
            caller_name=cid_name,
            variables=variables,
            action_id=msg.get("ActionID"),
            channel_id=msg.get("ChannelId"),
            other_channel_id=msg.get("OtherChannelId"),
            is_async=(msg.get("Async") or "").lower() in ("true", "yes", "1", "on"),
        )
        problem = pbx.originate_check(req)
        if problem is not None:
            self.error(msg, problem)
            return
        if req.is_async:
            self.reply(msg, "Success", [("Message", "Originate successfully queued")])
            pbx.originate(req, None)
            return

        def sync_reply(ok: bool) -> None:
            if ok:
                self.reply(msg, "Success", [("Message", "Originate successfully queued")])
            else:
                self.error(msg, "Originate failed")

        pbx.originate(req, sync_reply)

    def action_hangup(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        name = msg.get("Channel") or ""
        cause_text = msg.get("Cause")
        cause = int(cause_text) if cause_text and cause_text.isdigit() else None
        if not name:
            self.error(msg, "No channel specified")
            return
        if len(name) > 1 and name.startswith("/") and name.endswith("/"):
            try:
                pattern = re.compile(name[1:-1])
            except re.error:
                self.error(msg, "Invalid regex")
                return
            self.reply(
                msg,
                "Success",
                [("EventList", "start"), ("Message", "Channels hung up will follow")],
            )
            matched = [c for c in self._live() if pattern.search(c.name)]
            aid = msg.get("ActionID")
            for c in matched:
                # manager.c: "Event: ChannelHungup", "Channel: <name>", then the ActionID.
                item: list[tuple[str, str]] = [("Channel", c.name)]
                item += [("ActionID", aid)] if aid else []
                self.send(Message.event("ChannelHungup", item))
                pbx.hangup_channel(c, cause)
            done: list[tuple[str, str]] = [("ActionID", aid)] if aid else []
            self.send(
                Message.event(
                    "ChannelsHungupListComplete",
                    [*done, ("EventList", "Complete"), ("ListItems", str(len(matched)))],
                )
            )
            return
        chan = pbx.find(name)
        if chan is None:
            self.error(msg, "No such channel")
            return
        self.reply(msg, "Success", [("Message", "Channel Hungup")])
        pbx.hangup_channel(chan, cause)

    def action_redirect(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        name = msg.get("Channel") or ""
        if not name:
            self.error(msg, "Channel not specified")
            return
        chan = pbx.find(name)
        if chan is None:
            self.error(msg, f"Channel does not exist: {name}")
            return
        context = msg.get("Context") or chan.context
        exten = msg.get("Exten") or chan.exten
        try:
            priority = int(msg.get("Priority") or 1)
        except ValueError:
            self.error(msg, "Invalid priority")
            return
        if pbx.dialplan.step(context, exten, priority) is None:
            self.error(msg, "Extension does not exist.")
            return
        self.reply(msg, "Success", [("Message", "Redirect successful")])
        chan.redirect(context, exten, priority)

    # -- the Asterisk database (main/db.c) ------------------------------------------------

    def _db_args(self, msg: Message, *, dot: bool = True) -> tuple[str, str] | None:
        family = msg.get("Family") or ""
        key = msg.get("Key") or ""
        end = "." if dot else ""
        if not family:
            self.error(msg, "No family specified" + end)
            return None
        if not key:
            self.error(msg, "No key specified" + end)
            return None
        return family, key

    def action_dbget(self, msg: Message) -> None:
        """C{DBGet}: a one-item event list (DBGetResponse, DBGetComplete), or an error."""
        args = self._db_args(msg)
        if args is None:
            return
        value = self.sim.database.get(args)
        if value is None:
            self.error(msg, "Database entry not found")
            return
        aid = msg.get("ActionID")
        # astman_append: Family, Key, Val, then the ActionID; no Privilege header
        item: list[tuple[str, str]] = [("Family", args[0]), ("Key", args[1]), ("Val", value)]
        item += [("ActionID", aid)] if aid else []
        self._list(
            msg, "Result will follow", [Message.event("DBGetResponse", item)], "DBGetComplete"
        )

    def action_dbput(self, msg: Message) -> None:
        args = self._db_args(msg, dot=False)
        if args is None:
            return
        self.sim.database[args] = msg.get("Val") or ""
        self.reply(msg, "Success", [("Message", "Updated database successfully")])

    def action_dbdel(self, msg: Message) -> None:
        args = self._db_args(msg)
        if args is None:
            return
        if self.sim.database.pop(args, None) is None:
            # Asterisk 22 checks the key first (ast_db_del2)
            self.error(msg, "Database entry could not be deleted")
            return
        self.reply(msg, "Success", [("Message", "Key deleted successfully")])

    def action_dbdeltree(self, msg: Message) -> None:
        family = msg.get("Family") or ""
        if not family:
            self.error(msg, "No family specified.")
            return
        prefix = msg.get("Key") or ""
        doomed = [
            k
            for k in self.sim.database
            if k[0] == family and (not prefix or k[1] == prefix or k[1].startswith(prefix + "/"))
        ]
        if not doomed:
            self.error(msg, "Database entry not found")
            return
        for k in doomed:
            del self.sim.database[k]
        self.reply(msg, "Success", [("Message", "Key tree deleted successfully")])

    def action_getvar(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        var = msg.get("Variable") or ""
        if not var:
            self.error(msg, "No variable specified")
            return
        name = msg.get("Channel")
        if name:
            chan = pbx.find(name)
            if chan is None:
                self.error(msg, "No such channel")
                return
            value = chan.variables().get(var, "")
        else:
            value = pbx.globals.get(var, "")
        self.reply(msg, "Success", [("Variable", var), ("Value", value)])

    def action_setvar(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        var = msg.get("Variable") or ""
        if not var:
            self.error(msg, "No variable specified")
            return
        value = msg.get("Value") or ""
        name = msg.get("Channel")
        if name:
            chan = pbx.find(name)
            if chan is None:
                self.error(msg, "No such channel")
                return
            pbx.set_var(chan, var, value)
        else:
            pbx.globals[var] = value
        self.reply(msg, "Success", [("Message", "Variable Set")])

    def _list(
        self,
        msg: Message,
        start_text: str,
        items: list[Message],
        complete: str,
        extra_complete: list[tuple[str, str]] | None = None,
    ) -> None:
        aid = msg.get("ActionID")
        self.reply(msg, "Success", [("EventList", "start"), ("Message", start_text)])
        for item in items:
            self.send(item)
        done: list[tuple[str, str]] = [("ActionID", aid)] if aid else []
        done += [("EventList", "Complete"), ("ListItems", str(len(items)))]
        done += extra_complete or []
        self.send(Message.event(complete, done))

    def action_coreshowchannels(self, msg: Message) -> None:
        aid = msg.get("ActionID")
        now = self.sim.clock.seconds()
        items = []
        for c in self._live():
            head: list[tuple[str, str]] = [("ActionID", aid)] if aid else []
            items.append(
                Message.event(
                    "CoreShowChannel",
                    [
                        *head,
                        *c.snapshot(),
                        ("Application", c.app),
                        ("ApplicationData", c.app_data),
                        ("Duration", _duration(now - c.created)),
                        ("BridgeId", c.bridge.uniqueid if c.bridge else ""),
                    ],
                )
            )
        self._list(msg, "Channels will follow", items, "CoreShowChannelsComplete")

    def action_status(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        name = msg.get("Channel")
        if name:
            chan = pbx.find(name)
            if chan is None:
                self.error(msg, "No such channel")
                return
            chans = [chan]
        else:
            chans = self._live()
        wanted = [v.strip() for v in (msg.get("Variables") or "").split(",") if v.strip()]
        aid = msg.get("ActionID")
        now = self.sim.clock.seconds()
        items = []
        for c in chans:
            values = c.variables()
            conn_num = c.conn_num
            headers: list[tuple[str, str]] = [
                ("Privilege", "Call"),
                *c.snapshot(),
                ("Type", c.tech),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", conn_num),
                ("EffectiveConnectedLineName", c.conn_name),
                ("TimeToHangup", "0"),
                ("BridgeID", c.bridge.uniqueid if c.bridge else ""),
                ("Application", c.app),
                ("Data", c.app_data),
                ("Nativeformats", "(slin)"),
                ("Readformat", "slin"),
                ("Readtrans", ""),
                ("Writeformat", "slin"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(now - c.created))),
            ]
            headers += [("Variable", f"{v}={values.get(v, '')}") for v in wanted]
            if aid:
                headers.append(("ActionID", aid))
            items.append(Message.event("Status", headers))
        self._list(
            msg, "Channel status will follow", items, "StatusComplete", [("Items", str(len(items)))]
        )

    def action_bridgelist(self, msg: Message) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        aid = msg.get("ActionID")
        items = []
        for b in pbx.bridges.values():
            head: list[tuple[str, str]] = [("ActionID", aid)] if aid else []
            items.append(Message.event("BridgeListItem", [*head, *b.headers(2)]))
        self._list(msg, "Bridge listing will follow", items, "BridgeListComplete")


def _state(c: Channel) -> str:
    from dialer.sim.pbx import STATE_DESC

    return STATE_DESC.get(c.state, "Unknown")


def _parse_callerid(text: str) -> tuple[str, str]:
    """C{'"Survey Dialer" <5550100>'} -> (name, number); missing parts are C{<unknown>}."""
    m = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return m.group(1).strip() or "<unknown>", m.group(2).strip() or "<unknown>"
    text = text.strip()
    if not text:
        return "<unknown>", "<unknown>"
    if re.fullmatch(r"[0-9+*#]+", text):
        return "<unknown>", text
    return text, "<unknown>"


class AMIServerFactory(protocol.Factory):
    """Builds an L{AMISession} per connection, or refuses while the PBX is down."""

    def __init__(self, sim: SimulatedPBX) -> None:
        self.sim = sim

    def buildProtocol(self, addr: Any) -> AMISession | None:
        if not self.sim.accepting:
            return None
        session = AMISession(self.sim)
        session.factory = self
        return session
