"""
Replay a reference trace's client actions against the simulator and compare the results.

What "the same" means here (the fidelity level; see also tests/sim/README in the docstring
of test_fidelity):

- STRICT events (the ones a client acts on) must match the trace as a multiset of keys,
  where a key is the event name, the channel's role and the fields that carry meaning
  (state, cause, reason, dial status, context/priority/application, AGI command/result,
  digit, list counts...). Channel names are compared after normalising the global Local
  counter (``Local/10005@callee-0000001a;1`` -> ``Local/10005@callee-#0;1``); uniqueids,
  bridge ids, timestamps and session ids are ignored.
- ORDER: for each channel, the sequence of its strict events must equal the trace's.
  Across channels, any two strict events more than ``GAP`` seconds apart in the trace
  must keep their order (events caused "at the same moment" may interleave differently,
  as they also do between runs of the real Asterisk).
- HEADERS: every message the simulator sends (strict or not) has exactly the header names
  the trace shows for a message of the same name and shape.
- LOOSE events (VarSet, Cdr, HangupRequest, SoftHangupRequest, NewCallerid,
  NewConnectedLine) must match as a multiset of (name, channel, variable name / cause /
  CDR disposition), in any order (Asterisk emits them from several threads); their
  headers are checked as above. IGNORED ones (DeviceStateChange, Queue*/Agent*,
  MusicOnHold*) are not compared.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from dialer.ami.message import Message
from dialer.sim.dialplan import Dialplan
from dialer.sim.server import DEFAULT_DIALPLAN
from tests.sim.harness import AGIFactory, AMIRecorder, connect_client, make_sim, new_clock
from tests.traces import TRACES, Trace

GAP = 0.05
STRICT = {
    "Response",
    "OriginateResponse",
    "Newchannel",
    "Newstate",
    "Newexten",
    "LocalBridge",
    "DialBegin",
    "DialState",
    "DialEnd",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "Hangup",
    "MixMonitorStart",
    "AGIExecStart",
    "AGIExecEnd",
    "DTMFBegin",
    "DTMFEnd",
    "CoreShowChannel",
    "CoreShowChannelsComplete",
    "Status",
    "StatusComplete",
    "BridgeListItem",
    "BridgeListComplete",
    "ChannelsHungupListComplete",
    "FullyBooted",
    "Shutdown",
    "SuccessfulAuth",
    "InvalidPassword",
    "InvalidAccountID",
    "RequestBadFormat",
    "RequestNotAllowed",
}
IGNORED = {
    "DeviceStateChange",
    "QueueMemberStatus",
    "MusicOnHoldStart",
    "MusicOnHoldStop",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
}
FIELDS = {
    "Response": ("Response", "Message", "EventList", "Events", "Variable", "Value", "Ping"),
    "OriginateResponse": ("Response", "Reason", "Context", "Exten"),
    "Newchannel": ("ChannelState", "Context", "Exten"),
    "Newstate": ("ChannelState",),
    "Newexten": ("Context", "Priority", "Application"),
    "DialEnd": ("DialStatus",),
    "DialState": ("DialStatus",),
    "Hangup": ("Cause",),
    "AGIExecStart": ("Command",),
    "AGIExecEnd": ("Command", "ResultCode", "Result"),
    "DTMFBegin": ("Digit", "Direction"),
    "DTMFEnd": ("Digit", "Direction"),
    "CoreShowChannel": ("Application", "Context"),
    "Status": ("Application", "Context", "Variable"),
    "CoreShowChannelsComplete": ("ListItems",),
    "StatusComplete": ("ListItems",),
    "BridgeListComplete": ("ListItems",),
    "ChannelsHungupListComplete": ("ListItems",),
    "Shutdown": ("Shutdown", "Restart"),
    "InvalidAccountID": ("AccountID",),
    "InvalidPassword": ("AccountID",),
}
_MONITOR = re.compile(r"\S*/var/spool/asterisk/monitor")
_LOCAL = re.compile(r"Local/([^@\s]+)@([A-Za-z0-9_-]+?)-([0-9a-f]{8});([12])")


class Normaliser:
    """Maps Local channel counters to order of first appearance."""

    def __init__(self) -> None:
        self.bases: dict[str, int] = {}
        self.per_target: dict[str, int] = {}

    def name(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            base = f"{m.group(1)}@{m.group(2)}-{m.group(3)}"
            if base not in self.bases:
                target = f"{m.group(1)}@{m.group(2)}"
                self.bases[base] = self.per_target.get(target, 0)
                self.per_target[target] = self.bases[base] + 1
            n = self.bases[base]
            return f"Local/{m.group(1)}@{m.group(2)}-#{n};{m.group(4)}"

        return _LOCAL.sub(sub, text)


def _channel(msg: Message) -> str:
    return msg.get("Channel") or msg.get("DestChannel") or ""


@dataclass
class Key:
    time: float
    name: str
    channel: str
    fields: tuple[str, ...]

    def ident(self) -> tuple:
        return (self.name, self.channel, self.fields)


def keys(messages: list[tuple[float, Message]]) -> list[Key]:
    """Strict keys of received messages, in order, with normalised channel names."""
    norm = Normaliser()
    out = []
    for t, m in messages:
        name = m.name if m.is_event else "Response"
        if name not in STRICT:
            continue
        chan = norm.name(_channel(m))
        values = []
        for f in FIELDS.get(name, ()):
            v = m.get_all(f) if f == "Variable" else [m.get(f)]
            text = "|".join(norm.name(x) for x in v if x is not None)
            values.append(_MONITOR.sub("<MONITOR_DIR>", text))
        if name == "Response" and m.get("Message", "").startswith("Channel does not exist"):
            values = [m.get("Response") or "", "Channel does not exist"]
        if name in ("AGIExecStart", "AGIExecEnd"):
            values = [re.sub(r"\{REF\}\S*|/\S*", "<path>", v) for v in values]
        out.append(Key(t, name, chan, tuple(values)))
    return out


def loose_keys(messages) -> Counter:
    """(name, channel, variable / cause / disposition) of the loose events."""
    norm = Normaliser()
    out: Counter = Counter()
    for _, m in messages:
        if not m.is_event or m.name in STRICT or m.name in IGNORED:
            continue
        if m.name == "VarSet":
            detail = m.get("Variable")
        elif m.name == "Cdr":
            detail = m.get("Disposition")
        else:
            detail = m.get("Cause")
        out[(m.name, norm.name(m.get("Channel") or ""), detail)] += 1
    return out


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if len(self.problems) < 40:
            self.problems.append(text)


def compare(trace_msgs, sim_msgs, report: Report, label: str) -> None:
    """Compare one connection's received messages (lists of (time, Message))."""
    tk, sk = keys(trace_msgs), keys(sim_msgs)
    tc, sc = Counter(k.ident() for k in tk), Counter(k.ident() for k in sk)
    for ident, n in (tc - sc).items():
        report.add(f"{label}: missing from sim x{n}: {ident}")
    for ident, n in (sc - tc).items():
        report.add(f"{label}: extra in sim x{n}: {ident}")
    # per-channel order
    for chan in {k.channel for k in tk if k.channel and k.name != "OriginateResponse"}:
        ta = [k for k in tk if k.channel == chan and k.name != "OriginateResponse"]
        a = [k.ident() for k in ta]
        b = [k.ident() for k in sk if k.channel == chan and k.name != "OriginateResponse"]
        if a != b and Counter(a) == Counter(b) and not _same_runs(ta, b):
            report.add(
                f"{label}: order differs on {chan or '(no channel)'}: "
                f"trace {[x[0] for x in a]} sim {[x[0] for x in b]}"
            )
    # cross-channel order for events well apart in the trace
    pos: dict[tuple, list[int]] = {}
    for i, k in enumerate(sk):
        pos.setdefault(k.ident(), []).append(i)
    seen: Counter = Counter()
    placed = []
    for k in tk:
        ident = k.ident()
        lst = pos.get(ident, [])
        idx = lst[seen[ident]] if seen[ident] < len(lst) else None
        seen[ident] += 1
        placed.append((k.time, idx, ident))
    for i in range(len(placed)):
        ti, si, ii = placed[i]
        if si is None:
            continue
        for j in range(i + 1, len(placed)):
            tj, sj, ij = placed[j]
            if sj is None or tj - ti <= GAP:
                continue
            if sj < si:
                report.add(f"{label}: {ij} came before {ii} in sim (trace: {ti:.3f} < {tj:.3f})")
                break
    # loose events: same multiset, any order
    la, lb = loose_keys(trace_msgs), loose_keys(sim_msgs)
    for ident, n in (la - lb).items():
        report.add(f"{label}: loose event missing from sim x{n}: {ident}")
    for ident, n in (lb - la).items():
        report.add(f"{label}: loose event extra in sim x{n}: {ident}")
    # headers
    shapes: dict[tuple, set] = {}
    for _, m in trace_msgs:
        shapes.setdefault(_shape(m), set()).add(tuple(k for k, _ in m.headers))
    for _, m in sim_msgs:
        name = m.name if m.is_event else "Response"
        if name in IGNORED:
            continue
        shape = _shape(m)
        if shape in shapes and tuple(k for k, _ in m.headers) not in shapes[shape]:
            report.add(
                f"{label}: header set of {shape} differs: sim {[k for k, _ in m.headers]}"
                f" trace {sorted(shapes[shape])[0]}"
            )


