"""Reconnect with backoff for the gateway's QuickFIX initiator sessions.

QuickFIX alone retries a lost session every ReconnectInterval seconds, forever: a venue that is
down gets a connection (and a Logon, which consumes a MsgSeqNum) every second. This module keeps
QuickFIX doing the session layer and only decides *when* a session may connect again:

- QuickFIX's Initiator connects only sessions that are enabled and inside their schedule
  (`Initiator::connect`: `isEnabled() && isSessionTime(now)`), polling every ReconnectInterval.
  `Session::logout(reason)` disables a session, `Session::logon()` enables it again.
- When a connection ends (the engine's "Disconnecting" event, which QuickFIX emits inside
  `Session::disconnect` on its own thread, before it polls again), the session is disabled at
  once, on that thread, and its next attempt is scheduled after a backoff delay.
- A timer thread enables the session again when the delay has passed; QuickFIX connects it at its
  next poll, if the schedule (StartTime/EndTime) allows: the schedule stays QuickFIX's.

A session is disabled only while it has no connection: disabling a connected session would make
QuickFIX skip the Logon (`Session::next`) or drop the venue's Logon answer (`Session::nextLogon`,
"Session is not enabled for logon").

Pure parts (unit-tested with an injected clock and random source): `backoff_delay_s`,
`SessionBackoff`. Adapters: `QuickFixSessionSwitch` (enable/disable through QuickFIX),
`SessionEventTap` (a log factory that passes the engine's connection events on), and
`ReconnectDriver` (per-session state, the timer thread, the decision log in gateway.log).
"""

from __future__ import annotations

import enum
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import quickfix as fix

from gateway.config import ReconnectSection

log = logging.getLogger("fixgw.reconnect")

# Texts of QuickFIX 1.16 session events (Log::onEvent): SocketInitiator::doConnect and
# Session::disconnect. The disconnect event is emitted whenever a socket was attached, so it
# covers refused connections (which never reach onLogout) as well as ended sessions.
CONNECTING_EVENT_PREFIX = "Connecting to "
DISCONNECTING_EVENT = "Disconnecting"
BACKOFF_LOGOUT_REASON = "reconnect backoff"


def session_id_from_key(key: str) -> Any:
    """A fresh `quickfix.SessionID` for "FIX.4.4:SENDER->TARGET[:QUALIFIER]". The SessionID a
    callback receives belongs to the engine and has no copy constructor: keep the string, and
    build a new object from it when one is needed."""
    session_id = fix.SessionID()
    session_id.fromString(key)
    return session_id


def copy_session_id(session_id: Any) -> Any:
    """A SessionID of our own with the same value as one handed to a callback."""
    return session_id_from_key(session_id.toString())


