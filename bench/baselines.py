"""Baselines every fixgw figure is compared with, measured in the same run.

- `socket_echo_rtt(n)`: a plain TCP echo over 127.0.0.1 (a thread echoing, TCP_NODELAY), one
  FIX-sized payload per round trip. The floor for anything that crosses loopback in Python.
- `quickfix_echo_rtt(n)`: bare QuickFIX, FIX 4.4 with the data dictionary `fix_specs/FIX44.xml` on
  both ends. An acceptor whose only logic is to answer each NewOrderSingle(35=D) with an
  ExecutionReport(35=8), and an initiator that sends the next order from inside `fromApp` as soon
  as the previous report arrives (the same callback-driven shape as the gateway). The floor for
  anything that speaks FIX through QuickFIX in Python.
- `quickfix_echo_throughput(n)`: the same pair, orders pipelined: n orders sent back to back, the
  figure is round trips per second until the last report is in.

The QuickFIX client used here, `RoundTripClient`, is reusable: `bench/sim_bench.py` points it at
the simulator, so the simulator figure and the bare-echo figure come from the same client code.

Run alone: `python -m bench baselines [--quick]`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    FIX44_DICTIONARY,
    REPO_ROOT,
    BenchError,
    LatencyStats,
    Progress,
    Report,
    Throughput,
    now_ns,
    peak_rss_mib,
)

LOOPBACK = "127.0.0.1"
# An ExecutionReport(35=8) of this size is typical on the wire; the echo carries as many bytes.
SOCKET_ECHO_PAYLOAD_BYTES = 180
LOGON_TIMEOUT_S = 15.0
LOGOUT_TIMEOUT_S = 5.0
ECHO_ACCEPTOR_COMP_ID = "ECHO"
ECHO_INITIATOR_COMP_ID = "BENCH"
# ExecutionReport(35=8) fields kept when reports are recorded: ClOrdID, OrderID, ExecID, ExecType,
# OrdStatus, Symbol, Side, LastQty, LastPx, LeavesQty, CumQty, Text.
REPORT_TAGS = (11, 37, 17, 150, 39, 55, 54, 32, 31, 151, 14, 58)


# --------------------------------------------------------------------------------------------
# Plain socket echo


def free_port() -> int:
    """A loopback port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _echo_until_closed(connection: socket.socket) -> None:
    with connection:
        while True:
            try:
                chunk = connection.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            connection.sendall(chunk)


