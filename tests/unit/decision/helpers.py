"""Test support for the decision path: a recording OrderPort, real quickfix W/X messages built
field by field, a seeded synthetic market, and real ONNX models (trained, NaN-emitting, failing).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import quickfix as fix
from onnx import TensorProto, helper

from gateway.domain.ports import OrderPort, PositionView, SinkContext, SubmitResult, WorkingOrderView
from gateway.features import kernels
from gateway.inference.registry import ModelRegistry
from gateway.inference.training import train_mlp
from gateway.marketdata.decoder import decode_raw
from gateway.marketdata.events import MarketDataMessage

T0_NS = 1_795_986_000_000_000_000  # 2026-11-29 21:00:00 UTC


def decode(message: fix.Message) -> MarketDataMessage:
    """A built quickfix W/X/Y message through the pure decoder, as the FIX edge hands it over."""
    return decode_raw(message.toString())


def fix_time(ns: int) -> str:
    import datetime as dt

    stamp = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.UTC)
    return stamp.strftime("%Y%m%d-%H:%M:%S") + f".{(ns // 1_000_000) % 1000:03d}"


def _header(message: fix.Message, msg_type: str, seq: int, sending_ns: int) -> None:
    header = message.getHeader()
    header.setField(fix.BeginString("FIX.4.4"))
    header.setField(fix.MsgType(msg_type))
    header.setField(49, "FIXSIM")
    header.setField(56, "FIXGW-MD")
    header.setField(34, str(seq))
    header.setField(52, fix_time(sending_ns))


def snapshot(
    symbol: str,
    *,
    rpt_seq: int,
    bids: Sequence[tuple[str, int]],
    asks: Sequence[tuple[str, int]],
    seq: int,
    sending_ns: int,
    last_trade: tuple[str, int] | None = None,
) -> fix.Message:
    """MarketDataSnapshotFullRefresh(35=W) built with quickfix, one entry per level."""
    message = fix.Message()
    _header(message, "W", seq, sending_ns)
    message.setField(55, symbol)
    message.setField(262, "md-1")
    message.setField(83, str(rpt_seq))
    levels = [("0", px, size) for px, size in bids] + [("1", px, size) for px, size in asks]
    if last_trade is not None:
        levels.append(("2", last_trade[0], last_trade[1]))
    group = fix.Group(268, 269)
    for entry_type, px, size in levels:
        group.setField(269, entry_type)
        group.setField(270, px)
        group.setField(271, str(size))
        message.addGroup(group)
    return message


@dataclass(frozen=True)
class Inc:
    action: str  # MDUpdateAction(279)
    entry_type: str  # MDEntryType(269)
    symbol: str
    px: str
    size: int
    rpt_seq: int


def incremental(entries: Sequence[Inc], *, seq: int, sending_ns: int) -> fix.Message:
    """MarketDataIncrementalRefresh(35=X) built with quickfix."""
    message = fix.Message()
    _header(message, "X", seq, sending_ns)
    message.setField(262, "md-1")
    group = fix.Group(268, 279)
    for entry in entries:
        group.setField(279, entry.action)
        group.setField(269, entry.entry_type)
        group.setField(55, entry.symbol)
        group.setField(270, entry.px)
        group.setField(271, str(entry.size))
        group.setField(83, str(entry.rpt_seq))
        message.addGroup(group)
    return message


@dataclass
class RecordingOrderPort:
    """An OrderPort that records every call; orders rest until told otherwise."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    orders: dict[str, WorkingOrderView] = field(default_factory=dict)
    positions: dict[str, PositionView] = field(default_factory=dict)
    refuse_reason: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def submit(
        self,
        *,
        symbol: str,
        side: str,
        qty: int,
        ord_type: str,
        price: Decimal | None = None,
        tif: str = "0",
        decision_id: str | None = None,
    ) -> SubmitResult:
        self.calls.append(
            (
                "submit",
                dict(
                    symbol=symbol,
                    side=side,
                    qty=qty,
                    ord_type=ord_type,
                    price=price,
                    tif=tif,
                    decision_id=decision_id,
                ),
            )
        )
        if self.refuse_reason:
            return SubmitResult(accepted=False, cl_ord_id=None, reason=self.refuse_reason)
        cl_ord_id = f"C{next(self._ids)}"
        if tif != "3":
            self.orders[cl_ord_id] = WorkingOrderView(
                cl_ord_id=cl_ord_id,
                symbol=symbol,
                side=side,
                price=price,
                order_qty=qty,
                leaves_qty=qty,
                cum_qty=0,
                pending="",
            )
        return SubmitResult(accepted=True, cl_ord_id=cl_ord_id)

    def cancel(self, cl_ord_id: str) -> SubmitResult:
        self.calls.append(("cancel", dict(cl_ord_id=cl_ord_id)))
        self.orders.pop(cl_ord_id, None)
        return SubmitResult(accepted=True, cl_ord_id=cl_ord_id)

    def cancel_working(self, symbol: str | None = None, *, reason: str) -> int:
        self.calls.append(("cancel_working", dict(symbol=symbol, reason=reason)))
        # as the order manager does: an order with a request in flight is cancelled only once
        # the request is answered (the sink asks again while the book stays unusable)
        doomed = [
            c for c, o in self.orders.items() if (symbol is None or o.symbol == symbol) and not o.pending
        ]
        for cl_ord_id in doomed:
            self.orders.pop(cl_ord_id)
        return len(doomed)

    def replace(
        self, cl_ord_id: str, *, qty: int | None = None, price: Decimal | None = None
    ) -> SubmitResult:
        self.calls.append(("replace", dict(cl_ord_id=cl_ord_id, qty=qty, price=price)))
        old = self.orders.pop(cl_ord_id)
        new_id = f"C{next(self._ids)}"
        order_qty = qty if qty is not None else old.order_qty
        self.orders[new_id] = replace(
            old,
            cl_ord_id=new_id,
            order_qty=order_qty,
            leaves_qty=order_qty - old.cum_qty,
            price=price if price is not None else old.price,
        )
        return SubmitResult(accepted=True, cl_ord_id=new_id)

    def working_orders(self, symbol: str) -> Sequence[WorkingOrderView]:
        return [o for o in self.orders.values() if o.symbol == symbol]

    def position(self, symbol: str) -> PositionView:
        return self.positions.get(symbol) or PositionView(
            symbol=symbol, qty=0, avg_cost=Decimal(0), realized_pnl=Decimal(0)
        )

    def set_position(self, symbol: str, qty: int, avg_cost: str = "0", realized: str = "0") -> None:
        self.positions[symbol] = PositionView(
            symbol=symbol, qty=qty, avg_cost=Decimal(avg_cost), realized_pnl=Decimal(realized)
        )

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@dataclass
class Clock:
    now_ns: int = T0_NS

    def __call__(self) -> int:
        return self.now_ns


