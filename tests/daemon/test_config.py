"""The daemon configuration: defaults, and errors that name file, key and problem."""

import pytest

from dialer import daemonconf
from dialer.errors import ConfigError

GOOD = """
[database]
url = "sqlite:///x.db"

[[ami]]
name = "pbx1"
endpoint = "tcp:127.0.0.1:5038"
username = "dialer"
secret = "s3cret"
lines = 12

[[ami]]
name = "pbx2"
endpoint = "tcp:127.0.0.1:5039"
secret = "other"

[agi]
scripts = "{scripts}"

[dialer]
grace = 1.5
amd = true

[agents]
names = ["agent1", "agent2"]
simulated = true
"""


def write(tmp_path, text):
    (tmp_path / "ivr").mkdir(exist_ok=True)
    path = tmp_path / "dialer.toml"
    path.write_text(text.replace("{scripts}", str(tmp_path / "ivr")), encoding="utf-8")
    return path


def test_good_config(tmp_path):
    """A full file loads into typed settings with defaults filled in."""
    c = daemonconf.load(write(tmp_path, GOOD))
    assert [(a.name, a.lines) for a in c.ami] == [("pbx1", 12), ("pbx2", 30)]
    assert c.dialer.grace == 1.5 and c.dialer.amd is True and c.dialer.ring_timeout == 25.0
    assert c.agents.names == ("agent1", "agent2") and c.agents.simulated
    assert c.http_endpoint.endswith("interface=127.0.0.1")
    assert "s3cret" not in repr(c)
    # the Login Events: mask: what the engine reads, unless [[ami]] events says otherwise
    assert [a.events for a in c.ami] == ["system,call,user,agi"] * 2


def test_events_setting_is_normalised(tmp_path):
    """[[ami]] events: a string or a list, any case and spacing, becomes the exact Events: value."""
    text = GOOD.replace("lines = 12", 'lines = 12\nevents = " Agi, call ,System,dialplan "', 1)
    text = text.replace('secret = "other"', 'secret = "other"\nevents = ["all"]', 1)
    c = daemonconf.load(write(tmp_path, text))
    assert [a.events for a in c.ami] == ["system,call,dialplan,agi", "all"]


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("lines = 12", 'lines = "ten"'), r"\[\[ami\]\]\[0\]\.lines", "whole number"),
        (('secret = "other"\n', ""), r"\[\[ami\]\]\[1\]\.secret", "missing"),
        (('name = "pbx2"', 'name = "pbx1"'), r"\[\[ami\]\]\[1\]\.name", "duplicate"),
        (
            ('endpoint = "tcp:127.0.0.1:5039"', 'endpoint = "tcp:127.0.0.1:5038"'),
            r"\[\[ami\]\]\[1\]\.endpoint",
            "already server 'pbx1'",
        ),
        (("grace = 1.5", "grace = 5"), r"\[dialer\]\.grace", "2 s"),
        (("grace = 1.5", "graze = 1"), r"\[dialer\]\.graze", "unknown key"),
        (("amd = true", 'amd = "yes"'), r"\[dialer\]\.amd", "true or false"),
        (
            ('endpoint = "tcp:127.0.0.1:5039"', 'endpoint = "tcp:10.0.0.5:5038"'),
            r"\[\[ami\]\]\[1\]\.endpoint",
            "loopback",
        ),
        (('names = ["agent1", "agent2"]', 'names = ["a", "a"]'), r"\[agents\]\.names", "duplicate"),
        (("[agi]", '[agi]\nendpoint = "tcp:4573"'), r"\[agi\]\.endpoint", "interface"),
        (
            ("lines = 12", 'lines = 12\nevents = "system,call,agi,bogus"'),
            r"\[\[ami\]\]\[0\]\.events",
            "unknown AMI event class 'bogus'",
        ),
        (
            ('secret = "other"', 'secret = "other"\nevents = "system,agi,user"'),
            r"\[\[ami\]\]\[1\]\.events",
            "drops class 'call'.*Hangup.* / ",
        ),
        (
            ("lines = 12", 'lines = 12\nevents = "system,call,agi"'),
            r"\[\[ami\]\]\[0\]\.events",
            "amd is on.*user.*dialplan",
        ),
        (("lines = 12", "lines = 12\nevents = 3"), r"\[\[ami\]\]\[0\]\.events", "comma-separated"),
        (
            ("lines = 12", 'lines = 12\ndial_template = "PJSIP/x"'),
            r"\[\[ami\]\]\[0\]\.dial_template",
            "number",
        ),
    ],
)
def test_errors_name_file_key_problem(tmp_path, change, key, problem):
    """Each mistake is reported with the file, the key and what is wrong."""
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ConfigError, match=rf"dialer\.toml: {key}: .*{problem}"):
        daemonconf.load(path)