def socket_echo_rtt(
    count: int, *, warmup: int = 200, payload_bytes: int = SOCKET_ECHO_PAYLOAD_BYTES
) -> LatencyStats:
    """Round trip of `payload_bytes` through a loopback echo thread, `count` samples."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _echo_until_closed(connection)

    server = threading.Thread(target=serve, name="socket-echo", daemon=True)
    server.start()
    payload = b"X" * payload_bytes
    samples: list[int] = []
    with socket.create_connection((LOOPBACK, port), timeout=10) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(warmup + count):
            start = now_ns()
            client.sendall(payload)
            received = 0
            while received < payload_bytes:
                chunk = client.recv(65536)
                if not chunk:
                    raise BenchError("socket echo: the echo thread closed the connection")
                received += len(chunk)
            elapsed = now_ns() - start
            if index >= warmup:
                samples.append(elapsed)
    server.join(timeout=5)
    return LatencyStats.from_samples_ns("socket echo", samples)


# --------------------------------------------------------------------------------------------
# QuickFIX plumbing shared by the echo pair and the simulator client


def _import_quickfix() -> Any:
    try:
        import quickfix
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise BenchError(f"quickfix is not importable ({error}); run `make` to install it") from error
    return quickfix


def utc_timestamp() -> str:
    """A FIX UTCTimestamp with milliseconds, e.g. 20261129-21:04:05.123."""
    seconds = time.time()
    whole = time.gmtime(seconds)
    return time.strftime("%Y%m%d-%H:%M:%S", whole) + f".{int((seconds % 1) * 1000):03d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FixEndpoint:
    """Where a `RoundTripClient` connects and who it claims to be."""

    port: int
    sender_comp_id: str
    target_comp_id: str
    host: str = LOOPBACK
    username: str | None = None
    password: str | None = None
    data_dictionary: Path = FIX44_DICTIONARY
    heartbeat_s: int = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTemplate:
    """The NewOrderSingle(35=D) a benchmark sends; a fresh ClOrdID(11) is added per order."""

    symbol: str = "ACME"
    side: str = "1"
    order_qty: str = "1"
    ord_type: str = "2"
    price: str | None = "1.00"
    time_in_force: str = "3"  # IOC: an order that cannot trade leaves nothing in the book


def _write_settings(directory: Path, body: str) -> Path:
    path = directory / "session.cfg"
    path.write_text(body, encoding="utf-8")
    return path


def initiator_settings(endpoint: FixEndpoint, store_dir: Path) -> str:
    return "\n".join(
        [
            "[DEFAULT]",
            "ConnectionType=initiator",
            "ReconnectInterval=1",
            f"HeartBtInt={endpoint.heartbeat_s}",
            "StartTime=00:00:00",
            "EndTime=00:00:00",
            "UseDataDictionary=Y",
            f"DataDictionary={endpoint.data_dictionary}",
            "ValidateUserDefinedFields=N",
            "AllowUnknownMsgFields=Y",
            # A benchmark client has no history worth keeping: start every session at 1.
            "ResetOnLogon=Y",
            "SocketNodelay=Y",
            f"FileStorePath={store_dir / 'store'}",
            "",
            "[SESSION]",
            "BeginString=FIX.4.4",
            f"SenderCompID={endpoint.sender_comp_id}",
            f"TargetCompID={endpoint.target_comp_id}",
            f"SocketConnectHost={endpoint.host}",
            f"SocketConnectPort={endpoint.port}",
            "",
        ]
    )


def acceptor_settings(port: int, sender: str, target: str, store_dir: Path) -> str:
    return "\n".join(
        [
            "[DEFAULT]",
            "ConnectionType=acceptor",
            f"SocketAcceptPort={port}",
            f"SocketAcceptHost={LOOPBACK}",
            "SocketReuseAddress=Y",
            "SocketNodelay=Y",
            "HeartBtInt=30",
            "StartTime=00:00:00",
            "EndTime=00:00:00",
            "UseDataDictionary=Y",
            f"DataDictionary={FIX44_DICTIONARY}",
            "ValidateUserDefinedFields=N",
            "AllowUnknownMsgFields=Y",
            f"FileStorePath={store_dir / 'store'}",
            "",
            "[SESSION]",
            "BeginString=FIX.4.4",
            f"SenderCompID={sender}",
            f"TargetCompID={target}",
            "",
        ]
    )


def _new_application_base() -> type:
    """quickfix.Application, imported only when a QuickFIX benchmark actually runs."""
    application: type = _import_quickfix().Application
    return application


class _Callbacks:
    """Errors raised in a QuickFIX callback end the process (dependency notes), so every
    callback body runs under `guard`, which keeps the error for the benchmark to report."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    @contextlib.contextmanager
    def guard(self, where: str) -> Iterator[None]:
        try:
            yield
        except Exception as error:  # keep the process alive; the benchmark reports it
            self.errors.append(f"{where}: {type(error).__name__}: {error}")


