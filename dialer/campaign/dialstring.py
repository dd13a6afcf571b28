"""
Checks for what a campaign sends in Originate: the dial-string template and the caller ID (pure).

Both end up as AMI header values. A CR or LF there cannot be sent at all (the AMI
message refuses to serialise it), so a bad value stored with a campaign would make
every attempt fail at dial time; they are checked when the campaign is created and
when the daemon reads C{[[ami]] dial_template}.

The caller-ID forms are those Asterisk's C{ast_callerid_parse} reads as a name and a
number (C{Originate}'s C{CallerID} header goes through it)::

    "Hechi survey" <07780000000>     quoted name, number in angle brackets
    Hechi survey <07780000000>       unquoted name
    <07780000000>  or  07780000000   number only; a leading + is kept

Asterisk would also take a bare name and drop a number that is not digits (it keeps
only C{0-9*#+}); a survey call must present a real number, so both are refused here
(leave the caller ID out to use the trunk's).
"""

# test-case-name: tests.campaign.test_dialstring

from __future__ import annotations

import re
import unicodedata

from dialer.errors import InputError

#: a sample E.164 number to try a template with
SAMPLE_NUMBER = "+8613800000000"

_NUMBER = r"\+?[0-9]{1,20}"
_CALLER_ID = re.compile(
    rf'(?:"(?P<quoted>[^"<>]*)"\s*|(?P<bare>[^"<>]*?)\s*)<(?P<inner>{_NUMBER})>'
    rf"|(?P<plain>{_NUMBER})"
)
_TECH = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/\S")


def control_characters(text: str) -> list[str]:
    """The control characters (and line/paragraph separators) in C{text}, as escapes."""
    bad = [ch for ch in text if unicodedata.category(ch) in ("Cc", "Zl", "Zp")]
    return [ch.encode("unicode_escape").decode("ascii") for ch in dict.fromkeys(bad)]


def check_dial_template(template: str, where: str) -> str:
    """
    C{template} if it is a usable dial string with C{{number}}, else L{InputError}.

    @param where: what to name in the message, e.g. C{--dial-template}.
    """
    bad = control_characters(template)
    if bad:
        raise InputError(
            f"{where}: {template!r}: control characters {' '.join(bad)} are not allowed"
            f" / 拨号模板不能包含控制字符 {' '.join(bad)}"
        )
    if "{number}" not in template:
        raise InputError(f"{where}: {template!r} has no {{number}} / 拨号模板缺少 {{number}}")
    try:
        sample = template.format(number=SAMPLE_NUMBER)
    except (KeyError, IndexError, ValueError):
        raise InputError(
            f"{where}: {template!r}: only {{number}} may be in braces / 拨号模板只能包含 {{number}}"
        ) from None
    if not _TECH.match(sample):
        raise InputError(
            f"{where}: {template!r}: expected TECH/RESOURCE such as PJSIP/{{number}}@trunk "
            "/ 拨号模板格式应为 技术/资源，如 PJSIP/{number}@trunk"
        )
    return template


def check_caller_id(caller_id: str, where: str) -> str:
    """C{caller_id} if Asterisk reads a number from it (see the module docstring)."""
    bad = control_characters(caller_id)
    if bad:
        raise InputError(
            f"{where}: {caller_id!r}: control characters {' '.join(bad)} are not allowed"
            f" / 主叫号码不能包含控制字符 {' '.join(bad)}"
        )
    if not _CALLER_ID.fullmatch(caller_id.strip()):
        raise InputError(
            f"{where}: {caller_id!r}: expected a number such as 07780000000 or +867780000000,"
            ' optionally with a name: "Hechi survey" <07780000000>'
            ' / 主叫号码格式应为 07780000000 或 "名称" <07780000000>'
        )
    return caller_id