def test_missing_scripts_dir(tmp_path):
    """A questionnaire directory that does not exist is named."""
    path = tmp_path / "d.toml"
    path.write_text('[[ami]]\nsecret = "x"\n[agi]\nscripts = "nope"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"d\.toml: \[agi\]\.scripts: directory nope"):
        daemonconf.load(path)


def test_no_ami(tmp_path):
    """A file without any AMI server is refused."""
    path = tmp_path / "d.toml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[\[ami\]\]"):
        daemonconf.load(path)


def test_bad_toml(tmp_path):
    """Broken TOML names the file."""
    path = tmp_path / "d.toml"
    path.write_text("[[ami]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"d\.toml: invalid TOML"):
        daemonconf.load(path)


def test_check_config_cli(tmp_path, capsys):
    """`dialer check-config --config FILE` prints OK, or one error line and exit 1."""
    from dialer.cli import main

    good = write(tmp_path, GOOD)
    assert main(["check-config", "--config", str(good), "--no-db"]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[[ami]]\nlines = 0\nsecret = 'x'\n", encoding="utf-8")
    assert main(["check-config", "--config", str(bad), "--no-db"]) == 1
    err = capsys.readouterr().err
    assert "bad.toml: [[ami]][0].lines" in err and err.count("\n") == 1


def test_bad_event_mask_stops_check_config_and_run(tmp_path, capsys):
    """check-config and run refuse a mask without call events: one line naming file and key."""
    from dialer.cli import main

    bad = write(tmp_path, GOOD.replace("lines = 12", 'lines = 12\nevents = "system,agi,user"', 1))
    for argv in (["check-config", "--config", str(bad), "--no-db"], ["run", "--config", str(bad)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "dialer.toml: [[ami]][0].events: the mask drops class 'call'" in err, argv
        assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("key", "bad", "minimum"),
    [
        ("heartbeat", "0", "0.05"),
        ("heartbeat", "0.0", "0.05"),
        ("ring_timeout", "0", "5"),
        ("lost_after", "0", "5"),
        ("status_poll", "0", "0.5"),
        ("hopper_refresh", "0", "1"),
        ("pending_grace", "0", "1"),
        ("astdb_timeout", "0", "0.5"),
        ("max_launch_per_tick", "0", "1"),
        ("per_unit", "0", "1"),
        ("drain_timeout", "-1", "0"),
        ("breaker_threshold", "-1", "0"),
        ("agent_miss_limit", "-1", "0"),
        ("zones_refresh", "0.5", "1"),
        ("heartbeat", "inf", "0.05"),
        ("ring_timeout", "nan", "5"),
    ],
)
def test_dialer_minimums(tmp_path, key, bad, minimum):
    """[dialer] settings below their minimum (or not finite) are refused naming [dialer].key."""
    path = write(tmp_path, GOOD.replace("grace = 1.5", f"grace = 1.5\n{key} = {bad}", 1))
    with pytest.raises(
        ConfigError, match=rf"dialer\.toml: \[dialer\]\.{key}: expected .*>= {minimum}, .* / 应为"
    ):
        daemonconf.load(path)


def test_dialer_minimums_cover_every_number():
    """Every numeric [dialer] setting has a minimum in the table, and the defaults satisfy it."""
    import dataclasses

    from dialer.campaign.controller import ControllerSettings

    defaults = ControllerSettings()
    numeric = {
        f.name
        for f in dataclasses.fields(ControllerSettings)
        if isinstance(getattr(defaults, f.name), int | float)
        and not isinstance(getattr(defaults, f.name), bool)
    }
    assert numeric == set(daemonconf.DIALER_MINIMUMS)
    assert all(getattr(defaults, k) >= m for k, m in daemonconf.DIALER_MINIMUMS.items())


def test_dialer_minimums_accepted(tmp_path):
    """The minimums themselves are accepted."""
    extra = "heartbeat = 0.05\nring_timeout = 5\nlost_after = 5\nstatus_poll = 0.5\n"
    c = daemonconf.load(write(tmp_path, GOOD.replace("grace = 1.5", f"grace = 0\n{extra}", 1)))
    assert (c.dialer.heartbeat, c.dialer.ring_timeout, c.dialer.grace) == (0.05, 5.0, 0.0)


def test_dialer_breaker_and_miss_limit_zero(tmp_path):
    """breaker_threshold = 0 and agent_miss_limit = 0 (never) are accepted, zones_refresh is read."""
    extra = "breaker_threshold = 0\nagent_miss_limit = 0\nzones_refresh = 5\n"
    c = daemonconf.load(write(tmp_path, GOOD.replace("grace = 1.5", f"grace = 1.5\n{extra}", 1)))
    assert (c.dialer.breaker_threshold, c.dialer.agent_miss_limit) == (0, 0)
    assert c.dialer.zones_refresh == 5.0


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (
            ('url = "sqlite:///x.db"', 'url = "sqlite:///x.db"\nuser = "dialer"'),
            r"\[database\]\.user",
            "unknown key .*known: url.* / 未知配置项",
        ),
        (
            ("lines = 12", 'lines = 12\ndial_template = "PJSIP/{number}@trunk\\r\\nAction: X"'),
            r"\[\[ami\]\]\[0\]\.dial_template",
            r"control characters \\r \\n.* / .*不能包含控制字符",
        ),
        (
            ("lines = 12", 'lines = 12\ndial_template = "{number}"'),
            r"\[\[ami\]\]\[0\]\.dial_template",
            "TECH/RESOURCE",
        ),
        (
            ("grace = 1.5", 'grace = 1.5\nhold_context = "hold\\nAction: Hangup"'),
            r"\[dialer\]\.hold_context",
            r"control characters \\n.* / 不能包含控制字符",
        ),
        (
            ('endpoint = "tcp:127.0.0.1:5039"', 'endpoint = "http://127.0.0.1:5039"'),
            r"\[\[ami\]\]\[1\]\.endpoint",
            "not a Twisted endpoint string.* / 应为 Twisted 端点字符串",
        ),
        (("[agents]", "[campaigns]\nnames = [1]\n[agents]"), r"\[campaigns\]\.names", " / 应为"),
        (
            ('names = ["agent1", "agent2"]', 'names = ["agent1\\r\\n"]'),
            r"\[agents\]\.names",
            "expected a list of agent names / 应为坐席名称列表",
        ),
        (('[[ami]]\nname = "pbx2"', "ami = 3\n[x]"), r"config\.x", "unknown key"),
    ],
)
def test_more_errors_name_key_in_both_languages(tmp_path, change, key, problem):
    """Unknown [database] keys, control characters and other mistakes: file, key, both languages."""
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ConfigError, match=rf"dialer\.toml: {key}: .*{problem}"):
        daemonconf.load(path)


def test_database_url_section_checked():
    """The CLI's database URL rule also refuses unknown [database] keys and a non-string url."""
    import tempfile
    from pathlib import Path

    from dialer.config import database_url

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.toml"
        path.write_text('[database]\nurl = "sqlite:///a.db"\nurl2 = "x"\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=r"c\.toml: \[database\]\.url2: unknown key"):
            database_url(None, str(path))
        path.write_text("[database]\nurl = 3\n", encoding="utf-8")
        with pytest.raises(
            ConfigError, match=r"\[database\]\.url: expected .* / 数据库地址应为字符串"
        ):
            database_url(None, str(path))
        path.write_text('[database]\nurl = "sqlite:///a.db"\n', encoding="utf-8")
        assert database_url(None, str(path)) == "sqlite:///a.db"
