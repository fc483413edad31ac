"""Booking fills: real ones from ExecType=F, busts and corrections by ExecRefID(19), and fills
inferred from a report's CumQty(14) when no fill report came, replaced by the real one if it
arrives later.

Takes the ledger (every write inside the caller's transaction) and the order manager's counters;
gives positions, never touching the order's state (the order state table's business).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from gateway.domain.errors import MessageError
from gateway.domain.events import ExecutionReported
from gateway.domain.fix_values import ExecType
from gateway.domain.orders import Fill, Order
from gateway.domain.positions import FillAmount, Position, apply_fill, fold_fills
from gateway.oms.ports import OrderLedger

log = logging.getLogger("fixgw.oms")


class FillBook:
    def __init__(self, ledger: OrderLedger, counters: dict[str, int]) -> None:
        self._ledger = ledger
        self._counters = counters
        # orders whose inferred fills a late real fill must replace rather than add to
        self._inferred_orders: set[str] = ledger.orders_with_open_inference()

    def record_fill(
        self, order: Order, report: ExecutionReported, position: Position | None, trade_date: str
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
                trade_date=trade_date,
            )
        )
        if not inserted:
            return position, False
        if order.order_key in self._inferred_orders:
            # the real fill replaces what was inferred for it instead of adding to it
            return self._supersede_inferred(order, report, position), True
        base = position or Position(symbol=order.symbol)
        amount = FillAmount(signed_qty=order.side.sign * report.last_qty, px=report.last_px)
        return apply_fill(base, amount), True

    def _supersede_inferred(
        self, order: Order, report: ExecutionReported, position: Position | None
    ) -> Position:
        remaining = report.last_qty
        for fill_id, inferred_qty in self._ledger.open_inferred_fills(order.order_key):
            if remaining <= 0:
                break
            taken = min(remaining, inferred_qty)
            self._ledger.supersede_inferred(
                fill_id, remaining_qty=inferred_qty - taken, by_exec_id=report.exec_id
            )
            remaining -= taken
        if not self._ledger.open_inferred_fills(order.order_key):
            self._inferred_orders.discard(order.order_key)
        log.info(
            "fill %s of order %s replaces %d of its inferred quantity",
            report.exec_id,
            order.cl_ord_id,
            report.last_qty - remaining,
        )
        return self.refold(order.symbol, position)

    def refold(self, symbol: str, position: Position | None) -> Position:
        refolded = fold_fills(symbol, self._ledger.fill_amounts(symbol))
        if position is not None and position.mark_px is not None:
            refolded = refolded.marked(position.mark_px)
        return refolded

    def infer_missing_fills(
        self,
        order: Order,
        report: ExecutionReported,
        report_id: int,
        position: Position | None,
        now: int,
    ) -> Position | None:
        """A report whose CumQty(14) exceeds the fills booked for the order (a fill the venue
        made while its report was lost: after a logout, a sequence reset, a gap fill) books the
        difference as an inferred fill, at the price AvgPx(6) implies for it, marked inferred,
        with the report as its evidence, and raises it as an anomaly."""
        booked_qty, booked_avg = self._ledger.order_fill_totals(order.order_key)
        missing = report.cum_qty - booked_qty
        if missing <= 0:
            return position
        booked_notional = (booked_avg or Decimal(0)) * booked_qty
        px: Decimal | None = None
        if report.avg_px is not None and report.avg_px > 0:
            px = (report.avg_px * report.cum_qty - booked_notional) / missing
            if px <= 0:
                px = report.avg_px
            # AvgPx(6) is rounded to its last digit, so px is off by up to half of it times
            # CumQty / missing; a limit order fills at its limit, so within that error the limit
            # is the price (and no fill is booked between two ticks)
            exponent = report.avg_px.as_tuple().exponent
            if order.price is not None and isinstance(exponent, int):
                bound = Decimal(1).scaleb(exponent) / 2 * report.cum_qty / missing
                if abs(px - order.price) <= bound:
                    px = order.price
        elif order.price is not None:
            px = order.price
        elif report.last_px is not None and report.last_px > 0:
            px = report.last_px
        evidence = (
            f"ExecutionReport ExecID {report.exec_id} (ExecType {report.exec_type.name}, OrdStatus "
            f"{report.ord_status.name}) reports CumQty {report.cum_qty}; fills booked for the order: "
            f"{booked_qty}"
        )
        if px is None:
            self._ledger.record_anomaly(
                kind="missing_fill_unpriced",
                reason=evidence + f"; {missing} unbooked and no price to infer them at",
                now_ns=now,
                session=report.session,
                order_key=order.order_key,
                cl_ord_id=report.cl_ord_id,
                exec_id=report.exec_id,
                raw=report.raw,
            )
            log.error("order %s: %s; no price to book them at", order.cl_ord_id, evidence)
            return position
        px = px.quantize(Decimal("1E-8")).normalize() if px != px.to_integral() else px.to_integral()
        self._ledger.insert_fill(
            Fill(
                session=report.session,
                exec_id=f"inferred-{report_id}",
                order_key=order.order_key,
                cl_ord_id=report.cl_ord_id,
                order_id=report.order_id,
                symbol=order.symbol,
                side=order.side,
                last_qty=missing,
                last_px=px,
                transact_time=report.transact_time,
                recv_ns=report.recv_ns,
                trade_date=report.trading_day(),
                inferred=True,
                evidence_report_id=report_id,
            )
        )
        self._ledger.record_anomaly(
            kind="inferred_fill",
            reason=evidence + f"; booked {missing} at {px} as an inferred fill",
            now_ns=now,
            session=report.session,
            order_key=order.order_key,
            cl_ord_id=report.cl_ord_id,
            exec_id=report.exec_id,
            raw=report.raw,
        )
        self._inferred_orders.add(order.order_key)
        self._counters["inferred_fills"] += 1
        log.warning(
            "order %s: %s; booked %d at %s as an inferred fill", order.cl_ord_id, evidence, missing, px
        )
        base = position or Position(symbol=order.symbol)
        return apply_fill(base, FillAmount(signed_qty=order.side.sign * missing, px=px))

    def record_bust_or_correction(
        self, order: Order, report: ExecutionReported, position: Position | None, now: int
    ) -> Position | None:
        ref = report.exec_ref_id
        # ExecRefID(19) names a fill of this order chain (ExecIDs repeat across trading days)
        original = self._ledger.fill(report.session, ref, order.order_key) if ref else None
        if original is None or original.fill_id is None:
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
            self._ledger.bust_fill(original.fill_id, report.exec_id)
        else:
            if report.last_px is None:
                raise MessageError(f"correction {report.exec_id} has no LastPx(31)", tag=31)
            self._ledger.correct_fill(
                original.fill_id,
                last_qty=report.last_qty,
                last_px=report.last_px,
                corrected_by=report.exec_id,
            )
        return self.refold(order.symbol, position)
