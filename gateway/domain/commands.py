"""Commands the order manager gives the venue, as values: what to send, not how it is spelled on
the wire. The FIX edge (gateway/fix/order_encoding.py) turns each into its FIX message:
NewOrderSingle(35=D), OrderCancelRequest(35=F), OrderCancelReplaceRequest(35=G),
OrderStatusRequest(35=H).

NamedTuples rather than frozen dataclasses: one is built for every order on the callback path,
and a frozen dataclass's field-by-field __init__ costs about a microsecond more. They are as
immutable."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from gateway.domain.fix_values import OrdType, Side, TimeInForce


class SubmitOrder(NamedTuple):
    cl_ord_id: str
    symbol: str
    side: Side
    order_qty: int
    ord_type: OrdType
    price: Decimal | None  # limit orders only
    time_in_force: TimeInForce
    transact_ns: int


class CancelOrder(NamedTuple):
    cl_ord_id: str  # the cancel request's own ClOrdID(11)
    orig_cl_ord_id: str
    order_id: str | None
    symbol: str
    side: Side
    order_qty: int
    transact_ns: int


class ReplaceOrder(NamedTuple):
    cl_ord_id: str  # the replace request's own ClOrdID(11)
    orig_cl_ord_id: str
    order_id: str | None
    symbol: str
    side: Side
    order_qty: int  # the new OrderQty(38)
    ord_type: OrdType
    price: Decimal | None
    time_in_force: TimeInForce
    transact_ns: int


class RequestStatus(NamedTuple):
    cl_ord_id: str
    order_id: str | None
    symbol: str
    side: Side


OrderCommand = SubmitOrder | CancelOrder | ReplaceOrder | RequestStatus
