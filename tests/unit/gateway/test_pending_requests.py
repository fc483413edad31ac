"""A cancel or replace in flight always finds its way back: an answer, a failed send, a status
reply that shows the venue never got it, or a timeout that asks the venue and then gives up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.config import OrdersSection
from gateway.domain.commands import CancelOrder
from gateway.domain.fix_values import ExecType as E
from gateway.domain.fix_values import OrdStatus as S
from gateway.domain.requests import REQUEST_TABLE, RequestEvent, RequestPhase, step_request
from tests.unit.gateway.factories import (
    SESSION,
    FakeClock,
    RecordingSender,
    cancel_rejected,
    make_oms,
    present,
    report,
)

TIMEOUT = OrdersSection(request_timeout_ms=100, cancel_retry_interval_ms=50, cancel_deadline_ms=10_000)
MS = 1_000_000


def _working(oms, qty: int = 10) -> str:
    cl = present(oms.submit(symbol="ACME", side="1", qty=qty, ord_type="2", price=Decimal("100")).cl_ord_id)
    oms.on_execution_report(report(cl, E.NEW, S.NEW, leaves_qty=qty))
    return cl


@pytest.mark.parametrize(("phase", "event"), [(p, e) for p in RequestPhase for e in RequestEvent])
def test_every_phase_and_event_has_a_step_and_every_answer_ends_the_wait(phase, event):
    step = step_request(phase, event)

    assert (phase, event) in REQUEST_TABLE
    if event not in (RequestEvent.ACKNOWLEDGED, RequestEvent.TIMED_OUT):
        assert step.phase is None and step.row_state
    if event is RequestEvent.TIMED_OUT:
        # the first timeout asks the venue, the second stops waiting: never a third
        assert step.ask_status == (phase is RequestPhase.AWAITING)
        assert (step.phase is None) == (phase is RequestPhase.STATUS_ASKED)


def test_a_cancel_the_engine_refused_leaves_the_order_cancellable(tmp_path):
    sender = RecordingSender()
    oms, ledger, _ = make_oms(tmp_path, sender=sender)
    cl = _working(oms)
    sender.accept = False  # DoNotSend, or the session is resetting

    first = oms.cancel(cl)
    sender.accept = True
    second = oms.cancel(cl)

    assert not first.accepted and second.accepted
    assert present(oms.order(cl)).pending == "cancel"
    states = dict(ledger._db.execute("SELECT cl_ord_id, state FROM order_requests WHERE msg_type='F'"))
    assert states == {first.cl_ord_id: "unsent", second.cl_ord_id: "sent"}


def test_a_status_reply_without_the_pending_cancel_frees_the_order(tmp_path):
    oms, ledger, _sender = make_oms(tmp_path)
    cl = _working(oms)
    lost = oms.cancel(cl)  # sent, then lost: gap-filled on resend as too old

    oms.on_execution_report(report(cl, E.ORDER_STATUS, S.NEW, exec_id="0", leaves_qty=10))
    again = oms.cancel(cl)

    assert again.accepted, again.reason
    state = ledger._db.execute(
        "SELECT state FROM order_requests WHERE cl_ord_id=?", (lost.cl_ord_id,)
    ).fetchone()
    assert state == ("lost",)


def test_a_status_reply_showing_pending_cancel_keeps_waiting(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = _working(oms)
    oms.cancel(cl)

    oms.on_execution_report(report(cl, E.ORDER_STATUS, S.PENDING_CANCEL, exec_id="0", leaves_qty=10))

    assert present(oms.order(cl)).pending == "cancel"
    assert not oms.cancel(cl).accepted


def test_a_crash_between_write_ahead_and_send_is_settled_by_the_status_at_logon(tmp_path):
    class DyingSender(RecordingSender):
        def send(self, session, command):
            if isinstance(command, CancelOrder):
                raise KeyboardInterrupt("killed after the write-ahead, before the F left")
            return super().send(session, command)

    oms, ledger, _ = make_oms(tmp_path, sender=DyingSender())
    cl = _working(oms)
    with pytest.raises(KeyboardInterrupt):
        oms.cancel(cl)

    restarted, _, sender = make_oms(tmp_path, ledger=ledger)
    assert present(restarted.order(cl)).pending == "cancel"
    assert restarted.on_session_logon(SESSION) == 1
    restarted.on_execution_report(report(cl, E.ORDER_STATUS, S.NEW, exec_id="0", leaves_qty=10))

    assert restarted.cancel(cl).accepted
    assert len(sender.of_type("F")) == 1


def test_an_unanswered_cancel_is_asked_about_then_given_up(tmp_path):
    clock = FakeClock()
    oms, ledger, sender = make_oms(tmp_path, clock=clock, follow_up=TIMEOUT)
    cl = _working(oms)
    oms.cancel(cl)

    oms.check_pending()  # not yet due
    assert sender.of_type("H") == []
    clock.now += 150 * MS
    oms.check_pending()
    assert [h[11] for h in sender.of_type("H")] == [cl]
    assert not oms.cancel(cl).accepted  # still waiting, now for the status reply
    clock.now += 150 * MS
    oms.check_pending()

    assert present(oms.order(cl)).pending == ""
    assert oms.cancel(cl).accepted
    assert oms.counters["requests_timed_out"] == 1
    kinds = [r[0] for r in ledger._db.execute("SELECT kind FROM anomalies")]
    assert kinds == ["request_timed_out"]


def test_an_acknowledgement_restarts_the_timeout(tmp_path):
    clock = FakeClock()
    oms, _, sender = make_oms(tmp_path, clock=clock, follow_up=TIMEOUT)
    cl = _working(oms)
    request = present(oms.cancel(cl).cl_ord_id)
    clock.now += 90 * MS

    oms.on_execution_report(
        report(request, E.PENDING_CANCEL, S.PENDING_CANCEL, orig_cl_ord_id=cl, leaves_qty=10)
    )
    clock.now += 90 * MS
    oms.check_pending()

    assert sender.of_type("H") == []


def test_an_unanswered_new_order_gets_a_status_request(tmp_path):
    clock = FakeClock()
    oms, _, sender = make_oms(tmp_path, clock=clock, follow_up=TIMEOUT)
    cl = present(oms.submit(symbol="ACME", side="1", qty=1, ord_type="2", price=Decimal("100")).cl_ord_id)
    clock.now += 150 * MS

    oms.check_pending()
    oms.on_execution_report(report(cl, E.ORDER_STATUS, S.REJECTED, exec_id="0", text="unknown order"))

    assert [h[11] for h in sender.of_type("H")] == [cl]
    assert present(oms.order(cl)).status is S.REJECTED


def test_a_cancel_reject_frees_the_order_for_another_request(tmp_path):
    oms, _ledger, _ = make_oms(tmp_path)
    cl = _working(oms)
    request = present(oms.cancel(cl).cl_ord_id)

    oms.on_cancel_reject(cancel_rejected(request, cl, text="busy"))

    assert present(oms.order(cl)).pending == ""
    assert oms.replace(cl, price=Decimal("99")).accepted
