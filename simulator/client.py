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

import argparse
import itertools
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import FrameType
from typing import NoReturn

import quickfix as fix
import quickfix44 as fix44

from fixcore.files import owner_only, private_dir
from fixcore.timestamps import utc_timestamp
from simulator.settings import PACKAGE_ROOT, SettingsError, find_data_dictionary

PROGRAM = "fixgw client"
DATA_DICTIONARY = "fix_specs/FIX44.xml"
MARKET_DEPTH = 5
ANSWER_TIMEOUT_S = 5.0
LOGON_TIMEOUT_S = 10.0
LOGOUT_TIMEOUT_S = 3.0
CONNECT_PROBE_TIMEOUT_S = 3.0
SETTLE_S = 0.2

# Body fields copied out of every inbound message (read by tag number; absent ones are skipped).
_BODY_TAGS = (
    1, 6, 11, 14, 17, 19, 31, 32, 37, 38, 39, 40, 41, 44, 45, 54, 55, 58, 59, 83, 102, 103,
    150, 151, 262, 281, 371, 372, 373, 379, 380, 434, 530, 531, 532, 533, 584, 710, 721, 727,
    728, 729, 730, 911, 912,
)  # fmt: skip
_MD_ENTRY_TAGS = (279, 269, 55, 270, 271, 83)
_POSITION_TAGS = (703, 704, 705)

EXEC_TYPES = {
    "0": "New", "3": "DoneForDay", "4": "Canceled", "5": "Replaced", "6": "PendingCancel",
    "8": "Rejected", "A": "PendingNew", "C": "Expired", "D": "Restated", "E": "PendingReplace",
    "F": "Trade", "G": "TradeCorrect", "H": "TradeCancel", "I": "OrderStatus",
}  # fmt: skip
ORD_STATUSES = {
    "0": "New", "1": "PartiallyFilled", "2": "Filled", "3": "DoneForDay", "4": "Canceled",
    "5": "Replaced", "6": "PendingCancel", "8": "Rejected", "A": "PendingNew", "C": "Expired",
    "E": "PendingReplace",
}  # fmt: skip
SIDES = {"1": "Buy", "2": "Sell", "5": "SellShort"}
FINAL_ORD_STATUSES = frozenset({"2", "4", "8", "C"})
CXL_REJ_REASONS = {"0": "TooLate", "1": "UnknownOrder", "6": "DuplicateClOrdID", "99": "Other"}
MASS_CANCEL_RESPONSES = {"0": "Rejected", "1": "CancelSymbol", "7": "CancelAll"}
POS_REQ_RESULTS = {"0": "Valid", "1": "Invalid", "2": "NoPositions", "3": "NotAuthorized", "4": "Unsupported"}
MD_REJECT_REASONS = {
    "0": "UnknownSymbol",
    "1": "DuplicateMDReqID",
    "4": "UnsupportedSubscription",
    "5": "BadDepth",
}
TIME_IN_FORCE = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4"}


class ClientError(Exception):
    """Something the user must fix or know (no connection, logon refused); one line, no traceback."""


# ---------------------------------------------------------------------------------------------
# Command line


@dataclass(frozen=True, slots=True)
class MarketData:
    symbol: str


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    side: str  # Side(54): 1 buy, 2 sell
    symbol: str
    qty: int
    price: str | None  # None: market order


@dataclass(frozen=True, slots=True)
class CancelOrder:
    orig_cl_ord_id: str


@dataclass(frozen=True, slots=True)
class MassStatus:
    pass


@dataclass(frozen=True, slots=True)
class Positions:
    pass


@dataclass(frozen=True, slots=True)
class CancelAll:
    pass


Action = MarketData | PlaceOrder | CancelOrder | MassStatus | Positions | CancelAll


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    host: str
    port: int
    sender: str
    target: str
    password_env: str
    state_dir: Path
    seconds: float
    time_in_force: str  # TimeInForce(59)
    actions: tuple[Action, ...]


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line naming the problem and exit code 2, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROGRAM}: {message} (see --help)\n")