def _make_round_trip_application(fix: Any) -> type:
    class RoundTripApplication(fix.Application):
        """Initiator side: sends NewOrderSingle(35=D), times the first ExecutionReport(35=8)."""

        def __init__(self, endpoint: FixEndpoint, template: OrderTemplate) -> None:
            super().__init__()
            self.endpoint = endpoint
            self.template = template
            self.callbacks = _Callbacks()
            self.logged_on = threading.Event()
            self.logged_out = threading.Event()
            self.logout_text: list[str] = []
            # Our own SessionID, built from its parts: the one QuickFIX passes to a callback
            # belongs to the engine and must not be kept past the callback (dependency notes).
            self.session_id: Any = fix.SessionID("FIX.4.4", endpoint.sender_comp_id, endpoint.target_comp_id)
            self._ids = itertools.count(1)
            self._prefix = f"B{os.getpid()}-{int(time.time())}-"
            # Ping-pong state: one order in flight, the next sent from fromApp.
            self._lock = threading.Lock()
            self._in_flight: str | None = None
            self._sent_ns = 0
            self._remaining = 0
            self._samples: list[int] = []
            self._done = threading.Event()
            self._progress: Progress | None = None
            self._total = 0
            # Pipelined state: count first reports of the orders sent in this run.
            self._pipelined_ids: set[str] = set()
            self._pipelined_seen = 0
            self._pipelined_target = 0
            # Opt-in record of every ExecutionReport (tests read fills from it).
            self.record_reports = False
            self.reports: list[dict[int, str]] = []
            self._reports_changed = threading.Condition(self._lock)

        # --- quickfix callbacks -----------------------------------------------------------
        def onCreate(self, session_id: Any) -> None:
            pass

        def onLogon(self, session_id: Any) -> None:
            self.logged_out.clear()
            self.logged_on.set()

        def onLogout(self, session_id: Any) -> None:
            self.logged_on.clear()
            self.logged_out.set()

        def toAdmin(self, message: Any, session_id: Any) -> None:
            with self.callbacks.guard("toAdmin"):
                if message.getHeader().getField(35) == "A":
                    if self.endpoint.username is not None:
                        message.setField(553, self.endpoint.username)
                    if self.endpoint.password is not None:
                        message.setField(554, self.endpoint.password)

        def fromAdmin(self, message: Any, session_id: Any) -> None:
            with self.callbacks.guard("fromAdmin"):
                if message.getHeader().getField(35) == "5" and message.isSetField(58):
                    self.logout_text.append(message.getField(58))

        def toApp(self, message: Any, session_id: Any) -> None:
            pass

        def fromApp(self, message: Any, session_id: Any) -> None:
            received_ns = now_ns()
            with self.callbacks.guard("fromApp"):
                if message.getHeader().getField(35) != "8" or not message.isSetField(11):
                    return
                cl_ord_id = message.getField(11)
                if self.record_reports:
                    self._record(message)
                if self._pipelined_target:
                    self._count_pipelined(cl_ord_id)
                    return
                self._on_ping_pong_report(cl_ord_id, received_ns)

        # --- recorded reports -------------------------------------------------------------
        def _record(self, message: Any) -> None:
            fields = {tag: message.getField(tag) for tag in REPORT_TAGS if message.isSetField(tag)}
            with self._reports_changed:
                self.reports.append(fields)
                self._reports_changed.notify_all()

        def wait_for_report(self, predicate: Any, timeout_s: float) -> dict[int, str] | None:
            deadline = time.monotonic() + timeout_s
            with self._reports_changed:
                while True:
                    for report in self.reports:
                        if predicate(report):
                            return report
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._reports_changed.wait(remaining)

        def send_order(self, template: OrderTemplate) -> str:
            cl_ord_id = self._next_cl_ord_id()
            previous, self.template = self.template, template
            try:
                message = self._build_order(cl_ord_id)
            finally:
                self.template = previous
            fix.Session.sendToTarget(message, self.session_id)
            return cl_ord_id

        # --- ping-pong --------------------------------------------------------------------
        def _on_ping_pong_report(self, cl_ord_id: str, received_ns: int) -> None:
            with self._lock:
                if cl_ord_id != self._in_flight:
                    return  # a later report (fill, cancel) of an order already timed
                self._samples.append(received_ns - self._sent_ns)
                self._in_flight = None
                self._remaining -= 1
                if self._progress is not None:
                    self._progress.update(self._total - self._remaining)
                if self._remaining <= 0:
                    self._done.set()
                    return
            self._send_timed_order()

        def _send_timed_order(self) -> None:
            cl_ord_id = self._next_cl_ord_id()
            message = self._build_order(cl_ord_id)
            with self._lock:
                self._in_flight = cl_ord_id
                self._sent_ns = now_ns()
            fix.Session.sendToTarget(message, self.session_id)

        def ping_pong(self, count: int, *, timeout_s: float, label: str) -> list[int]:
            self._samples = []
            self._remaining = count
            self._total = count
            self._done.clear()
            self._progress = Progress(label, count) if count >= 2000 else None
            self._send_timed_order()
            if not self._done.wait(timeout_s):
                raise BenchError(
                    f"{label}: {count - self._remaining} of {count} round trips in {timeout_s:.0f}s"
                    f"{self._error_suffix()}"
                )
            return list(self._samples)

        # --- pipelined --------------------------------------------------------------------
        def _count_pipelined(self, cl_ord_id: str) -> None:
            with self._lock:
                if cl_ord_id in self._pipelined_ids:
                    self._pipelined_ids.discard(cl_ord_id)
                    self._pipelined_seen += 1
                    if self._pipelined_seen >= self._pipelined_target:
                        self._done.set()

        def pipelined(self, count: int, *, timeout_s: float, label: str) -> int:
            """Send `count` orders back to back; return ns until every first report arrived."""
            orders = []
            for _ in range(count):
                cl_ord_id = self._next_cl_ord_id()
                orders.append(self._build_order(cl_ord_id))
                self._pipelined_ids.add(cl_ord_id)
            self._done.clear()
            self._pipelined_seen = 0
            self._pipelined_target = count
            start = now_ns()
            try:
                for message in orders:
                    fix.Session.sendToTarget(message, self.session_id)
                if not self._done.wait(timeout_s):
                    raise BenchError(
                        f"{label}: {self._pipelined_seen} of {count} reports in {timeout_s:.0f}s"
                        f"{self._error_suffix()}"
                    )
                return now_ns() - start
            finally:
                self._pipelined_target = 0
                self._pipelined_ids.clear()

        # --- helpers ----------------------------------------------------------------------
        def _next_cl_ord_id(self) -> str:
            return f"{self._prefix}{next(self._ids)}"

        def _build_order(self, cl_ord_id: str) -> Any:
            # setField(tag, "text") is the cheapest way through the SWIG layer (dependency notes).
            template = self.template
            message = fix.Message()
            message.getHeader().setField(35, "D")
            message.setField(11, cl_ord_id)
            message.setField(1, self.endpoint.sender_comp_id)
            message.setField(55, template.symbol)
            message.setField(54, template.side)
            message.setField(60, utc_timestamp())
            message.setField(38, template.order_qty)
            message.setField(40, template.ord_type)
            if template.price is not None:
                message.setField(44, template.price)
            message.setField(59, template.time_in_force)
            return message

        def _error_suffix(self) -> str:
            return f" (callback errors: {self.callbacks.errors[:3]})" if self.callbacks.errors else ""

    return RoundTripApplication


