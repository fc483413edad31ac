"""Order manager with a recording sender and a real SQLite ledger (no FIX engine)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.config import LimitsSection
from gateway.domain.errors import MessageError
from gateway.domain.events import CancelRejected
from gateway.domain.fix_values import ExecType, OrdStatus, Side
from gateway.oms.order_manager import OrderManager, Route
from tests.unit.gateway.factories import (
    SESSION,
    RecordingObserver,
    RecordingSender,
    make_oms,
    present,
    report,
)

D = Decimal
E, S = ExecType, OrdStatus


def submit_buy(oms, qty=10, price="100.00", symbol="ACME"):
    result = oms.submit(symbol=symbol, side="1", qty=qty, ord_type="2", price=D(price))
    assert result.accepted, result.reason
    return result.cl_ord_id


def test_order_is_in_the_ledger_before_it_is_handed_to_the_engine(tmp_path):
    seen_in_ledger: list[bool] = []

    class LedgerCheckingSender(RecordingSender):
        def send(self, session, command):
            seen_in_ledger.append(ledger.order(command.cl_ord_id) is not None)
            return super().send(session, command)

    oms, ledger, sender = make_oms(tmp_path, sender=LedgerCheckingSender())

    submit_buy(oms)

    assert seen_in_ledger == [True]
    fields = sender.of_type("D")[0]
    assert fields[55] == "ACME" and fields[54] == "1" and fields[38] == "10" and fields[44] == "100"
    assert fields[40] == "2" and fields[59] == "0" and 60 in fields


def test_cl_ord_ids_are_unique_across_restarts(tmp_path):
    oms_a, ledger, _ = make_oms(tmp_path)
    first = {submit_buy(oms_a) for _ in range(3)}
    oms_b, _, _ = make_oms(tmp_path, ledger=ledger)
    second = {submit_buy(oms_b) for _ in range(3)}

    assert len(first | second) == 6


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"symbol": "NOPE"}, "not routed"),
        ({"qty": 0}, "positive"),
        ({"qty": 20_000}, "max_order_qty"),
        ({"price": None}, "positive price"),
        ({"side": "X"}, "invalid order field"),
    ],
)
def test_invalid_orders_are_refused_with_a_reason_and_nothing_is_sent(tmp_path, kwargs, reason):
    oms, ledger, sender = make_oms(tmp_path)
    order = {"symbol": "ACME", "side": "1", "qty": 1, "ord_type": "2", "price": D("1")} | kwargs

    result = oms.submit(**order)

    assert not result.accepted and reason in result.reason
    assert sender.sent == [] and ledger.count("orders") == 0


def test_position_limit_counts_working_orders(tmp_path):
    oms, _, _ = make_oms(tmp_path, limits=LimitsSection(max_position_qty=15))
    submit_buy(oms, qty=10)

    result = oms.submit(symbol="ACME", side="1", qty=10, ord_type="2", price=D("100"))

    assert not result.accepted and "max_position_qty" in result.reason


def test_session_down_refuses_orders(tmp_path):
    oms, _, _ = make_oms(tmp_path, sender=RecordingSender(ready=False))

    assert "not logged on" in oms.submit(symbol="ACME", side="1", qty=1, ord_type="1").reason


def test_a_1_a_new_partial_fill_updates_order_fills_and_position(tmp_path):
    observer = RecordingObserver()
    oms, ledger, _ = make_oms(tmp_path, observer=observer)
    cl = submit_buy(oms)

    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    oms.on_execution_report(
        report(cl, E.TRADE, S.PARTIALLY_FILLED, last_qty=4, last_px="99.50", cum_qty=4, leaves_qty=6)
    )
    outcome = oms.on_execution_report(
        report(cl, E.TRADE, S.FILLED, last_qty=6, last_px="100.00", cum_qty=10, leaves_qty=0)
    )

    assert present(outcome.order).status is S.FILLED and present(outcome.order).cum_qty == 10
    assert ledger.count("fills") == 2
    position = oms.position("ACME")
    assert position.qty == 10 and position.avg_cost == D("99.8")
    assert ledger.positions()["ACME"].qty == 10
    assert [o.order_key for o in observer.finished] == [cl]
    assert oms.working_orders("ACME") == []


def test_a_resent_fill_changes_nothing(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    fill = report(
        cl, E.TRADE, S.PARTIALLY_FILLED, exec_id="X1", last_qty=4, last_px="100", cum_qty=4, leaves_qty=6
    )
    oms.on_execution_report(fill)

    outcome = oms.on_execution_report(
        report(
            cl,
            E.TRADE,
            S.PARTIALLY_FILLED,
            exec_id="X1",
            last_qty=4,
            last_px="100",
            cum_qty=4,
            leaves_qty=6,
            poss_dup=True,
        )
    )

    assert outcome.duplicate
    assert (
        oms.position("ACME").qty == 4
        and ledger.count("fills") == 1
        and ledger.count("execution_reports") == 1
    )


def test_late_new_after_a_fill_does_not_reopen_the_order(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(report(cl, E.TRADE, S.FILLED, last_qty=10, last_px="100", cum_qty=10))

    outcome = oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))

    assert present(outcome.transition).late and present(outcome.order).status is S.FILLED
    assert ledger.count("anomalies") == 0


def test_a_report_that_does_not_fit_the_table_is_recorded_with_its_reason(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(report(cl, E.REJECTED, S.REJECTED))

    outcome = oms.on_execution_report(report(cl, E.TRADE, S.FILLED, last_qty=10, last_px="100", cum_qty=10))

    assert not present(outcome.transition).fits
    assert present(outcome.order).status is S.REJECTED
    row = ledger._db.execute("SELECT kind, reason FROM anomalies").fetchone()
    assert row[0] == "state_table_misfit" and "REJECTED" in row[1]
    assert oms.position("ACME").qty == 10  # the venue says we traded: the fill counts


def test_cancel_sends_f_and_the_canceled_report_ends_the_order(tmp_path):
    oms, ledger, sender = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))

    result = oms.cancel(cl)
    cancel = sender.of_type("F")[0]
    assert cancel[41] == cl and cancel[11] == result.cl_ord_id
    assert oms.working_orders("ACME")[0].pending == "cancel"
    assert not oms.cancel(cl).accepted  # one cancel at a time

    outcome = oms.on_execution_report(report(result.cl_ord_id, E.CANCELED, S.CANCELED, orig_cl_ord_id=cl))

    assert present(outcome.order).status is S.CANCELED and present(outcome.order).leaves_qty == 0
    state = ledger._db.execute(
        "SELECT state FROM order_requests WHERE cl_ord_id=?", (result.cl_ord_id,)
    ).fetchone()
    assert state == ("accepted",)


def test_cancel_reject_leaves_the_order_working(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    request = present(oms.cancel(cl).cl_ord_id)

    order = present(
        oms.on_cancel_reject(
            CancelRejected(
                session=SESSION,
                cl_ord_id=request,
                orig_cl_ord_id=cl,
                order_id="O1",
                ord_status=S.NEW,
                response_to="1",
                reason="1",
                text="too late",
                recv_ns=1,
                seq_num=9,
                raw="35=9",
            )
        )
    )

    assert order.status is S.NEW and order.pending == ""
    assert ledger.count("cancel_rejects") == 1
    assert oms.working_orders("ACME")[0].pending == ""


def test_replace_renames_the_order_and_takes_the_new_quantity_and_price(tmp_path):
    oms, _, sender = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))

    result = oms.replace(cl, qty=12, price=D("100.05"))
    g = sender.of_type("G")[0]
    assert g[41] == cl and g[38] == "12" and g[44] == "100.05"
    outcome = oms.on_execution_report(
        report(
            present(result.cl_ord_id),
            E.REPLACED,
            S.NEW,
            orig_cl_ord_id=cl,
            leaves_qty=12,
            order_qty=12,
            price="100.05",
        )
    )

    assert present(outcome.order).cl_ord_id == result.cl_ord_id and present(outcome.order).order_key == cl
    assert present(outcome.order).order_qty == 12 and present(outcome.order).price == D("100.05")
    assert oms.working_orders("ACME")[0].cl_ord_id == result.cl_ord_id


def test_unsolicited_cancel_ends_the_order(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))

    outcome = oms.on_execution_report(report(cl, E.CANCELED, S.CANCELED))

    assert present(outcome.order).status is S.CANCELED and oms.counters["unsolicited_cancels"] == 1


def test_bust_removes_the_fill_from_the_position(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(
        report(
            cl, E.TRADE, S.PARTIALLY_FILLED, exec_id="F1", last_qty=4, last_px="100", cum_qty=4, leaves_qty=6
        )
    )
    oms.on_execution_report(
        report(cl, E.TRADE, S.FILLED, exec_id="F2", last_qty=6, last_px="101", cum_qty=10)
    )

    oms.on_execution_report(
        report(cl, E.TRADE_CANCEL, S.PARTIALLY_FILLED, exec_ref_id="F1", cum_qty=6, leaves_qty=4)
    )

    assert oms.position("ACME").qty == 6 and oms.position("ACME").avg_cost == D("101")
    assert present(ledger.fill(SESSION, "F1")).busted
    assert ledger.positions()["ACME"].qty == 6


def test_correction_changes_quantity_and_price_of_the_fill(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    oms.on_execution_report(
        report(
            cl, E.TRADE, S.PARTIALLY_FILLED, exec_id="F1", last_qty=4, last_px="100", cum_qty=4, leaves_qty=6
        )
    )

    oms.on_execution_report(
        report(
            cl,
            E.TRADE_CORRECT,
            S.PARTIALLY_FILLED,
            exec_ref_id="F1",
            last_qty=3,
            last_px="99",
            cum_qty=3,
            leaves_qty=7,
        )
    )

    assert oms.position("ACME").qty == 3 and oms.position("ACME").avg_cost == D("99")
    corrected = present(ledger.fill(SESSION, "F1"))
    assert corrected.last_qty == 3 and corrected.last_px == D("99")


def test_bust_of_an_unknown_fill_is_an_anomaly_not_a_crash(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)

    oms.on_execution_report(report(cl, E.TRADE_CANCEL, S.NEW, exec_ref_id="NOPE", leaves_qty=10))

    kinds = {row[0] for row in ledger._db.execute("SELECT kind FROM anomalies")}
    assert "bust_or_correction_of_unknown_fill" in kinds


def test_report_for_an_unknown_order_raises_message_error(tmp_path):
    oms, _, _ = make_oms(tmp_path)

    with pytest.raises(MessageError, match="unknown ClOrdID"):
        oms.on_execution_report(report("ghost", E.NEW, S.NEW))


def test_logon_asks_the_status_of_live_orders_restored_from_the_ledger(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit_buy(oms)
    sender = RecordingSender()
    restarted = OrderManager(
        ledger=ledger,
        sender=sender,
        routes={"ACME": Route(venue="SIM", session=SESSION)},
        limits=LimitsSection(),
        run_id=ledger.start_run(started_ns=2, config_path=None),
    )

    assert restarted.on_session_logon(SESSION) == 1
    assert sender.of_type("H")[0][11] == cl
    # the restored order still takes its reports
    restarted.on_execution_report(report(cl, E.ORDER_STATUS, S.NEW, leaves_qty=10))
    assert restarted.working_orders("ACME")[0].cl_ord_id == cl


def test_business_reject_of_a_new_order_rejects_it(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = submit_buy(oms)

    oms.on_business_reject("D", cl, "unknown symbol", SESSION)

    assert present(oms.order(cl)).status is S.REJECTED and oms.working_orders("ACME") == []


def test_sell_fill_reduces_a_long_position_and_realizes_pnl(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    buy = submit_buy(oms, qty=10, price="100")
    oms.on_execution_report(report(buy, E.TRADE, S.FILLED, last_qty=10, last_px="100", cum_qty=10))
    sell = present(oms.submit(symbol="ACME", side="2", qty=4, ord_type="2", price=D("101")).cl_ord_id)

    oms.on_execution_report(
        report(sell, E.TRADE, S.FILLED, side=Side.SELL, last_qty=4, last_px="101", cum_qty=4)
    )

    assert oms.position("ACME").qty == 6 and oms.position("ACME").realized_pnl == D("4")
