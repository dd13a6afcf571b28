"""`dialer campaign ...` on a real store."""

import json

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


def create_args(db, name, *extra, draw="d1", questionnaire="q", scripts="/nonexistent"):
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
        scripts,
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