def context(
    tmp_path: Path,
    orders: OrderPort,
    *,
    table: dict[str, Any] | None = None,
    symbols: Sequence[str] = ("ACME",),
    snapshots: list[str] | None = None,
    clock: Clock | None = None,
) -> SinkContext:
    requested = snapshots if snapshots is not None else []
    return SinkContext(
        orders=orders,
        symbols=list(symbols),
        state_dir=tmp_path / "decision",
        ledger_path=tmp_path / "ledger.sqlite",
        clock_ns=clock or Clock(),
        request_snapshot=requested.append,
        decision_table=table or {},
    )


# ------------------------------------------------------------------ a seeded synthetic market


class SyntheticMarket:
    """A random-walk book for one symbol, published as real quickfix W then X messages, with a
    little momentum so a model has something to learn."""

    def __init__(self, symbol: str = "ACME", *, seed: int = 7, tick: Decimal = Decimal("0.01")) -> None:
        self.symbol = symbol
        self.rng = random.Random(seed)
        self.tick = tick
        self.mid_ticks = 10_000
        self.rpt_seq = 0
        self.seq = 1
        self.now_ns = T0_NS
        self.drift = 0.0
        self.bid_size = 500
        self.ask_size = 500

    def px(self, ticks: int) -> str:
        return str(self.tick * ticks)

    def first(self) -> fix.Message:
        self.seq += 1
        bid, ask = self.mid_ticks - 1, self.mid_ticks + 1
        return snapshot(
            self.symbol,
            rpt_seq=self.rpt_seq,
            bids=[(self.px(bid), self.bid_size)],
            asks=[(self.px(ask), self.ask_size)],
            seq=self.seq,
            sending_ns=self.now_ns,
        )

    def step(self, dt_ns: int = 20_000_000) -> tuple[fix.Message, int]:
        """Next incremental and its receive time."""
        self.now_ns += dt_ns
        self.seq += 1
        old_bid, old_ask = self.mid_ticks - 1, self.mid_ticks + 1
        self.drift = 0.9 * self.drift + self.rng.gauss(0, 0.3)
        move = 1 if self.drift > 0.25 else -1 if self.drift < -0.25 else 0
        entries: list[Inc] = []
        if move:
            entries.append(
                Inc(
                    "0",
                    "2",
                    self.symbol,
                    self.px(old_ask if move > 0 else old_bid),
                    self.rng.randint(1, 50),
                    self._next(),
                )
            )
            self.mid_ticks += move
            bid, ask = self.mid_ticks - 1, self.mid_ticks + 1
            entries += [
                Inc("2", "0", self.symbol, self.px(old_bid), 0, self._next()),
                Inc("2", "1", self.symbol, self.px(old_ask), 0, self._next()),
                Inc("0", "0", self.symbol, self.px(bid), self.rng.randint(100, 900), self._next()),
                Inc("0", "1", self.symbol, self.px(ask), self.rng.randint(100, 900), self._next()),
            ]
        else:
            side = self.rng.choice(["0", "1"])
            entries.append(
                Inc(
                    "1",
                    side,
                    self.symbol,
                    self.px(old_bid if side == "0" else old_ask),
                    self.rng.randint(100, 900),
                    self._next(),
                )
            )
        return incremental(entries, seq=self.seq, sending_ns=self.now_ns), self.now_ns

    def _next(self) -> int:
        self.rpt_seq += 1
        return self.rpt_seq


