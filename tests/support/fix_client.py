"""An in-process QuickFIX initiator for tests: logs on to the simulator over loopback, sends
messages built with QuickFIX, and records everything it receives for the test to wait on.

    client = FixTestClient.start(tmp_path, port, sender="FIXGW")
    client.send(new_order_single("o1", "ACME", "1", 100, price="100.00"))
    report = client.wait_for(lambda m: m.msg_type == "8" and m.get(11) == "o1")
    client.stop()
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DICTIONARY = REPO_ROOT / "fix_specs" / "FIX44.xml"


@dataclass(frozen=True, slots=True)
class Received:
    """A received message, copied out of the engine: raw string plus fields by tag."""

    raw: str
    msg_type: str
    admin: bool
    at: float

    def get(self, tag: int) -> str | None:
        raw = "\x01" + self.raw
        needle = f"\x01{tag}="
        start = raw.find(needle)
        if start < 0:
            return None
        value_start = start + len(needle)
        end = raw.find("\x01", value_start)
        return raw[value_start:end]

    def get_all(self, tag: int) -> list[str]:
        values = []
        for part in self.raw.split("\x01"):
            key, _, value = part.partition("=")
            if key == str(tag):
                values.append(value)
        return values

    def groups(self, count_tag: int, delimiter: int) -> list[dict[int, str]]:
        """Repeating group entries (each a dict tag -> value), split on the delimiter tag."""
        entries: list[dict[int, str]] = []
        inside = False
        for part in self.raw.split("\x01"):
            if not part:
                continue
            key, _, value = part.partition("=")
            if not key.isdigit():
                continue
            tag = int(key)
            if tag == count_tag:
                inside = True
                continue
            if not inside:
                continue
            if tag == delimiter:
                entries.append({})
            if tag == 10:
                break
            if entries:
                entries[-1][tag] = value
        return entries


class _ClientApplication(fix.Application):
    def __init__(self, owner: FixTestClient) -> None:
        super().__init__()
        self._owner = owner

    def onCreate(self, session_id: fix.SessionID) -> None:
        return None

    def onLogon(self, session_id: fix.SessionID) -> None:
        self._owner._set_logged_on(True)

    def onLogout(self, session_id: fix.SessionID) -> None:
        self._owner._set_logged_on(False)

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            if message.getHeader().getField(35) == "A":
                if self._owner.username is not None:
                    message.setField(553, self._owner.username)
                if self._owner.password is not None:
                    message.setField(554, self._owner.password)
        except Exception as exc:  # never let an exception reach QuickFIX
            self._owner.errors.append(repr(exc))

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self._owner._record(message, admin=True)

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        return None

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self._owner._record(message, admin=False)


class FixTestClient:
    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        sender: str = "FIXGW",
        target: str = "FIXSIM",
        username: str | None = None,
        password: str | None = None,
        heartbeat_s: int = 30,
    ) -> None:
        self.directory = directory
        self.port = port
        self.sender = sender
        self.target = target
        self.username = username
        self.password = password
        self.errors: list[str] = []
        self._condition = threading.Condition()
        self._messages: list[Received] = []
        self._logged_on = False
        self._logons = 0
        directory.mkdir(parents=True, exist_ok=True)
        self.settings_path = directory / f"client-{sender}.cfg"
        self.settings_path.write_text(
            "\n".join(
                [
                    "[DEFAULT]",
                    "ConnectionType=initiator",
                    "SocketConnectHost=127.0.0.1",
                    f"SocketConnectPort={port}",
                    f"HeartBtInt={heartbeat_s}",
                    "ReconnectInterval=1",
                    "SocketNodelay=Y",
                    "StartTime=00:00:00",
                    "EndTime=00:00:00",
                    f"FileStorePath={directory / ('store-' + sender)}",
                    "UseDataDictionary=Y",
                    f"DataDictionary={DATA_DICTIONARY}",
                    "ValidateUserDefinedFields=N",
                    "AllowUnknownMsgFields=Y",
                    "ResetOnLogon=N",
                    "",
                    "[SESSION]",
                    "BeginString=FIX.4.4",
                    f"SenderCompID={sender}",
                    f"TargetCompID={target}",
                    "",
                ]
            )
        )
        self.session_id = fix.SessionID("FIX.4.4", sender, target)
        self._app = _ClientApplication(self)
        self._settings = fix.SessionSettings(str(self.settings_path))
        self._store = fix.FileStoreFactory(self._settings)
        self._initiator: fix.SocketInitiator | None = fix.SocketInitiator(
            self._app, self._store, self._settings
        )
        self._started = False

    @classmethod
    def start_new(
        cls, directory: Path, port: int, *, wait_logon: bool = True, **options: object
    ) -> FixTestClient:
        client = cls(directory, port, **options)  # type: ignore[arg-type]
        client.start()
        if wait_logon:
            try:
                client.wait_logged_on()
            except BaseException:
                client.stop(force=True)  # a started engine left behind crashes the process at exit
                raise
        return client

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._initiator is None:
            raise RuntimeError("a stopped client cannot start again: make a new one")
        self._initiator.start()
        self._started = True

    def stop(self, *, force: bool = False) -> None:
        """Log out (or just disconnect, with force) and destroy the initiator: QuickFIX keeps
        sessions in a process-wide registry, and a stopped but still existing initiator would
        keep the SessionID, so a later client with the same CompIDs could not send."""
        if self._initiator is None:
            return
        if self._started:
            self._started = False
            self._initiator.stop(force)
        self._initiator = None

    def __enter__(self) -> FixTestClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def logged_on(self) -> bool:
        with self._condition:
            return self._logged_on

    @property
    def logon_count(self) -> int:
        with self._condition:
            return self._logons

    def wait_logged_on(self, timeout_s: float = 10.0) -> None:
        with self._condition:
            if not self._condition.wait_for(lambda: self._logged_on, timeout_s):
                raise TimeoutError(f"{self.sender} did not log on within {timeout_s}s")

    def wait_logged_out(self, timeout_s: float = 10.0) -> None:
        with self._condition:
            if not self._condition.wait_for(lambda: not self._logged_on, timeout_s):
                raise TimeoutError(f"{self.sender} still logged on after {timeout_s}s")

    def _set_logged_on(self, value: bool) -> None:
        with self._condition:
            self._logged_on = value
            if value:
                self._logons += 1
            self._condition.notify_all()

    # -- messages --------------------------------------------------------------------------

    def _record(self, message: fix.Message, *, admin: bool) -> None:
        try:
            raw = message.toString()
            msg_type = message.getHeader().getField(35)
        except Exception as exc:
            self.errors.append(repr(exc))
            return
        with self._condition:
            self._messages.append(Received(raw=raw, msg_type=msg_type, admin=admin, at=time.monotonic()))
            self._condition.notify_all()

    def send(self, message: fix.Message) -> bool:
        return bool(fix.Session.sendToTarget(message, self.session_id))

    def messages(self, predicate: Callable[[Received], bool] | None = None) -> list[Received]:
        with self._condition:
            return [m for m in self._messages if predicate is None or predicate(m)]

    def wait_for(
        self, predicate: Callable[[Received], bool], timeout_s: float = 5.0, *, after: int = 0
    ) -> Received:
        """The first message (from index `after` on) that matches; raises TimeoutError."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while True:
                for message in self._messages[after:]:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching message within {timeout_s}s; got {self._summary()}")
                self._condition.wait(remaining)

    def wait_count(
        self, predicate: Callable[[Received], bool], count: int, timeout_s: float = 5.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        found: list[Received] = []
        scanned = 0
        with self._condition:
            while True:
                found += [m for m in self._messages[scanned:] if predicate(m)]
                scanned = len(self._messages)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(found)} of {count} messages within {timeout_s}s; got {self._summary()}"
                    )
                self._condition.wait(remaining)

    def mark(self) -> int:
        """Index to pass as `after=` so a wait only looks at messages received from now on."""
        with self._condition:
            return len(self._messages)

    def reports_for(self, cl_ord_id: str) -> list[Received]:
        return self.messages(lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id)

    def _summary(self) -> str:
        tail = self._messages[-8:]
        return "; ".join(m.raw.replace("\x01", "|")[:200] for m in tail) or "(nothing)"


