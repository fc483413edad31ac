"""A peer that does not read, or that pipelines hard, must never freeze the venue.

QuickFIX's acceptor writes with a blocking send() and its Python binding keeps the GIL meanwhile:
before the simulator held market data back from backed-up connections and asked for large socket
buffers, both cases below froze every thread of the process (control port included).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.fix_client import FixTestClient, new_order_single
from tests.support.raw_fix import RawFixSession, sending_time
from tests.support.sim_process import SIM_CONFIG, start_simulator


def test_a_market_data_subscriber_that_never_reads_does_not_freeze_the_venue(tmp_path: Path) -> None:
    cfg = tmp_path / "quick-timeout.cfg"
    # Thirty subscriptions on one session: well over the default cap, which is the point here.
    cfg.write_text(
        SIM_CONFIG.read_text()
        .replace("SimSeed=7", "SimSeed=7\nSimStalledPeerTimeoutMs=1000")
        .replace("SimMaxMarketDataSubscriptions=10", "SimMaxMarketDataSubscriptions=30")
    )
    sim = start_simulator(tmp_path, md_interval_ms=1, config=cfg)
    try:
        with RawFixSession(sim.port, sender_comp_id="FIXGW-MD") as deaf:
            # A small receive buffer, so the venue's send queue fills within the test's time.
            deaf._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            deaf.logon()
            # Thirty subscriptions to every symbol: a copy of the whole feed each, megabytes a
            # second, more than the kernel buffers hold within the sleep below.
            for number in range(30):
                request = [(262, f"deaf{number}"), (263, "1"), (264, "0"), (267, "1"), (269, "0"), (146, "3")]
                deaf.send("V", [*request, (55, "ACME"), (55, "BOLT"), (55, "CRUX")])
            time.sleep(1.5)
            started = time.monotonic()
            assert sim.control.ping()
            assert time.monotonic() - started < 1.0
            client = FixTestClient.start_new(tmp_path / "gw", sim.port, sender="FIXGW")
            try:
                client.send(new_order_single("alive", "ACME", "1", 1, price="50.00"))
                client.wait_for(lambda m: m.get(11) == "alive" and m.get(150) == "0", timeout_s=5)
            finally:
                client.stop(force=True)
            assert "market data held back" in sim.output()
            # Held back for good it is not: after a while the deaf connection is shut down.
            deadline = time.monotonic() + 10
            while "not reading for" not in sim.output():
                assert time.monotonic() < deadline, sim.output()[-2000:]
                time.sleep(0.1)
            while "FIX.4.4:FIXSIM->FIXGW-MD" in sim.control.sessions():
                assert time.monotonic() < deadline, "the deaf session is still logged on"
                time.sleep(0.05)
    finally:
        sim.stop()


def test_an_order_client_that_never_reads_its_reports_is_disconnected(tmp_path: Path) -> None:
    # Small socket buffers (128 KiB granted) so that the test needs only a few hundred orders.
    cfg = tmp_path / "small-buffers.cfg"
    cfg.write_text(
        SIM_CONFIG.read_text().replace("SocketNodelay=Y", "SocketNodelay=Y\nSocketSendBufferSize=65536")
    )
    sim = start_simulator(tmp_path, config=cfg)
    try:
        with RawFixSession(sim.port, sender_comp_id="FIXGW") as deaf:
            deaf._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            deaf.logon()
            try:
                for number in range(3000):
                    deaf.send(
                        "D",
                        [
                            (11, f"flood{number}"),
                            (55, "ACME"),
                            (54, "1"),
                            (60, sending_time()),
                            (38, "1"),
                            (40, "2"),
                            (44, "50.00"),
                            (59, "3"),
                        ],
                    )
            except OSError:
                pass  # the venue shut the connection while we were still sending
            deadline = time.monotonic() + 10
            while "stopped reading" not in sim.output():
                assert time.monotonic() < deadline, sim.output()[-2000:]
                time.sleep(0.1)
        assert sim.control.ping()
        # Another session still trades (FIXGW's sequence numbers now belong to the flood).
        client = FixTestClient.start_new(tmp_path / "c1", sim.port, sender="CLIENT1")
        try:
            client.send(new_order_single("after-flood", "ACME", "1", 1, price="50.00"))
            client.wait_for(lambda m: m.get(11) == "after-flood" and m.get(150) == "0", timeout_s=5)
        finally:
            client.stop(force=True)
        assert sim.output().count("stopped reading") == 1, "shut down once, not again and again"
    finally:
        sim.stop()


def test_two_thousand_pipelined_orders_all_get_answers(tmp_path: Path) -> None:
    sim = start_simulator(tmp_path, md_interval_ms=100)
    client = FixTestClient.start_new(tmp_path / "gw", sim.port, sender="FIXGW")
    try:
        count = 2000
        for number in range(count):
            client.send(new_order_single(f"p{number}", "ACME", "1", 1, price="50.00", tif="3"))
        done = client.wait_count(lambda m: m.msg_type == "8" and m.get(150) == "4", count, timeout_s=40)
        assert len(done) == count
        assert sim.control.ping()
    finally:
        client.stop(force=True)
        sim.stop()
