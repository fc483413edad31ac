"""Connections that never log on are closed; logged-on sessions are not (the real simulator
process over loopback, `--logon-timeout 1`).

Before SimLogonTimeoutS, a peer that connected and sent nothing, or dribbled a Logon that never
completed, kept its connection and a thread of QuickFIX's acceptor for as long as it liked.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fix_client import FixTestClient, new_order_single, unique_id
from tests.support.raw_fix import PeerClosed, RawFixSession, frame
from tests.support.sim_process import SimulatorProcess, start_simulator

LOGON_TIMEOUT_S = 1
# Generous: the timeout, plus up to two sweep intervals, plus a loaded machine.
CLOSE_WITHIN_S = 15.0


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    process = start_simulator(
        tmp_path_factory.mktemp("logon-timeout"), extra_args=["--logon-timeout", str(LOGON_TIMEOUT_S)]
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def trader(venue: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixTestClient]:
    """Logged on before the other tests open their connections, then left idle throughout."""
    client = FixTestClient.start_new(tmp_path_factory.mktemp("trader"), venue.port, sender="FIXGW")
    try:
        yield client
    finally:
        client.stop(force=True)


@pytest.fixture(scope="module")
def raw_ports() -> set[int]:
    """Local ports of the raw connections the tests below open so that the venue closes them."""
    return set()


def _closed_by_venue(connection: socket.socket, deadline: float) -> bool:
    """Reads until the venue ends the stream (b'' or a reset); False if it is still open at
    `deadline`. Nothing else may arrive: the venue answers nothing before a Logon."""
    while time.monotonic() < deadline:
        connection.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = connection.recv(4096)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        assert data == b"", f"the venue sent {data!r} before any Logon"
        return True
    return False


def _close_log_line(venue: SimulatorProcess, local_port: int) -> str | None:
    match = re.search(rf"closed FIX connection from 127\.0\.0\.1:{local_port}: .*", venue.output())
    return match.group(0) if match else None


def _sockets_and_threads(process: SimulatorProcess) -> tuple[int, int]:
    """How many sockets the simulator process holds open, and how many threads it runs."""
    descriptors = Path(f"/proc/{process.pid}/fd")
    sockets = 0
    for entry in descriptors.iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            sockets += os.readlink(entry).startswith("socket:")
    return sockets, len(list(Path(f"/proc/{process.pid}/task").iterdir()))


def test_a_connection_that_sends_nothing_is_closed_and_its_thread_ends(
    venue: SimulatorProcess, trader: FixTestClient, raw_ports: set[int]
) -> None:
    before = _sockets_and_threads(venue)
    with socket.create_connection(("127.0.0.1", venue.port)) as silent:
        local_port = silent.getsockname()[1]
        raw_ports.add(local_port)
        assert _closed_by_venue(silent, time.monotonic() + CLOSE_WITHIN_S)
    # Shut down by the sweep, then closed by QuickFIX itself: descriptor and thread are freed.
    deadline = time.monotonic() + 5
    while (now := _sockets_and_threads(venue))[0] > before[0] or now[1] > before[1]:
        assert time.monotonic() < deadline, f"sockets and threads: {before} before, {now} now"
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while (line := _close_log_line(venue, local_port)) is None:
        assert time.monotonic() < deadline, venue.output()[-2000:]
        time.sleep(0.05)
    assert "no logon within 1 s" in line and "0 bytes received" in line


def test_a_connection_dribbling_a_logon_is_closed(
    venue: SimulatorProcess, trader: FixTestClient, raw_ports: set[int]
) -> None:
    logon = frame([(35, "A"), (49, "FIXGW"), (56, "FIXSIM"), (34, "1"), (52, "20260101-00:00:00"), (98, "0")])
    deadline = time.monotonic() + CLOSE_WITHIN_S
    with socket.create_connection(("127.0.0.1", venue.port)) as dribbler:
        local_port = dribbler.getsockname()[1]
        raw_ports.add(local_port)
        sent = 0
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                dribbler.sendall(logon[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sent += 1
            assert sent < len(logon), "the whole Logon went out before the venue hung up"
            closed = _closed_by_venue(dribbler, time.monotonic() + 0.3)
    assert closed, f"still open after {CLOSE_WITHIN_S} s and {sent} bytes"
    deadline = time.monotonic() + 5
    while (line := _close_log_line(venue, local_port)) is None:
        assert time.monotonic() < deadline, venue.output()[-2000:]
        time.sleep(0.05)
    received = int(re.search(r"(\d+) bytes received", line).group(1))  # type: ignore[union-attr]
    assert 0 < received <= sent


def test_a_logged_on_session_idle_past_the_timeout_stays_connected_and_trades(
    venue: SimulatorProcess, trader: FixTestClient, raw_ports: set[int]
) -> None:
    # The trader logged on before the tests above ran (several seconds, many sweeps); make sure
    # it has been idle for at least three timeouts in any case.
    time.sleep(3 * LOGON_TIMEOUT_S)
    assert trader.logged_on and trader.logon_count == 1, "the logged-on session was disconnected"
    cl_ord_id = unique_id("idle")
    trader.send(new_order_single(cl_ord_id, "ACME", "1", 1, price="50.00"))
    trader.wait_for(lambda m: m.get(11) == cl_ord_id and m.get(150) == "0", timeout_s=10)
    assert trader.logon_count == 1
    closed_ports = {
        int(p) for p in re.findall(r"closed FIX connection from 127\.0\.0\.1:(\d+):", venue.output())
    }
    assert closed_ports <= raw_ports, "the venue closed a connection no test left idle on purpose"


def test_with_the_timeout_off_an_idle_connection_stays_open_and_can_still_log_on(tmp_path: Path) -> None:
    untimed = start_simulator(tmp_path, extra_args=["--logon-timeout", "0"])
    try:
        with RawFixSession(untimed.port, sender_comp_id="CLIENT1") as idle:
            # Longer than the timeout of 1 s plus two sweeps that would have closed it otherwise.
            time.sleep(3 * LOGON_TIMEOUT_S + 1)
            try:
                answer = idle.logon()
            except PeerClosed:
                pytest.fail("the idle connection was closed with the logon timeout off")
            assert answer.msg_type == "A"
            idle.logout()
        assert "closed FIX connection from" not in untimed.output()
    finally:
        untimed.stop()