class RoundTripClient:
    """A minimal QuickFIX initiator that times NewOrderSingle(35=D) -> first ExecutionReport(35=8).

    Use as a context manager: it logs on when entered and logs out and stops the engine when
    left (a process that exits with a started engine segfaults, see dependency notes).
    """

    def __init__(self, endpoint: FixEndpoint, template: OrderTemplate | None = None) -> None:
        self._fix = _import_quickfix()
        self.endpoint = endpoint
        self._tempdir = tempfile.TemporaryDirectory(prefix="fixgw-bench-client-")
        directory = Path(self._tempdir.name)
        settings_path = _write_settings(directory, initiator_settings(endpoint, directory))
        self._settings = self._fix.SessionSettings(str(settings_path))
        self.application = _make_round_trip_application(self._fix)(endpoint, template or OrderTemplate())
        self._store = self._fix.MemoryStoreFactory()
        self._initiator: Any = self._fix.SocketInitiator(self.application, self._store, self._settings)
        self._started = False

    def __enter__(self) -> RoundTripClient:
        self._initiator.start()
        self._started = True
        if not self.application.logged_on.wait(LOGON_TIMEOUT_S):
            reason = "; ".join(self.application.logout_text) or "no answer"
            self.close()
            raise BenchError(
                f"{self.endpoint.sender_comp_id} -> {self.endpoint.target_comp_id} on port "
                f"{self.endpoint.port}: no logon within {LOGON_TIMEOUT_S:.0f}s ({reason})"
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._started:
            self._started = False
            self._logout_first()
            self._initiator.stop()
            # Destroy the engine now: QuickFIX registers sessions process-wide by SessionID, and
            # a stopped but still living initiator kept a later client with the same SessionID
            # from ever logging on.
            self._initiator = None
        self._tempdir.cleanup()

    def _logout_first(self) -> None:
        """Log out and let the line go quiet before `stop()`: stopping an initiator while the
        peer's last reports were still arriving segfaulted inside `stop()` (seen here, the
        second client of a process); after a completed logout, `stop()` was clean."""
        application = self.application
        if not application.logged_on.is_set():
            return
        session = self._fix.Session.lookupSession(application.session_id)
        if session is None:
            return
        session.logout("benchmark finished")
        application.logged_out.wait(LOGOUT_TIMEOUT_S)

    @property
    def errors(self) -> list[str]:
        errors: list[str] = self.application.callbacks.errors
        return errors

    def ping_pong(
        self, count: int, *, warmup: int = 100, timeout_s: float = 120.0, label: str = ""
    ) -> list[int]:
        """Round-trip times (ns) of `count` orders, one in flight at a time."""
        name = label or f"{self.endpoint.target_comp_id} ping-pong"
        if warmup:
            self.application.ping_pong(warmup, timeout_s=timeout_s, label=f"{name} warm-up")
        samples: list[int] = self.application.ping_pong(count, timeout_s=timeout_s, label=name)
        return samples

    def send_order(self, template: OrderTemplate) -> str:
        """Send one NewOrderSingle(35=D) built from `template`; returns its ClOrdID(11).

        Reports are recorded from the first call on; read them with `wait_for_report`.
        """
        self.application.record_reports = True
        cl_ord_id: str = self.application.send_order(template)
        return cl_ord_id

    def wait_for_report(
        self, predicate: Callable[[dict[int, str]], bool], timeout_s: float = 10.0
    ) -> dict[int, str]:
        """The first recorded ExecutionReport(35=8) (tag -> value) matching `predicate`."""
        report: dict[int, str] | None = self.application.wait_for_report(predicate, timeout_s)
        if report is None:
            raise BenchError(
                f"no matching ExecutionReport within {timeout_s:.0f}s; got {self.application.reports}"
            )
        return report

    def pipelined(self, count: int, *, timeout_s: float = 120.0, label: str = "") -> Throughput:
        name = label or f"{self.endpoint.target_comp_id} pipelined"
        elapsed_ns: int = self.application.pipelined(count, timeout_s=timeout_s, label=name)
        return Throughput(name=name, operations=count, elapsed_ns=elapsed_ns)


# --------------------------------------------------------------------------------------------
# The echo acceptor


def _make_echo_application(fix: Any) -> type:
    class EchoApplication(fix.Application):
        """Acceptor side: every NewOrderSingle(35=D) is answered by ExecutionReport(35=8) New."""

        def __init__(self) -> None:
            super().__init__()
            self.callbacks = _Callbacks()
            self._exec_ids = itertools.count(1)

        def onCreate(self, session_id: Any) -> None:
            pass

        def onLogon(self, session_id: Any) -> None:
            pass

        def onLogout(self, session_id: Any) -> None:
            pass

        def toAdmin(self, message: Any, session_id: Any) -> None:
            pass

        def fromAdmin(self, message: Any, session_id: Any) -> None:
            pass

        def toApp(self, message: Any, session_id: Any) -> None:
            pass

        def fromApp(self, message: Any, session_id: Any) -> None:
            with self.callbacks.guard("fromApp"):
                if message.getHeader().getField(35) != "D":
                    return
                exec_id = str(next(self._exec_ids))
                report = fix.Message()
                report.getHeader().setField(35, "8")
                report.setField(37, exec_id)
                report.setField(11, message.getField(11))
                report.setField(17, exec_id)
                report.setField(150, "0")
                report.setField(39, "0")
                report.setField(55, message.getField(55))
                report.setField(54, message.getField(54))
                report.setField(151, message.getField(38))
                report.setField(14, "0")
                report.setField(6, "0")
                fix.Session.sendToTarget(report, session_id)

    return EchoApplication


class EchoAcceptor:
    """The echo acceptor in this process. `start()` listens; `stop()` stops the engine."""

    def __init__(
        self, port: int, *, sender: str = ECHO_ACCEPTOR_COMP_ID, target: str = ECHO_INITIATOR_COMP_ID
    ):
        self._fix = _import_quickfix()
        self.port = port
        self._tempdir = tempfile.TemporaryDirectory(prefix="fixgw-bench-echo-")
        directory = Path(self._tempdir.name)
        settings_path = _write_settings(directory, acceptor_settings(port, sender, target, directory))
        self._settings = self._fix.SessionSettings(str(settings_path))
        self.application = _make_echo_application(self._fix)()
        self._store = self._fix.MemoryStoreFactory()
        self._acceptor = self._fix.SocketAcceptor(self.application, self._store, self._settings)
        self._started = False

    def start(self) -> None:
        self._acceptor.start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._acceptor.stop()
        self._tempdir.cleanup()


@contextlib.contextmanager
def echo_acceptor(*, separate_process: bool) -> Iterator[int]:
    """An echo acceptor listening on a free loopback port; yields the port.

    In a separate process (the default for figures) the acceptor and the client do not share a
    GIL, as with the simulator and the gateway.
    """
    port = free_port()
    if not separate_process:
        acceptor = EchoAcceptor(port)
        acceptor.start()
        try:
            yield port
        finally:
            acceptor.stop()
        return
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.baselines", "--serve-echo", str(port)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening"):
            raise BenchError(f"echo acceptor did not start (exit {process.poll()}, said {line!r})")
        yield port
    finally:
        # The client has logged out by now; closing stdin asks the acceptor to stop cleanly.
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _serve_echo(port: int) -> int:
    """Child-process entry: serve the echo acceptor until stdin closes or SIGTERM arrives."""
    acceptor = EchoAcceptor(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    acceptor.start()
    print(f"listening on {LOOPBACK}:{port}", flush=True)

    def wait_for_stdin_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_stdin_eof, daemon=True).start()
    try:
        stop.wait()
    finally:
        acceptor.stop()
    errors = acceptor.application.callbacks.errors
    for error in errors[:5]:
        print(f"echo acceptor callback error: {error}", file=sys.stderr)
    return 1 if errors else 0