def _parse_qty(text: str) -> int:
    try:
        qty = int(text)
    except ValueError:
        raise argparse.ArgumentError(None, f"quantity {text!r} is not a whole number") from None
    if qty <= 0:
        raise argparse.ArgumentError(None, f"quantity {qty} must be positive")
    return qty


def _parse_price(text: str) -> str:
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentError(None, f"price {text!r} is not a number") from None
    if not price.is_finite() or price <= 0:
        raise argparse.ArgumentError(None, f"price {text} must be a positive number")
    return text


class _AppendAction(argparse.Action):
    """Collects every action option into one list, in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> None:
        items = [str(v) for v in values] if isinstance(values, list) else []
        if isinstance(values, str):
            items = [values]
        action: Action
        try:
            if self.dest == "md":
                action = MarketData(items[0].upper())
            elif self.dest in ("buy", "sell"):
                if len(items) not in (2, 3):
                    raise argparse.ArgumentError(self, "expects SYMBOL QTY [PRICE]")
                price = _parse_price(items[2]) if len(items) == 3 else None
                side = "1" if self.dest == "buy" else "2"
                action = PlaceOrder(side, items[0].upper(), _parse_qty(items[1]), price)
            elif self.dest == "cancel":
                action = CancelOrder(items[0])
            elif self.dest == "status":
                action = MassStatus()
            elif self.dest == "positions":
                action = Positions()
            else:
                action = CancelAll()
        except argparse.ArgumentError as exc:
            parser.error(f"{option_string}: {exc.message}")
        actions = list(getattr(namespace, "actions", None) or [])
        actions.append(action)
        namespace.actions = actions


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=PROGRAM,
        usage=f"{PROGRAM} [--host H] [--port N] [--sender ID] [--target ID] [--password-env VAR] "
        "[--state-dir DIR] [--seconds S] [--tif day|ioc|fok|gtc] [--md SYMBOL] [--buy SYMBOL QTY [PRICE]] "
        "[--sell SYMBOL QTY [PRICE]] [--cancel CLORDID] [--status] [--positions] [--cancel-all] ...",
        description="Log on to a FIX 4.4 venue (the bundled simulator by default), run the actions "
        "in the order given, print every answer, log out.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="venue host (%(default)s)")
    parser.add_argument("--port", type=int, default=9878, help="venue FIX port (%(default)s)")
    parser.add_argument("--sender", default="CLIENT1", help="our SenderCompID (%(default)s)")
    parser.add_argument("--target", default="FIXSIM", help="the venue's CompID (%(default)s)")
    parser.add_argument(
        "--password-env",
        default="FIXSIM_PASSWORD_CLIENT1",
        metavar="VAR",
        help="environment variable holding the Logon Password(554); unset or empty: none sent "
        "(%(default)s, CLIENT1's in sessions/simulator.cfg; FIXSIM_PASSWORD for FIXGW)",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=Path("var/client"), help="QuickFIX message store (%(default)s)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="after the actions, keep listening (market data, fills) this long",
    )
    parser.add_argument(
        "--tif",
        choices=sorted(TIME_IN_FORCE),
        default="day",
        help="TimeInForce(59) of every order of the run (%(default)s)",
    )
    group = parser.add_argument_group("actions (run in the order given, after logon)")
    group.add_argument(
        "--md", action=_AppendAction, metavar="SYMBOL", help="subscribe to market data, depth 5"
    )
    group.add_argument(
        "--buy",
        action=_AppendAction,
        nargs="+",
        metavar="ARG",
        help="SYMBOL QTY [PRICE]: limit if PRICE else market",
    )
    group.add_argument("--sell", action=_AppendAction, nargs="+", metavar="X", help="SYMBOL QTY [PRICE]")
    group.add_argument(
        "--cancel", action=_AppendAction, metavar="CLORDID", help="cancel an order by its ClOrdID"
    )
    group.add_argument(
        "--status", action=_AppendAction, nargs=0, help="status of every order (35=AF, type 7)"
    )
    group.add_argument("--positions", action=_AppendAction, nargs=0, help="positions (35=AN)")
    group.add_argument(
        "--cancel-all", action=_AppendAction, nargs=0, help="cancel every working order (35=q, type 7)"
    )
    return parser


def parse_options(argv: Sequence[str]) -> ClientOptions:
    args = build_parser().parse_args(list(argv))
    parser_error = build_parser().error
    if not 0 < args.port < 65536:
        parser_error(f"--port {args.port} is not a port between 1 and 65535")
    if args.seconds < 0:
        parser_error(f"--seconds {args.seconds} must not be negative")
    if not args.sender or not args.target:
        parser_error("--sender and --target must not be empty")
    actions = tuple(getattr(args, "actions", None) or ())
    if not actions and args.seconds == 0:
        parser_error("nothing to do: give an action (--md, --buy, --sell, --cancel, --status, --positions, "
                     "--cancel-all) or --seconds")  # fmt: skip
    return ClientOptions(
        host=args.host,
        port=args.port,
        sender=args.sender,
        target=args.target,
        password_env=args.password_env,
        state_dir=args.state_dir,
        seconds=args.seconds,
        time_in_force=TIME_IN_FORCE[args.tif],
        actions=actions,
    )


# ---------------------------------------------------------------------------------------------
# Inbound messages, copied out of the engine


@dataclass(frozen=True, slots=True)
class Inbound:
    """One received message: its type, its body fields and repeating-group entries, by tag."""

    msg_type: str
    fields: dict[int, str]
    groups: tuple[dict[int, str], ...] = ()

    def get(self, tag: int, default: str = "") -> str:
        return self.fields.get(tag, default)


def _copy_fields(source: fix.FieldMap, tags: Sequence[int]) -> dict[int, str]:
    return {tag: source.getField(tag) for tag in tags if source.isSetField(tag)}


def copy_message(message: fix.Message) -> Inbound:
    """Reads what the printer needs, by tag number, while the message still belongs to us."""
    msg_type = message.getHeader().getField(35)
    fields = _copy_fields(message, _BODY_TAGS)
    groups: list[dict[int, str]] = []
    group: fix.Group | None = None
    tags: Sequence[int] = ()
    if msg_type == "W":
        group, tags = fix44.MarketDataSnapshotFullRefresh.NoMDEntries(), _MD_ENTRY_TAGS
    elif msg_type == "X":
        group, tags = fix44.MarketDataIncrementalRefresh.NoMDEntries(), _MD_ENTRY_TAGS
    elif msg_type == "AP":
        group, tags = fix44.PositionReport.NoPositions(), _POSITION_TAGS
    if group is not None and message.isSetField(group.field()):
        for index in range(1, int(message.getField(group.field())) + 1):
            message.getGroup(index, group)
            groups.append(_copy_fields(group, tags))
    return Inbound(msg_type, fields, tuple(groups))


# ---------------------------------------------------------------------------------------------
# The QuickFIX application: every callback only records and never raises


@dataclass
class _SessionEvents:
    """What the engine's threads tell the main thread; the main thread alone prints."""

    inbound: queue.Queue[Inbound] = field(default_factory=queue.Queue)
    logged_on: threading.Event = field(default_factory=threading.Event)
    logged_out: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    logon_attempts: int = 0
    logout_text: str | None = None
    errors: list[str] = field(default_factory=list)


