"""Planner edges: a working order whose leaves equal the excess exactly is canceled, never
replaced down to nothing."""

from __future__ import annotations

from decimal import Decimal

from gateway.decision.config import ExecutionConfig, InstrumentConfig
from gateway.domain.ports import WorkingOrderView
from gateway.execution.planner import BUY, Cancel, plan

ACME = InstrumentConfig(symbol="ACME", tick_size=Decimal("0.01"), lot_size=1, max_position_lots=10)
BID, ASK = Decimal("99.99"), Decimal("100.01")


def _working_buy(cl_ord_id: str, leaves: int, cum: int = 0) -> WorkingOrderView:
    return WorkingOrderView(
        cl_ord_id=cl_ord_id,
        symbol="ACME",
        side=BUY,
        price=BID,
        order_qty=leaves + cum,
        leaves_qty=leaves,
        cum_qty=cum,
        pending="",
    )


def test_working_order_equal_to_the_excess_is_canceled_not_replaced_to_zero() -> None:
    # Arrange: 5 working to buy (2 + 3), the target wants 3 more: an excess of exactly 2
    working = [_working_buy("A", 2, cum=4), _working_buy("B", 3)]

    # Act
    actions = plan(
        target_qty=3,
        position_qty=0,
        working=working,
        bid=BID,
        ask=ASK,
        instrument=ACME,
        execution=ExecutionConfig(style="passive", max_working_per_side=2),
        may_reprice=True,
    )

    # Assert
    assert actions == [Cancel(cl_ord_id="A", reason="above target")]
