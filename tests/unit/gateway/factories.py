"""Factories and recording fakes for the gateway's unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from gateway.config import LimitsSection, OrdersSection
from gateway.domain.commands import OrderCommand
from gateway.domain.events import CancelRejected, ExecutionReported
from gateway.domain.fix_values import ExecType, OrdStatus, OrdType, Side, TimeInForce
from gateway.domain.orders import Order
from gateway.fix.order_encoding import encode
from gateway.ledger.store import Ledger, open_ledger
from gateway.oms.order_manager import OrderManager, Route

SESSION = "FIX.4.4:FIXGW->FIXSIM"
SESSIONS_DIR = Path(__file__).resolve().parents[3] / "sessions"
T = TypeVar("T")

# The smallest gateway TOML that loads: one venue, one routed symbol.
MINIMAL_GATEWAY_TOML = """
[gateway]
sessions_cfg = "gateway-sim.cfg"
[venues.SIM]
order_session = "FIX.4.4:FIXGW->FIXSIM"
[routing]
ACME = "SIM"
"""


def write_gateway_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    return path


def limit_order(key: str, *, qty: int = 3, created_ns: int = 5) -> Order:
    """A new Day limit order to buy ACME at 101.5, ClOrdID and order key `key`."""
    return Order(
        order_key=key,
        cl_ord_id=key,
        run_id=1,
        venue="SIM",
        session="S",
        symbol="ACME",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        tif=TimeInForce.DAY,
        price=Decimal("101.5"),
        order_qty=qty,
        leaves_qty=qty,
        created_ns=created_ns,
        updated_ns=created_ns,
    )


def present(value: T | None) -> T:
    """The value, asserting it is there (narrows Optional results in tests)."""
    assert value is not None
    return value


@dataclass
class RecordingSender:
    """Keeps every message the order manager hands to the FIX edge."""

    ready: bool = True
    accept: bool = True
    sent: list[tuple[str, str, dict[int, str]]] = field(default_factory=list)

    def session_ready(self, session: str) -> bool:
        return self.ready

    def send(self, session: str, command: OrderCommand) -> bool:
        # recorded as the FIX edge would write it: MsgType(35) and {tag: value}
        msg_type, fields = encode(command)
        self.sent.append((session, msg_type, dict(fields)))
        return self.accept

    def of_type(self, msg_type: str) -> list[dict[int, str]]:
        return [f for _, t, f in self.sent if t == msg_type]


@dataclass
class RecordingObserver:
    submitted: list[Order] = field(default_factory=list)
    finished: list[Order] = field(default_factory=list)

    def order_submitted(self, order: Order) -> None:
        self.submitted.append(order)

    def order_finished(self, order: Order) -> None:
        self.finished.append(order)


class FakeClock:
    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def make_ledger(tmp_path: Path) -> Ledger:
    return open_ledger(tmp_path / "ledger.sqlite")


def make_oms(
    tmp_path: Path,
    *,
    ledger: Ledger | None = None,
    sender: RecordingSender | None = None,
    limits: LimitsSection | None = None,
    observer: RecordingObserver | None = None,
    clock: FakeClock | None = None,
    follow_up: OrdersSection | None = None,
) -> tuple[OrderManager, Ledger, RecordingSender]:
    ledger = ledger or make_ledger(tmp_path)
    sender = sender or RecordingSender()
    run_id = ledger.start_run(started_ns=1, config_path=None)
    oms = OrderManager(
        ledger=ledger,
        sender=sender,
        routes={s: Route(venue="SIM", session=SESSION) for s in ("ACME", "BOLT")},
        limits=limits or LimitsSection(),
        run_id=run_id,
        clock_ns=clock or FakeClock(),
        observer=observer,
        follow_up=follow_up,
    )
    return oms, ledger, sender


_exec_seq = iter(range(1, 1_000_000))


def report(
    cl_ord_id: str,
    exec_type: ExecType,
    ord_status: OrdStatus,
    *,
    exec_id: str | None = None,
    symbol: str = "ACME",
    side: Side = Side.BUY,
    last_qty: int = 0,
    last_px: str | None = None,
    cum_qty: int = 0,
    leaves_qty: int = 0,
    orig_cl_ord_id: str | None = None,
    exec_ref_id: str | None = None,
    order_qty: int | None = None,
    price: str | None = None,
    poss_dup: bool = False,
    session: str = SESSION,
    avg_px: str | None = None,
    order_id: str = "O1",
    transact_time: str | None = None,
    trade_date: str | None = None,
    text: str | None = None,
) -> ExecutionReported:
    return ExecutionReported(
        session=session,
        exec_id=exec_id or f"E{next(_exec_seq)}",
        exec_type=exec_type,
        ord_status=ord_status,
        cl_ord_id=cl_ord_id,
        orig_cl_ord_id=orig_cl_ord_id,
        order_id=order_id,
        symbol=symbol,
        side=side,
        order_qty=order_qty,
        price=Decimal(price) if price else None,
        last_qty=last_qty,
        last_px=Decimal(last_px) if last_px else None,
        cum_qty=cum_qty,
        leaves_qty=leaves_qty,
        avg_px=Decimal(avg_px) if avg_px else None,
        exec_ref_id=exec_ref_id,
        text=text,
        poss_dup=poss_dup,
        transact_time=transact_time,
        recv_ns=1,
        seq_num=1,
        raw="8=FIX.4.4|35=8|",
        trade_date=trade_date,
    )


def cancel_rejected(
    request_id: str,
    orig_cl_ord_id: str,
    *,
    ord_status: OrdStatus = OrdStatus.NEW,
    reason: str = "0",
    text: str = "too late to cancel",
    session: str = SESSION,
) -> CancelRejected:
    """An OrderCancelReject(35=9) of the cancel `request_id` of order `orig_cl_ord_id`."""
    return CancelRejected(
        session=session,
        cl_ord_id=request_id,
        orig_cl_ord_id=orig_cl_ord_id,
        order_id="O1",
        ord_status=ord_status,
        response_to="1",
        reason=reason,
        text=text,
        recv_ns=1,
        seq_num=1,
        raw="35=9",
    )
