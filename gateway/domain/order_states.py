"""The order state table: which ExecutionReport(35=8) may arrive in which order state.

Data first: `ORDER_STATE_TABLE[(current OrdStatus, ExecType(150))]` maps the OrdStatus(39) the
report carries to the state the order is in afterwards. The rows follow the FIX 4.4 order state
change matrices (FIX 4.4 Volume 4, Appendix D): A new order, B cancel, C cancel/replace, D fills,
busts and corrections, E unsolicited cancels, expiries and DoneForDay, F status requests.

A report whose resulting state differs from the status it carries is a *late* report: it was
overtaken by a later one (a New arriving after the first fill, a partial fill arriving after the
final fill). Its fill still counts; the order does not move backwards.

`apply_execution` is the one function that reads the table. A pair not in the table, or a carried
status not in the row, is a misfit: the caller records it (with the reason) and adopts the venue's
view unless the order is already final, because the venue is the authority on its own book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from gateway.domain.fix_values import ExecType, OrdStatus, is_final

S = OrdStatus
E = ExecType

_STATUS_REPLY_LIVE: Final = {
    S.PENDING_NEW: S.PENDING_NEW,
    S.NEW: S.NEW,
    S.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    S.FILLED: S.FILLED,
    S.CANCELED: S.CANCELED,
    S.REJECTED: S.REJECTED,
    S.EXPIRED: S.EXPIRED,
    S.DONE_FOR_DAY: S.DONE_FOR_DAY,
    S.PENDING_CANCEL: S.PENDING_CANCEL,
    S.PENDING_REPLACE: S.PENDING_REPLACE,
}

# (current state, ExecType) -> {OrdStatus carried by the report: resulting state}
ORDER_STATE_TABLE: Final[Mapping[tuple[OrdStatus, ExecType], Mapping[OrdStatus, OrdStatus]]] = {
    # --- Pending New: sent, not yet acknowledged (A.1, A.2, A.3) ---
    (S.PENDING_NEW, E.PENDING_NEW): {S.PENDING_NEW: S.PENDING_NEW},
    (S.PENDING_NEW, E.NEW): {S.NEW: S.NEW},
    (S.PENDING_NEW, E.REJECTED): {S.REJECTED: S.REJECTED},
    # an aggressive order may be reported filled before (or without) its New
    (S.PENDING_NEW, E.TRADE): {S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED},
    (S.PENDING_NEW, E.CANCELED): {S.CANCELED: S.CANCELED},
    (S.PENDING_NEW, E.EXPIRED): {S.EXPIRED: S.EXPIRED},
    (S.PENDING_NEW, E.PENDING_CANCEL): {S.PENDING_CANCEL: S.PENDING_CANCEL},
    (S.PENDING_NEW, E.ORDER_STATUS): _STATUS_REPLY_LIVE,
    # --- New (A.1.a, B.1, C.1, E.1) ---
    (S.NEW, E.NEW): {S.NEW: S.NEW},  # a repeated acknowledgement under a new ExecID
    (S.NEW, E.PENDING_NEW): {S.PENDING_NEW: S.NEW},  # late
    (S.NEW, E.TRADE): {S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED},
    (S.NEW, E.CANCELED): {S.CANCELED: S.CANCELED},  # requested or unsolicited
    (S.NEW, E.PENDING_CANCEL): {S.PENDING_CANCEL: S.PENDING_CANCEL},
    (S.NEW, E.PENDING_REPLACE): {S.PENDING_REPLACE: S.PENDING_REPLACE},
    (S.NEW, E.REPLACED): {S.NEW: S.NEW, S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED},
    (S.NEW, E.EXPIRED): {S.EXPIRED: S.EXPIRED},
    (S.NEW, E.DONE_FOR_DAY): {S.DONE_FOR_DAY: S.DONE_FOR_DAY},
    (S.NEW, E.RESTATED): {S.NEW: S.NEW},
    (S.NEW, E.ORDER_STATUS): _STATUS_REPLY_LIVE,
    # --- Partially filled (D.1, B.1.b, C.1.b) ---
    (S.PARTIALLY_FILLED, E.TRADE): {S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED},
    (S.PARTIALLY_FILLED, E.NEW): {S.NEW: S.PARTIALLY_FILLED},  # late New
    (S.PARTIALLY_FILLED, E.PENDING_NEW): {S.PENDING_NEW: S.PARTIALLY_FILLED},  # late
    (S.PARTIALLY_FILLED, E.CANCELED): {S.CANCELED: S.CANCELED},
    (S.PARTIALLY_FILLED, E.PENDING_CANCEL): {S.PENDING_CANCEL: S.PENDING_CANCEL},
    (S.PARTIALLY_FILLED, E.PENDING_REPLACE): {S.PENDING_REPLACE: S.PENDING_REPLACE},
    (S.PARTIALLY_FILLED, E.REPLACED): {S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED},
    (S.PARTIALLY_FILLED, E.EXPIRED): {S.EXPIRED: S.EXPIRED},
    (S.PARTIALLY_FILLED, E.DONE_FOR_DAY): {S.DONE_FOR_DAY: S.DONE_FOR_DAY},
    (S.PARTIALLY_FILLED, E.RESTATED): {S.PARTIALLY_FILLED: S.PARTIALLY_FILLED},
    (S.PARTIALLY_FILLED, E.TRADE_CORRECT): {
        S.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        S.FILLED: S.FILLED,
    },
    (S.PARTIALLY_FILLED, E.TRADE_CANCEL): {S.NEW: S.NEW, S.PARTIALLY_FILLED: S.PARTIALLY_FILLED},
    (S.PARTIALLY_FILLED, E.ORDER_STATUS): _STATUS_REPLY_LIVE,
    # --- Filled (D.1.a, D.2 busts and corrections) ---
    (S.FILLED, E.TRADE): {S.PARTIALLY_FILLED: S.FILLED, S.FILLED: S.FILLED},  # out of order
    (S.FILLED, E.NEW): {S.NEW: S.FILLED},  # late
    (S.FILLED, E.PENDING_NEW): {S.PENDING_NEW: S.FILLED},  # late
    (S.FILLED, E.TRADE_CORRECT): {S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED},
    # a bust reopens the busted quantity or leaves the order done, as the venue decides
    (S.FILLED, E.TRADE_CANCEL): {
        S.NEW: S.NEW,
        S.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        S.FILLED: S.FILLED,
        S.CANCELED: S.CANCELED,
        S.EXPIRED: S.EXPIRED,
        S.DONE_FOR_DAY: S.DONE_FOR_DAY,
    },
    (S.FILLED, E.ORDER_STATUS): {S.FILLED: S.FILLED},
    # --- Pending Cancel (B.1.a, B.1.c: a fill may beat the cancel) ---
    (S.PENDING_CANCEL, E.PENDING_CANCEL): {S.PENDING_CANCEL: S.PENDING_CANCEL},
    (S.PENDING_CANCEL, E.CANCELED): {S.CANCELED: S.CANCELED},
    (S.PENDING_CANCEL, E.TRADE): {
        S.PENDING_CANCEL: S.PENDING_CANCEL,
        S.PARTIALLY_FILLED: S.PENDING_CANCEL,
        S.FILLED: S.FILLED,
    },
    (S.PENDING_CANCEL, E.NEW): {S.NEW: S.PENDING_CANCEL},  # late
    (S.PENDING_CANCEL, E.EXPIRED): {S.EXPIRED: S.EXPIRED},
    (S.PENDING_CANCEL, E.TRADE_CORRECT): {S.PENDING_CANCEL: S.PENDING_CANCEL},
    (S.PENDING_CANCEL, E.TRADE_CANCEL): {S.PENDING_CANCEL: S.PENDING_CANCEL},
    (S.PENDING_CANCEL, E.ORDER_STATUS): _STATUS_REPLY_LIVE,
    # --- Pending Replace (C.1.a, C.1.c) ---
    (S.PENDING_REPLACE, E.PENDING_REPLACE): {S.PENDING_REPLACE: S.PENDING_REPLACE},
    (S.PENDING_REPLACE, E.REPLACED): {
        S.NEW: S.NEW,
        S.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        S.FILLED: S.FILLED,
    },
    (S.PENDING_REPLACE, E.TRADE): {
        S.PENDING_REPLACE: S.PENDING_REPLACE,
        S.PARTIALLY_FILLED: S.PENDING_REPLACE,
        S.FILLED: S.FILLED,
    },
    (S.PENDING_REPLACE, E.NEW): {S.NEW: S.PENDING_REPLACE},  # late
    (S.PENDING_REPLACE, E.CANCELED): {S.CANCELED: S.CANCELED},  # unsolicited
    (S.PENDING_REPLACE, E.EXPIRED): {S.EXPIRED: S.EXPIRED},
    (S.PENDING_REPLACE, E.ORDER_STATUS): _STATUS_REPLY_LIVE,
    # --- Canceled (B.1.a; reports overtaken by the cancel; busts after it) ---
    (S.CANCELED, E.CANCELED): {S.CANCELED: S.CANCELED},  # repeated under a new ExecID
    (S.CANCELED, E.TRADE): {
        S.PARTIALLY_FILLED: S.CANCELED,
        S.PENDING_CANCEL: S.CANCELED,
        S.CANCELED: S.CANCELED,
    },
    (S.CANCELED, E.NEW): {S.NEW: S.CANCELED},  # late
    (S.CANCELED, E.PENDING_NEW): {S.PENDING_NEW: S.CANCELED},  # late
    (S.CANCELED, E.PENDING_CANCEL): {S.PENDING_CANCEL: S.CANCELED},  # late
    (S.CANCELED, E.PENDING_REPLACE): {S.PENDING_REPLACE: S.CANCELED},  # late
    (S.CANCELED, E.REPLACED): {S.NEW: S.CANCELED, S.PARTIALLY_FILLED: S.CANCELED},  # late
    (S.CANCELED, E.TRADE_CORRECT): {S.CANCELED: S.CANCELED},
    (S.CANCELED, E.TRADE_CANCEL): {S.CANCELED: S.CANCELED},
    (S.CANCELED, E.ORDER_STATUS): {S.CANCELED: S.CANCELED},
    # --- Expired: IOC remainder, end of day (E.2) ---
    (S.EXPIRED, E.EXPIRED): {S.EXPIRED: S.EXPIRED},
    (S.EXPIRED, E.TRADE): {S.PARTIALLY_FILLED: S.EXPIRED, S.EXPIRED: S.EXPIRED},  # late
    (S.EXPIRED, E.NEW): {S.NEW: S.EXPIRED},  # late
    (S.EXPIRED, E.PENDING_NEW): {S.PENDING_NEW: S.EXPIRED},  # late
    (S.EXPIRED, E.TRADE_CORRECT): {S.EXPIRED: S.EXPIRED},
    (S.EXPIRED, E.TRADE_CANCEL): {S.EXPIRED: S.EXPIRED},
    (S.EXPIRED, E.ORDER_STATUS): {S.EXPIRED: S.EXPIRED},
    # --- Done for day: no more fills today, but a GTC/GTD order works again tomorrow (E.3) ---
    (S.DONE_FOR_DAY, E.DONE_FOR_DAY): {S.DONE_FOR_DAY: S.DONE_FOR_DAY},
    (S.DONE_FOR_DAY, E.NEW): {S.NEW: S.NEW},  # restated as working on the next trading day
    (S.DONE_FOR_DAY, E.RESTATED): {
        S.DONE_FOR_DAY: S.DONE_FOR_DAY,
        S.NEW: S.NEW,
        S.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    },
    (S.DONE_FOR_DAY, E.TRADE): {S.PARTIALLY_FILLED: S.PARTIALLY_FILLED, S.FILLED: S.FILLED},
    (S.DONE_FOR_DAY, E.CANCELED): {S.CANCELED: S.CANCELED},
    (S.DONE_FOR_DAY, E.PENDING_CANCEL): {S.PENDING_CANCEL: S.PENDING_CANCEL},
    (S.DONE_FOR_DAY, E.PENDING_REPLACE): {S.PENDING_REPLACE: S.PENDING_REPLACE},
    (S.DONE_FOR_DAY, E.REPLACED): {
        S.DONE_FOR_DAY: S.DONE_FOR_DAY,
        S.NEW: S.NEW,
        S.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    },
    (S.DONE_FOR_DAY, E.EXPIRED): {S.EXPIRED: S.EXPIRED},
    (S.DONE_FOR_DAY, E.TRADE_CORRECT): {S.DONE_FOR_DAY: S.DONE_FOR_DAY},
    (S.DONE_FOR_DAY, E.TRADE_CANCEL): {S.DONE_FOR_DAY: S.DONE_FOR_DAY},
    (S.DONE_FOR_DAY, E.ORDER_STATUS): _STATUS_REPLY_LIVE,
    # --- Rejected (A.1.b) ---
    (S.REJECTED, E.REJECTED): {S.REJECTED: S.REJECTED},
    (S.REJECTED, E.ORDER_STATUS): {S.REJECTED: S.REJECTED},
}


# Reports whose carried OrdStatus(39) differs from the resulting state only because one of our
# cancel or replace requests is still pending at the venue: a fill reported PartiallyFilled while
# the order is PendingCancel (B.1.c). They are current, not late: their CumQty(14) and
# LeavesQty(151) are the order's quantities now, and the pending state holds until the request is
# answered (Canceled, Replaced, or OrderCancelReject(35=9), which then restores the status).
HELD_BY_PENDING_REQUEST: Final[frozenset[tuple[OrdStatus, ExecType, OrdStatus]]] = frozenset(
    {
        (S.PENDING_CANCEL, E.TRADE, S.PARTIALLY_FILLED),
        (S.PENDING_REPLACE, E.TRADE, S.PARTIALLY_FILLED),
    }
)


def effective_status(
    exec_type: ExecType, reported: OrdStatus, *, cum_qty: int, leaves_qty: int, order_qty: int
) -> OrdStatus:
    """The OrdStatus(39) a report means. Some brokers send the completing fill as ExecType=F
    with OrdStatus=1 and LeavesQty(151)=0, and the terminal Filled only on a following ExecType=I
    report: quantities that say the order is done make it Filled now."""
    if (
        exec_type is E.TRADE
        and reported is S.PARTIALLY_FILLED
        and leaves_qty == 0
        and order_qty > 0
        and cum_qty >= order_qty
    ):
        return S.FILLED
    return reported


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """What one ExecutionReport does to an order's state."""

    status: OrdStatus  # the order's state afterwards
    fits: bool  # the report fits the table
    late: bool = False  # it fits, but was overtaken by a later report: no step backwards
    reason: str = ""  # why it does not fit (empty when it fits)


def apply_execution(current: OrdStatus, exec_type: ExecType, reported: OrdStatus) -> Transition:
    """Apply one ExecutionReport(35=8) to an order in state `current`."""
    row = ORDER_STATE_TABLE.get((current, exec_type))
    if row is None:
        return Transition(
            status=current if is_final(current) else reported,
            fits=False,
            reason=f"ExecType(150)={exec_type.value} ({exec_type.name}) is not allowed "
            f"in state {current.name}",
        )
    resulting = row.get(reported)
    if resulting is None:
        return Transition(
            status=current if is_final(current) else reported,
            fits=False,
            reason=f"OrdStatus(39)={reported.value} ({reported.name}) does not follow "
            f"ExecType(150)={exec_type.value} ({exec_type.name}) in state {current.name}",
        )
    late = resulting is not reported and (current, exec_type, reported) not in HELD_BY_PENDING_REQUEST
    return Transition(status=resulting, fits=True, late=late)
