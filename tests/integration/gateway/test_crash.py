"""Crash test: SIGKILL the `fixgw run` process at random points while its orders are filling,
restart it each time, and check at the end that its ledger holds exactly the venue's fills,
ExecID by ExecID, and the venue's positions.

What makes this hold: an order is committed before QuickFIX sees it; a report is committed inside
fromApp, before QuickFIX stores the incoming sequence number, so a report lost with a kill is
resent (PossDup) after the restart and a report committed twice is stopped by
UNIQUE(session, exec_id); the FileStore keeps both sides' sequence numbers across kills; status
requests at logon settle orders whose NewOrderSingle never left.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.gateway.harness import (
    REPO_ROOT,
    assert_ledger_matches_venue,
    ledger_fills,
    venue_fills,
    wait_until,
    write_gateway_toml,
)
from tests.support.sim_process import start_simulator

KILLS = int(os.environ.get("FIXGW_CRASH_KILLS", "22"))
BUDGET_S = float(os.environ.get("FIXGW_CRASH_BUDGET_S", "80"))
SEED = int(os.environ.get("FIXGW_CRASH_SEED", str(int(time.time()))))


def start_gateway(config: Path, output: Path) -> subprocess.Popen[bytes]:
    with output.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "fixgw.cli", "run", "--config", str(config)],
            cwd=REPO_ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def wait_for_line(output: Path, needle: str, after: int, timeout_s: float) -> None:
    wait_until(lambda: needle in output.read_text(errors="replace")[after:], timeout_s, repr(needle))


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_no_fill(tmp_path):
    rng = random.Random(SEED)
    sim = start_simulator(tmp_path, md_interval_ms=20)
    gateway_dir = tmp_path / "gw"
    trading = write_gateway_toml(gateway_dir, sim.port, strategy=True, order_interval_ms=30)
    settling = write_gateway_toml(gateway_dir, sim.port, strategy=False, name="settle.toml")
    output = tmp_path / "gateway-output.log"
    ledger = gateway_dir / "state" / "ledger.sqlite"
    started = time.monotonic()
    kills = 0
    process: subprocess.Popen[bytes] | None = None
    try:
        while kills < KILLS and time.monotonic() - started < BUDGET_S:
            mark = len(output.read_text(errors="replace")) if output.exists() else 0
            process = start_gateway(trading, output)
            wait_for_line(output, "fixgw run: run", mark, 20)
            time.sleep(rng.uniform(0.2, 1.6))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills += 1

        # restart without trading, let the venue end the day, and wait for every report
        mark = len(output.read_text(errors="replace"))
        process = start_gateway(settling, output)
        wait_for_line(output, "FIXGW->FIXSIM=up", mark, 20)
        sim.control.end_of_day()
        with contextlib.suppress(AssertionError):
            wait_until(lambda: ledger_fills(ledger) == venue_fills(sim.control), 20, "fills to settle")
        with sqlite3.connect(ledger) as db:
            live = wait_until(
                lambda: (
                    db.execute(
                        "SELECT count(*) FROM orders WHERE status NOT IN ('2','4','8','C','3')"
                    ).fetchone()[0]
                    == 0
                    or None
                ),
                15,
                "no live order left",
            )
        assert live
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        process = None

        checked = assert_ledger_matches_venue(ledger, sim.control, timeout_s=1)
        with sqlite3.connect(ledger) as db:
            runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            orders = db.execute("SELECT count(*) FROM orders").fetchone()[0]
        print(
            f"\ncrash test: seed {SEED}, {kills} SIGKILLs in {time.monotonic() - started:.0f}s, "
            f"{runs} runs, {orders} orders, {checked} fills equal to the venue's ExecID by ExecID"
        )
        assert kills >= 20, f"only {kills} kills fit in {BUDGET_S}s"
        assert checked >= 50, f"only {checked} fills: the test did not trade enough to mean much"
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        sim.stop()