# ---------------------------------------------------------------------------------------------
# Message builders (QuickFIX message objects; fields by tag)

_ids = itertools.count(1)


def unique_id(prefix: str = "t") -> str:
    return f"{prefix}{time.time_ns() % 10_000_000_000}-{next(_ids)}"


def _message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(35, msg_type)
    return message


def _transact_time() -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()) + ".000"


def new_order_single(
    cl_ord_id: str,
    symbol: str,
    side: str,
    qty: int | str,
    *,
    price: str | None = None,
    ord_type: str | None = None,
    tif: str | None = None,
    account: str | None = None,
) -> fix.Message:
    m = _message("D")
    m.setField(11, cl_ord_id)
    if account:
        m.setField(1, account)
    m.setField(55, symbol)
    m.setField(54, side)
    m.setField(60, _transact_time())
    m.setField(38, str(qty))
    m.setField(40, ord_type or ("2" if price is not None else "1"))
    if price is not None:
        m.setField(44, price)
    if tif is not None:
        m.setField(59, tif)
    return m


def cancel_request(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: str, qty: int = 1) -> fix.Message:
    m = _message("F")
    m.setField(41, orig_cl_ord_id)
    m.setField(11, cl_ord_id)
    m.setField(55, symbol)
    m.setField(54, side)
    m.setField(60, _transact_time())
    m.setField(38, str(qty))
    return m