def quickfix_echo_rtt(
    count: int, *, warmup: int = 200, separate_process: bool = True, name: str = "quickfix echo"
) -> LatencyStats:
    """Ping-pong round trip through bare QuickFIX (FIX 4.4, data dictionary on both ends)."""
    with echo_acceptor(separate_process=separate_process) as port:
        endpoint = FixEndpoint(
            port=port, sender_comp_id=ECHO_INITIATOR_COMP_ID, target_comp_id=ECHO_ACCEPTOR_COMP_ID
        )
        with RoundTripClient(endpoint) as client:
            samples = client.ping_pong(count, warmup=warmup, label=name)
            _raise_on_callback_errors(client)
    return LatencyStats.from_samples_ns(name, samples)


def quickfix_echo_throughput(count: int, *, separate_process: bool = True) -> Throughput:
    """Round trips per second with `count` orders pipelined through bare QuickFIX."""
    with echo_acceptor(separate_process=separate_process) as port:
        endpoint = FixEndpoint(
            port=port, sender_comp_id=ECHO_INITIATOR_COMP_ID, target_comp_id=ECHO_ACCEPTOR_COMP_ID
        )
        with RoundTripClient(endpoint) as client:
            client.ping_pong(50, warmup=0, label="quickfix echo warm-up")
            measured = client.pipelined(count, label="quickfix echo pipelined")
            _raise_on_callback_errors(client)
    return measured


