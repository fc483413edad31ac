"""Passive execution in the running gateway against the simulator: the model's order rests at
our touch, is replaced to follow it (OrderCancelReplaceRequest(35=G) accepted by the venue), and
there is never more than one working order per symbol and side."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.integration.gateway.harness import load, running_gateway, wait_until, write_gateway_toml
from tests.support.sim_process import start_simulator
from tests.unit.decision.helpers import constant_model_bytes, register_model

DECISION = """
[decision]
tracing = false
full_position_bps = 1.0
budget_us = 1000000
registry_poll_ms = 50
store_flush_ms = 20

[decision.execution]
style = "passive"
min_replace_interval_ms = 0

[decision.risk]
max_order_qty = 300
max_position_qty = 1000000
max_notional = "10000000"

[decision.symbols.ACME]
max_position_lots = 100000
"""


def _working_per_side(ledger: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(ledger) as db:
        return db.execute(
            "SELECT symbol, side, count(*) FROM orders WHERE status IN ('A', '0', '1', '6', 'E')"
            " GROUP BY symbol, side"
        ).fetchall()


def _accepted_replaces(ledger: Path) -> int:
    with sqlite3.connect(ledger) as db:
        return db.execute(
            "SELECT count(*) FROM order_requests WHERE msg_type = 'G' AND state = 'accepted'"
        ).fetchone()[0]


def test_passive_order_follows_the_touch_with_accepted_replaces(tmp_path: Path) -> None:
    register_model(tmp_path / "gw" / "state" / "decision" / "models", constant_model_bytes(1.0), name="long")
    sim = start_simulator(tmp_path, md_interval_ms=20)
    try:
        config = load(write_gateway_toml(tmp_path / "gw", sim.port, extra=DECISION), sim.port)
        with running_gateway(config) as gateway:
            assert gateway.ledger is not None  # the gateway opened its ledger on start
            ledger = gateway.ledger.path
            peak = 0
            deadline = time.monotonic() + 20
            while _accepted_replaces(ledger) < 3 and time.monotonic() < deadline:
                peak = max([peak] + [count for _, _, count in _working_per_side(ledger)])
                time.sleep(0.02)
            wait_until(lambda: _accepted_replaces(ledger) >= 3, 1, "three replaces accepted by the venue")
            assert peak <= 1, "more than one working order on a symbol and side"
            gateway.sink.flush()
            with sqlite3.connect(gateway.state_dir / "decision" / "features.sqlite") as store:
                kinds = dict(store.execute("SELECT action, count(*) FROM orders_sent GROUP BY action"))
            assert kinds.get("replace", 0) >= 3
    finally:
        sim.stop()
