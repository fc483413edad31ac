"""The README's first command (`make demo` -> `fixgw demo`) trades with the shipped ONNX model:
the decision path decides on live market data, its orders fill at the venue, the ledger equals
the venue, and the slippage report is written."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_demo_trades_with_the_shipped_model_and_reports_slippage(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"

    completed = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "demo", "--seconds", "4", "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "trading with the decision path" in out
    assert "ledger matches the venue:" in out
    decisions = int(re.search(r"decisions (\d+), on the safe target", out).group(1))  # type: ignore[union-attr]
    assert decisions > 0
    store = sqlite3.connect(state_dir / "gateway" / "decision" / "features.sqlite")
    try:
        (model_decisions,) = store.execute(
            "SELECT count(*) FROM decisions WHERE fallback_reason = '' AND model_version IS NOT NULL"
        ).fetchone()
    finally:
        store.close()
    assert model_decisions > 0  # the model, not only the safe target, decided
    ledger = sqlite3.connect(state_dir / "gateway" / "ledger.sqlite")
    try:
        (model_orders,) = ledger.execute(
            "SELECT count(*) FROM orders WHERE decision_id IS NOT NULL AND decision_id != ''"
        ).fetchone()
        (model_fills,) = ledger.execute(
            "SELECT count(*) FROM fills f JOIN orders o USING (order_key)"
            " WHERE o.decision_id IS NOT NULL AND o.decision_id != '' AND f.busted = 0"
        ).fetchone()
    finally:
        ledger.close()
    assert model_orders > 0
    # the report covers every fill of the decision path's orders, each measured or said unmatched
    report = json.loads((state_dir / "report" / "slippage.json").read_text())
    assert report["fills"] + report["unmatched_fills"] == model_fills
    assert report["unmatched_fills"] == 0
    assert (state_dir / "report" / "slippage.png").stat().st_size > 0
