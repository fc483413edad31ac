"""The order manager's limits, as a pure check: values in, a refusal reason out ("" to pass).

Every order-changing command goes through it, a new order and a replace alike (a replace with its
new remaining quantity in place of what the order has working now). An order that moves the
position toward zero passes the position limit however far over it the position is, so a
position over its limit can always be reduced, in steps of `max_order_qty` (the same rule as
the decision path's `check_order`, through `moves_toward_zero`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from gateway.config import LimitsSection
from gateway.domain.fix_values import OrdType
from gateway.domain.positions import moves_toward_zero


def order_refusal(
    limits: LimitsSection,
    *,
    side_sign: int,  # +1 buy, -1 sell
    qty: int,  # the quantity that will be working: a new order's, or a replace's new remaining
    order_qty: int,  # the order's total OrderQty(38) (for a replace: the new one)
    ord_type: OrdType,
    price: Decimal | None,
    open_orders: int,  # live orders, the replaced one excluded
    counts_as_new: bool,  # False for a replace: it does not open another order
    position_qty: int,
    working_same_side_qty: int,  # leaves of other live orders on this symbol and side
) -> str:
    """Why the order may not go, or "" if it may."""
    if qty <= 0:
        return f"quantity must be positive, got {qty}"
    if order_qty > limits.max_order_qty:
        return f"quantity {order_qty} exceeds max_order_qty {limits.max_order_qty}"
    if ord_type is OrdType.LIMIT:
        try:
            if price is None or not price.is_finite() or price <= 0:
                return "a limit order needs a positive price"
        except InvalidOperation:
            return "a limit order needs a positive price"
    if counts_as_new and open_orders >= limits.max_open_orders:
        return f"{open_orders} open orders reached max_open_orders"
    worst = position_qty + side_sign * (working_same_side_qty + qty)
    if abs(worst) > limits.max_position_qty and not moves_toward_zero(position_qty, worst):
        return f"position could reach {worst}, beyond max_position_qty {limits.max_position_qty}"
    return ""
