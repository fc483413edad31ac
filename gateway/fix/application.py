"""The gateway's QuickFIX Application: every callback catches every exception.

Takes the session roles (which venue, order entry and/or market data, which symbols), the order
manager and the market-data sink; gives a `quickfix.Application` that:

- dispatches inbound application messages by MsgType(35): ExecutionReport(35=8),
  OrderCancelReject(35=9) and BusinessMessageReject(35=j) to the order manager (which commits to
  the ledger before the callback returns), MarketData W/X/Y to the sink;
- quarantines what it cannot process (reason + raw text in the ledger) and answers it the FIX way:
  a bad field value is re-raised as `quickfix.IncorrectTagValue` / `FieldNotFound`, so QuickFIX
  sends Reject(35=3) with RefSeqNum(45) and RefTagID(371); anything else gets a
  BusinessMessageReject(35=j) with RefMsgType(372) and BusinessRejectReason(380). Trading goes on;
- subscribes to market data on logon of a market-data session and asks for the status of live
  orders on logon of an order-entry session;
- sets Username(553)/Password(554) on Logon from environment variables (never logged), and
  keeps every session-level message, that Logon included, out of QuickFIX's message store (see
  `_store_only_application_messages`): no password reaches a file;
- implements `OrderSender` for the order manager.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import quickfix as fix

from fixcore.timestamps import utc_timestamp_ns
from gateway.domain.commands import OrderCommand
from gateway.domain.errors import MessageError
from gateway.domain.fix_values import BusinessRejectReason, MsgType
from gateway.fix import codec, order_encoding
from gateway.fix.reconnect import copy_session_id
from gateway.oms.order_manager import OrderManager

log = logging.getLogger("fixgw.fix")

_ORDER_MESSAGE_TYPES = frozenset(
    {
        MsgType.NEW_ORDER_SINGLE,
        MsgType.ORDER_CANCEL_REQUEST,
        MsgType.ORDER_CANCEL_REPLACE_REQUEST,
        MsgType.ORDER_STATUS_REQUEST,
    }
)
_MD_TYPES = frozenset(
    {MsgType.MARKET_DATA_SNAPSHOT, MsgType.MARKET_DATA_INCREMENTAL, MsgType.MARKET_DATA_REQUEST_REJECT}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRole:
    key: str
    venue: str
    order_entry: bool
    market_data: bool
    symbols: tuple[str, ...] = ()
    market_depth: int = 5
    username_env: str | None = None
    password_env: str | None = None


@dataclass(slots=True)
class _SessionState:
    session_id: Any = None
    logged_on: bool = False
    logons: int = 0
    sent_by_seq: dict[int, tuple[str, str]] = field(default_factory=dict)
    # the engine's Session (QuickFIX's pointer, valid while the initiator exists) and whether
    # its store currently keeps outgoing messages; None until the first callback looks it up
    engine_session: Any = None
    stores_app_messages: bool | None = None
    persisting: bool | None = None


class NullSink:
    def on_market_data(self, message: Any, session_key: str, recv_ns: int) -> None:
        pass

    def on_session_down(self, session_key: str) -> None:
        pass

    def close(self) -> None:
        pass


class OffEngineThread:
    """Runs work handed over from QuickFIX callbacks that QuickFIX calls while holding its session
    mutex (onLogout runs inside Session::disconnect). That work takes our locks and may send;
    done on the engine's thread it would invert the lock order with any thread that holds one of
    our locks and waits in sendToTarget for the same mutex. One daemon thread, in order."""

    def __init__(self, name: str = "fix-deferred") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, work: Callable[[], None]) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put(work)

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            try:
                work()
            except Exception:
                log.exception("deferred work from a QuickFIX callback failed")

    def close(self, timeout_s: float = 5.0) -> None:
        """Run what is queued, then stop."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)


