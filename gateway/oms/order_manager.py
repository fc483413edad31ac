"""Order management: the only way orders leave the gateway, and where their reports land.

Takes a ledger, an `OrderSender` (the FIX edge), symbol routes, limits and a clock; gives
`OrderManager`, which implements the decision path's `OrderPort` (submit, cancel, replace,
working_orders, position) and the FIX edge's inbound side (`on_execution_report`,
`on_cancel_reject`, `on_business_reject`, `on_session_logon`).

Every order is written to the ledger (and committed) before its NewOrderSingle(35=D) is handed to
QuickFIX. Every ExecutionReport(35=8) is checked against the order state table; the report, the
order's new state, the fill and the position commit in one transaction, and a report whose
(session, ExecID) is already stored changes nothing. Methods may be called from the QuickFIX
callback thread and from others; one re-entrant lock serialises them. No method holds that lock
while QuickFIX calls back into toApp/toAdmin, since those callbacks never take it.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.config import LimitsSection
from gateway.domain.errors import MessageError, UnknownOrderError
from gateway.domain.events import CancelRejected, ExecutionReported
from gateway.domain.fix_values import ExecType, MsgType, OrdStatus, OrdType, Side, TimeInForce
from gateway.domain.order_states import Transition, apply_execution
from gateway.domain.orders import Fill, Order, OrderRequest
from gateway.domain.ports import PositionView, SubmitResult, WorkingOrderView
from gateway.domain.positions import FillAmount, Position, apply_fill, fold_fills
from gateway.ledger.store import Ledger
from gateway.oms.ports import NoObserver, OrderObserver, OrderSender

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


_last_second: list[tuple[int, str]] = [(-1, "")]  # (epoch second, its text): strftime once a second


def fix_timestamp(ns: int) -> str:
    """UTCTimestamp with milliseconds: YYYYMMDD-HH:MM:SS.sss."""
    seconds, rest = divmod(ns, 1_000_000_000)
    cached_second, text = _last_second[0]
    if cached_second != seconds:
        text = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds))
        _last_second[0] = (seconds, text)
    return f"{text}.{rest // 1_000_000:03d}"


@functools.lru_cache(maxsize=4096)
def _price_text(price: Decimal) -> str:
    # Cached: orders are priced on a few hundred ticks, and normalize() costs microseconds.
    return format(price.normalize(), "f") if price == price.to_integral() else format(price, "f")


# Enum construction (`Side("1")`) costs microseconds on the order path; a dict lookup does not.
_SIDES: dict[str, Side] = {member.value: member for member in Side}
_ORD_TYPES: dict[str, OrdType] = {member.value: member for member in OrdType}
_TIFS: dict[str, TimeInForce] = {member.value: member for member in TimeInForce}


class _VersionedOrders(dict[str, Order]):
    """Live orders by order key. `version` moves on every change, so a view built from the
    orders (`working_orders`) stays valid, and can be handed out again, until it moves."""

    __slots__ = ("version",)

    def __init__(self) -> None:
        super().__init__()
        self.version = 0

    def __setitem__(self, key: str, value: Order) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Order]:
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self.version += 1

    def setdefault(self, key: str, default: Order) -> Order:
        self.version += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.version += 1

    def __ior__(self, other: Any) -> Any:  # type: ignore[misc]
        self.update(other)
        return self


class OrderManager:
    def __init__(
        self,
        *,
        ledger: Ledger,
        sender: OrderSender,
        routes: Mapping[str, Route],
        limits: LimitsSection,
        run_id: int,
        clock_ns: Callable[[], int] = time.time_ns,
        observer: OrderObserver | None = None,
    ) -> None:
        self._ledger = ledger
        self._sender = sender
        self._routes = dict(routes)
        self._limits = limits
        self._run_id = run_id
        self._clock_ns = clock_ns
        self._observer: OrderObserver = observer or NoObserver()
        self._lock = threading.RLock()
        self._sequence = itertools.count(1)
        self._halted = ""  # kill switch: when set, the reason every new order is refused
        self._orders = _VersionedOrders()  # live orders by order_key
        self._order_key_by_cl_ord_id: dict[str, str] = {}
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
            "duplicates": 0,
            "misfits": 0,
            "late": 0,
            "busts": 0,
            "corrections": 0,
            "cancel_rejects": 0,
            "unsolicited_cancels": 0,
        }
        for order in ledger.live_orders():
            self._orders[order.order_key] = order
        for cl_ord_id, order_key in ledger.request_keys(list(self._orders)):
            self._order_key_by_cl_ord_id[cl_ord_id] = order_key

    # --- OrderPort ---------------------------------------------------------------------------

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
            self.counters["submitted"] += 1
            self._observer.order_submitted(order)
            fields: list[tuple[int, str]] = [
                (11, cl_ord_id),
                (55, symbol),
                (54, side_value.value),
                (60, fix_timestamp(now)),
                (38, str(qty)),
                (40, type_value.value),
            ]
            if order.price is not None:
                fields.append((44, _price_text(order.price)))
            fields.append((59, tif_value.value))
            if not self._sender.send(route.session, MsgType.NEW_ORDER_SINGLE, fields):
                # QuickFIX stored it under a sequence number and may still deliver it on resend;
                # the status request at the next logon settles what the venue has.
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
            now = self._clock_ns()
            request_id = self._write_ahead_request(order, MsgType.ORDER_CANCEL_REQUEST, "cancel", now)
            fields: list[tuple[int, str]] = [(41, order.cl_ord_id), (11, request_id)]
            if order.order_id:
                fields.append((37, order.order_id))
            fields += [
                (55, order.symbol),
                (54, order.side.value),
                (60, fix_timestamp(now)),
                (38, str(order.order_qty)),
            ]
            sent = self._sender.send(order.session, MsgType.ORDER_CANCEL_REQUEST, fields)
            return SubmitResult(accepted=sent, cl_ord_id=request_id, reason="" if sent else "not sent")

    def replace(
        self, cl_ord_id: str, *, qty: int | None = None, price: Decimal | None = None
    ) -> SubmitResult:
        with self._lock:
            order = self._live_order(cl_ord_id)
            if order is None:
                return self._refuse(cl_ord_id, f"no live order {cl_ord_id}")
            if order.pending:
                return self._refuse(cl_ord_id, f"order {cl_ord_id} has a {order.pending} pending")
            new_qty = order.order_qty if qty is None else qty
            new_price = order.price if price is None else price
            if new_qty <= order.cum_qty:
                return self._refuse(
                    cl_ord_id, f"new quantity {new_qty} is not above the filled {order.cum_qty}"
                )
            if new_qty > self._limits.max_order_qty:
                return self._refuse(cl_ord_id, f"quantity {new_qty} exceeds max_order_qty")
            if order.ord_type is OrdType.LIMIT and (new_price is None or new_price <= 0):
                return self._refuse(cl_ord_id, "a limit order needs a positive price")
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
            fields: list[tuple[int, str]] = [(41, order.cl_ord_id), (11, request_id)]
            if order.order_id:
                fields.append((37, order.order_id))
            fields += [
                (55, order.symbol),
                (54, order.side.value),
                (60, fix_timestamp(now)),
                (38, str(new_qty)),
                (40, order.ord_type.value),
            ]
            if new_price is not None and order.ord_type is OrdType.LIMIT:
                fields.append((44, _price_text(new_price)))
            fields.append((59, order.tif.value))
            sent = self._sender.send(order.session, MsgType.ORDER_CANCEL_REPLACE_REQUEST, fields)
            return SubmitResult(accepted=sent, cl_ord_id=request_id, reason="" if sent else "not sent")

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
        return request_id

    def halt(self, reason: str) -> None:
        """Kill switch: refuse every new order from now on (cancels are still allowed)."""
        with self._lock:
            self._halted = reason or "halted"
            log.info("trading halted: %s", self._halted)

    def resume(self) -> None:
        with self._lock:
            self._halted = ""

    def request_status(self, cl_ord_id: str) -> bool:
        """Send OrderStatusRequest(35=H) for a live order."""
        with self._lock:
            order = self._live_order(cl_ord_id)
            if order is None or not self._sender.session_ready(order.session):
                return False
            return self._send_status_request(order)

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
                    pending=o.pending,
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
            sent = 0
            for order in list(self._orders.values()):
                if order.session == session and not order.is_final and self._send_status_request(order):
                    sent += 1
            return sent

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
            transition = apply_execution(order.status, report.exec_type, report.ord_status)
            updated = self._next_order_state(order, report, transition, now)
            before = position = self._positions.get(order.symbol)
            fill_recorded = False
            with self._ledger.transaction():
                stored = self._ledger.insert_execution_report(
                    report, order_key=order.order_key, fits=transition.fits, late=transition.late
                )
                if not stored:
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
                    position, fill_recorded = self._record_fill(order, report, position)
                elif report.exec_type in (ExecType.TRADE_CANCEL, ExecType.TRADE_CORRECT):
                    position = self._record_bust_or_correction(order, report, position, now)
                self._settle_request(order, report, now)
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
        if finished:
            # outside the lock: a thread the observer wakes (a decision waiting for this order)
            # can submit at once instead of queueing behind the rest of this report
            self._observer.order_finished(updated)
        return ExecutionOutcome(
            duplicate=False, order=updated, transition=transition, fill_recorded=fill_recorded
        )

    def on_cancel_reject(self, reject: CancelRejected) -> Order | None:
        """OrderCancelReject(35=9): the cancel or replace did not happen; the order stays."""
        with self._lock:
            order = self._find_order(reject.cl_ord_id, reject.orig_cl_ord_id)
            now = self._clock_ns()
            self.counters["cancel_rejects"] += 1
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
                    return None
                status = order.status
                if (
                    status in (OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE)
                    and reject.ord_status is not None
                    and not reject.ord_status.is_final
                ):
                    # fills only ever come from ExecutionReports: a final status here waits for them
                    status = reject.ord_status
                updated = replace(order, pending="", status=status, last_text=reject.text, updated_ns=now)
                self._ledger.update_order(updated)
            if not updated.is_final:
                self._orders[order.order_key] = updated
            return updated

    def on_business_reject(self, ref_msg_type: str, ref_id: str | None, text: str, session: str) -> None:
        """BusinessMessageReject(35=j) about one of our requests (BusinessRejectRefID(379) = the
        ClOrdID). A rejected NewOrderSingle ends its order; a rejected cancel/replace ends the
        pending request; a rejected status request of an order the venue never saw ends it."""
        with self._lock:
            if not ref_id:
                return
            order = self._find_order(ref_id, None)
            if order is None or order.is_final:
                return
            now = self._clock_ns()
            updated = order
            if ref_msg_type == MsgType.NEW_ORDER_SINGLE or (
                ref_msg_type == MsgType.ORDER_STATUS_REQUEST and order.status is OrdStatus.PENDING_NEW
            ):
                updated = replace(order, status=OrdStatus.REJECTED, pending="", leaves_qty=0, last_text=text)
            elif ref_msg_type in (MsgType.ORDER_CANCEL_REQUEST, MsgType.ORDER_CANCEL_REPLACE_REQUEST):
                updated = replace(order, pending="", last_text=text)
            else:
                return
            updated = replace(updated, updated_ns=now)
            with self._ledger.transaction():
                self._ledger.set_request_state(ref_id, "rejected", text, now)
                self._ledger.update_order(updated)
            if updated.is_final:
                self._forget(order.order_key)
                self._observer.order_finished(updated)
            else:
                self._orders[order.order_key] = updated

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
        self, symbol: str, side: Side, qty: int, ord_type: OrdType, price: Decimal | None
    ) -> str:
        if qty <= 0:
            return f"quantity must be positive, got {qty}"
        if qty > self._limits.max_order_qty:
            return f"quantity {qty} exceeds max_order_qty {self._limits.max_order_qty}"
        if ord_type is OrdType.LIMIT:
            try:
                if price is None or not price.is_finite() or price <= 0:
                    return "a limit order needs a positive price"
            except InvalidOperation:
                return "a limit order needs a positive price"
        live = [o for o in self._orders.values() if not o.is_final]
        if len(live) >= self._limits.max_open_orders:
            return f"{len(live)} open orders reached max_open_orders"
        position = self._positions.get(symbol)
        held = position.qty if position else 0
        working = sum(o.leaves_qty for o in live if o.symbol == symbol and o.side.sign == side.sign)
        worst = held + side.sign * (working + qty)
        if abs(worst) > self._limits.max_position_qty:
            return f"position could reach {worst}, beyond max_position_qty {self._limits.max_position_qty}"
        return ""

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

    def _send_status_request(self, order: Order) -> bool:
        fields: list[tuple[int, str]] = [(11, order.cl_ord_id)]
        if order.order_id:
            fields.append((37, order.order_id))
        fields += [(55, order.symbol), (54, order.side.value)]
        return self._sender.send(order.session, MsgType.ORDER_STATUS_REQUEST, fields)

    def _next_order_state(
        self, order: Order, report: ExecutionReported, transition: Transition, now: int
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
        if transition.status.is_final:
            changes["pending"] = ""
            changes["leaves_qty"] = 0
        elif (
            order.pending == "new"
            or (order.pending == "cancel" and report.exec_type is ExecType.CANCELED)
            or (order.pending == "replace" and report.exec_type is ExecType.REPLACED)
        ):
            changes["pending"] = ""
        return replace(order, **changes)  # type: ignore[arg-type]

    def _record_fill(
        self, order: Order, report: ExecutionReported, position: Position | None
    ) -> tuple[Position | None, bool]:
        if report.last_px is None:
            raise MessageError(f"fill {report.exec_id} has no LastPx(31)", tag=31)
        inserted = self._ledger.insert_fill(
            Fill(
                session=report.session,
                exec_id=report.exec_id,
                order_key=order.order_key,
                cl_ord_id=report.cl_ord_id,
                order_id=report.order_id,
                symbol=order.symbol,
                side=order.side,
                last_qty=report.last_qty,
                last_px=report.last_px,
                transact_time=report.transact_time,
                recv_ns=report.recv_ns,
            )
        )
        if not inserted:
            return position, False
        base = position or Position(symbol=order.symbol)
        amount = FillAmount(signed_qty=order.side.sign * report.last_qty, px=report.last_px)
        return apply_fill(base, amount), True

    def _record_bust_or_correction(
        self, order: Order, report: ExecutionReported, position: Position | None, now: int
    ) -> Position | None:
        ref = report.exec_ref_id
        original = self._ledger.fill(report.session, ref) if ref else None
        if original is None:
            self._ledger.record_anomaly(
                kind="bust_or_correction_of_unknown_fill",
                reason=f"ExecType(150)={report.exec_type.value} refers to ExecRefID(19) {ref!r}, "
                "which is not a fill in the ledger",
                now_ns=now,
                session=report.session,
                order_key=order.order_key,
                cl_ord_id=report.cl_ord_id,
                exec_id=report.exec_id,
                raw=report.raw,
            )
            return position
        if report.exec_type is ExecType.TRADE_CANCEL:
            self._ledger.bust_fill(report.session, original.exec_id, report.exec_id)
        else:
            if report.last_px is None:
                raise MessageError(f"correction {report.exec_id} has no LastPx(31)", tag=31)
            self._ledger.correct_fill(
                report.session,
                original.exec_id,
                last_qty=report.last_qty,
                last_px=report.last_px,
                corrected_by=report.exec_id,
            )
        refolded = fold_fills(order.symbol, self._ledger.fill_amounts(order.symbol))
        if position is not None and position.mark_px is not None:
            refolded = refolded.marked(position.mark_px)
        return refolded

    def _settle_request(self, order: Order, report: ExecutionReported, now: int) -> None:
        """Mark the request a report answers: accepted or rejected."""
        if report.exec_type in (ExecType.CANCELED, ExecType.REPLACED) and report.cl_ord_id != order.order_key:
            self._ledger.set_request_state(report.cl_ord_id, "accepted", None, now)
        elif order.pending == "new" and report.cl_ord_id == order.order_key:
            state = "rejected" if report.exec_type is ExecType.REJECTED else "accepted"
            self._ledger.set_request_state(report.cl_ord_id, state, report.text, now)

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
