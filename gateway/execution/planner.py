"""Target position -> order actions (pure: values in, actions out).

Takes the target and current position, the symbol's working orders and the book's top; gives
`Submit`/`Replace`/`Cancel` actions so that position + working buys - working sells reaches the
target. Two styles:

- passive: a limit at our touch (bid to buy, offer to sell), replaced to follow the touch when
  it moves (at most every `min_replace_interval_ms`);
- marketable: an IOC limit at the far touch plus at most `cap_ticks` ticks (the price cap).

Orders with a request in flight (`pending` not empty) are counted but never touched, and there
are at most `max_working_per_side` working orders per side.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from gateway.decision.config import ExecutionConfig, InstrumentConfig
from gateway.domain.ports import WorkingOrderView

BUY = "1"
SELL = "2"
SELL_SHORT = "5"


@dataclass(frozen=True, slots=True, kw_only=True)
class Submit:
    side: str
    qty: int
    price: Decimal
    tif: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Replace:
    cl_ord_id: str
    side: str
    qty: int  # new OrderQty(38): cum_qty + new leaves
    price: Decimal
    leaves_qty: int  # leaves after the replace


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    cl_ord_id: str
    reason: str


Action = Submit | Replace | Cancel


def side_sign(side: str) -> int:
    return 1 if side == BUY else -1


def plan(
    *,
    target_qty: int,
    position_qty: int,
    working: Sequence[WorkingOrderView],
    bid: Decimal,
    ask: Decimal,
    instrument: InstrumentConfig,
    execution: ExecutionConfig,
    may_reprice: bool,
    max_order_qty: int | None = None,
    max_order_notional: Decimal | None = None,
) -> list[Action]:
    """Actions toward the target. With `max_order_qty` and `max_order_notional` (quantity times
    the order's price), at most that much works on a side at a time: a large target, the safe
    target `flat` of a large position included, is reached in clips instead of being refused by
    the risk check on every decision."""
    needed = target_qty - position_qty
    actions: list[Action] = []
    buys = [order for order in working if order.side == BUY]
    sells = [order for order in working if order.side != BUY]
    if needed == 0:
        actions += [Cancel(cl_ord_id=o.cl_ord_id, reason="at target") for o in working if not o.pending]
        return actions
    side = BUY if needed > 0 else SELL
    same, opposite = (buys, sells) if needed > 0 else (sells, buys)
    actions += [Cancel(cl_ord_id=o.cl_ord_id, reason="opposite side") for o in opposite if not o.pending]

    lot = instrument.lot_size
    wanted = (abs(needed) // lot) * lot  # total leaves wanted on `side`
    if max_order_qty is not None:
        wanted = min(wanted, (max_order_qty // lot) * lot)
    if execution.style == "passive":
        price = bid if side == BUY else ask
        tif = execution.tif
    else:
        cap = instrument.tick_size * execution.cap_ticks
        price = ask + cap if side == BUY else bid - cap
        tif = "3"  # IOC: a marketable order that does not fill must not rest
    if price <= 0:
        return actions
    if max_order_notional is not None:
        wanted = min(wanted, _notional_clip(max_order_notional, price, lot))

    working_leaves = sum(o.leaves_qty for o in same)
    residual = wanted - working_leaves
    adjustable = [o for o in same if not o.pending]
    if residual > 0:
        if len(same) < execution.max_working_per_side:
            actions.append(Submit(side=side, qty=residual, price=price, tif=tif))
            residual = 0
        elif adjustable:
            order = adjustable[0]
            adjustable = adjustable[1:]
            actions.append(_replace(order, order.leaves_qty + residual, price, side))
            residual = 0
    elif residual < 0:
        excess = -residual
        for order in sorted(adjustable, key=lambda o: o.leaves_qty):
            if excess <= 0:
                break
            adjustable.remove(order)
            if order.leaves_qty <= excess:
                actions.append(Cancel(cl_ord_id=order.cl_ord_id, reason="above target"))
                excess -= order.leaves_qty
            else:
                actions.append(_replace(order, order.leaves_qty - excess, price, side))
                excess = 0
    # Follow the touch: re-price passive orders left untouched above.
    if execution.style == "passive" and may_reprice:
        for order in adjustable:
            if order.price != price:
                actions.append(_replace(order, order.leaves_qty, price, side))
    return actions


@functools.lru_cache(maxsize=4096)
def _notional_clip(max_order_notional: Decimal, price: Decimal, lot: int) -> int:
    # Cached: orders are priced on a few hundred ticks, and a Decimal division costs microseconds.
    return int(max_order_notional / price) // lot * lot


def _replace(order: WorkingOrderView, leaves: int, price: Decimal, side: str) -> Replace:
    return Replace(
        cl_ord_id=order.cl_ord_id, side=side, qty=order.cum_qty + leaves, price=price, leaves_qty=leaves
    )
