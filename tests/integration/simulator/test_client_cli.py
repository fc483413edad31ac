"""`fixgw client` as a user runs it: a subprocess against the simulator subprocess over loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.client import Inbound, MarketDataView
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
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIXSIM_PASSWORD")}
    return subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "client", "--state-dir", str(state_dir), *args],
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


def test_market_data_view_applies_increments_after_the_snapshot_and_asks_again_after_a_gap() -> None:
    view = MarketDataView()
    bid = {269: "0", 270: "99.99", 271: "289"}
    ask = {269: "1", 270: "100.01", 271: "300"}
    trade = {269: "2", 270: "100.00", 271: "50"}
    snapshot = Inbound("W", {55: "ACME", 83: "10"}, (bid, ask, trade))
    assert view.apply_snapshot(snapshot)[0].startswith(
        "MarketDataSnapshotFullRefresh(35=W) ACME  bid 99.99 x 289 | ask 100.01 x 300  last 100.00 x 50"
    )

    already_in_snapshot = {279: "1", 269: "0", 55: "ACME", 270: "99.99", 271: "1", 83: "10"}
    better_bid = {279: "0", 269: "0", 55: "ACME", 270: "100.00", 271: "7", 83: "11"}
    ask_gone = {279: "2", 269: "1", 55: "ACME", 270: "100.01", 271: "0", 83: "12"}
    lines, gaps = view.apply_incremental(Inbound("X", {}, (already_in_snapshot, better_bid, ask_gone)))
    assert lines == ["ACME  bid 100.00 x 7 | ask -  last 100.00 x 50"]
    assert gaps == []

    lines, gaps = view.apply_incremental(Inbound("X", {}, ({**better_bid, 83: "14"},)))
    assert gaps == ["ACME"] and "RptSeq(83) gap (expected 13, got 14)" in lines[0]
    assert view.apply_incremental(Inbound("X", {}, ({**better_bid, 83: "15"},))) == ([], []), "stale until W"
