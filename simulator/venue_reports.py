"""Messages from the venue: what one request (or one batch of background activity) gives back.

`VenueResult` holds what to persist (records), what to send (execution reports and the other
replies, in send order; `fixmessages.py` writes them as FIX) and what to publish as market data
(`MarketDataEntry`, each with its per-symbol RptSeq(83); `marketdata.py` publishes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from simulator.venue_records import FillRecord, OrderRecord, Position


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionReportOut:
    session_key: str
    account: str
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    exec_id: str
    exec_type: str
    ord_status: str
    symbol: str
    side: str
    ord_type: str | None
    price: Decimal | None
    order_qty: int
    time_in_force: str | None
    leaves_qty: int
    cum_qty: int
    avg_px: Decimal
    transact_ns: int
    last_qty: int | None = None
    last_px: Decimal | None = None
    text: str = ""
    ord_rej_reason: str | None = None
    exec_ref_id: str | None = None
    mass_status_req_id: str | None = None
    tot_num_reports: int | None = None
    last_rpt_requested: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRejectOut:
    session_key: str
    account: str
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str
    ord_status: str
    response_to: str
    reason: str
    text: str
    transact_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MassCancelReportOut:
    session_key: str
    account: str
    cl_ord_id: str
    order_id: str
    request_type: str
    response: str  # MassCancelResponse(531): 0 rejected, else the request type
    reject_reason: str | None
    total_affected: int
    symbol: str | None
    side: str | None
    text: str
    transact_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionAckOut:
    session_key: str
    account: str
    pos_req_id: str
    pos_maint_rpt_id: str
    total_num_reports: int
    result: str  # PosReqResult(728)
    status: str  # PosReqStatus(729)
    text: str
    clearing_business_date: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionReportOut:
    session_key: str
    account: str
    pos_req_id: str
    pos_maint_rpt_id: str
    total_num_reports: int
    symbol: str
    long_qty: int
    short_qty: int
    settl_price: Decimal
    realized_pnl: Decimal
    clearing_business_date: str


OutboundMessage = (
    ExecutionReportOut | CancelRejectOut | MassCancelReportOut | PositionAckOut | PositionReportOut
)


class MDEntryType(StrEnum):
    BID = "0"
    OFFER = "1"
    TRADE = "2"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketDataEntry:
    """One MarketDataIncrementalRefresh(35=X) entry: a level's new aggregate size, or a trade."""

    symbol: str
    entry_type: str  # MDEntryType(269)
    action: str  # MDUpdateAction(279)
    price: int  # ticks
    size: int
    rpt_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot:
    symbol: str
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    last_trade: tuple[int, int] | None  # (price ticks, qty)
    rpt_seq: int


@dataclass(slots=True)
class VenueResult:
    """Everything one request (or one batch of background activity) changed, in order."""

    messages: list[OutboundMessage] = field(default_factory=list)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    cl_ord_ids: list[tuple[str, str, str]] = field(default_factory=list)  # (account, cl_ord_id, order_id)
    fills: dict[str, FillRecord] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    market_data: list[MarketDataEntry] = field(default_factory=list)
    new_client_fills: list[str] = field(default_factory=list)  # ExecIDs of fills made by this result
    refusals: list[str] = field(default_factory=list)  # a session reached for what is not its own

    @property
    def needs_persisting(self) -> bool:
        return bool(self.orders or self.cl_ord_ids or self.fills or self.positions)

    def extend(self, other: VenueResult) -> None:
        self.messages.extend(other.messages)
        self.orders.update(other.orders)
        self.cl_ord_ids.extend(other.cl_ord_ids)
        self.fills.update(other.fills)
        self.positions.update(other.positions)
        self.market_data.extend(other.market_data)
        self.new_client_fills.extend(other.new_client_fills)
        self.refusals.extend(other.refusals)
