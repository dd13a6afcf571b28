"""The pure FastAGI wire format: environment, reply lines, 520 blocks, quoting."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.agi import replies
from dialer.agi.replies import (
    EnvironmentParser,
    HangupNotice,
    MalformedStream,
    Reply,
    ReplyParser,
    digits_result,
    key_result,
    parse_environment,
    parse_result_line,
    record_result,
)
from tests.agi import traces


def _replies_of(path):
    """Every reply item the parser yields for the lines after the environment block."""
    lines = [line.text for line in traces.read(path) if line.direction == "<<"]
    body = lines[lines.index("") + 1 :]
    parser = ReplyParser()
    return [item for item in (parser.feed(line) for line in body) if item is not None]


class TestEnvironment:
    def test_b3_environment(self):
        """The b3 block parses to its variables, with the empty account code kept empty."""
        lines = traces.environment_bytes(traces.B3).decode().split("\n")[:-1]
        env = parse_environment(lines)
        assert env.script == "survey"
        assert env.get("uniqueid") == "1795594831.2"
        assert env.get("accountcode") == ""
        assert env.get("calleridname") == "Survey Dialer"
        assert env.args == ()

    def test_b2_arguments_in_order(self):
        """agi_arg_N become the args tuple in numeric order, spaces kept."""
        lines = traces.environment_bytes(traces.B2).decode().split("\n")[:-1]
        env = parse_environment(lines)
        assert env.args == ("test", "arg two")
        assert env.get("extension") == "start"

    def test_args_sort_numerically(self):
        """agi_arg_10 comes after agi_arg_9, not after agi_arg_1."""
        lines = [f"agi_arg_{n}: a{n}" for n in (10, 1, 9, 2)] + [""]
        assert parse_environment(lines).args == ("a1", "a2", "a9", "a10")

    def test_script_strips_slashes_and_query(self):
        """Routing uses the bare script name of agi_network_script."""
        env = parse_environment(["agi_network_script: /survey?x=1", ""])
        assert env.script == "survey"

    @pytest.mark.parametrize("line", ["HANGUP", "200 result=0", "agi_x value", "foo: bar"])
    def test_bad_line(self, line):
        """A line that is not `agi_name: value` is a malformed stream."""
        with pytest.raises(MalformedStream):
            EnvironmentParser().feed(line)

    def test_empty_block(self):
        """An environment block with no variables at all is refused."""
        with pytest.raises(MalformedStream):
            EnvironmentParser().feed("")

    def test_too_long(self):
        """An endless environment block is cut off."""
        parser = EnvironmentParser()
        with pytest.raises(MalformedStream):
            for n in range(replies.MAX_ENV_LINES + 1):
                parser.feed(f"agi_v{n}: x")


class TestReplyLines:
    @pytest.mark.parametrize(
        ("line", "result", "data", "fields"),
        [
            ("200 result=0", "0", None, {}),
            ("200 result=1 (started)", "1", "started", {}),
            ("200 result=49 endpos=25760", "49", None, {"endpos": "25760"}),
            ("200 result= (timeout)", "", "timeout", {}),
            ("200 result=1 (timeout) endpos=32000", "1", "timeout", {"endpos": "32000"}),
            ("200 result=0 endpos=-1", "0", None, {"endpos": "-1"}),
            ("200 result=-2", "-2", None, {}),
            (
                "200 result=1 (5550100 Local/10003@callee-00000001;1)",
                "1",
                "5550100 Local/10003@callee-00000001;1",
                {},
            ),
            ("200 result=1 (a (nested) value) endpos=3", "1", "a (nested) value", {"endpos": "3"}),
            ("200 result=1 ()", "1", "", {}),
        ],
    )
    def test_result_lines(self, line, result, data, fields):
        """Every 200 form from the reference traces parses into result, data and fields."""
        reply = parse_result_line(line)
        assert (reply.code, reply.result, reply.data, reply.fields) == (200, result, data, fields)

    def test_helpers(self):
        """value, timed_out and endpos read the parsed reply."""
        reply = parse_result_line("200 result=1 (timeout) endpos=32000")
        assert (reply.value, reply.timed_out, reply.endpos) == (1, True, 32000)
        assert parse_result_line("200 result= (timeout)").value is None

    @pytest.mark.parametrize("line", ["200 result", "200 result=1 junk", "201 result=1", ""])
    def test_malformed(self, line):
        """Lines that are not FastAGI replies raise MalformedStream."""
        with pytest.raises(MalformedStream):
            ReplyParser().feed(line)

    def test_hangup_line(self):
        """The bare HANGUP line is a notice, not a reply."""
        assert ReplyParser().feed("HANGUP") == HangupNotice()

    def test_510_511(self):
        """510 and 511 are single-line replies with their text."""
        parser = ReplyParser()
        assert parser.feed("510 Invalid or unknown command") == Reply(
            code=510, text="Invalid or unknown command"
        )
        reply = parser.feed("511 Command Not Permitted on a dead channel or intercept routine")
        assert isinstance(reply, Reply) and reply.code == 511

    def test_520_block_from_b3(self):
        """The b3 520 block is one reply carrying the usage lines, and parsing goes on after it."""
        items = _replies_of(traces.B3)
        usage = [i for i in items if isinstance(i, Reply) and i.code == 520]
        assert len(usage) == 1
        assert usage[0].usage[1] == "It sets the following channel variables upon completion:"
        assert usage[0].usage[-1] == "    <value>FAILED</value>"
        assert len(usage[0].usage) == 5
        after = items[items.index(usage[0]) + 1]
        assert after == parse_result_line("200 result=1")

    def test_520_usage_bounded(self):
        """A 520 block that never ends is cut off."""
        parser = ReplyParser()
        parser.feed("520-Invalid command syntax.  Proper usage follows:")
        with pytest.raises(MalformedStream):
            for _ in range(replies.MAX_USAGE_LINES + 1):
                parser.feed("usage")

    def test_b2_sequence(self):
        """b2: the HANGUP notice sits between a command and its reply; 511s follow."""
        items = _replies_of(traces.B2)
        kinds = [i.code if isinstance(i, Reply) else "HANGUP" for i in items]
        assert kinds == [200, 200, 200, "HANGUP", 200, 511, 511, 200]

    def test_b3_count(self):
        """b3 yields one reply per command sent, plus one HANGUP notice."""
        items = _replies_of(traces.B3)
        assert sum(isinstance(i, Reply) for i in items) == len(traces.sent(traces.B3))
        assert sum(isinstance(i, HangupNotice) for i in items) == 1


class TestMeanings:
    def test_stream_file_key(self):
        """STREAM FILE and WAIT FOR DIGIT give the key's ASCII code."""
        assert key_result(parse_result_line("200 result=49 endpos=25760")).key == "1"
        assert key_result(parse_result_line("200 result=35")).key == "#"
        assert key_result(parse_result_line("200 result=0")).key is None

    def test_stream_file_failed(self):
        """result=-1 is a failure; endpos tells a missing file (0) from a hang-up."""
        missing = key_result(parse_result_line("200 result=-1 endpos=0"))
        gone = key_result(parse_result_line("200 result=-1 endpos=44160"))
        assert missing.failed and missing.endpos == 0
        assert gone.failed and gone.endpos == 44160

    def test_get_data(self):
        """GET DATA gives the digits themselves, an empty result on timeout, -1 on hang-up."""
        assert digits_result(parse_result_line("200 result=3")).digits == "3"
        timeout = digits_result(parse_result_line("200 result= (timeout)"))
        assert (timeout.digits, timeout.timed_out) == ("", True)
        assert digits_result(parse_result_line("200 result=12 (timeout)")).digits == "12"
        assert digits_result(parse_result_line("200 result=-1")).failed
        with pytest.raises(MalformedStream):
            digits_result(parse_result_line("200 result=x1"))

    def test_record(self):
        """RECORD FILE: timeout/silence with endpos, a terminating key, or a hang-up."""
        timed = record_result(parse_result_line("200 result=1 (timeout) endpos=32000"))
        assert (timed.timed_out, timed.endpos, timed.key, timed.failed) == (
            True,
            32000,
            None,
            False,
        )
        key = record_result(parse_result_line("200 result=35 (dtmf) endpos=8000"))
        assert key.key == "#"
        hung = record_result(parse_result_line("200 result=-1 (hangup) endpos=800"))
        assert hung.failed and hung.hung_up
        cannot = record_result(parse_result_line("200 result=-1 (writefile)"))
        assert cannot.failed and not cannot.hung_up


