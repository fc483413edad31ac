"""`fixgw run` stopping on SIGTERM with orders resting at the real simulator: with [orders]
cancel_on_stop (the default) it cancels them, waits for the answers and says so on its last
line; with cancel_on_stop = false it leaves them at the venue and names them; with
keep_gtc_on_stop = true it cancels all but the GTC ones, and names those.

The built-in strategy places the orders (one in three joins the touch and rests); its
reprice/cancel timers are pushed out of reach so that only the stop can end a resting order. Once
an order rests, the market is paused (no background trading, no market data, so no new
decisions): the set of working orders is then fixed, and the test compares it before and after
the stop. The GTC case needs orders the strategy does not send: they are placed by an
in-process gateway on the same ledger, and `fixgw run` takes them over at its start.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from tests.integration.gateway.harness import (
    REPO_ROOT,
    assert_ledger_matches_venue,
    load,
    oms_of,
    running_gateway,
    wait_until,
    write_gateway_toml,
)
from tests.support.sim_process import SimulatorProcess, start_simulator

FINAL = ("2", "4", "8", "C")  # OrdStatus(39) values after which an order works no more
NO_ORDERS_LINE = "fixgw run: stopping with no orders working"


def write_config(directory: Path, port: int, orders: str = "") -> Path:
    """A gateway TOML with the built-in strategy trading, whose resting orders are never
    repriced or cancelled by the strategy (only by the stop), plus an [orders] table."""
    path = write_gateway_toml(
        directory, port, strategy=True, order_interval_ms=50, extra=f"\n[orders]\n{orders}\n"
    )
    text = path.read_text(encoding="utf-8")
    for old, new in (
        ("replace_after_ms = 150", "replace_after_ms = 600000"),
        ("cancel_after_ms = 400", "cancel_after_ms = 600000"),
    ):
        assert old in text, f"the harness TOML no longer has {old!r}"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def fixgw_run(config: Path, directory: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`fixgw run --config ... --quiet` as a subprocess, stdout to a file (stderr to another);
    killed on the way out if the test left it running."""
    stdout, stderr = directory / "run-stdout.txt", directory / "run-stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "fixgw.cli", "run", "--config", str(config), "--quiet"],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=err,
        )
    try:
        yield process, stdout
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def query(ledger: Path, sql: str) -> list[Any]:
    with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)) as db:
        return db.execute(sql).fetchall()


def ledger_live(ledger: Path) -> dict[str, tuple[str, str, str]]:
    """Live orders: OrderID(37) (or the order key before the venue answered) -> (order_key,
    cl_ord_id, pending)."""
    rows = query(
        ledger,
        "SELECT order_key, cl_ord_id, order_id, pending FROM orders "
        f"WHERE status NOT IN ({','.join(repr(s) for s in FINAL)})",
    )
    return {(r[2] or r[0]): (r[0], r[1], r[3]) for r in rows}


def venue_working(sim: SimulatorProcess) -> dict[str, dict[str, Any]]:
    """The venue's working orders of account FIXGW, by OrderID(37)."""
    return {o["order_id"]: o for o in sim.control.orders("FIXGW") if o["status"] not in FINAL}


def rest_an_order(sim: SimulatorProcess, ledger: Path, attempts: int = 5) -> dict[str, tuple[str, str, str]]:
    """Let the strategy trade until it has a fill (so the fill-by-fill check has something to
    compare) and an order rests, then pause the market and wait until the ledger's live orders,
    none with a request in flight, are exactly the venue's working ones and stay so. Returns
    them. If everything filled by then, resume and try again."""
    for _ in range(attempts):
        wait_until(
            lambda: query(ledger, "SELECT count(*) FROM fills") != [(0,)] and ledger_live(ledger),
            30,
            "a fill and a live order",
        )
        sim.control.pause_market()
        previous: dict[str, tuple[str, str, str]] | None = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            live = ledger_live(ledger)
            settled = all(not pending for _, _, pending in live.values()) and live.keys() == set(
                venue_working(sim)
            )
            if settled and live == previous:
                break
            previous = live if settled else None
            time.sleep(0.3)
        else:
            raise AssertionError(
                f"ledger and venue did not settle: {ledger_live(ledger)} vs {venue_working(sim)}"
            )
        if previous:
            return previous
        sim.control.resume_market()
    raise AssertionError(f"no order stayed resting in {attempts} attempts")


def is_resting(gateway: Any, cl_ord_id: str) -> bool:
    """The order is New at the venue, nothing in flight (for wait_until)."""
    order = oms_of(gateway).order(cl_ord_id)
    return order is not None and order.status.value == "0" and not order.pending


def stop(process: subprocess.Popen[bytes], stdout: Path) -> list[str]:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=45) == 0, stdout.read_text(errors="replace")
    return stdout.read_text(errors="replace").splitlines()