def backoff_delay_s(policy: ReconnectSection, reconnect: int) -> float:
    """The delay before reconnect number `reconnect` (1, 2, ...) since the last stable logon,
    before jitter: initial_delay_s * multiplier**(reconnect - 1), capped at max_delay_s."""
    if reconnect < 1:
        raise ValueError(f"reconnect counts from 1, got {reconnect}")
    # compared in log space first, so a session down for days cannot overflow a float
    if (reconnect - 1) * math.log(policy.multiplier) >= math.log(policy.max_delay_s / policy.initial_delay_s):
        return policy.max_delay_s
    return min(policy.max_delay_s, policy.initial_delay_s * policy.multiplier ** (reconnect - 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectDecision:
    reconnect: int  # the attempt this schedules, counted from the last stable logon
    delay_s: float  # after jitter: what the session waits
    base_delay_s: float  # before jitter
    due_at: float  # on the backoff's clock
    logged_on_for_s: float | None  # None: the connection never logged on
    reset: bool  # the logon had lasted stable_after_s: the delays start again from the initial one


class SessionBackoff:
    """One session's backoff. Pure: `clock` gives seconds (monotonic), `draw` a number in
    [0, 1). The n-th connection end since the last stable logon waits
    `backoff_delay_s(n) * (1 - jitter * draw())`."""

    def __init__(
        self, policy: ReconnectSection, *, clock: Callable[[], float], draw: Callable[[], float]
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._draw = draw
        self.reconnects = 0  # connection ends since the last stable logon (0: first connect)
        self._logged_on_at: float | None = None

    @property
    def logged_on(self) -> bool:
        return self._logged_on_at is not None

    def on_logon(self) -> None:
        self._logged_on_at = self._clock()

    def on_connection_ended(self) -> ReconnectDecision:
        now = self._clock()
        lasted = None if self._logged_on_at is None else now - self._logged_on_at
        self._logged_on_at = None
        # a venue that refuses a logon often accepts it first and then logs out or drops the
        # connection: only a logon that lasted counts as success
        reset = lasted is not None and lasted >= self.policy.stable_after_s
        if reset:
            self.reconnects = 0
        self.reconnects += 1
        base = backoff_delay_s(self.policy, self.reconnects)
        draw = min(max(self._draw(), 0.0), 1.0)
        delay = base * (1.0 - self.policy.jitter * draw)
        return ReconnectDecision(
            reconnect=self.reconnects,
            delay_s=delay,
            base_delay_s=base,
            due_at=now + delay,
            logged_on_for_s=lasted,
            reset=reset,
        )


class SessionSwitch(Protocol):
    """Turns a session's connecting on and off; returns False when the session is unknown."""

    def enable(self, key: str) -> bool: ...

    def disable(self, key: str, reason: str) -> bool: ...

    def in_schedule(self, key: str) -> bool | None:
        """Whether the session's StartTime/EndTime allow a connection now (None: unknown)."""
        ...


class QuickFixSessionSwitch:
    """`Session::logon()` / `Session::logout(reason)` on the session registered under the key.
    Each call takes only that session's (recursive) mutex; it may run on QuickFIX's thread
    inside `Session::disconnect`, which holds the same mutex."""

    def enable(self, key: str) -> bool:
        session = fix.Session.lookupSession(session_id_from_key(key))
        if session is None:
            return False
        session.logon()
        return True

    def disable(self, key: str, reason: str) -> bool:
        session = fix.Session.lookupSession(session_id_from_key(key))
        if session is None:
            return False
        session.logout(reason)
        return True

    def in_schedule(self, key: str) -> bool | None:
        session = fix.Session.lookupSession(session_id_from_key(key))
        if session is None:
            return None
        return bool(session.isSessionTime(fix.UtcTimeStamp()))


class Phase(enum.Enum):
    CONNECTING = "connecting"  # enabled: QuickFIX connects at its next poll within the schedule
    LOGGED_ON = "up"
    DISABLING = "disabling"  # connection ended, the session is being disabled
    WAITING = "waiting"  # disabled until due_at
    ENABLING = "enabling"  # due: being enabled by the timer thread
    STOPPED = "stopped"


@dataclass(slots=True)
class _Tracked:
    backoff: SessionBackoff
    phase: Phase = Phase.CONNECTING
    connection_open: bool = False  # between "Connecting to" (or a logon) and its end
    due_at: float = 0.0
    last_delay_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectState:
    """What the status line shows for one session."""

    phase: Phase
    reconnect: int  # the attempt in flight or next, counted from the last stable logon
    due_in_s: float | None  # WAITING only
    last_delay_s: float | None


class ReconnectDriver:
    """Per-session backoff for a running initiator.

    Hooks (called on QuickFIX's threads, never raise): `on_connecting`, `on_logon`,
    `on_connection_ended` (idempotent per connection: the tap's "Disconnecting" and the
    application's onLogout both report the same end). `start()` runs the timer thread;
    `stop()` ends it before the initiator stops, so nothing enables a session after that.

    Lock order: the driver's lock is never held while calling into QuickFIX.
    """

    def __init__(
        self,
        policy: ReconnectSection,
        session_keys: Iterable[str],
        *,
        switch: SessionSwitch,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] | None = None,
    ) -> None:
        self.policy = policy
        self._switch = switch
        self._clock = clock
        # not seeded: gateways that lost the same venue must not retry in step
        draw = draw or random.Random().random
        self._sessions = {
            key: _Tracked(backoff=SessionBackoff(policy, clock=clock, draw=draw)) for key in session_keys
        }
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="fixgw-reconnect", daemon=True)
        self._thread.start()
        log.info(
            "reconnect backoff for %s: initial %gs, x%g, max %gs, jitter %g, stable after %gs",
            ", ".join(self._sessions),
            self.policy.initial_delay_s,
            self.policy.multiplier,
            self.policy.max_delay_s,
            self.policy.jitter,
            self.policy.stable_after_s,
        )

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    # --- hooks from QuickFIX's threads -----------------------------------------------------------

    def on_connecting(self, key: str) -> None:
        try:
            with self._condition:
                tracked = self._sessions.get(key)
                if tracked is None:
                    return
                tracked.connection_open = True
                if tracked.phase is not Phase.STOPPED:
                    tracked.phase = Phase.CONNECTING
                reconnect = tracked.backoff.reconnects
            if reconnect:
                log.info("%s: connecting, reconnect attempt #%d", key, reconnect)
            else:
                log.info("%s: connecting, first attempt", key)
        except Exception:
            log.exception("%s: reconnect bookkeeping failed at connect", key)

    def on_logon(self, key: str) -> None:
        try:
            with self._condition:
                tracked = self._sessions.get(key)
                if tracked is None:
                    return
                tracked.connection_open = True
                tracked.backoff.on_logon()
                if tracked.phase is not Phase.STOPPED:
                    tracked.phase = Phase.LOGGED_ON
                reconnect = tracked.backoff.reconnects
            log.info(
                "%s: logged on at %s; the backoff resets once the logon has lasted %gs",
                key,
                f"reconnect attempt #{reconnect}" if reconnect else "the first attempt",
                self.policy.stable_after_s,
            )
        except Exception:
            log.exception("%s: reconnect bookkeeping failed at logon", key)

    def on_connection_ended(self, key: str) -> None:
        try:
            self._connection_ended(key)
        except Exception:
            log.exception("%s: reconnect bookkeeping failed at disconnect", key)

    def _connection_ended(self, key: str) -> None:
        with self._condition:
            tracked = self._sessions.get(key)
            if tracked is None or not tracked.connection_open:
                return  # already handled (onLogout after "Disconnecting"), or not ours
            tracked.connection_open = False
            decision = tracked.backoff.on_connection_ended()
            stopping = self._stopping
            tracked.phase = Phase.STOPPED if stopping else Phase.DISABLING
        # QuickFIX polls again within ReconnectInterval: the session must be disabled before this
        # callback returns to the engine, or it would reconnect at the fixed interval
        disabled = self._switch.disable(key, BACKOFF_LOGOUT_REASON)
        if not disabled:
            log.warning("%s: no such QuickFIX session: cannot hold it back", key)
        if stopping:
            log.info("%s: disconnected while the gateway stops: no reconnect", key)
            return
        with self._condition:
            if tracked.phase is Phase.DISABLING:
                tracked.phase = Phase.WAITING
                tracked.due_at = decision.due_at
                tracked.last_delay_s = decision.delay_s
                self._condition.notify_all()
        lasted = (
            "never logged on"
            if decision.logged_on_for_s is None
            else f"logged on for {decision.logged_on_for_s:.1f}s"
        )
        log.info(
            "%s: disconnected (%s)%s: reconnect attempt #%d in %.2fs (backoff %.2fs, jitter up to %g)",
            key,
            lasted,
            "; stable logon, backoff reset" if decision.reset else "",
            decision.reconnect,
            decision.delay_s,
            decision.base_delay_s,
            self.policy.jitter,
        )

    # --- the timer -------------------------------------------------------------------------------

    def enable_due(self) -> list[str]:
        """Enable every session whose delay has passed; returns their keys."""
        with self._condition:
            if self._stopping:
                return []
            now = self._clock()
            due = [
                key
                for key, tracked in self._sessions.items()
                if tracked.phase is Phase.WAITING and tracked.due_at <= now
            ]
            for key in due:
                self._sessions[key].phase = Phase.ENABLING
        for key in due:
            try:
                enabled = self._switch.enable(key)
            except Exception:
                log.exception("%s: could not enable the session", key)
                enabled = False
            with self._condition:
                tracked = self._sessions[key]
                if tracked.phase is Phase.ENABLING:
                    tracked.phase = Phase.CONNECTING
                reconnect = tracked.backoff.reconnects
            if enabled:
                log.info(
                    "%s: reconnect attempt #%d due: session enabled, QuickFIX connects at its next "
                    "poll inside the session schedule",
                    key,
                    reconnect,
                )
            else:
                log.warning("%s: reconnect attempt #%d due, but the session is gone", key, reconnect)
        return due

    def seconds_until_next_due(self) -> float | None:
        with self._condition:
            return self._seconds_until_next_due_locked()

    def _seconds_until_next_due_locked(self) -> float | None:
        waiting = [t.due_at for t in self._sessions.values() if t.phase is Phase.WAITING]
        if not waiting:
            return None
        return max(0.0, min(waiting) - self._clock())

    def _run(self) -> None:
        while True:
            with self._condition:
                if self._stopping:
                    return
                wait_s = self._seconds_until_next_due_locked()
                if wait_s is None or wait_s > 0:
                    # woken early by a new decision or by stop(); the 1 s bound is a safety net
                    self._condition.wait(1.0 if wait_s is None else min(wait_s, 1.0))
                    continue
            try:
                self.enable_due()
            except Exception:
                log.exception("reconnect timer")

    # --- status ----------------------------------------------------------------------------------

    def state(self, key: str) -> ReconnectState | None:
        with self._condition:
            tracked = self._sessions.get(key)
            if tracked is None:
                return None
            due_in = max(0.0, tracked.due_at - self._clock()) if tracked.phase is Phase.WAITING else None
            reconnect = tracked.backoff.reconnects
            return ReconnectState(
                phase=tracked.phase, reconnect=reconnect, due_in_s=due_in, last_delay_s=tracked.last_delay_s
            )

    def describe(self, key: str) -> str:
        """For the status line: "up", "connecting #3", "retry #4 in 7.5s", "outside schedule",
        "stopped"."""
        state = self.state(key)
        if state is None:
            return "?"
        if state.phase is Phase.WAITING and state.due_in_s is not None:
            return f"retry #{state.reconnect} in {state.due_in_s:.1f}s"
        if state.phase in (Phase.CONNECTING, Phase.ENABLING, Phase.DISABLING):
            try:
                in_schedule = self._switch.in_schedule(key)
            except Exception:
                in_schedule = None
            if in_schedule is False:
                return "outside schedule"  # QuickFIX connects when StartTime comes
            return f"connecting #{state.reconnect}" if state.reconnect else "connecting"
        return state.phase.value


class ConnectionListener(Protocol):
    def on_connecting(self, key: str) -> None: ...

    def on_connection_ended(self, key: str) -> None: ...


class _TappedLog(fix.Log):
    """A session's log that forwards everything to the gateway's own log and also tells the
    listener when the engine starts or ends a connection."""

    def __init__(self, inner: Any, key: str, listener: ConnectionListener) -> None:
        super().__init__()
        self._inner = inner
        self._key = key
        self._listener = listener

    def clear(self) -> None:
        self._inner.clear()

    def backup(self) -> None:
        self._inner.backup()

    def onIncoming(self, text: str) -> None:
        self._inner.onIncoming(text)

    def onOutgoing(self, text: str) -> None:
        self._inner.onOutgoing(text)

    def onEvent(self, text: str) -> None:
        self._inner.onEvent(text)  # first, so the engine's line precedes the decision in the log
        try:
            if text.startswith(CONNECTING_EVENT_PREFIX):
                self._listener.on_connecting(self._key)
            elif text == DISCONNECTING_EVENT:
                self._listener.on_connection_ended(self._key)
        except Exception:  # an exception escaping into QuickFIX ends the process
            log.exception("%s: connection event %r", self._key, text)


class SessionEventTap(fix.LogFactory):
    """Wraps the gateway's log factory (which still writes every log line): each session's log
    also reports the engine's connection events to `listener`."""

    def __init__(self, inner: Any, listener: ConnectionListener) -> None:
        super().__init__()
        self._inner = inner
        self._listener = listener
        self._logs: list[_TappedLog] = []  # QuickFIX holds raw pointers: keep the objects alive

    def create(self, *args: Any) -> Any:
        inner_log = self._inner.create(*args)
        if not args:
            return inner_log  # the engine's own log: no session
        try:
            tapped = _TappedLog(inner_log, args[0].toString(), self._listener)
        except Exception:
            log.exception("session log tap")
            return inner_log
        self._logs.append(tapped)
        # QuickFIX takes ownership of the Log it is given (see gateway/fix/logs.py)
        tapped.__disown__()
        return tapped

    def destroy(self, log: Any) -> None:
        pass
