"""Telemetry: one span per order from submit to final state, exported as JSON lines."""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import replace
from decimal import Decimal

from gateway.config import TelemetrySection
from gateway.domain.fix_values import OrdStatus, OrdType, Side, TimeInForce
from gateway.domain.orders import Order
from gateway.telemetry import SPAN_ORDER, OrderSpans, get_tracer, setup_telemetry


def test_order_span_runs_from_submit_to_final_with_fix_identifiers(tmp_path):
    telemetry = setup_telemetry(TelemetrySection(spans_path=tmp_path / "spans.jsonl", otlp=False))
    telemetry.warm_up()
    spans = OrderSpans(telemetry.tracer)
    order = Order(
        order_key="7-1",
        cl_ord_id="7-1",
        run_id=7,
        venue="SIM",
        session="S",
        symbol="ACME",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        tif=TimeInForce.DAY,
        price=Decimal("100.5"),
        order_qty=10,
        created_ns=1_000,
    )

    with telemetry.tracer.start_as_current_span("fixgw.decision.send") as parent:
        spans.order_submitted(order)
    assert spans.open_spans() == 1
    spans.order_finished(replace(order, cl_ord_id="7-2", status=OrdStatus.FILLED, order_id="V9", cum_qty=10))
    spans.close()
    telemetry.shutdown()

    records = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    order_spans = [r for r in records if r["name"] == SPAN_ORDER]
    assert len(order_spans) == 1 and spans.open_spans() == 0
    attributes = order_spans[0]["attributes"]
    assert attributes["fix.cl_ord_id"] == "7-1" and attributes["fix.cl_ord_id.final"] == "7-2"
    assert attributes["fix.order_id"] == "V9" and attributes["fix.ord_status"] == "FILLED"
    assert (
        attributes["fix.symbol"] == "ACME"
        and attributes["fix.side"] == "1"
        and attributes["fix.order_qty"] == 10
    )
    assert order_spans[0]["parent_span_id"] == f"{parent.get_span_context().span_id:016x}"
    assert order_spans[0]["start_ns"] == 1_000 and order_spans[0]["resource"]["service.name"] == "fixgw"
    assert get_tracer() is not None


def test_spans_reach_an_otlp_http_collector_when_the_endpoint_is_set(tmp_path, monkeypatch):
    received: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        telemetry = setup_telemetry(TelemetrySection(spans_path=tmp_path / "spans.jsonl"))
        with telemetry.tracer.start_as_current_span("fixgw.test.otlp"):
            pass
        telemetry.shutdown()
    finally:
        server.shutdown()

    assert telemetry.otlp_endpoint == f"http://127.0.0.1:{server.server_port}"
    assert [path for path, _ in received] == ["/v1/traces"]
    assert b"fixgw.test.otlp" in received[0][1]  # the span name inside the protobuf payload


def test_no_otlp_export_without_the_endpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)

    telemetry = setup_telemetry(TelemetrySection(spans_path=tmp_path / "a.jsonl"))

    assert telemetry.otlp_endpoint is None
    telemetry.shutdown()
