"""A fill that beats a cancel or replace is current, not late (FIX 4.4 B.1.c): its CumQty(14) and
LeavesQty(151) count, and a cancel reject afterwards restores the status the venue reports."""

from __future__ import annotations

from decimal import Decimal

from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from tests.unit.gateway.factories import cancel_rejected, make_oms, present, report


def _working(oms) -> str:
    cl = present(oms.submit(symbol="ACME", side="1", qty=10, ord_type="2", price=Decimal("100")).cl_ord_id)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    return cl


def test_b_1_c_fill_during_pending_cancel_then_cancel_reject_leaves_the_venues_quantities(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = _working(oms)
    request = present(oms.cancel(cl).cl_ord_id)
    oms.on_execution_report(
        report(request, E.PENDING_CANCEL, S.PENDING_CANCEL, orig_cl_ord_id=cl, leaves_qty=10)
    )

    fill = oms.on_execution_report(
        report(cl, E.TRADE, S.PARTIALLY_FILLED, last_qty=4, last_px="100", cum_qty=4, leaves_qty=6)
    )
    oms.on_cancel_reject(cancel_rejected(request, cl, ord_status=S.PARTIALLY_FILLED))

    order = present(oms.order(cl))
    assert fill.transition is not None and not fill.transition.late
    assert (order.status, order.cum_qty, order.leaves_qty) == (S.PARTIALLY_FILLED, 4, 6)
    assert oms.working_orders("ACME")[0].leaves_qty == 6
    assert oms.position("ACME").qty == 4


def test_c_1_c_fill_during_pending_replace_counts(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = _working(oms)
    request = present(oms.replace(cl, qty=12).cl_ord_id)
    oms.on_execution_report(
        report(request, E.PENDING_REPLACE, S.PENDING_REPLACE, orig_cl_ord_id=cl, leaves_qty=10)
    )

    oms.on_execution_report(
        report(cl, E.TRADE, S.PARTIALLY_FILLED, last_qty=3, last_px="100", cum_qty=3, leaves_qty=7)
    )
    oms.on_execution_report(
        report(
            request, E.REPLACED, S.PARTIALLY_FILLED, orig_cl_ord_id=cl, order_qty=12, cum_qty=3, leaves_qty=9
        )
    )

    order = present(oms.order(request))
    assert (order.status, order.order_qty, order.cum_qty, order.leaves_qty) == (S.PARTIALLY_FILLED, 12, 3, 9)


def test_a_completing_fill_sent_as_partially_filled_with_nothing_left_ends_the_order(tmp_path):
    # a common broker style: ExecType=F, OrdStatus=1, LeavesQty=0, then an ExecType=I saying Filled
    oms, ledger, _ = make_oms(tmp_path)
    cl = _working(oms)

    oms.on_execution_report(report(cl, E.TRADE, S.PARTIALLY_FILLED, last_qty=10, last_px="100", cum_qty=10))
    status = oms.on_execution_report(
        report(cl, E.ORDER_STATUS, S.FILLED, exec_id="0", cum_qty=10, avg_px="100")
    )

    assert present(oms.order(cl)).status is S.FILLED
    assert oms.live_orders() == [] and oms.working_orders("ACME") == []
    assert status.transition is not None and status.transition.fits
    assert oms.position("ACME").qty == 10 and ledger.count("fills") == 1
    assert ledger.count("anomalies") == 0
