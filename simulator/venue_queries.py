"""Status requests: one order's status, mass status, and positions.

Takes OrderStatusRequest(35=H), OrderMassStatusRequest(35=AF) and RequestForPositions(35=AN)
values; gives a `VenueResult` holding only messages to send: ExecutionReport(35=8, ExecType=I),
RequestForPositionsAck(35=AO) and PositionReport(35=AP). Nothing here changes the venue's state.
"""

from __future__ import annotations

from decimal import Decimal

from fixcore.values import ExecType, OrdStatus, Side
from simulator.venue_reports import ExecutionReportOut, PositionAckOut, PositionReportOut, VenueResult
from simulator.venue_requests import MassStatusRequest, PositionRequest, StatusRequest
from simulator.venue_rules import (
    POS_REQ_RESULT_NOT_AUTHORIZED,
    POS_REQ_STATUS_REJECTED,
    MassStatusType,
    OrdRejReason,
)
from simulator.venue_state import VenueState


class VenueQueries(VenueState):
    """OrderStatusRequest(35=H), OrderMassStatusRequest(35=AF), RequestForPositions(35=AN)."""

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
