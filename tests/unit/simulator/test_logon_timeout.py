"""Closing connections that never log on: TCP_INFO parsing, the sweep's decisions (injected clock
and a recording probe), the real /proc probe on loopback sockets, and the settings key."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from simulator.idle_connections import (
    TCP_INFO_MIN_BYTES,
    LogonTimeout,
    ObservedConnection,
    ProcSocketProbe,
    TcpActivity,
    parse_tcp_info,
)
from simulator.settings import DEFAULT_LOGON_TIMEOUT_S, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[3]
SIM_CFG = REPO / "sessions" / "simulator.cfg"

# -- TCP_INFO ----------------------------------------------------------------------------------


def _tcp_info(*, bytes_received: int, data_segs_out: int, length: int = 232) -> bytes:
    raw = bytearray(b"\xaa" * length)  # every other field garbage: only the two offsets count
    struct.pack_into("=Q", raw, 128, bytes_received)
    struct.pack_into("=I", raw, 156, data_segs_out)
    return bytes(raw)


def test_tcp_info_gives_data_segments_sent_and_bytes_received() -> None:
    activity = parse_tcp_info(_tcp_info(bytes_received=77, data_segs_out=3))
    assert activity == TcpActivity(data_segments_sent=3, bytes_received=77)


def test_tcp_info_of_exactly_the_needed_length_is_read() -> None:
    raw = _tcp_info(bytes_received=5, data_segs_out=0, length=TCP_INFO_MIN_BYTES)
    assert parse_tcp_info(raw) == TcpActivity(data_segments_sent=0, bytes_received=5)


@pytest.mark.parametrize("length", [0, 104, 136, 152, TCP_INFO_MIN_BYTES - 1])
def test_tcp_info_from_an_older_kernel_is_unknown_not_zero(length: int) -> None:
    assert parse_tcp_info(b"\x00" * length) is None


def test_tcp_info_offsets_match_this_kernel() -> None:
    """On the real kernel: the server side of a fresh connection has sent no data segment and
    counts what it received; after one send it counts one data segment out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as client:
            server_side, _ = listener.accept()
            with server_side:
                client.sendall(b"8=FIX.4.4\x01")
                assert server_side.recv(100) == b"8=FIX.4.4\x01"
                before = parse_tcp_info(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256))
                server_side.sendall(b"reply")
                assert client.recv(100) == b"reply"
                after = parse_tcp_info(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256))
    assert before == TcpActivity(data_segments_sent=0, bytes_received=10)
    assert after is not None and after.data_segments_sent == 1


# -- the sweep's decisions ---------------------------------------------------------------------


def _silent(inode: int, *, received: int = 0) -> ObservedConnection:
    return ObservedConnection(
        inode=inode,
        peer=f"10.0.0.{inode}:5000",
        activity=TcpActivity(data_segments_sent=0, bytes_received=received),
        unsent_bytes=0,
    )


def _logged_on(inode: int) -> ObservedConnection:
    return ObservedConnection(
        inode=inode,
        peer=f"10.0.0.{inode}:5000",
        activity=TcpActivity(data_segments_sent=4, bytes_received=300),
        unsent_bytes=0,
    )


@dataclass
class RecordingProbe:
    """Answers `observe()` with `connections` and records every shutdown it is asked for."""

    connections: list[ObservedConnection] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)  # inodes whose shutdown fails (gone meanwhile)
    observed_count: int = 0
    shut_down: list[int] = field(default_factory=list)

    def observe(self) -> list[ObservedConnection]:
        self.observed_count += 1
        return list(self.connections)

    def shut_down_if_silent(self, inode: int) -> bool:
        if inode in self.refuse:
            return False
        self.shut_down.append(inode)
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _timeout(probe: RecordingProbe, clock: FakeClock, timeout_s: float = 10) -> LogonTimeout:
    return LogonTimeout(timeout_s, probe, clock=clock, sweep_interval_s=1.0)


def test_a_silent_connection_is_shut_down_once_it_has_had_the_timeout() -> None:
    probe, clock = RecordingProbe([_silent(1, received=12)]), FakeClock()
    sweeper = _timeout(probe, clock)
    assert sweeper.maybe_sweep() == []  # first seen now
    clock.now += 9
    assert sweeper.maybe_sweep() == []
    assert probe.shut_down == []
    clock.now += 1
    closed = sweeper.maybe_sweep()
    assert probe.shut_down == [1]
    assert [(c.peer, c.age_s, c.bytes_received) for c in closed] == [("10.0.0.1:5000", 10.0, 12)]


