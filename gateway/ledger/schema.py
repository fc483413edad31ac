"""The ledger's SQLite schema, versioned with PRAGMA user_version and migrated at start.

`MIGRATIONS[n]` takes a database at version n to n+1. Money is TEXT holding a Decimal string
(never REAL); quantities are INTEGER. Times are integer nanoseconds UTC (`*_ns`) or the venue's
own FIX timestamp text (`transact_time`).
"""

from __future__ import annotations

from typing import Final

SCHEMA_V1: Final = """
CREATE TABLE runs (
    run_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    started_ns  INTEGER NOT NULL,
    pid         INTEGER NOT NULL,
    config_path TEXT
);

-- One row per order, keyed by the ClOrdID(11) of the NewOrderSingle(35=D) that opened it.
CREATE TABLE orders (
    order_key   TEXT PRIMARY KEY,
    cl_ord_id   TEXT NOT NULL,          -- current ClOrdID: changes with each accepted replace
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    venue       TEXT NOT NULL,
    session     TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL,          -- Side(54)
    ord_type    TEXT NOT NULL,          -- OrdType(40)
    tif         TEXT NOT NULL,          -- TimeInForce(59)
    price       TEXT,                   -- Decimal
    order_qty   INTEGER NOT NULL,
    status      TEXT NOT NULL,          -- OrdStatus(39) as the state table left it
    order_id    TEXT,                   -- OrderID(37) given by the venue
    cum_qty     INTEGER NOT NULL DEFAULT 0,
    leaves_qty  INTEGER NOT NULL,
    avg_px      TEXT,
    pending     TEXT NOT NULL DEFAULT '',  -- '' | new | cancel | replace
    decision_id TEXT,
    last_text   TEXT,
    created_ns  INTEGER NOT NULL,
    updated_ns  INTEGER NOT NULL
);
CREATE INDEX orders_by_status ON orders(status);

-- Every ClOrdID the gateway sent: D, F (cancel), G (cancel/replace), H (status request).
CREATE TABLE order_requests (
    cl_ord_id      TEXT PRIMARY KEY,
    order_key      TEXT NOT NULL REFERENCES orders(order_key),
    msg_type       TEXT NOT NULL,
    orig_cl_ord_id TEXT,
    order_qty      INTEGER,
    price          TEXT,
    state          TEXT NOT NULL,       -- sent | accepted | rejected
    reason         TEXT,
    created_ns     INTEGER NOT NULL,
    updated_ns     INTEGER NOT NULL
);
CREATE INDEX order_requests_by_order ON order_requests(order_key);

-- Every ExecutionReport(35=8) received, once: a resent or PossDup copy hits the UNIQUE key.
CREATE TABLE execution_reports (
    id             INTEGER PRIMARY KEY,
    session        TEXT NOT NULL,
    exec_id        TEXT NOT NULL,
    order_key      TEXT,
    cl_ord_id      TEXT,
    orig_cl_ord_id TEXT,
    order_id       TEXT,
    exec_type      TEXT NOT NULL,
    ord_status     TEXT NOT NULL,
    symbol         TEXT,
    side           TEXT,
    last_qty       INTEGER,
    last_px        TEXT,
    cum_qty        INTEGER,
    leaves_qty     INTEGER,
    exec_ref_id    TEXT,
    poss_dup       INTEGER NOT NULL,
    transact_time  TEXT,
    recv_ns        INTEGER NOT NULL,
    seq_num        INTEGER,
    fits           INTEGER NOT NULL,    -- 1 if it fits the order state table
    late           INTEGER NOT NULL,    -- 1 if a later report had overtaken it
    raw            TEXT NOT NULL,
    UNIQUE (session, exec_id)
);

-- Fills: ExecType(150)=F reports. Busts (H) and corrections (G) update the row they refer to.
CREATE TABLE fills (
    id            INTEGER PRIMARY KEY,
    session       TEXT NOT NULL,
    exec_id       TEXT NOT NULL,
    order_key     TEXT NOT NULL,
    cl_ord_id     TEXT NOT NULL,
    order_id      TEXT,
    symbol        TEXT NOT NULL,
    side          TEXT NOT NULL,
    last_qty      INTEGER NOT NULL,     -- as corrected
    last_px       TEXT NOT NULL,        -- as corrected
    orig_last_qty INTEGER NOT NULL,
    orig_last_px  TEXT NOT NULL,
    busted        INTEGER NOT NULL DEFAULT 0,
    busted_by     TEXT,                 -- ExecID of the bust (ExecType=H)
    corrected_by  TEXT,                 -- ExecID of the latest correction (ExecType=G)
    transact_time TEXT,
    recv_ns       INTEGER NOT NULL,
    UNIQUE (session, exec_id)
);
CREATE INDEX fills_by_symbol ON fills(symbol, id);

-- Positions, written in the same transaction as the fill that changed them.
CREATE TABLE positions (
    symbol         TEXT PRIMARY KEY,
    qty            INTEGER NOT NULL,    -- signed: long > 0
    avg_cost       TEXT NOT NULL,
    realized_pnl   TEXT NOT NULL,
    mark_px        TEXT,
    unrealized_pnl TEXT NOT NULL,
    updated_ns     INTEGER NOT NULL
);

-- Reports that did not fit the order state table, busts of unknown fills, and the like.
CREATE TABLE anomalies (
    id          INTEGER PRIMARY KEY,
    recorded_ns INTEGER NOT NULL,
    session     TEXT,
    kind        TEXT NOT NULL,
    order_key   TEXT,
    cl_ord_id   TEXT,
    exec_id     TEXT,
    reason      TEXT NOT NULL,
    raw         TEXT
);

-- Messages the gateway could not process, with how they were answered.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    recorded_ns INTEGER NOT NULL,
    session     TEXT,
    msg_type    TEXT,
    seq_num     INTEGER,
    reason      TEXT NOT NULL,
    answer      TEXT NOT NULL,          -- Reject(35=3) | BusinessMessageReject(35=j) | none
    raw         TEXT NOT NULL
);

-- OrderCancelReject(35=9) received.
CREATE TABLE cancel_rejects (
    id             INTEGER PRIMARY KEY,
    recorded_ns    INTEGER NOT NULL,
    session        TEXT NOT NULL,
    order_key      TEXT,
    cl_ord_id      TEXT NOT NULL,
    orig_cl_ord_id TEXT,
    response_to    TEXT,                -- CxlRejResponseTo(434): 1 cancel, 2 cancel/replace
    reason         TEXT,                -- CxlRejReason(102)
    text           TEXT,
    raw            TEXT NOT NULL
);
"""