class GatewayApplication(fix.Application):
    def __init__(
        self,
        *,
        roles: Mapping[str, SessionRole],
        clock_ns: Callable[[], int] = time.time_ns,
        resend_max_age_ms: int = 0,
    ) -> None:
        super().__init__()
        self._roles = dict(roles)
        self._resend_max_age_ns = resend_max_age_ms * 1_000_000
        self.stale_resends_suppressed = 0
        self._clock_ns = clock_ns
        self._sessions: dict[str, _SessionState] = {key: _SessionState() for key in roles}
        self._oms: OrderManager | None = None
        self._sink: Any = NullSink()
        self._md_req_ids = itertools.count(1)
        self._logon_event = threading.Condition()
        self.counters: dict[str, int] = {"quarantined": 0, "market_data": 0, "session_rejects": 0}
        # Reject(35=3) that QuickFIX itself sent for messages that never reached fromApp
        # (dictionary validation): noted in toAdmin, quarantined later outside the session lock
        self._engine_rejects: collections.deque[tuple[str, str, str, str]] = collections.deque()
        self._answered: set[tuple[str, str]] = set()  # (session, seq) already quarantined
        self.recent_incoming: Any = None  # gateway.fix.logs.RecentIncoming, set by app.py
        self.off_engine = OffEngineThread()

    def attach(self, *, oms: OrderManager, sink: Any) -> None:
        self._oms = oms
        self._sink = sink

    def close(self) -> None:
        """After the engine stopped: finish the work deferred from its callbacks."""
        self.off_engine.close()

    def detach_sink(self) -> None:
        """At a deliberate stop: market data and the logouts that follow no longer reach the
        decision path, so a planned shutdown is not reported as a feed failure."""
        self._sink = NullSink()

    # --- OrderSender ---------------------------------------------------------------------------

    def session_ready(self, session: str) -> bool:
        state = self._sessions.get(session)
        return bool(state and state.logged_on and state.session_id is not None)

    def send(self, session: str, command: OrderCommand) -> bool:
        state = self._sessions.get(session)
        if state is None or state.session_id is None:
            return False
        msg_type, fields = order_encoding.encode(command)
        message = codec.build_message(msg_type, fields)
        return bool(fix.Session.sendToTarget(message, state.session_id))

    # --- used by app.py ------------------------------------------------------------------------

    def logged_on(self) -> dict[str, bool]:
        return {key: state.logged_on for key, state in self._sessions.items()}

    def wait_logged_on(self, keys: Iterable[str], timeout_s: float) -> bool:
        wanted = list(keys)
        deadline = time.monotonic() + timeout_s
        with self._logon_event:
            while not all(self.session_ready(k) for k in wanted):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._logon_event.wait(remaining)
        return True

    def request_snapshot(self, symbol: str) -> None:
        """Ask for a fresh MarketDataSnapshotFullRefresh(35=W) of one symbol (263=0)."""
        for key, role in self._roles.items():
            if role.market_data and symbol in role.symbols and self.session_ready(key):
                self._send_md_request(key, [symbol], subscription="0", depth=role.market_depth)
                return
        log.warning("no logged-on market-data session for %s: snapshot not requested", symbol)

    # --- QuickFIX callbacks ----------------------------------------------------------------------

    # told of every logon and logout (gateway.fix.reconnect.ReconnectDriver); set by app.py
    session_observer: Any = None

    def onCreate(self, session_id: Any) -> None:
        try:
            key = session_id.toString()
            # a SessionID of our own: the one passed in belongs to the engine (dependency notes)
            self._sessions.setdefault(key, _SessionState()).session_id = copy_session_id(session_id)
            log.info("session created %s", key)
        except Exception:
            log.exception("onCreate failed")

    def onLogon(self, session_id: Any) -> None:
        try:
            key = session_id.toString()
            if self.session_observer is not None:
                self.session_observer.on_logon(key)
            state = self._sessions.setdefault(key, _SessionState())
            if state.session_id is None:
                state.session_id = copy_session_id(session_id)
            state.logged_on = True
            state.logons += 1
            log.info("logon %s (logon #%d)", key, state.logons)
            role = self._roles.get(key)
            if role is not None and role.order_entry and self._oms is not None:
                count = self._oms.on_session_logon(key)
                if count:
                    log.info("%s: asked the venue for the status of %d live orders", key, count)
            if role is not None and role.market_data and role.symbols:
                self._send_md_request(key, role.symbols, subscription="1", depth=role.market_depth)
            with self._logon_event:
                self._logon_event.notify_all()
        except Exception:
            log.exception("onLogon failed")

    def onLogout(self, session_id: Any) -> None:
        try:
            key = session_id.toString()
            state = self._sessions.setdefault(key, _SessionState())
            was_on = state.logged_on
            state.logged_on = False
            log.info("logout %s%s", key, "" if was_on else " (was not logged on)")
            if self.session_observer is not None:
                # usually already told by the engine's "Disconnecting" event; idempotent
                self.session_observer.on_connection_ended(key)
            role = self._roles.get(key)
            if was_on and role is not None and role.market_data:
                # QuickFIX holds the session mutex here: the sink's reaction (cancels through
                # the order manager's lock) runs on another thread
                sink = self._sink
                self.off_engine.submit(lambda: sink.on_session_down(key))
        except Exception:
            log.exception("onLogout failed")

    def toAdmin(self, message: Any, session_id: Any) -> None:
        # runs under the session's lock: never take the order manager's lock here
        try:
            self._store_only_application_messages(session_id, persist=False)
            msg_type = message.getHeader().getField(35)
            if msg_type == MsgType.REJECT:
                self._note_engine_reject(message, session_id.toString())
                return
            if msg_type != MsgType.LOGON:
                return
            role = self._roles.get(session_id.toString())
            if role is None:
                return
            for tag, env in ((553, role.username_env), (554, role.password_env)):
                if env:
                    value = os.environ.get(env)
                    if value:
                        message.setField(tag, value)
        except Exception:
            log.exception("toAdmin failed")

    def fromAdmin(self, message: Any, session_id: Any) -> None:
        try:
            # before QuickFIX answers a ResendRequest (or a Logon's NextExpectedMsgSeqNum): it
            # retransmits from the store only while persisting is on, else gap-fills it all
            self._store_only_application_messages(session_id, persist=True)
            if self._engine_rejects:
                self.drain_engine_rejects()
            msg_type = message.getHeader().getField(35)
            if msg_type == MsgType.REJECT:
                self._on_session_reject(message.toString(), session_id.toString())
            elif msg_type == MsgType.LOGOUT:
                text = message.getField(58) if message.isSetField(58) else ""
                log.info("%s: venue sent Logout(35=5) %s", session_id.toString(), text)
        except Exception:
            log.exception("fromAdmin failed")

    def toApp(self, message: Any, session_id: Any) -> None:
        # runs under the session's lock: only a dict store, no application lock
        try:
            self._store_only_application_messages(session_id, persist=True)
            # one SWIG call for the whole message instead of one per field read
            raw = message.toString()
            msg_type = codec.msg_type_of(raw)
            if msg_type in _ORDER_MESSAGE_TYPES:
                cl_ord_id = codec.field_of(raw, "11") or ""
                if self._resend_max_age_ns and codec.field_of(raw, "43") == "Y":
                    age_ns = self._clock_ns() - utc_timestamp_ns(codec.field_of(raw, "60") or "")
                    if age_ns > self._resend_max_age_ns:
                        self.stale_resends_suppressed += 1
                        log.warning(
                            "%s: not resending %s(35=%s) %s, %.1f s old: gap fill instead",
                            session_id.toString(),
                            "order message",
                            msg_type,
                            cl_ord_id,
                            age_ns / 1e9,
                        )
                        raise fix.DoNotSend()
                state = self._sessions.get(session_id.toString())
                if state is not None:
                    seq = int(codec.field_of(raw, "34") or "0")
                    state.sent_by_seq[seq] = (msg_type, cl_ord_id)
                    if len(state.sent_by_seq) > 10_000:
                        state.sent_by_seq.pop(next(iter(state.sent_by_seq)))
        except fix.DoNotSend:
            raise
        except Exception:
            log.exception("toApp failed")

    def _store_only_application_messages(self, session_id: Any, *, persist: bool) -> None:
        """QuickFIX's message store keeps application messages, never session-level ones.

        With PersistMessages=Y (needed: a fresh order the venue missed is resent from the store)
        QuickFIX 1.16 stores every message it sends, the Logon with Password(554) in clear among
        them (Session::sendRaw calls persist() right after toAdmin). It never resends a stored
        session-level message: Session::generateRetransmits gap-fills every admin MsgType, and
        fills any sequence number missing from the store the same way. So the store is switched
        off for the one message being sent from toAdmin (Session::persist reads the flag after
        toAdmin returns) and on again from toApp and fromAdmin: every application message is
        stored as before, and fromAdmin runs (inside Session::verify) before QuickFIX decides, on
        a ResendRequest, between retransmitting and gap-filling everything. Only the engine's
        thread sends admin messages, so only it turns the store off; other threads only send
        application messages, under the same session mutex. A session configured with
        PersistMessages=N is left alone. MemoryStore/FileStore cannot be subclassed from Python
        in 1.16 (no SWIG director), so a store that strips 554 is not an option."""
        try:
            state = self._sessions.get(session_id.toString())
            if state is None or state.persisting is persist or state.stores_app_messages is False:
                return
            session = state.engine_session
            if session is None:
                session = fix.Session.lookupSession(session_id)
                if session is None:  # a unit test's SessionID with no engine behind it
                    return
                state.engine_session = session
                state.stores_app_messages = bool(session.getPersistMessages())
                if not state.stores_app_messages:
                    return
            session.setPersistMessages(persist)
            state.persisting = persist
        except Exception:
            log.exception("switching the message store %s failed", "on" if persist else "off")

    def fromApp(self, message: Any, session_id: Any) -> None:
        recv_ns = self._clock_ns()
        raw = ""
        key = "?"
        msg_type = "?"
        try:
            if self._engine_rejects:
                self.drain_engine_rejects()
            key = session_id.toString()
            # one SWIG call gives the whole message; MsgType and every field come from the text
            raw = message.toString()
            msg_type = codec.msg_type_of(raw)
            if msg_type in _MD_TYPES:
                self.counters["market_data"] += 1
                self._sink.on_market_data(message, key, recv_ns)
                return
            if msg_type == MsgType.EXECUTION_REPORT:
                self._require_oms().on_execution_report(codec.parse_execution_report(raw, key, recv_ns))
            elif msg_type == MsgType.ORDER_CANCEL_REJECT:
                self._require_oms().on_cancel_reject(codec.parse_cancel_reject(raw, key, recv_ns))
            elif msg_type == MsgType.BUSINESS_MESSAGE_REJECT:
                self._on_business_reject(raw, key)
            else:
                self._quarantine(
                    key, msg_type, raw, f"unsupported message type {msg_type}", "BusinessMessageReject(35=j)"
                )
                raise fix.UnsupportedMessageType()
        except MessageError as exc:
            self._answer_unprocessable(key, msg_type, raw or _safe_text(message), exc)
        except fix.UnsupportedMessageType:
            raise
        except Exception as exc:
            log.exception("%s: cannot process %s", key, msg_type)
            text = raw or _safe_text(message)
            self._quarantine(key, msg_type, text, f"internal error: {exc!r}", "BusinessMessageReject(35=j)")
            self._send_business_reject(
                key, text, msg_type, BusinessRejectReason.APPLICATION_NOT_AVAILABLE, str(exc)
            )

    def drain_engine_rejects(self) -> None:
        """Quarantine the messages QuickFIX rejected on its own since the last call."""
        while self._engine_rejects:
            key, ref_seq, ref_tag, text = self._engine_rejects.popleft()
            if (key, ref_seq) in self._answered:
                self._answered.discard((key, ref_seq))
                continue
            raw = (self.recent_incoming.get(key, ref_seq) if self.recent_incoming else None) or ""
            msg_type = codec.fields_of(raw).get("35", "?") if raw else "?"
            tag_text = f" (tag {ref_tag})" if ref_tag else ""
            log.warning("%s: QuickFIX rejected seq %s%s: %s", key, ref_seq, tag_text, text)
            self._quarantine(
                key,
                msg_type,
                raw or f"34={ref_seq}",
                f"rejected by QuickFIX before the application: {text}{tag_text}",
                "Reject(35=3)",
            )

    # --- internals ------------------------------------------------------------------------------

    def _note_engine_reject(self, message: Any, key: str) -> None:
        ref_seq = message.getField(45) if message.isSetField(45) else ""
        ref_tag = message.getField(371) if message.isSetField(371) else ""
        text = message.getField(58) if message.isSetField(58) else ""
        self._engine_rejects.append((key, ref_seq, ref_tag, text))

    def _require_oms(self) -> OrderManager:
        if self._oms is None:
            raise RuntimeError("order manager not attached")
        return self._oms

    def _answer_unprocessable(self, key: str, msg_type: str, raw: str, exc: MessageError) -> None:
        if exc.tag is not None:
            self._quarantine(key, msg_type, raw, exc.reason, "Reject(35=3)")
            self._answered.add((key, codec.fields_of(raw).get("34", "")))
            log.warning("%s: %s rejected: %s", key, msg_type, exc.reason)
            # QuickFIX answers this with Reject(35=3), RefSeqNum(45) and RefTagID(371)
            raise fix.IncorrectTagValue(exc.tag)
        self._quarantine(key, msg_type, raw, exc.reason, "BusinessMessageReject(35=j)")
        log.warning("%s: %s quarantined: %s", key, msg_type, exc.reason)
        fields = codec.fields_of(raw)
        self._send_business_reject(
            key, raw, msg_type, BusinessRejectReason.UNKNOWN_ID, exc.reason, ref_id=fields.get("11")
        )

    def _quarantine(self, key: str, msg_type: str, raw: str, reason: str, answer: str) -> None:
        self.counters["quarantined"] += 1
        seq = codec.fields_of(raw).get("34") if raw else None
        try:
            if self._oms is not None:
                self._oms.quarantine(
                    session=key,
                    msg_type=msg_type,
                    seq_num=int(seq) if seq and seq.isdigit() else None,
                    reason=reason,
                    answer=answer,
                    raw=codec.readable(raw),
                )
        except Exception:
            log.exception("%s: could not write the quarantine row for %s", key, codec.readable(raw))

    def _send_business_reject(
        self, key: str, raw: str, msg_type: str, reason: str, text: str, ref_id: str | None = None
    ) -> None:
        try:
            seq = codec.fields_of(raw).get("34", "0")
            state = self._sessions.get(key)
            if state is None or state.session_id is None:
                return
            reject = codec.build_business_reject(
                ref_seq_num=int(seq) if seq.isdigit() else 0,
                ref_msg_type=msg_type,
                reason=reason,
                text=text,
                ref_id=ref_id,
            )
            fix.Session.sendToTarget(reject, state.session_id)
        except Exception:
            log.exception("%s: could not send BusinessMessageReject(35=j)", key)

    def _on_business_reject(self, raw: str, key: str) -> None:
        fields = codec.fields_of(raw)
        ref_msg_type = fields.get("372", "")
        ref_id = fields.get("379")
        text = fields.get("58", "")
        log.warning("%s: BusinessMessageReject(35=j) of %s %s: %s", key, ref_msg_type, ref_id, text)
        if not ref_id:
            ref_seq = fields.get("45", "")
            state = self._sessions.get(key)
            if state is not None and ref_seq.isdigit():
                sent = state.sent_by_seq.get(int(ref_seq))
                if sent is not None:
                    ref_msg_type, ref_id = sent
        self._require_oms().on_business_reject(ref_msg_type, ref_id, text or "business reject", key)

    def _on_session_reject(self, raw: str, key: str) -> None:
        """Reject(35=3) from the venue: if it refers to one of our order messages, settle it."""
        self.counters["session_rejects"] += 1
        fields = codec.fields_of(raw)
        ref_seq = fields.get("45", "")
        text = fields.get("58", "session-level reject")
        log.warning("%s: venue sent Reject(35=3) of our seq %s: %s", key, ref_seq, text)
        state = self._sessions.get(key)
        if state is None or not ref_seq.isdigit() or self._oms is None:
            return
        sent = state.sent_by_seq.get(int(ref_seq))
        if sent is not None:
            self._oms.on_business_reject(sent[0], sent[1], f"Reject(35=3): {text}", key)

    def _send_md_request(self, key: str, symbols: Iterable[str], *, subscription: str, depth: int) -> None:
        state = self._sessions.get(key)
        if state is None or state.session_id is None:
            return
        role = self._roles[key]
        md_req_id = f"{role.venue}-md-{next(self._md_req_ids)}"
        message = codec.build_market_data_request(md_req_id, symbols, subscription=subscription, depth=depth)
        fix.Session.sendToTarget(message, state.session_id)
        log.info(
            "%s: MarketDataRequest(35=V) %s 263=%s for %s", key, md_req_id, subscription, ",".join(symbols)
        )


def _safe_text(message: Any) -> str:
    try:
        return str(message.toString())
    except Exception:
        return ""
