"""The gateway TOML's [decision] table -> frozen config values.

Unknown keys are rejected and the error names the key with its full path
(`decision.risk.max_order_qty`); units are in the key names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any, Final

MODES: Final = ("realtime", "microbatch")
SAFE_TARGETS: Final = ("flat", "hold", "reduce_only")
EXECUTION_STYLES: Final = ("passive", "marketable")

# The bundled simulator's instruments (docs/simulator.md); other symbols must be configured.
KNOWN_INSTRUMENTS: Final = {
    "ACME": ("0.01", 1),
    "BOLT": ("0.05", 10),
    "CRUX": ("0.01", 100),
}


class DecisionConfigError(ValueError):
    """The [decision] table is invalid; the message names the key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentConfig:
    symbol: str
    tick_size: Decimal
    lot_size: int
    max_position_lots: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionConfig:
    style: str = "passive"  # passive: limit at the touch, replaced to follow; marketable: capped IOC limit
    cap_ticks: int = 2  # marketable limit: at most this many ticks through the far touch
    max_working_per_side: int = 1
    min_replace_interval_ms: int = 50
    tif: str = "0"  # TimeInForce(59) of passive orders; marketable ones are IOC


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskConfig:
    max_order_qty: int = 1000
    max_position_qty: int = 5000  # absolute, per symbol, counting working orders
    max_notional: Decimal = Decimal("100000")  # per order: qty * price
    kill_switch: bool = False  # true: no new orders or replaces, cancels only
    kill_switch_file: str = ""  # if this file exists the kill switch is on (checked every registry poll)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionConfig:
    mode: str = "realtime"
    budget_us: int = 1000  # book + features + inference; over it the decision falls back
    safe_target: str = "flat"
    reduce_step_lots: int = 1
    full_position_bps: float = 2.0  # model output (forward return, bps) that maps to max position
    max_abs_output_bps: float = 200.0  # |output| above this is out of range -> fallback
    registry_dir: str = ""  # default <state_dir>/models
    registry_poll_ms: int = 200
    max_md_age_ms: int = 2000  # SendingTime(52) older than this: stale
    stale_after_ms: int = 0  # no update for this long: stale (0 = off; quiet markets are normal)
    snapshot_retry_ms: int = 1000
    tracing: bool = True
    record_ticks: bool = True
    store_flush_ms: int = 50
    trade: bool = True  # false: decide and record, send no orders (shadow mode)
    # after a book restarts (a snapshot after a gap, a session drop, a stale feed) the features
    # start over; the decision stays on the safe target until they have this many steps
    warmup_steps: int = 32
    # a model input outside the range recorded with the model (widened by this fraction of its
    # width on each side) makes the decision fall back (invalid_input)
    input_range_tolerance: float = 0.25
    # rows the feature store keeps while it cannot be written; beyond, the oldest are dropped
    max_store_backlog_rows: int = 200_000
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    symbols: Mapping[str, InstrumentConfig] = field(default_factory=dict)


_DEFAULT_MAX_POSITION_LOTS: Final = 5


