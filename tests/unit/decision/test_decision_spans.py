"""Decision spans with the order manager's order spans, in one process: real quickfix messages,
a real ONNX model, a real OrderManager and SQLite ledger, OpenTelemetry's SDK with an in-memory
exporter. With the gateway's id generator (PresetIdGenerator) the decision and send spans are
started by the recorder thread with ids picked on the callback; the traces must come out as
when they were started on the callback: an order span's parent is its decision's send span."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import telemetry
from gateway.decision import build_sink
from gateway.decision import sink as sink_module
from gateway.decision.sink import SinkStats
from gateway.domain.fix_values import ExecType, OrdStatus, Side
from gateway.telemetry import OrderSpans, PresetIdGenerator
from tests.unit.decision.helpers import SyntheticMarket, constant_model_bytes, context, register_model
from tests.unit.gateway.factories import make_oms, report

STAGES = {"fixgw.decision.book", "fixgw.decision.features", "fixgw.decision.inference", "fixgw.decision.risk"}


@pytest.fixture(params=["preset ids", "plain sdk ids"])
def provider(request: pytest.FixtureRequest) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    ids = PresetIdGenerator() if request.param == "preset ids" else None
    provider = TracerProvider(id_generator=ids) if ids else TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _run_traced_decisions(
    tmp_path: Any, provider: TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], SinkStats]:
    tracer = provider.get_tracer("fixgw")
    monkeypatch.setattr(telemetry, "get_tracer", lambda name="fixgw": provider.get_tracer(name))
    order_spans = OrderSpans(tracer, flush_interval_s=0.01)
    oms, ledger, sender = make_oms(tmp_path, observer=order_spans)  # type: ignore[arg-type]
    register_model(tmp_path / "decision" / "models", constant_model_bytes(1.0), name="long")
    table = {
        "tracing": True,
        "budget_us": 1_000_000,
        "full_position_bps": 1.0,
        "store_flush_ms": 10,
        "execution": {"style": "marketable", "cap_ticks": 2},
    }
    sink = build_sink(context(tmp_path, oms, table=table))
    market = SyntheticMarket()
    sent: list[str] = []
    try:
        feed = [(market.first(), market.now_ns)] + [market.step() for _ in range(6)]
        for message, recv_ns in feed:
            before = len(sender.sent)
            sink.on_market_data(message, "FIXSIM", recv_ns)
            for _, msg_type, fields in sender.sent[before:]:
                if msg_type == "D":  # the venue fills each order in full
                    qty = int(fields[38])
                    oms.on_execution_report(
                        report(fields[11], ExecType.TRADE, OrdStatus.FILLED, side=Side(fields[54]),
                               last_qty=qty, last_px=fields[44], cum_qty=qty)
                    )  # fmt: skip
                    sent.append(fields[11])
        sink.flush()
    finally:
        sink.close()
        order_spans.close()
        ledger.close()
    return sent, sink.stats


def test_order_spans_are_children_of_their_decisions_send_span(tmp_path, provider, monkeypatch) -> None:
    tracer_provider, exporter = provider

    sent, _ = _run_traced_decisions(tmp_path, tracer_provider, monkeypatch)

    spans: list[ReadableSpan] = list(exporter.get_finished_spans())
    assert sent, "the model should have traded"
    decisions = {s.context.span_id: s for s in spans if s.name == "fixgw.decision"}
    sends = {s.context.span_id: s for s in spans if s.name == "fixgw.decision.send"}
    orders = [s for s in spans if s.name == "fixgw.order"]
    assert decisions and len(sends) == len(decisions)
    children: dict[int, set[str]] = {}
    for span in spans:
        if span.name.startswith("fixgw.decision.") and span.parent is not None:
            assert span.parent.span_id in decisions and span.context.trace_id == span.parent.trace_id
            children.setdefault(span.parent.span_id, set()).add(span.name)
    assert all(STAGES | {"fixgw.decision.send"} <= children[d] for d in decisions)
    assert sorted(str(s.attributes["fix.cl_ord_id"]) for s in orders if s.attributes) == sorted(sent)
    for order in orders:
        assert order.parent is not None and order.parent.span_id in sends
        send = sends[order.parent.span_id]
        assert order.context.trace_id == send.context.trace_id
        assert order.attributes and send.attributes
        assert order.attributes["fix.cl_ord_id"] in list(send.attributes["fix.cl_ord_ids"])  # type: ignore[arg-type]
        decision = decisions[send.parent.span_id]  # type: ignore[union-attr]
        assert order.attributes["fixgw.decision_id"] in list(decision.attributes["fixgw.decision_ids"])  # type: ignore[index,arg-type]
    for send in sends.values():  # the send stage lies inside its decision
        decision = decisions[send.parent.span_id]  # type: ignore[union-attr]
        assert decision.start_time <= send.start_time <= send.end_time <= decision.end_time  # type: ignore[operator]


def test_preset_ids_go_to_the_next_span_of_the_presetting_thread_only() -> None:
    ids = PresetIdGenerator()
    provider = TracerProvider(id_generator=ids)
    tracer = provider.get_tracer("t")

    ids.preset(trace_id=0xABC, span_id=0x123)
    first = tracer.start_span("first")
    second = tracer.start_span("second")

    assert first.get_span_context().trace_id == 0xABC and first.get_span_context().span_id == 0x123
    assert second.get_span_context().span_id not in (0, 0x123)
    assert second.get_span_context().trace_id != 0xABC
    first.end()
    second.end()
    provider.shutdown()


def test_spans_the_recorder_cannot_keep_up_with_are_dropped_and_counted(
    tmp_path, provider, monkeypatch
) -> None:
    """Memory stays bounded when tracing outruns the recorder thread: here no backlog at all is
    allowed, so every decision's spans are dropped, and the orders still trade and are traced."""
    tracer_provider, exporter = provider
    monkeypatch.setattr(sink_module, "MAX_QUEUED_SPAN_JOBS", 0)

    sent, stats = _run_traced_decisions(tmp_path, tracer_provider, monkeypatch)

    spans = list(exporter.get_finished_spans())
    assert sent, "the model should have traded"
    assert stats.spans_dropped > 0
    assert not [s for s in spans if s.name in STAGES], "no stage span"
    orders = [s for s in spans if s.name == "fixgw.order"]
    assert sorted(str(s.attributes["fix.cl_ord_id"]) for s in orders if s.attributes) == sorted(sent)
