"""`fixgw client` as a user runs it: a subprocess against the simulator subprocess over loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sim_process import REPO_ROOT, SimulatorProcess, free_port, start_simulator

CLIENT_TIMEOUT_S = 30


@pytest.fixture(scope="module")  # not "sim": conftest.py gives that name to an in-process simulator
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    process = start_simulator(tmp_path_factory.mktemp("client-sim"))
    try:
        yield process
    finally:
        process.stop()


def run_client(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "FIXSIM_PASSWORD"}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "client", "--state-dir", str(state_dir), *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
    )


def test_client_subscribes_trades_and_reports_the_position_the_venue_holds(
    simulator: SimulatorProcess, tmp_path: Path
) -> None:
    result = run_client(
        "--port", str(simulator.port), "--md", "ACME", "--buy", "ACME", "10", "--positions", "--seconds", "1",
        state_dir=tmp_path / "client",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert re.search(
        r"MarketDataSnapshotFullRefresh\(35=W\) ACME\s+bid \d+\.\d+ x \d+ \| ask \d+\.\d+ x \d+", output
    )
    fill = re.search(
        r"ExecutionReport\(35=8\) ClOrdID=\S+ .*ExecType=F\(Trade\) OrdStatus=2\(Filled\).*", output
    )
    assert fill, output
    assert "LastQty=10" in fill.group(0) and "CumQty=10" in fill.group(0) and "LeavesQty=0" in fill.group(0)
    venue_position = simulator.control.positions("CLIENT1")["ACME"]
    assert venue_position["qty"] == 10
    assert f"PositionReport(35=AP) ACME long 10 short 0 avg {venue_position['avg_px']}" in output
    assert output.rstrip().endswith("logged out")
    assert result.stderr == ""


def test_an_unknown_sender_is_refused_with_one_clear_line(
    simulator: SimulatorProcess, tmp_path: Path
) -> None:
    result = run_client(
        "--port", str(simulator.port), "--sender", "NOBODY", "--positions", state_dir=tmp_path / "c"
    )

    assert result.returncode != 0
    assert result.stderr.startswith("fixgw client: logon refused"), result.stderr
    assert "SenderCompID=NOBODY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_no_listener_and_bad_arguments_give_one_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    closed = run_client("--port", str(free_port()), "--positions", state_dir=tmp_path / "c")
    assert closed.returncode == 1
    assert closed.stderr.startswith("fixgw client: cannot connect to 127.0.0.1:"), closed.stderr

    bad = run_client("--buy", "ACME", "ten", state_dir=tmp_path / "c")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "fixgw client: --buy: quantity 'ten' is not a whole number (see --help)"
