"""The seams between the FIX edge, order management and the decision path.

The FIX application (gateway/fix) owns the QuickFIX callback thread. It hands market data to a
`MarketDataSink` and the sink places orders through an `OrderPort`, synchronously, on that same
thread: a decision leaves before the callback returns. `SinkContext` is what the composition
root (gateway/app.py) gives the decision path when it builds its sink.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol


class MarketDataSink(Protocol):
    """Receives MarketDataSnapshotFullRefresh(35=W), MarketDataIncrementalRefresh(35=X) and
    MarketDataRequestReject(35=Y) messages on the QuickFIX callback thread.

    `message` is a quickfix.Message owned by the engine: read it now, never keep it.
    `recv_ns` is the wall-clock receive time in integer nanoseconds UTC, taken first thing in
    fromApp. Must not raise: the FIX application quarantines what escapes, but a sink that
    raises loses that tick.
    """

    def on_market_data(self, message: Any, session_key: str, recv_ns: int) -> None: ...

    def on_session_down(self, session_key: str) -> None:
        """The market-data session dropped: every book it fed is stale until a new snapshot."""
        ...

    def close(self) -> None:
        """Flush and release resources at shutdown."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitResult:
    accepted: bool
    cl_ord_id: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingOrderView:
    cl_ord_id: str
    symbol: str
    side: str  # FIX Side(54) value: "1" buy, "2" sell, "5" sell short
    price: Decimal | None
    order_qty: int
    leaves_qty: int
    cum_qty: int
    pending: str  # "" | "new" | "cancel" | "replace": a request sent, not yet answered


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionView:
    symbol: str
    qty: int  # signed: long > 0, short < 0
    avg_cost: Decimal
    realized_pnl: Decimal


class OrderPort(Protocol):
    """What the decision path may do to orders. Implemented by gateway.oms.OrderManager."""

    def submit(
        self,
        *,
        symbol: str,
        side: str,
        qty: int,
        ord_type: str,  # FIX OrdType(40): "1" market, "2" limit
        price: Decimal | None = None,
        tif: str = "0",  # FIX TimeInForce(59): "0" Day, "1" GTC, "3" IOC, "4" FOK
        decision_id: str | None = None,
    ) -> SubmitResult: ...

    def cancel(self, cl_ord_id: str) -> SubmitResult: ...

    def cancel_working(self, symbol: str | None = None, *, reason: str) -> int:
        """See every working order of `symbol` (all, if None) cancelled: at once where no
        request is in flight, else as soon as it is answered, retried until each order is final
        or a deadline passes. Returns how many orders it took on."""
        ...

    def replace(
        self, cl_ord_id: str, *, qty: int | None = None, price: Decimal | None = None
    ) -> SubmitResult: ...

    def working_orders(self, symbol: str) -> Sequence[WorkingOrderView]: ...

    def position(self, symbol: str) -> PositionView: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkContext:
    """Given by gateway/app.py to the decision path's sink factory."""

    orders: OrderPort
    symbols: Sequence[str]
    state_dir: Path  # where the decision path keeps its own files (feature store, ticks)
    ledger_path: Path  # the gateway ledger (SQLite); the decision path may open it read-only
    clock_ns: Callable[[], int]
    # Ask the venue for a fresh MarketDataSnapshotFullRefresh(35=W) of one symbol.
    request_snapshot: Callable[[str], None]
    # Anything else from the [decision] table is validated by the decision path itself.
    decision_table: Mapping[str, Any]
