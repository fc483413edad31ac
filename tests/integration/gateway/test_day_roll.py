"""A fill made while the gateway was away, whose ExecutionReport never arrives, is booked at the
next logon from the status reply (an inferred fill), against the real simulator over loopback.

Day 1: the gateway rests a buy at the venue and stops (Logout). While it is away another client
(CLIENT1) sells into it: the venue fills the order and queues the fill report for FIXGW. Day 2:
the gateway logs on with ResetSeqNumFlag(141=Y) (ResetOnLogon=Y, a daily sequence reset), so
both sides start again at 1 and the queued report is never resent. The OrderStatusRequest(35=H)
the gateway sends at logon for its live order is answered Filled with CumQty(14) the ledger has
no fill for: the order manager books the difference as an inferred fill, and the position
equals the venue's.

The market is paused throughout (no background trading), and the resting buy is one tick inside
the spread: the only best bid, so CLIENT1's immediate-or-cancel sell at its price can trade
against nothing else.
"""

from __future__ import annotations

import contextlib
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.domain.fix_values import OrdStatus
from tests.integration.gateway.harness import (
    SIM_SESSIONS_CFG,
    ledger_positions,
    load,
    oms_of,
    running_gateway,
    venue_positions,
    wait_until,
    write_gateway_toml,
)
from tests.support.fix_client import FixTestClient, new_order_single, unique_id
from tests.support.sim_process import start_simulator

SYMBOL = "ACME"
TICK = Decimal("0.01")
QTY = 7


def sessions_cfg_with_reset(directory: Path) -> Path:
    """gateway-sim.cfg, but every logon resets the sequence numbers (ResetSeqNumFlag=Y)."""
    text = SIM_SESSIONS_CFG.read_text(encoding="utf-8")
    assert "ResetOnLogon=N" in text
    path = directory / "gateway-sim-reset.cfg"
    path.write_text(text.replace("ResetOnLogon=N", "ResetOnLogon=Y"), encoding="utf-8")
    return path


def day_two_config(directory: Path, port: int) -> Path:
    """The day-1 gateway (same state dir, ledger, QuickFIX store), logging on with a reset."""
    path = write_gateway_toml(directory, port, name="day2.toml")
    text = path.read_text(encoding="utf-8")
    old = f'sessions_cfg = "{SIM_SESSIONS_CFG}"'
    assert old in text
    path.write_text(
        text.replace(old, f'sessions_cfg = "{sessions_cfg_with_reset(directory)}"'), encoding="utf-8"
    )
    return path


def rows(ledger: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    with contextlib.closing(sqlite3.connect(ledger)) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()


def test_a_fill_never_reported_across_a_sequence_reset_is_inferred_from_the_status_reply(tmp_path):
    sim = start_simulator(tmp_path, md_interval_ms=50)
    try:
        gw = tmp_path / "gw"
        day_one = load(write_gateway_toml(gw, sim.port, name="day1.toml"), sim.port)
        day_two = load(day_two_config(gw, sim.port), sim.port)
        ledger = day_one.ledger.path
        assert day_two.ledger.path == ledger

        wait_until(lambda: (b := sim.control.book(SYMBOL, 1))["bids"] and b["asks"], 10, "a two-sided book")
        sim.control.pause_market()
        book = sim.control.book(SYMBOL, 1)
        best_bid, best_ask = Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])
        assert best_ask - best_bid >= 2 * TICK, book  # the maker quotes one tick either side of fair
        price = best_bid + TICK

        # day 1: a buy rests at the venue, alone at the best bid; then the gateway stops
        with running_gateway(day_one) as gateway:
            result = oms_of(gateway).submit(
                symbol=SYMBOL, side="1", qty=QTY, ord_type="2", price=price, tif="0"
            )
            assert result.accepted, result.reason
            cl_ord_id = result.cl_ord_id
            assert cl_ord_id is not None
            order = wait_until(
                lambda: (
                    (o := oms_of(gateway).order(cl_ord_id)) is not None
                    and o.status is OrdStatus.NEW
                    and not o.pending
                    and o
                ),
                10,
                "the buy to rest",
            )
        assert sim.control.book(SYMBOL, 1)["bids"][0] == [str(price), QTY]
        wait_until(lambda: "FIX.4.4:FIXSIM->FIXGW" not in sim.control.sessions(), 10, "the logout")

        # while the gateway is away, CLIENT1 sells into the buy: filled at the venue, the report
        # to FIXGW waits in the venue's outgoing store
        client = FixTestClient.start_new(tmp_path / "client1", sim.port, sender="CLIENT1")
        try:
            sell = unique_id("sell")
            client.send(new_order_single(sell, SYMBOL, "2", QTY, price=str(price), tif="3"))
            client.wait_for(lambda m: m.msg_type == "8" and m.get(11) == sell and m.get(39) == "2", 10)
        finally:
            client.stop()
        [at_venue] = [o for o in sim.control.orders("FIXGW") if o["order_id"] == order.order_id]
        assert (at_venue["status"], at_venue["cum_qty"]) == ("2", QTY), at_venue
        [venue_fill] = sim.control.fills("FIXGW")
        assert (venue_fill["last_qty"], Decimal(venue_fill["last_px"])) == (QTY, price)
        assert rows(ledger, "SELECT * FROM fills") == []

        # day 2: logon with a sequence reset; the status reply says Filled
        with running_gateway(day_two) as gateway:
            wait_until(
                lambda: (o := oms_of(gateway).order(cl_ord_id)) is not None and o.is_final,
                15,
                "the order to end",
            )
            assert oms_of(gateway).counters["inferred_fills"] == 1

        [row] = rows(ledger, "SELECT * FROM orders WHERE order_key = ?", order.order_key)
        assert (row["status"], row["cum_qty"], row["leaves_qty"]) == ("2", QTY, 0)
        # the fill report itself never came: the queued one went with the sequence reset
        reports = rows(ledger, "SELECT * FROM execution_reports WHERE order_key = ?", order.order_key)
        assert [r["exec_type"] for r in reports if r["exec_type"] == "F"] == []
        [fill] = rows(ledger, "SELECT * FROM fills WHERE order_key = ?", order.order_key)
        assert fill["inferred"] == 1 and not fill["busted"] and fill["superseded_by"] is None
        assert (fill["last_qty"], Decimal(fill["last_px"])) == (QTY, price)
        assert fill["exec_id"] == f"inferred-{fill['evidence_report_id']}"
        [evidence] = [r for r in reports if r["id"] == fill["evidence_report_id"]]
        assert (evidence["exec_type"], evidence["ord_status"], evidence["cum_qty"]) == ("I", "2", QTY)
        anomalies = rows(
            ledger, "SELECT * FROM anomalies WHERE order_key = ? AND kind = 'inferred_fill'", order.order_key
        )
        assert len(anomalies) == 1, [dict(a) for a in anomalies]

        ours, theirs = ledger_positions(ledger), venue_positions(sim.control)
        assert ours.keys() == theirs.keys() == {SYMBOL}, (ours, theirs)
        assert ours[SYMBOL][0] == theirs[SYMBOL][0] == QTY, (ours, theirs)
        assert abs(ours[SYMBOL][1] - theirs[SYMBOL][1]) < Decimal("1E-6"), (ours, theirs)
    finally:
        sim.stop()
