"""Frame store functions on SQLite and PostgreSQL: import, dedupe, DNC, draws."""

import csv

import pytest
import sqlalchemy as sa

from dialer.errors import InputError
from dialer.scripts.contacts import import_file
from dialer.scripts.sample import draw_sample, export_rows
from dialer.store.frames import (
    UnitSpec,
    thd_dnc_add,
    thd_dnc_contains,
    thd_draw_rows,
    thd_list_draws,
    thd_list_units,
    thd_upsert_units,
)
from dialer.store.schema import contacts, imports

UNITS = [
    UnitSpec("451202", "金城江区", "Jinchengjiang", "county", "451200"),
    UnitSpec("D14", "市教育局", "Education Bureau", "department", "451200"),
]


@pytest.fixture
def store(engine):
    with engine.begin() as conn:
        thd_upsert_units(conn, UNITS)
    return engine


def write_csv(path, rows, encoding="gbk"):
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def count(engine, table=contacts):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def read_rejects(path):
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.reader(f))[1:]


def test_units_upsert(engine):
    """Units are added, then updated by code; unchanged units and absent fields are left alone."""
    with engine.begin() as conn:
        assert thd_upsert_units(conn, UNITS) == (2, 0)
        changed = [UnitSpec("D14", "市教育局（新）", None, "department", None), UNITS[0]]
        assert thd_upsert_units(conn, changed) == (0, 1)
        units = {u.code: u for u in thd_list_units(conn)}
    assert units["D14"].name == "市教育局（新）"
    assert units["D14"].name_en == "Education Bureau"  # not given: kept
    assert units["451202"].kind == "county"


def test_import_counts_rejects_and_attributes(store, tmp_path):
    """A messy GBK file: accepted, duplicate and rejected rows, each rejected row listed."""
    f = write_csv(
        tmp_path / "a.csv",
        [
            ["姓名", "手机号码", "性别"],
            ["张三", "13812345678", "男"],
            ["李四", "1.88078E+10", "女"],
            ["王五", "１３９１２３４５６７８", "男"],
            ["赵六", "138 1234 5678", "男"],
            ["钱七", "2281234转801", "女"],
            ['"老\\王"\n', "13712345678", ""],
        ],
    )
    rejects = tmp_path / "r.csv"
    s = import_file(store, f, unit_code="451202", rejects_path=rejects)
    assert (s.rows_read, s.accepted, s.duplicates, s.rejected) == (6, 4, 1, 1)
    assert [(r[0], r[1], r[3]) for r in read_rejects(rejects)] == [
        ("3", "precision_lost", "1.88078E+10"),
        ("5", "duplicate", "138 1234 5678"),
    ]
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(contacts.c.number, contacts.c.extension, contacts.c.attributes).order_by(
                contacts.c.source_row
            )
        ).all()
    assert rows[0] == ("+8613812345678", "", {"name": "张三", "gender": "男"})
    assert rows[2][:2] == ("+867782281234", "801")
    assert rows[3][2] == {"name": '"老\\王"'}  # quotes and backslashes survive the JSON


def test_reimport_adds_nothing(store, tmp_path):
    """Importing the same file twice adds nothing and says it saw this content before."""
    f = write_csv(tmp_path / "a.csv", [["电话"], ["13812345678"], ["13912345678"]])
    first = import_file(store, f, unit_code="451202")
    again = import_file(store, f, unit_code="451202")
    assert (first.accepted, again.accepted, again.duplicates) == (2, 0, 2)
    assert again.same_file_as == first.import_id
    assert count(store) == 2


def test_cross_unit_numbers_kept_and_counted(store, tmp_path):
    """The same number from two units is stored under both and counted as shared."""
    f = write_csv(tmp_path / "a.csv", [["电话"], ["13812345678"], ["13912345678"]])
    import_file(store, f, unit_code="451202")
    s = import_file(
        store, write_csv(tmp_path / "b.csv", [["电话"], ["13812345678"]]), unit_code="D14"
    )
    assert (s.accepted, s.duplicates, s.shared) == (1, 0, 1)
    assert count(store) == 3


def test_unit_column(store, tmp_path):
    """Rows name their unit by code or Chinese name; unknown units are rejected."""
    f = write_csv(
        tmp_path / "u.csv",
        [
            ["单位", "电话"],
            ["451202", "13812345678"],
            ["市教育局", "13812345678"],
            ["X", "13912345678"],
        ],
        encoding="utf-8",
    )
    rejects = tmp_path / "r.csv"
    s = import_file(store, f, unit_column="单位", rejects_path=rejects)
    assert (s.accepted, s.rejected, s.shared) == (2, 1, 1)
    assert read_rejects(rejects)[0][1] == "unknown_unit"


def test_unknown_unit_code(store, tmp_path):
    """--unit with an unknown code is an error and stores nothing."""
    f = write_csv(tmp_path / "a.csv", [["电话"], ["13812345678"]])
    with pytest.raises(InputError, match="unknown unit"):
        import_file(store, f, unit_code="NOPE")
    assert count(store, imports) == 0


