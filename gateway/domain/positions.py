"""Positions from fills: signed quantity, average cost, realized and unrealized PnL.

Pure and exact: quantities are integers and prices `Decimal`; the average cost is kept to
`AVG_COST_PLACES` decimal places (a division is the only inexact step). A position is a fold of
its fills in fill order, so after a bust or a correction the ledger refolds the symbol's fills
instead of trying to undo one fill in the middle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

AVG_COST_PLACES = Decimal("1E-10")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    symbol: str
    qty: int = 0  # signed: long > 0, short < 0
    avg_cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    mark_px: Decimal | None = None

    @property
    def unrealized_pnl(self) -> Decimal:
        if self.mark_px is None or self.qty == 0:
            return ZERO
        return (self.mark_px - self.avg_cost) * self.qty

    def marked(self, mark_px: Decimal) -> Position:
        if mark_px == self.mark_px:
            return self
        # built directly: dataclasses.replace costs several times more, once per market-data message
        return Position(
            symbol=self.symbol,
            qty=self.qty,
            avg_cost=self.avg_cost,
            realized_pnl=self.realized_pnl,
            mark_px=mark_px,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FillAmount:
    """The part of a fill a position needs: signed quantity (+buy, -sell) and price."""

    signed_qty: int
    px: Decimal


def moves_toward_zero(held: int, reached: int) -> bool:
    """A position going from `held` to `reached` shrinks without crossing zero: such an order
    only reduces risk, so a position limit never stops it (a position over its limit must
    always be reducible, in as many steps as the order size limit needs)."""
    return held != 0 and abs(reached) < abs(held) and (reached == 0 or (reached > 0) == (held > 0))


def apply_fill(position: Position, fill: FillAmount) -> Position:
    """The position after one fill. Closing quantity realizes PnL against the average cost;
    a fill that flips the position opens the remainder at the fill price."""
    qty, delta = position.qty, fill.signed_qty
    if delta == 0:
        return position
    if qty == 0 or (qty > 0) == (delta > 0):
        new_qty = qty + delta
        total_cost = position.avg_cost * abs(qty) + fill.px * abs(delta)
        avg = (total_cost / abs(new_qty)).quantize(AVG_COST_PLACES, rounding=ROUND_HALF_EVEN)
        return replace(position, qty=new_qty, avg_cost=avg, mark_px=fill.px)
    closed = min(abs(qty), abs(delta))
    direction = 1 if qty > 0 else -1
    realized = position.realized_pnl + (fill.px - position.avg_cost) * closed * direction
    new_qty = qty + delta
    if new_qty == 0:
        avg = ZERO
    elif (new_qty > 0) == (qty > 0):
        avg = position.avg_cost
    else:
        avg = fill.px
    return replace(position, qty=new_qty, avg_cost=avg, realized_pnl=realized, mark_px=fill.px)


def fold_fills(symbol: str, fills: Iterable[FillAmount]) -> Position:
    """The position that a sequence of fills (in fill order) adds up to."""
    position = Position(symbol=symbol)
    for fill in fills:
        position = apply_fill(position, fill)
    return position
