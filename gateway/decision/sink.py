"""The decision path inside the FIX callback: market data -> book -> features -> inference ->
target -> risk -> orders, synchronously, on QuickFIX's callback thread.

Takes W/X/Y messages (`on_market_data`) and the `SinkContext` the gateway built; gives orders
through `ctx.orders` (an OrderPort) before the callback returns, and records every decision in
the feature store and every message in the tick log.

Model switches happen between two messages: a background thread notices a new registry
generation, loads and checks the model, and parks it in `_pending_model`; the callback swaps it
in at the start of the next message, never during a decision. The same thread flushes the
feature store and the tick log every `store_flush_ms`, so the callback never waits on SQLite.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from opentelemetry import context as otel_context
from opentelemetry import trace

from gateway.decision import fallback
from gateway.decision.config import DecisionConfig
from gateway.domain.ports import SinkContext, WorkingOrderView
from gateway.execution import planner
from gateway.features import kernels
from gateway.features.engine import UNBOUNDED_HIGH, UNBOUNDED_LOW, FeatureEngine
from gateway.features.store import FeatureStore
from gateway.inference.registry import ModelRecord, ModelRegistry, RegistryError
from gateway.inference.runner import ModelLoadError, OnnxRunner
from gateway.marketdata.book import (
    REASON_BAD_DATA,
    REASON_DECISION_ERROR,
    REASON_GAP,
    REASON_NO_SNAPSHOT,
    REASON_STALE,
    DataIssue,
    MarketState,
    SymbolBook,
)
from gateway.marketdata.decoder import FastDecoder, decode_raw
from gateway.marketdata.events import (
    PX_SCALE,
    IncrementalReceived,
    MarketDataError,
    SnapshotReceived,
    px_e8_to_decimal,
)
from gateway.marketdata.ticklog import TickLogWriter
from gateway.risk.checks import RiskLimits, check_order
from gateway.telemetry import preset_ids_of

log = logging.getLogger("fixgw.decision")

_NO_TIMINGS = (0, 0, 0, 0, 0, 0)
# Tick-log records packed per frame by the recorder thread (about 150-300 us of Python) before
# it lets the FIX callback thread take the GIL.
TICKLOG_FRAME_RECORDS = 96
# A real sleep, not sleep(0): after sleep(0) the recorder takes the GIL back before the waiting
# callback thread has woken up; sleeping leaves the GIL to it for that long.
RECORDER_PAUSE_S = 20e-6
# Decisions whose spans may wait for the recorder thread. With tracing on, one decision's spans
# cost it 100-370 us, so above a few thousand decisions a second it falls behind; past this many
# (seconds of backlog) a decision's spans are dropped and counted instead of growing memory.
MAX_QUEUED_SPAN_JOBS = 20_000


# data issues that are fallback reasons under their own name (the others are stale_market_data)
_OWN_FALLBACK_REASONS = (REASON_GAP, REASON_BAD_DATA, REASON_DECISION_ERROR)


def _let_the_callback_in() -> None:
    time.sleep(RECORDER_PAUSE_S)


_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED | trace.TraceFlags.RANDOM_TRACE_ID)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedModel:
    generation: int
    record: ModelRecord | None
    runner: OnnxRunner | None
    error_reason: str  # "" when runner is usable
    error_detail: str
    # the model inputs' accepted range (training min/max widened by the tolerance), if recorded
    input_low: npt.NDArray[np.float32] | None = None
    input_high: npt.NDArray[np.float32] | None = None


@dataclass(slots=True)
class SinkStats:
    messages: int = 0
    decisions: int = 0
    fallbacks: int = 0
    orders_sent: int = 0
    risk_denials: int = 0
    undecodable: int = 0
    errors: int = 0
    snapshot_requests: int = 0
    model_switches: int = 0
    spans_dropped: int = 0  # decisions traced without their spans: the recorder was too far behind
    store_failures: int = 0  # feature-store flushes that failed


def _warm_batches(runner: OnnxRunner, max_rows: int) -> None:
    """Bind and run every batch size a micro-batch can have, off the callback thread."""
    for rows in range(2, max_rows + 1):
        try:
            runner.run(np.zeros((rows, runner.n_inputs), dtype=np.float32))
        except Exception as exc:  # the callback falls back on every failing run; say so now
            log.warning("model version %s fails on a batch of %d rows: %s", runner.version, rows, exc)
            return


def input_bounds(
    record: ModelRecord, tolerance: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | tuple[None, None]:
    """(low, high) per model input from the `input_ranges` the training recorded with the model,
    each widened by `tolerance` times its width; (None, None) when the model has none."""
    ranges = record.metrics.get("input_ranges") if isinstance(record.metrics, dict) else None
    if not isinstance(ranges, list) or len(ranges) != len(kernels.MODEL_INPUT_NAMES):
        return None, None
    try:
        table = np.array(ranges, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        return None, None
    if not np.isfinite(table).all():
        return None, None
    width = table[:, 1] - table[:, 0]
    margin = width * tolerance
    low = table[:, 0] - margin
    high = table[:, 1] + margin
    # An input that never varied in training (own position and PnL in data recorded in shadow
    # mode) says nothing about its live range: it is not bounded.
    constant = width <= 0
    low[constant] = -np.inf
    high[constant] = np.inf
    return low.astype(np.float32), high.astype(np.float32)


def load_model(
    registry: ModelRegistry, max_rows: int = 1, input_range_tolerance: float = 0.25
) -> LoadedModel:
    generation, record = registry.active_with_generation()
    if record is None:
        return LoadedModel(
            generation=generation,
            record=None,
            runner=None,
            error_reason=fallback.MODEL_MISSING,
            error_detail="no active model in the registry",
        )
    if record.feature_schema_hash != kernels.feature_schema_hash() or tuple(record.input_names) != (
        kernels.MODEL_INPUT_NAMES
    ):
        return LoadedModel(
            generation=generation,
            record=record,
            runner=None,
            error_reason=fallback.FEATURE_SCHEMA_MISMATCH,
            error_detail=f"model version {record.version} was trained on feature schema "
            f"{record.feature_schema_hash[:12]}..., running {kernels.feature_schema_hash()[:12]}...",
        )
    try:
        runner = OnnxRunner(
            record.path,
            expected_sha256=record.sha256,
            n_inputs=len(kernels.MODEL_INPUT_NAMES),
            version=record.version,
        )
    except ModelLoadError as exc:
        return LoadedModel(
            generation=generation,
            record=record,
            runner=None,
            error_reason=exc.reason,
            error_detail=exc.detail,
        )
    try:
        runner.run_one(np.zeros(len(kernels.MODEL_INPUT_NAMES)))  # the first run allocates: do it here
        _warm_batches(runner, max_rows)
    except Exception as exc:  # a model that fails on a plain row is never handed to the callback
        return LoadedModel(
            generation=generation,
            record=record,
            runner=None,
            error_reason=fallback.INFERENCE_ERROR,
            error_detail=f"version {record.version} fails on a test row: {type(exc).__name__}: {exc}"[:500],
        )
    low, high = input_bounds(record, input_range_tolerance)
    return LoadedModel(
        generation=generation,
        record=record,
        runner=runner,
        error_reason="",
        error_detail="",
        input_low=low,
        input_high=high,
    )


class DecisionSink:
    """A MarketDataSink (gateway.domain.ports) that trades."""

    def __init__(
        self,
        ctx: SinkContext,
        config: DecisionConfig,
        *,
        registry: ModelRegistry,
        store: FeatureStore,
        ticklog: TickLogWriter | None,
        run_id: str,
        tracer: Any | None,
    ) -> None:
        self._ctx = ctx
        self._config = config
        self._orders = ctx.orders
        self._registry = registry
        self._store = store
        self._ticklog = ticklog
        self.run_id = run_id
        self._tracer = tracer
        self._fast = FastDecoder()
        self._market = MarketState(
            max_md_age_ms=config.max_md_age_ms,
            stale_after_ms=config.stale_after_ms,
            symbols=frozenset(config.symbols),
        )
        self._engine = FeatureEngine()
        self._instruments = dict(config.symbols)
        self._limits = RiskLimits(
            max_order_qty=config.risk.max_order_qty,
            max_position_qty=config.risk.max_position_qty,
            max_notional=config.risk.max_notional,
        )
        self._kill_switch = config.risk.kill_switch
        self._budget_ns = config.budget_us * 1000
        self._realtime = config.mode == "realtime"
        self._n_inputs = len(kernels.MODEL_INPUT_NAMES)
        rows = max(1, len(self._instruments))
        self._batch = np.zeros((rows, self._n_inputs), dtype=np.float32)
        # Per decision run: one row of step inputs and one feature vector per symbol decided on.
        self._step_inputs = np.zeros((rows, kernels.N_STEP_INPUTS), dtype=np.float64)
        self._feature_rows = np.zeros((rows, kernels.N_FEATURES), dtype=np.float64)
        self._model = load_model(registry, max(1, len(config.symbols)), config.input_range_tolerance)
        self._pending_model: LoadedModel | None = None
        self._fallback_state: dict[str, str] = {}
        self._store_error = ""  # set while the feature store cannot be written (recorder thread)
        self._warmup_left: dict[str, int] = {}  # steps each restarted series still needs
        self._snapshot_requested_ns: dict[str, int] = {}
        self._issue_logged_ns: dict[tuple[str, str], int] = {}
        self._last_reprice_ns: dict[str, int] = {}
        self._decision_no = 0
        self._error_logged_ns = 0
        self.stats = SinkStats()
        # (start, book, features, inference, risk, send) perf_counter_ns of the last decision.
        self.last_timings: tuple[int, int, int, int, int, int] = _NO_TIMINGS
        self._timing_hook: Callable[[tuple[int, int, int, int, int, int]], None] | None = None
        # Decisions whose spans the recorder thread writes (deque: append and popleft are atomic).
        self._span_jobs: collections.deque[tuple[Any, ...]] = collections.deque()
        self._spans_dropped_reported = 0
        self._spans_dropped_logged_ns = -(10**12)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # serialises flushes (background thread vs close)
        self._thread = threading.Thread(target=self._background, name="fixgw-decision-recorder", daemon=True)
        if self._model.error_reason:
            log.warning(
                "decision path starts without a usable model: %s (%s)",
                self._model.error_reason,
                self._model.error_detail,
            )

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread.start()

    def warm(self) -> None:
        """Compile the numba kernels, run the model once and start the tracer, before logon."""
        kernels.warm()
        self._fast.warm()
        runner = self._model.runner
        if runner is not None:
            runner.run_one(np.zeros(self._n_inputs))
            _warm_batches(runner, len(self._batch))
        if self._tracer is not None:
            with self._tracer.start_as_current_span("fixgw.decision.warmup"):
                pass

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            # each part closes even if another cannot write (a full disk): errors are logged
            for what, closing in (
                ("flush", self._flush),
                ("tick log", self._ticklog.close if self._ticklog is not None else None),
                ("feature store", self._store.close),
                ("model registry", self._registry.close),
            ):
                if closing is None:
                    continue
                try:
                    closing()
                except Exception:
                    log.exception("decision path: closing the %s failed; its unwritten rows are lost", what)

    @property
    def model(self) -> LoadedModel:
        return self._model

    @property
    def market(self) -> MarketState:
        return self._market

    def set_timing_hook(self, hook: Callable[[tuple[int, int, int, int, int, int]], None] | None) -> None:
        """Called after each decision with its stage timestamps (the benchmark uses it)."""
        self._timing_hook = hook

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._span_jobs:
            self._write_spans()
        dropped = self.stats.spans_dropped
        now = time.monotonic_ns()
        if dropped != self._spans_dropped_reported and now - self._spans_dropped_logged_ns >= 10_000_000_000:
            self._spans_dropped_reported, self._spans_dropped_logged_ns = dropped, now
            log.warning(
                "tracing is behind the market: %d decisions' spans dropped so far (at most %d wait); "
                "set [decision] tracing = false for this rate",
                dropped,
                MAX_QUEUED_SPAN_JOBS,
            )
        ticklog = self._ticklog
        if ticklog is not None:
            try:
                # Frames of a bounded size with a pause between them: packing a whole flush
                # interval's records at once held the GIL for milliseconds, and the FIX callback
                # thread, wanting it back, waited up to the interpreter's 5 ms switch interval.
                ticklog.flush(max_records=TICKLOG_FRAME_RECORDS)
                while ticklog.has_pending:
                    _let_the_callback_in()
                    ticklog.flush(max_records=TICKLOG_FRAME_RECORDS)
            except OSError as exc:
                self._log_write_failure("tick log", exc, ticklog.records_dropped)
        try:
            self._store.flush()
        except sqlite3.Error as exc:
            if not self._store_error:
                log.error(
                    "feature store %s cannot be written (%s): decisions fall back to the safe target "
                    "until it can; %d rows waiting",
                    self._store.path,
                    exc,
                    self._store.backlog,
                )
            self._store_error = f"{type(exc).__name__}: {exc}"
            self.stats.store_failures += 1
            self._log_write_failure("feature store", exc, self._store.rows_dropped)
            return
        if self._store_error:
            log.warning("feature store writable again: decisions follow the model again")
            self._store_error = ""

    def _log_write_failure(self, what: str, exc: Exception, dropped: int) -> None:
        now = time.monotonic_ns()
        key = ("", what)
        if now - self._issue_logged_ns.get(key, -(10**12)) >= 10_000_000_000:
            self._issue_logged_ns[key] = now
            log.warning(
                "decision path: %s not written (%s); rows kept for the next try, %d dropped so far",
                what,
                exc,
                dropped,
            )

    def _background(self) -> None:
        flush_s = self._config.store_flush_ms / 1000
        poll_ns = self._config.registry_poll_ms * 1_000_000
        next_poll = 0
        while not self._stop.wait(flush_s):
            try:
                with self._lock:
                    self._flush()
            except Exception:
                log.exception("decision recorder thread: flush failed; retrying")
            now = time.monotonic_ns()
            if now < next_poll:
                continue
            next_poll = now + poll_ns
            # Each duty on its own: a safety check must never wait for bookkeeping to succeed.
            for duty in (
                self._poll_kill_switch,
                self._check_quiet,
                self._keep_cancelling_on_unusable_books,
                self._poll_registry,
            ):
                try:
                    duty()
                except Exception:
                    log.exception("decision recorder thread: %s failed; retrying", duty.__name__)

    def _poll_registry(self) -> None:
        generation = self._registry.generation()
        current = self._pending_model or self._model
        if generation != current.generation:
            loaded = load_model(self._registry, len(self._batch), self._config.input_range_tolerance)
            # One reference assignment: the callback sees either the old or the new model.
            self._pending_model = loaded

    def _check_quiet(self) -> None:
        # A frozen feed sends nothing, so the callback alone would never notice it going quiet.
        if self._config.stale_after_ms:
            now = self._ctx.clock_ns()
            for issue in self._market.check_quiet(now):
                self._on_issue(issue, now)

    def _keep_cancelling_on_unusable_books(self, symbols: Iterable[str] | None = None) -> None:
        """The issue that makes a book unusable is raised once, but an order whose request was in
        flight then is free to cancel only later, and one the venue refused to cancel is still
        working: while the book stays unusable, whatever works on it is cancelled again (the
        order manager's cancel_working is idempotent)."""
        if not self._config.trade:
            return
        books = self._market.books
        for symbol in list(self._fallback_state) if symbols is None else symbols:
            reason = self._fallback_state.get(symbol, "")
            if reason not in (REASON_STALE, *_OWN_FALLBACK_REASONS):
                continue
            book = books.get(symbol)
            if book is None or book.usable:
                continue
            if self._orders.working_orders(symbol):
                self._orders.cancel_working(symbol, reason=f"market data unusable: {reason}")

    def _poll_kill_switch(self) -> None:
        path = self._config.risk.kill_switch_file
        if path:
            self._kill_switch = self._config.risk.kill_switch or os.path.exists(path)

    def _swap_model(self, loaded: LoadedModel) -> None:
        self._pending_model = None
        previous = self._model
        self._model = loaded
        self.stats.model_switches += 1
        log.info(
            "model switched between messages: generation %d -> %d, version %s -> %s%s",
            previous.generation,
            loaded.generation,
            previous.record.version if previous.record else None,
            loaded.record.version if loaded.record else None,
            f" (unusable: {loaded.error_reason}: {loaded.error_detail})" if loaded.error_reason else "",
        )

    # ----------------------------------------------------------------- MarketDataSink

    def on_session_down(self, session_key: str) -> None:
        try:
            now = self._ctx.clock_ns()
            if self._ticklog is not None:
                self._ticklog.session_down(now)
            for issue in self._market.session_down():
                self._on_issue(issue, now)
            self._keep_cancelling_on_unusable_books()
        except Exception:
            self.stats.errors += 1
            log.exception("decision path: on_session_down failed")

    def on_market_data(self, message: Any, session_key: str, recv_ns: int) -> None:
        t_start = time.perf_counter_ns()
        try:
            self.on_raw_market_data(message.toString(), recv_ns, t_start)
        except Exception:
            # The FIX callback must survive anything; this tick is lost, the next one decides.
            # Logged at most once a second, with the count, so a persistent fault cannot flood.
            self.stats.errors += 1
            now = time.monotonic_ns()
            if now - self._error_logged_ns >= 1_000_000_000:
                self._error_logged_ns = now
                log.exception(
                    "decision path failed on a market-data message; tick dropped (%d so far)",
                    self.stats.errors,
                )

    def on_raw_market_data(self, raw: str, recv_ns: int, t_start: int = 0) -> None:
        """The same as on_market_data, given the message's raw tag=value text."""
        t_start = t_start or time.perf_counter_ns()
        pending = self._pending_model
        if pending is not None:
            self._swap_model(pending)
        self.stats.messages += 1
        if self._ticklog is not None:
            self._ticklog.message(recv_ns, raw)
        fast = self._fast.decode(raw)
        if fast is not None:
            header: tuple[str, int, int] = (fast.msg_type, fast.msg_seq_num, fast.sending_time_ns)
            touched, issues = self._market.apply_rows(
                fast.msg_type,
                fast.msg_seq_num,
                fast.sending_time_ns,
                fast.snapshot_symbol,
                fast.snapshot_rpt_seq,
                fast.rows,
                fast.symbols,
                recv_ns,
            )
        else:
            try:
                message = decode_raw(raw)  # the reference decoder: Y, and anything unusual
            except MarketDataError as exc:
                self.stats.undecodable += 1
                self._store.add_md_event((self.run_id, recv_ns, "", "undecodable", str(exc), 0))
                log.warning("market-data message not readable: %s", exc)
                return
            header = (message.msg_type, message.msg_seq_num, message.sending_time_ns)
            touched, issues = self._market.apply(message, recv_ns)
        if self._config.stale_after_ms:
            issues += self._market.check_quiet(recv_ns)
        for issue in issues:
            self._on_issue(issue, recv_ns)
        if self._market.waiting:
            # Unusable until a snapshot: ask again until one arrives (a request or its answer
            # can be lost, and a feed that resumes never says so by itself).
            waiting = list(self._market.waiting)
            for symbol in waiting:
                self._request_snapshot(symbol, recv_ns)
            self._keep_cancelling_on_unusable_books(waiting)
        if not touched:
            return
        books = self._market.books
        decidable = [s for s in touched if s in self._instruments and books[s].usable]
        if not decidable:
            return
        if self._realtime:
            # every decision the message causes is timed from its receipt: decoding, the book
            # and the earlier symbols' sends count against each later symbol's budget
            for symbol in decidable:
                try:
                    self._decide((symbol,), header, recv_ns, t_start)
                except Exception as exc:
                    self._decision_failed(symbol, exc, recv_ns)
        else:
            try:
                self._decide(decidable, header, recv_ns, t_start)
            except Exception:
                # find the symbol(s) that cannot be decided; the others still are
                for symbol in decidable:
                    try:
                        self._decide((symbol,), header, recv_ns, t_start)
                    except Exception as exc:
                        self._decision_failed(symbol, exc, recv_ns)

    def _decision_failed(self, symbol: str, exc: Exception, now_ns: int) -> None:
        """A decision that raises for one symbol (a book no check caught) must not repeat on every
        tick: the symbol's data is taken as unusable until a fresh snapshot replaces the book,
        which moves it to its safe target (orders cancelled, nothing new sent)."""
        self.stats.errors += 1
        log.error(
            "decision on %s failed (%s: %s); its book is dropped until a snapshot",
            symbol,
            type(exc).__name__,
            exc,
        )
        issues: list[DataIssue] = []
        self._market.mark_unusable(
            symbol, REASON_DECISION_ERROR, f"decision failed: {type(exc).__name__}: {exc}"[:300], issues
        )
        for issue in issues:
            self._on_issue(issue, now_ns)

    # ----------------------------------------------------------------- one decision

    def _decide(
        self, symbols: Sequence[str], header: tuple[str, int, int], recv_ns: int, t_start: int
    ) -> None:
        """header: (MsgType(35), MsgSeqNum(34), SendingTime(52) ns) of the message decided on."""
        tracer = self._tracer
        root = None
        # (trace id, decision span id, send span id) when the tracer lets the recorder thread
        # start this decision's spans later with ids picked now (see PresetIdGenerator)
        span_ids: tuple[int, int, int] | None = None
        wall_start = 0
        if tracer is not None:
            preset_ids = preset_ids_of(tracer)
            # the wall-clock time of t_start: spans are placed by their perf-counter offsets
            wall_start = time.time_ns() - (time.perf_counter_ns() - t_start)
            if preset_ids is not None:
                span_ids = (preset_ids.new_trace_id(), preset_ids.new_span_id(), preset_ids.new_span_id())
            else:
                root = tracer.start_span("fixgw.decision", start_time=wall_start)
        t_book = time.perf_counter_ns()
        books = self._market.books
        instruments = self._instruments
        position_of = self._orders.position
        engine = self._engine
        inputs = self._step_inputs
        ticklog = self._ticklog
        positions: list[int] = []
        kept: list[str] = []
        for symbol in symbols:
            book = books[symbol]
            top = book.top()
            if top is None:
                continue  # one-sided or crossed for now: no step, no decision
            instrument = instruments[symbol]
            position = position_of(symbol)
            qty = position.qty
            avg_cost_e8 = _e8(position.avg_cost)
            realized_e8 = _e8(position.realized_pnl)
            max_position = instrument.max_position_lots * instrument.lot_size
            buy_volume, sell_volume = book.take_trade_flow()
            # The same float conversions as FeatureEngine.compute (replay), so the same bits.
            row, restarted = engine.row_and_restart(book)
            if restarted and self._config.warmup_steps:
                # the book restarted, and so did the feature series: it must warm up again
                self._warmup_left[symbol] = self._config.warmup_steps
            inputs[len(kept)] = (
                row,
                top[0] / PX_SCALE,
                top[2] / PX_SCALE,
                float(top[1]),
                float(top[3]),
                float(buy_volume),
                float(sell_volume),
                float(qty),
                avg_cost_e8 / PX_SCALE,
                realized_e8 / PX_SCALE,
                float(max_position),
            )
            self._decision_no += 1
            if ticklog is not None:
                ticklog.decision(
                    recv_ns, symbol, self._decision_no, qty, avg_cost_e8, realized_e8, max_position
                )
            positions.append(qty)
            kept.append(symbol)
        count = len(kept)
        if not count:
            if root is not None:
                root.end()
            return
        first_no = self._decision_no - count + 1
        model = self._model
        runner = model.runner
        outputs: list[float | None] = [None] * count
        reasons = [model.error_reason] * count
        details = [model.error_detail] * count
        # The features' model inputs go straight into the runner's bound input buffer.
        model_inputs = self._batch
        if runner is not None:
            try:
                model_inputs = runner.bound_inputs(count)
            except Exception as exc:
                runner = None
                reasons = [fallback.INFERENCE_ERROR] * count
                details = [f"{type(exc).__name__}: {exc}"] * count
        outs = self._feature_rows
        low = model.input_low if model.input_low is not None else UNBOUNDED_LOW
        high = model.input_high if model.input_high is not None else UNBOUNDED_HIGH
        first_bad = engine.step_many(inputs, count, outs, model_inputs, low, high)
        t_features = time.perf_counter_ns()
        held = (
            self._hold_reasons(kept, model_inputs, low, high, first_bad)
            if first_bad >= 0 or self._warmup_left
            else None
        )

        if runner is not None:
            try:
                outputs = list(runner.run_bound(count))
            except Exception as exc:
                reasons = [fallback.INFERENCE_ERROR] * count
                details = [f"{type(exc).__name__}: {exc}"] * count
        t_inference = time.perf_counter_ns()
        elapsed_ns = t_inference - t_start
        over_budget = elapsed_ns > self._budget_ns

        config = self._config
        model_version = model.record.version if model.record is not None else None
        targets: list[int] = []
        for i, symbol in enumerate(kept):
            instrument = self._instruments[symbol]
            output = outputs[i]
            if not reasons[i] and held is not None and held[i][0]:
                reasons[i], details[i] = held[i]
            if not reasons[i]:
                if output is None:
                    reasons[i], details[i] = fallback.INFERENCE_ERROR, "no output"
                elif not math.isfinite(output):
                    reasons[i], details[i] = fallback.NAN_OUTPUT, f"model output {output}"
                elif abs(output) > config.max_abs_output_bps:
                    reasons[i], details[i] = (
                        fallback.OUTPUT_OUT_OF_RANGE,
                        f"model output {output:.6g} outside +-{config.max_abs_output_bps}",
                    )
                elif over_budget:
                    reasons[i], details[i] = (
                        fallback.BUDGET_OVERRUN,
                        f"{elapsed_ns // 1000} us to inference, budget {config.budget_us} us",
                    )
                elif self._store_error:
                    reasons[i], details[i] = fallback.STORE_UNWRITABLE, self._store_error
            if reasons[i]:
                target = fallback.safe_target_qty(
                    config.safe_target,
                    position_qty=positions[i],
                    lot_size=instrument.lot_size,
                    reduce_step_lots=config.reduce_step_lots,
                )
            else:
                assert output is not None
                target = fallback.target_from_output(
                    output,
                    full_position_bps=config.full_position_bps,
                    max_position_lots=instrument.max_position_lots,
                    lot_size=instrument.lot_size,
                )
            targets.append(target)
            self._note_fallback(symbol, reasons[i], details[i], recv_ns, model_version)

        t_risk = time.perf_counter_ns()
        send_span = None
        if span_ids is not None:
            # A bare context naming the send span that the recorder thread will start with
            # this id: the order manager's order spans take it as their parent.
            send_context = trace.set_span_in_context(
                trace.NonRecordingSpan(
                    trace.SpanContext(span_ids[0], span_ids[2], is_remote=False, trace_flags=_SAMPLED)
                )
            )
            token = otel_context.attach(send_context)
            try:
                orders_sent = self._execute(kept, targets, positions, first_no, recv_ns)
            finally:
                otel_context.detach(token)
        elif root is not None:
            root_context = trace.set_span_in_context(root)
            send_span = tracer.start_span("fixgw.decision.send", context=root_context)  # type: ignore[union-attr]
            with trace.use_span(send_span, end_on_exit=True):
                orders_sent = self._execute(kept, targets, positions, first_no, recv_ns)
                # The order manager's fixgw.order span carries fixgw.decision_id and
                # fix.cl_ord_id: these attributes are the join from a decision to its orders.
                send_span.set_attribute("fix.cl_ord_ids", orders_sent)
        else:
            orders_sent = self._execute(kept, targets, positions, first_no, recv_ns)
        t_send = time.perf_counter_ns()

        latency_ns = t_inference - t_start
        msg_type, msg_seq_num, sending_time_ns = header
        for i, symbol in enumerate(kept):
            book = books[symbol]
            decision_no = first_no + i
            self._store.add_decision(
                (
                    self.run_id,
                    decision_no,
                    f"{self.run_id}-{decision_no}",
                    symbol,
                    recv_ns,
                    recv_ns + (t_inference - t_start),
                    msg_type,
                    msg_seq_num,
                    book.rpt_seq,
                    sending_time_ns,
                    book.mid_e8() or 0,
                    outs[i].tobytes(),
                    model_version,
                    outputs[i] if outputs[i] is not None and math.isfinite(outputs[i] or 0.0) else None,
                    targets[i],
                    positions[i],
                    reasons[i],
                    latency_ns,
                )
            )
        self.stats.decisions += len(kept)
        timings = (t_start, t_book, t_features, t_inference, t_risk, t_send)
        self.last_timings = timings
        if self._timing_hook is not None:
            self._timing_hook(timings)
        if root is not None or span_ids is not None:
            # The stage spans and the root's attributes (and, with preset ids, the root and send
            # spans themselves) are written by the recorder thread: one span start costs 30-50 us
            # here. The root's end time is taken now, so the exported spans are the same.
            if len(self._span_jobs) < MAX_QUEUED_SPAN_JOBS:
                end_ns = time.time_ns()
                job = (root, span_ids, wall_start, timings, kept, orders_sent, reasons, first_no, end_ns)
                self._span_jobs.append(job)
            else:
                self.stats.spans_dropped += 1
                if root is not None:
                    root.end()

    def _write_spans(self) -> None:
        """Write the stage spans of the decisions queued by the callback (recorder thread)."""
        jobs = self._span_jobs
        while jobs:
            root, span_ids, wall_start, timings, symbols, orders_sent, reasons, first_no, end_ns = (
                jobs.popleft()
            )
            try:
                decision_ids = [f"{self.run_id}-{first_no + i}" for i in range(len(symbols))]
                if root is None:
                    root = self._start_preset_spans(span_ids, wall_start, timings, orders_sent)
                self._emit_stage_spans(
                    root, wall_start, timings, symbols, orders_sent, reasons, decision_ids, end_ns
                )
            except Exception:
                log.exception("decision spans could not be written; the decision itself is recorded")
            if jobs:
                _let_the_callback_in()  # one decision's spans hold the GIL for 100-300 us

    def _start_preset_spans(
        self,
        span_ids: tuple[int, int, int],
        wall_start: int,
        timings: tuple[int, int, int, int, int, int],
        orders_sent: list[str],
    ) -> Any:
        """Start the decision span and write its send span with the ids the callback picked
        (recorder thread). Returns the decision span, still open."""
        tracer = self._tracer
        preset_ids = preset_ids_of(tracer)
        assert tracer is not None and preset_ids is not None
        trace_id, root_id, send_id = span_ids
        preset_ids.preset(trace_id=trace_id, span_id=root_id)
        root = tracer.start_span("fixgw.decision", context=otel_context.Context(), start_time=wall_start)
        t_start = timings[0]
        preset_ids.preset(trace_id=trace_id, span_id=send_id)
        send = tracer.start_span(
            "fixgw.decision.send",
            context=trace.set_span_in_context(root),
            start_time=wall_start + (timings[4] - t_start),
            attributes={"fix.cl_ord_ids": orders_sent},
        )
        send.end(end_time=wall_start + (timings[5] - t_start))
        return root

    def _emit_stage_spans(
        self,
        root: Any,
        wall_start: int,
        timings: tuple[int, int, int, int, int, int],
        symbols: Sequence[str],
        orders_sent: list[str],
        reasons: Sequence[str],
        decision_ids: list[str],
        end_ns: int,
    ) -> None:
        tracer = self._tracer
        assert tracer is not None
        context = trace.set_span_in_context(root)
        t_start = timings[0]
        # Stage spans are written after the fact from the perf-counter marks: cheaper than
        # entering and leaving a context per stage.
        for name, begin, end in (
            ("fixgw.decision.book", timings[0], timings[1]),
            ("fixgw.decision.features", timings[1], timings[2]),
            ("fixgw.decision.inference", timings[2], timings[3]),
            ("fixgw.decision.risk", timings[3], timings[4]),
        ):
            span = tracer.start_span(name, context=context, start_time=wall_start + (begin - t_start))
            span.end(end_time=wall_start + (end - t_start))
        root.set_attribute("fixgw.symbols", list(symbols))
        root.set_attribute("fix.cl_ord_ids", orders_sent)
        root.set_attribute("fixgw.decision_ids", decision_ids)
        root.set_attribute("fixgw.fallback_reasons", [r for r in reasons if r])
        root.end(end_time=end_ns)

    def _hold_reasons(
        self,
        kept: Sequence[str],
        model_inputs: npt.NDArray[np.float32],
        low: npt.NDArray[np.float32],
        high: npt.NDArray[np.float32],
        first_bad: int,
    ) -> list[tuple[str, str]] | None:
        """Per kept symbol, why its model output must not be followed although the model ran:
        an input is not finite or outside the range the model was trained on, or the features
        are still warming up after the book restarted. None when every row is fine; the common
        case (nothing to hold) is decided by the caller: the features kernel checks the inputs in
        the same dispatch, and no series is warming up."""
        warming = self._warmup_left
        reasons: list[tuple[str, str]] = []
        names = kernels.MODEL_INPUT_NAMES
        warmup = self._config.warmup_steps
        for i, symbol in enumerate(kept):
            row = model_inputs[i]
            left = warming.get(symbol, 0)
            if left:
                # one more step of the new series is in
                left -= 1
                if left:
                    warming[symbol] = left
                else:
                    del warming[symbol]
            if first_bad >= 0 and i >= first_bad:
                values = [float(v) for v in row]
                bad = [j for j, v in enumerate(values) if not (math.isfinite(v) and low[j] <= v <= high[j])]
                if bad:
                    j = bad[0]
                    if math.isfinite(values[j]):
                        detail = f"{names[j]} = {values[j]:.6g} outside the trained range"
                        detail += f" [{low[j]:.6g}, {high[j]:.6g}]"
                    else:
                        detail = f"{names[j]} = {values[j]}"
                    reasons.append((fallback.INVALID_INPUT, detail))
                    continue
            if left:
                reasons.append(
                    (
                        fallback.FEATURES_WARMING_UP,
                        f"{warmup - left} of {warmup} steps since the book restarted",
                    )
                )
                continue
            reasons.append(("", ""))
        return reasons

    # ----------------------------------------------------------------- orders

    def _execute(
        self,
        symbols: Sequence[str],
        targets: Sequence[int],
        positions: Sequence[int],
        first_no: int,
        recv_ns: int,
    ) -> list[str]:
        sent: list[str] = []
        if not self._config.trade:
            return sent
        books = self._market.books
        for i, symbol in enumerate(symbols):
            book = books[symbol]
            top = book.top()
            if top is None:
                continue
            decision_id = f"{self.run_id}-{first_no + i}"
            instrument = self._instruments[symbol]
            working = self._orders.working_orders(symbol)
            last_reprice = self._last_reprice_ns.get(symbol, 0)
            may_reprice = recv_ns - last_reprice >= self._config.execution.min_replace_interval_ms * 1_000_000
            actions = planner.plan(
                target_qty=targets[i],
                position_qty=positions[i],
                working=working,
                bid=_price(top[0], instrument.tick_size),
                ask=_price(top[2], instrument.tick_size),
                instrument=instrument,
                execution=self._config.execution,
                may_reprice=may_reprice,
                max_order_qty=self._limits.max_order_qty,
                max_order_notional=self._limits.max_notional,
            )
            if actions:
                sent += self._send(symbol, actions, working, positions[i], decision_id, book, recv_ns)
        return sent

    def _send(
        self,
        symbol: str,
        actions: list[planner.Action],
        working: Sequence[WorkingOrderView],
        position_qty: int,
        decision_id: str,
        book: SymbolBook,
        recv_ns: int,
    ) -> list[str]:
        sent: list[str] = []
        mid_e8 = book.mid_e8() or 0
        for action in actions:
            if isinstance(action, planner.Cancel):
                result = self._orders.cancel(action.cl_ord_id)
                if not result.accepted:
                    log.info("cancel of %s not sent: %s", action.cl_ord_id, result.reason)
                continue
            sign = planner.side_sign(action.side)
            others = sum(
                o.leaves_qty
                for o in working
                if planner.side_sign(o.side) == sign
                and not (isinstance(action, planner.Replace) and o.cl_ord_id == action.cl_ord_id)
            )
            new_leaves = action.qty if isinstance(action, planner.Submit) else action.leaves_qty
            verdict = check_order(
                limits=self._limits,
                kill_switch=self._kill_switch,
                side_sign=sign,
                qty=new_leaves,
                price=action.price,
                position_qty=position_qty,
                working_same_side_qty=others,
            )
            if not verdict.allowed:
                self.stats.risk_denials += 1
                self._log_rate_limited(
                    symbol, "risk", recv_ns, "risk check refused an order on %s: %s", symbol, verdict.reason
                )
                continue
            if isinstance(action, planner.Submit):
                result = self._orders.submit(
                    symbol=symbol,
                    side=action.side,
                    qty=action.qty,
                    ord_type="2",
                    price=action.price,
                    tif=action.tif,
                    decision_id=decision_id,
                )
                kind, orig = "new", ""
            else:
                result = self._orders.replace(action.cl_ord_id, qty=action.qty, price=action.price)
                kind, orig = "replace", action.cl_ord_id
                self._last_reprice_ns[symbol] = recv_ns
            if result.accepted and result.cl_ord_id:
                self.stats.orders_sent += 1
                sent.append(result.cl_ord_id)
                self._store.add_order(
                    (
                        result.cl_ord_id,
                        self.run_id,
                        decision_id,
                        kind,
                        orig,
                        symbol,
                        action.side,
                        action.qty,
                        str(action.price),
                        mid_e8,
                        time.time_ns(),
                    )
                )
            else:
                self._log_rate_limited(
                    symbol, "order", recv_ns, "order on %s not sent: %s", symbol, result.reason
                )
        return sent

    # ----------------------------------------------------------------- data issues and fallback

    def _on_issue(self, issue: DataIssue, now_ns: int) -> None:
        symbol = issue.symbol
        requested = issue.needs_snapshot and bool(symbol) and self._request_snapshot(symbol, now_ns)
        key = (symbol, issue.reason)
        if (
            requested
            or now_ns - self._issue_logged_ns.get(key, 0) >= self._config.snapshot_retry_ms * 1_000_000
        ):
            self._issue_logged_ns[key] = now_ns
            log.warning(
                "market data for %s unusable: %s (%s)%s",
                symbol or "all",
                issue.reason,
                issue.detail,
                "; snapshot requested" if requested else "",
            )
            self._store.add_md_event(
                (self.run_id, now_ns, symbol, issue.reason, issue.detail, int(requested))
            )
        if symbol in self._instruments and issue.reason != REASON_NO_SNAPSHOT:
            # Without a trustworthy book no order can be priced: cancel what works and hold.
            reason = issue.reason if issue.reason in _OWN_FALLBACK_REASONS else REASON_STALE
            model_version = self._model.record.version if self._model.record else None
            self._note_fallback(symbol, reason, issue.detail, now_ns, model_version)
            if self._config.trade:
                # every working order, those with a request in flight too: the order manager
                # cancels each as soon as it is free, and again until it is final
                self._orders.cancel_working(symbol, reason=f"market data unusable: {issue.reason}")

    def _request_snapshot(self, symbol: str, now_ns: int) -> bool:
        """Ask for a MarketDataSnapshotFullRefresh(35=W), at most once per snapshot_retry_ms."""
        if now_ns - self._snapshot_requested_ns.get(symbol, 0) < self._config.snapshot_retry_ms * 1_000_000:
            return False
        self._snapshot_requested_ns[symbol] = now_ns
        self.stats.snapshot_requests += 1
        try:
            self._ctx.request_snapshot(symbol)
        except Exception:
            log.exception("snapshot request for %s failed", symbol)
        return True

    def _note_fallback(
        self, symbol: str, reason: str, detail: str, ts_ns: int, model_version: int | None
    ) -> None:
        current = self._fallback_state.get(symbol, "")
        if reason:
            self.stats.fallbacks += 1
        if reason == current:
            return
        safe = self._config.safe_target
        if current:
            self._store.add_fallback_event(
                (self.run_id, ts_ns, symbol, "exit", current, "", model_version, safe)
            )
        if reason:
            self._store.add_fallback_event(
                (self.run_id, ts_ns, symbol, "enter", reason, detail, model_version, safe)
            )
            log.warning("decision on %s falls back to %s target: %s (%s)", symbol, safe, reason, detail)
        else:
            log.info("decision on %s back on the model after %s", symbol, current)
        self._fallback_state[symbol] = reason

    def fallback_reason(self, symbol: str) -> str:
        return self._fallback_state.get(symbol, "")

    def _log_rate_limited(self, symbol: str, kind: str, now_ns: int, fmt: str, *args: object) -> None:
        key = (symbol, kind)
        if now_ns - self._issue_logged_ns.get(key, 0) >= 1_000_000_000:
            self._issue_logged_ns[key] = now_ns
            log.warning(fmt, *args)


@functools.lru_cache(maxsize=8192)
def _price(px_e8: int, tick_size: Decimal) -> Decimal:
    # Cached: the touch moves over a few hundred prices, and Decimal quantize costs microseconds.
    return px_e8_to_decimal(px_e8, tick_size)


@functools.lru_cache(maxsize=4096)
def _e8(value: Decimal) -> int:
    # Cached: a position's avg_cost and realized PnL change only with fills, and the Decimal
    # arithmetic costs more than the lookup.
    return int(value.scaleb(8).to_integral_value())


def new_run_id(clock_ns: int) -> str:
    return f"r{clock_ns:x}"


def describe_config(config: DecisionConfig) -> str:
    return json.dumps(asdict(config), default=str, sort_keys=True)


def open_sink(ctx: SinkContext, config: DecisionConfig) -> DecisionSink:
    """Build, warm and start the sink (the composition root calls this through build_sink)."""
    state_dir = Path(ctx.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    started_ns = ctx.clock_ns()
    run_id = new_run_id(started_ns)
    registry_dir = Path(config.registry_dir) if config.registry_dir else state_dir / "models"
    registry = ModelRegistry(registry_dir)
    try:
        registry.ensure_default()
    except (RegistryError, OSError) as exc:
        log.error("cannot seed the model registry with the shipped model: %s", exc)
    ticklog_path = state_dir / "ticks" / f"{run_id}.ticklog"
    ticklog = TickLogWriter(ticklog_path) if config.record_ticks else None
    store = FeatureStore(
        state_dir / "features.sqlite",
        run_id=run_id,
        started_ns=started_ns,
        ticklog=str(ticklog_path.relative_to(state_dir)) if ticklog is not None else "",
        config_json=describe_config(config),
        max_backlog_rows=config.max_store_backlog_rows,
    )
    tracer = _tracer() if config.tracing else None
    sink = DecisionSink(
        ctx, config, registry=registry, store=store, ticklog=ticklog, run_id=run_id, tracer=tracer
    )
    sink.warm()
    sink.start()
    return sink


def _tracer() -> Any:
    with contextlib.suppress(ImportError, AttributeError):
        from gateway import telemetry  # the gateway's tracer, when it has one

        get = getattr(telemetry, "get_tracer", None)
        if callable(get):
            return get("fixgw.decision")
    return trace.get_tracer("fixgw.decision")


__all__ = [
    "DecisionSink",
    "IncrementalReceived",
    "LoadedModel",
    "SnapshotReceived",
    "load_model",
    "open_sink",
]
