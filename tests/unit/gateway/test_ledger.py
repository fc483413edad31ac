"""The SQLite ledger: schema version, WAL, corrupt files refused, idempotent fills."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from gateway.domain.errors import LedgerError
from gateway.domain.fix_values import Side
from gateway.domain.orders import Fill
from gateway.ledger.schema import MIGRATIONS, SCHEMA_VERSION
from gateway.ledger.store import _FINAL_STATUS_LIST, NEW_LEDGER_PAGE_SIZE, open_ledger
from tests.unit.gateway.factories import limit_order


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


def test_write_ahead_commits_the_order_and_its_new_order_single_request_in_one_statement(tmp_path):
    ledger = open_ledger(tmp_path / "l.sqlite")
    ledger.start_run(started_ns=1, config_path=None)

    ledger.write_ahead_order(limit_order("1-1"))

    # committed: another connection sees both rows
    with sqlite3.connect(tmp_path / "l.sqlite") as other:
        request = other.execute(
            "SELECT order_key, msg_type, order_qty, price, state, created_ns FROM order_requests"
            " WHERE cl_ord_id='1-1'"
        ).fetchone()
        assert other.execute("SELECT status FROM orders WHERE order_key='1-1'").fetchone() == ("A",)
    assert request == ("1-1", "D", 3, "101.5", "sent", 5)
    assert [o.order_key for o in ledger.live_orders()] == ["1-1"]


def test_write_ahead_inside_a_transaction_is_refused(tmp_path):
    ledger = open_ledger(tmp_path / "l.sqlite")
    ledger.start_run(started_ns=1, config_path=None)

    with pytest.raises(LedgerError, match="outside a transaction"), ledger.transaction():
        ledger.write_ahead_order(limit_order("1-1"))
    assert ledger.count("orders") == 0


def test_a_version_1_ledger_is_migrated_with_its_rows_kept(tmp_path):
    path = tmp_path / "l.sqlite"
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(MIGRATIONS[0])
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO runs (started_ns, pid) VALUES (1, 1)")
        db.execute(
            "INSERT INTO orders (order_key, cl_ord_id, run_id, venue, session, symbol, side, ord_type,"
            " tif, order_qty, status, leaves_qty, created_ns, updated_ns)"
            " VALUES ('1-1', '1-1', 1, 'SIM', 'S', 'ACME', '1', '2', '0', 3, '0', 3, 1, 1)"
        )
    db.close()

    ledger = open_ledger(path)

    assert ledger.schema_version() == SCHEMA_VERSION == 3
    assert [o.order_key for o in ledger.live_orders()] == ["1-1"]
    ledger.write_ahead_order(limit_order("2-1", created_ns=9))
    assert ledger.request("2-1") is not None
    assert [o.order_key for o in ledger.live_orders()] == ["1-1", "2-1"]
    indexes = {row[0] for row in ledger._db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "orders_live" in indexes and "orders_by_status" not in indexes


def test_live_orders_use_the_partial_index(tmp_path):
    ledger = open_ledger(tmp_path / "l.sqlite")
    plan = ledger._db.execute(
        f"EXPLAIN QUERY PLAN SELECT order_key FROM orders WHERE status NOT IN {_FINAL_STATUS_LIST}"
        " ORDER BY created_ns"
    ).fetchall()

    assert "orders_live" in str(plan)


def test_a_new_ledger_gets_small_pages_and_an_existing_one_keeps_its_own(tmp_path):
    fresh = open_ledger(tmp_path / "new.sqlite")
    assert fresh._db.execute("PRAGMA page_size").fetchone()[0] == NEW_LEDGER_PAGE_SIZE
    fresh.close()
    old_path = tmp_path / "old.sqlite"
    with sqlite3.connect(old_path) as db:
        db.execute("PRAGMA page_size = 4096")
        db.execute("VACUUM")
    db.close()

    reopened = open_ledger(old_path)

    assert reopened._db.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert reopened.schema_version() == SCHEMA_VERSION
