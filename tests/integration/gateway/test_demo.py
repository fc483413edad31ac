"""`fixgw demo` as a user runs it: a few seconds of trading, live progress, a summary whose
ledger check passed, and the simulator subprocess stopped afterwards."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.gateway.harness import REPO_ROOT


def test_demo_trades_prints_progress_and_stops_the_simulator(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "demo",
            "--seconds",
            "3",
            "--state-dir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert out.count("sessions 2/2 up") >= 3  # a progress block every second
    assert "ACME  orders" in out and "=== fixgw demo: summary ===" in out
    assert "ledger matches the venue:" in out
    fills = int(out.split("ledger matches the venue: ")[1].split()[0])
    assert fills > 0
    assert (tmp_path / "demo" / "gateway" / "ledger.sqlite").exists()
    sim_output = (tmp_path / "demo" / "sim" / "simulator-output.log").read_text()
    assert sim_output.rstrip().endswith("stopped")