class TestCommands:
    def test_trace_forms(self):
        """The builders write the command lines of the b2/b3 traces byte for byte."""
        sent = set(traces.sent(traces.B3)) | set(traces.sent(traces.B2))
        built = [
            replies.answer(),
            replies.verbose("Survey started"),
            replies.set_variable("SURVEY_STATE", "started"),
            replies.get_variable("CAMPAIGN"),
            replies.get_full_variable("${CALLERID(num)} ${CHANNEL}"),
            replies.channel_status(),
            replies.stream_file("demo-congrats", "0123456789*#"),
            replies.stream_file("tt-monkeys", "12#"),
            replies.stream_file("hello-world"),
            replies.get_data("beep", 6000, 1),
            replies.wait_for_digit(5000),
            replies.record_file(
                "{REF}/var/spool/asterisk/monitor/agi-record-test", "wav", "#", 4000
            ),
            replies.record_file(
                "{REF}/var/spool/asterisk/monitor/agi-record-silence",
                "wav",
                "#",
                2000,
                beep=False,
                silence_s=1,
            ),
            replies.hangup(),
            replies.verbose("after hangup"),
        ]
        for line in built:
            assert line in sent

    def test_quote_escapes(self):
        """Quotes and backslashes are escaped; line breaks are refused."""
        assert replies.quote('say "hi" \\ ok') == '"say \\"hi\\" \\\\ ok"'
        assert replies.word("a b") == '"a b"'
        assert replies.word("") == '""'
        with pytest.raises(ValueError, match="line break"):
            replies.verbose("two\nlines")

    @given(st.text(alphabet=st.characters(blacklist_characters="\r\n\0"), max_size=40))
    def test_quote_round_trip(self, text):
        """Asterisk's argument parser reads back exactly what quote() wrote."""
        assert _asterisk_parse_args(replies.quote(text)) == [text]


def _asterisk_parse_args(line):
    """A transcription of res_agi.c parse_args: quotes group, backslash escapes."""
    args, current, in_quotes, escaped, started = [], [], False, False, False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped, started = False, True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes, started = not in_quotes, True
        elif ch in " \t" and not in_quotes:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    return args
