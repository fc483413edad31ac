"""`fixgw client`: a small FIX 4.4 client to try the simulator by hand, no gateway needed.

Takes the connection options and a list of actions from the command line; logs on with a
QuickFIX `SocketInitiator` (QuickFIX does the whole session layer), runs the actions in order,
each waiting for its answers, prints every answer as one readable line, optionally keeps
listening to market data for `--seconds`, then logs out and stops the engine.

    fixgw client --md ACME --buy ACME 10 --positions --seconds 2

Exit codes: 0 every action was answered; 1 an action got no answer, the connection failed or
the logon was refused; 2 bad arguments.
"""

from __future__ import annotations

import itertools
import os
import queue
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType

import quickfix as fix

from fixcore.files import owner_only, private_dir
from fixcore.timestamps import utc_timestamp
from simulator.client_display import FINAL_ORD_STATUSES, Inbound, MarketDataView, format_message
from simulator.client_options import (
    PROGRAM,
    Action,
    CancelOrder,
    ClientError,
    ClientOptions,
    MarketData,
    MassStatus,
    PlaceOrder,
    Positions,
    parse_options,
)
from simulator.client_session import ClientApplication, SessionEvents
from simulator.settings import PACKAGE_ROOT, SettingsError, find_data_dictionary

DATA_DICTIONARY = "fix_specs/FIX44.xml"
MARKET_DEPTH = 5
ANSWER_TIMEOUT_S = 5.0
LOGON_TIMEOUT_S = 10.0
LOGOUT_TIMEOUT_S = 3.0
CONNECT_PROBE_TIMEOUT_S = 3.0
SETTLE_S = 0.2


# The client