class _ClientApplication(fix.Application):
    def __init__(self, events: _SessionEvents, username: str, password: str | None) -> None:
        super().__init__()
        self._events = events
        self._username = username
        self._password = password

    def onCreate(self, session_id: fix.SessionID) -> None:
        return None

    def onLogon(self, session_id: fix.SessionID) -> None:
        try:
            self._events.logged_out.clear()
            self._events.logged_on.set()
        except Exception as exc:
            self._events.errors.append(f"onLogon: {exc!r}")

    def onLogout(self, session_id: fix.SessionID) -> None:
        try:
            self._events.logged_on.clear()
            self._events.logged_out.set()
        except Exception as exc:
            self._events.errors.append(f"onLogout: {exc!r}")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            if message.getHeader().getField(35) == "A":
                with self._events.lock:
                    self._events.logon_attempts += 1
                if self._password:
                    message.setField(553, self._username)
                    message.setField(554, self._password)
        except Exception as exc:
            self._events.errors.append(f"toAdmin: {exc!r}")

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            msg_type = message.getHeader().getField(35)
            if msg_type == "5":
                text = message.getField(58) if message.isSetField(58) else ""
                with self._events.lock:
                    self._events.logout_text = text
            if msg_type in ("3", "5"):
                self._events.inbound.put(copy_message(message))
        except Exception as exc:
            self._events.errors.append(f"fromAdmin: {exc!r}")

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        return None

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            self._events.inbound.put(copy_message(message))
        except Exception as exc:
            self._events.errors.append(f"fromApp: {exc!r}")


