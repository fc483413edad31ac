"""Pre-trade risk checks: values in, a verdict out (a denial is a value with a reason).

Checks, in order: kill switch, max order quantity, max notional per order, and max position
counting what is already working on the same side (so a burst of orders cannot step past it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from gateway.domain.positions import moves_toward_zero

ALLOWED: Final = "ok"


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    max_order_qty: int
    max_position_qty: int
    max_notional: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskVerdict:
    allowed: bool
    reason: str  # ALLOWED, or why not


_OK: Final = RiskVerdict(allowed=True, reason=ALLOWED)


def check_order(
    *,
    limits: RiskLimits,
    kill_switch: bool,
    side_sign: int,  # +1 buy, -1 sell
    qty: int,
    price: Decimal,
    position_qty: int,
    working_same_side_qty: int,  # leaves of other working orders on this side
) -> RiskVerdict:
    """Verdict for sending (or replacing up to) `qty` on one side at `price`."""
    if kill_switch:
        return RiskVerdict(allowed=False, reason="kill switch is on")
    if qty <= 0:
        return RiskVerdict(allowed=False, reason=f"quantity {qty} is not positive")
    if qty > limits.max_order_qty:
        return RiskVerdict(
            allowed=False, reason=f"quantity {qty} exceeds max_order_qty {limits.max_order_qty}"
        )
    notional = price * qty
    if notional > limits.max_notional:
        return RiskVerdict(
            allowed=False, reason=f"notional {notional} exceeds max_notional {limits.max_notional}"
        )
    worst_position = position_qty + side_sign * (working_same_side_qty + qty)
    if abs(worst_position) > limits.max_position_qty and not moves_toward_zero(position_qty, worst_position):
        return RiskVerdict(
            allowed=False,
            reason=f"position would reach {worst_position}, "
            f"beyond max_position_qty {limits.max_position_qty}",
        )
    return _OK
