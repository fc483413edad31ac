"""Order entry: new orders, cancels, cancel/replace, mass cancel, and the venue's own cancels
and end-of-day expiry.

Takes request values (`venue_requests.py`); gives a `VenueResult` with the order records, the
ClOrdIDs claimed, and the ExecutionReport(35=8), OrderCancelReject(35=9) or
OrderMassCancelReport(35=r) to send. A request naming an account its session does not own is
refused the FIX way, without touching that account.
"""

from __future__ import annotations

from decimal import Decimal

from fixcore.values import ExecType, OrdStatus, OrdType, Side, TimeInForce
from simulator.venue_fills import VenueFills
from simulator.venue_reports import CancelRejectOut, ExecutionReportOut, MassCancelReportOut, VenueResult
from simulator.venue_requests import CancelRequest, MassCancelRequest, NewOrderRequest, ReplaceRequest
from simulator.venue_rules import (
    MASS_CANCEL_REJECT_OTHER,
    ORD_TYPES,
    SIDES,
    TIMES_IN_FORCE,
    CxlRejReason,
    CxlRejResponseTo,
    MassCancelType,
    OrdRejReason,
    limit_price_problem,
    quantity_problem,
    whole_number,
)
from simulator.venue_state import WorkingOrder


class OrderEntry(VenueFills):
    """NewOrderSingle(35=D), OrderCancelRequest(35=F), OrderCancelReplaceRequest(35=G),
    OrderMassCancelRequest(35=q); the venue's own cancels and end-of-day expiry.
    """

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
        order = WorkingOrder(
            order_id=self._next_order_id(),
            account=request.account,
            session_key=request.session_key,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=request.symbol,
            side=request.side,
            ord_type=request.ord_type,
            price_ticks=None,
            order_qty=whole_number(request.order_qty) or 0,
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
        new_qty = whole_number(request.order_qty)
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

    def _validate_new(self, request: NewOrderRequest) -> tuple[str, str] | None:
        instrument = self.instruments.get(request.symbol)
        if instrument is None:
            return OrdRejReason.UNKNOWN_SYMBOL, f"unknown symbol {request.symbol!r}"
        if request.side not in SIDES:
            return OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, f"unsupported Side(54) {request.side!r}"
        if request.ord_type not in ORD_TYPES:
            return (
                OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
                f"unsupported OrdType(40) {request.ord_type!r}: only 1 (market) and 2 (limit)",
            )
        if request.time_in_force not in TIMES_IN_FORCE:
            return (
                OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
                f"unsupported TimeInForce(59) {request.time_in_force!r}: only 0, 1, 3, 4",
            )
        problem = quantity_problem(request.order_qty, instrument)
        if problem is not None:
            return OrdRejReason.INCORRECT_QUANTITY, problem
        if request.ord_type == OrdType.LIMIT:
            return limit_price_problem(request.price, instrument)
        return None

    def _replace_problem(self, request: ReplaceRequest, order: WorkingOrder) -> tuple[str, str] | None:
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
        problem = quantity_problem(request.order_qty, instrument)
        if problem is not None:
            return CxlRejReason.OTHER, problem
        new_qty = whole_number(request.order_qty)
        assert new_qty is not None
        if new_qty <= order.cum_qty:
            return (
                CxlRejReason.OTHER,
                f"OrderQty(38) {new_qty} must exceed the filled quantity {order.cum_qty}",
            )
        if request.price is not None:
            price_problem = limit_price_problem(request.price, instrument)
            if price_problem is not None:
                return CxlRejReason.OTHER, price_problem[1]
        return None

    def _cancel_problem(
        self, account: str, cl_ord_id: str, order: WorkingOrder | None
    ) -> tuple[str, str] | None:
        if (account, cl_ord_id) in self._by_cl_ord_id:
            return CxlRejReason.DUPLICATE_CL_ORD_ID, f"duplicate ClOrdID {cl_ord_id}"
        if order is None:
            return CxlRejReason.UNKNOWN_ORDER, "unknown order"
        if order.is_final:
            return CxlRejReason.TOO_LATE_TO_CANCEL, f"order is final (OrdStatus {order.status.name})"
        return None

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
                side=request.side if request.side in SIDES else Side.BUY,
                ord_type=request.ord_type,
                price=price,
                order_qty=whole_number(request.order_qty) or 0,
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
        order: WorkingOrder | None,
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