# ---------------------------------------------------------------------------------------------
# Printing


def _named(value: str, names: dict[str, str]) -> str:
    name = names.get(value)
    return f"{value}({name})" if name else value


def _kv(message: Inbound, *pairs: tuple[str, int]) -> str:
    return " ".join(f"{name}={message.fields[tag]}" for name, tag in pairs if tag in message.fields)


def _text(message: Inbound) -> str:
    return f" Text={message.fields[58]!r}" if 58 in message.fields else ""


def format_execution_report(report: Inbound) -> str:
    parts = [
        "ExecutionReport(35=8)",
        _kv(report, ("ClOrdID", 11), ("OrigClOrdID", 41), ("OrderID", 37)),
        f"ExecType={_named(report.get(150), EXEC_TYPES)}",
        f"OrdStatus={_named(report.get(39), ORD_STATUSES)}",
        _kv(report, ("Symbol", 55)),
    ]
    if 54 in report.fields:
        parts.append(f"Side={_named(report.get(54), SIDES)}")
    parts.append(
        _kv(
            report,
            ("OrderQty", 38),
            ("Price", 44),
            ("LastQty", 32),
            ("LastPx", 31),
            ("CumQty", 14),
            ("LeavesQty", 151),
            ("AvgPx", 6),
            ("ExecRefID", 19),
            ("OrdRejReason", 103),
        )
    )
    return " ".join(p for p in parts if p) + _text(report)


def format_position_report(report: Inbound) -> str:
    long_qty = sum(int(g.get(704, "0") or 0) for g in report.groups)
    short_qty = sum(int(g.get(705, "0") or 0) for g in report.groups)
    return (
        f"PositionReport(35=AP) {report.get(55)} long {long_qty} short {short_qty} "
        f"avg {report.get(730) or '-'}"
    )


def format_message(message: Inbound) -> str:
    """One readable line for any answer except market data (see `MarketDataView`)."""
    t = message.msg_type
    if t == "8":
        return format_execution_report(message)
    if t == "AP":
        return format_position_report(message)
    if t == "9":
        return (
            f"OrderCancelReject(35=9) {_kv(message, ('ClOrdID', 11), ('OrigClOrdID', 41), ('OrderID', 37))} "
            f"OrdStatus={_named(message.get(39), ORD_STATUSES)} "
            f"CxlRejReason={_named(message.get(102), CXL_REJ_REASONS)}" + _text(message)
        )
    if t == "AO":
        return (
            f"RequestForPositionsAck(35=AO) PosReqID={message.get(710)} "
            f"PosReqResult={_named(message.get(728), POS_REQ_RESULTS)} "
            f"TotalNumPosReports={message.get(727)}" + _text(message)
        )
    if t == "r":
        return (
            f"OrderMassCancelReport(35=r) ClOrdID={message.get(11)} "
            f"MassCancelResponse={_named(message.get(531), MASS_CANCEL_RESPONSES)} "
            f"TotalAffectedOrders={message.get(533, '0')}"
            + (f" MassCancelRejectReason={message.fields[532]}" if 532 in message.fields else "")
            + _text(message)
        )
    if t == "Y":
        return (
            f"MarketDataRequestReject(35=Y) MDReqID={message.get(262)} "
            f"MDReqRejReason={_named(message.get(281), MD_REJECT_REASONS)}" + _text(message)
        )
    if t == "j":
        return (
            "BusinessMessageReject(35=j) "
            + _kv(message, ("RefMsgType", 372), ("BusinessRejectRefID", 379), ("BusinessRejectReason", 380))
            + _text(message)
        )
    if t == "3":
        return (
            f"Reject(35=3) {_kv(message, ('RefSeqNum', 45), ('RefTagID', 371), ('RefMsgType', 372))} "
            f"{_kv(message, ('SessionRejectReason', 373))}" + _text(message)
        )
    if t == "5":
        return "Logout(35=5)" + _text(message)
    return f"message 35={t} " + " ".join(f"{tag}={value}" for tag, value in message.fields.items())