# Version 2: the order path's write-ahead is one statement, and fewer index pages change per report.
SCHEMA_V2: Final = """
-- Inserting an order inserts the request that opened it, NewOrderSingle(35=D), in the same
-- statement and so the same implicit transaction: the write-ahead of a new order is one INSERT
-- and one commit, without BEGIN/COMMIT round trips through the sqlite3 module.
CREATE TRIGGER orders_opening_request AFTER INSERT ON orders
BEGIN
    INSERT INTO order_requests (cl_ord_id, order_key, msg_type, order_qty, price, state,
                                created_ns, updated_ns)
    VALUES (NEW.cl_ord_id, NEW.order_key, 'D', NEW.order_qty, NEW.price, 'sent',
            NEW.created_ns, NEW.created_ns);
END;

-- Only live orders are indexed (the start-up query of live orders is the only user): a report
-- that moves an order between live states (PendingNew -> New -> PartiallyFilled) no longer
-- rewrites an index page. The list is the final OrdStatus(39) values: 2, 3, 4, 8, C.
DROP INDEX orders_by_status;
CREATE INDEX orders_live ON orders(created_ns) WHERE status NOT IN ('2', '3', '4', '8', 'C');
"""

# The trading day of a report or fill before version 3 recorded one: the date of its
# TransactTime(60), else of its receive time (what the gateway derives today when the report
# carries no TradeDate(75)).
_OLD_TRADE_DATE: Final = (
    "coalesce(nullif(substr(transact_time, 1, 8), ''), strftime('%Y%m%d', recv_ns / 1000000000, 'unixepoch'))"
)