def test_a_connection_that_has_sent_data_is_never_shut_down_however_old() -> None:
    probe, clock = RecordingProbe([_logged_on(1)]), FakeClock()
    sweeper = _timeout(probe, clock)
    for _ in range(100):
        sweeper.maybe_sweep()
        clock.now += 60
    assert probe.observed_count == 100
    assert probe.shut_down == []


def test_a_connection_whose_activity_the_kernel_does_not_report_is_left_alone() -> None:
    unknown = ObservedConnection(inode=1, peer="10.0.0.1:5000", activity=None, unsent_bytes=0)
    probe, clock = RecordingProbe([unknown]), FakeClock()
    sweeper = _timeout(probe, clock)
    sweeper.maybe_sweep()
    clock.now += 3600
    assert sweeper.maybe_sweep() == []
    assert probe.shut_down == []


def test_a_reply_still_in_the_send_queue_counts_as_sent() -> None:
    queued = ObservedConnection(
        inode=1,
        peer="10.0.0.1:5000",
        activity=TcpActivity(data_segments_sent=0, bytes_received=90),
        unsent_bytes=70,
    )
    probe, clock = RecordingProbe([queued]), FakeClock()
    sweeper = _timeout(probe, clock)
    sweeper.maybe_sweep()
    clock.now += 60
    assert sweeper.maybe_sweep() == []
    assert probe.shut_down == []


def test_only_the_silent_connection_goes_when_a_logged_on_one_is_beside_it() -> None:
    probe, clock = RecordingProbe([_logged_on(1), _silent(2)]), FakeClock()
    sweeper = _timeout(probe, clock)
    sweeper.maybe_sweep()
    clock.now += 11
    assert [c.peer for c in sweeper.maybe_sweep()] == ["10.0.0.2:5000"]
    assert probe.shut_down == [2]


def test_a_connection_shut_down_but_not_yet_closed_is_not_shut_down_or_reported_again() -> None:
    probe, clock = RecordingProbe([_silent(1)]), FakeClock()
    sweeper = _timeout(probe, clock)
    sweeper.maybe_sweep()
    clock.now += 10
    assert len(sweeper.maybe_sweep()) == 1
    clock.now += 1
    assert sweeper.maybe_sweep() == []  # QuickFIX has not closed it yet: still listed
    assert probe.shut_down == [1]
    assert sweeper.closed_total == 1


def test_age_counts_from_first_sight_and_a_reused_inode_starts_again() -> None:
    probe, clock = RecordingProbe([_silent(1)]), FakeClock()
    sweeper = _timeout(probe, clock)
    sweeper.maybe_sweep()
    clock.now += 5
    probe.connections = []  # closed by its peer
    sweeper.maybe_sweep()
    clock.now += 5
    probe.connections = [_silent(1)]  # a new socket got the same inode number
    sweeper.maybe_sweep()
    clock.now += 9
    assert sweeper.maybe_sweep() == []
    clock.now += 1
    assert len(sweeper.maybe_sweep()) == 1


def test_a_shutdown_that_fails_is_not_reported_and_is_tried_again() -> None:
    probe, clock = RecordingProbe([_silent(1)], refuse={1}), FakeClock()
    sweeper = _timeout(probe, clock)
    sweeper.maybe_sweep()
    clock.now += 10
    assert sweeper.maybe_sweep() == []
    probe.refuse.clear()
    clock.now += 1
    assert len(sweeper.maybe_sweep()) == 1


def test_sweeps_run_at_most_once_per_interval() -> None:
    probe, clock = RecordingProbe([_silent(1)]), FakeClock()
    sweeper = _timeout(probe, clock)
    for _ in range(50):
        sweeper.maybe_sweep()
        clock.now += 0.1
    assert probe.observed_count == 5
    assert sweeper.sweeps == 5


def test_a_timeout_of_zero_is_refused_by_the_sweeper() -> None:
    with pytest.raises(ValueError, match="positive"):
        LogonTimeout(0, RecordingProbe())


# -- the real probe on loopback sockets --------------------------------------------------------


