"""The ledger: one SQLite database per gateway, on the order path.

Takes a path; gives a `Ledger` whose methods write with stdlib sqlite3 and prepared statements
(sqlite-utils is for reports and tooling, it is too slow here). WAL mode; `synchronous=NORMAL`
survives a process crash (FULL also a power loss). Writes that belong together happen inside
`transaction()`, so a fill, its ExecutionReport, its order update and its position commit
together or not at all. One connection, used under the caller's lock (the order manager's).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from fixcore.files import owner_only, private_sqlite
from gateway.domain.errors import LedgerError
from gateway.domain.events import CancelRejected, ExecutionReported
from gateway.domain.fix_values import FINAL_STATUSES, ExecType, OrdStatus, OrdType, Side, TimeInForce
from gateway.domain.orders import Fill, Order, OrderRequest
from gateway.domain.positions import FillAmount, Position
from gateway.ledger.schema import MIGRATIONS, SCHEMA_VERSION

SQLITE_MAGIC = b"SQLite format 3\x00"
# final OrdStatus(39) values as an SQL list literal; must match the partial index orders_live
_FINAL_STATUS_LIST = "(" + ", ".join(f"'{s.value}'" for s in sorted(FINAL_STATUSES)) + ")"
CHECKPOINT_INTERVAL_S = 0.2
# past this many WAL frames (pages) the checkpointer restarts the WAL (4 MiB with 1 KiB pages)
CHECKPOINT_RESTART_FRAMES = 4000
# past this size the writing thread restarts the WAL itself, looking every WAL_CHECK_COMMITS writes
WAL_WRITER_LIMIT_BYTES = 16 * 1024 * 1024
WAL_CHECK_COMMITS = 64
# how long the writer waits for the checkpointer thread's own checkpoint to finish
WAL_RESTART_WAIT_S = 0.5
# the commit that starts a restarted WAL over cuts the file back to this size
WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024
# how long a RESTART checkpoint waits for a gap between two commits (the writer is not held
# while it waits, only once it has the gap)
CHECKPOINT_RESTART_WAIT_MS = 200
# while the WAL holds more than a quarter of the restart threshold, check again this soon
CHECKPOINT_BUSY_INTERVAL_S = 0.02
NEW_LEDGER_PAGE_SIZE = 1024
log = logging.getLogger("fixgw.ledger")


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _to_dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _check_file(path: Path) -> None:
    """A file that exists must be an SQLite database: never overwrite or migrate anything else."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise LedgerError(
            f"{path}: is not an SQLite database (it starts with {head[:16]!r}); "
            "refusing to use it as the ledger. Move it away or point [ledger] path elsewhere."
        )