# Version 3: ExecID(17) is unique only within a trading day, or the life of a multi-day order
# (FIX 4.4), and is 0 on every order-status report (ExecType=I). A report is a duplicate when
# the same session, order chain, ExecID and trading day were stored already (`dedup_key`); status
# reports have no key and are never deduplicated. Fills are unique per (order chain, ExecID,
# session, trading day), and may be inferred: booked from a report whose CumQty(14) exceeds the
# fills booked for the order, marked, with the report they came from, and superseded (reduced)
# when the real fill arrives. DoneForDay(3) is no longer final: the live-orders index changes.
SCHEMA_V3: Final = f"""
CREATE TABLE execution_reports_v3 (
    id             INTEGER PRIMARY KEY,
    session        TEXT NOT NULL,
    exec_id        TEXT NOT NULL,
    order_key      TEXT,
    cl_ord_id      TEXT,
    orig_cl_ord_id TEXT,
    order_id       TEXT,
    exec_type      TEXT NOT NULL,
    ord_status     TEXT NOT NULL,
    symbol         TEXT,
    side           TEXT,
    last_qty       INTEGER,
    last_px        TEXT,
    cum_qty        INTEGER,
    leaves_qty     INTEGER,
    exec_ref_id    TEXT,
    poss_dup       INTEGER NOT NULL,
    transact_time  TEXT,
    recv_ns        INTEGER NOT NULL,
    seq_num        INTEGER,
    fits           INTEGER NOT NULL,
    late           INTEGER NOT NULL,
    raw            TEXT NOT NULL,
    trade_date     TEXT,                -- TradeDate(75), else the date of TransactTime(60)
    dedup_key      TEXT                 -- session, ExecID, order chain, trade date; NULL for ExecType=I
);
INSERT INTO execution_reports_v3
SELECT id, session, exec_id, order_key, cl_ord_id, orig_cl_ord_id, order_id, exec_type, ord_status,
       symbol, side, last_qty, last_px, cum_qty, leaves_qty, exec_ref_id, poss_dup, transact_time,
       recv_ns, seq_num, fits, late, raw, {_OLD_TRADE_DATE},
       CASE WHEN exec_type = 'I' THEN NULL
            ELSE session || char(31) || exec_id || char(31) || coalesce(order_key, '') || char(31)
                 || {_OLD_TRADE_DATE} END
FROM execution_reports;
DROP TABLE execution_reports;
ALTER TABLE execution_reports_v3 RENAME TO execution_reports;
-- one index serves both the duplicate check and the lookup by (session, ExecID): the key
-- starts with them, so a range over that prefix finds every report with that ExecID
CREATE UNIQUE INDEX execution_reports_once ON execution_reports(dedup_key) WHERE dedup_key IS NOT NULL;

CREATE TABLE fills_v3 (
    id                 INTEGER PRIMARY KEY,
    session            TEXT NOT NULL,
    exec_id            TEXT NOT NULL,    -- inferred fills: 'inferred-' || the report's id
    order_key          TEXT NOT NULL,
    cl_ord_id          TEXT NOT NULL,
    order_id           TEXT,
    symbol             TEXT NOT NULL,
    side               TEXT NOT NULL,
    last_qty           INTEGER NOT NULL,  -- as corrected, or as left by the real fills that superseded it
    last_px            TEXT NOT NULL,
    orig_last_qty      INTEGER NOT NULL,
    orig_last_px       TEXT NOT NULL,
    busted             INTEGER NOT NULL DEFAULT 0,
    busted_by          TEXT,
    corrected_by       TEXT,
    transact_time      TEXT,
    recv_ns            INTEGER NOT NULL,
    trade_date         TEXT NOT NULL DEFAULT '',
    inferred           INTEGER NOT NULL DEFAULT 0,  -- 1: booked from a report's CumQty, no fill seen
    evidence_report_id INTEGER,                     -- the execution_reports row it was inferred from
    superseded_by      TEXT,                        -- ExecIDs of the real fills that replaced it
    UNIQUE (order_key, exec_id, session, trade_date)
);
INSERT INTO fills_v3 (id, session, exec_id, order_key, cl_ord_id, order_id, symbol, side, last_qty,
                      last_px, orig_last_qty, orig_last_px, busted, busted_by, corrected_by,
                      transact_time, recv_ns, trade_date)
SELECT id, session, exec_id, order_key, cl_ord_id, order_id, symbol, side, last_qty, last_px,
       orig_last_qty, orig_last_px, busted, busted_by, corrected_by, transact_time, recv_ns,
       {_OLD_TRADE_DATE}
FROM fills;
DROP TABLE fills;
ALTER TABLE fills_v3 RENAME TO fills;
CREATE INDEX fills_by_symbol ON fills(symbol, id);
CREATE INDEX fills_inferred_open ON fills(order_key) WHERE inferred = 1 AND last_qty > 0 AND busted = 0;

DROP INDEX orders_live;
CREATE INDEX orders_live ON orders(created_ns) WHERE status NOT IN ('2', '4', '8', 'C');
"""

MIGRATIONS: Final[tuple[str, ...]] = (SCHEMA_V1, SCHEMA_V2, SCHEMA_V3)
SCHEMA_VERSION: Final = len(MIGRATIONS)
