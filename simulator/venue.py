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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from fixcore.values import ExecType, OrdStatus, OrdType, Side, TimeInForce
from simulator.book import BookSide, OrderBook
from simulator.instruments import Instrument
from simulator.matching import Match, executable_qty, match

# ---------------------------------------------------------------------------------------------
# FIX values: the order-entry enumerations are the gateway's (one definition for both ends of
# the wire); these are the venue's own reject and request codes.


_SIDES = frozenset(side.value for side in Side)
_ORD_TYPES = frozenset(ord_type.value for ord_type in OrdType)
_TIMES_IN_FORCE = frozenset(tif.value for tif in TimeInForce)

FINAL_STATUSES = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED})


class OrdRejReason(StrEnum):
    UNKNOWN_SYMBOL = "1"
    UNKNOWN_ORDER = "5"
    DUPLICATE_ORDER = "6"
    UNSUPPORTED_ORDER_CHARACTERISTIC = "11"
    INCORRECT_QUANTITY = "13"
    UNKNOWN_ACCOUNT = "15"
    OTHER = "99"


class CxlRejReason(StrEnum):
    TOO_LATE_TO_CANCEL = "0"
    UNKNOWN_ORDER = "1"
    DUPLICATE_CL_ORD_ID = "6"
    OTHER = "99"


class CxlRejResponseTo(StrEnum):
    CANCEL = "1"
    CANCEL_REPLACE = "2"


class MassCancelType(StrEnum):
    SECURITY = "1"
    ALL = "7"


class MassStatusType(StrEnum):
    SECURITY = "1"
    ALL = "7"


BACKGROUND_OWNER = ""  # the `owner` of resting orders placed by the venue's own agents
POS_REQ_RESULT_NOT_AUTHORIZED = "3"  # PosReqResult(728)
POS_REQ_STATUS_REJECTED = "2"  # PosReqStatus(729)
MASS_CANCEL_REJECT_OTHER = "99"  # MassCancelRejectReason(532)
AVG_PX_QUANTUM = Decimal("0.00000001")


def format_decimal(value: Decimal) -> str:
    """A plain decimal string without exponent or trailing zeros (AvgPx(6), avg_px)."""
    text = format(value.quantize(AVG_PX_QUANTUM).normalize(), "f")
    return text


# ---------------------------------------------------------------------------------------------
# Requests (to the venue)


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


# ---------------------------------------------------------------------------------------------
# Records (to persist) and messages (to send)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    order_id: str
    account: str
    session_key: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: str
    ord_type: str
    price: Decimal | None
    order_qty: int
    time_in_force: str
    cum_qty: int
    leaves_qty: int
    avg_px: Decimal
    status: str
    priority: int | None  # time priority in the book while resting
    trading_date: str
    created_ns: int
    updated_ns: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRecord:
    exec_id: str
    account: str
    session_key: str
    order_id: str
    cl_ord_id: str
    symbol: str
    side: str
    last_qty: int
    last_px: Decimal
    transact_ns: int
    busted: bool = False
    corrected_by: str | None = None  # the ExecID of the TradeCorrect that changed this fill


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    account: str
    symbol: str
    qty: int  # signed: long > 0, short < 0
    avg_px: Decimal  # average cost of the open quantity; 0 when flat
    realized_pnl: Decimal

    def with_fill(self, side: str, qty: int, price: Decimal) -> Position:
        signed = qty if side == Side.BUY else -qty
        current = self.qty
        if current == 0 or (current > 0) == (signed > 0):
            new_qty = current + signed
            avg = (self.avg_px * abs(current) + price * qty) / abs(new_qty)
            return dataclasses.replace(self, qty=new_qty, avg_px=avg.quantize(AVG_PX_QUANTUM))
        closing = min(abs(signed), abs(current))
        direction = 1 if current > 0 else -1
        realized = self.realized_pnl + (price - self.avg_px) * closing * direction
        new_qty = current + signed
        if new_qty == 0:
            avg_px = Decimal(0)
        elif (new_qty > 0) == (current > 0):
            avg_px = self.avg_px
        else:
            avg_px = price  # flipped through flat: the rest opens at this fill's price
        return dataclasses.replace(self, qty=new_qty, avg_px=avg_px, realized_pnl=realized)


def position_from_fills(account: str, symbol: str, fills: Iterable[FillRecord]) -> Position:
    position = Position(account=account, symbol=symbol, qty=0, avg_px=Decimal(0), realized_pnl=Decimal(0))
    for fill in fills:
        if not fill.busted:
            position = position.with_fill(fill.side, fill.last_qty, fill.last_px)
    return position


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


# ---------------------------------------------------------------------------------------------
# The venue


@dataclass(slots=True, kw_only=True)
class _Order:
    order_id: str
    account: str
    session_key: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: str  # Side(54) as received: a rejected order keeps the value it was rejected for
    ord_type: str
    price_ticks: int | None
    order_qty: int
    time_in_force: str
    trading_date: str
    created_ns: int
    updated_ns: int
    status: OrdStatus = OrdStatus.NEW
    cum_qty: int = 0
    notional_ticks: int = 0  # sum of last_qty * last_px in ticks: AvgPx stays exact
    text: str = ""

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def leaves_qty(self) -> int:
        return 0 if self.is_final else self.order_qty - self.cum_qty

    @property
    def working_status(self) -> OrdStatus:
        if self.cum_qty >= self.order_qty:
            return OrdStatus.FILLED
        return OrdStatus.PARTIALLY_FILLED if self.cum_qty > 0 else OrdStatus.NEW


