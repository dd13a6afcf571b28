"""`dialer campaign ...` on a real store."""

import json
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.errors import InputError
from dialer.scripts.campaign import parse_window
from dialer.store.engine import create_engine
from dialer.store.migrate import upgrade
from tests.campaign.storehelp import seed_frame


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    eng = create_engine(url)
    upgrade(eng)
    with eng.begin() as conn:
        seed_frame(conn, n_units=2, per_unit=3)
    eng.dispose()
    return url


SCRIPTS = Path(__file__).resolve().parents[1] / "agi" / "data"  # holds t5.yaml


def create_args(db, name, *extra, draw="d1", questionnaire="t5", scripts=SCRIPTS):
    """The argument list of `dialer campaign create NAME` with the test's defaults."""
    return [
        "--db",
        db,
        "campaign",
        "create",
        name,
        "--draw",
        draw,
        "--questionnaire",
        questionnaire,
        "--scripts",
        str(scripts),
        *extra,
    ]


def test_create_start_pause_status(db, capsys):
    """create -> start -> pause -> resume -> stop, with status as JSON."""
    assert (
        main(
            create_args(
                db,
                "c1",
                "--mode",
                "predictive",
                "--window",
                "mon-fri 18:00-21:00",
                "--retry",
                "busy=20m",
                "--quota",
                "2",
                "--unit-quota",
                "u2=1",
            )
        )
        == 0
    )
    assert "2 units, 6 contacts" in capsys.readouterr().out
    for action in ("start", "pause", "resume", "stop"):
        assert main(["--db", db, "campaign", action, "c1"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "campaign", "status", "c1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "stopped" and data["mode"] == "predictive"
    assert sorted((u["code"], u["quota"]) for u in data["units"]) == [("u1", 2), ("u2", 1)]
    assert data["abandonment"]["denominator"] == "live-answered"


def test_cannot_resume_stopped(db, capsys):
    """A stopped campaign cannot be started again: one error line, exit 1."""
    main(create_args(db, "c1"))
    main(["--db", db, "campaign", "stop", "c1"])
    capsys.readouterr()
    assert main(["--db", db, "campaign", "resume", "c1"]) == 1
    assert "stopped" in capsys.readouterr().err


def test_unknown_campaign_and_draw(db, capsys):
    """Unknown names are reported, not tracebacks."""
    assert main(["--db", db, "campaign", "status", "nope"]) == 1
    assert main(create_args(db, "x", draw="nope")) == 1
    err = capsys.readouterr().err
    assert "nope" in err


def test_status_table(db, capsys):
    """The terminal report names units, dispositions and the abandonment denominator."""
    main(create_args(db, "c1"))
    capsys.readouterr()
    assert main(["--db", db, "campaign", "status", "c1"]) == 0
    out = capsys.readouterr().out
    assert "u1" in out and "live-answered" in out


@pytest.mark.parametrize(
    ("text", "days", "start", "end"),
    [
        ("mon-fri 18:00-21:00", [0, 1, 2, 3, 4], "18:00", "21:00"),
        ("sat,sun 9:00-12:00", [5, 6], "09:00", "12:00"),
        ("0-2,6 10:00-11:00", [0, 1, 2, 6], "10:00", "11:00"),
        ("all 08:00-09:00", list(range(7)), "08:00", "09:00"),
    ],
)
def test_parse_window(text, days, start, end):
    """Window syntax: day names or numbers, ranges and lists."""
    assert parse_window(text) == {"days": days, "start": start, "end": end}


@pytest.mark.parametrize("text", ["evenings", "fri-mon 10:00-11:00", "xyz 10:00-11:00"])
def test_parse_window_errors(text):
    """Bad windows are refused with the text quoted."""
    with pytest.raises(InputError, match="--window"):
        parse_window(text)


def test_questionnaire_checked_when_scripts_dir_exists(db, tmp_path, capsys):
    """A questionnaire missing from --scripts DIR is refused before the campaign is created."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    code = main(create_args(db, "c1", questionnaire="nope", scripts=str(scripts)))
    assert code == 1 and "nope.yaml" in capsys.readouterr().err
    assert main(["--db", db, "campaign", "status", "c1"]) == 1


def test_pacing_options(db, capsys):
    """--pacing options are stored with the campaign; unknown options are refused."""
    from dialer.store import campaigns as store
    from dialer.store.engine import create_engine

    base = create_args(db, "c1", "--mode", "predictive")
    assert main([*base, "--pacing", "bogus=1"]) == 1
    assert "--pacing" in capsys.readouterr().err
    assert main([*base, "--pacing", "theta=0.05"]) == 0
    eng = create_engine(db)
    with eng.connect() as conn:
        assert store.thd_get_campaign(conn, "c1").settings == {"pacing": {"theta": 0.05}}
    eng.dispose()


def _refused(db, capsys, argv, *expected):
    """Run argv: exit 1, one error line holding each expected piece, and no campaign created."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for piece in expected:
        assert piece in err, (piece, err)
    assert main(["--db", db, "campaign", "list"]) == 0
    assert "no campaigns" in capsys.readouterr().out
    return err


def test_missing_scripts_dir_is_an_error(db, tmp_path, capsys):
    """--questionnaire cannot go unchecked because --scripts does not exist (unless opted out)."""
    argv = create_args(db, "c1", questionnaire="does_not_exist", scripts=tmp_path / "nope")
    _refused(db, capsys, argv, "--scripts", "nope", "directory not found", " / 找不到问卷目录")
    assert main([*argv, "--no-questionnaire-check"]) == 0
    assert "created" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["--caller-id", '"Survey"\r\nAction: Hangup <5550100>'],
            ["--caller-id", r"\r \n", "控制字符"],
        ),
        (["--caller-id", "Survey"], ["--caller-id: 'Survey'", "expected a number", "主叫号码"]),
        (["--dial-template", "PJSIP/{number}@trunk\nX: y"], ["--dial-template", r"\n", "拨号模板"]),
        (["--dial-template", "PJSIP/{num}"], ["--dial-template", "{number}"]),
        (["--retry", "busy=inf"], ["--retry busy=inf: ", "finite", "时长"]),
        (["--retry", "bsy=1h"], ["--retry bsy=1h: unknown retry class", "未知的重拨类别"]),
        (["--retry", "no_answer=1e300"], ["--retry no_answer=1e300: ", "366 days", "366 天"]),
        (["--max-attempts", "0"], ["--max-attempts 0: ", "正整数"]),
        (["--quota", "-5"], ["--quota -5", ">= 0", "配额不能为负"]),
        (["--unit-quota", "u1=-1"], ["--unit-quota u1=-1", "非负整数"]),
        (["--timezone", "Mars/Olympus"], ["--timezone 'Mars/Olympus'", "未知时区"]),
        (["--abandon-target", "3"], ["--abandon-target 3", "0.03"]),
    ],
)
def test_create_refuses_bad_options(db, capsys, extra, expected):
    """Each bad option is one bilingual error line naming the option; nothing is created."""
    _refused(db, capsys, create_args(db, "c1", *extra), *expected)


