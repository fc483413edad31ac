"""The ledger's WAL checkpointer: a background thread keeps the WAL bounded while the order path
commits with automatic checkpoints off, stops on close, and a crash loses no committed row."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from gateway.domain.fix_values import OrdStatus, Side
from gateway.domain.orders import Fill
from gateway.domain.positions import Position
from gateway.ledger.store import WAL_SIZE_LIMIT_BYTES, Ledger, open_ledger
from tests.unit.gateway.factories import limit_order

FILLS = 5_000
# An order's write-ahead and its fill commit write about 13 WAL frames of 1 KiB pages: 5,000
# orders without checkpoints leave a WAL of about 75 MiB. Written in a tight loop (about ten
# times the gateway's own peak rate) the checkpointer restarts the WAL within about 200 ms, so
# it peaks near 15 MiB; after a pause the next commit cuts it to the size limit.
WAL_PEAK_BOUND_BYTES = 32 * 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parents[3]


def _fill_order(ledger: Ledger, number: int) -> None:
    """What the order path commits for one order: the write-ahead, then fill + order + position."""
    key = f"1-{number}"
    order = limit_order(key, qty=1, created_ns=number)
    ledger.write_ahead_order(order)
    with ledger.transaction():
        ledger.insert_fill(
            Fill(
                session="S",
                exec_id=f"E{number}",
                order_key=key,
                cl_ord_id=key,
                order_id=f"O{number}",
                symbol="ACME",
                side=Side.BUY,
                last_qty=1,
                last_px=Decimal("101.5"),
            )
        )
        ledger.update_order(replace(order, status=OrdStatus.FILLED, cum_qty=1, leaves_qty=0))
        ledger.upsert_position(Position(symbol="ACME", qty=number, avg_cost=Decimal("101.5")), number)


def _open_with_a_run(db_path: Path) -> Ledger:
    ledger = open_ledger(db_path)
    ledger.start_run(started_ns=1, config_path=None)  # orders reference run 1
    return ledger


def _wal(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-wal")


def _checkpointer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ledger-checkpoint"]


def test_the_wal_stays_bounded_while_thousands_of_fills_commit(tmp_path: Path) -> None:
    db_path = tmp_path / "ledger.sqlite"
    ledger = _open_with_a_run(db_path)
    try:
        largest_wal = 0
        for number in range(1, FILLS + 1):
            _fill_order(ledger, number)
            if number % 250 == 0:
                largest_wal = max(largest_wal, _wal(db_path).stat().st_size)
        time.sleep(0.5)  # the checkpointer catches up; the next commit restarts the WAL
        _fill_order(ledger, FILLS + 1)
        final_wal = _wal(db_path).stat().st_size

        assert ledger.count("fills") == FILLS + 1
        assert largest_wal < WAL_PEAK_BOUND_BYTES, f"WAL grew to {largest_wal} bytes while writing"
        assert final_wal <= WAL_SIZE_LIMIT_BYTES + 64 * 1024, f"WAL still {final_wal} bytes after a pause"
        # the rows reached the main database file, not only the WAL: a reader that ignores
        # the WAL (immutable=1) sees nearly all of them
        uri = f"file:{db_path}?immutable=1"
        with sqlite3.connect(uri, uri=True) as main_file_only:
            in_main_file = main_file_only.execute("SELECT count(*) FROM fills").fetchone()[0]
        assert in_main_file >= FILLS // 2
    finally:
        ledger.close()


def test_without_the_checkpointer_the_hot_connection_would_let_the_wal_grow(tmp_path: Path) -> None:
    """The control for the test above: below its safety net (WAL_WRITER_CHECKPOINT_FRAMES) the
    order path's connection does not checkpoint itself."""
    db_path = tmp_path / "ledger.sqlite"
    ledger = _open_with_a_run(db_path)
    try:
        ledger._checkpoint_stop.set()  # stop the thread; the writer's own checkpoint is far off
        assert ledger._checkpointer is not None
        ledger._checkpointer.join(timeout=5)
        for number in range(1, 1_001):
            _fill_order(ledger, number)
        # 2,000 commits of several pages each, none copied back
        assert _wal(db_path).stat().st_size > 2 * WAL_SIZE_LIMIT_BYTES
    finally:
        ledger.close()


def test_the_checkpointer_starts_with_the_ledger_and_stops_on_close(tmp_path: Path) -> None:
    before = set(_checkpointer_threads())
    db_path = tmp_path / "ledger.sqlite"
    ledger = _open_with_a_run(db_path)
    started = [t for t in _checkpointer_threads() if t not in before]
    assert len(started) == 1 and started[0].daemon
    assert ledger.checkpointer_running
    ledger.start_checkpointer()  # idempotent: no second thread
    assert len([t for t in _checkpointer_threads() if t not in before]) == 1
    _fill_order(ledger, 1)

    ledger.close()

    assert not started[0].is_alive()
    assert not ledger.checkpointer_running
    # the last connection closed: everything is in the main file and the WAL is gone
    assert not _wal(db_path).exists() or _wal(db_path).stat().st_size == 0
    with sqlite3.connect(db_path) as reader:
        assert reader.execute("SELECT count(*) FROM fills").fetchone()[0] == 1


def test_a_ledger_opened_without_a_checkpointer_keeps_sqlite_automatic_checkpoints(tmp_path: Path) -> None:
    before = set(_checkpointer_threads())
    ledger = open_ledger(tmp_path / "ledger.sqlite", checkpoint_interval_s=None)
    try:
        assert not ledger.checkpointer_running
        assert [t for t in _checkpointer_threads() if t not in before] == []
        assert ledger._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    finally:
        ledger.close()


_CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, sys.argv[3])
    from tests.unit.gateway.test_ledger_checkpoint import _fill_order
    from tests.unit.gateway.test_ledger_checkpoint import _open_with_a_run
    from pathlib import Path

    ledger = _open_with_a_run(Path(sys.argv[1]))
    count = int(sys.argv[2])
    for number in range(1, count + 1):
        _fill_order(ledger, number)
        if number == count // 2:
            time.sleep(0.5)  # let the checkpointer copy the first half into the main file
    print(count, flush=True)
    os._exit(0)  # no close(), no final checkpoint: the last commits exist only in the WAL
    """
)


def test_a_crash_without_close_loses_no_committed_row(tmp_path: Path) -> None:
    db_path = tmp_path / "ledger.sqlite"
    count = 2_000
    done = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(db_path), str(count), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(count)
    # the crash left a WAL behind that still holds commits the main file does not have
    assert _wal(db_path).stat().st_size > 0
    uri = f"file:{db_path}?immutable=1"
    with sqlite3.connect(uri, uri=True) as main_file_only:
        in_main_file = main_file_only.execute("SELECT count(*) FROM fills").fetchone()[0]
    assert in_main_file < count

    reopened = open_ledger(db_path)
    try:
        assert reopened.count("fills") == count
        assert reopened.count("orders") == count
        assert reopened.count("order_requests") == count
        assert reopened.positions()["ACME"].qty == count
        statuses = reopened._db.execute("SELECT DISTINCT status FROM orders").fetchall()
        assert statuses == [(OrdStatus.FILLED.value,)]
    finally:
        reopened.close()
