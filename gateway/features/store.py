"""Feature store: one SQLite file of the decision path (stdlib sqlite3, WAL).

For each decision: the feature vector (float64 little-endian BLOB, `feature_schema` order), its
timestamp, the market-data message it came from (MsgType, MsgSeqNum(34), RptSeq(83)), the model
version, the model output and the target. Also fallback events, market-data events and the
orders the decision path sent (for slippage).

The hot path only appends tuples to deques; `flush()` (the recorder thread, every `flush_ms`)
writes them with prepared statements in one transaction. Decisions are not fills: a crash loses
at most the rows of one flush interval, and the ledger remains the record of orders and fills.
A flush that fails (a full disk, a locked file) keeps its rows for the next one, up to
`max_backlog_rows` per kind; beyond that the oldest are dropped and counted (`rows_dropped`), so a
store that stays unwritable cannot exhaust memory.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gateway.features import kernels

SCHEMA_VERSION: Final = 1

_DDL: Final = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_ns INTEGER NOT NULL,
    ticklog TEXT NOT NULL,
    config_json TEXT NOT NULL,
    feature_schema_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    run_id TEXT NOT NULL,
    decision_no INTEGER NOT NULL,
    decision_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,            -- receive time of the market-data message
    decided_ns INTEGER NOT NULL,       -- clock when the target was known
    msg_type TEXT NOT NULL,
    msg_seq_num INTEGER NOT NULL,
    rpt_seq INTEGER NOT NULL,
    sending_time_ns INTEGER NOT NULL,
    mid_e8 INTEGER NOT NULL,
    features BLOB NOT NULL,
    model_version INTEGER,             -- NULL when no model was loaded
    output REAL,                       -- NULL when inference did not run or failed
    target_qty INTEGER NOT NULL,
    position_qty INTEGER NOT NULL,
    fallback_reason TEXT NOT NULL,     -- '' when the model decided
    latency_ns INTEGER NOT NULL,       -- message entry to target
    PRIMARY KEY (run_id, decision_no)
);
CREATE INDEX IF NOT EXISTS decisions_symbol_ts ON decisions (symbol, ts_ns);
CREATE TABLE IF NOT EXISTS fallback_events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    event TEXT NOT NULL,               -- 'enter' | 'exit'
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    model_version INTEGER,
    safe_target TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS md_events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    snapshot_requested INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders_sent (
    cl_ord_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    action TEXT NOT NULL,              -- 'new' | 'replace'
    orig_cl_ord_id TEXT NOT NULL,      -- '' for a new order
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,                -- Side(54)
    qty INTEGER NOT NULL,
    price TEXT NOT NULL,               -- decimal string, '' for a market order
    decision_mid_e8 INTEGER NOT NULL,
    sent_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS slippage (
    cl_ord_id TEXT NOT NULL,
    exec_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    last_qty INTEGER NOT NULL,
    last_px TEXT NOT NULL,
    decision_mid TEXT NOT NULL,
    arrival_mid TEXT NOT NULL,
    slippage_vs_decision_bps REAL NOT NULL,
    slippage_vs_arrival_bps REAL NOT NULL,
    PRIMARY KEY (cl_ord_id, exec_id)
);
CREATE TABLE IF NOT EXISTS feature_schema (
    schema_hash TEXT PRIMARY KEY,
    schema_json TEXT NOT NULL
);
"""

_INSERT_DECISION: Final = "INSERT OR IGNORE INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_FALLBACK: Final = (
    "INSERT INTO fallback_events (run_id, ts_ns, symbol, event, reason, detail, model_version, safe_target)"
    " VALUES (?,?,?,?,?,?,?,?)"
)
_INSERT_MD_EVENT: Final = (
    "INSERT INTO md_events (run_id, ts_ns, symbol, reason, detail, snapshot_requested) VALUES (?,?,?,?,?,?)"
)
_INSERT_ORDER: Final = "INSERT OR IGNORE INTO orders_sent VALUES (?,?,?,?,?,?,?,?,?,?,?)"


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            conn.executescript(_DDL)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"{path}: feature store schema {version}, expected {SCHEMA_VERSION}")
    return conn


def features_from_blob(blob: bytes) -> npt.NDArray[np.float64]:
    return np.frombuffer(blob, dtype="<f8")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDecision:
    run_id: str
    decision_no: int
    decision_id: str
    symbol: str
    ts_ns: int
    mid_e8: int
    features: npt.NDArray[np.float64]
    model_version: int | None
    output: float | None
    target_qty: int
    fallback_reason: str


