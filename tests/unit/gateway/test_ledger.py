"""The SQLite ledger: schema version, WAL, corrupt files refused, idempotent fills."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from gateway.domain.errors import LedgerError
from gateway.domain.fix_values import Side
from gateway.domain.orders import Fill
from gateway.ledger.schema import SCHEMA_VERSION
from gateway.ledger.store import open_ledger


def test_new_ledger_is_migrated_to_the_current_version_in_wal_mode(tmp_path):
    ledger = open_ledger(tmp_path / "l.sqlite")

    assert ledger.schema_version() == SCHEMA_VERSION
    mode = sqlite3.connect(tmp_path / "l.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_run_ids_increase_across_reopen(tmp_path):
    first = open_ledger(tmp_path / "l.sqlite")
    run_a = first.start_run(started_ns=1, config_path=None)
    first.close()
    second = open_ledger(tmp_path / "l.sqlite")

    assert second.start_run(started_ns=2, config_path=None) == run_a + 1


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "l.sqlite"
    path.write_bytes(b"important notes, not a database\n" * 10)

    with pytest.raises(LedgerError, match="not an SQLite database"):
        open_ledger(path)
    assert path.read_bytes().startswith(b"important notes")


def test_a_corrupt_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "l.sqlite"
    ledger = open_ledger(path)
    ledger.start_run(started_ns=1, config_path="x" * 5000)
    ledger.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the first page after the header
    path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"l.sqlite{suffix}").unlink(missing_ok=True)

    with pytest.raises(LedgerError, match=r"corrupt|unreadable"):
        open_ledger(path)


def test_a_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "l.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE notes (x)")

    with pytest.raises(LedgerError, match="no ledger schema version"):
        open_ledger(path)


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "l.sqlite"
    open_ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(LedgerError, match="newer"):
        open_ledger(path)


def test_the_same_fill_twice_is_stored_once(tmp_path):
    ledger = open_ledger(tmp_path / "l.sqlite")
    fill = Fill(
        session="S",
        exec_id="E1",
        order_key="1-1",
        cl_ord_id="1-1",
        order_id="O",
        symbol="ACME",
        side=Side.BUY,
        last_qty=5,
        last_px=Decimal("100.01"),
    )

    assert ledger.insert_fill(fill) is True
    assert ledger.insert_fill(fill) is False
    assert ledger.count("fills") == 1
    assert ledger.fill_amounts("ACME")[0].px == Decimal("100.01")