@pytest.mark.parametrize("name", ["", "   ", " c1", "c1\n"])
def test_create_refuses_bad_names(db, capsys, name):
    """An empty name, or one with surrounding spaces or a line break, is refused."""
    _refused(db, capsys, create_args(db, name), "campaign name", "项目名称")


def test_bad_timezone_named_as_timezone(db, capsys):
    """A bad --timezone is reported as --timezone, not as --window.timezone."""
    err = _refused(db, capsys, create_args(db, "c1", "--timezone", "Nowhere/City"), "--timezone")
    assert "--window" not in err


@pytest.mark.parametrize(
    ("mode", "option", "expected"),
    [
        (
            "progressive",
            "theta=1",
            ["--pacing theta", "mode progressive takes no pacing options", "没有外呼节奏参数"],
        ),
        ("preview", "line_cap=3", ["--pacing line_cap", "mode preview takes no pacing options"]),
        ("ivr-only", "theta=0.05", ["--pacing theta", "mode ivr-only", "options: line_cap"]),
        ("predictive", "bogus=1", ["--pacing bogus", "mode predictive", "theta", "gain", "可用"]),
        (
            "predictive",
            "theta=-1",
            ["--pacing theta=-1: expected a number in (0, 1] / 应为 (0, 1] 范围内的数字"],
        ),
        ("predictive", "theta=0", ["--pacing theta=0: expected a number in (0, 1]"]),
        ("predictive", "theta=nan", ["--pacing theta=nan: expected a number in"]),
        ("predictive", "gain=inf", ["--pacing gain=inf"]),
        (
            "predictive",
            "min_answers=0",
            ["--pacing min_answers=0: expected a whole number in [1, 1000000]", "整数"],
        ),
        ("predictive", "max_launch=2.5", ["--pacing max_launch=2.5", "whole number"]),
        ("predictive", "theta=x", ["--pacing theta=x", "expected a number", "应为数字"]),
        ("predictive", "theta_min=0.6", ["theta_min (0.6) is above theta (0.03)"]),
        ("predictive", "setpoint=0.05", ["setpoint=0.05", "--abandon-target 0.03"]),
        ("predictive", "target=0.05", ["--pacing target", "--abandon-target"]),
        ("ivr-only", "line_cap=-1", ["--pacing line_cap=-1", "whole number"]),
    ],
)
def test_pacing_options_checked_per_mode(db, capsys, mode, option, expected):
    """--pacing names the mode's allowed options and checks ranges: no TypeError, no math error."""
    err = _refused(db, capsys, create_args(db, "c1", "--mode", mode, "--pacing", option), *expected)
    assert "TypeError" not in err and "math domain" not in err and "unexpected keyword" not in err