def test_proc_probe_finds_accepted_connections_only_and_shuts_down_the_silent_one() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with (
            socket.create_connection(("127.0.0.1", port)) as silent_client,
            socket.create_connection(("127.0.0.1", port)) as answered_client,
        ):
            silent_side, _ = listener.accept()
            answered_side, _ = listener.accept()
            with silent_side, answered_side:
                answered_side.sendall(b"35=A")
                assert answered_client.recv(10) == b"35=A"
                probe = ProcSocketProbe(port)
                clock = FakeClock()
                sweeper = LogonTimeout(1, probe, clock=clock)

                observed = probe.observe()
                # The listener has no peer; the clients' own sockets have another local port.
                assert {c.peer for c in observed} == {
                    f"127.0.0.1:{silent_client.getsockname()[1]}",
                    f"127.0.0.1:{answered_client.getsockname()[1]}",
                }
                assert sweeper.maybe_sweep() == []
                clock.now += 1
                closed = sweeper.maybe_sweep()

                assert [c.peer for c in closed] == [f"127.0.0.1:{silent_client.getsockname()[1]}"]
                silent_client.settimeout(5)
                assert silent_client.recv(10) == b"", "the silent connection was shut down"
                answered_side.sendall(b"still here")
                answered_client.settimeout(5)
                assert answered_client.recv(20) == b"still here"
                # Only shut down, not closed: the owner's descriptor is still open and its own.
                assert silent_side.fileno() >= 0 and silent_side.recv(10) == b""


def test_proc_probe_stops_looking_closely_at_a_connection_once_it_has_sent_data() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            server_side, _ = listener.accept()
            with server_side:
                probe = ProcSocketProbe(port)
                server_side.sendall(b"logon reply")
                assert client.recv(20) == b"logon reply"
                [first] = probe.observe()
                server_side.sendall(b"more")
                assert client.recv(20) == b"more"
                [second] = probe.observe()
                # Its counters are not read again: having sent data, it can never be a connection
                # that did not log on.
                assert second is first
                assert first.activity is not None and first.activity.data_segments_sent == 1


def test_proc_probe_does_not_shut_down_a_descriptor_now_naming_another_socket() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with (
            socket.create_connection(("127.0.0.1", port)) as first_client,
            socket.create_connection(("127.0.0.1", port)) as second_client,
        ):
            first_side, _ = listener.accept()
            probe = ProcSocketProbe(port)
            first_inode = os.fstat(first_side.fileno()).st_ino
            assert first_inode in {c.inode for c in probe.observe()}
            second_side, _ = listener.accept()
            with second_side:
                # The owner closes the first socket and its number comes to name the second (silent)
                # one, as when QuickFIX closes a connection and accepts another.
                number = first_side.detach()
                os.dup2(second_side.fileno(), number)
                try:
                    assert probe.shut_down_if_silent(first_inode) is False
                finally:
                    os.close(number)
                second_side.sendall(b"ok")
                second_client.settimeout(5)
                assert second_client.recv(10) == b"ok", "the second connection was left alone"
            first_client.settimeout(5)
            assert first_client.recv(10) == b""  # closed by its owner


# -- settings ----------------------------------------------------------------------------------


def test_the_bundled_settings_close_unauthenticated_connections_after_ten_seconds(tmp_path: Path) -> None:
    settings = load_settings(SIM_CFG, port=12345, state_dir=tmp_path)
    assert settings.logon_timeout_s == DEFAULT_LOGON_TIMEOUT_S == 10


def test_logon_timeout_from_the_file_and_the_override(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.cfg"
    cfg.write_text(SIM_CFG.read_text().replace("SimLogonTimeoutS=10", "SimLogonTimeoutS=2.5"))
    assert load_settings(cfg, port=12345, state_dir=tmp_path).logon_timeout_s == 2.5
    assert load_settings(cfg, port=12345, state_dir=tmp_path, logon_timeout_s=0).logon_timeout_s == 0


def test_a_file_without_the_key_gets_the_default(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.cfg"
    cfg.write_text(SIM_CFG.read_text().replace("SimLogonTimeoutS=10\n", ""))
    assert load_settings(cfg, port=12345, state_dir=tmp_path).logon_timeout_s == DEFAULT_LOGON_TIMEOUT_S


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_a_bad_logon_timeout_is_refused_with_the_key_named(tmp_path: Path, value: str) -> None:
    cfg = tmp_path / "sim.cfg"
    cfg.write_text(SIM_CFG.read_text().replace("SimLogonTimeoutS=10", f"SimLogonTimeoutS={value}"))
    with pytest.raises(SettingsError, match="SimLogonTimeoutS"):
        load_settings(cfg, port=12345, state_dir=tmp_path)