def test_sigterm_cancels_the_working_orders_and_says_none_is_left(tmp_path):
    sim = start_simulator(tmp_path, md_interval_ms=50)
    try:
        gw = tmp_path / "gw"
        config = write_config(gw, sim.port)
        ledger = gw / "state" / "ledger.sqlite"
        with fixgw_run(config, tmp_path) as (process, stdout):
            wait_until(lambda: "fixgw run: run" in stdout.read_text(errors="replace"), 30, "the run to start")
            resting = rest_an_order(sim, ledger)
            lines = stop(process, stdout)

        assert lines[-1] == NO_ORDERS_LINE, lines
        assert ledger_live(ledger) == {}
        assert venue_working(sim) == {}
        # what rested was cancelled, at the venue and in the ledger, by a cancel the stop sent
        venue_status = {o["order_id"]: o["status"] for o in sim.control.orders("FIXGW")}
        for order_id, (order_key, _, _) in resting.items():
            assert venue_status[order_id] == "4", (order_id, venue_status[order_id])
            [(status,)] = query(ledger, f"SELECT status FROM orders WHERE order_key = '{order_key}'")
            assert status == "4", (order_key, status)
            cancels = query(
                ledger,
                f"SELECT state FROM order_requests WHERE order_key = '{order_key}' AND msg_type = 'F'",
            )
            assert cancels == [("accepted",)], (order_key, cancels)
        assert "working order(s): winding down" in (gw / "state" / "gateway.log").read_text()
        assert assert_ledger_matches_venue(ledger, sim.control) > 0
    finally:
        sim.stop()


def test_sigterm_with_cancel_on_stop_off_leaves_the_orders_working_and_names_them(tmp_path):
    sim = start_simulator(tmp_path, md_interval_ms=50)
    try:
        gw = tmp_path / "gw"
        config = write_config(gw, sim.port, orders="cancel_on_stop = false")
        ledger = gw / "state" / "ledger.sqlite"
        with fixgw_run(config, tmp_path) as (process, stdout):
            wait_until(lambda: "fixgw run: run" in stdout.read_text(errors="replace"), 30, "the run to start")
            resting = rest_an_order(sim, ledger)
            lines = stop(process, stdout)

        heading = f"fixgw run: stopping with {len(resting)} order(s) still working:"
        assert heading in lines, lines
        named = lines[lines.index(heading) + 1 :]
        assert len(named) == len(resting) and all(line.startswith("  ") for line in named), lines
        assert {line.split()[0] for line in named} == {cl for _, cl, _ in resting.values()}
        # the orders are still working at the venue and live in the ledger, nothing was cancelled
        assert venue_working(sim).keys() == resting.keys()
        assert ledger_live(ledger) == resting
        assert query(ledger, "SELECT count(*) FROM order_requests WHERE msg_type = 'F'") == [(0,)]
        assert assert_ledger_matches_venue(ledger, sim.control) > 0
    finally:
        sim.stop()


def test_sigterm_with_keep_gtc_on_stop_cancels_the_day_order_and_leaves_the_gtc_one(tmp_path):
    sim = start_simulator(tmp_path, md_interval_ms=50)
    try:
        gw = tmp_path / "gw"
        config = write_gateway_toml(gw, sim.port, extra="\n[orders]\nkeep_gtc_on_stop = true\n")
        ledger = gw / "state" / "ledger.sqlite"
        wait_until(lambda: (b := sim.control.book("ACME", 5))["bids"] and b["asks"], 10, "a two-sided book")
        sim.control.pause_market()
        price = Decimal(sim.control.book("ACME", 5)["bids"][-1][0]) - 20 * Decimal("0.01")

        # an earlier run leaves a GTC and a Day buy resting far below the touch
        with running_gateway(load(config, sim.port)) as gateway:
            placed = {}
            for tif, qty in (("1", 2), ("0", 3)):
                result = oms_of(gateway).submit(
                    symbol="ACME", side="1", qty=qty, ord_type="2", price=price, tif=tif
                )
                assert result.accepted and result.cl_ord_id, result.reason
                placed[tif] = result.cl_ord_id
            for cl_ord_id in placed.values():
                wait_until(partial(is_resting, gateway, cl_ord_id), 10, f"{cl_ord_id} to rest")
        assert len(venue_working(sim)) == 2

        # `fixgw run` takes them over (their status asked at logon), then is stopped
        with fixgw_run(config, tmp_path) as (process, stdout):
            wait_until(
                lambda: (
                    query(ledger, "SELECT count(*) FROM execution_reports WHERE exec_type = 'I'")[0][0] >= 2
                ),
                30,
                "the status replies at logon",
            )
            lines = stop(process, stdout)

        gtc, day = placed["1"], placed["0"]
        assert lines[-2] == "fixgw run: stopping with 1 order(s) still working:", lines
        assert lines[-1].startswith(f"  {gtc} ACME BUY 2@") and " GTC " in lines[-1], lines
        statuses = dict(query(ledger, "SELECT order_key, status FROM orders"))
        assert statuses == {gtc: "0", day: "4"}, statuses
        [working] = venue_working(sim).values()
        assert (working["cl_ord_id"], working["time_in_force"]) == (gtc, "1"), working
        assert assert_ledger_matches_venue(ledger, sim.control) == 0
    finally:
        sim.stop()
