"""
Reading the files units hand in: CSV in any of the encodings Excel writes, or XLSX.

Files are streamed: CSV through a text wrapper over the raw file (the encoding is
decided from the first non-ASCII bytes), XLSX through openpyxl's read-only mode, so a
200 MB file never sits in memory. The format is decided from the content, not the
name: an XLSX renamed C{.csv} is read as XLSX, a binary file is refused.

test-case-name: tests.frames.test_reading
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dialer.errors import InputError

SNIFF_BYTES = 1 << 16
csv.field_size_limit(1 << 24)

# Header names (lower-case, without spaces/underscores) -> the attribute they hold.
PHONE_HEADERS = (
    "电话",
    "电话号码",
    "手机",
    "手机号",
    "手机号码",
    "联系电话",
    "联系方式",
    "号码",
    "移动电话",
    "固定电话",
    "固话",
    "座机",
    "phone",
    "phonenumber",
    "telephone",
    "tel",
    "mobile",
    "number",
    "cell",
)
ATTRIBUTE_HEADERS = {
    "姓名": "name",
    "名字": "name",
    "name": "name",
    "性别": "gender",
    "gender": "gender",
    "sex": "gender",
    "年龄段": "age_group",
    "年龄组": "age_group",
    "年龄": "age_group",
    "age": "age_group",
    "agegroup": "age_group",
    "区域": "district",
    "地区": "district",
    "乡镇": "district",
    "街道": "district",
    "所属区域": "district",
    "乡镇街道": "district",
    "district": "district",
    "town": "district",
    "地址": "address",
    "address": "address",
}

# Header names of the optional column holding the respondent's time zone (IANA name).
TIMEZONE_HEADERS = ("时区", "timezone", "tz", "zone", "时区名称")


def header_key(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("_", "").replace("*", "")


@dataclass
class Table:
    """
    An open input file.

    @ivar columns: header names, or C{列1, 列2...} when the file has no header row.
    @ivar rows: data rows as C{(row number in the file, cells as strings)}; rows whose
        cells are all blank are skipped. Row numbers are what a spreadsheet shows.
    @ivar progress: returns C{(done, total)} in bytes (CSV) or rows (XLSX); total may be 0.
    """

    path: Path
    format: str  # csv | xlsx
    encoding: str | None
    columns: list[str]
    has_header: bool
    rows: Iterator[tuple[int, list[str]]]
    progress: Callable[[], tuple[int, int]] = field(default=lambda: (0, 0))
    phone_hint: int = 0  # without a header: the first column that held a number

    def column(self, name: str) -> int:
        """The index of the column called C{name} (exact, then loose match)."""
        for i, c in enumerate(self.columns):
            if c.strip() == name.strip():
                return i
        for i, c in enumerate(self.columns):
            if header_key(c) == header_key(name):
                return i
        raise InputError(
            f"{self.path}: no column {name!r}; columns: {', '.join(self.columns)} / 找不到该列"
        )


def sniff_format(head: bytes) -> str:
    """C{xlsx}, C{xls} or C{csv} from the first bytes of a file."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    return "csv"


def looks_binary(sample: bytes) -> bool:
    """True for content that is not text: NUL bytes or many control characters."""
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample[:4096] if b < 9 or 13 < b < 32 or b == 127)
    return controls > max(4, len(sample[:4096]) // 100)


def detect_encoding(sample: bytes) -> str:
    """
    The encoding of a CSV from a sample of its first non-ASCII bytes.

    BOMs win (UTF-8, UTF-16); then strict UTF-8; then GB18030 (a superset of GBK and
    GB2312, what Chinese Excel writes). A sample may end mid-character.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise InputError("not UTF-8 or GBK/GB18030 text / 不是 UTF-8 或 GBK 编码的文本")


def _first_non_ascii(f: BinaryIO, head: bytes) -> bytes:
    """The first block of C{f} with a non-ASCII byte (or C{head} if all ASCII)."""
    if not head.isascii():
        return head
    while True:
        block = f.read(1 << 20)
        if not block:
            return head
        if not block.isascii():
            # the byte before is ASCII, so this one starts a character in UTF-8 and GBK
            start = next(i for i, b in enumerate(block) if b > 127)
            return block[start : start + SNIFF_BYTES]


@contextmanager
def open_table(path: str | os.PathLike[str], sheet: str | None = None) -> Iterator[Table]:
    """
    Open a CSV or XLSX file as a L{Table}; errors are L{InputError} naming the file.

    @param sheet: the XLSX worksheet to read (default: the first).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with p.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise InputError(f"{p}: file not found / 找不到文件") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory / 是目录，不是文件") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror}) / 无法读取文件") from None
    if size == 0:
        raise InputError(f"{p}: empty file (0 bytes) / 文件为空（0 字节）")
    kind = sniff_format(head)
    if kind == "xls":
        raise InputError(
            f"{p}: old Excel .xls format; save it as .xlsx or CSV / 旧版 .xls 格式，请另存为 .xlsx 或 CSV"
        )
    if kind == "xlsx":
        with _open_xlsx(p, sheet) as table:
            yield table
    else:
        with _open_csv(p, head, size) as table:
            yield table


