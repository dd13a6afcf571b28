# -*- test-case-name: tests.ami.test_eventmask -*-
"""
AMI event classes and masks: what Asterisk 22 makes of a Login C{Events:} header, which
events a session then receives, and which classes the dialer needs.

Pure (no Twisted). Used by the daemon's configuration (C{[[ami]] events}), by the AMI
client's login, and by the simulated PBX, so that all three agree with C{main/manager.c}:

- The class names are manager.c's C{perms[]} labels, in its order (L{CLASSES}).
- C{strings_to_mask}: an empty value leaves the session's mask unchanged; all digits is a
  bit mask (C{EVENT_FLAG_*}); C{ast_false} (off, no, n, f, false) is no events; C{ast_true}
  (on, yes, y, t, true) is every class; anything else is a comma list read by C{get_perm}
  with C{ast_instring}: case-sensitive, no space trimming (C{"call, agi"} is C{call} only,
  because C{" agi"} matches no label), an unknown name adds nothing, and a piece before a
  comma matches every label it is a prefix of (C{"c,agi"} reads as call, cdr, cc, command,
  config and agi). L{session_classes} reproduces all of it.
- C{process_events}: an event is sent when every class of its category is in the mask
  (C{(send_events & category) == category}); its C{Privilege:} header lists those classes
  plus C{all}. See L{sends}.
- C{action_login} sends C{FullyBooted} right after the login only when the mask has
  C{system}.

The dialer itself always sends a mask it has checked (L{check_setting}): lower-case class
names, joined by commas without spaces, in manager.c's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "AMD_CLASSES",
    "CLASSES",
    "DEFAULT_EVENT_MASK",
    "ENGINE_EVENTS",
    "MaskError",
    "check_setting",
    "mask_text",
    "privilege_classes",
    "sends",
    "session_classes",
]

#: manager.c's C{perms[]} labels (Asterisk 22), in its order, with their C{EVENT_FLAG_*} bits.
_BITS: dict[str, int] = {
    "system": 1 << 0,
    "call": 1 << 1,
    "log": 1 << 2,
    "verbose": 1 << 3,
    "command": 1 << 4,
    "agent": 1 << 5,
    "user": 1 << 6,
    "config": 1 << 7,
    "dtmf": 1 << 8,
    "reporting": 1 << 9,
    "cdr": 1 << 10,
    "dialplan": 1 << 11,
    "originate": 1 << 12,
    "agi": 1 << 13,
    "cc": 1 << 15,
    "aoc": 1 << 16,
    "test": 1 << 17,
    "security": 1 << 18,
    "message": 1 << 30,
}
CLASSES: tuple[str, ...] = tuple(_BITS)
_ALL = frozenset(CLASSES)
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})  # ast_true
_FALSE = frozenset({"no", "false", "n", "f", "0", "off"})  # ast_false

#: The events the engine acts on, by class (the controller's _FOLLOWED, the client's
#: FullyBooted/Shutdown handling, Originate results). Without one of these classes the
#: engine cannot work: no FullyBooted (each login waits boot_timeout) and no Shutdown
#: warning (system); no call progress, hang-ups or Originate results (call); no IVR start
#: (agi).
ENGINE_EVENTS: Mapping[str, tuple[str, ...]] = {
    "system": ("FullyBooted", "Shutdown"),
    "call": (
        "OriginateResponse",
        "Newchannel",
        "Newstate",
        "DialEnd",
        "BridgeEnter",
        "Hangup",
    ),
    "agi": ("AGIExecStart",),
}
#: With C{[dialer] amd = true} the AMD verdict comes from hold's C{UserEvent MinyiAMD}
#: (class user) or from C{VarSet AMDSTATUS} (class dialplan); either class will do.
AMD_CLASSES: tuple[str, ...] = ("user", "dialplan")

#: What the daemon (and the benchmarks) ask for: the engine's classes plus user for the
#: AMD verdict (UserEvents are rare). It leaves out dialplan (Newexten, VarSet: about 40 %
#: of all events in the reference traces), cdr, dtmf, security and the rest, which the
#: engine never reads: roughly half the AMI traffic of an unmasked login.
DEFAULT_EVENT_MASK = "system,call,user,agi"


class MaskError(ValueError):
    """A mask setting the dialer cannot use; the message is bilingual and names the problem."""


def _in_list(text: str, label: str) -> bool:
    """manager.c's C{ast_instring(text, label, ',')}, quirks included."""
    pieces = text.split(",")
    for piece in pieces[:-1]:
        # strncmp(piece, label, len(piece)) == 0: the piece is a prefix of the label
        if label.startswith(piece):
            return True
    last = pieces[-1]
    # a trailing comma ends the loop before the last (empty) piece is compared
    return bool(last) and last == label