def test_pacing_options_accepted_and_typed(db, capsys):
    """Options within range are stored; whole-number options as integers."""
    from dialer.store import campaigns as store
    from dialer.store.engine import create_engine

    argv = create_args(db, "c1", "--mode", "predictive")
    assert main([*argv, "--pacing", "theta=0.05", "--pacing", "max_launch=20"]) == 0
    argv = create_args(db, "c2", "--mode", "ivr-only")
    assert main([*argv, "--pacing", "line_cap=8"]) == 0
    eng = create_engine(db)
    with eng.connect() as conn:
        c1 = store.thd_get_campaign(conn, "c1").settings["pacing"]
        c2 = store.thd_get_campaign(conn, "c2").settings["pacing"]
    eng.dispose()
    assert c1 == {"theta": 0.05, "max_launch": 20} and isinstance(c1["max_launch"], int)
    assert c2 == {"line_cap": 8}


def test_pacing_options_follow_the_policy_signature():
    """The allowed keys are read from the policies' signatures (target excepted)."""
    import inspect

    from dialer.pacing.predictive import Predictive
    from dialer.scripts.campaign import pacing_options

    assert set(pacing_options("predictive")) == set(inspect.signature(Predictive).parameters) - {
        "target"
    }
    assert set(pacing_options("ivr-only")) == {"line_cap"}
    assert pacing_options("progressive") == pacing_options("preview") == {}


def test_create_accepts_valid_caller_id_and_quota_zero(db, capsys):
    """A quoted caller ID, quota 0 with a unit override, and the defaults still create a campaign."""
    argv = create_args(
        db,
        "c1",
        "--caller-id",
        '"Hechi survey" <07780000000>',
        "--quota",
        "0",
        "--unit-quota",
        "u1=5",
    )
    assert main(argv) == 0
    assert "created" in capsys.readouterr().out


def test_status_change_line_is_bilingual(db, capsys):
    """`campaign start` prints the change in English and Chinese."""
    main(create_args(db, "c1"))
    capsys.readouterr()
    assert main(["--db", db, "campaign", "start", "c1"]) == 0
    assert (
        capsys.readouterr().out.strip()
        == "campaign c1: draft -> running / 调查项目 c1：草稿 -> 运行中"
    )


def test_scripts_default_from_config(db, tmp_path, capsys):
    """Without --scripts, the questionnaire is checked in --config's [agi] scripts (beside the file)."""
    conf_dir = tmp_path / "etc"
    (conf_dir / "surveys").mkdir(parents=True)
    (conf_dir / "surveys" / "t5.yaml").write_text(
        (SCRIPTS / "t5.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    conf = conf_dir / "dialer.toml"
    conf.write_text('[agi]\nscripts = "surveys"\n', encoding="utf-8")
    base = ["--db", db, "--config", str(conf), "campaign", "create", "--draw", "d1"]
    assert main([*base, "c1", "--questionnaire", "t5"]) == 0
    capsys.readouterr()
    assert main([*base, "c2", "--questionnaire", "nope"]) == 1
    err = capsys.readouterr().err
    assert "nope.yaml" in err and str(conf_dir / "surveys") in err
