"""The exchange's rules: orders, executions, positions, cancel/replace, mass requests.

Pure: takes request values (already read off the wire by `acceptor.py`) and returns a
`VenueResult` holding what to persist (orders, ClOrdIDs, fills, positions), what to send
(execution reports and the other replies, in send order) and what to publish as market data
(book level changes and trades, each with its per-symbol RptSeq). Nothing here touches FIX,
sockets or SQLite; the caller persists a result before it sends anything from it.

Accounts belong to sessions (`account_owners`, from the settings through simulator/clients.py):
a request naming an account its session does not own is refused the FIX way, without touching
that account (no order, no ClOrdID claimed, nothing reported to its owner), and the refusal is
listed in `VenueResult.refusals` for the log. OrderIDs are an HMAC of a per-run secret and a
counter: unique, and no session can guess another's.

Order states follow the FIX 4.4 order state change matrices: New(0), PartiallyFilled(1),
Filled(2), Canceled(4), Rejected(8), Expired(C); ExecType(150) F for trades, H/G for trade
cancel/correct, I for status.

The rules are in parts, one module each: `venue_entry.py` (order entry, cancel/replace, mass
cancel, expiry), `venue_fills.py` (matching, fills, positions, busts and corrections),
`venue_queries.py` (status, mass status, positions), over the state in `venue_state.py`. The
values are in `venue_requests.py` (to the venue), `venue_reports.py` (from the venue) and
`venue_records.py` (to persist). `Venue` puts the parts together; every name callers used from
this module is still importable from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fixcore.values import OrdStatus
from simulator.venue_entry import OrderEntry
from simulator.venue_queries import VenueQueries
from simulator.venue_records import (
    AVG_PX_QUANTUM,
    FillRecord,
    OrderRecord,
    Position,
    format_decimal,
    position_from_fills,
)
from simulator.venue_reports import (
    BookSnapshot,
    CancelRejectOut,
    ExecutionReportOut,
    MarketDataEntry,
    MassCancelReportOut,
    MDEntryType,
    OutboundMessage,
    PositionAckOut,
    PositionReportOut,
    VenueResult,
)
from simulator.venue_requests import (
    CancelRequest,
    MassCancelRequest,
    MassStatusRequest,
    NewOrderRequest,
    PositionRequest,
    ReplaceRequest,
    StatusRequest,
)
from simulator.venue_rules import (
    BACKGROUND_OWNER,
    FINAL_STATUSES,
    MASS_CANCEL_REJECT_OTHER,
    POS_REQ_RESULT_NOT_AUTHORIZED,
    POS_REQ_STATUS_REJECTED,
    CxlRejReason,
    CxlRejResponseTo,
    MassCancelType,
    MassStatusType,
    OrdRejReason,
    VenueError,
    book_side,
)
from simulator.venue_state import WorkingOrder

__all__ = [
    "AVG_PX_QUANTUM",
    "BACKGROUND_OWNER",
    "FINAL_STATUSES",
    "MASS_CANCEL_REJECT_OTHER",
    "POS_REQ_RESULT_NOT_AUTHORIZED",
    "POS_REQ_STATUS_REJECTED",
    "BookSnapshot",
    "CancelRejectOut",
    "CancelRequest",
    "CxlRejReason",
    "CxlRejResponseTo",
    "ExecutionReportOut",
    "FillRecord",
    "MDEntryType",
    "MarketDataEntry",
    "MassCancelReportOut",
    "MassCancelRequest",
    "MassCancelType",
    "MassStatusRequest",
    "MassStatusType",
    "NewOrderRequest",
    "OrdRejReason",
    "OrderRecord",
    "OutboundMessage",
    "Position",
    "PositionAckOut",
    "PositionReportOut",
    "PositionRequest",
    "ReplaceRequest",
    "StatusRequest",
    "Venue",
    "VenueError",
    "VenueResult",
    "format_decimal",
    "position_from_fills",
]


class Venue(OrderEntry, VenueQueries):
    """All books, client orders, fills and positions of the simulated exchange.

    Not thread-safe: the caller serialises access (one lock in the server).
    """

    def restore(
        self,
        orders: Sequence[OrderRecord],
        cl_ord_ids: Iterable[tuple[str, str, str]],
        fills: Sequence[FillRecord],
    ) -> None:
        """Load persisted state; working orders go back into their books in time priority."""
        for record in orders:
            instrument = self.instruments.get(record.symbol)
            price_ticks = None
            if record.price is not None and instrument is not None:
                price_ticks = instrument.to_ticks(record.price)
            order = WorkingOrder(
                order_id=record.order_id,
                account=record.account,
                session_key=record.session_key,
                cl_ord_id=record.cl_ord_id,
                orig_cl_ord_id=record.orig_cl_ord_id,
                symbol=record.symbol,
                side=record.side,
                ord_type=record.ord_type,
                price_ticks=price_ticks,
                order_qty=record.order_qty,
                time_in_force=record.time_in_force,
                trading_date=record.trading_date,
                created_ns=record.created_ns,
                updated_ns=record.updated_ns,
                status=OrdStatus(record.status),
                cum_qty=record.cum_qty,
                text=record.text,
            )
            self._orders[order.order_id] = order
        for account, cl_ord_id, order_id in cl_ord_ids:
            self._by_cl_ord_id[(account, cl_ord_id)] = order_id
        for fill in fills:
            self._fills[fill.exec_id] = fill
            self._fills_by_key.setdefault((fill.account, fill.symbol), []).append(fill.exec_id)
            filled_order = self._orders.get(fill.order_id)
            if filled_order is not None and not fill.busted:
                instrument = self.instruments[fill.symbol]
                filled_order.notional_ticks += fill.last_qty * (instrument.to_ticks(fill.last_px) or 0)
        for account, symbol in self._fills_by_key:
            self._positions[(account, symbol)] = position_from_fills(
                account, symbol, (self._fills[e] for e in self._fills_by_key[(account, symbol)])
            )
        resting = sorted(
            (r for r in orders if r.status not in FINAL_STATUSES and r.symbol in self.books),
            key=lambda r: (r.priority if r.priority is not None else 0, r.created_ns),
        )
        for record in resting:
            order = self._orders[record.order_id]
            if order.price_ticks is None or order.leaves_qty <= 0:
                continue
            self.books[order.symbol].add(
                order_id=order.order_id,
                side=book_side(order.side),
                price=order.price_ticks,
                qty=order.leaves_qty,
                owner=order.account,
                priority=record.priority,
            )
        for book in self.books.values():
            book.drain_changes()  # restored levels are the starting state, not news
