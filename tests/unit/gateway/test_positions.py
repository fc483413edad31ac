"""Positions from fills: exact Decimal arithmetic, and a position equals the fold of its fills."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.positions import FillAmount, Position, apply_fill, fold_fills

D = Decimal


def test_buying_twice_averages_the_cost():
    position = fold_fills(
        "ACME", [FillAmount(signed_qty=10, px=D("100")), FillAmount(signed_qty=30, px=D("102"))]
    )

    assert position.qty == 40
    assert position.avg_cost == D("101.5")
    assert position.realized_pnl == 0


def test_selling_part_realizes_pnl_against_average_cost():
    position = fold_fills(
        "ACME", [FillAmount(signed_qty=10, px=D("100")), FillAmount(signed_qty=-4, px=D("101.25"))]
    )

    assert position.qty == 6
    assert position.avg_cost == D("100")
    assert position.realized_pnl == D("5.00")


def test_a_fill_through_zero_opens_the_rest_at_the_fill_price():
    position = fold_fills(
        "ACME", [FillAmount(signed_qty=5, px=D("10")), FillAmount(signed_qty=-8, px=D("12"))]
    )

    assert position.qty == -3
    assert position.avg_cost == D("12")
    assert position.realized_pnl == D("10")


def test_unrealized_pnl_follows_the_mark():
    position = Position(symbol="ACME", qty=-3, avg_cost=D("12")).marked(D("11.5"))

    assert position.unrealized_pnl == D("1.5")


prices = st.integers(min_value=1, max_value=100_000).map(lambda ticks: D(ticks) / 100)
fills = st.lists(
    st.builds(FillAmount, signed_qty=st.integers(min_value=-50, max_value=50).filter(bool), px=prices),
    max_size=40,
)


@given(fills)
def test_position_quantity_is_the_sum_of_its_fills(amounts):
    position = fold_fills("ACME", amounts)

    assert position.qty == sum(a.signed_qty for a in amounts)
    assert isinstance(position.realized_pnl, Decimal)


@given(fills, prices)
def test_round_trip_at_one_price_realizes_exactly_the_price_differences(amounts, close_px):
    position = fold_fills("ACME", amounts)
    closed = apply_fill(position, FillAmount(signed_qty=-position.qty, px=close_px))

    assert closed.qty == 0
    # total PnL of a flat book = sum of sell notionals - sum of buy notionals, exactly
    cash = -sum((a.px * a.signed_qty for a in amounts), D(0)) + close_px * position.qty
    assert abs(closed.realized_pnl - cash) < D("1E-6")
