"""The venue's positions: a short round trip realizes PnL with the short's sign."""

from __future__ import annotations

from decimal import Decimal

from simulator.venue import Position


def test_short_sold_at_10_and_bought_back_at_9_realizes_plus_100() -> None:
    # Arrange
    flat = Position(account="A", symbol="ACME", qty=0, avg_px=Decimal(0), realized_pnl=Decimal(0))
    short = flat.with_fill("2", 100, Decimal("10.00"))

    # Act
    closed = short.with_fill("1", 100, Decimal("9.00"))

    # Assert
    assert (closed.qty, closed.avg_px, closed.realized_pnl) == (0, Decimal(0), Decimal("100.00"))


def test_long_sold_above_its_cost_realizes_a_gain() -> None:
    # Arrange
    flat = Position(account="A", symbol="ACME", qty=0, avg_px=Decimal(0), realized_pnl=Decimal(0))
    long = flat.with_fill("1", 100, Decimal("9.00"))

    # Act
    closed = long.with_fill("2", 100, Decimal("10.00"))

    # Assert
    assert closed.realized_pnl == Decimal("100.00")
