"""OpenTelemetry for the gateway: the one place that sets up tracing, and every span name.

Takes a `TelemetrySection`; gives a `Telemetry` whose tracer provider exports spans as JSON lines
to a file (one JSON object per span, our own `JsonLinesSpanExporter`), and also over OTLP/HTTP
when OTEL_EXPORTER_OTLP_ENDPOINT is set. Spans leave through a batch processor, so the callback
thread only pays for starting and ending them (about 11-20 us); the first span in a process
costs about 60 ms, which `warm_up()` pays at start instead of on the first order.

`OrderSpans` is the order manager's observer: one span per order, from submit to its final
ExecutionReport, with the FIX identifiers as attributes. The decision path gets its tracer from
`get_tracer()`.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

from gateway.config import TelemetrySection
from gateway.domain.orders import Order

log = logging.getLogger("fixgw.telemetry")

# --- names: every span, attribute and metric name the gateway emits ------------------------
TRACER_NAME: Final = "fixgw"
SPAN_ORDER: Final = "fixgw.order"  # submit -> final ExecutionReport
SPAN_WARM_UP: Final = "fixgw.warm_up"
SPAN_SESSION_LOGON: Final = "fixgw.session.logon"
SPAN_DECISION: Final = "fixgw.decision"  # market data -> order, for the decision path
ATTR_CL_ORD_ID: Final = "fix.cl_ord_id"
ATTR_ORDER_ID: Final = "fix.order_id"
ATTR_SYMBOL: Final = "fix.symbol"
ATTR_SIDE: Final = "fix.side"
ATTR_QTY: Final = "fix.order_qty"
ATTR_PRICE: Final = "fix.price"
ATTR_ORD_TYPE: Final = "fix.ord_type"
ATTR_FINAL_STATUS: Final = "fix.ord_status"
ATTR_CUM_QTY: Final = "fix.cum_qty"
ATTR_SESSION: Final = "fix.session"
ATTR_DECISION_ID: Final = "fixgw.decision_id"

OTLP_ENDPOINT_ENV: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"


class JsonLinesSpanExporter(SpanExporter):
    """Writes each finished span as one JSON object per line (flushed per batch)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    @staticmethod
    def to_dict(span: ReadableSpan) -> dict[str, Any]:
        context = span.get_span_context()
        start, end = span.start_time or 0, span.end_time or 0
        return {
            "name": span.name,
            "trace_id": f"{context.trace_id:032x}" if context else None,
            "span_id": f"{context.span_id:016x}" if context else None,
            "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
            "start_ns": start,
            "end_ns": end,
            "duration_us": (end - start) / 1000 if end and start else None,
            "status": span.status.status_code.name,
            "attributes": dict(span.attributes or {}),
            "events": [
                {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
                for e in span.events
            ],
            "resource": dict(span.resource.attributes),
        }

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            lines = "".join(json.dumps(self.to_dict(s), default=str) + "\n" for s in spans)
            with self._lock:
                self._file.write(lines)
                self._file.flush()
        except (OSError, ValueError) as exc:
            log.warning("span export to %s failed: %s", self._path, exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
        return True


class PresetIdGenerator(IdGenerator):
    """Random trace and span ids, except the ones a thread has preset for its next span.

    Starting a span costs 30-50 us on a loaded machine; picking its ids costs about 1 us. The
    decision path picks the ids of its decision and send spans on the FIX callback and puts a
    bare context with them in place while it sends orders, so the order spans started then
    point at them; its recorder thread starts the real spans later with `preset` and the same
    ids. Other threads, and every span started without `preset`, get random ids as usual.
    """

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._preset = threading.local()

    def new_trace_id(self) -> int:
        return self._random.generate_trace_id()

    def new_span_id(self) -> int:
        return self._random.generate_span_id()

    def preset(self, *, trace_id: int, span_id: int) -> None:
        """The next span this thread starts gets `span_id` (and `trace_id`, if it is a root)."""
        self._preset.trace_id = trace_id
        self._preset.span_id = span_id

    def generate_span_id(self) -> int:
        span_id: int = getattr(self._preset, "span_id", 0)
        if span_id:
            self._preset.span_id = 0
            self._preset.trace_id = 0  # a span with a parent never asked for its trace id
            return span_id
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id: int = getattr(self._preset, "trace_id", 0)
        if trace_id:
            self._preset.trace_id = 0
            return trace_id
        return self._random.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return True


def preset_ids_of(tracer: Any) -> PresetIdGenerator | None:
    """The tracer's PresetIdGenerator, if its provider was built with one (else None)."""
    ids = getattr(tracer, "id_generator", None)
    return ids if isinstance(ids, PresetIdGenerator) else None


class Telemetry:
    def __init__(self, provider: TracerProvider, spans_path: Path, otlp_endpoint: str | None) -> None:
        self.provider = provider
        self.spans_path = spans_path
        self.otlp_endpoint = otlp_endpoint
        self.tracer = provider.get_tracer(TRACER_NAME)

    def warm_up(self) -> None:
        with self.tracer.start_as_current_span(SPAN_WARM_UP):
            pass

    def shutdown(self) -> None:
        try:
            self.provider.force_flush(5000)
            self.provider.shutdown()
        except Exception as exc:  # telemetry must never stop a shutdown
            log.warning("telemetry shutdown: %s", exc)


_active: Telemetry | None = None


def setup_telemetry(config: TelemetrySection) -> Telemetry:
    """Build the tracer provider: JSON lines to `config.spans_path`, plus OTLP/HTTP when the
    standard OTEL_EXPORTER_OTLP_ENDPOINT variable is set (and `config.otlp`)."""
    global _active
    provider = TracerProvider(
        resource=Resource.create({"service.name": config.service_name}), id_generator=PresetIdGenerator()
    )
    provider.add_span_processor(
        BatchSpanProcessor(JsonLinesSpanExporter(config.spans_path), schedule_delay_millis=500)
    )
    endpoint = os.environ.get(OTLP_ENDPOINT_ENV) if config.otlp else None
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("exporting spans over OTLP/HTTP to %s", endpoint)
    _active = Telemetry(provider, config.spans_path, endpoint)
    return _active


def get_tracer(name: str = TRACER_NAME) -> trace.Tracer:
    """The gateway's tracer (for the decision path too); the global no-op one before setup."""
    if _active is not None:
        return _active.provider.get_tracer(name)
    return trace.get_tracer(name)


class OrderSpans:
    """One span per order, from submit to its final state (an `OrderObserver`).

    The span is built when the order ends, with the submit time as its start: the same span as
    one started at submit, but its SDK work (ids, attributes, sampler, about 100-200 us here)
    happens on a worker thread, not between a decision and its NewOrderSingle nor inside the
    callback that committed the final report. The worker is not woken per order: it wakes every
    `flush_interval_s` and builds what finished meanwhile. Waking it per order made the callback
    thread hand the GIL to it right after each final report (measured about 100 us per order
    on the callback thread, spent in the queue put)."""

    def __init__(self, tracer: trace.Tracer, *, flush_interval_s: float = 0.2) -> None:
        self._tracer = tracer
        self._flush_interval_s = flush_interval_s
        # order key -> (the order as submitted, the trace context it was submitted in)
        self._open: dict[str, tuple[Order, otel_context.Context]] = {}
        self._lock = threading.Lock()
        # deque append/popleft are atomic and wake nobody
        self._finished: collections.deque[tuple[Order, otel_context.Context, Order]] = collections.deque()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="order-spans", daemon=True)
        self._worker.start()

    def order_submitted(self, order: Order) -> None:
        # the caller's context (a decision's send span, say) becomes the order span's parent
        context = otel_context.get_current()
        with self._lock:
            self._open[order.order_key] = (order, context)

    def order_finished(self, order: Order) -> None:
        with self._lock:
            submitted = self._open.pop(order.order_key, None)
        if submitted is not None:  # None: an order from before a restart, its span died with it
            self._finished.append((submitted[0], submitted[1], order))

    def open_spans(self) -> int:
        with self._lock:
            return len(self._open)

    def close(self, timeout_s: float = 5.0) -> None:
        """Build the spans still queued, then stop the worker."""
        self._stop.set()
        self._worker.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self._flush_interval_s):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        while self._finished:
            item = self._finished.popleft()
            try:
                self._emit(*item)
            except Exception as exc:  # a span must never take the gateway down
                log.warning("order span failed: %s", exc)

    def _emit(self, submitted: Order, context: otel_context.Context, order: Order) -> None:
        attributes: dict[str, str | int] = {
            ATTR_CL_ORD_ID: submitted.cl_ord_id,
            ATTR_SYMBOL: submitted.symbol,
            ATTR_SIDE: submitted.side.value,
            ATTR_QTY: submitted.order_qty,
            ATTR_ORD_TYPE: submitted.ord_type.value,
            ATTR_SESSION: submitted.session,
            ATTR_FINAL_STATUS: order.status.name,
            ATTR_CUM_QTY: order.cum_qty,
        }
        if submitted.price is not None:
            attributes[ATTR_PRICE] = str(submitted.price)
        if submitted.decision_id:
            attributes[ATTR_DECISION_ID] = submitted.decision_id
        if order.order_id:
            attributes[ATTR_ORDER_ID] = order.order_id
        if order.cl_ord_id != order.order_key:
            attributes[ATTR_CL_ORD_ID + ".final"] = order.cl_ord_id
        span = self._tracer.start_span(
            SPAN_ORDER, context=context, attributes=attributes, start_time=submitted.created_ns
        )
        span.end(end_time=order.updated_ns or None)
