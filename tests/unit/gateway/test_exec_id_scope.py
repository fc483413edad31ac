"""ExecID(17) is unique only within a trading day, or the life of a multi-day order (FIX 4.4),
and is 0 on every order-status report: fills are keyed by session, order chain, ExecID and
trading day; status reports are never taken for duplicates."""

from __future__ import annotations

from decimal import Decimal

from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from tests.unit.gateway.factories import SESSION, make_oms, present, report


def _buy(oms, qty: int, price: str = "100", tif: str = "0") -> str:
    result = oms.submit(symbol="ACME", side="1", qty=qty, ord_type="2", price=Decimal(price), tif=tif)
    assert result.accepted, result.reason
    return present(result.cl_ord_id)


def test_status_reports_with_exec_id_zero_are_applied_to_every_order(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    first, second = _buy(oms, 1), _buy(oms, 1)

    outcome_first = oms.on_execution_report(report(first, E.ORDER_STATUS, S.NEW, exec_id="0", leaves_qty=1))
    outcome_second = oms.on_execution_report(report(second, E.ORDER_STATUS, S.REJECTED, exec_id="0"))

    assert not outcome_first.duplicate and not outcome_second.duplicate
    assert present(oms.order(first)).status is S.NEW
    assert present(oms.order(second)).status is S.REJECTED


def test_repeated_status_replies_for_one_order_are_each_applied(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = _buy(oms, 5)
    oms.on_execution_report(report(cl, E.ORDER_STATUS, S.NEW, exec_id="0", leaves_qty=5))

    # a later logon's status request: the order has been partly filled meanwhile
    outcome = oms.on_execution_report(
        report(cl, E.ORDER_STATUS, S.PARTIALLY_FILLED, exec_id="0", cum_qty=2, leaves_qty=3, avg_px="100")
    )

    assert not outcome.duplicate
    assert present(oms.order(cl)).status is S.PARTIALLY_FILLED


def test_logon_recovery_settles_an_order_that_was_never_sent(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    known = _buy(oms, 1)
    oms.on_execution_report(report(known, E.ORDER_STATUS, S.NEW, exec_id="0", leaves_qty=1))
    never_sent = _buy(oms, 1)

    # restart; the venue answers the status request: it has never seen the order
    restarted, _, _sender = make_oms(tmp_path, ledger=ledger)
    assert restarted.on_session_logon(SESSION) == 2
    restarted.on_execution_report(report(never_sent, E.ORDER_STATUS, S.REJECTED, exec_id="0"))

    assert present(restarted.order(never_sent)).status is S.REJECTED
    assert [o.cl_ord_id for o in restarted.live_orders()] == [known]


def test_a_fill_whose_exec_id_a_later_trading_day_reuses_is_booked(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    monday = _buy(oms, 5, price="10")
    oms.on_execution_report(
        report(
            monday,
            E.TRADE,
            S.FILLED,
            exec_id="T1",
            last_qty=5,
            last_px="10",
            cum_qty=5,
            trade_date="20261207",
        )
    )
    tuesday_oms, _, _ = make_oms(tmp_path, ledger=ledger)
    tuesday = _buy(tuesday_oms, 7, price="11")

    outcome = tuesday_oms.on_execution_report(
        report(
            tuesday,
            E.TRADE,
            S.FILLED,
            exec_id="T1",
            last_qty=7,
            last_px="11",
            cum_qty=7,
            trade_date="20261208",
        )
    )

    assert not outcome.duplicate and outcome.fill_recorded
    assert tuesday_oms.position("ACME").qty == 12
    assert ledger.count("fills") == 2


def test_the_same_exec_id_on_another_order_of_the_same_day_is_booked(tmp_path):
    # a venue whose ExecIDs restart with its process: the order chain tells the fills apart
    oms, _ledger, _ = make_oms(tmp_path)
    first, second = _buy(oms, 2), _buy(oms, 3)

    oms.on_execution_report(
        report(first, E.TRADE, S.FILLED, exec_id="1", last_qty=2, last_px="100", cum_qty=2)
    )
    outcome = oms.on_execution_report(
        report(second, E.TRADE, S.FILLED, exec_id="1", last_qty=3, last_px="100", cum_qty=3, order_id="O2")
    )

    assert outcome.fill_recorded
    assert oms.position("ACME").qty == 5


def test_a_resent_fill_of_a_multi_day_order_on_a_later_day_is_still_a_duplicate(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    gtc = _buy(oms, 10, tif="1")
    fill = report(
        gtc,
        E.TRADE,
        S.PARTIALLY_FILLED,
        exec_id="T9",
        last_qty=4,
        last_px="100",
        cum_qty=4,
        leaves_qty=6,
        transact_time="20261207-15:59:59.000",
    )
    oms.on_execution_report(fill)

    # the next day the venue resends it (PossDup): same TransactTime, so the same trading day
    resent = oms.on_execution_report(
        report(
            gtc,
            E.TRADE,
            S.PARTIALLY_FILLED,
            exec_id="T9",
            last_qty=4,
            last_px="100",
            cum_qty=4,
            leaves_qty=6,
            transact_time="20261207-15:59:59.000",
            poss_dup=True,
        )
    )

    assert resent.duplicate
    assert oms.position("ACME").qty == 4
    assert ledger.count("fills") == 1


def test_a_bust_refers_to_the_fill_of_its_own_order_when_exec_ids_repeat(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    first, second = _buy(oms, 2), _buy(oms, 3)
    oms.on_execution_report(
        report(first, E.TRADE, S.FILLED, exec_id="X", last_qty=2, last_px="100", cum_qty=2)
    )
    oms.on_execution_report(
        report(second, E.TRADE, S.FILLED, exec_id="X", last_qty=3, last_px="100", cum_qty=3)
    )

    oms.on_execution_report(
        report(second, E.TRADE_CANCEL, S.NEW, exec_id="B1", exec_ref_id="X", leaves_qty=3)
    )

    assert oms.position("ACME").qty == 2
    assert not present(ledger.fill(SESSION, "X", first)).busted
    assert present(ledger.fill(SESSION, "X", second)).busted