# ------------------------------------------------------------------ real ONNX models

N_INPUTS = len(kernels.MODEL_INPUT_NAMES)


def trained_model_bytes(seed: int = 3) -> bytes:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(400, N_INPUTS)).astype(np.float32)
    labels = features[:, 3] * 0.5 + rng.normal(scale=0.1, size=400)
    return train_mlp(features, labels, hidden=(8,), epochs=5, seed=seed).onnx_bytes


def _single_node_model(nodes: list[Any], initializers: list[Any]) -> bytes:
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, N_INPUTS])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def constant_model_bytes(value: float) -> bytes:
    """A model whose output is `value` for every row (NaN, inf or out of range on demand)."""
    weights = helper.make_tensor("w", TensorProto.FLOAT, [N_INPUTS, 1], [0.0] * N_INPUTS)
    bias = helper.make_tensor("b", TensorProto.FLOAT, [1], [value])
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["out"]),
    ]
    return _single_node_model(nodes, [weights, bias])


def failing_model_bytes() -> bytes:
    """A valid model that raises inside `run`: it reshapes every batch to an impossible shape."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [7, 1])
    nodes = [helper.make_node("Reshape", ["features", "shape"], ["out"])]
    return _single_node_model(nodes, [shape])


def single_row_model_bytes() -> bytes:
    """Runs on one row, raises on a batch of two or more (fixes the batch dimension to 1)."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, N_INPUTS])
    weights = helper.make_tensor("w", TensorProto.FLOAT, [N_INPUTS, 1], [0.1] * N_INPUTS)
    nodes = [
        helper.make_node("Reshape", ["features", "shape"], ["row"]),
        helper.make_node("MatMul", ["row", "w"], ["out"]),
    ]
    return _single_node_model(nodes, [shape, weights])


def register_model(
    registry_dir: Path,
    model_bytes: bytes,
    *,
    name: str,
    activate: bool = True,
    schema_hash: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> int:
    path = registry_dir.parent / f"{name}.onnx"
    registry_dir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model_bytes)
    registry = ModelRegistry(registry_dir)
    try:
        record = registry.register(
            path,
            name=name,
            feature_schema_hash=schema_hash or kernels.feature_schema_hash(),
            input_names=list(kernels.MODEL_INPUT_NAMES),
            metrics=metrics or {},
            source="test",
        )
        if activate:
            registry.activate(record.version) if schema_hash is None else _force_activate(
                registry, record.version
            )
        return record.version
    finally:
        registry.close()


def _force_activate(registry: ModelRegistry, version: int) -> None:
    # Bypasses the registry's own check, as a registry edited by an older gateway would.
    registry._conn.execute(
        "INSERT INTO activations (version, action, activated_ns) VALUES (?, 'activate', 0)", (version,)
    )
