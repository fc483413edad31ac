"""The venue's own SQLite file: client orders, ClOrdIDs, fills and positions per account.

Takes `VenueResult` values and writes what they changed in one transaction (stdlib sqlite3, WAL,
synchronous=NORMAL: durable against a process crash). The server calls `save` before it sends
any message of that result, so what a client was told is always on disk first. `load` gives the
state back for `Venue.restore` after a restart.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from simulator.venue import FillRecord, OrderRecord, Position, VenueResult, format_decimal

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    session_key TEXT NOT NULL,
    cl_ord_id TEXT NOT NULL,
    orig_cl_ord_id TEXT,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    ord_type TEXT NOT NULL,
    price TEXT,
    order_qty INTEGER NOT NULL,
    time_in_force TEXT NOT NULL,
    cum_qty INTEGER NOT NULL,
    leaves_qty INTEGER NOT NULL,
    avg_px TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER,
    trading_date TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account, status);
CREATE TABLE IF NOT EXISTS cl_ord_ids (
    account TEXT NOT NULL,
    cl_ord_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    PRIMARY KEY (account, cl_ord_id)
);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    session_key TEXT NOT NULL,
    order_id TEXT NOT NULL,
    cl_ord_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    last_qty INTEGER NOT NULL,
    last_px TEXT NOT NULL,
    transact_ns INTEGER NOT NULL,
    busted INTEGER NOT NULL DEFAULT 0,
    corrected_by TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_by_account ON fills (account, seq);
CREATE TABLE IF NOT EXISTS positions (
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    qty INTEGER NOT NULL,
    avg_px TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    PRIMARY KEY (account, symbol)
);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredState:
    boot: int
    orders: list[OrderRecord]
    cl_ord_ids: list[tuple[str, str, str]]
    fills: list[FillRecord]


class VenueStore:
    """One open connection, used only under the server's venue lock (any thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            # A corrupt or foreign file is the venue's truth gone bad: refuse it, never overwrite it.
            self._db.close()
            raise RuntimeError(
                f"{path}: not a usable SQLite database ({exc}); refusing to touch it. "
                "Move it away or choose another --state-dir."
            ) from exc
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{path}: schema version {version} is newer than this simulator ({SCHEMA_VERSION})"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM fills").fetchone()
        self._fill_seq: int = row[0]

    def start_boot(self) -> int:
        """Count this start: the boot number prefixes every id the venue hands out, so ids stay
        unique across restarts without writing a counter on every message."""
        with self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key='boot'").fetchone()
            boot = int(row[0]) + 1 if row else 1
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('boot', ?)", (str(boot),))
        return boot

    def save(self, result: VenueResult) -> None:
        if not result.needs_persisting:
            return
        with self._transaction():
            if result.orders:
                self._db.executemany(
                    "INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [_order_row(o) for o in result.orders.values()],
                )
            if result.cl_ord_ids:
                self._db.executemany("INSERT OR REPLACE INTO cl_ord_ids VALUES (?,?,?)", result.cl_ord_ids)
            for fill in result.fills.values():
                updated = self._db.execute(
                    "UPDATE fills SET last_qty=?, last_px=?, busted=?, corrected_by=? WHERE exec_id=?",
                    (fill.last_qty, str(fill.last_px), int(fill.busted), fill.corrected_by, fill.exec_id),
                ).rowcount
                if not updated:
                    self._fill_seq += 1
                    self._db.execute(
                        "INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            fill.exec_id,
                            fill.account,
                            fill.session_key,
                            fill.order_id,
                            fill.cl_ord_id,
                            fill.symbol,
                            str(fill.side),
                            fill.last_qty,
                            str(fill.last_px),
                            fill.transact_ns,
                            int(fill.busted),
                            fill.corrected_by,
                            self._fill_seq,
                        ),
                    )
            if result.positions:
                self._db.executemany(
                    "INSERT OR REPLACE INTO positions VALUES (?,?,?,?,?)",
                    [
                        (p.account, p.symbol, p.qty, format_decimal(p.avg_px), format_decimal(p.realized_pnl))
                        for p in result.positions.values()
                    ],
                )

    def load(self, boot: int) -> StoredState:
        orders = [
            _order_from_row(row) for row in self._db.execute("SELECT * FROM orders ORDER BY created_ns")
        ]
        cl_ord_ids = [(r[0], r[1], r[2]) for r in self._db.execute("SELECT * FROM cl_ord_ids")]
        fills = [
            FillRecord(
                exec_id=r[0],
                account=r[1],
                session_key=r[2],
                order_id=r[3],
                cl_ord_id=r[4],
                symbol=r[5],
                side=r[6],
                last_qty=r[7],
                last_px=Decimal(r[8]),
                transact_ns=r[9],
                busted=bool(r[10]),
                corrected_by=r[11],
            )
            for r in self._db.execute("SELECT * FROM fills ORDER BY seq")
        ]
        return StoredState(boot=boot, orders=orders, cl_ord_ids=cl_ord_ids, fills=fills)

    def positions(self) -> list[Position]:
        return [
            Position(account=r[0], symbol=r[1], qty=r[2], avg_px=Decimal(r[3]), realized_pnl=Decimal(r[4]))
            for r in self._db.execute("SELECT * FROM positions ORDER BY account, symbol")
        ]

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


def _order_row(order: OrderRecord) -> tuple[object, ...]:
    return (
        order.order_id,
        order.account,
        order.session_key,
        order.cl_ord_id,
        order.orig_cl_ord_id,
        order.symbol,
        str(order.side),
        order.ord_type,
        None if order.price is None else str(order.price),
        order.order_qty,
        order.time_in_force,
        order.cum_qty,
        order.leaves_qty,
        format_decimal(order.avg_px),
        str(order.status),
        order.priority,
        order.trading_date,
        order.created_ns,
        order.updated_ns,
        order.text,
    )


def _order_from_row(row: tuple[object, ...]) -> OrderRecord:
    (
        order_id,
        account,
        session_key,
        cl_ord_id,
        orig_cl_ord_id,
        symbol,
        side,
        ord_type,
        price,
        order_qty,
        time_in_force,
        cum_qty,
        leaves_qty,
        avg_px,
        status,
        priority,
        trading_date,
        created_ns,
        updated_ns,
        text,
    ) = row
    return OrderRecord(
        order_id=str(order_id),
        account=str(account),
        session_key=str(session_key),
        cl_ord_id=str(cl_ord_id),
        orig_cl_ord_id=None if orig_cl_ord_id is None else str(orig_cl_ord_id),
        symbol=str(symbol),
        side=str(side),
        ord_type=str(ord_type),
        price=None if price is None else Decimal(str(price)),
        order_qty=int(str(order_qty)),
        time_in_force=str(time_in_force),
        cum_qty=int(str(cum_qty)),
        leaves_qty=int(str(leaves_qty)),
        avg_px=Decimal(str(avg_px)),
        status=str(status),
        priority=None if priority is None else int(str(priority)),
        trading_date=str(trading_date),
        created_ns=int(str(created_ns)),
        updated_ns=int(str(updated_ns)),
        text=str(text),
    )
