"""DoneForDay(OrdStatus 3) says no more fills today: a GTC order at DoneForDay works again the
next trading day, so it stays live, is reloaded at restart, asked about at logon, counted against
limits and can be cancelled."""

from __future__ import annotations

from decimal import Decimal

from gateway.config import LimitsSection
from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from tests.unit.gateway.factories import SESSION, make_oms, present, report


def _gtc_done_for_day(oms, qty: int = 10) -> str:
    cl = present(
        oms.submit(symbol="ACME", side="1", qty=qty, ord_type="2", price=Decimal("100"), tif="1").cl_ord_id
    )
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=qty))
    oms.on_execution_report(report(cl, E.DONE_FOR_DAY, S.DONE_FOR_DAY, leaves_qty=qty))
    return cl


def test_a_gtc_order_at_done_for_day_stays_live_and_cancellable(tmp_path):
    oms, _, sender = make_oms(tmp_path)
    cl = _gtc_done_for_day(oms)

    assert [o.cl_ord_id for o in oms.live_orders()] == [cl]
    request = present(oms.cancel(cl).cl_ord_id)
    oms.on_execution_report(report(request, E.CANCELED, S.CANCELED, orig_cl_ord_id=cl))

    assert oms.live_orders() == []
    assert sender.of_type("F")[0][41] == cl


def test_a_done_for_day_order_is_reloaded_at_restart_and_asked_about_at_logon(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = _gtc_done_for_day(oms)

    restarted, _, sender = make_oms(tmp_path, ledger=ledger)

    assert restarted.on_session_logon(SESSION) == 1
    assert sender.of_type("H")[0][11] == cl
    # the next trading day the venue restates it as working, and it fills
    restarted.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    restarted.on_execution_report(report(cl, E.TRADE, S.FILLED, last_qty=10, last_px="100", cum_qty=10))
    assert present(restarted.order(cl)).status is S.FILLED
    assert restarted.position("ACME").qty == 10


def test_a_done_for_day_order_counts_against_the_limits(tmp_path):
    oms, _, _ = make_oms(tmp_path, limits=LimitsSection(max_position_qty=15, max_open_orders=5))
    _gtc_done_for_day(oms, qty=10)

    more = oms.submit(symbol="ACME", side="1", qty=10, ord_type="2", price=Decimal("100"))

    assert not more.accepted and "max_position_qty" in more.reason
