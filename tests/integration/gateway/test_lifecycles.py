"""Order lifecycles of the FIX 4.4 order state change matrices, against the real simulator over
loopback, each ending with the ledger checked against the venue ExecID by ExecID."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from functools import partial

from gateway.domain.fix_values import OrdStatus
from tests.integration.gateway.harness import assert_ledger_matches_venue, wait_until

D = Decimal
S = OrdStatus


def touch(sim, symbol="ACME"):
    book = wait_until(
        lambda: (b := sim.control.book(symbol, 5))["bids"] and b["asks"] and b, 10, "a two-sided book"
    )
    return book["bids"], book["asks"]


def _answered(gateway, cl_ord_id):
    """The order once nothing is pending on it (for wait_until), else None."""
    order = gateway.oms.order(cl_ord_id)
    return order if order is not None and not order.pending else None


def final(gateway, cl_ord_id, timeout_s=10.0):
    return wait_until(
        lambda: (o := gateway.oms.order(cl_ord_id)) is not None and o.is_final and o,
        timeout_s,
        f"{cl_ord_id} final",
    )


def status_is(gateway, cl_ord_id, *statuses, timeout_s=10.0):
    return wait_until(
        lambda: (
            (o := gateway.oms.order(cl_ord_id)) is not None and o.status in statuses and not o.pending and o
        ),
        timeout_s,
        f"{cl_ord_id} in {statuses}",
    )


def submit(gateway, symbol, side, qty, price=None, tif="0", ord_type="2"):
    result = gateway.oms.submit(symbol=symbol, side=side, qty=qty, ord_type=ord_type, price=price, tif=tif)
    assert result.accepted, result.reason
    return result.cl_ord_id


def far_below(bids, ticks=20, tick="0.01"):
    return D(bids[-1][0]) - ticks * D(tick)


def test_a_1_a_marketable_limit_order_is_filled_and_booked(gateway, sim):
    _, asks = touch(sim)
    qty = min(int(asks[0][1]), 5)

    order = final(gateway, submit(gateway, "ACME", "1", qty, D(asks[0][0]) + D("0.10")))

    assert order.status is S.FILLED and order.cum_qty == qty
    assert assert_ledger_matches_venue(gateway.ledger.path, sim.control) >= 1


def test_market_order_is_filled(gateway, sim):
    touch(sim, "BOLT")

    order = final(gateway, submit(gateway, "BOLT", "2", 10, ord_type="1"))

    assert order.status is S.FILLED and order.cum_qty == 10
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_partial_fill_then_cancel_leaves_position_at_filled_qty(gateway, sim):
    # The rest of the order rests at the price it took, now the best bid: background sellers may
    # fill it before the cancel arrives. Try a few times; the cancelled path must happen once.
    outcomes = []
    for _ in range(5):
        _, asks = touch(sim)
        before = gateway.oms.position("ACME").qty
        cl = submit(gateway, "ACME", "1", int(asks[0][1]) + 500, D(asks[0][0]))  # takes the level
        status_is(gateway, cl, S.PARTIALLY_FILLED, S.FILLED)
        gateway.oms.cancel(cl)
        order = final(gateway, cl)
        outcomes.append(order.status)
        assert gateway.oms.position("ACME").qty == before + order.cum_qty
        if order.status is S.CANCELED:
            assert 1 <= order.cum_qty < order.order_qty
            break

    assert S.CANCELED in outcomes, outcomes
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_c_1_resting_order_is_replaced_then_cancelled(gateway, sim):
    bids, _ = touch(sim)
    cl = submit(gateway, "ACME", "1", 3, far_below(bids))
    status_is(gateway, cl, S.NEW)

    replaced = gateway.oms.replace(cl, qty=4, price=far_below(bids, 25))
    assert replaced.accepted
    order = status_is(gateway, cl, S.NEW)
    assert (
        order.cl_ord_id == replaced.cl_ord_id and order.order_qty == 4 and order.price == far_below(bids, 25)
    )
    assert gateway.oms.cancel(order.cl_ord_id).accepted

    order = final(gateway, cl)

    assert order.status is S.CANCELED and order.cum_qty == 0
    venue = {o["order_id"]: o for o in sim.control.orders("FIXGW")}
    assert venue[order.order_id]["cum_qty"] == 0 and venue[order.order_id]["leaves_qty"] == 0
    assert venue[order.order_id]["order_qty"] == 4


def test_c_1_b_replace_of_a_partially_filled_order_keeps_its_fills(gateway, sim):
    # As above, background sellers may fill the rest before the replace lands (the venue then
    # answers OrderCancelReject(35=9)): try a few times; the replaced path must happen once.
    replaced_once = False
    for _ in range(5):
        _, asks = touch(sim)
        cl = submit(gateway, "ACME", "1", int(asks[0][1]) + 500, D(asks[0][0]))  # takes the level
        order = status_is(gateway, cl, S.PARTIALLY_FILLED, S.FILLED)
        if order.status is S.FILLED:
            continue
        filled, order_qty = order.cum_qty, order.order_qty

        replaced = gateway.oms.replace(cl, qty=order_qty + 5)
        order = wait_until(partial(_answered, gateway, cl), 10, "replace answered")

        if order.cl_ord_id == replaced.cl_ord_id:
            assert order.order_qty == order_qty + 5 and order.cum_qty >= filled
            replaced_once = True
        if not order.is_final:
            gateway.oms.cancel(order.cl_ord_id)
        final(gateway, cl)
        if replaced_once:
            break

    assert replaced_once
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_a_1_b_rejected_order(gateway, sim):
    sim.control.set_fault("reject_every_nth", 1)
    bids, _ = touch(sim)

    order = final(gateway, submit(gateway, "ACME", "1", 1, far_below(bids)))

    assert order.status is S.REJECTED and order.last_text


def test_ioc_remainder_is_not_left_working(gateway, sim):
    bids, _ = touch(sim)

    order = final(gateway, submit(gateway, "ACME", "1", 5, far_below(bids), tif="3"))

    assert order.status in (S.CANCELED, S.EXPIRED) and order.cum_qty == 0


def test_cancel_of_a_filled_order_is_rejected_with_order_cancel_reject(gateway, sim):
    touch(sim)
    rejects_before = gateway.oms.counters["cancel_rejects"]
    # the venue holds each request 150 ms, so the cancel reaches it after the order has filled
    sim.control.set_fault("ack_delay_ms", 150)
    cl = submit(gateway, "ACME", "2", 1, ord_type="1")
    cancel = gateway.oms.cancel(cl)
    assert cancel.accepted

    order = final(gateway, cl)
    wait_until(lambda: gateway.oms.counters["cancel_rejects"] > rejects_before, 5, "OrderCancelReject(35=9)")

    def committed() -> tuple[object, list[object]]:
        # the counter moves before the reject's transaction commits: read until it has
        with sqlite3.connect(gateway.ledger.path) as db:
            state = db.execute(
                "SELECT state FROM order_requests WHERE cl_ord_id=?", (cancel.cl_ord_id,)
            ).fetchone()
            rejects = db.execute(
                "SELECT response_to FROM cancel_rejects WHERE cl_ord_id=?", (cancel.cl_ord_id,)
            ).fetchall()
        return state, rejects

    assert order.status is S.FILLED
    wait_until(lambda: committed()[1], 5, "the OrderCancelReject(35=9) committed")
    state, rejects = committed()
    assert state == ("rejected",) and rejects == [("1",)]
    assert gateway.oms.order(cl).pending == ""
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_status_request_is_answered_and_fits_the_table(gateway, sim):
    bids, _ = touch(sim)
    cl = submit(gateway, "ACME", "1", 2, far_below(bids))
    status_is(gateway, cl, S.NEW)
    misfits = gateway.oms.counters["misfits"]

    assert gateway.oms.request_status(cl)
    wait_until(lambda: _exec_types(gateway, cl) >= {"0", "I"}, 5, "ExecType=I")

    assert gateway.oms.counters["misfits"] == misfits
    gateway.oms.cancel(cl)
    final(gateway, cl)


def test_e_1_unsolicited_cancel_by_the_venue_ends_the_order(gateway, sim):
    bids, _ = touch(sim)
    cl = submit(gateway, "ACME", "1", 2, far_below(bids))
    order = status_is(gateway, cl, S.NEW)

    assert sim.control.cancel_order(order.order_id)
    order = final(gateway, cl)

    assert order.status is S.CANCELED
    assert gateway.oms.counters["unsolicited_cancels"] >= 1


def test_day_order_expires_at_end_of_day(gateway, sim):
    bids, _ = touch(sim)
    cl = submit(gateway, "ACME", "1", 2, far_below(bids))
    status_is(gateway, cl, S.NEW)

    sim.control.end_of_day()
    order = final(gateway, cl)

    assert order.status in (S.EXPIRED, S.DONE_FOR_DAY, S.CANCELED)


def test_d_bust_and_correction_adjust_fills_and_positions(gateway, sim):
    _, asks = touch(sim)
    first = final(gateway, submit(gateway, "ACME", "1", 1, D(asks[0][0]) + D("0.10")))
    _, asks = touch(sim)
    second = final(gateway, submit(gateway, "ACME", "1", 1, D(asks[0][0]) + D("0.10")))
    fills = {f["cl_ord_id"]: f for f in sim.control.fills("FIXGW")}
    busted, corrected = fills[first.cl_ord_id]["exec_id"], fills[second.cl_ord_id]["exec_id"]

    sim.control.bust(busted)
    sim.control.correct(corrected, last_px=str(D(fills[second.cl_ord_id]["last_px"]) + D("0.05")))

    wait_until(
        lambda: gateway.oms.counters["busts"] >= 1 and gateway.oms.counters["corrections"] >= 1, 5, "H and G"
    )
    with sqlite3.connect(gateway.ledger.path) as db:
        assert db.execute("SELECT busted FROM fills WHERE exec_id=?", (busted,)).fetchone() == (1,)
        px = db.execute("SELECT last_px FROM fills WHERE exec_id=?", (corrected,)).fetchone()[0]
    assert D(px) == D(fills[second.cl_ord_id]["last_px"]) + D("0.05")
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def _exec_types(gateway, cl_ord_id):
    with sqlite3.connect(gateway.ledger.path) as db:
        rows = db.execute(
            "SELECT exec_type FROM execution_reports WHERE order_key=?", (cl_ord_id,)
        ).fetchall()
    return {r[0] for r in rows}


def test_zz_every_report_of_the_module_fit_the_order_state_table(gateway, sim):
    # runs last in the module: the simulator's reports for all the lifecycles above
    with sqlite3.connect(gateway.ledger.path) as db:
        misfits = db.execute("SELECT reason FROM anomalies WHERE kind='state_table_misfit'").fetchall()
        reports = db.execute("SELECT count(*) FROM execution_reports").fetchone()[0]
    assert reports >= 20
    assert misfits == []
