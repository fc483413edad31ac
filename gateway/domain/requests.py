"""The pending-request table: what becomes of a request the gateway sent and the venue has not
answered yet.

An order carries at most one request in flight (`Order.pending`: "new", "cancel" or "replace").
While it is in flight, `cancel()`, `replace()` and the planner leave the order alone, so the mark
must always find its way back: by an answer, by a failed send, by a status reply that shows the
venue never got it, or by a timeout that first asks the venue (OrderStatusRequest(35=H)) and then
gives up waiting. Data first, as the order state table: `REQUEST_TABLE[(phase, event)]` gives the
phase afterwards (None: the request is no longer pending) and the state its `order_requests` row
takes (None: unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class RequestPhase(StrEnum):
    """Where a pending request stands."""

    AWAITING = "awaiting"  # sent (or written ahead before a crash), no answer yet
    STATUS_ASKED = "status_asked"  # timed out: an OrderStatusRequest(35=H) went out about it


class RequestEvent(StrEnum):
    """What can happen to a pending request."""

    ACKNOWLEDGED = "acknowledged"  # PendingCancel / PendingReplace: the venue has it, still pending
    ACCEPTED = "accepted"  # New (of a new order), Canceled, Replaced
    REJECTED = "rejected"  # OrderCancelReject(35=9), BusinessMessageReject(35=j), Reject(35=3)
    NOT_SENT = "not_sent"  # QuickFIX refused to send it: the venue will never see it
    UNKNOWN_AT_VENUE = "unknown_at_venue"  # a status reply shows the order without the request
    ORDER_ENDED = "order_ended"  # the order became final (filled, expired...): nothing to wait for
    TIMED_OUT = "timed_out"  # no answer within the timeout


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestStep:
    phase: RequestPhase | None  # None: no longer pending, the order is free for a new request
    row_state: str | None  # the order_requests row's new state; None leaves it as it is
    ask_status: bool = False  # send OrderStatusRequest(35=H) about the order now


P = RequestPhase
V = RequestEvent
_CLEARED_BY_ANSWER: Final = {
    V.ACCEPTED: RequestStep(phase=None, row_state="accepted"),
    V.REJECTED: RequestStep(phase=None, row_state="rejected"),
    V.NOT_SENT: RequestStep(phase=None, row_state="unsent"),
    V.UNKNOWN_AT_VENUE: RequestStep(phase=None, row_state="lost"),
    V.ORDER_ENDED: RequestStep(phase=None, row_state="moot"),
}

REQUEST_TABLE: Final[Mapping[tuple[RequestPhase, RequestEvent], RequestStep]] = {
    **{(P.AWAITING, event): step for event, step in _CLEARED_BY_ANSWER.items()},
    **{(P.STATUS_ASKED, event): step for event, step in _CLEARED_BY_ANSWER.items()},
    # the venue has it: wait again, a fresh timeout from now
    (P.AWAITING, V.ACKNOWLEDGED): RequestStep(phase=P.AWAITING, row_state=None),
    (P.STATUS_ASKED, V.ACKNOWLEDGED): RequestStep(phase=P.AWAITING, row_state=None),
    # first timeout: ask the venue what it has
    (P.AWAITING, V.TIMED_OUT): RequestStep(phase=P.STATUS_ASKED, row_state="in_doubt", ask_status=True),
    # the status request went unanswered too: stop waiting, so the order can be cancelled again
    # (a second cancel the venue already has is answered with OrderCancelReject: harmless)
    (P.STATUS_ASKED, V.TIMED_OUT): RequestStep(phase=None, row_state="timed_out"),
}


def step_request(phase: RequestPhase, event: RequestEvent) -> RequestStep:
    """The one function that reads the table; every (phase, event) pair is in it."""
    return REQUEST_TABLE[(phase, event)]