@dataclass
class _Book:
    """One symbol's book as market data describes it: price -> aggregate size per side."""

    bids: dict[Decimal, int] = field(default_factory=dict)
    asks: dict[Decimal, int] = field(default_factory=dict)
    last: tuple[str, str] | None = None
    rpt_seq: int = 0
    awaiting_snapshot: bool = True


def _level(levels: dict[Decimal, int], best: Callable[..., Decimal]) -> str:
    if not levels:
        return "-"
    price = best(levels)
    return f"{price} x {levels[price]}"


class MarketDataView:
    """Keeps each subscribed symbol's book from W and X, notices RptSeq(83) gaps, and renders a
    compact top-of-book line per change."""

    def __init__(self) -> None:
        self.books: dict[str, _Book] = {}

    def top_line(self, symbol: str) -> str:
        book = self.books[symbol]
        last = f"  last {book.last[0]} x {book.last[1]}" if book.last else ""
        return f"{symbol:<5} bid {_level(book.bids, max)} | ask {_level(book.asks, min)}{last}"

    def apply_snapshot(self, message: Inbound) -> list[str]:
        symbol = message.get(55)
        book = self.books.setdefault(symbol, _Book())
        book.bids.clear()
        book.asks.clear()
        for entry in message.groups:
            price, size = entry.get(270, ""), entry.get(271, "0")
            if entry.get(269) == "0":
                book.bids[Decimal(price)] = int(size)
            elif entry.get(269) == "1":
                book.asks[Decimal(price)] = int(size)
            elif entry.get(269) == "2":
                book.last = (price, size)
        book.rpt_seq = int(message.get(83, "0") or 0)
        book.awaiting_snapshot = False
        bids = ", ".join(f"{p} x {book.bids[p]}" for p in sorted(book.bids, reverse=True)) or "-"
        asks = ", ".join(f"{p} x {book.asks[p]}" for p in sorted(book.asks)) or "-"
        return [
            f"MarketDataSnapshotFullRefresh(35=W) {self.top_line(symbol)}  RptSeq={book.rpt_seq}",
            f"  bids {bids}",
            f"  asks {asks}",
        ]

    def apply_incremental(self, message: Inbound) -> tuple[list[str], list[str]]:
        """Lines to print, and symbols whose book has a gap and needs a new snapshot."""
        changed: list[str] = []
        gaps: list[str] = []
        lines: list[str] = []
        for entry in message.groups:
            symbol = entry.get(55, "")
            book = self.books.get(symbol)
            if book is None or book.awaiting_snapshot:
                continue  # before or during a snapshot request: the snapshot will include it
            rpt_seq = int(entry.get(83, "0") or 0)
            if rpt_seq and rpt_seq <= book.rpt_seq:
                continue  # already in the snapshot
            if rpt_seq and rpt_seq != book.rpt_seq + 1:
                lines.append(
                    f"{symbol}: RptSeq(83) gap (expected {book.rpt_seq + 1}, got {rpt_seq}): new snapshot"
                )
                book.awaiting_snapshot = True
                gaps.append(symbol)
                continue
            book.rpt_seq = rpt_seq or book.rpt_seq
            price, size, action, kind = (
                entry.get(270, ""),
                entry.get(271, "0"),
                entry.get(279, ""),
                entry.get(269, ""),
            )
            if kind == "2":
                book.last = (price, size)
            elif kind in ("0", "1"):
                side = book.bids if kind == "0" else book.asks
                if action == "2" or int(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = int(size)
            if symbol not in changed:
                changed.append(symbol)
        lines += [self.top_line(symbol) for symbol in changed if not self.books[symbol].awaiting_snapshot]
        return lines, gaps


# ---------------------------------------------------------------------------------------------
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
        self.events = _SessionEvents()
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
        application = _ClientApplication(self.events, self.options.sender, password)
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
