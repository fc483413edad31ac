"""Order commands -> FIX 4.4 body fields (pure: no quickfix, no I/O).

Takes a `gateway.domain.commands` value; gives MsgType(35) and the body fields in order, which
`codec.build_message` turns into a quickfix.Message. Prices are written exactly (Decimal, no
exponent), timestamps as UTCTimestamp with milliseconds.
"""

from __future__ import annotations

import functools
from decimal import Decimal

from fixcore.timestamps import utc_timestamp
from gateway.domain.commands import CancelOrder, OrderCommand, ReplaceOrder, RequestStatus, SubmitOrder
from gateway.domain.fix_values import MsgType, OrdType

Fields = list[tuple[int, str]]


@functools.lru_cache(maxsize=4096)
def price_text(price: Decimal) -> str:
    # Cached: orders are priced on a few hundred ticks, and normalize() costs microseconds.
    return format(price.normalize(), "f") if price == price.to_integral() else format(price, "f")


def _price_and_time_in_force(fields: Fields, command: SubmitOrder | ReplaceOrder) -> None:
    """Price(44) of a limit order, then TimeInForce(59): the tail of a D and of a G."""
    if command.price is not None and command.ord_type is OrdType.LIMIT:
        fields.append((44, price_text(command.price)))
    fields.append((59, command.time_in_force.value))


def encode(command: OrderCommand) -> tuple[str, Fields]:
    """(MsgType(35), body fields) of one command."""
    if isinstance(command, SubmitOrder):
        fields: Fields = [
            (11, command.cl_ord_id),
            (55, command.symbol),
            (54, command.side.value),
            (60, utc_timestamp(command.transact_ns)),
            (38, str(command.order_qty)),
            (40, command.ord_type.value),
        ]
        _price_and_time_in_force(fields, command)
        return MsgType.NEW_ORDER_SINGLE, fields
    if isinstance(command, CancelOrder):
        fields = [(41, command.orig_cl_ord_id), (11, command.cl_ord_id)]
        if command.order_id:
            fields.append((37, command.order_id))
        fields += [
            (55, command.symbol),
            (54, command.side.value),
            (60, utc_timestamp(command.transact_ns)),
            (38, str(command.order_qty)),
        ]
        return MsgType.ORDER_CANCEL_REQUEST, fields
    if isinstance(command, ReplaceOrder):
        fields = [(41, command.orig_cl_ord_id), (11, command.cl_ord_id)]
        if command.order_id:
            fields.append((37, command.order_id))
        fields += [
            (55, command.symbol),
            (54, command.side.value),
            (60, utc_timestamp(command.transact_ns)),
            (38, str(command.order_qty)),
            (40, command.ord_type.value),
        ]
        _price_and_time_in_force(fields, command)
        return MsgType.ORDER_CANCEL_REPLACE_REQUEST, fields
    if isinstance(command, RequestStatus):
        fields = [(11, command.cl_ord_id)]
        if command.order_id:
            fields.append((37, command.order_id))
        fields += [(55, command.symbol), (54, command.side.value)]
        return MsgType.ORDER_STATUS_REQUEST, fields
    raise TypeError(f"not an order command: {command!r}")
