"""Session behaviour against the simulator: credentials from the environment (never logged),
market data subscription and snapshot requests, clean SIGTERM of `fixgw run`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.integration.gateway.harness import (
    REPO_ROOT,
    load,
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
                [sys.executable, "-m", "gateway.cli", "run", "--config", str(toml)],
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