@contextmanager
def _open_csv(p: Path, head: bytes, size: int) -> Iterator[Table]:
    if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and looks_binary(head):
        raise InputError(
            f"{p}: binary content, not a CSV text file / 文件内容是二进制数据，不是 CSV 文本"
        )
    with p.open("rb") as raw:
        sample = _first_non_ascii(raw, head)
    try:
        encoding = detect_encoding(sample)
    except InputError as e:
        raise InputError(f"{p}: {e}") from None
    raw = p.open("rb")
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    try:
        try:
            first = text.readline()
        except UnicodeDecodeError:
            raise InputError(
                f"{p}: row 1: bytes that are not valid {encoding} / 第 1 行编码错误"
            ) from None
        delimiter = max(",\t;|", key=first.count) if first.strip() else ","
        if first.count(delimiter) == 0:
            delimiter = ","
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        numbered = _numbered_csv(p, reader, encoding)
        columns, has_header, rows, hint = _split_header(numbered)
        yield Table(
            path=p,
            format="csv",
            encoding=encoding,
            columns=columns,
            has_header=has_header,
            rows=rows,
            phone_hint=hint,
            progress=lambda: (raw.tell(), size),
        )
    finally:
        text.close()


def _numbered_csv(
    p: Path, reader: Iterator[list[str]], encoding: str
) -> Iterator[tuple[int, list[str]]]:
    n = 0
    try:
        for n, cells in enumerate(reader, 1):
            yield n, cells
    except UnicodeDecodeError:
        raise InputError(
            f"{p}: around row {n + 1}: bytes that are not valid {encoding} (the file mixes"
            f" encodings) / 约第 {n + 1} 行附近编码错误"
        ) from None
    except csv.Error as e:
        raise InputError(f"{p}: row {n + 1}: {e} / 第 {n + 1} 行 CSV 格式错误") from None


@contextmanager
def _open_xlsx(p: Path, sheet: str | None) -> Iterator[Table]:
    import openpyxl  # deferred: openpyxl is slow to import and CSV is the common case

    f = p.open("rb")  # a file object: openpyxl would refuse a path not named .xlsx
    try:
        wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
    except Exception as e:  # zipfile/openpyxl raise many kinds for a damaged file
        f.close()
        raise InputError(f"{p}: not a readable XLSX file ({e}) / 无法读取的 XLSX 文件") from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise InputError(
                f"{p}: no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)} / 找不到工作表"
            )
        total = ws.max_row or 0
        state = {"row": 0}

        def numbered() -> Iterator[tuple[int, list[str]]]:
            try:
                for n, values in enumerate(ws.iter_rows(values_only=True), 1):
                    state["row"] = n
                    yield n, [_cell_text(v) for v in values]
            except Exception as e:  # a damaged sheet fails in openpyxl's XML parsing
                raise InputError(
                    f"{p}: around row {state['row'] + 1}: damaged XLSX ({e}) / XLSX 文件损坏"
                ) from None

        columns, has_header, rows, hint = _split_header(numbered())
        yield Table(
            path=p,
            format="xlsx",
            encoding=None,
            columns=columns,
            has_header=has_header,
            rows=rows,
            phone_hint=hint,
            progress=lambda: (state["row"], total),
        )
    finally:
        wb.close()
        f.close()


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as text. An XLSX number cell keeps every digit up to 15."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def _split_header(
    numbered: Iterator[tuple[int, list[str]]],
) -> tuple[list[str], bool, Iterator[tuple[int, list[str]]], int]:
    """Find the first non-blank row; it is a header unless one of its cells holds a number."""
    from dialer.frames.phones import BadNumber, normalise

    for n, cells in numbered:
        if not any(c.strip() for c in cells):
            continue
        hint = None
        for i, c in enumerate(cells):
            try:
                normalise(c)
            except BadNumber as e:
                if e.reason == "precision_lost" and hint is None:
                    hint = i
            else:
                hint = i
                break
        if hint is not None:
            columns = [f"列{i + 1}" for i in range(len(cells))]
            return columns, False, _non_blank(_chain_first((n, cells), numbered)), hint
        return [c.strip() for c in cells], True, _non_blank(numbered), 0
    return [], False, iter(()), 0


def _chain_first(
    first: tuple[int, list[str]], rest: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield first
    yield from rest


def _non_blank(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    for n, cells in rows:
        for c in cells:
            if c and not c.isspace():
                yield n, cells
                break


def find_phone_column(table: Table, name: str | None = None) -> int:
    """The phone column: C{name} if given, else a known header, else the only column."""
    if name:
        return table.column(name)
    if table.has_header:
        keys = [header_key(c) for c in table.columns]
        for wanted in PHONE_HEADERS:
            if wanted in keys:
                return keys.index(wanted)
        for i, k in enumerate(keys):
            if any(w in k for w in ("电话", "手机", "号码", "phone", "mobile")):
                return i
        if len(table.columns) == 1:
            return 0
        raise InputError(
            f"{table.path}: no phone column among {', '.join(table.columns)}; name it with"
            " --phone-column / 找不到电话号码列，请用 --phone-column 指定"
        )
    return table.phone_hint


def find_timezone_column(table: Table, exclude: tuple[int | None, ...] = ()) -> int | None:
    """The optional time-zone column (a header in L{TIMEZONE_HEADERS}), or None."""
    if not table.has_header:
        return None
    for i, c in enumerate(table.columns):
        if i not in exclude and header_key(c) in TIMEZONE_HEADERS:
            return i
    return None
