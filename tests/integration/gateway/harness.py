"""Gateway integration harness: a gateway config pointing at a simulator on a free port, an
in-process `Gateway` for lifecycle tests, and the venue-vs-ledger comparison every test ends with."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.app import Gateway, configure_logging
from gateway.config import GatewayConfig, load_config
from gateway.domain.orders import Order
from gateway.oms.order_manager import OrderManager

REPO_ROOT = Path(__file__).resolve().parents[3]
SIM_SESSIONS_CFG = REPO_ROOT / "sessions" / "gateway-sim.cfg"


def write_gateway_toml(
    directory: Path,
    port: int,
    *,
    strategy: bool = False,
    order_interval_ms: int = 50,
    name: str = "gateway.toml",
    extra: str = "",
    venue_extra: str = "",
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(
        f"""
[gateway]
sessions_cfg = "{SIM_SESSIONS_CFG}"
state_dir = "{directory / "state"}"
port = {port}
status_interval_ms = 500

[limits]
max_order_qty = 5000
max_open_orders = 50
max_position_qty = 100000

[venues.SIM]
order_session = "FIX.4.4:FIXGW->FIXSIM"
market_data_session = "FIX.4.4:FIXGW-MD->FIXSIM"
market_depth = 5
{venue_extra}

[routing]
ACME = "SIM"
BOLT = "SIM"
CRUX = "SIM"

[strategy]
enabled = {"true" if strategy else "false"}
style = "alternating"
order_interval_ms = {order_interval_ms}
max_position_lots = 4
replace_after_ms = 150
cancel_after_ms = 400
{extra}
""",
        encoding="utf-8",
    )
    return path


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


@contextlib.contextmanager
def running_gateway(config: GatewayConfig) -> Iterator[Gateway]:
    configure_logging(config.gateway.state_dir, to_stderr=False)
    gateway = Gateway(config)
    try:
        gateway.start()
        assert gateway.wait_logged_on(15), f"gateway did not log on: {gateway.status_line()}"
        yield gateway
    finally:
        gateway.stop()


def oms_of(gateway: Gateway) -> OrderManager:
    """The order manager of a started gateway."""
    assert gateway.oms is not None, "the gateway is not started"
    return gateway.oms


def ledger_path_of(gateway: Gateway) -> Path:
    assert gateway.ledger is not None, "the gateway is not started"
    return gateway.ledger.path


def final_order(gateway: Gateway, cl_ord_id: str | None) -> Order | None:
    """The order if it is final (for wait_until), else None."""
    order = oms_of(gateway).order(cl_ord_id) if cl_ord_id else None
    return order if order is not None and order.is_final else None


def load(path: Path, port: int) -> GatewayConfig:
    return load_config(path, {"port": port})


def ledger_fills(ledger_path: Path) -> dict[str, tuple[int, Decimal, bool]]:
    with contextlib.closing(sqlite3.connect(ledger_path)) as db:
        rows = db.execute(
            "SELECT exec_id, last_qty, last_px, busted FROM fills WHERE NOT (inferred = 1 AND last_qty = 0)"
        ).fetchall()
    return {r[0]: (r[1], Decimal(r[2]), bool(r[3])) for r in rows}


def venue_fills(control: Any, account: str = "FIXGW") -> dict[str, tuple[int, Decimal, bool]]:
    return {
        f["exec_id"]: (f["last_qty"], Decimal(f["last_px"]), bool(f["busted"]))
        for f in control.fills(account)
    }


def ledger_positions(ledger_path: Path) -> dict[str, tuple[int, Decimal]]:
    with contextlib.closing(sqlite3.connect(ledger_path)) as db:
        rows = db.execute("SELECT symbol, qty, avg_cost FROM positions").fetchall()
    return {r[0]: (r[1], Decimal(r[2])) for r in rows if r[1] != 0}


def venue_positions(control: Any, account: str = "FIXGW") -> dict[str, tuple[int, Decimal]]:
    return {
        symbol: (p["qty"], Decimal(p["avg_px"]))
        for symbol, p in control.positions(account).items()
        if p["qty"] != 0
    }


def assert_ledger_matches_venue(ledger_path: Path, control: Any, timeout_s: float = 10.0) -> int:
    """Fills equal ExecID by ExecID (quantity, price, busted), and positions equal (quantity
    exactly, average cost to 1e-6). Waits for in-flight reports first. Returns the fill count."""

    def same() -> bool:
        return ledger_fills(ledger_path) == venue_fills(control)

    with contextlib.suppress(AssertionError):
        wait_until(same, timeout_s, "ledger fills to equal the venue's")
    ours, theirs = ledger_fills(ledger_path), venue_fills(control)
    assert ours == theirs, {
        "missing": sorted(set(theirs) - set(ours))[:10],
        "extra": sorted(set(ours) - set(theirs))[:10],
        "different": [k for k in ours if k in theirs and ours[k] != theirs[k]][:10],
    }
    mine, venue = ledger_positions(ledger_path), venue_positions(control)
    assert mine.keys() == venue.keys(), (mine, venue)
    for symbol, (qty, avg) in venue.items():
        assert mine[symbol][0] == qty, (symbol, mine[symbol], venue[symbol])
        assert abs(mine[symbol][1] - avg) < Decimal("1E-6"), (symbol, mine[symbol], venue[symbol])
    return len(ours)
