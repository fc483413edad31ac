"""The order manager's cached views (`position`, `working_orders`): after every kind of event
they equal a view built from scratch, and the position view equals the ledger's position, also
after a restart on the same ledger file."""

from __future__ import annotations

from decimal import Decimal

from gateway.domain.events import CancelRejected
from gateway.domain.fix_values import ExecType, OrdStatus
from gateway.domain.ports import PositionView, WorkingOrderView
from gateway.domain.positions import Position
from gateway.ledger.store import Ledger
from gateway.oms.order_manager import OrderManager
from tests.unit.gateway.factories import SESSION, make_oms, present, report

D = Decimal
E, S = ExecType, OrdStatus


def fresh_working(oms: OrderManager, symbol: str) -> list[WorkingOrderView]:
    """What working_orders returned before it was cached: built from the live orders now."""
    return [
        WorkingOrderView(
            cl_ord_id=o.cl_ord_id,
            symbol=o.symbol,
            side=o.side.value,
            price=o.price,
            order_qty=o.order_qty,
            leaves_qty=o.leaves_qty,
            cum_qty=o.cum_qty,
            pending=o.pending,
        )
        for o in oms.live_orders()
        if o.symbol == symbol
    ]


def ledger_view(ledger: Ledger, symbol: str) -> PositionView:
    position = ledger.positions().get(symbol) or Position(symbol=symbol)
    return PositionView(
        symbol=symbol, qty=position.qty, avg_cost=position.avg_cost, realized_pnl=position.realized_pnl
    )


def assert_views_current(oms: OrderManager, ledger: Ledger) -> None:
    for symbol in ("ACME", "BOLT"):
        assert oms.working_orders(symbol) == fresh_working(oms, symbol)
        assert oms.position(symbol) == ledger_view(ledger, symbol)


def submit(oms: OrderManager, *, side: str = "1", qty: int = 10, symbol: str = "ACME") -> str:
    result = oms.submit(symbol=symbol, side=side, qty=qty, ord_type="2", price=D("100"))
    assert result.accepted, result.reason
    return present(result.cl_ord_id)


def test_views_follow_every_event_of_an_order_life(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    assert_views_current(oms, ledger)

    a = submit(oms)
    assert_views_current(oms, ledger)
    oms.on_execution_report(report(a, E.NEW, S.NEW, leaves_qty=10))
    assert_views_current(oms, ledger)
    oms.on_execution_report(
        report(
            a, E.TRADE, S.PARTIALLY_FILLED, exec_id="F1", last_qty=4, last_px="100", cum_qty=4, leaves_qty=6
        )
    )
    assert_views_current(oms, ledger)

    replace_id = present(oms.replace(a, qty=12, price=D("100.5")).cl_ord_id)
    assert_views_current(oms, ledger)
    oms.on_execution_report(
        report(
            replace_id, E.REPLACED, S.PARTIALLY_FILLED, orig_cl_ord_id=a, cum_qty=4, leaves_qty=8,
            order_qty=12, price="100.5",
        )
    )  # fmt: skip
    assert_views_current(oms, ledger)
    assert oms.working_orders("ACME")[0].order_qty == 12

    cancel_id = present(oms.cancel(replace_id).cl_ord_id)
    assert oms.working_orders("ACME")[0].pending == "cancel"
    oms.on_cancel_reject(
        CancelRejected(
            session=SESSION, cl_ord_id=cancel_id, orig_cl_ord_id=replace_id, order_id="O1",
            ord_status=S.PARTIALLY_FILLED, response_to="1", reason="1", text="too late", recv_ns=1,
            seq_num=9, raw="35=9",
        )
    )  # fmt: skip
    assert_views_current(oms, ledger)
    assert oms.working_orders("ACME")[0].pending == ""

    oms.on_execution_report(
        report(replace_id, E.TRADE, S.FILLED, exec_id="F2", last_qty=8, last_px="101", cum_qty=12)
    )
    assert_views_current(oms, ledger)
    assert oms.working_orders("ACME") == [] and oms.position("ACME").qty == 12


def test_position_view_follows_busts_and_corrections(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    cl = submit(oms)
    oms.on_execution_report(
        report(
            cl, E.TRADE, S.PARTIALLY_FILLED, exec_id="F1", last_qty=4, last_px="100", cum_qty=4, leaves_qty=6
        )
    )
    oms.on_execution_report(
        report(cl, E.TRADE, S.FILLED, exec_id="F2", last_qty=6, last_px="102", cum_qty=10)
    )
    before = oms.position("ACME")

    oms.on_execution_report(
        report(cl, E.TRADE_CORRECT, S.FILLED, exec_ref_id="F2", last_qty=5, last_px="103", cum_qty=9)
    )
    corrected = oms.position("ACME")
    oms.on_execution_report(report(cl, E.TRADE_CANCEL, S.FILLED, exec_ref_id="F1", cum_qty=5))
    busted = oms.position("ACME")

    assert before.qty == 10 and corrected.qty == 9 and busted.qty == 5
    assert busted == ledger_view(ledger, "ACME") and busted.avg_cost == D("103")
    assert_views_current(oms, ledger)


def test_views_after_a_restart_equal_the_ledger(tmp_path):
    oms, ledger, _ = make_oms(tmp_path)
    filled = submit(oms, side="2", qty=7)
    oms.on_execution_report(
        report(filled, E.TRADE, S.FILLED, exec_id="F1", last_qty=7, last_px="99", cum_qty=7)
    )
    working = submit(oms, qty=3, symbol="BOLT")
    oms.on_execution_report(report(working, E.NEW, S.NEW, symbol="BOLT", leaves_qty=3))
    assert oms.position("ACME").qty == -7

    restarted, _, _ = make_oms(tmp_path, ledger=ledger)

    assert_views_current(restarted, ledger)
    assert restarted.position("ACME") == oms.position("ACME")
    assert [w.cl_ord_id for w in restarted.working_orders("BOLT")] == [working]


def test_a_caller_changing_its_list_does_not_change_the_next_answer(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    submit(oms)
    first = oms.working_orders("ACME")
    assert isinstance(first, list)

    first.clear()

    assert len(oms.working_orders("ACME")) == 1


def test_unchanged_state_gives_the_same_view_and_a_fill_a_new_one(tmp_path):
    oms, _, _ = make_oms(tmp_path)
    cl = submit(oms)
    flat = oms.position("ACME")

    assert oms.position("ACME") is flat  # nothing changed: served from the cache
    oms.on_execution_report(
        report(cl, E.TRADE, S.FILLED, exec_id="F1", last_qty=10, last_px="100", cum_qty=10)
    )

    assert oms.position("ACME") is not flat and oms.position("ACME").qty == 10