def _probe(host: str, port: int) -> None:
    """Fail fast with a clear message: QuickFIX's initiator would just retry in silence."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClientError(f"cannot connect to {host}:{port}: {reason} (is `fixgw sim` running?)") from None


def _new_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(8, "FIX.4.4")
    message.getHeader().setField(35, msg_type)
    return message


def _utc_now() -> str:
    return utc_timestamp(time.time_ns())


class FixClient:
    """One session with the venue: logon, the actions one after another, logout."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self.events = SessionEvents()
        self.market_data = MarketDataView()
        self.session_id = fix.SessionID("FIX.4.4", options.sender, options.target)
        # ClOrdIDs must be new for the account across runs (the venue remembers every one).
        self._id_prefix = format(time.time_ns() // 1_000_000, "x")[-7:]
        self._ids = itertools.count(1)
        self._orders: dict[str, PlaceOrder] = {}
        self._quiet_status_ids: set[str] = set()
        self._initiator: fix.SocketInitiator | None = None
        self.unanswered = 0

    # -- engine ----------------------------------------------------------------------------

    def _settings(self) -> fix.SessionSettings:
        try:
            dictionary = find_data_dictionary(DATA_DICTIONARY, PACKAGE_ROOT / "sessions")
        except SettingsError as exc:
            raise ClientError(str(exc)) from None
        store = (self.options.state_dir / "store").resolve()
        try:
            private_dir(self.options.state_dir)
            private_dir(store)
        except OSError as exc:
            raise ClientError(f"cannot create state directory {store}: {exc.strerror}") from None
        defaults = fix.Dictionary()
        for key, value in (
            ("ConnectionType", "initiator"),
            ("SocketConnectHost", self.options.host),
            ("SocketConnectPort", str(self.options.port)),
            ("HeartBtInt", "30"),
            ("ReconnectInterval", "1"),
            ("StartTime", "00:00:00"),
            ("EndTime", "00:00:00"),
            ("FileStorePath", str(store)),
            ("UseDataDictionary", "Y"),
            ("DataDictionary", str(dictionary)),
            ("ValidateUserDefinedFields", "N"),
            ("AllowUnknownMsgFields", "Y"),
            # A throwaway client: both sides start again at sequence number 1 on every logon.
            ("ResetOnLogon", "Y"),
            # The message store would keep our Logon, Password(554) included, on disk; what we
            # sent is never worth resending (a ResendRequest gets a SequenceReset-GapFill).
            ("PersistMessages", "N"),
            # Without TCP_NODELAY, Nagle's algorithm adds up to 40 ms to each request.
            ("SocketNodelay", "Y"),
        ):
            defaults.setString(key, value)
        session = fix.Dictionary()
        session.setString("BeginString", "FIX.4.4")
        session.setString("SenderCompID", self.options.sender)
        session.setString("TargetCompID", self.options.target)
        settings = fix.SessionSettings()
        settings.set(defaults)  # defaults first: QuickFIX merges them into a session when it is set
        settings.set(self.session_id, session)
        return settings

    def logon(self) -> None:
        _probe(self.options.host, self.options.port)
        password = (os.environ.get(self.options.password_env) or None) if self.options.password_env else None
        application = ClientApplication(self.events, self.options.sender, password)
        settings = self._settings()
        self._application = application  # QuickFIX keeps a bare pointer: keep it alive
        self._store_factory = fix.FileStoreFactory(settings)
        with owner_only():  # the store's files are created here
            self._initiator = fix.SocketInitiator(application, self._store_factory, settings)
        self._initiator.start()
        where = f"{self.options.host}:{self.options.port}"
        pair = f"SenderCompID={self.options.sender} TargetCompID={self.options.target}"
        deadline = time.monotonic() + LOGON_TIMEOUT_S
        while not self.events.logged_on.wait(0.05):
            with self.events.lock:
                refused_text, attempts = self.events.logout_text, self.events.logon_attempts
            if refused_text is not None:
                hint = (
                    f" (is {self.options.password_env} set to the venue's password?)"
                    if "password" in refused_text
                    else ""
                )
                raise ClientError(f"logon refused by {where}: {refused_text or 'Logout without Text'}{hint}")
            if attempts >= 2:
                # The acceptor hung up on our first Logon and the initiator is trying again.
                raise ClientError(
                    f"logon refused by {where}: it closed the connection on our Logon ({pair}; "
                    "the venue's settings file must list this session)"
                )
            if time.monotonic() > deadline:
                raise ClientError(f"no logon from {where} within {LOGON_TIMEOUT_S:.0f} s ({pair})")
        self._say(f"logged on to {where} as {self.options.sender} -> {self.options.target}")

    def close(self) -> None:
        """Log out and wait for the venue's Logout, then stop the engine and drop it: a started
        engine at interpreter exit crashes the process, and a stopped but living initiator keeps
        its sessions in QuickFIX's process-wide registry."""
        if self._initiator is None:
            return
        try:
            if self.events.logged_on.is_set():
                session = fix.Session.lookupSession(self.session_id)
                if session is not None:
                    session.logout("")
                    if self.events.logged_out.wait(LOGOUT_TIMEOUT_S):
                        self._say("logged out")
        finally:
            initiator, self._initiator = self._initiator, None
            initiator.stop(True)
            del initiator

    # -- messages ----------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        print(line, flush=True)

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{self._id_prefix}-{next(self._ids)}"

    def _send(self, message: fix.Message) -> None:
        if not fix.Session.sendToTarget(message, self.session_id):
            raise ClientError("the session is not logged on any more: cannot send")

    def _handle(self, message: Inbound) -> None:
        """Print one inbound message (market data goes through the book view)."""
        if message.msg_type == "W":
            for line in self.market_data.apply_snapshot(message):
                self._say(line)
        elif message.msg_type == "X":
            lines, gaps = self.market_data.apply_incremental(message)
            for line in lines:
                self._say(line)
            for symbol in gaps:
                self._request_market_data(symbol, subscription="0")
        elif message.msg_type == "8" and message.get(584) in self._quiet_status_ids:
            return  # a lookup for --cancel, not asked for by the user
        else:
            self._say(format_message(message))

    def _pump(self, done: Callable[[Inbound], bool] | None, timeout_s: float) -> bool:
        """Handle inbound messages until `done` says the awaited answers are in (True) or the
        time is up (False). Any reject or a lost session ends the wait too."""
        deadline = time.monotonic() + timeout_s
        while True:
            for error in self._drain_errors():
                self._say(f"warning: {error}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return done is None
            if self.events.logged_out.is_set() and self.events.inbound.empty():
                raise ClientError("the venue ended the session")
            try:
                message = self.events.inbound.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            self._handle(message)
            if done is not None and (done(message) or message.msg_type in ("3", "j")):
                return True

    def _drain_errors(self) -> list[str]:
        with self.events.lock:
            errors, self.events.errors[:] = list(self.events.errors), []
        return errors

    def _await(self, what: str, done: Callable[[Inbound], bool]) -> None:
        if not self._pump(done, ANSWER_TIMEOUT_S):
            self.unanswered += 1
            self._say(f"no answer to {what} within {ANSWER_TIMEOUT_S:.0f} s")

    # -- actions ---------------------------------------------------------------------------

    def run(self, action: Action) -> None:
        if isinstance(action, MarketData):
            self._market_data(action.symbol)
        elif isinstance(action, PlaceOrder):
            self._place(action)
        elif isinstance(action, CancelOrder):
            self._cancel(action.orig_cl_ord_id)
        elif isinstance(action, MassStatus):
            self._mass_status()
        elif isinstance(action, Positions):
            self._positions()
        else:
            self._cancel_all()

    def listen(self, seconds: float) -> None:
        self._pump(None, seconds)

    def _request_market_data(self, symbol: str, *, subscription: str) -> str:
        md_req_id = self._next_id("md")
        m = _new_message("V")
        m.setField(262, md_req_id)
        m.setField(263, subscription)  # 1 subscribe, 0 one snapshot (after a gap)
        m.setField(264, str(MARKET_DEPTH))
        m.setField(265, "1")  # MDUpdateType: incremental refresh
        for entry_type in ("0", "1", "2"):  # bid, offer, trade
            entry = fix.Group(267, 269)
            entry.setField(269, entry_type)
            m.addGroup(entry)
        instrument = fix.Group(146, 55)
        instrument.setField(55, symbol)
        m.addGroup(instrument)
        self._send(m)
        return md_req_id

    def _market_data(self, symbol: str) -> None:
        md_req_id = self._request_market_data(symbol, subscription="1")
        self._await(
            f"MarketDataRequest(35=V) {symbol}",
            lambda m: (
                (m.msg_type == "W" and m.get(55) == symbol) or (m.msg_type == "Y" and m.get(262) == md_req_id)
            ),
        )

    def _place(self, order: PlaceOrder) -> None:
        cl_ord_id = self._next_id("o")
        self._orders[cl_ord_id] = order
        m = _new_message("D")
        m.setField(11, cl_ord_id)
        m.setField(55, order.symbol)
        m.setField(54, order.side)
        m.setField(60, _utc_now())
        m.setField(38, str(order.qty))
        m.setField(40, "2" if order.price is not None else "1")
        if order.price is not None:
            m.setField(44, order.price)
        m.setField(59, self.options.time_in_force)
        side = "buy" if order.side == "1" else "sell"
        self._say(
            f"> NewOrderSingle(35=D) ClOrdID={cl_ord_id} {side} {order.qty} {order.symbol} "
            f"{order.price if order.price is not None else 'market'}"
        )
        self._send(m)
        rests = order.price is not None and self.options.time_in_force in ("0", "1")

        def answered(m: Inbound) -> bool:
            if m.msg_type != "8" or m.get(11) != cl_ord_id:
                return False
            # Done once the order is final, or working in the book when it is meant to rest.
            return m.get(39) in FINAL_ORD_STATUSES or (rests and m.get(150) in ("0", "F"))

        self._await(f"NewOrderSingle(35=D) {cl_ord_id}", answered)

    def _cancel(self, orig_cl_ord_id: str) -> None:
        order = self._find_order(orig_cl_ord_id)
        if order is None:
            self.unanswered += 1
            self._say(f"cancel {orig_cl_ord_id}: no order with that ClOrdID on account {self.options.sender}")
            return
        symbol, side, qty = order
        cl_ord_id = self._next_id("c")
        m = _new_message("F")
        m.setField(41, orig_cl_ord_id)
        m.setField(11, cl_ord_id)
        m.setField(55, symbol)
        m.setField(54, side)
        m.setField(60, _utc_now())
        m.setField(38, str(qty))
        self._say(f"> OrderCancelRequest(35=F) ClOrdID={cl_ord_id} OrigClOrdID={orig_cl_ord_id}")
        self._send(m)
        self._await(
            f"OrderCancelRequest(35=F) {cl_ord_id}",
            lambda m: m.msg_type in ("8", "9") and m.get(11) == cl_ord_id,
        )

    def _find_order(self, cl_ord_id: str) -> tuple[str, str, int] | None:
        """Symbol, Side and OrderQty of an order, which OrderCancelRequest(35=F) must repeat:
        from this run, or else from the venue by a quiet OrderMassStatusRequest(35=AF)."""
        placed = self._orders.get(cl_ord_id)
        if placed is not None:
            return placed.symbol, placed.side, placed.qty
        found: list[Inbound] = []

        def collect(m: Inbound) -> bool:
            if m.msg_type == "8" and m.get(11) == cl_ord_id:
                found.append(m)
            return m.msg_type == "8" and (m.get(912) == "Y" or m.get(911) == "0")

        req_id = self._next_id("s")
        self._quiet_status_ids.add(req_id)
        self._send_mass_status(req_id)
        self._pump(lambda m: m.get(584) == req_id and collect(m), ANSWER_TIMEOUT_S)
        if not found:
            return None
        report = found[-1]
        return report.get(55), report.get(54), int(report.get(38, "0") or 0)

    def _send_mass_status(self, req_id: str) -> None:
        m = _new_message("AF")
        m.setField(584, req_id)
        m.setField(585, "7")  # all orders
        self._send(m)

    def _mass_status(self) -> None:
        req_id = self._next_id("s")
        self._say(f"> OrderMassStatusRequest(35=AF) MassStatusReqID={req_id}")
        self._send_mass_status(req_id)
        self._await(
            f"OrderMassStatusRequest(35=AF) {req_id}",
            lambda m: m.msg_type == "8" and m.get(584) == req_id and (m.get(912) == "Y" or m.get(911) == "0"),
        )

    def _positions(self) -> None:
        pos_req_id = self._next_id("p")
        m = _new_message("AN")
        m.setField(710, pos_req_id)
        m.setField(724, "0")  # positions
        m.setField(1, self.options.sender)
        m.setField(581, "1")  # AccountType: carried customer side
        m.setField(715, time.strftime("%Y%m%d", time.gmtime()))
        m.setField(60, _utc_now())
        self._say(f"> RequestForPositions(35=AN) PosReqID={pos_req_id}")
        self._send(m)
        expected: list[int] = []
        reports = 0

        def answered(m: Inbound) -> bool:
            nonlocal reports
            if m.get(710) != pos_req_id:
                return False
            if m.msg_type == "AO":
                if m.get(728) != "0":
                    return True  # no positions or refused: no reports follow
                expected.append(int(m.get(727, "0") or 0))
            elif m.msg_type == "AP":
                reports += 1
            return bool(expected) and reports >= expected[0]

        self._await(f"RequestForPositions(35=AN) {pos_req_id}", answered)

    def _cancel_all(self) -> None:
        cl_ord_id = self._next_id("q")
        m = _new_message("q")
        m.setField(11, cl_ord_id)
        m.setField(530, "7")  # all orders
        m.setField(60, _utc_now())
        self._say(f"> OrderMassCancelRequest(35=q) ClOrdID={cl_ord_id}")
        self._send(m)
        affected: list[int] = []
        canceled = 0

        def answered(m: Inbound) -> bool:
            nonlocal canceled
            if m.msg_type == "r" and m.get(11) == cl_ord_id:
                affected.append(int(m.get(533, "0") or 0) if m.get(531) != "0" else 0)
            elif affected and m.msg_type == "8" and m.get(150) == "4":
                canceled += 1
            return bool(affected) and canceled >= affected[0]

        self._await(f"OrderMassCancelRequest(35=q) {cl_ord_id}", answered)


# ---------------------------------------------------------------------------------------------


class _Terminated(Exception):
    """SIGINT or SIGTERM: stop what we are doing, log out, stop the engine."""


def _on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise _Terminated


def main(argv: list[str]) -> int:
    options = parse_options(argv)
    # Both set explicitly: Python's own SIGINT handler was seen missing in this process (the
    # client died of the signal, still logged on), and an engine left started crashes at exit.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    client = FixClient(options)
    status = 0
    try:
        client.logon()
        for action in options.actions:
            client.run(action)
        # A resting limit order's wait ends at its New; fills sent right behind it still print.
        client.listen(max(options.seconds, SETTLE_S))
    except ClientError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr, flush=True)
        status = 1
    except _Terminated:
        print(f"{PROGRAM}: interrupted", file=sys.stderr, flush=True)
        status = 130
    except Exception as exc:  # a bug of ours: still one line, still log out below
        print(f"{PROGRAM}: unexpected error: {exc!r}", file=sys.stderr, flush=True)
        status = 1
    finally:
        try:
            client.close()
        except Exception as exc:
            print(f"{PROGRAM}: while logging out: {exc!r}", file=sys.stderr, flush=True)
            status = status or 1
    if status == 0 and client.unanswered:
        status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