def session_classes(value: str | None) -> frozenset[str] | None:
    """
    The classes a session receives after C{Events: value} (Login) or C{EventMask: value}
    (the Events action), as Asterisk's C{strings_to_mask}; None when the value is empty
    (the session's mask is left as it was).
    """
    if value is None or value == "":
        return None
    if value.isascii() and value.isdigit():
        bits = int(value) & 0x7FFFFFFF  # atoi into an int
        return frozenset(name for name, bit in _BITS.items() if bits & bit)
    if value.lower() in _FALSE:
        return frozenset()
    if value.lower() in _TRUE:
        return _ALL
    if _in_list(value, "all"):  # { INT_MAX, "all" }
        return _ALL
    return frozenset(name for name in CLASSES if _in_list(value, name))


def privilege_classes(privilege: str) -> frozenset[str]:
    """An event's category from its C{Privilege:} header (C{"call,all"} -> {call})."""
    return frozenset(c for c in privilege.lower().split(",") if c and c != "all")


def sends(mask: frozenset[str] | None, privilege: str) -> bool:
    """
    True when a session with C{mask} (None: never set, i.e. every class) is sent an event
    with this C{Privilege:}: every class of the event must be in the mask.
    """
    if mask is None:
        return True
    return privilege_classes(privilege) <= mask


def mask_text(classes: Iterable[str]) -> str:
    """Classes as the dialer sends them: manager.c's order, commas, no spaces."""
    wanted = set(classes)
    return ",".join(c for c in CLASSES if c in wanted)


def check_setting(value: object, *, amd: bool) -> str:
    """
    The C{[[ami]] events} setting checked and normalised into the Login C{Events:} value.

    C{value} is a comma-separated string or a list of class names (case and spaces around
    names do not matter; C{"all"} means every class). Raises L{MaskError} for a value that
    is not a list of names, an unknown class, or a mask that drops events the engine needs
    (L{ENGINE_EVENTS}; with C{amd}, one of L{AMD_CLASSES} too).
    """
    if isinstance(value, str):
        names = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = list(value)
    else:
        raise MaskError(
            f"expected a comma-separated list of AMI event classes, got {value!r} "
            "/ 应为以逗号分隔的 AMI 事件类别"
        )
    wanted = {n.strip().lower() for n in names if n.strip()}
    if not wanted:
        raise MaskError(
            f"empty event mask; the dialer needs at least {mask_text(ENGINE_EVENTS)} "
            "/ 事件类别不能为空"
        )
    unknown = sorted(wanted - _ALL - {"all"})
    if unknown:
        raise MaskError(
            f"unknown AMI event class {unknown[0]!r} (Asterisk 22 classes: "
            f"{', '.join(CLASSES)}, or all) / 未知的 AMI 事件类别"
        )
    if "all" in wanted:
        return "all"
    for cls, events in ENGINE_EVENTS.items():
        if cls not in wanted:
            raise MaskError(
                f"the mask drops class {cls!r}, whose events the dialer needs "
                f"({', '.join(events)}) / 缺少拨号器需要的事件类别 {cls}"
            )
    if amd and not wanted.intersection(AMD_CLASSES):
        raise MaskError(
            "[dialer] amd is on: the mask needs class 'user' (UserEvent MinyiAMD) or "
            "'dialplan' (VarSet AMDSTATUS) for the AMD verdict "
            "/ 启用 AMD 时须包含 user 或 dialplan 事件类别"
        )
    return mask_text(wanted)
