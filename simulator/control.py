"""The control port: loopback TCP, one JSON object per line each way.

`ControlServer` serves a running `SimulatorServer` (faults, the venue's truth: fills, positions,
orders, books; trade busts and corrections; end of day). `SimulatorControl(port)` is the Python
client that tests and the demo use against a simulator running as a subprocess.

Ops: ping, set_fault {name, value}, clear_faults, faults, fills {account}, positions {account},
orders {account}, book {symbol, depth}, bust {exec_id}, correct {exec_id, last_px, last_qty},
cancel_order {order_id}, end_of_day, pause_market, resume_market, sessions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from simulator.faults import FaultError
from simulator.venue import VenueError, format_decimal

if TYPE_CHECKING:
    from simulator.server import SimulatorServer

log = logging.getLogger("simulator.control")

MAX_LINE_BYTES = 64 * 1024


class ControlError(RuntimeError):
    """The simulator answered a control request with ok=false, or the connection failed."""


def _require(request: dict[str, Any], key: str) -> Any:
    if key not in request:
        raise ControlError(f"missing field {key!r}")
    return request[key]


def handle_request(server: SimulatorServer, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    app = server.app
    venue = server.venue
    if op == "ping":
        return {"ok": True, "pong": True}
    if op == "set_fault":
        value = server.faults.set(str(_require(request, "name")), request.get("value", 1))
        return {"ok": True, "faults": server.faults.active(), "value": value}
    if op == "clear_faults":
        server.faults.clear()
        return {"ok": True, "faults": {}}
    if op == "faults":
        return {"ok": True, "faults": server.faults.active()}
    if op == "fills":
        account = request.get("account")
        with app.lock:
            fills = venue.fills(None if account is None else str(account))
        return {
            "ok": True,
            "fills": [
                {
                    "exec_id": f.exec_id,
                    "cl_ord_id": f.cl_ord_id,
                    "order_id": f.order_id,
                    "account": f.account,
                    "symbol": f.symbol,
                    "side": str(f.side),
                    "last_qty": f.last_qty,
                    "last_px": str(f.last_px),
                    "busted": f.busted,
                    "corrected_by": f.corrected_by,
                    "transact_ns": f.transact_ns,
                }
                for f in fills
            ],
        }
    if op == "positions":
        account = str(_require(request, "account"))
        with app.lock:
            positions = venue.positions(account)
        return {
            "ok": True,
            "positions": {
                symbol: {
                    "qty": p.qty,
                    "avg_px": format_decimal(p.avg_px),
                    "realized_pnl": format_decimal(p.realized_pnl),
                }
                for symbol, p in positions.items()
            },
        }
    if op == "orders":
        account = request.get("account")
        with app.lock:
            orders = venue.orders(None if account is None else str(account))
        return {
            "ok": True,
            "orders": [
                {
                    "order_id": o.order_id,
                    "cl_ord_id": o.cl_ord_id,
                    "account": o.account,
                    "symbol": o.symbol,
                    "side": str(o.side),
                    "ord_type": o.ord_type,
                    "price": None if o.price is None else str(o.price),
                    "order_qty": o.order_qty,
                    "cum_qty": o.cum_qty,
                    "leaves_qty": o.leaves_qty,
                    "avg_px": format_decimal(o.avg_px),
                    "status": str(o.status),
                    "time_in_force": o.time_in_force,
                }
                for o in orders
            ],
        }
    if op == "book":
        symbol = str(_require(request, "symbol"))
        instrument = venue.instrument(symbol)
        if instrument is None:
            raise ControlError(f"unknown symbol {symbol}")
        with app.lock:
            snapshot = venue.snapshot(symbol, int(request.get("depth", 0)))
        return {
            "ok": True,
            "bids": [[instrument.format_price(p), q] for p, q in snapshot.bids],
            "asks": [[instrument.format_price(p), q] for p, q in snapshot.asks],
            "last_trade": None
            if snapshot.last_trade is None
            else [instrument.format_price(snapshot.last_trade[0]), snapshot.last_trade[1]],
            "rpt_seq": snapshot.rpt_seq,
        }
    if op == "bust":
        app.bust(str(_require(request, "exec_id")))
        return {"ok": True}
    if op == "correct":
        exec_id = str(_require(request, "exec_id"))
        last_px = request.get("last_px")
        last_qty = request.get("last_qty")
        try:
            price = None if last_px is None else Decimal(str(last_px))
        except InvalidOperation as exc:
            raise ControlError(f"last_px {last_px!r} is not a number") from exc
        app.correct(exec_id, price, None if last_qty is None else int(last_qty))
        return {"ok": True}
    if op == "cancel_order":
        order_id = str(_require(request, "order_id"))
        with app.lock:
            result = venue.cancel_unsolicited(order_id, text="canceled by the venue (control port)")
            app.process(result)
        return {"ok": True, "canceled": bool(result.messages)}
    if op == "end_of_day":
        with app.lock:
            result = venue.expire_day_orders()
            app.process(result)
        return {"ok": True, "expired": len(result.messages)}
    if op == "pause_market":
        server.pause_market()
        return {"ok": True, "paused": True}
    if op == "resume_market":
        server.resume_market()
        return {"ok": True, "paused": False}
    if op == "sessions":
        return {"ok": True, "logged_on": app.logged_on()}
    raise ControlError(f"unknown op {op!r}")


class _Handler(socketserver.StreamRequestHandler):
    server: _ThreadingServer

    def handle(self) -> None:
        while True:
            try:
                line = self.rfile.readline(MAX_LINE_BYTES)
            except OSError:
                return
            if not line:
                return
            if not line.strip():
                continue
            reply = self._answer(line)
            try:
                self.wfile.write((json.dumps(reply) + "\n").encode())
                self.wfile.flush()
            except OSError:
                return

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ControlError("a request is one JSON object per line")
            return handle_request(self.server.simulator, request)
        except (ControlError, FaultError, VenueError, ValueError, TypeError) as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # one bad request must not stop the control port
            log.exception("control request failed")
            return {"ok": False, "error": f"internal error: {exc}"}


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: SimulatorServer) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator


class ControlServer:
    def __init__(self, simulator: SimulatorServer, port: int) -> None:
        self._server = _ThreadingServer(("127.0.0.1", port), simulator)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-control", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class SimulatorControl:
    """Client of the control port. One connection, reopened when it breaks; thread-safe."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 5.0) -> None:
        self.port = port
        self.host = host
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: Any = None

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        payload = (json.dumps({"op": op, **fields}) + "\n").encode()
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._sock is None:
                        self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
                        self._reader = self._sock.makefile("rb")
                    self._sock.sendall(payload)
                    line = self._reader.readline()
                    if not line:
                        raise ConnectionError("control port closed the connection")
                    break
                except OSError as exc:
                    self._close_locked()
                    if attempt == 2:
                        raise ControlError(f"control port {self.host}:{self.port}: {exc}") from exc
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(str(reply.get("error", "request failed")))
        return reply

    def ping(self) -> bool:
        return bool(self.request("ping").get("pong"))

    def set_fault(self, name: str, value: Any = 1) -> dict[str, int]:
        faults: dict[str, int] = self.request("set_fault", name=name, value=value)["faults"]
        return faults

    def clear_faults(self) -> None:
        self.request("clear_faults")

    def faults(self) -> dict[str, int]:
        faults: dict[str, int] = self.request("faults")["faults"]
        return faults

    def fills(self, account: str | None = None) -> list[dict[str, Any]]:
        fields = {} if account is None else {"account": account}
        fills: list[dict[str, Any]] = self.request("fills", **fields)["fills"]
        return fills

    def positions(self, account: str) -> dict[str, dict[str, Any]]:
        positions: dict[str, dict[str, Any]] = self.request("positions", account=account)["positions"]
        return positions

    def orders(self, account: str | None = None) -> list[dict[str, Any]]:
        fields = {} if account is None else {"account": account}
        orders: list[dict[str, Any]] = self.request("orders", **fields)["orders"]
        return orders

    def book(self, symbol: str, depth: int = 0) -> dict[str, Any]:
        return self.request("book", symbol=symbol, depth=depth)

    def bust(self, exec_id: str) -> None:
        self.request("bust", exec_id=exec_id)

    def correct(self, exec_id: str, last_px: str | None = None, last_qty: int | None = None) -> None:
        fields: dict[str, Any] = {"exec_id": exec_id}
        if last_px is not None:
            fields["last_px"] = str(last_px)
        if last_qty is not None:
            fields["last_qty"] = last_qty
        self.request("correct", **fields)

    def cancel_order(self, order_id: str) -> bool:
        return bool(self.request("cancel_order", order_id=order_id)["canceled"])

    def end_of_day(self) -> int:
        return int(self.request("end_of_day")["expired"])

    def pause_market(self) -> None:
        """Stop the background agents, e.g. to compare a rebuilt book with the venue's."""
        self.request("pause_market")

    def resume_market(self) -> None:
        self.request("resume_market")

    def sessions(self) -> list[str]:
        logged_on: list[str] = self.request("sessions")["logged_on"]
        return logged_on

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(OSError):
                self._reader.close()
            self._reader = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def __enter__(self) -> SimulatorControl:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