class FeatureStore:
    """Writer side, owned by the decision sink."""

    def __init__(
        self,
        path: Path,
        *,
        run_id: str,
        started_ns: int,
        ticklog: str,
        config_json: str,
        max_backlog_rows: int = 200_000,
    ) -> None:
        self.path = path
        self.run_id = run_id
        self._conn = connect(path)
        schema_hash = kernels.feature_schema_hash()
        self._conn.execute(
            "INSERT OR IGNORE INTO feature_schema VALUES (?, ?)",
            (schema_hash, json.dumps(kernels.feature_schema(), sort_keys=True)),
        )
        self._conn.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?)", (run_id, started_ns, ticklog, config_json, schema_hash)
        )
        # bounded: a deque at its maxlen drops its oldest row on append
        self._decisions: deque[tuple[Any, ...]] = deque(maxlen=max_backlog_rows)
        self._fallbacks: deque[tuple[Any, ...]] = deque(maxlen=max_backlog_rows)
        self._md_events: deque[tuple[Any, ...]] = deque(maxlen=max_backlog_rows)
        self._orders: deque[tuple[Any, ...]] = deque(maxlen=max_backlog_rows)
        self.rows_written = 0
        self.rows_dropped = 0

    # Hot path: appends only.
    def add_decision(self, row: tuple[Any, ...]) -> None:
        queue = self._decisions
        if len(queue) == queue.maxlen:
            self.rows_dropped += 1
        queue.append(row)

    def add_fallback_event(self, row: tuple[Any, ...]) -> None:
        queue = self._fallbacks
        if len(queue) == queue.maxlen:
            self.rows_dropped += 1
        queue.append(row)

    def add_md_event(self, row: tuple[Any, ...]) -> None:
        queue = self._md_events
        if len(queue) == queue.maxlen:
            self.rows_dropped += 1
        queue.append(row)

    def add_order(self, row: tuple[Any, ...]) -> None:
        queue = self._orders
        if len(queue) == queue.maxlen:
            self.rows_dropped += 1
        queue.append(row)

    @property
    def backlog(self) -> int:
        """Rows waiting for a flush."""
        return len(self._decisions) + len(self._fallbacks) + len(self._md_events) + len(self._orders)

    def flush(self) -> int:
        """Write pending rows in one transaction (recorder thread). Returns rows written."""
        queues = (self._decisions, self._fallbacks, self._md_events, self._orders)
        statements = (_INSERT_DECISION, _INSERT_FALLBACK, _INSERT_MD_EVENT, _INSERT_ORDER)
        batches = [_drain(queue) for queue in queues]
        total = sum(len(rows) for rows in batches)
        if total == 0:
            return 0
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                for statement, rows in zip(statements, batches, strict=True):
                    if rows:
                        self._conn.executemany(statement, rows)
        except sqlite3.Error:
            # Rolled back: put the rows back in front of what arrived meanwhile, for the next try
            # (as many as the bound leaves room for: the oldest go first)
            for queue, rows in zip(queues, batches, strict=True):
                room = (queue.maxlen or len(rows) + len(queue)) - len(queue)
                kept = rows[-room:] if room > 0 else []
                self.rows_dropped += len(rows) - len(kept)
                queue.extendleft(reversed(kept))
            raise
        self.rows_written += total
        return total

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._conn.close()


def _drain(queue: deque[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    while queue:
        rows.append(queue.popleft())
    return rows


def read_decisions(path: Path, run_id: str | None = None) -> Iterator[StoredDecision]:
    conn = connect(path, read_only=True)
    try:
        query = (
            "SELECT run_id, decision_no, decision_id, symbol, ts_ns, mid_e8, features, model_version,"
            " output, target_qty, fallback_reason FROM decisions"
        )
        params: tuple[Any, ...] = ()
        if run_id is not None:
            query += " WHERE run_id = ?"
            params = (run_id,)
        query += " ORDER BY run_id, decision_no"
        for row in conn.execute(query, params):
            yield StoredDecision(
                run_id=row[0],
                decision_no=row[1],
                decision_id=row[2],
                symbol=row[3],
                ts_ns=row[4],
                mid_e8=row[5],
                features=features_from_blob(row[6]),
                model_version=row[7],
                output=row[8],
                target_qty=row[9],
                fallback_reason=row[10],
            )
    finally:
        conn.close()
