"""The venue's own rules and codes: which statuses are final for it, its reject and request
codes, and the checks of a quantity or a price against an instrument.

Takes FIX field values (strings, `Decimal`) and an `Instrument`; gives the venue's reject reason
and Text(58), or None when the value is acceptable. The order-entry enumerations (Side, OrdType,
TimeInForce, ...) are fixcore's, one definition for both ends of the wire; the codes below are
the venue's own.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from fixcore.values import OrdStatus, OrdType, Side, TimeInForce
from simulator.book import BookSide
from simulator.instruments import Instrument

SIDES = frozenset(side.value for side in Side)
ORD_TYPES = frozenset(ord_type.value for ord_type in OrdType)
TIMES_IN_FORCE = frozenset(tif.value for tif in TimeInForce)


FINAL_STATUSES = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED})


class OrdRejReason(StrEnum):
    UNKNOWN_SYMBOL = "1"
    UNKNOWN_ORDER = "5"
    DUPLICATE_ORDER = "6"
    UNSUPPORTED_ORDER_CHARACTERISTIC = "11"
    INCORRECT_QUANTITY = "13"
    UNKNOWN_ACCOUNT = "15"
    OTHER = "99"


class CxlRejReason(StrEnum):
    TOO_LATE_TO_CANCEL = "0"
    UNKNOWN_ORDER = "1"
    DUPLICATE_CL_ORD_ID = "6"
    OTHER = "99"


class CxlRejResponseTo(StrEnum):
    CANCEL = "1"
    CANCEL_REPLACE = "2"


class MassCancelType(StrEnum):
    SECURITY = "1"
    ALL = "7"


class MassStatusType(StrEnum):
    SECURITY = "1"
    ALL = "7"


BACKGROUND_OWNER = ""  # the `owner` of resting orders placed by the venue's own agents
POS_REQ_RESULT_NOT_AUTHORIZED = "3"  # PosReqResult(728)
POS_REQ_STATUS_REJECTED = "2"  # PosReqStatus(729)
MASS_CANCEL_REJECT_OTHER = "99"  # MassCancelRejectReason(532)


class VenueError(ValueError):
    """An operator request the venue cannot carry out (unknown ExecID, bad correction)."""


def book_side(side: str) -> BookSide:
    """The book side of an accepted order's Side(54): buy bids, sell and sell short offer."""
    return BookSide.BID if side == Side.BUY else BookSide.ASK


def whole_number(value: Decimal | None) -> int | None:
    if value is None or not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)


def quantity_problem(qty: Decimal | None, instrument: Instrument) -> str | None:
    if qty is None:
        return "OrderQty(38) missing"
    whole = whole_number(qty)
    if whole is None:
        return f"OrderQty(38) {qty} is not a whole number"
    if whole <= 0:
        return f"OrderQty(38) {qty} must be positive"
    if whole % instrument.lot_size != 0:
        return f"OrderQty(38) {whole} is not a multiple of the lot size {instrument.lot_size}"
    return None


def limit_price_problem(price: Decimal | None, instrument: Instrument) -> tuple[str, str] | None:
    if price is None:
        return OrdRejReason.OTHER, "limit order without Price(44)"
    if not price.is_finite() or price <= 0:
        return OrdRejReason.OTHER, f"Price(44) {price} must be positive"
    if instrument.to_ticks(price) is None:
        return OrdRejReason.OTHER, f"Price(44) {price} is off the tick grid (tick {instrument.tick_size})"
    return None
