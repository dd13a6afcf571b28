"""Import N generated numbers (5 % duplicates, 2 % junk): normalise, deduplicate, store."""

from __future__ import annotations

import argparse
import csv
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from dialer.errors import ConfigError
from dialer.frames.synth import HEADER, frame_rows
from dialer.scripts.contacts import import_file
from dialer.scripts.units import DEMO_UNITS, read_units
from dialer.store.engine import create_engine
from dialer.store.frames import thd_upsert_units
from dialer.store.migrate import upgrade


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate / 行数")
    parser.add_argument("--seed", type=int, default=1, help="generator seed / 随机种子")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on a throw-away PostgreSQL cluster (Debian binaries) / 在临时 PostgreSQL 上运行",
    )
    parser.add_argument(
        "--target-db",
        metavar="URL",
        help="an empty database to use instead of a temporary SQLite file / 目标数据库",
    )


def write_frame(path: Path, rows: int, seed: int) -> int:
    """Write a CSV of C{rows} data rows spread over the demo units; returns the unit count."""
    rng = random.Random(seed)
    units = read_units(DEMO_UNITS)
    per_unit, extra = divmod(rows, len(units))
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["单位", *HEADER])
        for i, unit in enumerate(units):
            for row in frame_rows(rng, per_unit + (1 if i < extra else 0)):
                w.writerow([unit.code, *row])
    return len(units)


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = None
    with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
        frame = Path(tmp) / "frame.csv"
        t0 = time.perf_counter()
        write_frame(frame, args.rows, args.seed)
        generated = time.perf_counter() - t0
        if args.target_db:
            url = args.target_db
        elif args.postgres:
            from dialer.testing.pgserver import PostgresServer, pg_bindir

            bindir = pg_bindir()
            if bindir is None:
                raise ConfigError(
                    "PostgreSQL binaries not found: apt-get install postgresql / 未安装 PostgreSQL"
                )
            server = PostgresServer(bindir)
            try:
                server.start()
                url = server.new_database()
            except BaseException:
                server.stop()
                raise
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_engine(url)
        try:
            upgrade(engine)
            with engine.begin() as conn:
                thd_upsert_units(conn, read_units(DEMO_UNITS))
            t1 = time.perf_counter()
            summary = import_file(
                engine, frame, unit_column="单位", rejects_path=Path(tmp) / "rejects.csv"
            )
            seconds = time.perf_counter() - t1
        finally:
            engine.dispose()
            if server is not None:
                server.stop()
        return {
            "database": engine.dialect.name,
            "rows": summary.rows_read,
            "accepted": summary.accepted,
            "duplicates": summary.duplicates,
            "rejected": summary.rejected,
            "file_mb": round(frame.stat().st_size / 1e6, 1),
            "generate_seconds": round(generated, 2),
            "import_seconds": round(seconds, 2),
            "rows_per_s": round(summary.rows_read / seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
