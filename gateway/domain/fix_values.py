"""The FIX vocabulary as the gateway uses it: the shared enumerations (fixcore.values) and the
gateway's own rule on them, which order statuses are final for its order manager.

Each enum's value is the exact string that travels in the tag, so `OrdStatus(msg.getField(39))`
parses and `status.value` serialises.
"""

from __future__ import annotations

from fixcore.values import BusinessRejectReason, ExecType, MsgType, OrdStatus, OrdType, Side, TimeInForce

__all__ = [
    "FINAL_STATUSES",
    "BusinessRejectReason",
    "ExecType",
    "MsgType",
    "OrdStatus",
    "OrdType",
    "Side",
    "TimeInForce",
    "is_final",
]

# DoneForDay(3) is not final: it says no more fills *today*; a GTC or GTD order at OrdStatus 3
# works again the next trading day, must be reloaded at restart, asked about at logon, counted
# against limits and stay cancellable (FIX 4.4 Vol 4, OrdStatus "Done for day").
FINAL_STATUSES = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED})


def is_final(status: OrdStatus) -> bool:
    """No further fills can happen to an order in this status (busts and corrections aside)."""
    return status in FINAL_STATUSES
