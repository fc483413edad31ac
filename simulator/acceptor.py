"""The QuickFIX Application of the simulator: FIX in -> venue -> SQLite -> FIX out.

Takes application messages from QuickFIX's session threads, reads them by tag into venue
requests (Account(1) defaults to the session's own account; which accounts a session may name
is the venue's rule, from simulator/clients.py), applies them to the `Venue` under one lock,
commits what changed to the venue's SQLite file and only then sends the replies and publishes
market data. Every callback catches what it does not mean to raise: an exception escaping into
QuickFIX ends the process.

Also here: the scripted faults that act on the FIX layer (duplicates, sequence gaps,
disconnects, unknown tags, acknowledgement delays). The masking message log (QuickFIX's own
FileLog would write Password(554) in clear) is in `fixlog.py`.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import ClassVar

import quickfix as fix

from fixcore.masking import mask_secrets
from simulator import fixmessages as out
from simulator.backpressure import SendQueueProbe
from simulator.clients import Clients
from simulator.faults import Faults
from simulator.fixlog import MaskingLogFactory, MessageLogWriter
from simulator.fixmessages import field, header_field
from simulator.instruments import Instrument
from simulator.liquidity import MarketAgents
from simulator.marketdata import Subscribed, Subscription, SubscriptionRegistry
from simulator.store import VenueStore
from simulator.venue import (
    CancelRejectOut,
    CancelRequest,
    ExecutionReportOut,
    MassCancelReportOut,
    MassCancelRequest,
    MassStatusRequest,
    NewOrderRequest,
    OutboundMessage,
    PositionAckOut,
    PositionReportOut,
    PositionRequest,
    ReplaceRequest,
    StatusRequest,
    Venue,
    VenueError,
    VenueResult,
)

log = logging.getLogger("simulator")


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class _SendFlags(threading.local):
    poss_dup = False


class SimulatorApplication(fix.Application):
    """QuickFIX callbacks plus the venue pipeline they drive."""

    def __init__(
        self,
        *,
        venue: Venue,
        store: VenueStore,
        faults: Faults,
        agents: MarketAgents,
        clients: Clients | None = None,
        send_queues: SendQueueProbe | None = None,
        stalled_peer_timeout_s: float = 5.0,
        max_entries_per_message: int = 64,
    ) -> None:
        super().__init__()
        self.venue = venue
        self.store = store
        self.faults = faults
        self.agents = agents
        self.instruments: Mapping[str, Instrument] = venue.instruments
        self.subscriptions = SubscriptionRegistry(max_entries_per_message)
        self.lock = threading.RLock()
        self.clients = clients if clients is not None else Clients(())
        self.send_queues = send_queues
        self.stalled_peer_timeout_s = stalled_peer_timeout_s
        self.market_data_held_back = 0
        self._held_back_logged_at = 0.0
        self._session_ids: dict[str, fix.SessionID] = {}
        self._counterparty: dict[str, str] = {}
        self._logged_on: set[str] = set()
        self._received: dict[str, int] = {}
        self._flags = _SendFlags()
        self.messages_sent = 0
        self._trading_date = venue.trading_date()
        faults.on_change(self._fault_changed)

    # -- QuickFIX callbacks ----------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        try:
            key = session_id.toString()
            begin = session_id.getBeginString().getValue()
            sender = session_id.getSenderCompID().getValue()
            target = session_id.getTargetCompID().getValue()
            self._session_ids[key] = fix.SessionID(begin, sender, target)
            self._counterparty[key] = target
        except Exception:
            log.exception("onCreate failed")

    def onLogon(self, session_id: fix.SessionID) -> None:
        try:
            key = session_id.toString()
            self._logged_on.add(key)
            log.info("logon %s", key)
        except Exception:
            log.exception("onLogon failed")

    def onLogout(self, session_id: fix.SessionID) -> None:
        # Runs under the session's own lock: never take the venue lock here.
        try:
            key = session_id.toString()
            self._logged_on.discard(key)
            self.subscriptions.drop_session(key)
            log.info("logout %s", key)
        except Exception:
            log.exception("onLogout failed")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        return None

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        reject_reason: str | None = None
        try:
            if header_field(message, 35) == "A":
                reject_reason = self._check_credentials(message, session_id.toString())
        except Exception:
            log.exception("fromAdmin failed")
            reject_reason = "logon rejected: internal error"
        if reject_reason is not None:
            raise fix.RejectLogon(reject_reason)

    def _check_credentials(self, logon: fix.Message, key: str) -> str | None:
        """None when the Logon(35=A) may proceed, else the reason to refuse it.

        Credentials are the session's own (simulator/clients.py). With a password required,
        Password(554) must match it, and Username(553) must name the expected user: the one the
        session's SimUsernameEnv variable names, or else the client's CompID (a Logon without
        Username(553) is then accepted on the password alone). A session whose password is unset
        while other sessions have one is refused whatever it sends."""
        expected = self.clients.expected_logon(key)
        if expected.refusal is not None and self.clients.session(key) is not None:
            log.warning("%s: logon refused: %s", key, expected.refusal)
            return "logon rejected: invalid username or password"
        expected_password = expected.password
        expected_user = expected.username
        if expected_password is None and expected_user is None:
            return None
        given_user = field(logon, 553)
        wanted_user = expected_user or self._counterparty.get(key, "")
        user_ok = (given_user is None and expected_user is None) or hmac.compare_digest(
            (given_user or "").encode(), wanted_user.encode()
        )
        password_ok = expected_password is None or hmac.compare_digest(
            (field(logon, 554) or "").encode(), expected_password.encode()
        )
        if user_ok and password_ok:
            return None
        log.warning("%s: logon refused: wrong or missing Username(553)/Password(554)", key)
        return "logon rejected: invalid username or password"

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        # Runs under the session's lock: no venue lock here (quickfix issue 266).
        try:
            if self._flags.poss_dup:
                header = message.getHeader()
                header.setField(43, "Y")
                header.setField(122, header.getField(52))
        except Exception:
            log.exception("toApp failed")

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        key = session_id.toString()
        msg_type = header_field(message, 35) or ""
        handler = self._handlers.get(msg_type)
        if handler is None:
            raise fix.UnsupportedMessageType()
        try:
            handler(self, message, key)
        except Exception as exc:
            log.exception("%s: failed to handle MsgType %s", key, msg_type)
            self._send_business_reject(key, message, msg_type, "0", f"simulator error: {exc}")
        finally:
            try:
                self._count_for_disconnect(key)
            except Exception:
                log.exception("%s: disconnect_after_n bookkeeping failed", key)

    # -- handlers --------------------------------------------------------------------------

    def _account(self, message: fix.Message, key: str) -> str:
        return field(message, 1) or self.clients.default_account(key, self._counterparty.get(key, ""))

    def _delay_ack(self) -> None:
        delay_ms = self.faults.get("ack_delay_ms")
        if delay_ms > 0:
            time.sleep(delay_ms / 1000)

    def _on_new_order(self, message: fix.Message, key: str) -> None:
        request = NewOrderRequest(
            session_key=key,
            account=self._account(message, key),
            cl_ord_id=field(message, 11) or "",
            symbol=field(message, 55) or "",
            side=field(message, 54) or "",
            ord_type=field(message, 40) or "",
            order_qty=_decimal(field(message, 38)),
            price=_decimal(field(message, 44)),
            time_in_force=field(message, 59) or "0",
        )
        self._delay_ack()
        with self.lock:
            every = self.faults.should_reject_order()
            if every:
                result = self.venue.reject_new_order(
                    request, f"simulated reject (fault reject_every_nth={every})"
                )
            else:
                result = self.venue.new_order(request)
            self.process(result)

    def _on_cancel(self, message: fix.Message, key: str) -> None:
        request = CancelRequest(
            session_key=key,
            account=self._account(message, key),
            cl_ord_id=field(message, 11) or "",
            orig_cl_ord_id=field(message, 41) or "",
            order_id=field(message, 37),
            symbol=field(message, 55) or "",
            side=field(message, 54) or "",
        )
        self._delay_ack()
        with self.lock:
            self.process(self.venue.cancel(request))

    def _on_replace(self, message: fix.Message, key: str) -> None:
        request = ReplaceRequest(
            session_key=key,
            account=self._account(message, key),
            cl_ord_id=field(message, 11) or "",
            orig_cl_ord_id=field(message, 41) or "",
            order_qty=_decimal(field(message, 38)),
            price=_decimal(field(message, 44)),
            ord_type=field(message, 40) or "2",
            order_id=field(message, 37),
            symbol=field(message, 55) or "",
            side=field(message, 54) or "",
            time_in_force=field(message, 59),
        )
        self._delay_ack()
        with self.lock:
            self.process(self.venue.replace(request))

    def _on_status(self, message: fix.Message, key: str) -> None:
        request = StatusRequest(
            session_key=key,
            account=self._account(message, key),
            cl_ord_id=field(message, 11) or "",
            order_id=field(message, 37),
            symbol=field(message, 55) or "",
            side=field(message, 54) or "",
        )
        with self.lock:
            self.process(self.venue.status(request))

    def _on_mass_status(self, message: fix.Message, key: str) -> None:
        req_id = field(message, 584) or ""
        req_type = field(message, 585) or ""
        symbol = field(message, 55)
        if req_type not in ("1", "7"):
            text = f"MassStatusReqType(585) {req_type} not supported: 1 (by symbol) or 7 (all orders)"
            self._send_business_reject(key, message, "AF", "0", text, ref_id=req_id)
            return
        if req_type == "1" and not symbol:
            self._send_business_reject(
                key, message, "AF", "5", "Symbol(55) required for type 1", ref_id=req_id
            )
            return
        request = MassStatusRequest(
            session_key=key,
            account=self._account(message, key),
            mass_status_req_id=req_id,
            mass_status_req_type=req_type,
            symbol=symbol,
            side=field(message, 54),
        )
        with self.lock:
            result = self.venue.mass_status(request)
            self.process(result)
        if not result.messages and result.refusals:
            self._send_business_reject(key, message, "AF", "6", result_text(result), ref_id=req_id)

    def _on_mass_cancel(self, message: fix.Message, key: str) -> None:
        request = MassCancelRequest(
            session_key=key,
            account=self._account(message, key),
            cl_ord_id=field(message, 11) or "",
            mass_cancel_request_type=field(message, 530) or "",
            symbol=field(message, 55),
            side=field(message, 54),
        )
        self._delay_ack()
        with self.lock:
            self.process(self.venue.mass_cancel(request))

    def _on_positions(self, message: fix.Message, key: str) -> None:
        request = PositionRequest(
            session_key=key,
            account=self._account(message, key),
            pos_req_id=field(message, 710) or "",
            pos_req_type=field(message, 724) or "0",
        )
        with self.lock:
            self.process(self.venue.positions_request(request))

    def _on_market_data_request(self, message: fix.Message, key: str) -> None:
        md_req_id = field(message, 262) or ""
        sub_type = field(message, 263) or ""
        depth_text = field(message, 264) or "0"
        symbols: list[str] = []
        count = int(field(message, 146) or "0")
        group = fix.Group(146, 55)
        for index in range(1, count + 1):
            message.getGroup(index, group)
            symbol = field(group, 55)
            if symbol:
                symbols.append(symbol)
        if sub_type == "2":
            if not self.subscriptions.unsubscribe(key, md_req_id):
                self._send(
                    key, out.market_data_reject(md_req_id, "0", f"no subscription with MDReqID {md_req_id}")
                )
            return
        if sub_type not in ("0", "1"):
            text = f"SubscriptionRequestType(263) {sub_type} not supported"
            self._send(key, out.market_data_reject(md_req_id, "4", text))
            return
        try:
            depth = int(depth_text)
        except ValueError:
            depth = -1
        if depth < 0:
            self._send(
                key, out.market_data_reject(md_req_id, "5", f"MarketDepth(264) {depth_text} not supported")
            )
            return
        unknown = [s for s in symbols if s not in self.instruments]
        if unknown or not symbols:
            text = f"unknown symbol {unknown[0]}" if unknown else "no symbol requested (NoRelatedSym)"
            self._send(key, out.market_data_reject(md_req_id, "0", text))
            return
        with self.lock:
            if sub_type == "1":
                subscription = Subscription(
                    session_key=key,
                    md_req_id=md_req_id,
                    symbols=frozenset(symbols),
                    entry_types=frozenset(),
                    depth=depth,
                )
                cap = self.clients.max_md_subscriptions(key)
                outcome = self.subscriptions.subscribe(subscription, max_per_session=cap)
                if outcome is Subscribed.DUPLICATE:
                    self._send(key, out.market_data_reject(md_req_id, "1", f"duplicate MDReqID {md_req_id}"))
                    return
                if outcome is Subscribed.LIMIT:
                    # Each subscription is one more copy of the feed for this one peer to read
                    # and for the venue to build: a cap keeps one client from slowing all others.
                    log.warning(
                        "%s: MarketDataRequest(35=V) %s refused: %d subscriptions open", key, md_req_id, cap
                    )
                    text = f"subscription limit reached: at most {cap} per session (unsubscribe one first)"
                    self._send(key, out.market_data_reject(md_req_id, "2", text))
                    return
            for symbol in symbols:
                snapshot = self.venue.snapshot(symbol, depth)
                self._send(key, out.market_data_snapshot(snapshot, md_req_id, self.instruments[symbol]))

    _handlers: ClassVar[dict[str, Callable[[SimulatorApplication, fix.Message, str], None]]] = {
        "D": _on_new_order,
        "F": _on_cancel,
        "G": _on_replace,
        "H": _on_status,
        "AF": _on_mass_status,
        "q": _on_mass_cancel,
        "AN": _on_positions,
        "V": _on_market_data_request,
    }

    # -- the pipeline ----------------------------------------------------------------------

    def process(self, result: VenueResult) -> None:
        """Persist, then send, then publish; then apply the fill faults. Caller holds the lock."""
        for refusal in result.refusals:
            log.warning("%s", refusal)
        self.store.save(result)
        for outbound in result.messages:
            self._send_outbound(outbound)
        if result.market_data and not self.faults.get("freeze_market_data"):
            deliveries = self.subscriptions.fan_out(result.market_data)
            if deliveries and self.send_queues is not None and self.send_queues.backed_up():
                self._hold_back_market_data()
            else:
                for delivery in deliveries:
                    message = out.market_data_incremental(
                        delivery.entries, delivery.md_req_id, self.instruments
                    )
                    self._send(delivery.session_key, message)
        for exec_id in result.new_client_fills:
            if self.faults.consume("bust_next_fill"):
                self.process(self.venue.bust(exec_id, text="trade busted (fault bust_next_fill)"))
            elif self.faults.consume("correct_next_fill"):
                fill = self.venue.fill(exec_id)
                if fill is None:
                    continue
                instrument = self.instruments[fill.symbol]
                new_px = fill.last_px + instrument.tick_size
                self.process(
                    self.venue.correct(
                        exec_id, last_px=new_px, text="trade corrected (fault correct_next_fill)"
                    )
                )

    def _hold_back_market_data(self) -> None:
        """A FIX connection is not reading: publishing to it could block the whole process.
        RptSeq(83) keeps counting, so subscribers see the gap and ask for a snapshot."""
        self.market_data_held_back += 1
        assert self.send_queues is not None
        dropped = self.send_queues.drop_if_stalled_for(self.stalled_peer_timeout_s)
        if dropped:
            log.warning(
                "shut down %d FIX connection(s) not reading for %.1f s; market data resumes",
                dropped,
                self.stalled_peer_timeout_s,
            )
        now = time.monotonic()
        if now - self._held_back_logged_at >= 10:
            self._held_back_logged_at = now
            log.warning(
                "a FIX peer is not reading (send queue full): market data held back (%d batches so far)",
                self.market_data_held_back,
            )

    def market_step(self) -> None:
        """One tick of the market timer: the trading day may end, background agents act, faults
        that act on a timer fire."""
        with self.lock:
            today = self.venue.trading_date()
            if today != self._trading_date:
                # Midnight UTC: Day orders of the day before expire (ExecType=C).
                self.process(self.venue.expire_day_orders(before_date=today))
                self._trading_date = today
            self.process(self.agents.step(self.venue))
            if self.faults.get("unsolicited_cancel") and self.venue.working_client_orders():
                self.faults.consume("unsolicited_cancel")
                self.process(
                    self.venue.cancel_unsolicited(text="canceled by the venue (fault unsolicited_cancel)")
                )

    def bust(self, exec_id: str) -> None:
        with self.lock:
            self.process(self.venue.bust(exec_id))

    def correct(self, exec_id: str, last_px: Decimal | None, last_qty: int | None) -> None:
        with self.lock:
            self.process(self.venue.correct(exec_id, last_px=last_px, last_qty=last_qty))

    def _send_outbound(self, outbound: OutboundMessage) -> None:
        if isinstance(outbound, ExecutionReportOut):
            unknown_tag = self.faults.get("unknown_tag")
            self._send(outbound.session_key, out.execution_report(outbound, unknown_tag))
            if self.faults.get("duplicate_exec_reports"):
                self._send(outbound.session_key, out.execution_report(outbound, unknown_tag), poss_dup=True)
        elif isinstance(outbound, CancelRejectOut):
            self._send(outbound.session_key, out.cancel_reject(outbound))
        elif isinstance(outbound, MassCancelReportOut):
            self._send(outbound.session_key, out.mass_cancel_report(outbound))
        elif isinstance(outbound, PositionAckOut):
            self._send(outbound.session_key, out.position_ack(outbound))
        elif isinstance(outbound, PositionReportOut):
            self._send(outbound.session_key, out.position_report(outbound))

    def _send(self, session_key: str, message: fix.Message, *, poss_dup: bool = False) -> bool:
        session_id = self._session_ids.get(session_key)
        if session_id is None:
            log.warning("no session %s configured: message dropped", session_key)
            return False
        dropped = self.send_queues.guard() if self.send_queues is not None else 0
        if dropped:
            log.warning(
                "shut down %d FIX connection(s) whose peer stopped reading (send queue full)", dropped
            )
        if self.faults.consume("sequence_gap"):
            session = fix.Session.lookupSession(session_id)
            if session is not None:
                skipped = session.getExpectedSenderNum()
                session.setNextSenderMsgSeqNum(skipped + 1)
                log.info("%s: fault sequence_gap skipped outgoing MsgSeqNum %d", session_key, skipped)
        self._flags.poss_dup = poss_dup
        try:
            sent = bool(fix.Session.sendToTarget(message, session_id))
        except fix.SessionNotFound:
            log.warning("session %s not found: message dropped", session_key)
            return False
        finally:
            self._flags.poss_dup = False
        self.messages_sent += 1
        return sent

    def _send_business_reject(
        self,
        key: str,
        message: fix.Message,
        msg_type: str,
        reason: str,
        text: str,
        ref_id: str | None = None,
    ) -> None:
        try:
            reject = out.business_reject(header_field(message, 34), msg_type, reason, text, ref_id)
            self._send(key, reject)
        except Exception:
            log.exception("%s: could not send BusinessMessageReject", key)

    # -- faults on the FIX layer -----------------------------------------------------------

    def _fault_changed(self, name: str, _value: int) -> None:
        if name == "disconnect_after_n":
            self._received.clear()

    def _count_for_disconnect(self, key: str) -> None:
        limit = self.faults.get("disconnect_after_n")
        if limit <= 0:
            return
        count = self._received.get(key, 0) + 1
        self._received[key] = count
        if count < limit:
            return
        self.faults.set("disconnect_after_n", 0)
        session_id = self._session_ids.get(key)
        if session_id is None:
            return
        log.info("%s: fault disconnect_after_n=%d: dropping the connection", key, limit)
        # Not from inside this session's own callback: disconnect from another thread.
        threading.Thread(target=_disconnect, args=(session_id,), name="fault-disconnect", daemon=True).start()

    def drop_if_not_logged_on(self, key: str) -> None:
        """Close the connection of a session whose peer has not logged on (see MaskingLog)."""
        session_id = self._session_ids.get(key)
        if session_id is None or key in self._logged_on:
            return
        log.warning("%s: peer sent a message QuickFIX rejected before logon: dropping it", key)
        threading.Thread(
            target=_disconnect, args=(session_id,), name="drop-unauthenticated", daemon=True
        ).start()

    # -- lifecycle helpers -----------------------------------------------------------------

    def logged_on(self) -> list[str]:
        return sorted(self._logged_on)

    def logout_all(self, reason: str, timeout_s: float = 2.0) -> None:
        for key in list(self._logged_on):
            session_id = self._session_ids.get(key)
            session = fix.Session.lookupSession(session_id) if session_id is not None else None
            if session is not None:
                session.logout(reason)
        deadline = time.monotonic() + timeout_s
        while self._logged_on and time.monotonic() < deadline:
            time.sleep(0.02)

    def session_id(self, key: str) -> fix.SessionID | None:
        return self._session_ids.get(key)


def result_text(result: VenueResult) -> str:
    """The Text(58) of a refusal: what follows the session key in the venue's log line."""
    return result.refusals[0].split(" refused: ", 1)[-1] if result.refusals else ""


def _disconnect(session_id: fix.SessionID) -> None:
    try:
        session = fix.Session.lookupSession(session_id)
        if session is not None:
            session.disconnect()
    except Exception:
        log.exception("fault disconnect failed")


__all__ = ["MaskingLogFactory", "MessageLogWriter", "SimulatorApplication", "VenueError", "mask_secrets"]
