"""Messages to the venue: one frozen value per client request, read off the wire by
`fixmessages.py` and handed to `Venue` (NewOrderSingle(35=D), OrderCancelRequest(35=F),
OrderCancelReplaceRequest(35=G), OrderStatusRequest(35=H), OrderMassStatusRequest(35=AF),
OrderMassCancelRequest(35=q), RequestForPositions(35=AN)).

Fields keep the wire's values (strings, `Decimal` quantities and prices, None for a field that
was absent): the venue, not the parser, decides what is acceptable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fixcore.values import OrdType, TimeInForce


@dataclass(frozen=True, slots=True, kw_only=True)
class NewOrderRequest:
    session_key: str
    account: str
    cl_ord_id: str
    symbol: str
    side: str
    ord_type: str
    order_qty: Decimal | None
    price: Decimal | None = None
    time_in_force: str = TimeInForce.DAY


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequest:
    session_key: str
    account: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str | None = None
    symbol: str = ""
    side: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceRequest:
    session_key: str
    account: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_qty: Decimal | None
    price: Decimal | None
    ord_type: str = OrdType.LIMIT
    order_id: str | None = None
    symbol: str = ""
    side: str = ""
    time_in_force: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRequest:
    session_key: str
    account: str
    cl_ord_id: str
    order_id: str | None = None
    symbol: str = ""
    side: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MassStatusRequest:
    session_key: str
    account: str
    mass_status_req_id: str
    mass_status_req_type: str
    symbol: str | None = None
    side: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MassCancelRequest:
    session_key: str
    account: str
    cl_ord_id: str
    mass_cancel_request_type: str
    symbol: str | None = None
    side: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRequest:
    session_key: str
    account: str
    pos_req_id: str
    pos_req_type: str = "0"