class Venue:
    """All books, client orders, fills and positions of the simulated exchange.

    Not thread-safe: the caller serialises access (one lock in the server).
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        *,
        clock_ns: Callable[[], int],
        id_prefix: str = "1",
        account_owners: Mapping[str, frozenset[str]] | None = None,
        id_key: bytes | None = None,
    ) -> None:
        """`account_owners`: session key -> the accounts it may name; None lets every session
        name every account (unit tests of the order rules). `id_key`: the secret OrderIDs are
        derived from; random unless given (a test that wants the same ids twice gives one)."""
        self.instruments = dict(instruments)
        self.books: dict[str, OrderBook] = {symbol: OrderBook(symbol) for symbol in self.instruments}
        self._clock_ns = clock_ns
        self._id_prefix = id_prefix
        self._account_owners = None if account_owners is None else dict(account_owners)
        self._id_key = id_key if id_key is not None else secrets.token_bytes(32)
        self._exec_seq = 0
        self._order_seq = 0
        self._report_seq = 0
        self._background_seq = 0
        self._orders: dict[str, _Order] = {}
        self._by_cl_ord_id: dict[tuple[str, str], str] = {}
        self._fills: dict[str, FillRecord] = {}
        self._fills_by_key: dict[tuple[str, str], list[str]] = {}
        self._positions: dict[tuple[str, str], Position] = {}
        self._rpt_seq: dict[str, int] = dict.fromkeys(self.instruments, 0)
        self._last_trade: dict[str, tuple[int, int]] = {}
        self._pending_trades: list[tuple[str, int, int]] = []

    # -- ids and time ----------------------------------------------------------------------

    def _next_exec_id(self) -> str:
        self._exec_seq += 1
        return f"{self._id_prefix}-E{self._exec_seq}"

    def _next_order_id(self) -> str:
        """`<boot>-<16 hex digits>`: an HMAC of the counter under a per-run secret, so OrderIDs
        are unique (the boot prefix across restarts, the counter within one) and a session that
        sees its own cannot work out another's."""
        while True:
            self._order_seq += 1
            digest = hmac.new(self._id_key, f"O{self._order_seq}".encode(), hashlib.sha256).hexdigest()
            order_id = f"{self._id_prefix}-{digest[:16]}"
            if order_id not in self._orders:
                return order_id

    def _next_report_id(self, kind: str) -> str:
        self._report_seq += 1
        return f"{self._id_prefix}-{kind}{self._report_seq}"

    def now_ns(self) -> int:
        return self._clock_ns()

    def trading_date(self, now_ns: int | None = None) -> str:
        stamp = self._clock_ns() if now_ns is None else now_ns
        return dt.datetime.fromtimestamp(stamp / 1e9, tz=dt.UTC).strftime("%Y%m%d")

    # -- queries ---------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol)

    def order(self, order_id: str) -> OrderRecord | None:
        order = self._orders.get(order_id)
        return None if order is None else self._record(order)

    def orders(self, account: str | None = None) -> list[OrderRecord]:
        return [self._record(o) for o in self._orders.values() if account is None or o.account == account]

    def fills(self, account: str | None = None) -> list[FillRecord]:
        return [f for f in self._fills.values() if account is None or f.account == account]

    def fill(self, exec_id: str) -> FillRecord | None:
        return self._fills.get(exec_id)

    def positions(self, account: str) -> dict[str, Position]:
        return {symbol: p for (acct, symbol), p in sorted(self._positions.items()) if acct == account}

    def working_client_orders(self) -> list[OrderRecord]:
        working = [o for o in self._orders.values() if not o.is_final]
        return [self._record(o) for o in working]

    def snapshot(self, symbol: str, depth: int = 0) -> BookSnapshot:
        book = self.books[symbol]
        return BookSnapshot(
            symbol=symbol,
            bids=book.depth(BookSide.BID, depth),
            asks=book.depth(BookSide.ASK, depth),
            last_trade=self._last_trade.get(symbol),
            rpt_seq=self._rpt_seq[symbol],
        )

    # -- client requests -------------------------------------------------------------------

    def new_order(self, request: NewOrderRequest, *, forced_reject: str | None = None) -> VenueResult:
        """NewOrderSingle(35=D). `forced_reject` rejects a valid order for a reason decided
        outside the venue (a scripted fault); a duplicate ClOrdID is still reported as such."""
        result = VenueResult()
        now = self._clock_ns()
        refusal = self._not_own_account(result, request.session_key, request.account, "NewOrderSingle(35=D)")
        if refusal is not None:
            # Nothing is recorded: the ClOrdID stays free in the account's owner's namespace.
            self._reject_unrecorded(result, request, now, OrdRejReason.UNKNOWN_ACCOUNT, refusal)
            return result
        key = (request.account, request.cl_ord_id)
        if key in self._by_cl_ord_id:
            self._reject_unrecorded(
                result, request, now, OrdRejReason.DUPLICATE_ORDER, f"duplicate ClOrdID {request.cl_ord_id}"
            )
            return self._finish(result)
        problem = self._validate_new(request)
        if problem is None and forced_reject is not None:
            problem = (OrdRejReason.OTHER, forced_reject)
        order = _Order(
            order_id=self._next_order_id(),
            account=request.account,
            session_key=request.session_key,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=request.symbol,
            side=request.side,
            ord_type=request.ord_type,
            price_ticks=None,
            order_qty=_whole(request.order_qty) or 0,
            time_in_force=request.time_in_force or TimeInForce.DAY,
            trading_date=self.trading_date(now),
            created_ns=now,
            updated_ns=now,
        )
        self._orders[order.order_id] = order
        self._by_cl_ord_id[key] = order.order_id
        result.cl_ord_ids.append((order.account, order.cl_ord_id, order.order_id))
        if problem is not None:
            reason, text = problem
            order.status = OrdStatus.REJECTED
            order.text = text
            self._report(result, order, ExecType.REJECTED, now, text=text, ord_rej_reason=reason)
            return self._finish(result)
        instrument = self.instruments[request.symbol]
        if request.ord_type == OrdType.LIMIT and request.price is not None:
            order.price_ticks = instrument.to_ticks(request.price)
        self._report(result, order, ExecType.NEW, now)
        self._execute(result, order, now)
        return self._finish(result)

    def reject_new_order(self, request: NewOrderRequest, text: str) -> VenueResult:
        """Reject a NewOrderSingle(35=D) for a reason decided outside the venue (a scripted fault)."""
        return self.new_order(request, forced_reject=text)

    def cancel(self, request: CancelRequest) -> VenueResult:
        result = VenueResult()
        now = self._clock_ns()
        refusal = self._not_own_account(
            result, request.session_key, request.account, "OrderCancelRequest(35=F)"
        )
        if refusal is not None:
            self._cancel_reject(
                result, request, None, CxlRejResponseTo.CANCEL, CxlRejReason.OTHER, refusal, now
            )
            return result
        order = self._find(
            request.account, request.orig_cl_ord_id, request.order_id, result, request.session_key
        )
        problem = self._cancel_problem(request.account, request.cl_ord_id, order)
        if problem is not None:
            reason, text = problem
            self._cancel_reject(result, request, order, CxlRejResponseTo.CANCEL, reason, text, now)
            return self._finish(result)
        assert order is not None
        self._claim_cl_ord_id(result, order, request.cl_ord_id)
        order.orig_cl_ord_id = request.orig_cl_ord_id
        order.cl_ord_id = request.cl_ord_id
        self.books[order.symbol].remove(order.order_id)
        order.status = OrdStatus.CANCELED
        self._report(result, order, ExecType.CANCELED, now)
        return self._finish(result)

    def replace(self, request: ReplaceRequest) -> VenueResult:
        result = VenueResult()
        now = self._clock_ns()
        refusal = self._not_own_account(
            result, request.session_key, request.account, "OrderCancelReplaceRequest(35=G)"
        )
        if refusal is not None:
            self._cancel_reject(
                result, request, None, CxlRejResponseTo.CANCEL_REPLACE, CxlRejReason.OTHER, refusal, now
            )
            return result
        order = self._find(
            request.account, request.orig_cl_ord_id, request.order_id, result, request.session_key
        )
        problem = self._cancel_problem(request.account, request.cl_ord_id, order)
        if problem is None:
            assert order is not None
            problem = self._replace_problem(request, order)
        if problem is not None:
            reason, text = problem
            self._cancel_reject(result, request, order, CxlRejResponseTo.CANCEL_REPLACE, reason, text, now)
            return self._finish(result)
        assert order is not None
        instrument = self.instruments[order.symbol]
        new_qty = _whole(request.order_qty)
        assert new_qty is not None
        new_price = order.price_ticks if request.price is None else instrument.to_ticks(request.price)
        book = self.books[order.symbol]
        resting = book.order(order.order_id)
        old_leaves = order.leaves_qty
        new_leaves = new_qty - order.cum_qty
        loses_priority = new_price != order.price_ticks or new_leaves > old_leaves

        self._claim_cl_ord_id(result, order, request.cl_ord_id)
        order.orig_cl_ord_id = request.orig_cl_ord_id
        order.cl_ord_id = request.cl_ord_id
        order.order_qty = new_qty
        order.price_ticks = new_price
        if request.time_in_force in (TimeInForce.DAY, TimeInForce.GTC):
            order.time_in_force = request.time_in_force
        if resting is not None and not loses_priority and new_leaves < old_leaves:
            book.reduce(order.order_id, old_leaves - new_leaves)
        self._report(result, order, ExecType.REPLACED, now)
        if loses_priority:
            book.remove(order.order_id)
            self._execute(result, order, now)
        return self._finish(result)

    def status(self, request: StatusRequest) -> VenueResult:
        result = VenueResult()
        now = self._clock_ns()
        refusal = self._not_own_account(
            result, request.session_key, request.account, "OrderStatusRequest(35=H)"
        )
        order = None
        if refusal is None:
            order = self._find(
                request.account, request.cl_ord_id, request.order_id, result, request.session_key
            )
        if order is None:
            result.messages.append(
                ExecutionReportOut(
                    session_key=request.session_key,
                    account=request.account,
                    order_id=request.order_id or "NONE",
                    cl_ord_id=request.cl_ord_id,
                    orig_cl_ord_id=None,
                    exec_id=self._next_exec_id(),
                    exec_type=ExecType.ORDER_STATUS,
                    ord_status=OrdStatus.REJECTED,
                    symbol=request.symbol,
                    side=request.side or Side.BUY,
                    ord_type=None,
                    price=None,
                    order_qty=0,
                    time_in_force=None,
                    leaves_qty=0,
                    cum_qty=0,
                    avg_px=Decimal(0),
                    transact_ns=now,
                    text=refusal or f"unknown order ClOrdID {request.cl_ord_id}",
                    ord_rej_reason=OrdRejReason.UNKNOWN_ACCOUNT if refusal else OrdRejReason.UNKNOWN_ORDER,
                )
            )
            return result
        self._report(result, order, ExecType.ORDER_STATUS, now, session_key=request.session_key)
        return result

    def mass_status(self, request: MassStatusRequest) -> VenueResult:
        """One ExecutionReport(35=8, ExecType=I) per working order and per order final today.

        For an account the session does not own: no report, and `refusals` says why (the
        acceptor answers BusinessMessageReject(35=j) with BusinessRejectReason(380)=6)."""
        result = VenueResult()
        now = self._clock_ns()
        if self._not_own_account(
            result, request.session_key, request.account, "OrderMassStatusRequest(35=AF)"
        ):
            return result
        today = self.trading_date(now)
        selected = [
            order
            for order in self._orders.values()
            if order.account == request.account
            and (not order.is_final or self.trading_date(order.updated_ns) == today)
            and (request.mass_status_req_type != MassStatusType.SECURITY or order.symbol == request.symbol)
            and (not request.side or order.side == request.side)
        ]
        if not selected:
            result.messages.append(
                ExecutionReportOut(
                    session_key=request.session_key,
                    account=request.account,
                    order_id="NONE",
                    cl_ord_id="NONE",
                    orig_cl_ord_id=None,
                    exec_id=self._next_exec_id(),
                    exec_type=ExecType.ORDER_STATUS,
                    ord_status=OrdStatus.REJECTED,
                    symbol=request.symbol or "",
                    side=request.side or Side.BUY,
                    ord_type=None,
                    price=None,
                    order_qty=0,
                    time_in_force=None,
                    leaves_qty=0,
                    cum_qty=0,
                    avg_px=Decimal(0),
                    transact_ns=now,
                    text="no orders match the request",
                    mass_status_req_id=request.mass_status_req_id,
                    tot_num_reports=0,
                    last_rpt_requested=True,
                )
            )
            return result
        total = len(selected)
        for index, order in enumerate(selected, start=1):
            self._report(
                result,
                order,
                ExecType.ORDER_STATUS,
                now,
                session_key=request.session_key,
                mass_status_req_id=request.mass_status_req_id,
                tot_num_reports=total,
                last_rpt_requested=index == total,
            )
        return result

    def mass_cancel(self, request: MassCancelRequest) -> VenueResult:
        result = VenueResult()
        now = self._clock_ns()
        report_id = self._next_report_id("MC")
        reject: tuple[str, str] | None = None
        refusal = self._not_own_account(
            result, request.session_key, request.account, "OrderMassCancelRequest(35=q)"
        )
        if refusal is not None:
            reject = (MASS_CANCEL_REJECT_OTHER, refusal)
        elif request.mass_cancel_request_type == MassCancelType.SECURITY:
            if not request.symbol or request.symbol not in self.instruments:
                reject = ("1", f"unknown symbol {request.symbol or '(none)'}")
        elif request.mass_cancel_request_type != MassCancelType.ALL:
            reject = ("0", f"MassCancelRequestType {request.mass_cancel_request_type} not supported (1, 7)")
        if reject is not None:
            result.messages.append(
                MassCancelReportOut(
                    session_key=request.session_key,
                    account=request.account,
                    cl_ord_id=request.cl_ord_id,
                    order_id=report_id,
                    request_type=request.mass_cancel_request_type,
                    response="0",
                    reject_reason=reject[0],
                    total_affected=0,
                    symbol=request.symbol,
                    side=request.side,
                    text=reject[1],
                    transact_ns=now,
                )
            )
            return result
        affected = [
            order
            for order in self._orders.values()
            if order.account == request.account
            and not order.is_final
            and (request.mass_cancel_request_type == MassCancelType.ALL or order.symbol == request.symbol)
            and (not request.side or order.side == request.side)
        ]
        result.messages.append(
            MassCancelReportOut(
                session_key=request.session_key,
                account=request.account,
                cl_ord_id=request.cl_ord_id,
                order_id=report_id,
                request_type=request.mass_cancel_request_type,
                response=request.mass_cancel_request_type,
                reject_reason=None,
                total_affected=len(affected),
                symbol=request.symbol,
                side=request.side,
                text="",
                transact_ns=now,
            )
        )
        for order in affected:
            self.books[order.symbol].remove(order.order_id)
            order.status = OrdStatus.CANCELED
            self._report(result, order, ExecType.CANCELED, now, text=f"mass cancel {request.cl_ord_id}")
        return self._finish(result)

    def positions_request(self, request: PositionRequest) -> VenueResult:
        """RequestForPositionsAck(35=AO) then one PositionReport(35=AP) per symbol traded."""
        result = VenueResult()
        today = self.trading_date()
        ack_id = self._next_report_id("PA")
        refusal = self._not_own_account(
            result, request.session_key, request.account, "RequestForPositions(35=AN)"
        )
        if refusal is not None:
            result.messages.append(
                PositionAckOut(
                    session_key=request.session_key,
                    account=request.account,
                    pos_req_id=request.pos_req_id,
                    pos_maint_rpt_id=ack_id,
                    total_num_reports=0,
                    result=POS_REQ_RESULT_NOT_AUTHORIZED,
                    status=POS_REQ_STATUS_REJECTED,
                    text=refusal,
                    clearing_business_date=today,
                )
            )
            return result
        if request.pos_req_type != "0":
            result.messages.append(
                PositionAckOut(
                    session_key=request.session_key,
                    account=request.account,
                    pos_req_id=request.pos_req_id,
                    pos_maint_rpt_id=ack_id,
                    total_num_reports=0,
                    result="4",
                    status="2",
                    text=f"PosReqType {request.pos_req_type} not supported: only 0 (positions)",
                    clearing_business_date=today,
                )
            )
            return result
        positions = self.positions(request.account)
        result.messages.append(
            PositionAckOut(
                session_key=request.session_key,
                account=request.account,
                pos_req_id=request.pos_req_id,
                pos_maint_rpt_id=ack_id,
                total_num_reports=len(positions),
                result="0" if positions else "2",
                status="0",
                text="" if positions else "no positions",
                clearing_business_date=today,
            )
        )
        for symbol, position in positions.items():
            result.messages.append(
                PositionReportOut(
                    session_key=request.session_key,
                    account=request.account,
                    pos_req_id=request.pos_req_id,
                    pos_maint_rpt_id=self._next_report_id("PR"),
                    total_num_reports=len(positions),
                    symbol=symbol,
                    long_qty=max(position.qty, 0),
                    short_qty=max(-position.qty, 0),
                    settl_price=position.avg_px,
                    realized_pnl=position.realized_pnl,
                    clearing_business_date=today,
                )
            )
        return result

    # -- venue-initiated events ------------------------------------------------------------

    def cancel_unsolicited(
        self, order_id: str | None = None, text: str = "canceled by the venue"
    ) -> VenueResult:
        """Cancel a resting client order nobody asked to cancel (the oldest when no id is given)."""
        result = VenueResult()
        now = self._clock_ns()
        if order_id is None:
            working = [o for o in self._orders.values() if not o.is_final]
            order = min(working, key=lambda o: (o.created_ns, o.order_id), default=None)
        else:
            order = self._orders.get(order_id)
        if order is None or order.is_final:
            return result
        self.books[order.symbol].remove(order.order_id)
        order.status = OrdStatus.CANCELED
        order.text = text
        self._report(result, order, ExecType.CANCELED, now, text=text)
        return self._finish(result)

    def expire_day_orders(self, before_date: str | None = None) -> VenueResult:
        """End of the trading day: every working Day order (entered before `before_date`, when
        given) expires with ExecType=C."""
        result = VenueResult()
        now = self._clock_ns()
        for order in list(self._orders.values()):
            if order.is_final or order.time_in_force != TimeInForce.DAY:
                continue
            if before_date is not None and order.trading_date >= before_date:
                continue
            self.books[order.symbol].remove(order.order_id)
            order.status = OrdStatus.EXPIRED
            self._report(result, order, ExecType.EXPIRED, now, text="day order expired at end of day")
        return self._finish(result)

    def bust(self, exec_id: str, text: str = "trade busted by the venue") -> VenueResult:
        """TradeCancel: ExecType=H with ExecRefID(19); the fill no longer counts."""
        result = VenueResult()
        fill = self._fills.get(exec_id)
        if fill is None or fill.busted:
            raise VenueError(f"no live fill with ExecID {exec_id}")
        now = self._clock_ns()
        order = self._orders[fill.order_id]
        instrument = self.instruments[fill.symbol]
        price_ticks = instrument.to_ticks(fill.last_px) or 0
        busted = dataclasses.replace(fill, busted=True)
        self._store_fill(result, busted)
        order.cum_qty -= fill.last_qty
        order.notional_ticks -= fill.last_qty * price_ticks
        self._give_back(order)
        self._recompute_position(result, fill.account, fill.symbol)
        self._report(
            result,
            order,
            ExecType.TRADE_CANCEL,
            now,
            text=text,
            exec_ref_id=exec_id,
        )
        self._rest_if_reopened(result, order, now)
        return self._finish(result)

    def correct(
        self,
        exec_id: str,
        *,
        last_px: Decimal | None = None,
        last_qty: int | None = None,
        text: str = "trade corrected by the venue",
    ) -> VenueResult:
        """TradeCorrect: ExecType=G with ExecRefID(19) and the corrected LastPx/LastQty."""
        result = VenueResult()
        fill = self._fills.get(exec_id)
        if fill is None or fill.busted:
            raise VenueError(f"no live fill with ExecID {exec_id}")
        instrument = self.instruments[fill.symbol]
        new_px = fill.last_px if last_px is None else last_px
        new_qty = fill.last_qty if last_qty is None else last_qty
        new_px_ticks = instrument.to_ticks(new_px)
        if new_px_ticks is None or new_px_ticks <= 0:
            raise VenueError(f"corrected price {new_px} is off the tick grid of {fill.symbol}")
        if not 0 < new_qty <= fill.last_qty:
            raise VenueError(f"corrected quantity must be between 1 and {fill.last_qty}")
        now = self._clock_ns()
        order = self._orders[fill.order_id]
        old_px_ticks = instrument.to_ticks(fill.last_px) or 0
        correction_id = self._next_exec_id()
        corrected = dataclasses.replace(fill, last_px=instrument.to_price(new_px_ticks), last_qty=new_qty)
        self._store_fill(result, dataclasses.replace(corrected, corrected_by=correction_id))
        order.cum_qty -= fill.last_qty - new_qty
        order.notional_ticks += new_qty * new_px_ticks - fill.last_qty * old_px_ticks
        self._give_back(order)
        self._recompute_position(result, fill.account, fill.symbol)
        self._report(
            result,
            order,
            ExecType.TRADE_CORRECT,
            now,
            text=text,
            exec_ref_id=exec_id,
            last_qty=new_qty,
            last_px=corrected.last_px,
            exec_id=correction_id,
        )
        self._rest_if_reopened(result, order, now)
        return self._finish(result)

    # -- background agents -----------------------------------------------------------------

    def place_background(
        self, symbol: str, side: BookSide, price: int, qty: int, *, immediate_or_cancel: bool = False
    ) -> tuple[str, VenueResult]:
        """A venue agent's limit order: matches like any order; its own fills are not recorded."""
        result = VenueResult()
        now = self._clock_ns()
        self._background_seq += 1
        order_id = f"bg{self._background_seq}"
        book = self.books[symbol]
        matches = match(book, side, price, qty)
        self._apply_matches(result, symbol, matches, taker=None, now=now)
        remaining = qty - sum(m.qty for m in matches)
        if remaining > 0 and not immediate_or_cancel:
            book.add(order_id=order_id, side=side, price=price, qty=remaining, owner=BACKGROUND_OWNER)
        return order_id, self._finish(result)

    def cancel_background(self, symbol: str, order_id: str) -> VenueResult:
        result = VenueResult()
        self.books[symbol].remove(order_id)
        return self._finish(result)

    # -- restore (from the state database) -------------------------------------------------

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
            order = _Order(
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
                side=_book_side(order.side),
                price=order.price_ticks,
                qty=order.leaves_qty,
                owner=order.account,
                priority=record.priority,
            )
        for book in self.books.values():
            book.drain_changes()  # restored levels are the starting state, not news

    # -- internals -------------------------------------------------------------------------

    def _validate_new(self, request: NewOrderRequest) -> tuple[str, str] | None:
        instrument = self.instruments.get(request.symbol)
        if instrument is None:
            return OrdRejReason.UNKNOWN_SYMBOL, f"unknown symbol {request.symbol!r}"
        if request.side not in _SIDES:
            return OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, f"unsupported Side(54) {request.side!r}"
        if request.ord_type not in _ORD_TYPES:
            return (
                OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
                f"unsupported OrdType(40) {request.ord_type!r}: only 1 (market) and 2 (limit)",
            )
        if request.time_in_force not in _TIMES_IN_FORCE:
            return (
                OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
                f"unsupported TimeInForce(59) {request.time_in_force!r}: only 0, 1, 3, 4",
            )
        problem = _quantity_problem(request.order_qty, instrument)
        if problem is not None:
            return OrdRejReason.INCORRECT_QUANTITY, problem
        if request.ord_type == OrdType.LIMIT:
            return _price_problem(request.price, instrument)
        return None

    def _replace_problem(self, request: ReplaceRequest, order: _Order) -> tuple[str, str] | None:
        instrument = self.instruments[order.symbol]
        if request.symbol and request.symbol != order.symbol:
            return (
                CxlRejReason.OTHER,
                f"Symbol(55) {request.symbol} does not match the order's {order.symbol}",
            )
        if request.side and request.side != order.side:
            return CxlRejReason.OTHER, "Side(54) cannot be changed by a replace"
        if order.ord_type != OrdType.LIMIT or request.ord_type != OrdType.LIMIT:
            return CxlRejReason.OTHER, "only resting limit orders can be replaced, and only as limit orders"
        problem = _quantity_problem(request.order_qty, instrument)
        if problem is not None:
            return CxlRejReason.OTHER, problem
        new_qty = _whole(request.order_qty)
        assert new_qty is not None
        if new_qty <= order.cum_qty:
            return (
                CxlRejReason.OTHER,
                f"OrderQty(38) {new_qty} must exceed the filled quantity {order.cum_qty}",
            )
        if request.price is not None:
            price_problem = _price_problem(request.price, instrument)
            if price_problem is not None:
                return CxlRejReason.OTHER, price_problem[1]
        return None

    def _cancel_problem(self, account: str, cl_ord_id: str, order: _Order | None) -> tuple[str, str] | None:
        if (account, cl_ord_id) in self._by_cl_ord_id:
            return CxlRejReason.DUPLICATE_CL_ORD_ID, f"duplicate ClOrdID {cl_ord_id}"
        if order is None:
            return CxlRejReason.UNKNOWN_ORDER, "unknown order"
        if order.is_final:
            return CxlRejReason.TOO_LATE_TO_CANCEL, f"order is final (OrdStatus {order.status.name})"
        return None

    def _find(
        self,
        account: str,
        cl_ord_id: str,
        order_id: str | None,
        result: VenueResult | None = None,
        session_key: str = "",
    ) -> _Order | None:
        found = self._by_cl_ord_id.get((account, cl_ord_id))
        if found is None and order_id:
            candidate = self._orders.get(order_id)
            if candidate is not None and candidate.account == account:
                found = candidate.order_id
            elif candidate is not None and result is not None:
                # Answered as an unknown order (nothing confirms that it exists), but logged.
                result.refusals.append(
                    f"{session_key}: OrderID(37) {order_id} belongs to account {candidate.account}, "
                    f"not {account}: treated as an unknown order"
                )
        return None if found is None else self._orders.get(found)

    def _not_own_account(self, result: VenueResult, session_key: str, account: str, what: str) -> str | None:
        """None when the session may name `account`, else the Text(58) of the refusal (also put
        in `result.refusals` for the log)."""
        if self._account_owners is None or account in self._account_owners.get(session_key, ()):
            return None
        text = f"Account(1) {account} is not an account of this session"
        result.refusals.append(f"{session_key}: {what} refused: {text}")
        return text

    def _claim_cl_ord_id(self, result: VenueResult, order: _Order, cl_ord_id: str) -> None:
        self._by_cl_ord_id[(order.account, cl_ord_id)] = order.order_id
        result.cl_ord_ids.append((order.account, cl_ord_id, order.order_id))

    def _execute(self, result: VenueResult, order: _Order, now: int) -> None:
        """Match an accepted (or re-priced) order, then rest or cancel what is left."""
        book = self.books[order.symbol]
        wanted = order.order_qty - order.cum_qty
        if order.time_in_force == TimeInForce.FOK:
            available = executable_qty(book, _book_side(order.side), order.price_ticks, wanted)
            if available < wanted:
                order.status = OrdStatus.CANCELED
                text = f"fill or kill: only {available} of {wanted} available"
                self._report(result, order, ExecType.CANCELED, now, text=text)
                return
        matches = match(book, _book_side(order.side), order.price_ticks, wanted)
        self._apply_matches(result, order.symbol, matches, taker=order, now=now)
        if order.leaves_qty <= 0:
            return
        if order.ord_type == OrdType.MARKET or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            order.status = OrdStatus.CANCELED
            why = "market order" if order.ord_type == OrdType.MARKET else "immediate or cancel"
            self._report(result, order, ExecType.CANCELED, now, text=f"{why}: unfilled quantity canceled")
            return
        assert order.price_ticks is not None
        book.add(
            order_id=order.order_id,
            side=_book_side(order.side),
            price=order.price_ticks,
            qty=order.leaves_qty,
            owner=order.account,
        )
        result.orders[order.order_id] = self._record(order)

    def _apply_matches(
        self, result: VenueResult, symbol: str, matches: Sequence[Match], *, taker: _Order | None, now: int
    ) -> None:
        for item in matches:
            self._print_trade(result, symbol, item.price, item.qty)
            if taker is not None:
                self._client_fill(result, taker, item.price, item.qty, now)
            if item.maker_owner != BACKGROUND_OWNER:
                maker = self._orders[item.maker_order_id]
                self._client_fill(result, maker, item.price, item.qty, now)

    def _client_fill(self, result: VenueResult, order: _Order, price: int, qty: int, now: int) -> None:
        instrument = self.instruments[order.symbol]
        order.cum_qty += qty
        order.notional_ticks += qty * price
        order.status = order.working_status
        exec_id = self._next_exec_id()
        last_px = instrument.to_price(price)
        fill = FillRecord(
            exec_id=exec_id,
            account=order.account,
            session_key=order.session_key,
            order_id=order.order_id,
            cl_ord_id=order.cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            last_qty=qty,
            last_px=last_px,
            transact_ns=now,
        )
        self._store_fill(result, fill)
        key = (order.account, order.symbol)
        position = self._positions.get(key) or position_from_fills(order.account, order.symbol, ())
        self._positions[key] = position.with_fill(order.side, qty, last_px)
        result.positions[key] = self._positions[key]
        result.new_client_fills.append(exec_id)
        self._report(result, order, ExecType.TRADE, now, last_qty=qty, last_px=last_px, exec_id=exec_id)

    def _store_fill(self, result: VenueResult, fill: FillRecord) -> None:
        if fill.exec_id not in self._fills:
            self._fills_by_key.setdefault((fill.account, fill.symbol), []).append(fill.exec_id)
        self._fills[fill.exec_id] = fill
        result.fills[fill.exec_id] = fill

    def _recompute_position(self, result: VenueResult, account: str, symbol: str) -> None:
        key = (account, symbol)
        fills = (self._fills[e] for e in self._fills_by_key.get(key, []))
        self._positions[key] = position_from_fills(account, symbol, fills)
        result.positions[key] = self._positions[key]

    def _give_back(self, order: _Order) -> None:
        """After a bust or a smaller corrected quantity. A working order gets the quantity back
        (LeavesQty grows again, as in the FIX 4.4 trade-cancel matrices) and keeps resting at
        its price. A Filled order is not reinstated in the market: it ends Canceled, with
        CumQty what still stands."""
        if order.status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED):
            order.status = order.working_status
        elif order.status == OrdStatus.FILLED and order.cum_qty < order.order_qty:
            order.status = OrdStatus.CANCELED
            order.text = "trade busted or corrected; the order is not reinstated"

    def _rest_if_reopened(self, result: VenueResult, order: _Order, now: int) -> None:
        if order.is_final:
            return
        book = self.books[order.symbol]
        resting = book.order(order.order_id)
        if resting is not None and resting.qty == order.leaves_qty:
            return
        # The quantity grew: the order goes to the back of its level, and may now trade.
        book.remove(order.order_id)
        self._execute(result, order, now)

    def _print_trade(self, result: VenueResult, symbol: str, price: int, qty: int) -> None:
        self._last_trade[symbol] = (price, qty)
        self._pending_trades.append((symbol, price, qty))

    def _report(
        self,
        result: VenueResult,
        order: _Order,
        exec_type: ExecType,
        now: int,
        *,
        text: str = "",
        ord_rej_reason: str | None = None,
        last_qty: int | None = None,
        last_px: Decimal | None = None,
        exec_ref_id: str | None = None,
        exec_id: str | None = None,
        session_key: str | None = None,
        mass_status_req_id: str | None = None,
        tot_num_reports: int | None = None,
        last_rpt_requested: bool = False,
    ) -> None:
        instrument = self.instruments.get(order.symbol)
        if exec_type not in (ExecType.ORDER_STATUS,):
            order.updated_ns = now
            result.orders[order.order_id] = self._record(order)
        price = None
        if order.price_ticks is not None and instrument is not None:
            price = instrument.to_price(order.price_ticks)
        result.messages.append(
            ExecutionReportOut(
                session_key=session_key or order.session_key,
                account=order.account,
                order_id=order.order_id,
                cl_ord_id=order.cl_ord_id,
                orig_cl_ord_id=order.orig_cl_ord_id,
                exec_id=exec_id or self._next_exec_id(),
                exec_type=exec_type,
                ord_status=order.status,
                symbol=order.symbol,
                side=order.side,
                ord_type=order.ord_type,
                price=price,
                order_qty=order.order_qty,
                time_in_force=order.time_in_force,
                leaves_qty=order.leaves_qty,
                cum_qty=order.cum_qty,
                avg_px=self._avg_px(order),
                transact_ns=now,
                last_qty=last_qty,
                last_px=last_px,
                text=text or (order.text if exec_type == ExecType.ORDER_STATUS else ""),
                ord_rej_reason=ord_rej_reason,
                exec_ref_id=exec_ref_id,
                mass_status_req_id=mass_status_req_id,
                tot_num_reports=tot_num_reports,
                last_rpt_requested=last_rpt_requested,
            )
        )

    def _reject_unrecorded(
        self, result: VenueResult, request: NewOrderRequest, now: int, reason: str, text: str
    ) -> None:
        """Reject without recording an order: the ClOrdID already belongs to another one."""
        price = request.price if request.ord_type == OrdType.LIMIT else None
        result.messages.append(
            ExecutionReportOut(
                session_key=request.session_key,
                account=request.account,
                order_id="NONE",
                cl_ord_id=request.cl_ord_id,
                orig_cl_ord_id=None,
                exec_id=self._next_exec_id(),
                exec_type=ExecType.REJECTED,
                ord_status=OrdStatus.REJECTED,
                symbol=request.symbol,
                side=request.side if request.side in _SIDES else Side.BUY,
                ord_type=request.ord_type,
                price=price,
                order_qty=_whole(request.order_qty) or 0,
                time_in_force=request.time_in_force,
                leaves_qty=0,
                cum_qty=0,
                avg_px=Decimal(0),
                transact_ns=now,
                text=text,
                ord_rej_reason=reason,
            )
        )

    def _cancel_reject(
        self,
        result: VenueResult,
        request: CancelRequest | ReplaceRequest,
        order: _Order | None,
        response_to: CxlRejResponseTo,
        reason: str,
        text: str,
        now: int,
    ) -> None:
        result.messages.append(
            CancelRejectOut(
                session_key=request.session_key,
                account=request.account,
                order_id=order.order_id if order is not None else "NONE",
                cl_ord_id=request.cl_ord_id,
                orig_cl_ord_id=request.orig_cl_ord_id,
                ord_status=order.status if order is not None else OrdStatus.REJECTED,
                response_to=response_to,
                reason=reason,
                text=text,
                transact_ns=now,
            )
        )

    def _avg_px(self, order: _Order) -> Decimal:
        if order.cum_qty <= 0:
            return Decimal(0)
        instrument = self.instruments.get(order.symbol)
        tick = instrument.tick_size if instrument is not None else Decimal(1)
        return (Decimal(order.notional_ticks) * tick / order.cum_qty).quantize(AVG_PX_QUANTUM)

    def _record(self, order: _Order) -> OrderRecord:
        instrument = self.instruments.get(order.symbol)
        price = None
        if order.price_ticks is not None and instrument is not None:
            price = instrument.to_price(order.price_ticks)
        resting = self.books[order.symbol].order(order.order_id) if order.symbol in self.books else None
        return OrderRecord(
            order_id=order.order_id,
            account=order.account,
            session_key=order.session_key,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=order.orig_cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            ord_type=order.ord_type,
            price=price,
            order_qty=order.order_qty,
            time_in_force=order.time_in_force,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=self._avg_px(order),
            status=order.status,
            priority=resting.priority if resting is not None else None,
            trading_date=order.trading_date,
            created_ns=order.created_ns,
            updated_ns=order.updated_ns,
            text=order.text,
        )

    def _finish(self, result: VenueResult) -> VenueResult:
        """Turn the trades printed and the book levels touched into market data entries."""
        for symbol, price, qty in self._pending_trades:
            self._rpt_seq[symbol] += 1
            result.market_data.append(
                MarketDataEntry(
                    symbol=symbol,
                    entry_type=MDEntryType.TRADE,
                    action="0",
                    price=price,
                    size=qty,
                    rpt_seq=self._rpt_seq[symbol],
                )
            )
        self._pending_trades.clear()
        for symbol, book in self.books.items():
            for change in book.drain_changes():
                self._rpt_seq[symbol] += 1
                result.market_data.append(
                    MarketDataEntry(
                        symbol=symbol,
                        entry_type=change.side.value,
                        action=change.action.value,
                        price=change.price,
                        size=change.size,
                        rpt_seq=self._rpt_seq[symbol],
                    )
                )
        return result


