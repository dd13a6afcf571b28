"""The campaign stage of `dialer demo`: its pure parts here, the whole stage in a subprocess
(it runs the real reactor)."""

import os
import re
import subprocess
import sys
import urllib.request

import pytest
import sqlalchemy as sa
from rich.cells import cell_len

from dialer.campaign import demo
from dialer.store import campaigns as store
from dialer.store.schema import answers, attempts
from tests.faults.procs import ROOT

WIDTH = demo.WIDTH  # 80


def test_split_members_halves_every_unit():
    """Odd draw positions go to the phone, even ones to the IVR: disjoint, nothing lost."""
    members = {1: [10, 11, 12, 13, 14], 2: [20], 3: []}
    phone, ivr = demo.split_members(members)
    assert phone == {1: [10, 12, 14], 2: [20], 3: []}
    assert ivr == {1: [11, 13], 2: [], 3: []}
    for unit, ids in members.items():
        assert sorted(phone[unit] + ivr[unit]) == ids


def test_fit_counts_chinese_as_two_cells():
    """fit() pads and cuts by terminal cells, so CJK labels line up."""
    assert cell_len(demo.fit("电话", 6)) == 6
    assert demo.fit("电话", 6) == "电话  "
    assert demo.fit("7", 4, right=True) == "   7"
    cut = demo.fit("罗城仫佬族自治县 long", 10)
    assert cell_len(cut) == 10 and cut.endswith("…")


def _big_status(name, mode):
    units = [
        {"code": f"4512{i:02d}", "name": "罗城仫佬族自治县" * 2, "dialed": 99999}
        | {"finished": 99999, "completes": 99999, "quota": None, "contacts": 1, "live": 9}
        for i in range(11)
    ] + [
        {"code": f"D{i:02d}", "name": "市纪委监委", "dialed": 99999, "finished": 9, "completes": 9}
        | {"quota": None, "contacts": 1, "live": 0}
        for i in range(82)
    ]
    dispositions = [
        {"outcome": o, "aapor": "3.13", "count": 999999}
        for o in ("complete", "answered_hangup", "lost", "nonresidential", "unknown_outcome_x")
    ]
    ab = {"abandoned": 12345, "live_answered": 999999, "rate": 12345 / 999999}
    return {
        "campaign": name,
        "id": 1,
        "status": "paused",
        "mode": mode,
        "attempts": 9999999,
        "units": units,
        "dispositions": dispositions,
        "abandonment": {
            "denominator": "live-answered",
            "target": 0.03,
            "campaign": ab,
            "day": ab,
            "month": ab,
        },
    }


def test_report_lines_fit_80_columns_with_large_figures():
    """Progress and closing report stay within 80 cells even with huge counts and names."""
    tick = demo.Tick(9999, 99999, 99999, 99999, 99999, 99999, 999999, 9999999)
    lines = demo.progress_header() + demo.progress_lines(99999.0, tick, tick)
    counties = {f"4512{i:02d}" for i in range(11)}
    stored = demo.Stored(9999999, 999999, {"complete": 99999, "breakoff": 99999})
    lines += demo.summary_lines(
        _big_status(demo.PHONE, "predictive"),
        _big_status(demo.IVR, "ivr-only"),
        stored,
        stored,
        counties,
    )
    too_wide = [line for line in lines if cell_len(line) > WIDTH]
    assert not too_wide
    text = "\n".join(lines)
    assert "abandoned 放弃 12345 / live-answered 人工接听 999999" in text
    assert "1.2%, target 上限 3%: within" in text
    assert "82 departments" in text and "all 93 units" in text
    assert "99 still on the line when the demo stopped" in text


def test_summary_says_when_abandonment_is_over_target():
    """The verdict beside the target follows the figures (abandoned / live-answered)."""
    phone = _big_status(demo.PHONE, "predictive")
    phone["abandonment"]["campaign"] = {"abandoned": 4, "live_answered": 100, "rate": 0.04}
    lines = demo.summary_lines(
        phone, _big_status(demo.IVR, "ivr-only"), demo.Stored(), demo.Stored(), set()
    )
    text = "\n".join(lines)
    assert "abandoned 放弃 4 / live-answered 人工接听 100" in text
    assert "= 4.0%, target 上限 3%: OVER" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_demo_campaign_stage(tmp_path):
    """A short demo runs both campaigns on the simulated PBX: both dial, the ivr-only one
    stores answers, /metrics answers while it runs, no attempt is left open, the printed
    abandonment is the store's abandoned / live-answered, and every line of the stage fits
    80 columns."""
    env = dict(
        os.environ,
        DIALER_DEMO_SECONDS="30",
        DIALER_DEMO_DRAIN="10",
        PYTHONUNBUFFERED="1",
        COLUMNS=str(WIDTH),
    )
    workdir = tmp_path / "demo"
    cmd = [sys.executable, "-m", "dialer", "demo", "--dir", str(workdir), "--scale", "0.02"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = []
    metrics = None
    url = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            m = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", line)
            if m:
                url = m.group(1)
            if metrics is None and url and re.match(r"\d+\s+phone 电话", line):
                with urllib.request.urlopen(url, timeout=10) as r:  # the daemon is up
                    metrics = r.read().decode()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, stderr[-3000:]
    text = "\n".join(lines)
    assert "8. two campaigns on the simulated PBX" in text
    assert metrics is not None, "no progress line while the daemon ran"
    assert "dialer_calls_originated_total" in metrics

    stage = lines[next(i for i, line in enumerate(lines) if "8. two campaigns" in line) :]
    too_wide = [line for line in stage if cell_len(line) > WIDTH and str(workdir) not in line]
    assert not too_wide

    log_path = workdir / "daemon.log"
    log = log_path.read_text(encoding="utf-8")[-3000:] if log_path.exists() else "(no log)"
    engine = sa.create_engine(f"sqlite:///{workdir / 'dialer.db'}")
    try:
        with engine.connect() as conn:
            phone = store.thd_get_campaign(conn, demo.PHONE)
            ivr = store.thd_get_campaign(conn, demo.IVR)
            assert phone.mode == "predictive" and ivr.mode == "ivr-only"
            assert "pacing" not in phone.settings  # the pacer's defaults, nothing bolder

            def count(table, *where):
                return conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one()

            assert count(attempts, attempts.c.campaign_id == phone.id) > 0, log
            assert count(attempts, attempts.c.campaign_id == ivr.id) > 0, log
            assert count(answers, answers.c.campaign_id == ivr.id) > 0, log
            # calls still up at the end were hung up and their dispositions written
            assert count(attempts, attempts.c.status != "ended") == 0, log
            figures = store.thd_campaign_figures(conn, phone.id, 0.0)
            overflow = count(
                attempts, attempts.c.campaign_id == phone.id, attempts.c.abandoned.is_(True)
            )
    finally:
        engine.dispose()
    assert (
        f"abandoned 放弃 {figures.abandoned} / live-answered 人工接听 {figures.live_answered}"
        in text
    )
    rate = figures.abandoned / figures.live_answered if figures.live_answered else 0.0
    verdict = "within" if rate <= 0.03 else "OVER"
    assert f"= {rate:.1%}, target 上限 3%: {verdict}" in text
    assert f"IVR overflow 转语音 {overflow}:" in text
    assert "answers stored 已存答案" in text
