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
from tests.support.raw_fix import RawFixSession
from tests.support.sim_process import start_simulator


def test_a_market_data_subscriber_that_never_reads_does_not_freeze_the_venue(tmp_path: Path) -> None:
    sim = start_simulator(tmp_path, md_interval_ms=1)
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
            time.sleep(3)
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
