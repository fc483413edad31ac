"""What the order manager needs from the outside, as protocols it owns (adapters live in
gateway/fix, gateway/ledger and gateway/telemetry; tests pass recording fakes)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Protocol

from gateway.domain.commands import OrderCommand
from gateway.domain.events import CancelRejected, ExecutionReported
from gateway.domain.orders import Fill, Order, OrderRequest
from gateway.domain.positions import FillAmount, Position


class OrderSender(Protocol):
    """The FIX edge as the order manager sees it: it takes commands, not FIX fields."""

    def session_ready(self, session: str) -> bool:
        """The session is logged on and can take application messages now."""
        ...

    def send(self, session: str, command: OrderCommand) -> bool:
        """Hand one command to the FIX engine (encoded there); False if it refused it."""
        ...


class OrderObserver(Protocol):
    """Told about order lifecycles (telemetry spans, progress counters)."""

    def order_submitted(self, order: Order) -> None: ...

    def order_finished(self, order: Order) -> None: ...


class NoObserver:
    def order_submitted(self, order: Order) -> None:
        pass

    def order_finished(self, order: Order) -> None:
        pass


class OrderLedger(Protocol):
    """What the order manager needs of its store (gateway/ledger/store.py's `Ledger` is the one
    in use): orders and their requests written ahead, reports and fills idempotently, positions,
    and what did not fit. Writes that belong together happen inside `transaction()`."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def write_ahead_order(self, order: Order) -> None: ...

    def update_order(self, order: Order) -> None: ...

    def order(self, order_key: str) -> Order | None: ...

    def live_orders(self) -> list[Order]: ...

    def insert_request(self, request: OrderRequest) -> None: ...

    def set_request_state(self, cl_ord_id: str, state: str, reason: str | None, now_ns: int) -> None: ...

    def request(self, cl_ord_id: str) -> OrderRequest | None: ...

    def latest_request(self, order_key: str, msg_types: tuple[str, ...]) -> OrderRequest | None: ...

    def request_keys(self, order_keys: list[str]) -> list[tuple[str, str]]: ...

    def insert_execution_report(
        self,
        report: ExecutionReported,
        *,
        order_key: str | None,
        fits: bool,
        late: bool,
        trade_date: str | None = None,
    ) -> int | None: ...

    def has_execution_report(self, session: str, exec_id: str) -> bool: ...

    def insert_fill(self, fill: Fill) -> bool: ...

    def fill(self, session: str, exec_id: str, order_key: str | None = None) -> Fill | None: ...

    def bust_fill(self, fill_id: int, busted_by: str) -> None: ...

    def correct_fill(self, fill_id: int, *, last_qty: int, last_px: Decimal, corrected_by: str) -> None: ...

    def orders_with_open_inference(self) -> set[str]: ...

    def open_inferred_fills(self, order_key: str) -> list[tuple[int, int]]: ...

    def supersede_inferred(self, fill_id: int, *, remaining_qty: int, by_exec_id: str) -> None: ...

    def fill_amounts(self, symbol: str) -> list[FillAmount]: ...

    def order_fill_totals(self, order_key: str) -> tuple[int, Decimal | None]: ...

    def upsert_position(self, position: Position, now_ns: int) -> None: ...

    def positions(self) -> dict[str, Position]: ...

    def record_anomaly(
        self,
        *,
        kind: str,
        reason: str,
        now_ns: int,
        session: str | None = None,
        order_key: str | None = None,
        cl_ord_id: str | None = None,
        exec_id: str | None = None,
        raw: str | None = None,
    ) -> None: ...

    def record_quarantine(
        self,
        *,
        session: str | None,
        msg_type: str | None,
        seq_num: int | None,
        reason: str,
        answer: str,
        raw: str,
        now_ns: int,
    ) -> None: ...

    def record_cancel_reject(self, reject: CancelRejected, order_key: str | None, now_ns: int) -> None: ...
