"""The control port over loopback against the real simulator: a token, an idle timeout, a cap.

The review read every account's fills,
busted a fill and switched faults on without any credential, and held 300 idle connections (300
threads) open. Here: nothing is answered before `{"op": "auth", "token": ...}` with the right
token; an idle connection is closed; connections beyond the cap are refused at once.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.control import TOKEN_ENV, ControlError, SimulatorControl
from simulator.process import SimulatorStartError
from tests.support.sim_process import SIM_CONFIG, SimulatorProcess, start_simulator

IDLE_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 3


def quick_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "control.cfg"
    extra = f"SimControlIdleTimeoutS={IDLE_TIMEOUT_S}\nSimControlMaxConnections={MAX_CONNECTIONS}\n"
    cfg.write_text(SIM_CONFIG.read_text().replace("SimSeed=7\n", "SimSeed=7\n" + extra))
    return cfg


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    directory = tmp_path_factory.mktemp("sim-control")
    process = start_simulator(directory, config=quick_config(directory))
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()[-3000:]


def exchange(port: int, *lines: dict[str, object]) -> list[dict[str, object] | None]:
    """Send each line, read one answer per line; None once the venue has closed the connection."""
    answers: list[dict[str, object] | None] = []
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock, sock.makefile("rwb") as stream:
        for line in lines:
            try:
                stream.write((json.dumps(line) + "\n").encode())
                stream.flush()
                raw = stream.readline()
            except OSError:
                raw = b""
            answers.append(json.loads(raw) if raw else None)
    return answers


def closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    sock.settimeout(timeout_s)
    try:
        while True:
            if sock.recv(4096) == b"":
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


def test_requests_without_the_token_are_refused_and_the_connection_closed(venue: SimulatorProcess) -> None:
    fills_before = venue.control.fills()
    faults_before = venue.control.faults()

    no_auth = exchange(
        venue.control_port, {"op": "set_fault", "name": "reject_every_nth", "value": 1}, {"op": "fills"}
    )
    wrong = exchange(venue.control_port, {"op": "auth", "token": "guess-" + "x" * 40}, {"op": "fills"})
    not_a_string = exchange(venue.control_port, {"op": "auth", "token": 12345}, {"op": "ping"})

    for answers in (no_auth, wrong, not_a_string):
        first, second = answers
        assert first is not None and first["ok"] is False, answers
        assert second is None, f"the connection should be closed after a failed authentication: {answers}"
    assert venue.control.faults() == faults_before == {}
    assert venue.control.fills() == fills_before
    assert "wrong token; closed" in venue.output()


def test_the_right_token_opens_every_operation(venue: SimulatorProcess) -> None:
    answers = exchange(venue.control_port, {"op": "auth", "token": venue.control_token}, {"op": "ping"})

    assert answers == [{"ok": True, "auth": True}, {"ok": True, "pong": True}]
    assert SimulatorControl(venue.control_port, token=venue.control_token).ping()
    with pytest.raises(ControlError, match="authentication failed"):
        SimulatorControl(venue.control_port, token="not-the-token-" + "y" * 20).ping()


def test_the_token_from_the_environment_is_written_to_no_file(venue: SimulatorProcess) -> None:
    written = [p for p in venue.state_dir.rglob("*") if p.is_file()]

    assert not (venue.state_dir / "control.token").exists()
    assert [p.name for p in written if venue.control_token.encode() in p.read_bytes()] == []


def test_an_idle_connection_is_closed(venue: SimulatorProcess) -> None:
    with socket.create_connection(("127.0.0.1", venue.control_port), timeout=3) as idle:
        assert closed_by_peer(idle, IDLE_TIMEOUT_S + 2.0)
    # the client reconnects (and authenticates again) after the venue closed its idle connection
    client = SimulatorControl(venue.control_port, token=venue.control_token)
    assert client.ping()
    time.sleep(IDLE_TIMEOUT_S + 0.5)
    assert client.ping()
    client.close()


def test_connections_beyond_the_cap_are_refused_without_a_thread_each(venue: SimulatorProcess) -> None:
    venue.control.close()
    threads_before = len(os.listdir(f"/proc/{venue.pid}/task"))
    # every slot taken by a connection of ours that is known to hold it (authenticated and
    # answered): the fixture's connection just closed may still hold its slot for a moment
    held = [SimulatorControl(venue.control_port) for _ in range(MAX_CONNECTIONS)]
    deadline = time.monotonic() + 5
    for control in held:
        while True:
            try:
                assert control.ping()
                break
            except ControlError:
                assert time.monotonic() < deadline, "the cap's slots never freed"
                control.close()
                time.sleep(0.05)
    try:
        flood = [socket.create_connection(("127.0.0.1", venue.control_port), timeout=3) for _ in range(40)]
        refused = []
        for sock in flood:
            line = sock.makefile("rb").readline()
            refused.append(json.loads(line) if line else None)
            sock.close()
        threads_during = len(os.listdir(f"/proc/{venue.pid}/task"))
    finally:
        for control in held:
            control.close()

    assert all(r is not None and "too many control connections" in str(r["error"]) for r in refused), refused
    assert threads_during - threads_before <= MAX_CONNECTIONS + 1
    deadline = time.monotonic() + 3
    while True:  # the held connections' threads end once they are closed: room again
        try:
            assert venue.control.ping()
            break
        except ControlError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_without_a_token_in_the_environment_an_owner_only_token_file_is_made(tmp_path: Path) -> None:
    process = start_simulator(tmp_path, env={TOKEN_ENV: ""})
    try:
        token_file = process.state_dir / "control.token"
        token = token_file.read_text().strip()
        mode = stat.S_IMODE(token_file.stat().st_mode)
        works = SimulatorControl(process.control_port, token=token).ping()
    finally:
        process.stop()

    assert mode == 0o600
    assert len(token) >= 32 and works
    assert f"control token in {token_file}" in process.output()


def test_a_token_file_others_may_read_is_refused_at_start(tmp_path: Path) -> None:
    state = tmp_path / "sim-state"
    state.mkdir()
    token_file = state / "control.token"
    token_file.write_text("t" * 40 + "\n")
    token_file.chmod(0o644)

    with pytest.raises(SimulatorStartError, match="readable or writable by others"):
        started = start_simulator(tmp_path, env={TOKEN_ENV: ""}, state_dir=state)
        started.stop()  # not reached when the start is refused, as it must be
