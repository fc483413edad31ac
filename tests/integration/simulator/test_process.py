"""The simulator as a user runs it: a subprocess, stopped by signals, restarted on its state."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

from simulator.cli import main as sim_main
from tests.support.fix_client import (
    FixTestClient,
    cancel_request,
    mass_status_request,
    new_order_single,
    unique_id,
)
from tests.support.sim_process import REPO_ROOT, free_port, start_simulator


def test_restart_keeps_orders_fills_positions_and_resting_orders(tmp_path: Path) -> None:
    port = free_port()
    sim = start_simulator(tmp_path, port=port)
    client = FixTestClient.start_new(tmp_path / "client", port, sender="FIXGW")
    try:
        resting = unique_id("gtc")
        client.send(new_order_single(resting, "ACME", "1", 100, price="90.00", tif="1"))
        client.wait_for(lambda m: m.get(11) == resting and m.get(150) == "0")
        filled = unique_id("fill")
        client.send(new_order_single(filled, "ACME", "1", 100, price="105.00"))
        client.wait_for(lambda m: m.get(11) == filled and m.get(39) == "2")
        fills_before = sim.control.fills("FIXGW")
        positions_before = sim.control.positions("FIXGW")

        # SIGTERM while the client is still logged on, as a user would stop it.
        assert sim.stop() == 0
        assert "stopped" in sim.output()
        client.wait_logged_out()

        again = start_simulator(tmp_path, port=port, state_dir=sim.state_dir)
        try:
            assert again.control.fills("FIXGW") == fills_before
            assert again.control.positions("FIXGW") == positions_before
            assert ["90.00", 100] in again.control.book("ACME")["bids"], "the GTC order is back in the book"
            client.wait_logged_on(15)  # the initiator reconnects by itself
            request = unique_id("ms")
            client.send(mass_status_request(request))
            last = client.wait_for(lambda m: m.get(584) == request and m.get(912) == "Y")
            reports = client.wait_count(lambda m: m.get(584) == request, int(last.get(911) or 0))
            by_id = {r.get(11): r for r in reports}
            assert by_id[resting].get(39) == "0" and by_id[resting].get(151) == "100"
            assert by_id[filled].get(39) == "2"
            cancel = unique_id("cxl")
            client.send(cancel_request(cancel, resting, "ACME", "1", 100))
            canceled = client.wait_for(lambda m: m.get(11) == cancel and m.msg_type == "8")
            assert canceled.get(150) == "4"
        finally:
            client.stop(force=True)
            assert again.stop() == 0
    finally:
        client.stop(force=True)
        sim.stop()


def test_a_crash_loses_no_fill_the_client_was_told_about(tmp_path: Path) -> None:
    sim = start_simulator(tmp_path)
    client = FixTestClient.start_new(tmp_path / "client", sim.port, sender="FIXGW")
    try:
        ids = [unique_id("k") for _ in range(5)]
        for cl in ids:
            client.send(new_order_single(cl, "BOLT", "2", 20, price="40.00"))
        for cl in ids:
            client.wait_for(lambda m, cl=cl: m.get(11) == cl and m.get(39) == "2")  # type: ignore[misc]
        told = {m.get(17) for m in client.messages(lambda m: m.msg_type == "8" and m.get(150) == "F")}
        assert sim.kill() == -signal.SIGKILL
        again = start_simulator(tmp_path, state_dir=sim.state_dir)
        try:
            assert {f["exec_id"] for f in again.control.fills("FIXGW")} == told
        finally:
            again.stop()
    finally:
        client.stop(force=True)
        sim.stop()


def test_faults_from_the_command_line_and_any_compids_from_the_settings_file(tmp_path: Path) -> None:
    cfg = tmp_path / "other.cfg"
    cfg.write_text(
        "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=1\nStartTime=00:00:00\nEndTime=00:00:00\n"
        "HeartBtInt=30\nFileStorePath=store\nFileLogPath=log\nUseDataDictionary=Y\n"
        "DataDictionary=fix_specs/FIX44.xml\nValidateUserDefinedFields=N\nAllowUnknownMsgFields=Y\n"
        "SimFaultUnknownTag=1\n"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=VENUE2\nTargetCompID=TRADER\n"
    )
    sim = start_simulator(tmp_path, config=cfg, faults={"reject_every_nth": 1})
    client = FixTestClient.start_new(tmp_path / "client", sim.port, sender="TRADER", target="VENUE2")
    try:
        assert sim.control.faults() == {"unknown_tag": 1, "reject_every_nth": 1}
        cl = unique_id("t")
        client.send(new_order_single(cl, "ACME", "1", 1, price="50.00"))
        report = client.wait_for(lambda m: m.get(11) == cl)
        assert report.get(150) == "8" and "reject_every_nth" in (report.get(58) or "")
        assert report.get(9999) == "fault-unknown-tag"
        assert report.get(1) == "TRADER", "Account(1) defaults to the client's CompID"
    finally:
        client.stop(force=True)
        sim.stop()


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    sim = start_simulator(tmp_path)
    sim.process.send_signal(signal.SIGINT)
    assert sim.process.wait(timeout=15) == 0
    assert "stopped" in sim.output()


def test_fixgw_sim_is_the_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "sim", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert "--fault" in result.stdout and "--control-port" in result.stdout


def test_bad_arguments_exit_2_with_a_message(tmp_path: Path, capsys: object) -> None:
    assert sim_main(["--fault", "no_such_fault=1", "--state-dir", str(tmp_path)]) == 2
    assert sim_main(["--config", str(tmp_path / "missing.cfg"), "--state-dir", str(tmp_path)]) == 2


def test_exit_with_parent_stops_the_simulator_when_its_parent_is_killed(tmp_path: Path) -> None:
    """The parent-pid watch alone (no parent-death signal armed): a parent killed with SIGKILL
    runs no cleanup, and its child simulator must still stop by itself, cleanly."""
    import os
    import time

    output = tmp_path / "sim.out"
    launcher = (
        "import subprocess, sys\n"
        f"out = open({str(output)!r}, 'wb')\n"
        "child = subprocess.Popen([sys.executable, '-m', 'simulator.cli', '--exit-with-parent',"
        f" '--port', '{free_port()}', '--state-dir', {str(tmp_path / 'state')!r}],"
        " stdout=out, stderr=subprocess.STDOUT)\n"
        "print(child.pid, flush=True)\n"
        "child.wait()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", launcher], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    sim_pid = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in output.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "listening on" in output.read_text()
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "stopped" not in output.read_text():
            time.sleep(0.1)
        text = output.read_text()
        assert f"parent process {parent.pid} exited" in text, text[-2000:]
        assert text.rstrip().endswith("stopped"), text[-2000:]
    finally:
        parent.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(sim_pid, signal.SIGKILL)
