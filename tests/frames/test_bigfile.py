"""A 200 MB phone list streams through the import with bounded memory."""

import json
import subprocess
import sys

import pytest

PADDING = "河池市金城江区某某街道某某社区某某小区" * 4  # ~230 bytes of UTF-8 per row

CHILD = r"""
import json, resource, sys
from pathlib import Path
from dialer.scripts.contacts import import_file
from dialer.store.engine import create_engine
from dialer.store.frames import UnitSpec, thd_upsert_units
from dialer.store.migrate import upgrade

engine = create_engine(sys.argv[2])
upgrade(engine)
with engine.begin() as conn:
    thd_upsert_units(conn, [UnitSpec("451202", "金城江区", kind="county")])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
s = import_file(engine, Path(sys.argv[1]), unit_code="451202", rejects_path=Path(sys.argv[3]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": s.rows_read, "accepted": s.accepted, "duplicates": s.duplicates,
                  "rejected": s.rejected, "base_mb": base / 1024, "peak_mb": peak / 1024}))
"""


def write_big(path, rows):
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("姓名,手机号码,地址,备注\n")
        chunk = []
        for i in range(rows):
            number = 13800000000 + (i * 7919) % 100_000_000
            if i % 50 == 49:
                number = "1.38E+10"  # damage, rejected
            chunk.append(f"张{i % 100},{number},{PADDING},{i}\n")
            if len(chunk) == 10_000:
                f.writelines(chunk)
                chunk.clear()
        f.writelines(chunk)


@pytest.mark.slow
def test_200mb_file_streams_with_bounded_memory(tmp_path):
    """A ~200 MB CSV imports in one pass; peak RSS stays far below the file size plus data."""
    big = tmp_path / "big.csv"
    rows = 800_000
    write_big(big, rows)
    size_mb = big.stat().st_size / 1e6
    assert size_mb > 190
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(big),
            f"sqlite:///{tmp_path / 'd.db'}",
            str(tmp_path / "r.csv"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["rows"] == rows
    assert figures["rejected"] == rows // 50
    assert figures["accepted"] == rows - rows // 50
    # The file never sits in memory: only the dedupe keys (one int per number) grow.
    assert figures["peak_mb"] < 400, figures