class Ledger:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._in_transaction = False
        self._checkpoint_stop = threading.Event()
        # The writer's own bound on the WAL: the checkpointer's RESTART cannot find a gap
        # between commits made back to back (the writer re-takes the lock before a busy handler
        # wakes up), and it looks only every few milliseconds while the WAL can grow by 100 MB/s.
        # Every WAL_CHECK_COMMITS commits the writer looks at the WAL file's size (one stat) and,
        # past WAL_WRITER_LIMIT_BYTES, restarts it itself: only under sustained overload.
        self._wal_path = path.with_name(path.name + "-wal")
        self._commits_unchecked = 0
        self._checkpointer: threading.Thread | None = None
        # a ledger dropped without close() still stops its checkpointer when it is collected
        weakref.finalize(self, self._checkpoint_stop.set)

    # --- lifecycle -------------------------------------------------------------------------

    def start_checkpointer(
        self, interval_s: float = CHECKPOINT_INTERVAL_S, restart_wal_frames: int = CHECKPOINT_RESTART_FRAMES
    ) -> None:
        """Move WAL checkpoints off the order path (open_ledger calls this).

        SQLite's automatic checkpoint (every 1000 WAL pages) runs inside the COMMIT that crosses
        the threshold, on the caller's thread: on the QuickFIX callback thread that made COMMIT
        p99 about 100 times its p50. So the hot connection stops auto-checkpointing, and a daemon
        thread with its own connection runs `PRAGMA wal_checkpoint(PASSIVE)` every `interval_s`.
        PASSIVE never waits for or blocks a writer, and the sqlite3 module releases the GIL while
        SQLite works, so the order path waits neither on the checkpoint nor on this thread. Once
        a checkpoint has copied every frame, the next commit starts the WAL file over from its
        beginning; if sustained writes never leave it that chance, a RESTART checkpoint past
        `restart_wal_frames` frames does, so the WAL file stays bounded.

        Durability is unchanged: a commit is durable when its frames are in the WAL, under the
        configured `synchronous` setting, exactly as before; a checkpoint only copies committed
        pages into the main file. After a crash the WAL stays on disk and SQLite replays it on
        the next open. Idempotent."""
        if self._checkpointer is not None:
            return
        self._db.execute("PRAGMA wal_autocheckpoint = 0")
        # after a burst the WAL file would keep its largest size; the commit that restarts it
        # truncates it back to this (one fstat per restart when it is already smaller)
        self._db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
        self._checkpoint_stop.clear()
        # the thread gets the path and the event, not the Ledger, so a ledger dropped without
        # close() can still be collected (and its finalizer stop the thread)
        self._checkpointer = threading.Thread(
            target=_checkpoint_loop,
            args=(self.path, self._checkpoint_stop, interval_s, restart_wal_frames),
            name="ledger-checkpoint",
            daemon=True,
        )
        self._checkpointer.start()

    @property
    def checkpointer_running(self) -> bool:
        return self._checkpointer is not None and self._checkpointer.is_alive()

    def close(self) -> None:
        """Stop the checkpointer (it runs a last PASSIVE checkpoint), then close the connection;
        closing the last connection to the file checkpoints and removes the WAL."""
        self._checkpoint_stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
            if self._checkpointer.is_alive():
                log.warning("ledger checkpointer did not stop within 5 s")
            self._checkpointer = None
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, or ROLLBACK if the body raises. Not re-entrant on purpose."""
        if self._in_transaction:
            raise LedgerError("nested ledger transaction")
        self._bound_wal()
        self._db.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._in_transaction = False

    def schema_version(self) -> int:
        row = self._db.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def start_run(self, *, started_ns: int, config_path: str | None) -> int:
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (started_ns, pid, config_path) VALUES (?, ?, ?)",
                (started_ns, os.getpid(), config_path),
            )
        run_id = cursor.lastrowid
        assert run_id is not None
        return run_id

    # --- orders ----------------------------------------------------------------------------

    def _bound_wal(self) -> None:
        """Before a write: every WAL_CHECK_COMMITS writes, restart a WAL past its limit."""
        self._commits_unchecked += 1
        if self._commits_unchecked < WAL_CHECK_COMMITS or self._checkpointer is None:
            return
        self._commits_unchecked = 0
        try:
            size = os.stat(self._wal_path).st_size
        except OSError:
            return
        if size > WAL_WRITER_LIMIT_BYTES:
            self._restart_wal()

    def _restart_wal(self) -> None:
        """Checkpoint every WAL frame and start the WAL over, from the writing connection (no
        commit of its own can get in between); the file is cut back to WAL_SIZE_LIMIT_BYTES."""
        # The checkpointer thread may be inside a checkpoint of its own (only one runs at a time,
        # and the other gets SQLITE_BUSY at once): wait for it, briefly, without writing.
        deadline = time.monotonic() + WAL_RESTART_WAIT_S
        while True:
            try:
                busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            except sqlite3.Error as exc:
                log.warning("ledger WAL restart by the writer failed: %s", exc)
                return
            if not busy or time.monotonic() >= deadline:
                break
            time.sleep(0.001)
        log.info(
            "ledger WAL restarted by the writer: %s of %s frames copied%s",
            copied,
            frames,
            " (still busy: next time)" if busy else "",
        )

    def write_ahead_order(self, order: Order) -> None:
        """Commit a new order and its NewOrderSingle(35=D) request (the trigger
        orders_opening_request adds the request) in one statement, hence one implicit
        transaction: both rows or neither, one commit. Called outside `transaction()`."""
        if self._in_transaction:
            raise LedgerError("write_ahead_order commits by itself; call it outside a transaction")
        self._bound_wal()
        self.insert_order(order)

    def insert_order(self, order: Order) -> None:
        """Insert an order row (its 35=D request comes with it, see write_ahead_order)."""
        self._db.execute(
            "INSERT INTO orders (order_key, cl_ord_id, run_id, venue, session, symbol, side, ord_type,"
            " tif, price, order_qty, status, order_id, cum_qty, leaves_qty, avg_px, pending,"
            " decision_id, last_text, created_ns, updated_ns)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                order.order_key,
                order.cl_ord_id,
                order.run_id,
                order.venue,
                order.session,
                order.symbol,
                order.side.value,
                order.ord_type.value,
                order.tif.value,
                _dec(order.price),
                order.order_qty,
                order.status.value,
                order.order_id,
                order.cum_qty,
                order.leaves_qty,
                _dec(order.avg_px),
                order.pending,
                order.decision_id,
                order.last_text,
                order.created_ns,
                order.updated_ns,
            ),
        )

    def update_order(self, order: Order) -> None:
        self._db.execute(
            "UPDATE orders SET cl_ord_id=?, price=?, order_qty=?, status=?, order_id=?, cum_qty=?,"
            " leaves_qty=?, avg_px=?, pending=?, last_text=?, updated_ns=? WHERE order_key=?",
            (
                order.cl_ord_id,
                _dec(order.price),
                order.order_qty,
                order.status.value,
                order.order_id,
                order.cum_qty,
                order.leaves_qty,
                _dec(order.avg_px),
                order.pending,
                order.last_text,
                order.updated_ns,
                order.order_key,
            ),
        )

    def insert_request(self, request: OrderRequest) -> None:
        self._db.execute(
            "INSERT INTO order_requests (cl_ord_id, order_key, msg_type, orig_cl_ord_id, order_qty, price,"
            " state, created_ns, updated_ns) VALUES (?,?,?,?,?,?,'sent',?,?)",
            (
                request.cl_ord_id,
                request.order_key,
                request.msg_type,
                request.orig_cl_ord_id,
                request.order_qty,
                _dec(request.price),
                request.created_ns,
                request.created_ns,
            ),
        )

    def set_request_state(self, cl_ord_id: str, state: str, reason: str | None, now_ns: int) -> None:
        self._db.execute(
            "UPDATE order_requests SET state=?, reason=?, updated_ns=? WHERE cl_ord_id=?",
            (state, reason, now_ns, cl_ord_id),
        )

    def request(self, cl_ord_id: str) -> OrderRequest | None:
        row = self._db.execute(
            "SELECT cl_ord_id, order_key, msg_type, orig_cl_ord_id, order_qty, price, created_ns"
            " FROM order_requests WHERE cl_ord_id=?",
            (cl_ord_id,),
        ).fetchone()
        if row is None:
            return None
        return OrderRequest(
            cl_ord_id=row[0],
            order_key=row[1],
            msg_type=row[2],
            orig_cl_ord_id=row[3],
            order_qty=row[4],
            price=_to_dec(row[5]),
            created_ns=row[6],
        )

    def latest_request(self, order_key: str, msg_types: tuple[str, ...]) -> OrderRequest | None:
        """The newest request of one of these MsgTypes for an order (to find, after a restart,
        the cancel or replace an order was left waiting for)."""
        marks = ",".join("?" * len(msg_types))
        row = self._db.execute(
            "SELECT cl_ord_id, order_key, msg_type, orig_cl_ord_id, order_qty, price, created_ns"
            f" FROM order_requests WHERE order_key=? AND msg_type IN ({marks})"
            " ORDER BY created_ns DESC, rowid DESC LIMIT 1",
            (order_key, *msg_types),
        ).fetchone()
        if row is None:
            return None
        return OrderRequest(
            cl_ord_id=row[0],
            order_key=row[1],
            msg_type=row[2],
            orig_cl_ord_id=row[3],
            order_qty=row[4],
            price=_to_dec(row[5]),
            created_ns=row[6],
        )

    _ORDER_COLUMNS = (
        "order_key, cl_ord_id, run_id, venue, session, symbol, side, ord_type, tif, price, order_qty,"
        " status, order_id, cum_qty, leaves_qty, avg_px, pending, decision_id, last_text, created_ns,"
        " updated_ns"
    )

    @staticmethod
    def _order_from_row(row: Any) -> Order:
        return Order(
            order_key=row[0],
            cl_ord_id=row[1],
            run_id=row[2],
            venue=row[3],
            session=row[4],
            symbol=row[5],
            side=Side(row[6]),
            ord_type=OrdType(row[7]),
            tif=TimeInForce(row[8]),
            price=_to_dec(row[9]),
            order_qty=row[10],
            status=OrdStatus(row[11]),
            order_id=row[12],
            cum_qty=row[13],
            leaves_qty=row[14],
            avg_px=_to_dec(row[15]),
            pending=row[16],
            decision_id=row[17],
            last_text=row[18],
            created_ns=row[19],
            updated_ns=row[20],
        )

    def order(self, order_key: str) -> Order | None:
        row = self._db.execute(
            f"SELECT {self._ORDER_COLUMNS} FROM orders WHERE order_key=?", (order_key,)
        ).fetchone()
        return None if row is None else self._order_from_row(row)

    def live_orders(self) -> list[Order]:
        # the same literal list as the partial index orders_live, so SQLite can use it
        rows = self._db.execute(
            f"SELECT {self._ORDER_COLUMNS} FROM orders WHERE status NOT IN {_FINAL_STATUS_LIST}"
            " ORDER BY created_ns"
        ).fetchall()
        return [self._order_from_row(row) for row in rows]

    def request_keys(self, order_keys: list[str]) -> list[tuple[str, str]]:
        """(cl_ord_id, order_key) of every request of the given orders."""
        result: list[tuple[str, str]] = []
        for key in order_keys:
            result += self._db.execute(
                "SELECT cl_ord_id, order_key FROM order_requests WHERE order_key=?", (key,)
            ).fetchall()
        return result

    # --- execution reports, fills, positions -----------------------------------------------

    def insert_execution_report(
        self,
        report: ExecutionReported,
        *,
        order_key: str | None,
        fits: bool,
        late: bool,
        trade_date: str | None = None,
    ) -> int | None:
        """Store one ExecutionReport; its row id, or None if it is a duplicate: the same
        session, order chain, ExecID(17) and trading day were stored already. Order-status
        reports (ExecType=I, ExecID 0 by the FIX 4.4 rule) are never duplicates."""
        trade_date = trade_date or report.trading_day()
        dedup_key = (
            None
            if report.exec_type is ExecType.ORDER_STATUS
            else f"{report.session}\x1f{report.exec_id}\x1f{order_key or ''}\x1f{trade_date}"
        )
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO execution_reports (session, exec_id, order_key, cl_ord_id,"
            " orig_cl_ord_id, order_id, exec_type, ord_status, symbol, side, last_qty, last_px, cum_qty,"
            " leaves_qty, exec_ref_id, poss_dup, transact_time, recv_ns, seq_num, fits, late, raw,"
            " trade_date, dedup_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                report.session,
                report.exec_id,
                order_key,
                report.cl_ord_id,
                report.orig_cl_ord_id,
                report.order_id,
                report.exec_type.value,
                report.ord_status.value,
                report.symbol,
                report.side.value,
                report.last_qty,
                _dec(report.last_px),
                report.cum_qty,
                report.leaves_qty,
                report.exec_ref_id,
                int(report.poss_dup),
                report.transact_time,
                report.recv_ns,
                report.seq_num,
                int(fits),
                int(late),
                report.raw,
                trade_date,
                dedup_key,
            ),
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def has_execution_report(self, session: str, exec_id: str) -> bool:
        """A report with this ExecID was stored on the session (status reports aside): a range
        over the dedup key's (session, ExecID) prefix, on its index."""
        prefix = f"{session}\x1f{exec_id}\x1f"
        row = self._db.execute(
            "SELECT 1 FROM execution_reports WHERE dedup_key >= ? AND dedup_key < ? LIMIT 1",
            (prefix, prefix + "\U0010ffff"),
        ).fetchone()
        return row is not None

    def insert_fill(self, fill: Fill) -> bool:
        """Book a fill; False if this (order chain, ExecID, session, trading day) is booked."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO fills (session, exec_id, order_key, cl_ord_id, order_id, symbol, side,"
            " last_qty, last_px, orig_last_qty, orig_last_px, transact_time, recv_ns, trade_date,"
            " inferred, evidence_report_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                fill.session,
                fill.exec_id,
                fill.order_key,
                fill.cl_ord_id,
                fill.order_id,
                fill.symbol,
                fill.side.value,
                fill.last_qty,
                str(fill.last_px),
                fill.last_qty,
                str(fill.last_px),
                fill.transact_time,
                fill.recv_ns,
                fill.trade_date,
                int(fill.inferred),
                fill.evidence_report_id,
            ),
        )
        return cursor.rowcount == 1

    def fill(self, session: str, exec_id: str, order_key: str | None = None) -> Fill | None:
        """The latest real fill with this ExecID on the session (of this order chain, when given:
        ExecIDs repeat across trading days, never within one order's life)."""
        sql = (
            "SELECT order_key, cl_ord_id, order_id, symbol, side, last_qty, last_px, busted,"
            " transact_time, recv_ns, trade_date, id FROM fills WHERE session=? AND exec_id=? AND inferred=0"
        )
        args: tuple[str, ...] = (session, exec_id)
        if order_key is not None:
            sql += " AND order_key=?"
            args += (order_key,)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return Fill(
            session=session,
            exec_id=exec_id,
            order_key=row[0],
            cl_ord_id=row[1],
            order_id=row[2],
            symbol=row[3],
            side=Side(row[4]),
            last_qty=row[5],
            last_px=Decimal(row[6]),
            busted=bool(row[7]),
            transact_time=row[8],
            recv_ns=row[9],
            trade_date=row[10],
            fill_id=row[11],
        )

    def bust_fill(self, fill_id: int, busted_by: str) -> None:
        self._db.execute("UPDATE fills SET busted=1, busted_by=? WHERE id=?", (busted_by, fill_id))

    def correct_fill(self, fill_id: int, *, last_qty: int, last_px: Decimal, corrected_by: str) -> None:
        self._db.execute(
            "UPDATE fills SET last_qty=?, last_px=?, corrected_by=? WHERE id=?",
            (last_qty, str(last_px), corrected_by, fill_id),
        )

    def orders_with_open_inference(self) -> set[str]:
        """Order keys that still have inferred quantity a real fill may supersede."""
        rows = self._db.execute(
            "SELECT DISTINCT order_key FROM fills WHERE inferred = 1 AND last_qty > 0 AND busted = 0"
        ).fetchall()
        return {r[0] for r in rows}

    def open_inferred_fills(self, order_key: str) -> list[tuple[int, int]]:
        """(fill id, quantity still inferred) of an order's inferred fills, oldest first."""
        return self._db.execute(
            "SELECT id, last_qty FROM fills WHERE order_key=? AND inferred = 1 AND last_qty > 0"
            " AND busted = 0 ORDER BY id",
            (order_key,),
        ).fetchall()

    def supersede_inferred(self, fill_id: int, *, remaining_qty: int, by_exec_id: str) -> None:
        """A real fill replaced `qty - remaining_qty` of an inferred fill."""
        self._db.execute(
            "UPDATE fills SET last_qty=?, superseded_by=trim(coalesce(superseded_by, '') || ' ' || ?)"
            " WHERE id=?",
            (remaining_qty, by_exec_id, fill_id),
        )

    def fill_amounts(self, symbol: str) -> list[FillAmount]:
        """The symbol's live (not busted) fills in arrival order, for refolding its position."""
        rows = self._db.execute(
            "SELECT side, last_qty, last_px FROM fills WHERE symbol=? AND busted=0 ORDER BY id", (symbol,)
        ).fetchall()
        return [FillAmount(signed_qty=Side(r[0]).sign * r[1], px=Decimal(r[2])) for r in rows]

    def order_fill_totals(self, order_key: str) -> tuple[int, Decimal | None]:
        """(cum qty, average price) of an order's live fills."""
        rows = self._db.execute(
            "SELECT last_qty, last_px FROM fills WHERE order_key=? AND busted=0", (order_key,)
        ).fetchall()
        qty = sum(r[0] for r in rows)
        if qty == 0:
            return 0, None
        notional = sum((Decimal(r[1]) * r[0] for r in rows), Decimal(0))
        return qty, notional / qty

    def upsert_position(self, position: Position, now_ns: int) -> None:
        self._db.execute(
            "INSERT INTO positions (symbol, qty, avg_cost, realized_pnl, mark_px, unrealized_pnl, updated_ns)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(symbol) DO UPDATE SET qty=excluded.qty,"
            " avg_cost=excluded.avg_cost, realized_pnl=excluded.realized_pnl, mark_px=excluded.mark_px,"
            " unrealized_pnl=excluded.unrealized_pnl, updated_ns=excluded.updated_ns",
            (
                position.symbol,
                position.qty,
                str(position.avg_cost),
                str(position.realized_pnl),
                _dec(position.mark_px),
                str(position.unrealized_pnl),
                now_ns,
            ),
        )

    def positions(self) -> dict[str, Position]:
        rows = self._db.execute(
            "SELECT symbol, qty, avg_cost, realized_pnl, mark_px FROM positions"
        ).fetchall()
        return {
            r[0]: Position(
                symbol=r[0],
                qty=r[1],
                avg_cost=Decimal(r[2]),
                realized_pnl=Decimal(r[3]),
                mark_px=_to_dec(r[4]),
            )
            for r in rows
        }

    # --- what did not fit ------------------------------------------------------------------

    def record_anomaly(
        self,
        *,
        kind: str,
        reason: str,
        now_ns: int,
        session: str | None = None,
        order_key: str | None = None,
        cl_ord_id: str | None = None,
        exec_id: str | None = None,
        raw: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO anomalies (recorded_ns, session, kind, order_key, cl_ord_id, exec_id, reason, raw)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (now_ns, session, kind, order_key, cl_ord_id, exec_id, reason, raw),
        )

    def record_quarantine(
        self,
        *,
        session: str | None,
        msg_type: str | None,
        seq_num: int | None,
        reason: str,
        answer: str,
        raw: str,
        now_ns: int,
    ) -> None:
        """Stored in its own transaction: a quarantined message must survive whatever follows."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO quarantine (recorded_ns, session, msg_type, seq_num, reason, answer, raw)"
                " VALUES (?,?,?,?,?,?,?)",
                (now_ns, session, msg_type, seq_num, reason, answer, raw),
            )

    def record_cancel_reject(self, reject: CancelRejected, order_key: str | None, now_ns: int) -> None:
        self._db.execute(
            "INSERT INTO cancel_rejects (recorded_ns, session, order_key, cl_ord_id, orig_cl_ord_id,"
            " response_to, reason, text, raw) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                now_ns,
                reject.session,
                order_key,
                reject.cl_ord_id,
                reject.orig_cl_ord_id,
                reject.response_to,
                reject.reason,
                reject.text,
                reject.raw,
            ),
        )

    # --- read side for progress and tests ---------------------------------------------------

    def count(self, table: str) -> int:
        if table not in {
            "orders",
            "fills",
            "execution_reports",
            "anomalies",
            "quarantine",
            "cancel_rejects",
            "runs",
            "order_requests",
        }:
            raise ValueError(table)
        return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _checkpoint_loop(path: Path, stop: threading.Event, interval_s: float, restart_wal_frames: int) -> None:
    """The checkpointer thread's body: PASSIVE checkpoints until `stop` is set, then a last one.
    Errors are logged, never raised: a failed checkpoint only leaves the WAL longer."""
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # only a RESTART checkpoint waits (for the writer to finish its transaction), briefly
        connection.execute(f"PRAGMA busy_timeout = {CHECKPOINT_RESTART_WAIT_MS}")
    except sqlite3.Error as exc:
        log.warning("ledger checkpointer not started for %s: %s", path, exc)
        return
    with contextlib.closing(connection):
        wait_s = interval_s
        while True:
            stopping = stop.wait(wait_s)
            wait_s = interval_s
            try:
                _, wal_frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                # The WAL file starts over only when a commit begins while every frame is
                # copied. Under sustained writes the commits made while a PASSIVE checkpoint
                # runs keep it from ever catching up, and the WAL would grow without bound: past
                # `restart_wal_frames` a RESTART checkpoint holds the next writer for the few
                # frames the PASSIVE one left (rare: only under sustained load).
                if wal_frames > restart_wal_frames and not stopping:
                    busy, wal_frames, _ = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    if busy:
                        log.debug("ledger WAL restart of %s deferred (%s frames)", path, wal_frames)
                if wal_frames > restart_wal_frames // 4:
                    wait_s = min(interval_s, CHECKPOINT_BUSY_INTERVAL_S)
            except sqlite3.Error as exc:
                log.warning("ledger checkpoint of %s failed: %s", path, exc)
            except Exception:  # never let the thread die silently; the next round tries again
                log.exception("ledger checkpoint of %s failed", path)
            if stopping:
                return


def _statements(script: str) -> list[str]:
    """Split a migration into statements; a trigger body's own semicolons stay inside it."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise LedgerError(f"incomplete statement in a ledger migration: {pending.strip()[:80]!r}")
    return statements


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"{path}: ledger schema version {version} is newer than this gateway understands "
            f"({SCHEMA_VERSION}); use a newer fixgw"
        )
    if version == 0:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if tables:
            raise LedgerError(f"{path}: an SQLite database with tables but no ledger schema version")
    for target in range(version, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[target]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {target + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def open_ledger(
    path: Path | str,
    *,
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = 5000,
    checkpoint_interval_s: float | None = CHECKPOINT_INTERVAL_S,
) -> Ledger:
    """Open (creating if absent) and migrate the ledger, and start its WAL checkpointer (every
    `checkpoint_interval_s`; None leaves SQLite's automatic checkpoints on the writing thread).
    Raises LedgerError with the path and the cause for a file that is not SQLite, is corrupt, or
    has an unknown schema."""
    db_path = Path(path)
    with owner_only():
        db_path.parent.mkdir(parents=True, exist_ok=True)
    _check_file(db_path)
    new_file = not db_path.exists() or db_path.stat().st_size == 0
    try:
        # owner-only: a new ledger is created 0600 (SQLite gives its -wal/-shm the same mode)
        with owner_only():
            db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise LedgerError(f"{db_path}: cannot open the ledger ({exc})") from exc
    private_sqlite(db_path)  # and one an older version left world-readable
    try:
        if new_file:
            # Smaller pages for a new ledger: every commit writes each page it changed (6-8 per
            # report) to the WAL, checksummed, so 1 KiB pages cost less per commit than 4 KiB
            # (about 15% of the ledger's time per order, measured with an OrderManager on a
            # real file). Only possible before the first write; existing ledgers keep theirs.
            db.execute(f"PRAGMA page_size = {NEW_LEDGER_PAGE_SIZE}")
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        check = db.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            details = "; ".join(str(row[0]) for row in check[:3])
            raise LedgerError(f"{db_path}: the ledger database is corrupt ({details})")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise LedgerError(f"{db_path}: cannot switch the ledger to WAL mode (got {mode})")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute("PRAGMA foreign_keys = ON")
        _migrate(db, db_path)
    except LedgerError:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:
        db.close()
        raise LedgerError(f"{db_path}: the ledger database is unreadable or corrupt ({exc})") from exc
    ledger = Ledger(db, db_path)
    if checkpoint_interval_s is not None:
        ledger.start_checkpointer(checkpoint_interval_s)
    return ledger
