"""An order as the gateway knows it, and the fill and request records around it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.domain.fix_values import OrdStatus, OrdType, Side, TimeInForce, is_final


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One order chain: opened by a NewOrderSingle(35=D), renamed by each accepted replace."""

    order_key: str  # ClOrdID(11) of the NewOrderSingle
    cl_ord_id: str  # current ClOrdID
    run_id: int
    venue: str
    session: str
    symbol: str
    side: Side
    ord_type: OrdType
    tif: TimeInForce
    price: Decimal | None
    order_qty: int
    status: OrdStatus = OrdStatus.PENDING_NEW
    order_id: str | None = None
    cum_qty: int = 0
    leaves_qty: int = 0
    avg_px: Decimal | None = None
    pending: str = "new"  # "" | "new" | "cancel" | "replace"
    decision_id: str | None = None
    last_text: str | None = None
    created_ns: int = 0
    updated_ns: int = 0

    @property
    def is_final(self) -> bool:
        return is_final(self.status)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """A ClOrdID the gateway sent: D, F, G or H."""

    cl_ord_id: str
    order_key: str
    msg_type: str
    orig_cl_ord_id: str | None = None
    order_qty: int | None = None
    price: Decimal | None = None
    created_ns: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    session: str
    exec_id: str
    order_key: str
    cl_ord_id: str
    order_id: str | None
    symbol: str
    side: Side
    last_qty: int
    last_px: Decimal
    busted: bool = False
    transact_time: str | None = None
    recv_ns: int = 0
    trade_date: str = ""  # the trading day, YYYYMMDD (ExecIDs are unique only within one)
    inferred: bool = False  # booked from a report's CumQty(14): no fill report was seen
    evidence_report_id: int | None = None  # for an inferred fill: the report it came from
    fill_id: int | None = None  # the ledger row, when read back
