"""The control port: loopback TCP, one JSON object per line each way, behind a token.

`ControlServer` serves a running `SimulatorServer` (faults, the venue's truth: fills, positions,
orders, books; trade busts and corrections; end of day). `SimulatorControl(port)` is the Python
client that tests and the demo use against a simulator running as a subprocess.

Every connection starts with `{"op": "auth", "token": "..."}`; anything else first, or a wrong
token, gets one error line and the connection is closed. The token is compared in constant time
(hmac.compare_digest) and comes from the environment variable `SimControlTokenEnv` names
(FIXSIM_CONTROL_TOKEN) or else an owner-only file (`SimControlTokenFile`, default
`<state dir>/control.token`, created with a random token when absent): see `control_token`.
A connection that sends nothing for `SimControlIdleTimeoutS` is closed, and at most
`SimControlMaxConnections` are served at once (one thread each); those beyond get an error line
and are closed at once.

Ops: auth {token}, ping, set_fault {name, value}, clear_faults, faults, fills {account},
positions {account}, orders {account}, book {symbol, depth}, bust {exec_id},
correct {exec_id, last_px, last_qty}, cancel_order {order_id}, end_of_day, pause_market,
resume_market, sessions.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
import socketserver
import stat
import threading
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.faults import FaultError
from simulator.venue import VenueError, format_decimal

if TYPE_CHECKING:
    from simulator.server import SimulatorServer

log = logging.getLogger("simulator.control")

MAX_LINE_BYTES = 64 * 1024
TOKEN_ENV = "FIXSIM_CONTROL_TOKEN"  # what SimulatorControl reads when given no token
MIN_TOKEN_CHARS = 16
REFUSED_LOG_INTERVAL_S = 10.0

# Tokens of the control ports this process started or serves (simulator.process and an
# in-process SimulatorServer register theirs), so a SimulatorControl(port) made anywhere in the
# same process finds the token without it being passed around or written to a file.
_known_tokens: dict[int, str] = {}
_known_tokens_lock = threading.Lock()


class ControlError(RuntimeError):
    """The simulator answered a control request with ok=false, or the connection failed."""


def remember_token(port: int, token: str) -> None:
    with _known_tokens_lock:
        _known_tokens[port] = token


def forget_token(port: int) -> None:
    with _known_tokens_lock:
        _known_tokens.pop(port, None)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def control_token(env_name: str | None, token_file: Path | None) -> tuple[str, Path | None]:
    """The control port's token and the file it came from (None: from the environment).

    The environment variable `env_name` wins when set. Else `token_file` is read, and refused
    unless it is a regular file of this user that nobody else may read or write; when it does
    not exist it is created (0600) with a new random token, so an operator can read it there."""
    if env_name:
        value = os.environ.get(env_name, "").strip()
        if value:
            if len(value) < MIN_TOKEN_CHARS:
                raise ControlError(f"{env_name}: a control token has at least {MIN_TOKEN_CHARS} characters")
            return value, None
    if token_file is None:
        raise ControlError("no control token: set the environment variable or SimControlTokenFile")
    try:
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return _read_token_file(token_file), token_file
    token = new_token()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return token, token_file


def _read_token_file(path: Path) -> str:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise ControlError(f"{path}: the control token file is not a regular file")
    if info.st_uid != os.getuid():
        raise ControlError(f"{path}: the control token file belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise ControlError(
            f"{path}: the control token file is readable or writable by others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it"
        )
    token = path.read_text(encoding="ascii", errors="replace").strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise ControlError(f"{path}: a control token has at least {MIN_TOKEN_CHARS} characters")
    return token


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

    def setup(self) -> None:
        super().setup()
        # A read that waits longer than this ends the connection (and frees its thread).
        self.connection.settimeout(self.server.idle_timeout_s)

    def handle(self) -> None:
        authenticated = False
        while True:
            try:
                line = self.rfile.readline(MAX_LINE_BYTES)
            except OSError:  # idle timeout, reset
                return
            if not line:
                return
            if not line.strip():
                continue
            if authenticated:
                reply = self._answer(line)
            else:
                authenticated = self._authenticate(line)
                reply = (
                    {"ok": True, "auth": True} if authenticated else {"ok": False, "error": self._auth_error}
                )
            try:
                self.wfile.write((json.dumps(reply) + "\n").encode())
                self.wfile.flush()
            except OSError:
                return
            if not authenticated:
                return

    _auth_error = "authentication failed"

    def _authenticate(self, line: bytes) -> bool:
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if not isinstance(request, dict) or request.get("op") != "auth":
            self._auth_error = 'not authenticated: the first request must be {"op": "auth", "token": "..."}'
            log.warning(
                "control connection from %s: request before authentication; closed", self.client_address
            )
            return False
        given = request.get("token")
        # compare_digest on bytes of any length: a wrong length is rejected in constant time too
        if isinstance(given, str) and hmac.compare_digest(given.encode(), self.server.token.encode()):
            return True
        self._auth_error = "authentication failed"
        log.warning("control connection from %s: wrong token; closed", self.client_address)
        return False

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
    # A burst of connections is answered (refused over the cap) at once, not left to SYN retries.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        simulator: SimulatorServer,
        *,
        token: str,
        idle_timeout_s: float,
        max_connections: int,
    ) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator
        self.token = token
        self.idle_timeout_s = idle_timeout_s
        self.max_connections = max_connections
        self.refused_connections = 0
        self._active = 0
        self._active_lock = threading.Lock()
        self._refused_logged_at = 0.0

    @property
    def active_connections(self) -> int:
        with self._active_lock:
            return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        # On the accepting thread: a connection over the cap never gets a thread of its own.
        with self._active_lock:
            admitted = self._active < self.max_connections
            if admitted:
                self._active += 1
        if not admitted:
            self._refuse(request, client_address)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            with self._active_lock:
                self._active -= 1
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self._active -= 1

    def _refuse(self, request: Any, client_address: Any) -> None:
        self.refused_connections += 1
        with contextlib.suppress(OSError):
            request.settimeout(0.2)
            line = {"ok": False, "error": f"too many control connections (at most {self.max_connections})"}
            request.sendall((json.dumps(line) + "\n").encode())
        self.shutdown_request(request)
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSED_LOG_INTERVAL_S:
            self._refused_logged_at = now
            log.warning(
                "control port: refused a connection from %s: %d open (the cap); %d refused so far",
                client_address,
                self.max_connections,
                self.refused_connections,
            )


class ControlServer:
    def __init__(
        self,
        simulator: SimulatorServer,
        port: int,
        *,
        token: str,
        idle_timeout_s: float = 60.0,
        max_connections: int = 8,
    ) -> None:
        if len(token) < MIN_TOKEN_CHARS:
            raise ControlError(f"a control token has at least {MIN_TOKEN_CHARS} characters")
        self._server = _ThreadingServer(
            ("127.0.0.1", port),
            simulator,
            token=token,
            idle_timeout_s=idle_timeout_s,
            max_connections=max_connections,
        )
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-control", daemon=True
        )

    @property
    def active_connections(self) -> int:
        return self._server.active_connections

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class SimulatorControl:
    """Client of the control port. One connection, reopened (and authenticated again) when it
    breaks, e.g. after the server's idle timeout; thread-safe.

    `token`: the control token; without it, the one registered in this process for `port`
    (simulator.process and an in-process server register theirs), else $FIXSIM_CONTROL_TOKEN."""

    def __init__(
        self, port: int, host: str = "127.0.0.1", timeout_s: float = 5.0, *, token: str | None = None
    ) -> None:
        self.port = port
        self.host = host
        self.timeout_s = timeout_s
        self._token = token
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: Any = None

    def _resolve_token(self) -> str:
        if self._token is not None:
            return self._token
        with _known_tokens_lock:
            known = _known_tokens.get(self.port)
        return known or os.environ.get(TOKEN_ENV, "")

    def _connect_locked(self) -> None:
        self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        self._reader = self._sock.makefile("rb")
        self._sock.sendall((json.dumps({"op": "auth", "token": self._resolve_token()}) + "\n").encode())
        line = self._reader.readline()
        if not line:
            raise ConnectionError("control port closed the connection during authentication")
        reply = json.loads(line)
        if not reply.get("ok"):
            self._close_locked()
            raise ControlError(
                f"control port {self.host}:{self.port}: {reply.get('error', 'authentication failed')}"
            )

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        payload = (json.dumps({"op": op, **fields}) + "\n").encode()
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._sock is None:
                        self._connect_locked()
                    assert self._sock is not None
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
