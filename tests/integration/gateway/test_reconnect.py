"""Reconnect backoff over loopback: a venue that drops every connection sees attempts spaced
further and further apart up to the cap; the real simulator on that port is then logged on to and
traded with; after a stable logon, a SIGKILLed and restarted venue is retried from the initial
delay again. Timings are checked loosely (QuickFIX polls once a second, the machine is shared);
the delays themselves are checked exactly in the gateway's log, where each decision is written."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from gateway.app import Gateway, configure_logging
from tests.integration.gateway.harness import (
    REPO_ROOT,
    SIM_SESSIONS_CFG,
    load,
    oms_of,
    wait_until,
    write_gateway_toml,
)
from tests.support.raw_fix import frame, sending_time
from tests.support.sim_process import free_port, start_simulator

ORDERS = "FIX.4.4:FIXGW->FIXSIM"
DECISION = re.compile(
    r"(?P<key>FIX\.4\.4:\S+): disconnected \((?P<how>[^)]*)\)(?P<reset>; stable logon, backoff reset)?: "
    r"reconnect attempt #(?P<attempt>\d+) in (?P<delay>[\d.]+)s \(backoff (?P<backoff>[\d.]+)s"
)


class DroppingVenue:
    """Accepts each connection, reads the Logon(35=A) to learn which session it is, and closes
    the connection: a venue refusing logons the rude way. Records when each session came.
    With `answer_logon`, it first answers the Logon (the session logs on) and then hangs up, as
    a broker that accepts a logon and then throws the session out."""

    def __init__(self, *, answer_logon: bool = False) -> None:
        self._answer_logon = answer_logon
        self._next_seq: dict[str, int] = {}
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port: int = self._server.getsockname()[1]
        self.arrivals: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            arrived = time.monotonic()
            with connection:
                connection.settimeout(2.0)
                data = b""
                with contextlib.suppress(OSError):
                    while b"\x0110=" not in data:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                sender_match = re.search(rb"\x0149=([^\x01]+)\x01", data)
                sender = sender_match.group(1).decode() if sender_match else "?"
                if self._answer_logon and sender_match:
                    with contextlib.suppress(OSError):
                        connection.sendall(self._logon_answer(sender))
                        time.sleep(0.05)  # let QuickFIX read the answer before the hang-up
            with self._lock:
                self.arrivals.setdefault(sender, []).append(arrived)

    def _logon_answer(self, sender: str) -> bytes:
        seq = self._next_seq.get(sender, 1)
        self._next_seq[sender] = seq + 1
        fields = [(35, "A"), (34, str(seq)), (49, "FIXSIM"), (52, sending_time()), (56, sender)]
        return frame([*fields, (98, "0"), (108, "10")])

    def times(self, sender: str) -> list[float]:
        with self._lock:
            return list(self.arrivals.get(sender, []))

    def close(self) -> None:
        # shutdown wakes the blocked accept(); close alone would leave it waiting
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the venue's accept loop did not end"


def decisions(log_path: Path, key: str = ORDERS) -> list[re.Match[str]]:
    text = log_path.read_text(encoding="utf-8") if log_path.exists() else ""
    return [m for m in DECISION.finditer(text) if m.group("key") == key]


@contextlib.contextmanager
def gateway_on(
    directory: Path, port: int, reconnect: str, *, strategy: bool, sessions_cfg: Path | None = None
) -> Iterator[Gateway]:
    toml = write_gateway_toml(directory, port, strategy=strategy, extra="\n[reconnect]\n" + reconnect)
    if sessions_cfg is not None:
        toml.write_text(toml.read_text().replace(str(SIM_SESSIONS_CFG), str(sessions_cfg)))
    config = load(toml, port)
    configure_logging(config.gateway.state_dir, to_stderr=False)
    gateway = Gateway(config)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()


def test_attempts_back_off_to_the_cap_then_the_simulator_on_that_port_is_logged_on_and_traded(tmp_path):
    venue = DroppingVenue()
    port = venue.port
    reconnect = (
        "initial_delay_s = 1.0\nmultiplier = 3.0\nmax_delay_s = 3.0\njitter = 0.0\nstable_after_s = 2.0\n"
    )
    sim = None
    try:
        with gateway_on(tmp_path / "gw", port, reconnect, strategy=True) as gateway:
            log_path = gateway.state_dir / "gateway.log"
            wait_until(lambda: len(venue.times("FIXGW")) >= 4, 25, "four connection attempts")
            venue.close()
            arrivals = venue.times("FIXGW")
            gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]

            # QuickFIX alone would retry every ReconnectInterval (1 s); with backoff the delays
            # are 1, 3, 3 s, each landing on QuickFIX's next 1 s poll
            assert min(gaps) > 0.8, gaps
            assert gaps[1] > gaps[0] + 0.5, f"no growth: {gaps}"
            assert max(gaps) < 3.0 + 2.0, f"not capped: {gaps}"
            assert [float(d.group("backoff")) for d in decisions(log_path)[:3]] == [1.0, 3.0, 3.0]
            assert [int(d.group("attempt")) for d in decisions(log_path)[:3]] == [1, 2, 3]
            assert all(d.group("how") == "never logged on" for d in decisions(log_path))

            sim = start_simulator(tmp_path, port=port)
            assert gateway.wait_logged_on(15), gateway.status_line()
            wait_until(lambda: oms_of(gateway).counters["fills"] > 0, 15, "a fill from the simulator")
            assert "FIXGW->FIXSIM=up" in gateway.status_line()
        assert sim.control.fills("FIXGW")
    finally:
        venue.close()
        if sim is not None:
            sim.stop()


def test_a_venue_that_accepts_the_logon_and_hangs_up_at_once_keeps_the_delays_growing(tmp_path):
    venue = DroppingVenue(answer_logon=True)
    reconnect = (
        "initial_delay_s = 1.0\nmultiplier = 2.0\nmax_delay_s = 2.0\njitter = 0.0\nstable_after_s = 30.0\n"
    )
    try:
        with gateway_on(tmp_path / "gw", venue.port, reconnect, strategy=False) as gateway:
            log_path = gateway.state_dir / "gateway.log"
            wait_until(lambda: len(decisions(log_path)) >= 3, 20, "three short logons")

            short = decisions(log_path)[:3]
            assert all(d.group("how").startswith("logged on for") for d in short), [d.group(0) for d in short]
            assert not any(d.group("reset") for d in short)
            assert [float(d.group("backoff")) for d in short] == [1.0, 2.0, 2.0]
            assert "logon FIX.4.4:FIXGW->FIXSIM (logon #3)" in log_path.read_text()
    finally:
        venue.close()


def test_after_a_stable_logon_a_killed_venue_is_retried_from_the_initial_delay(tmp_path):
    port = free_port()  # nothing listens there yet: connections are refused
    reconnect = (
        "initial_delay_s = 1.0\nmultiplier = 2.0\nmax_delay_s = 2.0\njitter = 0.0\nstable_after_s = 1.5\n"
    )
    sims = []
    try:
        with gateway_on(tmp_path / "gw", port, reconnect, strategy=False) as gateway:
            log_path = gateway.state_dir / "gateway.log"
            wait_until(lambda: len(decisions(log_path)) >= 3, 20, "three refused attempts")
            assert [float(d.group("backoff")) for d in decisions(log_path)] == [1.0, 2.0, 2.0]
            state = gateway.reconnect.state(ORDERS)
            assert state is not None and state.reconnect == 3

            sim_state = tmp_path / "sim-state"
            sims.append(start_simulator(tmp_path, port=port, state_dir=sim_state))
            assert gateway.wait_logged_on(15), gateway.status_line()
            time.sleep(2.0)  # longer than stable_after_s
            before_kill = len(decisions(log_path))

            sims[0].kill()
            wait_until(lambda: len(decisions(log_path)) > before_kill, 10, "the decision after the kill")
            after_kill = decisions(log_path)[before_kill]
            assert after_kill.group("reset"), after_kill.group(0)
            assert after_kill.group("how").startswith("logged on for")
            assert int(after_kill.group("attempt")) == 1
            assert float(after_kill.group("backoff")) == 1.0

            assert not gateway.application.logged_on()[ORDERS]

            sims.append(start_simulator(tmp_path, port=port, state_dir=sim_state))
            assert gateway.wait_logged_on(15), gateway.status_line()
            assert "FIXGW->FIXSIM=up" in gateway.status_line()
    finally:
        for sim in sims:
            if sim.alive():
                sim.stop()


def sessions_cfg_open_until(path: Path, end: dt.datetime) -> Path:
    """The simulator sessions file with a schedule that opened a minute ago and ends at `end`."""
    start = end - dt.timedelta(minutes=1)
    text = SIM_SESSIONS_CFG.read_text()
    text = text.replace("StartTime=00:00:00", f"StartTime={start:%H:%M:%S}")
    text = text.replace("EndTime=00:00:00", f"EndTime={end:%H:%M:%S}")
    text = text.replace(
        "DataDictionary=fix_specs/FIX44.xml", f"DataDictionary={REPO_ROOT / 'fix_specs/FIX44.xml'}"
    )
    path.write_text(text)
    return path


def test_the_session_schedule_still_rules_a_session_enabled_after_its_end_time_stays_down(tmp_path):
    sim = start_simulator(tmp_path)
    reconnect = "initial_delay_s = 1.0\nmax_delay_s = 2.0\njitter = 0.0\nstable_after_s = 30.0\n"
    # room for a slow start: the gateway must log on before EndTime for the test to mean anything
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=8)
    cfg = sessions_cfg_open_until(tmp_path / "scheduled.cfg", end)
    try:
        with gateway_on(tmp_path / "gw", sim.port, reconnect, strategy=False, sessions_cfg=cfg) as gateway:
            log_path = gateway.state_dir / "gateway.log"
            assert gateway.wait_logged_on(10), gateway.status_line()

            # at EndTime QuickFIX logs out; the backoff then enables the session again ...
            wait_until(lambda: decisions(log_path), 15, "the logout at EndTime")
            wait_until(
                lambda: "FIXGW->FIXSIM: reconnect attempt #1 due" in log_path.read_text(), 10, "the re-enable"
            )
            connects = log_path.read_text().count("FIXGW->FIXSIM Connecting to")
            time.sleep(2.5)  # more than two QuickFIX polls

            # ... but QuickFIX does not connect outside the schedule, and the status says why
            assert log_path.read_text().count("FIXGW->FIXSIM Connecting to") == connects
            assert "FIXGW->FIXSIM=down(outside schedule)" in gateway.status_line()
            assert not gateway.application.logged_on()[ORDERS]
    finally:
        sim.stop()
