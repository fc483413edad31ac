"""`fixgw demo` as a user runs it: a few seconds of trading, live progress, a summary whose
ledger check passed, and the simulator subprocess stopped afterwards."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.gateway.harness import REPO_ROOT


def test_demo_trades_prints_progress_and_stops_the_simulator(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "fixgw.cli",
            "demo",
            "--seconds",
            "3",
            "--state-dir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert out.count("sessions 2/2 up") >= 3  # a progress block every second
    assert "ACME  orders" in out and "=== fixgw demo: summary ===" in out
    assert "ledger matches the venue:" in out
    fills = int(out.split("ledger matches the venue: ")[1].split()[0])
    assert fills > 0
    assert (tmp_path / "demo" / "gateway" / "ledger.sqlite").exists()
    sim_output = (tmp_path / "demo" / "sim" / "simulator-output.log").read_text()
    assert sim_output.rstrip().endswith("stopped")


def _process_gone(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
        # a zombie until its parent (init here) reaps it also counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")
    except (ProcessLookupError, FileNotFoundError):
        return True


def test_demo_killed_with_sigkill_does_not_leave_the_simulator_running(tmp_path):
    import contextlib
    import os
    import signal
    import time

    from tests.integration.gateway.harness import wait_until

    output = tmp_path / "demo.out"
    with output.open("wb") as sink:
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fixgw.cli",
                "demo",
                "--seconds",
                "60",
                "--state-dir",
                str(tmp_path / "d"),
            ],
            cwd=REPO_ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    sim_pid: int | None = None
    try:
        line = wait_until(
            lambda: next((x for x in output.read_text().splitlines() if "simulator pid" in x), None),
            30,
            "sim pid",
        )
        sim_pid = int(line.split("simulator pid ")[1].split()[0])
        wait_until(lambda: "sessions 2/2 up" in output.read_text(), 30, "trading")

        demo.send_signal(signal.SIGKILL)
        demo.wait(timeout=10)

        try:
            wait_until(lambda: _process_gone(sim_pid), 20, "the simulator to stop")
        except AssertionError as timeout:
            with contextlib.suppress(OSError):
                os.kill(sim_pid, signal.SIGUSR1)  # the simulator prints every thread's stack
                time.sleep(1)
            sim_log = tmp_path / "d" / "sim" / "simulator-output.log"
            tail = sim_log.read_text()[-4000:]
            raise AssertionError(f"the simulator outlived the demo; its output:\n{tail}") from timeout
    finally:
        if demo.poll() is None:
            demo.kill()
        if sim_pid is not None and not _process_gone(sim_pid):
            os.kill(sim_pid, signal.SIGKILL)