def test_failure_mid_file_leaves_store_unchanged(store, tmp_path):
    """A file that breaks after 12,000 good rows (past a batch insert) stores nothing."""
    good = "电话,姓名\n" + "".join(f"138{i:08d},张三\n" for i in range(12_000))
    f = tmp_path / "broken.csv"
    f.write_bytes(good.encode() + b"13912345678,\xff\xfe\n")
    rejects = tmp_path / "r.csv"
    with pytest.raises(InputError, match="around row"):
        import_file(store, f, unit_code="451202", rejects_path=rejects)
    assert count(store) == 0 and count(store, imports) == 0
    assert not rejects.exists() and not (tmp_path / "r.csv.part").exists()


def test_dnc(store):
    """Numbers are added once and found again."""
    with store.begin() as conn:
        assert thd_dnc_add(conn, ["+8613812345678", "+8613812345678"], now=1.0, source="t") == 1
        assert thd_dnc_add(conn, ["+8613812345678"], now=2.0, source="t") == 0
        assert thd_dnc_contains(conn, "+8613812345678")
        assert not thd_dnc_contains(conn, "+8613912345678")


def test_draw_excludes_dnc_and_is_stored(store, tmp_path):
    """A draw never includes DNC numbers, stores its parameters, and exports its members."""
    rows = [["姓名", "电话"]] + [[f"人{i}", f"1380000{i:04d}"] for i in range(40)]
    import_file(store, write_csv(tmp_path / "a.csv", rows), unit_code="451202")
    with store.begin() as conn:
        thd_dnc_add(conn, [f"+861380000{i:04d}" for i in range(10)], now=1.0, source="t")
        result = draw_sample(conn, name="c1", allocation="equal", seed=5, per_unit=25, now=10.0)
    assert result["drawn"] == {"451202": 25, "D14": 0}
    assert result["short"] == {"D14": [25, 0]}
    with store.connect() as conn:
        members = thd_draw_rows(conn, "c1")
        ((draw, n),) = thd_list_draws(conn)
    assert n == 25 and draw.parameters["frame"] == {"451202": 30, "D14": 0}
    numbers = {m["number"] for m in members}
    assert not numbers & {f"+861380000{i:04d}" for i in range(10)}
    header, data = export_rows(members)
    assert header[-1] == "name" and data[0][5].startswith("138 ")


def test_draw_reproducible_and_named(store, tmp_path):
    """The same seed gives the same members; a taken name needs replace=True."""
    rows = [["电话"]] + [[f"1380000{i:04d}"] for i in range(60)]
    import_file(store, write_csv(tmp_path / "a.csv", rows), unit_code="451202")
    with store.begin() as conn:
        draw_sample(conn, name="a", allocation="proportional", seed=9, size=10, now=1.0)
        draw_sample(conn, name="b", allocation="proportional", seed=9, size=10, now=1.0)
        with pytest.raises(InputError, match="--replace"):
            draw_sample(conn, name="a", allocation="equal", seed=1, per_unit=1, now=1.0)
        a = [m["id"] for m in thd_draw_rows(conn, "a")]
        b = [m["id"] for m in thd_draw_rows(conn, "b")]
        draw_sample(conn, name="a", allocation="equal", seed=1, per_unit=1, now=2.0, replace=True)
        assert len(thd_draw_rows(conn, "a")) == 1
    assert a == b and len(a) == 10


def test_import_row_records_times_and_counts(store, tmp_path):
    """The import row keeps the file's hash, counts, and start/end from the clock given."""
    ticks = iter([100.0, 107.5])
    f = write_csv(tmp_path / "a.csv", [["电话"], ["13812345678"], ["x"]])
    s = import_file(store, f, unit_code="451202", clock=lambda: next(ticks))
    with store.connect() as conn:
        row = conn.execute(sa.select(imports)).one()
    assert (row.started_at, row.finished_at) == (100.0, 107.5)
    assert (row.filename, row.rows_read, row.accepted, row.rejected) == ("a.csv", 2, 1, 1)
    assert row.id == s.import_id and len(row.sha256) == 64


def test_timezone_column_stored_bad_zone_rejected(store, tmp_path):
    """A 时区 column gives each contact its zone (blank: NULL, the campaign's); an unknown
    zone rejects that row with its reason, the rest are stored; 时区 is not an attribute."""
    f = write_csv(
        tmp_path / "tz.csv",
        [
            ["姓名", "电话", "时区"],
            ["张三", "13812345678", "Asia/Urumqi"],
            ["李四", "13912345678", ""],
            ["王五", "13712345678", "北京时间"],
            ["赵六", "13612345678", "asia/shanghai"],
        ],
        encoding="utf-8",
    )
    rejects = tmp_path / "r.csv"
    s = import_file(store, f, unit_code="451202", rejects_path=rejects)
    assert (s.accepted, s.rejected, dict(s.reasons)) == (3, 1, {"bad_timezone": 1})
    assert [(r[0], r[1], r[3], r[5]) for r in read_rejects(rejects)] == [
        ("4", "bad_timezone", "13712345678", "北京时间")
    ]
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(contacts.c.number, contacts.c.timezone, contacts.c.attributes).order_by(
                contacts.c.source_row
            )
        ).all()
    assert rows == [
        ("+8613812345678", "Asia/Urumqi", {"name": "张三"}),
        ("+8613912345678", None, {"name": "李四"}),
        ("+8613612345678", "Asia/Shanghai", {"name": "赵六"}),
    ]
