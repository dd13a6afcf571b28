"""Reading the files units hand in: encodings, headers, formats, broken files."""

import codecs
import contextlib

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.errors import InputError
from dialer.frames.reading import detect_encoding, find_phone_column, open_table

ROWS = "姓名,手机号码,性别\r\n张三,13812345678,男\r\n李四,0778-2281234,女\r\n"


def read_all(path):
    with open_table(path) as table:
        return table, list(table.rows)


def test_gbk_csv_from_excel(tmp_path):
    """A GBK CSV as Chinese Excel saves it is detected and decoded."""
    p = tmp_path / "gbk.csv"
    p.write_bytes(ROWS.encode("gbk"))
    table, rows = read_all(p)
    assert table.encoding == "gb18030"
    assert table.columns == ["姓名", "手机号码", "性别"]
    assert rows == [(2, ["张三", "13812345678", "男"]), (3, ["李四", "0778-2281234", "女"])]


def test_gbk_after_a_long_ascii_start(tmp_path):
    """GBK is detected even when the first megabyte is plain ASCII."""
    p = tmp_path / "late.csv"
    body = "phone,name\r\n" + "13812345678,a\r\n" * 80_000 + "13912345678,王五\r\n"
    p.write_bytes(body.encode("gbk"))
    table, rows = read_all(p)
    assert table.encoding == "gb18030"
    assert rows[-1][1] == ["13912345678", "王五"]


def test_utf8_bom(tmp_path):
    """A UTF-8 file with a BOM: the BOM does not end up in the first header."""
    p = tmp_path / "bom.csv"
    p.write_bytes(codecs.BOM_UTF8 + ROWS.encode("utf-8"))
    table, rows = read_all(p)
    assert table.encoding == "utf-8-sig"
    assert table.columns[0] == "姓名"
    assert len(rows) == 2


def test_utf16_tab_separated(tmp_path):
    """Excel's "Unicode text" (UTF-16, tab separated) is read."""
    p = tmp_path / "u16.csv"
    p.write_bytes(ROWS.replace(",", "\t").encode("utf-16"))
    table, rows = read_all(p)
    assert table.columns == ["姓名", "手机号码", "性别"]
    assert rows[0][1] == ["张三", "13812345678", "男"]


def test_semicolon_delimiter(tmp_path):
    """A semicolon-separated file is split on semicolons."""
    p = tmp_path / "semi.csv"
    p.write_text(ROWS.replace(",", ";"), encoding="utf-8")
    _, rows = read_all(p)
    assert rows[1][1][1] == "0778-2281234"


def test_empty_lines_skipped_row_numbers_kept(tmp_path):
    """Blank lines are skipped, and row numbers still match the spreadsheet."""
    p = tmp_path / "blank.csv"
    p.write_text("电话\n\n13812345678\n,\n\n13912345678\n", encoding="utf-8")
    _, rows = read_all(p)
    assert rows == [(3, ["13812345678"]), (6, ["13912345678"])]


def test_no_header(tmp_path):
    """A file without a header starts with data; the phone column is found."""
    p = tmp_path / "nohead.csv"
    p.write_text("张三,13812345678\n李四,13912345678\n", encoding="utf-8")
    with open_table(p) as table:
        assert not table.has_header
        assert find_phone_column(table) == 1
        assert [n for n, _ in table.rows] == [1, 2]


def test_scientific_notation_first_row_is_data(tmp_path):
    """A first row holding Excel-damaged numbers is data, not a header."""
    p = tmp_path / "sci.csv"
    p.write_text("1.38123E+10\n13912345678\n", encoding="utf-8")
    with open_table(p) as table:
        assert not table.has_header
        assert [c for _, c in table.rows] == [["1.38123E+10"], ["13912345678"]]


def test_phone_column_by_chinese_header(tmp_path):
    """The phone column is recognised by its Chinese header among others."""
    p = tmp_path / "h.csv"
    p.write_text("序号,姓名,联系电话,地址\n1,张三,13812345678,河池\n", encoding="utf-8")
    with open_table(p) as table:
        assert find_phone_column(table) == 2


def test_unknown_columns_need_phone_column(tmp_path):
    """Several unrecognised columns: the error says to use --phone-column."""
    p = tmp_path / "u.csv"
    p.write_text("a,b\nx,y\n", encoding="utf-8")
    with open_table(p) as table, pytest.raises(InputError, match="--phone-column"):
        find_phone_column(table)


