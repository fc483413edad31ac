"""Reconnect backoff: the delay sequence, the cap, jitter bounds, reset only after a stable logon;
the driver's decisions against a recording session switch and a fake clock; the log tap."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import ReconnectSection
from gateway.fix.reconnect import (
    BACKOFF_LOGOUT_REASON,
    Phase,
    ReconnectDriver,
    SessionBackoff,
    SessionEventTap,
    backoff_delay_s,
    copy_session_id,
    session_id_from_key,
)

ORDERS = "FIX.4.4:FIXGW->FIXSIM"
MARKET_DATA = "FIX.4.4:FIXGW-MD->FIXSIM"
BROKER = ReconnectSection(
    initial_delay_s=1.0, max_delay_s=60.0, multiplier=2.0, jitter=0.2, stable_after_s=30.0
)
NO_JITTER = ReconnectSection(
    initial_delay_s=1.0, max_delay_s=8.0, multiplier=2.0, jitter=0.0, stable_after_s=30.0
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingSwitch:
    calls: list[tuple[str, str]] = field(default_factory=list)
    known: bool = True
    schedule_open: bool | None = True

    def enable(self, key: str) -> bool:
        self.calls.append(("enable", key))
        return self.known

    def disable(self, key: str, reason: str) -> bool:
        self.calls.append(("disable", key))
        assert reason == BACKOFF_LOGOUT_REASON
        return self.known

    def in_schedule(self, key: str) -> bool | None:
        return self.schedule_open


def fail(backoff: SessionBackoff, times: int) -> list[float]:
    return [backoff.on_connection_ended().delay_s for _ in range(times)]


# --- the policy ----------------------------------------------------------------------------------


def test_delays_double_from_the_initial_delay_up_to_the_cap():
    assert [backoff_delay_s(BROKER, n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_session_down_for_days_stays_at_the_cap_without_overflow():
    slow_growth = ReconnectSection(initial_delay_s=0.1, max_delay_s=86_400.0, multiplier=1.001)

    assert backoff_delay_s(BROKER, 1_000_000) == 60.0
    assert backoff_delay_s(slow_growth, 10_000_000) == 86_400.0


def test_multiplier_one_is_a_fixed_interval():
    fixed = ReconnectSection(initial_delay_s=5.0, max_delay_s=60.0, multiplier=1.0)

    assert {backoff_delay_s(fixed, n) for n in range(1, 50)} == {5.0}


def test_reconnect_counts_from_one():
    with pytest.raises(ValueError, match="from 1"):
        backoff_delay_s(BROKER, 0)


@given(
    reconnect=st.integers(min_value=1, max_value=10_000),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    jitter=st.floats(min_value=0.0, max_value=0.9),
)
def test_jitter_only_shortens_a_delay_and_never_below_its_fraction(reconnect, draw, jitter):
    policy = ReconnectSection(initial_delay_s=1.0, max_delay_s=60.0, multiplier=2.0, jitter=jitter)
    backoff = SessionBackoff(policy, clock=lambda: 0.0, draw=lambda: draw)
    backoff.reconnects = reconnect - 1

    decision = backoff.on_connection_ended()

    base = backoff_delay_s(policy, reconnect)
    assert decision.base_delay_s == base
    assert base * (1 - jitter) - 1e-9 <= decision.delay_s <= base <= policy.max_delay_s
    assert decision.due_at == decision.delay_s


def test_jitter_draws_spread_the_delays():
    draws = iter([0.0, 0.5, 0.999])
    backoff = SessionBackoff(BROKER, clock=lambda: 0.0, draw=lambda: next(draws))

    delays = []
    for _ in range(3):
        backoff.reconnects = 3  # the next end is the 4th: base 8 s
        delays.append(backoff.on_connection_ended().delay_s)

    assert delays == pytest.approx([8.0, 8.0 * 0.9, 8.0 * (1 - 0.2 * 0.999)])


def test_failed_connections_grow_the_delay_and_number_the_attempts():
    backoff = SessionBackoff(NO_JITTER, clock=FakeClock(), draw=lambda: 0.0)

    decisions = [backoff.on_connection_ended() for _ in range(6)]

    assert [d.delay_s for d in decisions] == [1, 2, 4, 8, 8, 8]
    assert [d.reconnect for d in decisions] == [1, 2, 3, 4, 5, 6]
    assert not any(d.reset for d in decisions)
    assert all(d.logged_on_for_s is None for d in decisions)


def test_a_logon_followed_by_a_quick_disconnect_does_not_reset_the_backoff():
    # a broker refusing a logon: accepts the connection, answers, then logs out at once
    clock = FakeClock()
    backoff = SessionBackoff(NO_JITTER, clock=clock, draw=lambda: 0.0)
    fail(backoff, 3)

    backoff.on_logon()
    clock.advance(29.9)
    decision = backoff.on_connection_ended()

    assert not decision.reset
    assert decision.logged_on_for_s == pytest.approx(29.9)
    assert decision.delay_s == 8.0  # the 4th failure in a row
    assert decision.reconnect == 4


def test_a_logon_that_lasted_resets_the_backoff_to_the_initial_delay():
    clock = FakeClock()
    backoff = SessionBackoff(NO_JITTER, clock=clock, draw=lambda: 0.0)
    fail(backoff, 5)

    backoff.on_logon()
    clock.advance(30.0)
    decision = backoff.on_connection_ended()
    after = fail(backoff, 2)

    assert decision.reset
    assert decision.delay_s == 1.0
    assert decision.reconnect == 1
    assert decision.due_at == clock.now + 1.0
    assert after == [2.0, 4.0]


def test_a_logon_counts_once_only():
    clock = FakeClock()
    backoff = SessionBackoff(NO_JITTER, clock=clock, draw=lambda: 0.0)
    backoff.on_logon()
    clock.advance(100)
    backoff.on_connection_ended()

    # the next connection never logs on: the old logon must not count again
    decision = backoff.on_connection_ended()

    assert not decision.reset
    assert decision.delay_s == 2.0


# --- the driver ----------------------------------------------------------------------------------


def make_driver(policy: ReconnectSection = NO_JITTER) -> tuple[ReconnectDriver, RecordingSwitch, FakeClock]:
    switch, clock = RecordingSwitch(), FakeClock()
    driver = ReconnectDriver(policy, [ORDERS, MARKET_DATA], switch=switch, clock=clock, draw=lambda: 0.0)
    return driver, switch, clock


def test_a_refused_connection_disables_the_session_until_its_delay_has_passed():
    driver, switch, clock = make_driver()

    driver.on_connecting(ORDERS)
    driver.on_connection_ended(ORDERS)

    assert switch.calls == [("disable", ORDERS)]
    state = driver.state(ORDERS)
    assert state is not None and state.phase is Phase.WAITING and state.due_in_s == 1.0
    assert driver.describe(ORDERS) == "retry #1 in 1.0s"
    assert driver.describe(MARKET_DATA) == "connecting"

    clock.advance(0.99)
    assert driver.enable_due() == []
    clock.advance(0.01)
    assert driver.enable_due() == [ORDERS]
    assert switch.calls[-1] == ("enable", ORDERS)
    assert driver.describe(ORDERS) == "connecting #1"
    assert driver.enable_due() == []  # once only


def test_onlogout_after_the_disconnecting_event_is_the_same_end():
    driver, switch, _clock = make_driver()
    driver.on_connecting(ORDERS)

    driver.on_connection_ended(ORDERS)  # the engine's "Disconnecting"
    driver.on_connection_ended(ORDERS)  # the application's onLogout for the same connection

    state = driver.state(ORDERS)
    assert state is not None and state.reconnect == 1
    assert switch.calls == [("disable", ORDERS)]


def test_each_session_has_its_own_backoff():
    driver, _switch, clock = make_driver()
    for _ in range(3):
        driver.on_connecting(ORDERS)
        driver.on_connection_ended(ORDERS)
        clock.advance(10)
        driver.enable_due()
    driver.on_connecting(MARKET_DATA)
    driver.on_connection_ended(MARKET_DATA)

    orders, market_data = driver.state(ORDERS), driver.state(MARKET_DATA)
    assert orders is not None and orders.reconnect == 3 and orders.last_delay_s == 4.0
    assert market_data is not None and market_data.reconnect == 1 and market_data.last_delay_s == 1.0


def test_logon_shows_up_and_a_stable_one_resets_after_the_disconnect():
    driver, _switch, clock = make_driver()
    for _ in range(3):
        driver.on_connecting(ORDERS)
        driver.on_connection_ended(ORDERS)
        clock.advance(10)
        driver.enable_due()
    driver.on_connecting(ORDERS)
    driver.on_logon(ORDERS)
    assert driver.describe(ORDERS) == "up"

    clock.advance(31)
    driver.on_connection_ended(ORDERS)

    state = driver.state(ORDERS)
    assert state is not None and state.reconnect == 1 and state.due_in_s == 1.0


def test_after_stop_nothing_enables_a_session_and_a_disconnect_still_holds_it_back():
    driver, switch, clock = make_driver()
    driver.on_connecting(ORDERS)
    driver.on_connection_ended(ORDERS)
    driver.on_connecting(MARKET_DATA)
    driver.on_logon(MARKET_DATA)

    driver.stop()
    clock.advance(100)
    enabled = driver.enable_due()
    driver.on_connection_ended(MARKET_DATA)  # the logout the initiator's stop() sends

    assert enabled == []
    assert ("enable", ORDERS) not in switch.calls
    assert switch.calls[-1] == ("disable", MARKET_DATA)
    assert driver.describe(MARKET_DATA) == "stopped"


def test_an_enabled_session_outside_its_schedule_says_so():
    driver, switch, clock = make_driver()
    driver.on_connecting(ORDERS)
    driver.on_connection_ended(ORDERS)
    clock.advance(1)
    driver.enable_due()

    switch.schedule_open = False
    outside = driver.describe(ORDERS)
    switch.schedule_open = None
    unknown = driver.describe(ORDERS)

    assert (outside, unknown) == ("outside schedule", "connecting #1")


def test_unknown_sessions_and_a_vanished_session_are_harmless():
    driver, switch, clock = make_driver()
    switch.known = False

    driver.on_connecting("FIX.4.4:OTHER->FIXSIM")
    driver.on_connection_ended("FIX.4.4:OTHER->FIXSIM")
    driver.on_connecting(ORDERS)
    driver.on_connection_ended(ORDERS)
    clock.advance(5)

    assert driver.enable_due() == [ORDERS]
    assert driver.state("FIX.4.4:OTHER->FIXSIM") is None


def test_a_failing_switch_never_raises_into_the_engine():
    class BrokenSwitch:
        def enable(self, key: str) -> bool:
            raise RuntimeError("boom")

        def disable(self, key: str, reason: str) -> bool:
            raise RuntimeError("boom")

        def in_schedule(self, key: str) -> bool | None:
            raise RuntimeError("boom")

    clock = FakeClock()
    driver = ReconnectDriver(NO_JITTER, [ORDERS], switch=BrokenSwitch(), clock=clock, draw=lambda: 0.0)

    driver.on_connecting(ORDERS)
    driver.on_connection_ended(ORDERS)  # logged, not raised
    clock.advance(60)
    driver.enable_due()

    assert driver.describe(ORDERS) == "connecting #1"


def test_the_timer_thread_enables_a_due_session_and_stops():
    switch = RecordingSwitch()
    quick = ReconnectSection(initial_delay_s=0.05, max_delay_s=0.05, jitter=0.0)
    driver = ReconnectDriver(quick, [ORDERS], switch=switch)
    driver.start()
    try:
        driver.on_connecting(ORDERS)
        driver.on_connection_ended(ORDERS)
        deadline = time.monotonic() + 5
        while ("enable", ORDERS) not in switch.calls and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        driver.stop()

    assert switch.calls == [("disable", ORDERS), ("enable", ORDERS)]
    assert not any(t.name == "fixgw-reconnect" for t in threading.enumerate())


# --- the log tap and SessionIDs ------------------------------------------------------------------


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def onIncoming(self, text: str) -> None:
        self.lines.append("IN " + text)

    def onOutgoing(self, text: str) -> None:
        self.lines.append("OUT " + text)

    def onEvent(self, text: str) -> None:
        self.lines.append("EVENT " + text)

    def clear(self) -> None:
        self.lines.append("clear")

    def backup(self) -> None:
        self.lines.append("backup")


class RecordingLogFactory:
    def __init__(self) -> None:
        self.logs: list[RecordingLog] = []

    def create(self, *args: object) -> RecordingLog:
        log = RecordingLog()
        self.logs.append(log)
        return log


@dataclass
class RecordingListener:
    events: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False

    def on_connecting(self, key: str) -> None:
        if self.fail:
            raise RuntimeError("listener failed")
        self.events.append(("connecting", key))

    def on_connection_ended(self, key: str) -> None:
        self.events.append(("ended", key))


def test_the_tap_forwards_every_line_and_reports_connection_events():
    inner, listener = RecordingLogFactory(), RecordingListener()
    tap = SessionEventTap(inner, listener)

    log = tap.create(session_id_from_key(ORDERS))
    log.onEvent("Connecting to 127.0.0.1 on port 9878 (Source :0) ReconnectInterval=1")
    log.onOutgoing("8=FIX.4.4|35=A|")
    log.onEvent("Initiated logon request")
    log.onIncoming("8=FIX.4.4|35=5|")
    log.onEvent("Disconnecting")
    log.clear()
    log.backup()

    assert listener.events == [("connecting", ORDERS), ("ended", ORDERS)]
    assert inner.logs[0].lines == [
        "EVENT Connecting to 127.0.0.1 on port 9878 (Source :0) ReconnectInterval=1",
        "OUT 8=FIX.4.4|35=A|",
        "EVENT Initiated logon request",
        "IN 8=FIX.4.4|35=5|",
        "EVENT Disconnecting",
        "clear",
        "backup",
    ]


def test_the_engine_log_is_not_tapped_and_a_failing_listener_is_contained():
    inner, listener = RecordingLogFactory(), RecordingListener(fail=True)
    tap = SessionEventTap(inner, listener)

    engine_log = tap.create()
    session_log = tap.create(session_id_from_key(ORDERS))
    session_log.onEvent("Connecting to 127.0.0.1 on port 1")

    assert engine_log is inner.logs[0]
    assert inner.logs[1].lines == ["EVENT Connecting to 127.0.0.1 on port 1"]


def test_session_ids_are_rebuilt_from_their_text_with_the_qualifier():
    original = session_id_from_key("FIX.4.4:FIXGW->FIXSIM:backup")

    copy = copy_session_id(original)

    assert copy is not original
    assert copy.toString() == "FIX.4.4:FIXGW->FIXSIM:backup"
    assert copy.getSenderCompID().getValue() == "FIXGW"
    assert copy.getSessionQualifier() == "backup"
    assert copy.toString() == original.toString()
