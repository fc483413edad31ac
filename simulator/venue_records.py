"""Records the venue keeps and the caller persists: orders, fills and positions as frozen values.

Takes nothing but values; gives `OrderRecord`, `FillRecord`, `Position` (with `with_fill`, the
one rule for how a fill moves a position and its realized PnL) and `position_from_fills`, which
`store.py` and `Venue.restore` use to rebuild positions from persisted fills.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from fixcore.values import Side

AVG_PX_QUANTUM = Decimal("0.00000001")


def format_decimal(value: Decimal) -> str:
    """A plain decimal string without exponent or trailing zeros (AvgPx(6), avg_px)."""
    text = format(value.quantize(AVG_PX_QUANTUM).normalize(), "f")
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    order_id: str
    account: str
    session_key: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: str
    ord_type: str
    price: Decimal | None
    order_qty: int
    time_in_force: str
    cum_qty: int
    leaves_qty: int
    avg_px: Decimal
    status: str
    priority: int | None  # time priority in the book while resting
    trading_date: str
    created_ns: int
    updated_ns: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRecord:
    exec_id: str
    account: str
    session_key: str
    order_id: str
    cl_ord_id: str
    symbol: str
    side: str
    last_qty: int
    last_px: Decimal
    transact_ns: int
    busted: bool = False
    corrected_by: str | None = None  # the ExecID of the TradeCorrect that changed this fill


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    account: str
    symbol: str
    qty: int  # signed: long > 0, short < 0
    avg_px: Decimal  # average cost of the open quantity; 0 when flat
    realized_pnl: Decimal

    def with_fill(self, side: str, qty: int, price: Decimal) -> Position:
        signed = qty if side == Side.BUY else -qty
        current = self.qty
        if current == 0 or (current > 0) == (signed > 0):
            new_qty = current + signed
            avg = (self.avg_px * abs(current) + price * qty) / abs(new_qty)
            return dataclasses.replace(self, qty=new_qty, avg_px=avg.quantize(AVG_PX_QUANTUM))
        closing = min(abs(signed), abs(current))
        direction = 1 if current > 0 else -1
        realized = self.realized_pnl + (price - self.avg_px) * closing * direction
        new_qty = current + signed
        if new_qty == 0:
            avg_px = Decimal(0)
        elif (new_qty > 0) == (current > 0):
            avg_px = self.avg_px
        else:
            avg_px = price  # flipped through flat: the rest opens at this fill's price
        return dataclasses.replace(self, qty=new_qty, avg_px=avg_px, realized_pnl=realized)


def position_from_fills(account: str, symbol: str, fills: Iterable[FillRecord]) -> Position:
    position = Position(account=account, symbol=symbol, qty=0, avg_px=Decimal(0), realized_pnl=Decimal(0))
    for fill in fills:
        if not fill.busted:
            position = position.with_fill(fill.side, fill.last_qty, fill.last_px)
    return position
