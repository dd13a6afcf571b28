"""The frame commands end to end through `dialer ...` on a SQLite file."""

import csv

import openpyxl
import pytest

from dialer.cli import main


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert main(["--db", url, "units", "import", "--demo"]) == 0
    return url


def write(path, text, encoding="gbk"):
    path.write_bytes(text.encode(encoding))
    return path


def test_demo_units(db, capsys):
    """The demo city ships 11 counties/districts and 82 departments."""
    capsys.readouterr()
    assert main(["--db", db, "units", "list"]) == 0
    out = capsys.readouterr().out
    assert "罗城仫佬族自治县" in out and "D82" in out


def test_contacts_import_summary_and_rejects(db, tmp_path, capsys):
    """The summary prints the counts; the rejects file has the bad row and its reason."""
    f = write(tmp_path / "a.csv", "姓名,电话\n张三,13812345678\n李四,1.38E+10\n王五,13812345678\n")
    assert main(["--db", db, "contacts", "import", str(f), "--unit", "451202"]) == 0
    out = capsys.readouterr().out
    assert "accepted 1" in out and "duplicates 1" in out and "rejected 1" in out
    with (tmp_path / "a.csv.rejects.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][:2] == ["3", "precision_lost"]


def test_contacts_import_errors_are_one_line(db, tmp_path, capsys):
    """A 0-byte file and a binary file fail with exit 1 and one line naming the file."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    for f in (empty, binary):
        assert main(["--db", db, "contacts", "import", str(f), "--unit", "451202"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f.name in err


def test_area_code_option(db, tmp_path, capsys):
    """--area-code changes the prefix given to local numbers; a bad one is refused."""
    f = write(tmp_path / "a.csv", "电话\n88888888\n")
    assert (
        main(["--db", db, "contacts", "import", str(f), "--unit", "D01", "--area-code", "0755"])
        == 0
    )
    assert "accepted 1" in capsys.readouterr().out
    assert (
        main(["--db", db, "contacts", "import", str(f), "--unit", "D01", "--area-code", "x"]) == 1
    )


def test_dnc_commands(db, tmp_path, capsys):
    """dnc import/add/check normalise numbers before storing or looking them up."""
    f = write(tmp_path / "dnc.csv", "手机\n13812345678\n无\n")
    assert main(["--db", db, "dnc", "import", str(f)]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["--db", db, "dnc", "add", "+86 139 1234 5678"]) == 0
    assert main(["--db", db, "dnc", "check", "139-1234-5678"]) == 0
    assert main(["--db", db, "dnc", "check", "13712345678"]) == 1
    assert main(["--db", db, "dnc", "add", "abc"]) == 1


def test_report_and_sample_export(db, tmp_path, capsys, monkeypatch):
    """frames report writes an XLSX; sample draw/export write CSV and XLSX."""
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells at 80 columns
    staff = "".join(f"0778-228{1200 + i}\n" for i in range(25))
    f = write(tmp_path / "a.csv", "电话\n" + staff)
    assert main(["--db", db, "contacts", "import", str(f), "--unit", "D18"]) == 0
    capsys.readouterr()
    xlsx = tmp_path / "r.xlsx"
    assert main(["--db", db, "frames", "report", "--xlsx", str(xlsx)]) == 0
    assert "连号 runs" in capsys.readouterr().out
    wb = openpyxl.load_workbook(xlsx, read_only=True)
    assert wb.sheetnames == ["units 单位", "shared 跨单位重复"]
    draw = ["--db", db, "sample", "draw", "--campaign", "c", "--allocation", "equal"]
    assert main([*draw, "--per-unit", "5", "--seed", "1"]) == 0
    assert "92 units have too few numbers" in capsys.readouterr().out
    assert (
        main(["--db", db, "sample", "export", "--campaign", "c", "--out", str(tmp_path / "s.csv")])
        == 0
    )
    assert (
        main(["--db", db, "sample", "export", "--campaign", "c", "--out", str(tmp_path / "s.xlsx")])
        == 0
    )
    with (tmp_path / "s.csv").open(encoding="utf-8-sig") as fh:
        assert len(list(csv.reader(fh))) == 6
    assert (
        main(
            [
                "--db",
                db,
                "sample",
                "draw",
                "--campaign",
                "p",
                "--allocation",
                "proportional",
                "--seed",
                "1",
            ]
        )
        == 1
    )


def test_demo_small(tmp_path, capsys):
    """`dialer demo` runs the sample-frame steps on a small frame and leaves its files."""
    root = tmp_path / "demo"
    args = ["demo", "--dir", str(root), "--scale", "0.03", "--stop-after", "draw_sample"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "rejected" in out and "hechi-2026" in out
    assert (root / "frames-report.xlsx").exists() and (root / "sample.csv").exists()
    assert main(args) == 0  # resets and runs again
    assert main(["demo", "--stop-after", "nope"]) == 1


def test_area_code_from_config_file(db, tmp_path, capsys):
    """[frames] default_area_code in the config file sets the default area code."""
    config = tmp_path / "dialer.toml"
    config.write_text('[frames]\ndefault_area_code = "0755"\n', encoding="utf-8")
    f = write(tmp_path / "a.csv", "电话\n88888888\n")
    assert (
        main(["--db", db, "--config", str(config), "contacts", "import", str(f), "--unit", "D01"])
        == 0
    )
    assert "accepted 1" in capsys.readouterr().out


def test_unwritable_rejects_file(db, tmp_path, capsys):
    """A rejects file that cannot be written is a one-line error, and nothing is imported."""
    f = write(tmp_path / "a.csv", "电话\n13812345678\n")
    bad = tmp_path / "no-such-dir" / "r.csv"
    args = ["--db", db, "contacts", "import", str(f), "--unit", "D01", "--rejects", str(bad)]
    assert main(args) == 1
    assert "--rejects" in capsys.readouterr().err


def test_several_files_unit_from_filename(db, tmp_path, capsys):
    """Files named after their unit (code or Chinese name) import in one command."""
    a = write(tmp_path / "金城江区.csv", "电话\n13812345678\n")
    b = write(tmp_path / "D14.csv", "电话\n13812345678\n13912345678\nx\n")
    assert main(["--db", db, "contacts", "import", str(a), str(b), "--unit-from-filename"]) == 0
    out = capsys.readouterr().out
    assert "2 files" in out and "accepted 3" in out and "rejected 1" in out
    assert (tmp_path / "D14.csv.rejects.csv").exists()


def test_unknown_filename_unit_imports_nothing(db, tmp_path, capsys):
    """An unmatched file name fails before any file is imported."""
    a = write(tmp_path / "D14.csv", "电话\n13812345678\n")
    b = write(tmp_path / "某某局.csv", "电话\n13912345678\n")
    assert main(["--db", db, "contacts", "import", str(a), str(b), "--unit-from-filename"]) == 1
    assert "某某局" in capsys.readouterr().err
    assert main(["--db", db, "contacts", "import", str(a), "--unit", "D14"]) == 0
    assert "accepted 1" in capsys.readouterr().out


def test_units_import_file_with_chinese_headers(db, tmp_path, capsys):
    """A units file with Chinese headers adds and updates units; a bad kind names the row."""
    f = write(
        tmp_path / "u.csv",
        "代码,名称,类型,上级\nX1,某某局,部门,451200\nD01,市纪委监委,部门,451200\n",
    )
    assert main(["--db", db, "units", "import", str(f)]) == 0
    assert "1 added 新增, 0 updated" in capsys.readouterr().out  # absent columns change nothing
    bad = write(tmp_path / "bad.csv", "代码,名称,类型\nX2,某局,乡镇\n")
    assert main(["--db", db, "units", "import", str(bad)]) == 1
    assert "row 2" in capsys.readouterr().err


def test_bench_import_runs(capsys):
    """`dialer bench import` runs on a small frame and prints its figures as JSON last."""
    import json

    assert main(["bench", "import", "--rows", "3000", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["rows"] == 3000 and figures["database"] == "sqlite"
    assert figures["accepted"] + figures["duplicates"] + figures["rejected"] == 3000
    assert figures["rows_per_s"] > 0


def test_contacts_import_timezone_column(db, tmp_path, capsys):
    """`dialer contacts import` reads an English `timezone` column; a bad zone is one rejected row."""
    f = write(
        tmp_path / "tz.csv", "phone,timezone\n13812345678,Asia/Urumqi\n13912345678,Mars/Base\n"
    )
    assert main(["--db", db, "contacts", "import", str(f), "--unit", "451202"]) == 0
    out = capsys.readouterr().out
    assert "accepted 1" in out and "rejected 1" in out
    with (tmp_path / "tz.csv.rejects.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][:2] == ["3", "bad_timezone"] and rows[1][5] == "Mars/Base"