def replace_request(
    cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: str, qty: int, price: str
) -> fix.Message:
    m = _message("G")
    m.setField(41, orig_cl_ord_id)
    m.setField(11, cl_ord_id)
    m.setField(55, symbol)
    m.setField(54, side)
    m.setField(60, _transact_time())
    m.setField(38, str(qty))
    m.setField(40, "2")
    m.setField(44, price)
    return m


def status_request(cl_ord_id: str, symbol: str, side: str) -> fix.Message:
    m = _message("H")
    m.setField(11, cl_ord_id)
    m.setField(55, symbol)
    m.setField(54, side)
    return m


def mass_status_request(req_id: str, req_type: str = "7", symbol: str | None = None) -> fix.Message:
    m = _message("AF")
    m.setField(584, req_id)
    m.setField(585, req_type)
    if symbol:
        m.setField(55, symbol)
    return m


def mass_cancel_request(cl_ord_id: str, request_type: str = "7", symbol: str | None = None) -> fix.Message:
    m = _message("q")
    m.setField(11, cl_ord_id)
    m.setField(530, request_type)
    if symbol:
        m.setField(55, symbol)
    m.setField(60, _transact_time())
    return m


def request_for_positions(pos_req_id: str, account: str, pos_req_type: str = "0") -> fix.Message:
    m = _message("AN")
    m.setField(710, pos_req_id)
    m.setField(724, pos_req_type)
    m.setField(1, account)
    m.setField(581, "1")
    m.setField(715, time.strftime("%Y%m%d", time.gmtime()))
    m.setField(60, _transact_time())
    return m


def market_data_request(
    md_req_id: str, symbols: Iterable[str], subscription: str = "1", depth: int = 0
) -> fix.Message:
    m = _message("V")
    m.setField(262, md_req_id)
    m.setField(263, subscription)
    m.setField(264, str(depth))
    m.setField(265, "1")
    for entry_type in ("0", "1", "2"):
        group = fix.Group(267, 269)
        group.setField(269, entry_type)
        m.addGroup(group)
    for symbol in symbols:
        group = fix.Group(146, 55)
        group.setField(55, symbol)
        m.addGroup(group)
    return m
