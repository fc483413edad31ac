"""Price-time matching of an incoming order against one `OrderBook`.

Pure: takes the book, the aggressor's side, an optional limit (integer ticks; None for a market
order) and a quantity; consumes resting liquidity best price first, oldest first at each price,
and returns the resulting `Match` values. Trades print at the resting order's price.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.book import BookSide, OrderBook


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    maker_order_id: str
    maker_owner: str
    maker_side: BookSide
    price: int
    qty: int
    maker_leaves: int  # what is left of the resting order after this match


def crosses(aggressor_side: BookSide, limit: int | None, resting_price: int) -> bool:
    if limit is None:
        return True
    if aggressor_side is BookSide.BID:
        return resting_price <= limit
    return resting_price >= limit


def executable_qty(book: OrderBook, aggressor_side: BookSide, limit: int | None, up_to: int) -> int:
    """How much of `up_to` could execute now, without changing the book (for fill-or-kill)."""
    available = 0
    for price, size in book.levels(aggressor_side.opposite):
        if not crosses(aggressor_side, limit, price):
            break
        available += size
        if available >= up_to:
            return up_to
    return available


def match(book: OrderBook, aggressor_side: BookSide, limit: int | None, qty: int) -> list[Match]:
    """Execute up to `qty` against the opposite side; returns the matches in execution order."""
    matches: list[Match] = []
    remaining = qty
    resting_side = aggressor_side.opposite
    while remaining > 0:
        best = book.best(resting_side)
        if best is None or not crosses(aggressor_side, limit, best):
            break
        maker = book.head(resting_side, best)
        traded = min(remaining, maker.qty)
        book.reduce(maker.order_id, traded)
        remaining -= traded
        matches.append(
            Match(
                maker_order_id=maker.order_id,
                maker_owner=maker.owner,
                maker_side=resting_side,
                price=best,
                qty=traded,
                maker_leaves=maker.qty,
            )
        )
    return matches