def _same_runs(trace_keys: list[Key], sim_idents: list[tuple]) -> bool:
    """True when C{sim_idents} only permutes trace events logged in the same millisecond."""
    pos = 0
    i = 0
    while i < len(trace_keys):
        j = i
        while j < len(trace_keys) and abs(trace_keys[j].time - trace_keys[i].time) < 0.0015:
            j += 1
        run = Counter(k.ident() for k in trace_keys[i:j])
        if Counter(sim_idents[pos : pos + (j - i)]) != run:
            return False
        pos += j - i
        i = j
    return True


def _shape(m: Message) -> tuple:
    """Messages comparable for headers: same name and same optional parts."""
    name = (
        m.name
        if m.is_event
        else "Response:" + ",".join(sorted(k for k, _ in m.headers if k not in ("ActionID",)))
    )
    extra = ("Channel" in m, "ActionID" in m, len(m.get_all("Variable")))
    return (name, *extra) if m.is_event else (name,)


# -- driving -------------------------------------------------------------------------------


def agi_script(trace_file: str) -> list[str]:
    lines = (TRACES / trace_file).read_text().splitlines()
    return [re.sub(r"^\[\+[\d.]+\] >> ", "", ln) for ln in lines if " >> " in ln]


AGI_SCRIPTS = {
    "b2": "agi_b2_caller_hangs_up_mid_command.txt",
    "b3": "agi_b3_full_survey_script.txt",
}


