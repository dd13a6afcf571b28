"""Dial-string templates and caller IDs: what Originate can carry, checked before it is stored."""

import pytest

from dialer.ami.message import Message, MessageError
from dialer.campaign.dialstring import check_caller_id, check_dial_template
from dialer.errors import InputError


@pytest.mark.parametrize(
    "value",
    [
        '"Hechi survey" <07780000000>',
        '"Survey Dialer" <5550100>',
        "Survey Dialer <5550100>",
        "<5550100>",
        "5550100",
        "+867780000000",
        '"河池民意调查" <+867780000000>',
        '"" <5550100>',
    ],
)
def test_caller_id_accepted(value):
    """Every form Asterisk's ast_callerid_parse reads a number from is accepted unchanged."""
    assert check_caller_id(value, "--caller-id") == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"Survey"\r\nAction: Hangup <5550100>', r"\\r \\n"),
        ("5550100\n", r"\\n"),
        ("5550100\x00", r"\\x00"),
        ("5550100\u2028", r"\\u2028"),
    ],
)
def test_caller_id_control_characters(value, shown):
    """A CR, LF, NUL or line separator is refused with the characters named, in both languages."""
    with pytest.raises(InputError, match=rf"^--caller-id: .*{shown}.* / 主叫号码不能包含控制字符"):
        check_caller_id(value, "--caller-id")


@pytest.mark.parametrize(
    "value",
    ["Survey", "", "555-0100x", '"Sur"vey" <5550100>', "<5550100", "<abc>", "5550100 <5550100>x"],
)
def test_caller_id_without_number(value):
    """A caller ID Asterisk would read no number from is refused, quoting it."""
    with pytest.raises(InputError, match=r"^--caller-id: .*expected a number.* / 主叫号码格式"):
        check_caller_id(value, "--caller-id")


def test_refused_values_are_the_ones_ami_cannot_send():
    """What check_caller_id refuses for a line break is exactly what Message.serialize raises on."""
    value = '"Survey"\r\nAction: Hangup <5550100>'
    with pytest.raises(MessageError):
        Message([("Action", "Originate"), ("CallerID", value)]).serialize()
    with pytest.raises(InputError):
        check_caller_id(value, "caller ID")


@pytest.mark.parametrize(
    "value",
    ["PJSIP/{number}@trunk", "Local/{number}@callee", "SIP/trunk/{number}", "PJSIP/00{number}@t"],
)
def test_dial_template_accepted(value):
    """Templates with TECH/RESOURCE and {number} are accepted."""
    assert check_dial_template(value, "--dial-template") == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("PJSIP/{number}@trunk\r\nAction: Hangup", r"control characters \\r \\n.*控制字符"),
        ("PJSIP/{number}@trunk\t", r"control characters \\t"),
        ("PJSIP/trunk", r"has no \{number\}"),
        ("PJSIP/{number}@{trunk}", r"only \{number\} may be in braces"),
        ("PJSIP/{number}@{0}", r"only \{number\} may be in braces"),
        ("{number}@trunk", r"TECH/RESOURCE.*技术/资源"),
        ("/{number}", r"TECH/RESOURCE"),
    ],
)
def test_dial_template_refused(value, problem):
    """Bad templates are refused naming the option and the problem."""
    with pytest.raises(InputError, match=rf"^--dial-template: .*{problem}"):
        check_dial_template(value, "--dial-template")
