"""Session behaviour against the simulator: credentials from the environment (never logged),
market data subscription and snapshot requests, clean SIGTERM of `fixgw run`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from functools import partial

from tests.integration.gateway.harness import (
    REPO_ROOT,
    final_order,
    load,
    oms_of,
    running_gateway,
    wait_until,
    write_gateway_toml,
)
from tests.support.sim_process import start_simulator

PASSWORD = "s3cret-Pa55"


def test_password_from_the_environment_logs_on_and_is_never_written_to_a_log(tmp_path, monkeypatch):
    sim = start_simulator(tmp_path, password=PASSWORD)
    try:
        monkeypatch.setenv("FIXGW_TEST_PASSWORD", PASSWORD)
        toml = write_gateway_toml(
            tmp_path / "gw", sim.port, venue_extra='password_env = "FIXGW_TEST_PASSWORD"'
        )
        config = load(toml, sim.port)
        with running_gateway(config) as gateway:
            assert all(gateway.application.logged_on().values())
        state = config.gateway.state_dir
        logs = "".join(p.read_text() for p in state.glob("*.log"))
        assert "554=***" in logs
        assert PASSWORD not in logs
        assert PASSWORD not in (state / "sessions.effective.cfg").read_text()
    finally:
        sim.stop()


def test_wrong_password_is_refused_by_the_venue(tmp_path, monkeypatch):
    sim = start_simulator(tmp_path, password=PASSWORD)
    try:
        monkeypatch.setenv("FIXGW_TEST_PASSWORD", "wrong")
        toml = write_gateway_toml(
            tmp_path / "gw", sim.port, venue_extra='password_env = "FIXGW_TEST_PASSWORD"'
        )
        from gateway.app import Gateway, configure_logging

        config = load(toml, sim.port)
        configure_logging(config.gateway.state_dir, to_stderr=False)
        gateway = Gateway(config)
        try:
            gateway.start()
            assert not gateway.wait_logged_on(2.5)
        finally:
            gateway.stop()
    finally:
        sim.stop()


def test_market_data_subscription_and_snapshot_request(tmp_path):
    sim = start_simulator(tmp_path)
    try:
        config = load(write_gateway_toml(tmp_path / "gw", sim.port), sim.port)
        with running_gateway(config) as gateway:
            wait_until(lambda: gateway.sink._books["ACME"].best_bid() is not None, 10, "an ACME book")
            messages = config.gateway.state_dir / "fix-messages.log"
            before = messages.read_text().count("|35=W|")

            gateway.application.request_snapshot("BOLT")

            wait_until(lambda: messages.read_text().count("|35=W|") > before, 5, "a snapshot W")
            text = messages.read_text()
            assert "|35=V|" in text and "|263=1|" in text and "|263=0|" in text and "|264=5|" in text
            assert gateway.application.counters["market_data"] > 0
    finally:
        sim.stop()


def test_sigterm_logs_out_and_exits_cleanly(tmp_path):
    sim = start_simulator(tmp_path)
    try:
        toml = write_gateway_toml(tmp_path / "gw", sim.port, strategy=True, order_interval_ms=100)
        output = tmp_path / "run.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "fixgw.cli", "run", "--config", str(toml)],
                cwd=REPO_ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: "FIXGW->FIXSIM=up" in output.read_text(), 20, "logon")
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        events = (tmp_path / "gw" / "state" / "gateway.log").read_text()
        assert "signal 15: logging out" in events
        assert "Initiated logout request" in events and "stopped run 1" in events
    finally:
        sim.stop()


def test_two_venues_route_by_symbol_one_of_them_on_a_single_session(tmp_path):
    sim = start_simulator(tmp_path)
    try:
        sessions_cfg = tmp_path / "two-venues.cfg"
        sessions_cfg.write_text(
            (REPO_ROOT / "sessions" / "gateway-sim.cfg").read_text()
            + "\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=CLIENT1\nTargetCompID=FIXSIM\n"
        )
        toml = tmp_path / "two-venues.toml"
        toml.write_text(
            f"""
[gateway]
sessions_cfg = "{sessions_cfg}"
state_dir = "{tmp_path / "state"}"
port = {sim.port}
[venues.MAIN]
order_session = "FIX.4.4:FIXGW->FIXSIM"
market_data_session = "FIX.4.4:FIXGW-MD->FIXSIM"
[venues.ALT]
order_session = "FIX.4.4:CLIENT1->FIXSIM"
[routing]
ACME = "MAIN"
CRUX = "ALT"
[strategy]
enabled = false
"""
        )
        config = load(toml, sim.port)
        with running_gateway(config) as gateway:
            assert len(gateway.application.logged_on()) == 3
            wait_until(lambda: gateway.sink._books["CRUX"].best_ask() is not None, 10, "CRUX book on CLIENT1")
            wait_until(
                lambda: gateway.sink._books["ACME"].best_ask() is not None, 10, "ACME book on FIXGW-MD"
            )
            crux = oms_of(gateway).submit(symbol="CRUX", side="1", qty=100, ord_type="1")
            acme = oms_of(gateway).submit(symbol="ACME", side="1", qty=1, ord_type="1")
            for result in (crux, acme):
                assert result.accepted, result.reason
                wait_until(partial(final_order, gateway, result.cl_ord_id), 10, "final")
            crux_order = final_order(gateway, crux.cl_ord_id)
            assert crux_order is not None and crux_order.session == "FIX.4.4:CLIENT1->FIXSIM"

        assert {o["cl_ord_id"] for o in sim.control.orders("CLIENT1")} == {crux.cl_ord_id}
        assert {o["cl_ord_id"] for o in sim.control.orders("FIXGW")} == {acme.cl_ord_id}
    finally:
        sim.stop()


def test_a_stopped_gateway_still_referenced_does_not_capture_the_next_ones_messages(tmp_path):
    # QuickFIX keeps sessions in a process-wide registry keyed by SessionID until their
    # initiator is destroyed: a stopped gateway kept alive (by a traceback, say) must not make a
    # new gateway with the same sessions send into the dead ones.
    from decimal import Decimal

    sim = start_simulator(tmp_path)
    try:
        first_config = load(write_gateway_toml(tmp_path / "first", sim.port), sim.port)
        with running_gateway(first_config) as first:
            pass
        kept_alive = first  # noqa: F841 - the point of the test
        config = load(write_gateway_toml(tmp_path / "second", sim.port), sim.port)
        with running_gateway(config) as gateway:
            result = oms_of(gateway).submit(symbol="ACME", side="1", qty=1, ord_type="1")
            assert result.accepted
            order = wait_until(lambda: final_order(gateway, result.cl_ord_id), 10, "fill")
            assert order.cum_qty == 1 and order.avg_px is not None and order.avg_px > Decimal(0)
    finally:
        sim.stop()