def reference_dialplan() -> Dialplan:
    """
    Our C{extensions.conf} as the reference rig ran it: its C{hold} had no C{AMD()} and no
    C{UserEvent} (the traces b9, d and e2 go NoOp, Answer, Wait), so those steps are taken
    out and the priorities renumbered.
    """
    plan = Dialplan.from_file(DEFAULT_DIALPLAN)
    for exten, prios in plan.contexts["hold"].items():
        steps = [p for _, p in sorted(prios.items()) if p.app.lower() not in ("amd", "userevent")]
        plan.contexts["hold"][exten] = {i: step for i, step in enumerate(steps, 1)}
    return plan


def replay(trace: Trace, *, tmp_path=None, extra_seconds: float = 1.0):
    """Drive the simulator with the trace's client actions at the trace's times."""
    clock = new_clock(1795594341.0)
    agi = None
    scenario = trace.scenario
    if scenario in AGI_SCRIPTS:
        agi = AGIFactory(agi_script(AGI_SCRIPTS[scenario]), clock, linger=5.0)
    rec = None if tmp_path is None else tmp_path / "var/spool/asterisk/monitor"
    sim = make_sim(clock, agi_factory=agi, recordings=rec, dialplan=reference_dialplan())
    start = clock.seconds()
    clients: dict[str, AMIRecorder] = {}
    name_map = Normaliser()
    events = []
    first_seen: dict[str, float] = {}
    for e in trace.entries:
        first_seen.setdefault(e.connection, e.time)
    for conn, t in first_seen.items():
        events.append((t, 0, "connect", conn, None))
    for e in trace.entries:
        if e.direction == ">>" and e.message is not None:
            events.append((e.time, 1, "send", e.connection, e.message))
    for n in trace.notes:
        if "core restart now" in n.text:
            events.append((n.time, 1, "restart", None, None))
        elif "core stop now" in n.text:
            events.append((n.time, 1, "stop", None, None))
        elif "kill -9" in n.text:
            events.append((n.time, 1, "kill", None, None))
    events.sort(key=lambda x: (x[0], x[1]))
    end = max(e.time for e in trace.entries) + extra_seconds
    for t, _, kind, conn, msg in events:
        target = start + t
        while clock.seconds() < target - 1e-9:
            clock.advance(min(0.005, target - clock.seconds()))
        if kind == "connect":
            clients[conn] = connect_client(sim, clock, conn)
        elif kind == "send":
            clients[conn].send_raw(_rewrite(msg, name_map, clients, sim))
            clock.advance(0)
        elif kind == "restart":
            sim.shutdown(restart=True)
        elif kind == "stop":
            sim.shutdown(restart=False)
        elif kind == "kill":
            sim.kill()
    while clock.seconds() < start + end:
        clock.advance(0.005)
    out = {conn: [(t - start, m) for t, m in c.messages] for conn, c in clients.items()}
    return out, sim, agi


def _rewrite(msg: Message, norm, clients, sim) -> Message:
    """Map trace channel names in an action to the simulator's live channel names."""
    chan = msg.get("Channel")
    if not chan or not _LOCAL.search(chan) or sim.pbx is None:
        return msg
    m = _LOCAL.search(chan)
    live = [c for c in sim.pbx.channels.values() if not c.gone]
    for c in live:
        cm = _LOCAL.search(c.name)
        if (
            cm
            and cm.group(1) == m.group(1)
            and cm.group(2) == m.group(2)
            and cm.group(4) == m.group(4)
        ):
            return msg.replace("Channel", c.name)
    return msg
