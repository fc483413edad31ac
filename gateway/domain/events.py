"""Events from the venue, as pure values (built by gateway/fix/codec.py from FIX messages)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from gateway.domain.fix_values import ExecType, OrdStatus, Side


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionReported:
    """One ExecutionReport(35=8), FIX fields in snake case of their tag names."""

    session: str  # the session key it arrived on
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str
    symbol: str
    side: Side
    order_qty: int | None  # OrderQty(38): after a replace, the new quantity
    price: Decimal | None  # Price(44)
    last_qty: int
    last_px: Decimal | None
    cum_qty: int
    leaves_qty: int
    avg_px: Decimal | None
    exec_ref_id: str | None
    text: str | None
    poss_dup: bool
    transact_time: str | None  # venue time, as sent (TransactTime(60))
    recv_ns: int  # our receive time
    seq_num: int
    raw: str
    trade_date: str | None = None  # TradeDate(75), YYYYMMDD, when the venue sends it

    def trading_day(self) -> str:
        """The trading day the report belongs to, YYYYMMDD: TradeDate(75), else the date of
        TransactTime(60), else of the receive time (UTC). A resent copy carries the same
        TransactTime, so it falls on the same day as the original."""
        if self.trade_date and len(self.trade_date) == 8 and self.trade_date.isdigit():
            return self.trade_date
        stamp = self.transact_time or ""
        if len(stamp) >= 8 and stamp[:8].isdigit():
            return stamp[:8]
        return time.strftime("%Y%m%d", time.gmtime(self.recv_ns // 1_000_000_000))


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRejected:
    """One OrderCancelReject(35=9)."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str | None
    ord_status: OrdStatus | None
    response_to: str  # CxlRejResponseTo(434): "1" cancel, "2" cancel/replace
    reason: str | None  # CxlRejReason(102)
    text: str | None
    recv_ns: int
    seq_num: int
    raw: str