def test_zero_byte_file(tmp_path):
    """A 0-byte file is refused with a clear message."""
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"), open_table(p):
        pass


def test_missing_file(tmp_path):
    """A missing file is an input error naming it."""
    with pytest.raises(InputError, match="not found"), open_table(tmp_path / "nope.csv"):
        pass


def test_binary_renamed_csv(tmp_path):
    """A binary file renamed .csv is refused, not read as garbage."""
    p = tmp_path / "photo.csv"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10)
    with pytest.raises(InputError, match="binary"), open_table(p):
        pass


def test_undecodable_text(tmp_path):
    """Bytes that are neither UTF-8 nor GB18030 are refused."""
    with pytest.raises(InputError):
        detect_encoding(b"\x81\x20\x81\x20\xff\xff")


def test_bad_bytes_later_in_file(tmp_path):
    """A file that turns invalid after a valid start fails near the row (text is decoded in blocks)."""
    p = tmp_path / "mixed.csv"
    good = "电话,姓名\n" + "13812345678,张三\n" * 10_000
    p.write_bytes(good.encode() + b"13912345678,\xff\xfe\xfa\n")
    with open_table(p) as table, pytest.raises(InputError, match=r"around row 9\d\d\d"):
        list(table.rows)


def test_old_xls_refused(tmp_path):
    """An old binary .xls asks to be saved as .xlsx or CSV."""
    p = tmp_path / "old.xls"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(InputError, match="xlsx"), open_table(p):
        pass


def _xlsx(path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(path)


def test_xlsx_numbers_keep_every_digit(tmp_path):
    """XLSX number cells (int or float) give the full number, not 1.38E+10."""
    p = tmp_path / "n.xlsx"
    _xlsx(p, [["电话", "姓名"], [13812345678, "张三"], [13912345678.0, "李四"], [None, None]])
    table, rows = read_all(p)
    assert table.format == "xlsx"
    assert rows == [(2, ["13812345678", "张三"]), (3, ["13912345678", "李四"])]


def test_xlsx_renamed_csv(tmp_path):
    """An XLSX renamed .csv is read as XLSX (the content decides)."""
    p = tmp_path / "really.csv"
    _xlsx(p, [["手机"], ["13812345678"]])
    table, rows = read_all(p)
    assert table.format == "xlsx"
    assert rows == [(2, ["13812345678"])]


def test_damaged_xlsx(tmp_path):
    """A truncated XLSX is refused with a readable message."""
    p = tmp_path / "bad.xlsx"
    _xlsx(p, [["手机"], ["13812345678"]])
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(InputError, match="XLSX"), open_table(p):
        pass


def test_xlsx_named_sheet(tmp_path):
    """--sheet picks a worksheet; an unknown one lists the sheets there are."""
    p = tmp_path / "two.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为某单位名单"])
    ws = wb.create_sheet("名单")
    ws.append(["手机"])
    ws.append([13812345678])
    wb.save(p)
    with open_table(p, sheet="名单") as table:
        assert list(table.rows) == [(2, ["13812345678"])]
    with pytest.raises(InputError, match="说明, 名单"), open_table(p, sheet="x"):
        pass


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=3000)
    | st.text(max_size=500).map(lambda t: t.encode("utf-8"))
    | st.text(alphabet='电话号码张三,\n\r\t"0123456789', max_size=500).map(
        lambda t: t.encode("gb18030")
    )
)
def test_any_bytes_read_or_refused(tmp_path, data):
    """Whatever the bytes, the reader yields rows or raises InputError, nothing else."""
    p = tmp_path / "fuzz.csv"
    p.write_bytes(data)
    try:
        with open_table(p) as table:
            for _n, cells in table.rows:
                assert all(isinstance(c, str) for c in cells)
            if table.columns:
                with contextlib.suppress(InputError):
                    find_phone_column(table)
    except InputError:
        pass


def test_xlsx_with_damaged_sheet_xml(tmp_path):
    """An XLSX whose sheet XML is cut short fails as an InputError naming the file."""
    import zipfile

    good = tmp_path / "good.xlsx"
    _xlsx(good, [["手机"]] + [[13800000000 + i] for i in range(2000)])
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            dst.writestr(item, data)
    with pytest.raises(InputError, match=r"bad\.xlsx"), open_table(bad) as table:
        list(table.rows)
