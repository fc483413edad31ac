"""A fill made while the gateway was away, whose ExecutionReport never arrives, is booked at the
next logon from the status reply (an inferred fill), against the real simulator over loopback.

Day 1: the gateway rests a buy at the venue and stops (Logout). While it is away another client
(CLIENT1) sells into it: the venue fills the order and queues the fill report for FIXGW. Day 2:
the gateway logs on with ResetSeqNumFlag(141=Y) (ResetOnLogon=Y, a daily sequence reset), so
both sides start again at 1 and the queued report is never resent. The OrderStatusRequest(35=H)
the gateway sends at logon for its live order is answered Filled with CumQty(14) the ledger has
no fill for: the order manager books the difference as an inferred fill, and the position
equals the venue's. (Without the reset the venue resends the report before it answers the
status request, and nothing is inferred.)

The market is paused throughout (no background trading, no requotes), and the resting buy is
inside the spread: alone at the best bid, so CLIENT1's immediate-or-cancel sell at its price can
trade against nothing else.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.domain.fix_values import OrdStatus
from gateway.domain.orders import Order
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
from tests.support.sim_process import SimulatorProcess, start_simulator

SYMBOL = "ACME"
TICK = Decimal("0.01")  # ACME's tick; its lot is 1


def sessions_cfg_with_reset(directory: Path) -> Path:
    """gateway-sim.cfg, but every logon resets the sequence numbers (ResetSeqNumFlag=Y)."""
    text = SIM_SESSIONS_CFG.read_text(encoding="utf-8")
    assert "ResetOnLogon=N" in text
    path = directory / "gateway-sim-reset.cfg"
    path.write_text(text.replace("ResetOnLogon=N", "ResetOnLogon=Y"), encoding="utf-8")
    return path


def day_configs(directory: Path, port: int) -> tuple[GatewayConfig, GatewayConfig]:
    """Day 1: the usual gateway. Day 2: the same gateway (state dir, ledger, QuickFIX store),
    logging on with a sequence reset."""
    day_one = write_gateway_toml(directory, port, name="day1.toml")
    day_two = write_gateway_toml(directory, port, name="day2.toml")
    text = day_two.read_text(encoding="utf-8")
    old = f'sessions_cfg = "{SIM_SESSIONS_CFG}"'
    assert old in text
    new = f'sessions_cfg = "{sessions_cfg_with_reset(directory)}"'
    day_two.write_text(text.replace(old, new), encoding="utf-8")
    configs = load(day_one, port), load(day_two, port)
    assert configs[0].ledger.path == configs[1].ledger.path
    return configs


@contextlib.contextmanager
def venue_with_client(tmp_path: Path) -> Iterator[tuple[SimulatorProcess, FixTestClient]]:
    """The simulator, its market paused on a two-sided ACME book, and CLIENT1 logged on."""
    sim = start_simulator(tmp_path, md_interval_ms=50)
    try:
        wait_until(lambda: (b := sim.control.book(SYMBOL, 1))["bids"] and b["asks"], 10, "a two-sided book")
        sim.control.pause_market()
        client = FixTestClient.start_new(tmp_path / "client1", sim.port, sender="CLIENT1")
        try:
            yield sim, client
        finally:
            client.stop()
    finally:
        sim.stop()


def touch(sim: SimulatorProcess) -> tuple[Decimal, Decimal, int]:
    """(best bid, best ask, quantity at the best bid)."""
    book = sim.control.book(SYMBOL, 1)
    return Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0]), int(book["bids"][0][1])


def sell(client: FixTestClient, qty: int, price: Decimal) -> None:
    """CLIENT1 sells `qty` at `price`, immediate-or-cancel, and the whole of it trades."""
    cl_ord_id = unique_id("sell")
    client.send(new_order_single(cl_ord_id, SYMBOL, "2", qty, price=str(price), tif="3"))
    report = client.wait_for(
        lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m.get(39) in ("2", "4", "8"), 10
    )
    assert (report.get(39), report.get(14)) == ("2", str(qty)), report.raw


def settled(gateway: Gateway, cl_ord_id: str, status: OrdStatus) -> Order | None:
    """The order once at `status` with nothing in flight (for wait_until)."""
    order = oms_of(gateway).order(cl_ord_id)
    return order if order is not None and order.status is status and not order.pending else None


def logged_out(sim: SimulatorProcess) -> None:
    wait_until(lambda: "FIX.4.4:FIXSIM->FIXGW" not in sim.control.sessions(), 10, "the gateway's logout")


def day_two(config: GatewayConfig, cl_ord_id: str) -> None:
    """Log on with a sequence reset and wait until the status reply has ended the order."""
    with running_gateway(config) as gateway:
        wait_until(
            lambda: (o := oms_of(gateway).order(cl_ord_id)) is not None and o.is_final, 15, "the order to end"
        )
        assert oms_of(gateway).counters["inferred_fills"] == 1


def rows(ledger: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    with contextlib.closing(sqlite3.connect(ledger)) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()


def check_inferred(ledger: Path, order_key: str, *, qty: int, cum_qty: int, reported: int) -> sqlite3.Row:
    """The order is Filled; its one inferred fill (returned) has quantity `qty` and the status
    reply as its evidence, with an inferred_fill anomaly; `reported` fill reports came for it."""
    [order] = rows(ledger, "SELECT * FROM orders WHERE order_key = ?", order_key)
    assert (order["status"], order["cum_qty"], order["leaves_qty"]) == ("2", cum_qty, 0)
    reports = rows(ledger, "SELECT * FROM execution_reports WHERE order_key = ?", order_key)
    [inferred] = rows(ledger, "SELECT * FROM fills WHERE order_key = ? AND inferred = 1", order_key)
    assert inferred["last_qty"] == qty and not inferred["busted"] and inferred["superseded_by"] is None
    assert inferred["exec_id"] == f"inferred-{inferred['evidence_report_id']}"
    [evidence] = [r for r in reports if r["id"] == inferred["evidence_report_id"]]
    assert (evidence["exec_type"], evidence["ord_status"], evidence["cum_qty"]) == ("I", "2", cum_qty)
    real_fills = rows(ledger, "SELECT exec_id FROM fills WHERE order_key = ? AND inferred = 0", order_key)
    assert len([r for r in reports if r["exec_type"] == "F"]) == len(real_fills) == reported
    anomalies = rows(
        ledger, "SELECT * FROM anomalies WHERE order_key = ? AND kind = 'inferred_fill'", order_key
    )
    assert len(anomalies) == 1, [dict(a) for a in anomalies]
    return inferred


def check_position(ledger: Path, sim: SimulatorProcess, qty: int) -> None:
    ours, theirs = ledger_positions(ledger), venue_positions(sim.control)
    assert ours.keys() == theirs.keys() == {SYMBOL}, (ours, theirs)
    assert ours[SYMBOL][0] == theirs[SYMBOL][0] == qty, (ours, theirs)
    assert abs(ours[SYMBOL][1] - theirs[SYMBOL][1]) < Decimal("1E-6"), (ours, theirs)


def test_a_fill_never_reported_across_a_sequence_reset_is_inferred_from_the_status_reply(tmp_path):
    qty = 7
    with venue_with_client(tmp_path) as (sim, client):
        day_one_config, day_two_config = day_configs(tmp_path / "gw", sim.port)
        ledger = day_one_config.ledger.path
        best_bid, best_ask, _ = touch(sim)
        assert best_ask - best_bid >= 2 * TICK, (best_bid, best_ask)  # the maker quotes fair +- 1 tick
        price = best_bid + TICK

        # day 1: a buy rests at the venue, alone at the best bid; then the gateway stops
        with running_gateway(day_one_config) as gateway:
            result = oms_of(gateway).submit(symbol=SYMBOL, side="1", qty=qty, ord_type="2", price=price)
            assert result.accepted and result.cl_ord_id, result.reason
            cl_ord_id = result.cl_ord_id
            order = wait_until(lambda: settled(gateway, cl_ord_id, OrdStatus.NEW), 10, "the buy to rest")
        assert touch(sim)[0::2] == (price, qty)
        logged_out(sim)

        # while it is away CLIENT1 sells into the buy: filled at the venue; the report to FIXGW
        # waits in the venue's outgoing message store
        sell(client, qty, price)
        [at_venue] = [o for o in sim.control.orders("FIXGW") if o["order_id"] == order.order_id]
        assert (at_venue["status"], at_venue["cum_qty"]) == ("2", qty), at_venue
        [venue_fill] = sim.control.fills("FIXGW")
        assert (venue_fill["last_qty"], Decimal(venue_fill["last_px"])) == (qty, price)
        assert rows(ledger, "SELECT * FROM fills") == []

        # day 2: logon with a sequence reset; the status reply says Filled
        day_two(day_two_config, cl_ord_id)

        inferred = check_inferred(ledger, order.order_key, qty=qty, cum_qty=qty, reported=0)
        assert Decimal(inferred["last_px"]) == price
        check_position(ledger, sim, qty)


def test_the_inferred_part_of_a_partly_reported_order_is_priced_from_avg_px(tmp_path):
    # fills of 3 at p1 (reported) and 4 at p2 (lost): the inferred 4 are priced so that the
    # order's average is the venue's AvgPx(6)
    first, second = 3, 4
    with venue_with_client(tmp_path) as (sim, client):
        day_one_config, day_two_config = day_configs(tmp_path / "gw", sim.port)
        ledger = day_one_config.ledger.path
        # CLIENT1 takes the whole best bid level: two empty price levels below the best ask
        best_bid, _, level_qty = touch(sim)
        sell(client, level_qty, best_bid)
        low, best_ask, _ = touch(sim)
        assert low < best_bid and best_ask - best_bid >= 2 * TICK, (low, best_bid, best_ask)
        p1, p2 = best_bid, best_bid + TICK

        with running_gateway(day_one_config) as gateway:
            result = oms_of(gateway).submit(
                symbol=SYMBOL, side="1", qty=first + second, ord_type="2", price=p1
            )
            assert result.accepted and result.cl_ord_id, result.reason
            opened = result.cl_ord_id
            order = wait_until(lambda: settled(gateway, opened, OrdStatus.NEW), 10, "the buy to rest")
            sell(client, first, p1)  # reported: the gateway is logged on
            wait_until(
                lambda: settled(gateway, order.cl_ord_id, OrdStatus.PARTIALLY_FILLED), 10, "the first fill"
            )
            replaced = oms_of(gateway).replace(order.cl_ord_id, price=p2)
            assert replaced.accepted and replaced.cl_ord_id, replaced.reason
            cl_ord_id: str = replaced.cl_ord_id
            wait_until(lambda: settled(gateway, cl_ord_id, OrdStatus.PARTIALLY_FILLED), 10, "the replace")
        assert touch(sim)[0::2] == (p2, second)
        logged_out(sim)

        sell(client, second, p2)  # not reported: the gateway is away
        day_two(day_two_config, cl_ord_id)

        inferred = check_inferred(ledger, order.order_key, qty=second, cum_qty=first + second, reported=1)
        # AvgPx(6) has 8 decimals: the price it implies for the inferred part is p2 to within that
        assert abs(Decimal(inferred["last_px"]) - p2) < Decimal("1E-6"), inferred["last_px"]
        check_position(ledger, sim, first + second)