class VenueError(ValueError):
    """An operator request the venue cannot carry out (unknown ExecID, bad correction)."""


def _book_side(side: str) -> BookSide:
    """The book side of an accepted order's Side(54): buy bids, sell and sell short offer."""
    return BookSide.BID if side == Side.BUY else BookSide.ASK


def _whole(value: Decimal | None) -> int | None:
    if value is None or not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)


def _quantity_problem(qty: Decimal | None, instrument: Instrument) -> str | None:
    if qty is None:
        return "OrderQty(38) missing"
    whole = _whole(qty)
    if whole is None:
        return f"OrderQty(38) {qty} is not a whole number"
    if whole <= 0:
        return f"OrderQty(38) {qty} must be positive"
    if whole % instrument.lot_size != 0:
        return f"OrderQty(38) {whole} is not a multiple of the lot size {instrument.lot_size}"
    return None


def _price_problem(price: Decimal | None, instrument: Instrument) -> tuple[str, str] | None:
    if price is None:
        return OrdRejReason.OTHER, "limit order without Price(44)"
    if not price.is_finite() or price <= 0:
        return OrdRejReason.OTHER, f"Price(44) {price} must be positive"
    if instrument.to_ticks(price) is None:
        return OrdRejReason.OTHER, f"Price(44) {price} is off the tick grid (tick {instrument.tick_size})"
    return None
