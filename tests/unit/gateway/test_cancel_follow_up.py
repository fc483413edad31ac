"""Orders the gateway has decided must end (a feed gap, a wind-down, a stop) are cancelled even
when a request is in flight: as soon as it is answered, and again after a reject or a loss,
until each order is final or the deadline passes."""

from __future__ import annotations

from decimal import Decimal

from gateway.config import OrdersSection
from gateway.domain.events import CancelRejected
from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from tests.unit.gateway.factories import (
    FakeClock,
    RecordingSender,
    cancel_rejected,
    make_oms,
    present,
    report,
)

FOLLOW_UP = OrdersSection(request_timeout_ms=10_000, cancel_retry_interval_ms=100, cancel_deadline_ms=1_000)
MS = 1_000_000


def _submit(oms, qty: int = 10, tif: str = "0") -> str:
    result = oms.submit(symbol="ACME", side="1", qty=qty, ord_type="2", price=Decimal("100"), tif=tif)
    return present(result.cl_ord_id)


def _cancel_reject(request: str, orig: str) -> CancelRejected:
    return cancel_rejected(request, orig, reason="3", text="order already in pending status")


def test_an_order_not_yet_acknowledged_is_cancelled_when_its_new_arrives(tmp_path):
    oms, _, sender = make_oms(tmp_path)
    cl = _submit(oms)

    taken = oms.cancel_working("ACME", reason="sequence gap")
    assert taken == 1 and sender.of_type("F") == []
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))

    assert [f[41] for f in sender.of_type("F")] == [cl]


def test_an_order_with_a_replace_in_flight_is_cancelled_once_the_replace_is_answered(tmp_path):
    oms, _, sender = make_oms(tmp_path)
    cl = _submit(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    request = present(oms.replace(cl, price=Decimal("101")).cl_ord_id)

    oms.cancel_working(reason="winding down")
    oms.on_execution_report(
        report(request, E.REPLACED, S.NEW, orig_cl_ord_id=cl, order_qty=10, leaves_qty=10, price="101")
    )

    assert [f[41] for f in sender.of_type("F")] == [request]
    assert not oms.replace(request, price=Decimal("102")).accepted  # an order being cancelled stays so


def test_a_rejected_cancel_is_sent_again_after_the_retry_interval(tmp_path):
    clock = FakeClock()
    oms, _, sender = make_oms(tmp_path, clock=clock, follow_up=FOLLOW_UP)
    cl = _submit(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    oms.cancel_working(reason="stale market data")
    first = sender.of_type("F")[0][11]

    oms.on_cancel_reject(_cancel_reject(first, cl))
    assert len(sender.of_type("F")) == 1  # not at once: a reject loop would flood the venue
    clock.now += 150 * MS
    oms.check_pending()
    second = sender.of_type("F")[1][11]
    oms.on_execution_report(report(second, E.CANCELED, S.CANCELED, orig_cl_ord_id=cl))

    assert oms.live_orders() == []
    assert oms.counters["cancel_retries"] == 1


def test_cancels_wait_for_the_session_and_go_when_it_is_back(tmp_path):
    clock = FakeClock()
    sender = RecordingSender(ready=False)
    oms, _, _ = make_oms(tmp_path, sender=sender, clock=clock, follow_up=FOLLOW_UP)
    sender.ready = True
    cl = _submit(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    sender.ready = False

    oms.cancel_working(reason="winding down")
    clock.now += 150 * MS
    oms.check_pending()
    assert sender.of_type("F") == []
    sender.ready = True
    clock.now += 150 * MS
    oms.check_pending()

    assert [f[41] for f in sender.of_type("F")] == [cl]


def test_after_the_deadline_the_order_is_left_and_said_to_be_working(tmp_path, caplog):
    clock = FakeClock()
    oms, _, sender = make_oms(tmp_path, clock=clock, follow_up=FOLLOW_UP)
    cl = _submit(oms)  # the venue never answers: the order stays pending new

    oms.cancel_working(reason="winding down")
    clock.now += 1_100 * MS
    oms.check_pending()

    assert oms.being_cancelled() == []
    assert [o.cl_ord_id for o in oms.live_orders()] == [cl]
    assert "still working after the cancel deadline" in caplog.text
    assert sender.of_type("F") == []


def test_gtc_orders_may_be_kept_working(tmp_path):
    oms, _, sender = make_oms(tmp_path)
    day, gtc = _submit(oms), _submit(oms, tif="1")
    for cl in (day, gtc):
        oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))

    taken = oms.cancel_working(reason="stopping", keep_gtc=True)

    assert taken == 1
    assert [f[41] for f in sender.of_type("F")] == [day]


def test_the_working_view_shows_an_order_being_cancelled_as_pending(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = _submit(oms)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=10))
    request = present(oms.replace(cl, price=Decimal("99")).cl_ord_id)
    oms.cancel_working(reason="x")
    oms.on_cancel_reject(_cancel_reject(request, cl))  # the replace was refused; cancel goes next

    (view,) = oms.working_orders("ACME")

    assert view.pending == "cancel"