def _convert(path: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise DecisionConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecisionConfigError(f"{path}: expected an integer, got {value!r}")
        if value < 0:
            raise DecisionConfigError(f"{path}: must not be negative, got {value}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecisionConfigError(f"{path}: expected a number, got {value!r}")
        if value <= 0:
            raise DecisionConfigError(f"{path}: must be positive, got {value}")
        return float(value)
    if isinstance(default, Decimal):
        try:
            converted = Decimal(str(value))
        except InvalidOperation:
            raise DecisionConfigError(f"{path}: expected a decimal, got {value!r}") from None
        if isinstance(value, bool) or converted <= 0:
            raise DecisionConfigError(f"{path}: must be a positive decimal, got {value!r}")
        return converted
    if isinstance(default, str):
        if not isinstance(value, str):
            raise DecisionConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise DecisionConfigError(f"{path}: unsupported value {value!r}")


def _build(
    cls: type, table: Mapping[str, Any], prefix: str, nested: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise DecisionConfigError(f"{prefix}: expected a table, got {table!r}")
    known = {f.name for f in fields(cls)}
    for key in table:
        if key not in known:
            raise DecisionConfigError(f"{prefix}.{key}: unknown key (known: {', '.join(sorted(known))})")
    defaults = cls()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in nested:
            continue
        values[key] = _convert(f"{prefix}.{key}", value, getattr(defaults, key))
    return values


def _choice(path: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DecisionConfigError(f"{path}: {value!r} is not one of {', '.join(allowed)}")


def load_decision_config(table: Mapping[str, Any], symbols: list[str] | tuple[str, ...]) -> DecisionConfig:
    """Validate the [decision] table for the gateway's symbols."""
    values = _build(DecisionConfig, table, "decision", frozenset({"execution", "risk", "symbols"}))
    execution_values = _build(ExecutionConfig, table.get("execution", {}), "decision.execution")
    risk_values = _build(RiskConfig, table.get("risk", {}), "decision.risk")
    execution = ExecutionConfig(**execution_values)
    risk = RiskConfig(**risk_values)
    config = DecisionConfig(**values, execution=execution, risk=risk)
    _choice("decision.mode", config.mode, MODES)
    _choice("decision.safe_target", config.safe_target, SAFE_TARGETS)
    _choice("decision.execution.style", execution.style, EXECUTION_STYLES)
    _choice("decision.execution.tif", execution.tif, ("0", "1", "3", "4"))
    if config.budget_us == 0:
        raise DecisionConfigError("decision.budget_us: must be positive")
    if execution.max_working_per_side == 0:
        raise DecisionConfigError("decision.execution.max_working_per_side: must be at least 1")

    symbol_tables = table.get("symbols", {})
    if not isinstance(symbol_tables, Mapping):
        raise DecisionConfigError(f"decision.symbols: expected a table, got {symbol_tables!r}")
    for name in symbol_tables:
        if name not in symbols:
            raise DecisionConfigError(
                f"decision.symbols.{name}: not one of the gateway's symbols {list(symbols)}"
            )
    instruments: dict[str, InstrumentConfig] = {}
    for symbol in symbols:
        entry = symbol_tables.get(symbol, {})
        path = f"decision.symbols.{symbol}"
        if not isinstance(entry, Mapping):
            raise DecisionConfigError(f"{path}: expected a table, got {entry!r}")
        for key in entry:
            if key not in ("tick_size", "lot_size", "max_position_lots"):
                raise DecisionConfigError(
                    f"{path}.{key}: unknown key (known: lot_size, max_position_lots, tick_size)"
                )
        known = KNOWN_INSTRUMENTS.get(symbol)
        if known is None and ("tick_size" not in entry or "lot_size" not in entry):
            raise DecisionConfigError(f"{path}: tick_size and lot_size are required for {symbol}")
        tick_size = _convert(
            f"{path}.tick_size", entry.get("tick_size", known[0] if known else "0"), Decimal(1)
        )
        lot_size = _convert(f"{path}.lot_size", entry.get("lot_size", known[1] if known else 0), 1)
        max_lots = _convert(
            f"{path}.max_position_lots", entry.get("max_position_lots", _DEFAULT_MAX_POSITION_LOTS), 1
        )
        if lot_size == 0:
            raise DecisionConfigError(f"{path}.lot_size: must be at least 1")
        instruments[symbol] = InstrumentConfig(
            symbol=symbol, tick_size=tick_size, lot_size=lot_size, max_position_lots=max_lots
        )
    return DecisionConfig(**{**values, "execution": execution, "risk": risk, "symbols": instruments})


def decision_table_default() -> dict[str, Any]:
    """The [decision] table the demo uses with the bundled simulator and the shipped model."""
    return {
        # The simulator's MarketDataIncrementalRefresh(35=X) carries all symbols: one ONNX run
        # for all of them costs little more than one for a single symbol.
        "mode": "microbatch",
        # Inside the running gateway on the shared 2-core machine, message -> inference took
        # p50 ~0.7 ms, p90 ~1.1 ms: a 1 ms budget made one decision in eight fall back.
        "budget_us": 2500,
        "safe_target": "flat",
        "full_position_bps": 10.0,  # the shipped model's predictions have a std of about 5 bps
        "stale_after_ms": 3000,
        "tracing": True,
        "execution": {"style": "passive", "cap_ticks": 2, "max_working_per_side": 1},
        "risk": {"max_order_qty": 1000, "max_position_qty": 2000, "max_notional": "100000"},
    }