def _raise_on_callback_errors(client: RoundTripClient) -> None:
    if client.errors:
        raise BenchError(f"QuickFIX callback errors: {client.errors[:3]}")


# --------------------------------------------------------------------------------------------
# `python -m bench baselines`


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    rtt: int
    pipelined: int


QUICK = Sizes(rtt=1000, pipelined=1000)
FULL = Sizes(rtt=5000, pipelined=5000)


@dataclass(frozen=True, slots=True, kw_only=True)
class Baselines:
    socket_echo: LatencyStats
    quickfix_echo: LatencyStats


def measure_rtt_baselines(sizes: Sizes) -> Baselines:
    """The two round-trip baselines, for a benchmark to print its own figure beside."""
    return Baselines(socket_echo=socket_echo_rtt(sizes.rtt), quickfix_echo=quickfix_echo_rtt(sizes.rtt))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_echo:
        return _serve_echo(args.serve_echo)

    sizes = QUICK if args.quick else FULL
    rss_at_start = peak_rss_mib()
    report = Report("baselines")
    baselines = measure_rtt_baselines(sizes)
    echo_same_process = quickfix_echo_rtt(
        sizes.rtt, separate_process=False, name="quickfix echo, one process"
    )
    pipelined = quickfix_echo_throughput(sizes.pipelined)
    # Ping-pong rate of the echo, so pipelining shows what it buys over one order in flight.
    ping_pong_rate = Throughput(
        name="quickfix echo ping-pong",
        operations=baselines.quickfix_echo.count,
        elapsed_ns=int(baselines.quickfix_echo.mean_us * 1000 * baselines.quickfix_echo.count),
    )

    report.add_latency(baselines.socket_echo, note="floor: Python over loopback")
    report.add_latency(baselines.quickfix_echo, baselines=[baselines.socket_echo])
    report.add_latency(
        echo_same_process, baselines=[baselines.quickfix_echo], note="acceptor and client share a GIL"
    )
    report.add_throughput(pipelined, baseline=ping_pong_rate)
    report.add_memory(baseline_mib=rss_at_start, baseline="peak RSS before QuickFIX loaded")
    report.print_table()
    path = report.save()
    print(f"results merged into {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
