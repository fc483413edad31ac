"""Every simulator fault, with the gateway trading through it; the ledger must still equal the
venue ExecID by ExecID, and nothing may be counted twice."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from gateway.domain.fix_values import OrdStatus
from tests.integration.gateway.harness import assert_ledger_matches_venue, wait_until
from tests.integration.gateway.test_lifecycles import far_below, final, status_is, submit, touch

D = Decimal
S = OrdStatus


LOTS = {"ACME": 1, "BOLT": 10, "CRUX": 100}


def fill_some(gateway, sim, count=3, symbol="ACME"):
    """`count` market orders of one lot, alternating buy and sell: each fills at once."""
    orders = []
    for index in range(count):
        touch(sim, symbol)
        side = "1" if index % 2 == 0 else "2"
        orders.append(final(gateway, submit(gateway, symbol, side, LOTS[symbol], ord_type="1")))
    return orders


def test_duplicate_reports_are_stored_once(gateway, sim):
    duplicates_before = gateway.oms.counters["duplicates"]
    sim.control.set_fault("duplicate_exec_reports", 1)

    orders = fill_some(gateway, sim)

    wait_until(lambda: gateway.oms.counters["duplicates"] >= duplicates_before + 3, 5, "PossDup copies")
    assert all(o.status is S.FILLED for o in orders)
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_sequence_gap_is_filled_by_resend_and_nothing_is_lost(gateway, sim):
    sim.control.set_fault("sequence_gap", 2)

    orders = fill_some(gateway, sim, 4)

    assert all(o.is_final for o in orders)
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_disconnect_in_the_middle_of_an_order_recovers_its_reports(gateway, sim):
    bids, _ = touch(sim)
    cl = submit(gateway, "ACME", "1", 2, far_below(bids))
    status_is(gateway, cl, S.NEW)
    sim.control.set_fault("ack_delay_ms", 300)
    sim.control.set_fault("disconnect_after_n", 1)

    assert gateway.oms.cancel(cl).accepted  # the venue drops the line while handling this
    state = gateway.application._sessions["FIX.4.4:FIXGW->FIXSIM"]
    wait_until(
        lambda: state.logons >= 2 and gateway.application.session_ready(state.session_id.toString()),
        15,
        "reconnect and logon",
    )
    order = final(gateway, cl, timeout_s=15)

    assert order.status is S.CANCELED
    sim.control.clear_faults()
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_rejects_every_nth_order_and_keeps_trading(gateway, sim):
    sim.control.set_fault("reject_every_nth", 2)

    orders = fill_some(gateway, sim, 4)

    statuses = [o.status for o in orders]
    assert statuses.count(S.REJECTED) == 2 and statuses.count(S.FILLED) == 2
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_unknown_tags_on_reports_are_tolerated(gateway, sim):
    sim.control.set_fault("unknown_tag", 1)
    quarantined = gateway.application.counters["quarantined"]

    orders = fill_some(gateway, sim, 2)

    assert all(o.status is S.FILLED for o in orders)
    assert gateway.application.counters["quarantined"] == quarantined
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)


def test_unsolicited_cancel_fault_ends_resting_orders(gateway, sim):
    bids, _ = touch(sim)
    cl = submit(gateway, "ACME", "1", 1, far_below(bids))
    status_is(gateway, cl, S.NEW)

    sim.control.set_fault("unsolicited_cancel", 1)
    # the venue acts on its next event: give it one
    fill_some(gateway, sim, 1, "BOLT")
    order = final(gateway, cl)

    assert order.status is S.CANCELED


def test_bust_and_correct_next_fill_faults_adjust_positions(gateway, sim):
    sim.control.set_fault("bust_next_fill", 1)
    fill_some(gateway, sim, 1)
    sim.control.set_fault("correct_next_fill", 1)
    fill_some(gateway, sim, 1)

    wait_until(
        lambda: gateway.oms.counters["busts"] >= 1 and gateway.oms.counters["corrections"] >= 1, 5, "H and G"
    )
    assert_ledger_matches_venue(gateway.ledger.path, sim.control)
    with sqlite3.connect(gateway.ledger.path) as db:
        assert db.execute("SELECT count(*) FROM fills WHERE busted=1").fetchone()[0] >= 1
        assert db.execute("SELECT count(*) FROM fills WHERE corrected_by IS NOT NULL").fetchone()[0] >= 1


def test_zz_no_report_misfit_and_nothing_quarantined(gateway, sim):
    # last in the module, after every fault; run alone it trades first, so it never passes on an
    # empty ledger
    fill_some(gateway, sim, 2)
    with sqlite3.connect(gateway.ledger.path) as db:
        assert db.execute("SELECT count(*) FROM fills").fetchone()[0] >= 2
        misfits = db.execute("SELECT reason FROM anomalies WHERE kind='state_table_misfit'").fetchall()
        quarantined = db.execute("SELECT reason FROM quarantine").fetchall()
    assert misfits == [] and quarantined == []
