"""Target position -> orders (pure planner) and pre-trade risk checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.decision.config import ExecutionConfig, InstrumentConfig
from gateway.decision.fallback import safe_target_qty, target_from_output
from gateway.domain.ports import WorkingOrderView
from gateway.execution.planner import Cancel, Replace, Submit, plan
from gateway.risk.checks import RiskLimits, check_order

ACME = InstrumentConfig(symbol="ACME", tick_size=Decimal("0.01"), lot_size=1, max_position_lots=10)
CRUX = InstrumentConfig(symbol="CRUX", tick_size=Decimal("0.01"), lot_size=100, max_position_lots=5)
BID, ASK = Decimal("99.99"), Decimal("100.01")


def _order(cl_ord_id: str, side: str, leaves: int, price: str = "99.99", cum: int = 0, pending: str = ""):
    return WorkingOrderView(
        cl_ord_id=cl_ord_id,
        symbol="ACME",
        side=side,
        price=Decimal(price),
        order_qty=leaves + cum,
        leaves_qty=leaves,
        cum_qty=cum,
        pending=pending,
    )


def _plan(
    target: int,
    position: int,
    working=(),
    style: str = "passive",
    reprice: bool = True,
    instrument: InstrumentConfig = ACME,
    **execution,
):
    return plan(
        target_qty=target,
        position_qty=position,
        working=list(working),
        bid=BID,
        ask=ASK,
        instrument=instrument,
        execution=ExecutionConfig(style=style, **execution),
        may_reprice=reprice,
    )


def test_buy_to_target_rests_a_limit_at_the_bid() -> None:
    assert _plan(5, 2) == [Submit(side="1", qty=3, price=BID, tif="0")]


def test_sell_to_target_rests_at_the_offer() -> None:
    assert _plan(-2, 1) == [Submit(side="2", qty=3, price=ASK, tif="0")]


def test_marketable_style_caps_the_price_and_uses_ioc() -> None:
    assert _plan(5, 0, style="marketable", cap_ticks=3) == [
        Submit(side="1", qty=5, price=Decimal("100.04"), tif="3")
    ]
    assert _plan(-5, 0, style="marketable", cap_ticks=3) == [
        Submit(side="2", qty=5, price=Decimal("99.96"), tif="3")
    ]


def test_working_order_of_the_right_size_at_the_touch_is_left_alone() -> None:
    assert _plan(5, 2, [_order("A", "1", 3)]) == []


def test_working_order_off_the_touch_is_replaced_to_follow_it() -> None:
    assert _plan(5, 2, [_order("A", "1", 3, price="99.98")]) == [
        Replace(cl_ord_id="A", side="1", qty=3, price=BID, leaves_qty=3)
    ]
    assert _plan(5, 2, [_order("A", "1", 3, price="99.98")], reprice=False) == []


def test_more_wanted_grows_the_single_working_order_by_replace() -> None:
    assert _plan(9, 2, [_order("A", "1", 3, cum=1)]) == [
        Replace(cl_ord_id="A", side="1", qty=8, price=BID, leaves_qty=7)
    ]


def test_opposite_side_orders_are_cancelled() -> None:
    actions = _plan(5, 2, [_order("S", "2", 4, price="100.01")])
    assert actions == [
        Cancel(cl_ord_id="S", reason="opposite side"),
        Submit(side="1", qty=3, price=BID, tif="0"),
    ]


def test_orders_with_a_request_in_flight_are_never_touched() -> None:
    assert _plan(0, 0, [_order("A", "1", 3, pending="new")]) == []
    assert _plan(9, 2, [_order("A", "1", 3, pending="replace", price="99.90")]) == []


def test_at_target_every_working_order_is_cancelled() -> None:
    assert _plan(2, 2, [_order("A", "1", 3)]) == [Cancel(cl_ord_id="A", reason="at target")]


def test_quantities_are_whole_lots() -> None:
    assert _plan(500, 250, instrument=CRUX) == [Submit(side="1", qty=200, price=BID, tif="0")]
    assert _plan(300, 250, instrument=CRUX) == []


def test_a_target_beyond_the_max_order_qty_is_worked_in_clips() -> None:
    assert plan(target_qty=5000, position_qty=0, working=[], bid=BID, ask=ASK, instrument=ACME,
                execution=ExecutionConfig(), may_reprice=True, max_order_qty=1000) == [
        Submit(side="1", qty=1000, price=BID, tif="0")
    ]  # fmt: skip
    assert plan(target_qty=5000, position_qty=600, working=[_order("A", "1", 400, cum=600)], bid=BID, ask=ASK,
                instrument=ACME, execution=ExecutionConfig(), may_reprice=True, max_order_qty=1000) == [
        Replace(cl_ord_id="A", side="1", qty=1600, price=BID, leaves_qty=1000)
    ]  # fmt: skip


def test_two_orders_per_side_when_configured() -> None:
    actions = _plan(9, 0, [_order("A", "1", 3)], max_working_per_side=2)
    assert actions == [Submit(side="1", qty=6, price=BID, tif="0")]


LIMITS = RiskLimits(max_order_qty=100, max_position_qty=150, max_notional=Decimal("5000"))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"kill_switch": True}, "kill switch"),
        ({"qty": 101}, "exceeds max_order_qty"),
        ({"qty": 60, "price": Decimal("100")}, "exceeds max_notional"),
        ({"qty": 40, "position_qty": 100, "working_same_side_qty": 20}, "beyond max_position_qty"),
    ],
)
def test_risk_check_denials_are_values_with_a_reason(kwargs, reason) -> None:
    args = (
        dict(
            limits=LIMITS,
            kill_switch=False,
            side_sign=1,
            qty=10,
            price=Decimal("10"),
            position_qty=0,
            working_same_side_qty=0,
        )
        | kwargs
    )
    verdict = check_order(**args)
    assert not verdict.allowed and reason in verdict.reason


def test_reducing_a_position_beyond_the_limit_is_allowed() -> None:
    verdict = check_order(
        limits=LIMITS,
        kill_switch=False,
        side_sign=-1,
        qty=50,
        price=Decimal("10"),
        position_qty=200,
        working_same_side_qty=0,
    )
    assert verdict.allowed


def test_output_maps_to_whole_lots_within_the_max_position() -> None:
    assert target_from_output(1.0, full_position_bps=2.0, max_position_lots=5, lot_size=100) == 200
    assert target_from_output(-50.0, full_position_bps=2.0, max_position_lots=5, lot_size=100) == -500
    assert safe_target_qty("reduce_only", position_qty=-250, lot_size=100, reduce_step_lots=1) == -150
    assert safe_target_qty("reduce_only", position_qty=50, lot_size=100, reduce_step_lots=1) == 0


def test_a_target_worth_more_than_the_notional_limit_is_reached_in_clips_within_it() -> None:
    actions = plan(
        target_qty=0,
        position_qty=2000,
        working=[],
        bid=Decimal("150.00"),
        ask=Decimal("150.02"),
        instrument=ACME,
        execution=ExecutionConfig(style="passive"),
        may_reprice=True,
        max_order_qty=1000,
        max_order_notional=Decimal("100000"),
    )

    # 666 x 150.02 = 99,913.32: the largest clip the notional limit lets through
    assert actions == [Submit(side="2", qty=666, price=Decimal("150.02"), tif="0")]
    limits = RiskLimits(max_order_qty=1000, max_position_qty=2000, max_notional=Decimal("100000"))
    verdict = check_order(
        limits=limits,
        kill_switch=False,
        side_sign=-1,
        qty=666,
        price=Decimal("150.02"),
        position_qty=2000,
        working_same_side_qty=0,
    )
    assert verdict.allowed, verdict.reason


def test_the_notional_clip_keeps_whole_lots() -> None:
    actions = plan(
        target_qty=500,
        position_qty=0,
        working=[],
        bid=Decimal("99.99"),
        ask=Decimal("100.01"),
        instrument=CRUX,
        execution=ExecutionConfig(style="passive"),
        may_reprice=True,
        max_order_notional=Decimal("25000"),
    )

    assert actions == [Submit(side="1", qty=200, price=Decimal("99.99"), tif="0")]
