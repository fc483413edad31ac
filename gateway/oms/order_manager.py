"""Order management: the only way orders leave the gateway, and where their reports land.

Takes a ledger, an `OrderSender` (the FIX edge), symbol routes, limits and a clock; gives
`OrderManager`, which implements the decision path's `OrderPort` (submit, cancel, replace,
working_orders, position) and the FIX edge's inbound side (`on_execution_report`,
`on_cancel_reject`, `on_business_reject`, `on_session_logon`).

Every order is written to the ledger (and committed) before its NewOrderSingle(35=D) is handed to
QuickFIX. Every ExecutionReport(35=8) is checked against the order state table; the report, the
order's new state, the fill and the position commit in one transaction, and a report already
stored (same session, order chain, ExecID(17) and trading day; status reports are never
duplicates) changes nothing. A report whose CumQty(14) exceeds the fills booked for its order
books the difference as an inferred fill, which the real fill replaces if it comes.

Each order has at most one request in flight (new, cancel or replace); the pending-request table
(gateway/domain/requests.py) brings every one back: an answer, a failed send, a status reply that
shows the venue never got it, or a timeout (`check_pending`, driven by the gateway's timer) that
asks the venue and then gives up waiting. Orders the gateway must see end (`cancel_working`: a
feed gap, a wind-down, a stop) are cancelled as soon as they are free, and again until final or a
deadline.

Methods may be called from the QuickFIX callback thread and from others; one re-entrant lock
serialises them. No method calls into QuickFIX while holding it (QuickFIX holds its session mutex
while calling onLogout and toApp, which may reach this lock): requests are prepared under the
lock and sent after it is released.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from gateway.config import LimitsSection, OrdersSection
from gateway.domain.commands import CancelOrder, OrderCommand, ReplaceOrder, RequestStatus, SubmitOrder
from gateway.domain.errors import UnknownOrderError
from gateway.domain.events import CancelRejected, ExecutionReported
from gateway.domain.fix_values import ExecType, MsgType, OrdStatus, OrdType, Side, TimeInForce, is_final
from gateway.domain.order_states import Transition, apply_execution, effective_status
from gateway.domain.orders import Order, OrderRequest
from gateway.domain.ports import PositionView, SubmitResult, WorkingOrderView
from gateway.domain.positions import Position
from gateway.domain.requests import RequestEvent, RequestPhase, step_request
from gateway.oms.fill_booking import FillBook
from gateway.oms.ports import NoObserver, OrderLedger, OrderObserver, OrderSender
from gateway.oms.versioned_orders import VersionedOrders
from gateway.risk.order_limits import order_refusal

log = logging.getLogger("fixgw.oms")


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    venue: str
    session: str  # order-entry session key, e.g. "FIX.4.4:FIXGW->FIXSIM"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionOutcome:
    """What one ExecutionReport did."""

    duplicate: bool
    order: Order | None = None
    transition: Transition | None = None
    fill_recorded: bool = False


# Enum construction (`Side("1")`) costs microseconds on the order path; a dict lookup does not.
_SIDES: dict[str, Side] = {member.value: member for member in Side}
_ORD_TYPES: dict[str, OrdType] = {member.value: member for member in OrdType}
_TIFS: dict[str, TimeInForce] = {member.value: member for member in TimeInForce}


@dataclass(slots=True)
class _PendingRequest:
    """The request an order is waiting for (its `Order.pending` mark), and where it stands."""

    cl_ord_id: str  # the request's ClOrdID(11); for a new order, the order key
    kind: str  # "new" | "cancel" | "replace"
    phase: RequestPhase
    since_ns: int  # sent, acknowledged or asked about at this time: the timeout runs from here


@dataclass(slots=True)
class _CancelIntent:
    """An order the gateway has decided must end: cancelled as soon as no request is in flight,
    retried until it is final or the deadline passes."""

    deadline_ns: int
    reason: str
    last_try_ns: int = 0


class _Outbound(NamedTuple):
    """A command prepared (and written ahead) under the lock, handed to the FIX edge after it (a
    NamedTuple: built on every order, a frozen dataclass costs several times more)."""

    session: str
    command: OrderCommand
    order_key: str
    request_id: str


class OrderManager:
    def __init__(
        self,
        *,
        ledger: OrderLedger,
        sender: OrderSender,
        routes: Mapping[str, Route],
        limits: LimitsSection,
        run_id: int,
        clock_ns: Callable[[], int] = time.time_ns,
        observer: OrderObserver | None = None,
        follow_up: OrdersSection | None = None,
    ) -> None:
        self._ledger = ledger
        self._sender = sender
        self._routes = dict(routes)
        self._limits = limits
        self._follow_up = follow_up or OrdersSection()
        self._run_id = run_id
        self._clock_ns = clock_ns
        self._observer: OrderObserver = observer or NoObserver()
        self._lock = threading.RLock()
        self._sequence = itertools.count(1)
        self._halted = ""  # kill switch: when set, the reason every new order is refused
        self._orders = VersionedOrders()  # live orders by order_key
        self._order_key_by_cl_ord_id: dict[str, str] = {}
        self._pending: dict[str, _PendingRequest] = {}  # by order_key: requests in flight
        self._cancel_intents: dict[str, _CancelIntent] = {}  # by order_key
        self._positions: dict[str, Position] = ledger.positions()
        # guards read-modify-write of _positions (held alone by mark(), inside _lock elsewhere)
        self._positions_lock = threading.Lock()
        # Views handed to the decision path on every decision, rebuilt only when their source
        # changed: a working-orders view per symbol with the `_orders.version` it was built at,
        # a position view per symbol with the (immutable) Position it was built from. Both are
        # derived from the in-memory state, which follows the ledger's commits; nothing here is
        # a second source of truth.
        self._working_views: dict[str, tuple[int, list[WorkingOrderView]]] = {}
        self._position_views: dict[str, tuple[Position | None, PositionView]] = {}
        self.counters: dict[str, int] = {
            "submitted": 0,
            "refused": 0,
            "fills": 0,
            "inferred_fills": 0,
            "duplicates": 0,
            "misfits": 0,
            "late": 0,
            "busts": 0,
            "corrections": 0,
            "cancel_rejects": 0,
            "unsolicited_cancels": 0,
            "requests_timed_out": 0,
            "cancel_retries": 0,
        }
        now = clock_ns()
        for order in ledger.live_orders():
            self._orders[order.order_key] = order
            self._restore_pending(order, now)
        for cl_ord_id, order_key in ledger.request_keys(list(self._orders)):
            self._order_key_by_cl_ord_id[cl_ord_id] = order_key
        self._fills = FillBook(ledger, self.counters)

    def _restore_pending(self, order: Order, now: int) -> None:
        """After a restart, an order written ahead with a request in flight waits for it again;
        the status request at logon (or the timeout) settles it."""
        if not order.pending:
            return
        request_id = order.order_key
        if order.pending in ("cancel", "replace"):
            msg_type = (
                MsgType.ORDER_CANCEL_REQUEST
                if order.pending == "cancel"
                else MsgType.ORDER_CANCEL_REPLACE_REQUEST
            )
            request = self._ledger.latest_request(order.order_key, (msg_type,))
            request_id = request.cl_ord_id if request is not None else order.cl_ord_id
        self._pending[order.order_key] = _PendingRequest(
            cl_ord_id=request_id, kind=order.pending, phase=RequestPhase.AWAITING, since_ns=now
        )

    # --- OrderPort ---------------------------------------------------------------------------
    #
    # Lock order: QuickFIX's session mutex may be held when our code takes `_lock` (onLogout,
    # toApp), never the other way round. So nothing here calls into QuickFIX while holding
    # `_lock`: a request is checked, written ahead and marked pending under the lock, and handed
    # to QuickFIX after it is released (`_transmit`).

    def submit(
        self,
        *,
        symbol: str,
        side: str,
        qty: int,
        ord_type: str,
        price: Decimal | None = None,
        tif: str = "0",
        decision_id: str | None = None,
    ) -> SubmitResult:
        with self._lock:
            if self._halted:
                return self._refuse(None, f"trading halted: {self._halted}")
            side_value, type_value, tif_value = _SIDES.get(side), _ORD_TYPES.get(ord_type), _TIFS.get(tif)
            if side_value is None or type_value is None or tif_value is None:
                invalid = (
                    f"{side!r} is not a valid Side" if side_value is None
                    else f"{ord_type!r} is not a valid OrdType" if type_value is None
                    else f"{tif!r} is not a valid TimeInForce"
                )  # fmt: skip
                return self._refuse(None, f"invalid order field: {invalid}")
            route = self._routes.get(symbol)
            if route is None:
                return self._refuse(None, f"symbol {symbol!r} is not routed to any venue")
            refusal = self._check_limits(symbol, side_value, qty, type_value, price)
            if refusal:
                return self._refuse(None, refusal)
            if not self._sender.session_ready(route.session):
                return self._refuse(None, f"session {route.session} is not logged on")
            now = self._clock_ns()
            cl_ord_id = self._next_cl_ord_id()
            order = Order(
                order_key=cl_ord_id,
                cl_ord_id=cl_ord_id,
                run_id=self._run_id,
                venue=route.venue,
                session=route.session,
                symbol=symbol,
                side=side_value,
                ord_type=type_value,
                tif=tif_value,
                price=price if type_value is OrdType.LIMIT else None,
                order_qty=qty,
                leaves_qty=qty,
                decision_id=decision_id,
                created_ns=now,
                updated_ns=now,
            )
            # Written ahead: the order and its 35=D request are committed (one statement, one
            # implicit transaction) before QuickFIX sees the NewOrderSingle.
            self._ledger.write_ahead_order(order)
            self._orders[cl_ord_id] = order
            self._order_key_by_cl_ord_id[cl_ord_id] = cl_ord_id
            self._pending[cl_ord_id] = _PendingRequest(
                cl_ord_id=cl_ord_id, kind="new", phase=RequestPhase.AWAITING, since_ns=now
            )
            self.counters["submitted"] += 1
            self._observer.order_submitted(order)
            command = SubmitOrder(
                cl_ord_id=cl_ord_id,
                symbol=symbol,
                side=side_value,
                order_qty=qty,
                ord_type=type_value,
                price=order.price,
                time_in_force=tif_value,
                transact_ns=now,
            )
            outbound = _Outbound(route.session, command, cl_ord_id, cl_ord_id)
        if not self._send(outbound):
            # QuickFIX may have stored it under a sequence number and still deliver it on a
            # resend: the order stays pending, and the status request (at the next logon, or when
            # the request times out) settles what the venue has.
            log.warning("NewOrderSingle(35=D) %s was not written to the socket", cl_ord_id)
            return SubmitResult(accepted=False, cl_ord_id=cl_ord_id, reason="not sent; status pending")
        return SubmitResult(accepted=True, cl_ord_id=cl_ord_id)

    def cancel(self, cl_ord_id: str) -> SubmitResult:
        with self._lock:
            order = self._live_order(cl_ord_id)
            if order is None:
                return self._refuse(cl_ord_id, f"no live order {cl_ord_id}")
            if order.pending in ("cancel", "replace"):
                return self._refuse(cl_ord_id, f"order {cl_ord_id} already has a {order.pending} pending")
            if not self._sender.session_ready(order.session):
                return self._refuse(cl_ord_id, f"session {order.session} is not logged on")
            outbound = self._prepare_cancel(order, self._clock_ns())
        sent = self._transmit(outbound)
        return SubmitResult(accepted=sent, cl_ord_id=outbound.request_id, reason="" if sent else "not sent")

    def replace(
        self, cl_ord_id: str, *, qty: int | None = None, price: Decimal | None = None
    ) -> SubmitResult:
        with self._lock:
            if self._halted:
                return self._refuse(cl_ord_id, f"trading halted: {self._halted}")
            order = self._live_order(cl_ord_id)
            if order is None:
                return self._refuse(cl_ord_id, f"no live order {cl_ord_id}")
            if order.pending:
                return self._refuse(cl_ord_id, f"order {cl_ord_id} has a {order.pending} pending")
            if order.order_key in self._cancel_intents:
                return self._refuse(cl_ord_id, f"order {cl_ord_id} is being cancelled")
            new_qty = order.order_qty if qty is None else qty
            new_price = order.price if price is None else price
            if new_qty <= order.cum_qty:
                return self._refuse(
                    cl_ord_id, f"new quantity {new_qty} is not above the filled {order.cum_qty}"
                )
            # the same checks as a new order: the replaced order's remaining quantity in place
            # of what it has working now
            refusal = self._check_limits(
                order.symbol,
                order.side,
                new_qty - order.cum_qty,
                order.ord_type,
                new_price,
                order_qty=new_qty,
                replacing=order.order_key,
            )
            if refusal:
                return self._refuse(cl_ord_id, refusal)
            if not self._sender.session_ready(order.session):
                return self._refuse(cl_ord_id, f"session {order.session} is not logged on")
            now = self._clock_ns()
            request_id = self._write_ahead_request(
                order,
                MsgType.ORDER_CANCEL_REPLACE_REQUEST,
                "replace",
                now,
                order_qty=new_qty,
                price=new_price,
            )
            replacement = ReplaceOrder(
                cl_ord_id=request_id,
                orig_cl_ord_id=order.cl_ord_id,
                order_id=order.order_id,
                symbol=order.symbol,
                side=order.side,
                order_qty=new_qty,
                ord_type=order.ord_type,
                price=new_price,
                time_in_force=order.tif,
                transact_ns=now,
            )
            outbound = _Outbound(order.session, replacement, order.order_key, request_id)
        sent = self._transmit(outbound)
        return SubmitResult(accepted=sent, cl_ord_id=request_id, reason="" if sent else "not sent")

    def cancel_working(
        self, symbol: str | None = None, *, reason: str, within_ns: int | None = None, keep_gtc: bool = False
    ) -> int:
        """See every working order (of `symbol`, or all) through to its end: cancelled now where
        no request is in flight, else as soon as its request is answered; a cancel that is
        rejected or lost is sent again (every `cancel_retry_interval_ms`) until the order is final
        or `within_ns` (default `cancel_deadline_ms`) has passed. `keep_gtc` leaves GTC orders
        working. Returns how many orders it took on."""
        outbound: list[_Outbound] = []
        with self._lock:
            now = self._clock_ns()
            deadline = now + (
                within_ns if within_ns is not None else self._follow_up.cancel_deadline_ms * 1_000_000
            )
            taken = 0
            for order in list(self._orders.values()):
                if order.is_final or (symbol is not None and order.symbol != symbol):
                    continue
                if keep_gtc and order.tif is TimeInForce.GTC:
                    continue
                taken += 1
                intent = self._cancel_intents.get(order.order_key)
                if intent is None:
                    self._cancel_intents[order.order_key] = _CancelIntent(deadline_ns=deadline, reason=reason)
                else:
                    intent.deadline_ns = max(intent.deadline_ns, deadline)
                out = self._cancel_if_free(order, now)
                if out is not None:
                    outbound.append(out)
            if taken:
                log.info(
                    "cancelling %d working order(s)%s: %s", taken, f" of {symbol}" if symbol else "", reason
                )
        for out in outbound:
            self._transmit(out)
        return taken

    def being_cancelled(self) -> list[str]:
        """ClOrdIDs of live orders the gateway is seeing through to their end."""
        with self._lock:
            return [self._orders[k].cl_ord_id for k in self._cancel_intents if k in self._orders]

    def check_pending(self) -> None:
        """Follow requests up; called every few hundred milliseconds by the gateway's timer.

        A request unanswered for `request_timeout_ms` gets an OrderStatusRequest(35=H); if that
        goes unanswered as long again, the request is given up (logged and recorded as an
        anomaly) so the order can be cancelled or replaced anew. Orders that must end get their
        cancel sent again, paced, until they are final or their deadline passes."""
        outbound: list[_Outbound] = []
        with self._lock:
            now = self._clock_ns()
            timeout_ns = self._follow_up.request_timeout_ms * 1_000_000
            for order_key, pending in list(self._pending.items()):
                if now - pending.since_ns < timeout_ns:
                    continue
                order = self._orders.get(order_key)
                if order is None:
                    del self._pending[order_key]
                    continue
                step = step_request(pending.phase, RequestEvent.TIMED_OUT)
                if step.ask_status:
                    pending.phase = RequestPhase.STATUS_ASKED
                    pending.since_ns = now
                    self._ledger.set_request_state(pending.cl_ord_id, "in_doubt", "timed out", now)
                    log.warning(
                        "%s request %s for order %s unanswered after %d ms: asking the venue for its status",
                        pending.kind,
                        pending.cl_ord_id,
                        order.cl_ord_id,
                        self._follow_up.request_timeout_ms,
                    )
                    if self._sender.session_ready(order.session):
                        outbound.append(self._status_request(order))
                    continue
                self.counters["requests_timed_out"] += 1
                log.warning(
                    "%s request %s for order %s: no answer, nor to the status request; given up",
                    pending.kind,
                    pending.cl_ord_id,
                    order.cl_ord_id,
                )
                with self._ledger.transaction():
                    self._ledger.record_anomaly(
                        kind="request_timed_out",
                        reason=f"{pending.kind} request {pending.cl_ord_id} and the status request "
                        "after it went unanswered",
                        now_ns=now,
                        session=order.session,
                        order_key=order_key,
                        cl_ord_id=pending.cl_ord_id,
                    )
                    order = self._clear_pending(order, RequestEvent.TIMED_OUT, now, "no answer")
                    self._ledger.update_order(order)
                self._orders[order_key] = order
            retry_ns = self._follow_up.cancel_retry_interval_ms * 1_000_000
            for order_key, intent in list(self._cancel_intents.items()):
                order = self._orders.get(order_key)
                if order is None or order.is_final:
                    del self._cancel_intents[order_key]
                    continue
                if now >= intent.deadline_ns:
                    del self._cancel_intents[order_key]
                    log.warning(
                        "order %s (%s) still working after the cancel deadline (%s)",
                        order.cl_ord_id,
                        order.symbol,
                        intent.reason,
                    )
                    continue
                if now - intent.last_try_ns >= retry_ns:
                    out = self._cancel_if_free(order, now)
                    if out is not None:
                        self.counters["cancel_retries"] += 1
                        outbound.append(out)
        for out in outbound:
            self._transmit(out)

    def _cancel_if_free(self, order: Order, now: int) -> _Outbound | None:
        """Prepare the cancel of an order that must end, if nothing is in flight for it and its
        session can take it (called under the lock)."""
        if order.is_final or order.pending or not self._sender.session_ready(order.session):
            return None
        intent = self._cancel_intents.get(order.order_key)
        if intent is not None:
            intent.last_try_ns = now
        return self._prepare_cancel(order, now)

    def _prepare_cancel(self, order: Order, now: int) -> _Outbound:
        request_id = self._write_ahead_request(order, MsgType.ORDER_CANCEL_REQUEST, "cancel", now)
        command = CancelOrder(
            cl_ord_id=request_id,
            orig_cl_ord_id=order.cl_ord_id,
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            order_qty=order.order_qty,
            transact_ns=now,
        )
        return _Outbound(order.session, command, order.order_key, request_id)

    def _status_request(self, order: Order) -> _Outbound:
        command = RequestStatus(
            cl_ord_id=order.cl_ord_id, order_id=order.order_id, symbol=order.symbol, side=order.side
        )
        return _Outbound(order.session, command, order.order_key, order.cl_ord_id)

    def _send(self, outbound: _Outbound) -> bool:
        """Hand one message to QuickFIX. Never called with `_lock` held (see the lock order
        above); an exception from the engine counts as not sent."""
        try:
            return bool(self._sender.send(outbound.session, outbound.command))
        except Exception:
            log.exception("%s %s: the FIX edge raised", type(outbound.command).__name__, outbound.request_id)
            return False

    def _transmit(self, outbound: _Outbound) -> bool:
        """Send a cancel, replace or status request; a cancel or replace QuickFIX refused will
        never reach the venue, so its pending mark is cleared at once."""
        sent = self._send(outbound)
        if not sent and isinstance(outbound.command, CancelOrder | ReplaceOrder):
            log.warning("%s %s was not sent", type(outbound.command).__name__, outbound.request_id)
            with self._lock:
                order = self._orders.get(outbound.order_key)
                pending = self._pending.get(outbound.order_key)
                if order is not None and pending is not None and pending.cl_ord_id == outbound.request_id:
                    now = self._clock_ns()
                    with self._ledger.transaction():
                        order = self._clear_pending(order, RequestEvent.NOT_SENT, now, "not sent")
                        self._ledger.update_order(order)
                    self._orders[outbound.order_key] = order
        return sent

    def _request_step(self, order_key: str, event: RequestEvent, now: int, text: str | None) -> bool:
        """Apply a request event to the order's request in flight (its ledger row inside the
        caller's transaction); True when nothing is pending for the order afterwards."""
        pending = self._pending.get(order_key)
        if pending is None:
            return True
        step = step_request(pending.phase, event)
        if step.phase is not None:
            pending.phase = step.phase
            pending.since_ns = now
            return False
        del self._pending[order_key]
        if step.row_state is not None:
            self._ledger.set_request_state(pending.cl_ord_id, step.row_state, text, now)
        return True

    def _clear_pending(self, order: Order, event: RequestEvent, now: int, text: str | None) -> Order:
        """Apply a request event (inside a transaction); the order without its pending mark
        when the request is no longer pending."""
        cleared = self._request_step(order.order_key, event, now, text)
        return replace(order, pending="", updated_ns=now) if cleared and order.pending else order

    def _write_ahead_request(
        self,
        order: Order,
        msg_type: str,
        pending: str,
        now: int,
        *,
        order_qty: int | None = None,
        price: Decimal | None = None,
    ) -> str:
        """Record a cancel or replace request and mark the order pending, committed in one
        transaction before the request is handed to QuickFIX; returns the request's ClOrdID."""
        request_id = self._next_cl_ord_id()
        updated = replace(order, pending=pending, updated_ns=now)
        with self._ledger.transaction():
            self._ledger.insert_request(
                OrderRequest(
                    cl_ord_id=request_id,
                    order_key=order.order_key,
                    msg_type=msg_type,
                    orig_cl_ord_id=order.cl_ord_id,
                    order_qty=order_qty,
                    price=price,
                    created_ns=now,
                )
            )
            self._ledger.update_order(updated)
        self._orders[order.order_key] = updated
        self._order_key_by_cl_ord_id[request_id] = order.order_key
        self._pending[order.order_key] = _PendingRequest(
            cl_ord_id=request_id, kind=pending, phase=RequestPhase.AWAITING, since_ns=now
        )
        return request_id

    def halt(self, reason: str) -> None:
        """Kill switch: refuse every new order and replace from now on (cancels still go)."""
        with self._lock:
            self._halted = reason or "halted"
            log.info("trading halted: %s", self._halted)

    def request_status(self, cl_ord_id: str) -> bool:
        """Send OrderStatusRequest(35=H) for a live order."""
        with self._lock:
            order = self._live_order(cl_ord_id)
            if order is None or not self._sender.session_ready(order.session):
                return False
            outbound = self._status_request(order)
        return self._send(outbound)

    def working_orders(self, symbol: str) -> Sequence[WorkingOrderView]:
        with self._lock:
            version = self._orders.version
            cached = self._working_views.get(symbol)
            if cached is not None and cached[0] == version:
                return list(cached[1])  # a copy: the cached list is never handed out
            views = [
                WorkingOrderView(
                    cl_ord_id=o.cl_ord_id,
                    symbol=o.symbol,
                    side=o.side.value,
                    price=o.price,
                    order_qty=o.order_qty,
                    leaves_qty=o.leaves_qty,
                    cum_qty=o.cum_qty,
                    pending=o.pending or ("cancel" if o.order_key in self._cancel_intents else ""),
                )
                for o in self._orders.values()
                if o.symbol == symbol and not o.is_final
            ]
            self._working_views[symbol] = (version, views)
            return list(views)

    def position(self, symbol: str) -> PositionView:
        with self._positions_lock:
            position = self._positions.get(symbol)
            cached = self._position_views.get(symbol)
            if cached is not None and cached[0] is position:
                return cached[1]  # PositionView is immutable: the same object is safe to share
            source = position or Position(symbol=symbol)
            view = PositionView(
                symbol=symbol,
                qty=source.qty,
                avg_cost=source.avg_cost,
                realized_pnl=source.realized_pnl,
            )
            self._position_views[symbol] = (position, view)
            return view

    # --- read side for progress displays ------------------------------------------------------

    def positions(self) -> dict[str, Position]:
        with self._positions_lock:
            return dict(self._positions)

    def live_orders(self) -> list[Order]:
        with self._lock:
            return [o for o in self._orders.values() if not o.is_final]

    def order(self, cl_ord_id: str) -> Order | None:
        with self._lock:
            return self._find_order(cl_ord_id, None)

    def mark(self, symbol: str, price: Decimal) -> None:
        """Mark a position to the market (for unrealized PnL); not written to the ledger.

        Called on every market-data message: it takes only the positions lock, so it never
        waits behind a submit or a report holding the order manager's lock (its ledger commit,
        its hand-off to QuickFIX)."""
        with self._positions_lock:
            position = self._positions.get(symbol)
            if position is not None and position.mark_px != price:
                self._positions[symbol] = position.marked(price)

    # --- inbound: from the FIX edge -------------------------------------------------------------

    def on_session_logon(self, session: str) -> int:
        """After a (re)logon, ask the venue for the status of every live order on the session:
        the answers settle orders whose reports were lost with a crash or a disconnect, and
        orders written ahead but never sent. Returns how many requests were sent."""
        with self._lock:
            outbound = [
                self._status_request(order)
                for order in self._orders.values()
                if order.session == session and not order.is_final
            ]
        return sum(1 for out in outbound if self._send(out))

    def on_execution_report(self, report: ExecutionReported) -> ExecutionOutcome:
        """Apply one ExecutionReport(35=8). Raises UnknownOrderError for a report about an order
        the gateway never sent, MessageError for one it cannot book (the FIX edge quarantines and
        answers both)."""
        with self._lock:
            order = self._find_order(report.cl_ord_id, report.orig_cl_ord_id)
            if order is None:
                if self._ledger.has_execution_report(report.session, report.exec_id):
                    self.counters["duplicates"] += 1
                    return ExecutionOutcome(duplicate=True)
                raise UnknownOrderError(
                    f"ExecutionReport(35=8) ExecID {report.exec_id} "
                    f"for unknown ClOrdID(11) {report.cl_ord_id}",
                    cl_ord_id=report.cl_ord_id,
                )
            was_final = order.is_final
            now = self._clock_ns()
            reported = effective_status(
                report.exec_type,
                report.ord_status,
                cum_qty=report.cum_qty,
                leaves_qty=report.leaves_qty,
                order_qty=report.order_qty if report.order_qty is not None else order.order_qty,
            )
            transition = apply_execution(order.status, report.exec_type, reported)
            before = position = self._positions.get(order.symbol)
            fill_recorded = False
            with self._ledger.transaction():
                trade_date = report.trading_day()
                report_id = self._ledger.insert_execution_report(
                    report,
                    order_key=order.order_key,
                    fits=transition.fits,
                    late=transition.late,
                    trade_date=trade_date,
                )
                if report_id is None:
                    self.counters["duplicates"] += 1
                    return ExecutionOutcome(duplicate=True, order=order)
                if not transition.fits:
                    self._ledger.record_anomaly(
                        kind="state_table_misfit",
                        reason=transition.reason,
                        now_ns=now,
                        session=report.session,
                        order_key=order.order_key,
                        cl_ord_id=report.cl_ord_id,
                        exec_id=report.exec_id,
                        raw=report.raw,
                    )
                if report.exec_type is ExecType.TRADE and report.last_qty > 0:
                    position, fill_recorded = self._fills.record_fill(order, report, position, trade_date)
                elif report.exec_type in (ExecType.TRADE_CANCEL, ExecType.TRADE_CORRECT):
                    position = self._fills.record_bust_or_correction(order, report, position, now)
                # fills the venue counts (CumQty) that no fill report brought: booked as inferred
                if report.exec_type not in (ExecType.TRADE_CANCEL, ExecType.TRADE_CORRECT) and (
                    report.cum_qty > order.cum_qty + (report.last_qty if fill_recorded else 0)
                ):
                    position = self._fills.infer_missing_fills(order, report, report_id, position, now)
                self._settle_request(order, report, now)
                clear_pending = self._settle_pending(order, report, transition, now)
                updated = self._next_order_state(order, report, transition, now, clear_pending=clear_pending)
                self._ledger.update_order(updated)
                if position is not before and position is not None:
                    self._ledger.upsert_position(position, now)
            # committed: now the in-memory view follows
            if position is not before and position is not None:
                # a mark() since `before` was read only changed the mark, which the fill has
                # just set to its own price (as in the ledger row): nothing else is lost
                with self._positions_lock:
                    self._positions[order.symbol] = position
            self._count(order, report, transition)
            finished = updated.is_final and not was_final
            if updated.is_final:
                self._forget(order.order_key)
            else:
                self._orders[order.order_key] = updated
            follow_up = self._follow_up_cancel(updated, now)
        if finished:
            # outside the lock: a thread the observer wakes (a decision waiting for this order)
            # can submit at once instead of queueing behind the rest of this report
            self._observer.order_finished(updated)
        if follow_up is not None:
            self._transmit(follow_up)
        return ExecutionOutcome(
            duplicate=False, order=updated, transition=transition, fill_recorded=fill_recorded
        )

    def _follow_up_cancel(self, order: Order, now: int) -> _Outbound | None:
        """An order that must end and has just become free of its request: its cancel now,
        unless one was tried within the retry interval (the timer retries it)."""
        intent = self._cancel_intents.get(order.order_key)
        if intent is None:
            return None
        if order.is_final:
            del self._cancel_intents[order.order_key]
            return None
        if now - intent.last_try_ns < self._follow_up.cancel_retry_interval_ms * 1_000_000:
            return None
        return self._cancel_if_free(order, now)

    def on_cancel_reject(self, reject: CancelRejected) -> Order | None:
        """OrderCancelReject(35=9): the cancel or replace did not happen; the order stays."""
        with self._lock:
            order = self._find_order(reject.cl_ord_id, reject.orig_cl_ord_id)
            now = self._clock_ns()
            with self._ledger.transaction():
                self._ledger.record_cancel_reject(reject, order.order_key if order else None, now)
                self._ledger.set_request_state(reject.cl_ord_id, "rejected", reject.text, now)
                if order is None:
                    self._ledger.record_anomaly(
                        kind="cancel_reject_unknown_order",
                        reason=f"OrderCancelReject(35=9) for unknown ClOrdID {reject.cl_ord_id}",
                        now_ns=now,
                        session=reject.session,
                        cl_ord_id=reject.cl_ord_id,
                        raw=reject.raw,
                    )
                else:
                    updated = self._rejected_request(order, reject, now)
            # counted once committed: a reader that sees the counter move finds the rows
            self.counters["cancel_rejects"] += 1
            if order is None:
                return None
            follow_up = None
            if not updated.is_final:
                self._orders[order.order_key] = updated
                follow_up = self._follow_up_cancel(updated, now)
        if follow_up is not None:
            self._transmit(follow_up)
        return updated

    def _rejected_request(self, order: Order, reject: CancelRejected, now: int) -> Order:
        """The order after an OrderCancelReject(35=9) of its cancel or replace (its row written in
        the caller's transaction)."""
        status = order.status
        if (
            status in (OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE)
            and reject.ord_status is not None
            and not is_final(reject.ord_status)
        ):
            # fills only ever come from ExecutionReports: a final status here waits for them
            status = reject.ord_status
        updated = replace(order, status=status, last_text=reject.text, updated_ns=now)
        pending = self._pending.get(order.order_key)
        if pending is not None and pending.cl_ord_id == reject.cl_ord_id:
            updated = self._clear_pending(updated, RequestEvent.REJECTED, now, reject.text)
        elif pending is None:
            updated = replace(updated, pending="")
        self._ledger.update_order(updated)
        return updated

    def on_business_reject(self, ref_msg_type: str, ref_id: str | None, text: str, session: str) -> None:
        """BusinessMessageReject(35=j) about one of our requests (BusinessRejectRefID(379) = the
        ClOrdID). A rejected NewOrderSingle ends its order; a rejected cancel/replace ends the
        pending request; a rejected status request of an order the venue never saw ends it."""
        follow_up = None
        with self._lock:
            if not ref_id:
                return
            order = self._find_order(ref_id, None)
            if order is None or order.is_final:
                return
            now = self._clock_ns()
            updated = order
            with self._ledger.transaction():
                if ref_msg_type == MsgType.NEW_ORDER_SINGLE or (
                    ref_msg_type == MsgType.ORDER_STATUS_REQUEST and order.status is OrdStatus.PENDING_NEW
                ):
                    updated = self._clear_pending(order, RequestEvent.REJECTED, now, text)
                    updated = replace(
                        updated, status=OrdStatus.REJECTED, pending="", leaves_qty=0, last_text=text
                    )
                elif ref_msg_type in (MsgType.ORDER_CANCEL_REQUEST, MsgType.ORDER_CANCEL_REPLACE_REQUEST):
                    updated = self._clear_pending(order, RequestEvent.REJECTED, now, text)
                    updated = replace(updated, pending="", last_text=text)
                else:
                    return
                updated = replace(updated, updated_ns=now)
                self._ledger.set_request_state(ref_id, "rejected", text, now)
                self._ledger.update_order(updated)
            if updated.is_final:
                self._pending.pop(order.order_key, None)
                self._cancel_intents.pop(order.order_key, None)
                self._forget(order.order_key)
            else:
                self._orders[order.order_key] = updated
                follow_up = self._follow_up_cancel(updated, now)
        if updated.is_final:
            self._observer.order_finished(updated)
        if follow_up is not None:
            self._transmit(follow_up)

    def quarantine(
        self, *, session: str, msg_type: str, seq_num: int | None, reason: str, answer: str, raw: str
    ) -> None:
        """Store a message the gateway could not process (under the same lock as every write)."""
        with self._lock:
            self._ledger.record_quarantine(
                session=session,
                msg_type=msg_type,
                seq_num=seq_num,
                reason=reason,
                answer=answer,
                raw=raw,
                now_ns=self._clock_ns(),
            )

    # --- internals ------------------------------------------------------------------------------

    def _forget(self, order_key: str) -> None:
        """Drop a final order from memory; late reports about it are matched through the ledger."""
        self._orders.pop(order_key, None)
        self._pending.pop(order_key, None)
        self._cancel_intents.pop(order_key, None)
        stale = [cl for cl, key in self._order_key_by_cl_ord_id.items() if key == order_key]
        for cl_ord_id in stale:
            del self._order_key_by_cl_ord_id[cl_ord_id]

    def _next_cl_ord_id(self) -> str:
        # the run id comes from the ledger's run counter, so ids never repeat across restarts
        return f"{self._run_id}-{next(self._sequence)}"

    def _refuse(self, cl_ord_id: str | None, reason: str) -> SubmitResult:
        self.counters["refused"] += 1
        log.info("order refused: %s", reason)
        return SubmitResult(accepted=False, cl_ord_id=cl_ord_id, reason=reason)

    def _check_limits(
        self,
        symbol: str,
        side: Side,
        qty: int,
        ord_type: OrdType,
        price: Decimal | None,
        *,
        order_qty: int | None = None,
        replacing: str | None = None,
    ) -> str:
        """The limits (gateway/risk/order_limits.py) for a new order, or for a replace
        (`replacing` names the order, `qty` its new remaining quantity, `order_qty` its new
        total), over the live orders and the position held now."""
        live = [o for o in self._orders.values() if not o.is_final and o.order_key != replacing]
        position = self._positions.get(symbol)
        return order_refusal(
            self._limits,
            side_sign=side.sign,
            qty=qty,
            order_qty=qty if order_qty is None else order_qty,
            ord_type=ord_type,
            price=price,
            open_orders=len(live),
            counts_as_new=replacing is None,
            position_qty=position.qty if position else 0,
            working_same_side_qty=sum(
                o.leaves_qty for o in live if o.symbol == symbol and o.side.sign == side.sign
            ),
        )

    def _live_order(self, cl_ord_id: str) -> Order | None:
        order = self._find_order(cl_ord_id, None)
        if order is None or order.is_final:
            return None
        return order

    def _find_order(self, cl_ord_id: str, orig_cl_ord_id: str | None) -> Order | None:
        for candidate in (cl_ord_id, orig_cl_ord_id):
            if not candidate:
                continue
            key = self._order_key_by_cl_ord_id.get(candidate)
            if key is not None and key in self._orders:
                return self._orders[key]
        # an order that is no longer live (late reports, busts after the end): ask the ledger
        for candidate in (cl_ord_id, orig_cl_ord_id):
            if not candidate:
                continue
            request = self._ledger.request(candidate)
            if request is not None:
                return self._orders.get(request.order_key) or self._ledger.order(request.order_key)
        return None

    def _next_order_state(
        self,
        order: Order,
        report: ExecutionReported,
        transition: Transition,
        now: int,
        *,
        clear_pending: bool,
    ) -> Order:
        changes: dict[str, object] = {
            "status": transition.status,
            "order_id": report.order_id or order.order_id,
            "updated_ns": now,
        }
        if report.text:
            changes["last_text"] = report.text
        if not transition.late:
            changes["cum_qty"] = report.cum_qty
            changes["leaves_qty"] = report.leaves_qty
            if report.avg_px is not None:
                changes["avg_px"] = report.avg_px
        if report.exec_type is ExecType.REPLACED and not transition.late:
            request = self._ledger.request(report.cl_ord_id)
            changes["cl_ord_id"] = report.cl_ord_id
            qty = (
                report.order_qty if report.order_qty is not None else (request.order_qty if request else None)
            )
            if qty is not None:
                changes["order_qty"] = qty
            price = report.price if report.price is not None else (request.price if request else None)
            if price is not None:
                changes["price"] = price
        if is_final(transition.status):
            changes["leaves_qty"] = 0
        if clear_pending and order.pending:
            changes["pending"] = ""
        return replace(order, **changes)  # type: ignore[arg-type]

    def _request_event(
        self, pending: _PendingRequest, report: ExecutionReported, transition: Transition
    ) -> RequestEvent | None:
        """What an ExecutionReport means for the request the order is waiting for."""
        exec_type = report.exec_type
        if pending.kind == "new":
            rejected = exec_type is ExecType.REJECTED or (
                exec_type is ExecType.ORDER_STATUS and report.ord_status is OrdStatus.REJECTED
            )
            return RequestEvent.REJECTED if rejected else RequestEvent.ACCEPTED
        answer, acknowledgement, status = (
            (ExecType.CANCELED, ExecType.PENDING_CANCEL, OrdStatus.PENDING_CANCEL)
            if pending.kind == "cancel"
            else (ExecType.REPLACED, ExecType.PENDING_REPLACE, OrdStatus.PENDING_REPLACE)
        )
        if exec_type is answer:
            return RequestEvent.ACCEPTED
        if exec_type is acknowledgement:
            return RequestEvent.ACKNOWLEDGED
        if is_final(transition.status):
            return RequestEvent.ORDER_ENDED
        if exec_type is ExecType.ORDER_STATUS:
            # the venue's own account of the order: without the pending state it does not
            # have our request (lost on the way, never sent before a crash, gap-filled on resend)
            return RequestEvent.ACKNOWLEDGED if report.ord_status is status else RequestEvent.UNKNOWN_AT_VENUE
        return None

    def _settle_pending(
        self, order: Order, report: ExecutionReported, transition: Transition, now: int
    ) -> bool:
        """Apply what a report means for the order's request in flight (its ledger row in the
        caller's transaction); True when the order's pending mark goes."""
        pending = self._pending.get(order.order_key)
        if pending is None:
            # nothing in flight (or its mark outlived a restart without its request row)
            return is_final(transition.status)
        event = self._request_event(pending, report, transition)
        if event is None:
            return False
        if event is RequestEvent.UNKNOWN_AT_VENUE:
            log.warning(
                "%s request %s for order %s: the venue's status (%s) shows no such request",
                pending.kind,
                pending.cl_ord_id,
                order.cl_ord_id,
                report.ord_status.name,
            )
        return self._request_step(order.order_key, event, now, report.text)

    def _settle_request(self, order: Order, report: ExecutionReported, now: int) -> None:
        """Mark the request a report answers as accepted (a cancel or replace the venue carried
        out, even one the gateway had stopped waiting for)."""
        if report.exec_type in (ExecType.CANCELED, ExecType.REPLACED) and report.cl_ord_id != order.order_key:
            self._ledger.set_request_state(report.cl_ord_id, "accepted", None, now)

    def _count(self, order: Order, report: ExecutionReported, transition: Transition) -> None:
        if not transition.fits:
            self.counters["misfits"] += 1
            log.warning("ExecutionReport %s does not fit: %s", report.exec_id, transition.reason)
        if transition.late:
            self.counters["late"] += 1
        if report.exec_type is ExecType.TRADE:
            self.counters["fills"] += 1
        elif report.exec_type is ExecType.TRADE_CANCEL:
            self.counters["busts"] += 1
        elif report.exec_type is ExecType.TRADE_CORRECT:
            self.counters["corrections"] += 1
        elif report.exec_type is ExecType.CANCELED and order.pending != "cancel":
            self.counters["unsolicited_cancels"] += 1
            log.info("unsolicited cancel of %s: %s", order.cl_ord_id, report.text or "")
