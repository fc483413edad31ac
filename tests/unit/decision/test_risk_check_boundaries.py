"""Pre-trade risk checks at their edges: zero quantity, notional exactly at the limit, reducing a
position that is already over its limit."""

from __future__ import annotations

from decimal import Decimal

from gateway.risk.checks import ALLOWED, RiskLimits, check_order

LIMITS = RiskLimits(max_order_qty=100, max_position_qty=500, max_notional=Decimal("1000"))


def test_zero_quantity_is_denied() -> None:
    # Act
    verdict = check_order(
        limits=LIMITS,
        kill_switch=False,
        side_sign=1,
        qty=0,
        price=Decimal("10"),
        position_qty=0,
        working_same_side_qty=0,
    )

    # Assert
    assert not verdict.allowed
    assert "not positive" in verdict.reason


def test_notional_exactly_at_max_notional_is_allowed() -> None:
    # Act: 100 x 10 = 1000, the limit itself
    verdict = check_order(
        limits=LIMITS,
        kill_switch=False,
        side_sign=1,
        qty=100,
        price=Decimal("10"),
        position_qty=0,
        working_same_side_qty=0,
    )

    # Assert
    assert verdict.allowed
    assert verdict.reason == ALLOWED


def test_sell_that_reduces_a_long_already_over_its_limit_is_allowed() -> None:
    # Arrange: long 800 against a limit of 500 (the limit was lowered, or fills overshot)
    position_qty = 800

    # Act
    verdict = check_order(
        limits=LIMITS,
        kill_switch=False,
        side_sign=-1,
        qty=100,
        price=Decimal("10"),
        position_qty=position_qty,
        working_same_side_qty=0,
    )

    # Assert: 700 is still over the limit, but closer to flat
    assert verdict.allowed
