"""The configuration reference of the gateway TOML, generated from the config dataclasses.

Takes the frozen dataclasses that hold each table (`gateway/config.py`, `gateway/decision/config.py`)
and the one-line meanings below; gives the Markdown tables that `docs/configuration.md` carries
between its `generated` markers. Keys and defaults come from the dataclasses, so they cannot drift;
a field without a meaning, or a meaning for a field that does not exist, raises
`ConfigReferenceError`, so the meanings cannot drift either. A test keeps the file equal to
`render()`.

    python -m gateway.config_reference                          print the reference
    python -m gateway.config_reference --update docs/configuration.md   rewrite the generated block
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from gateway.config import (
    GatewaySection,
    LedgerSection,
    LimitsSection,
    OrdersSection,
    ReconnectSection,
    StrategySection,
    TelemetrySection,
    VenueSection,
)
from gateway.decision.config import (
    KNOWN_INSTRUMENTS,
    DecisionConfig,
    ExecutionConfig,
    InstrumentConfig,
    RiskConfig,
    load_decision_config,
)

BEGIN_MARKER: Final = "<!-- generated: python -m gateway.config_reference -->"
END_MARKER: Final = "<!-- end generated -->"


class ConfigReferenceError(Exception):
    """The meanings below and the config dataclasses disagree; the message names the key."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TableSpec:
    name: str  # as written in TOML: "gateway", "venues.NAME", "decision.symbols.SYM"
    cls: type | None  # the dataclass holding the table; None for a free-form table
    intro: str
    # fields of the dataclass that are not keys of this table (filled from the table's name, or
    # nested tables documented on their own)
    not_keys: frozenset[str] = frozenset()
    free_rows: tuple[tuple[str, str], ...] = ()  # (key, default) of a table without a dataclass


TABLES: Final[tuple[TableSpec, ...]] = (
    TableSpec(
        name="gateway",
        cls=GatewaySection,
        intro="What the gateway runs: the QuickFIX sessions file, where its state goes, the mode.",
    ),
    TableSpec(
        name="ledger",
        cls=LedgerSection,
        intro="The SQLite ledger of orders, reports, fills and positions.",
    ),
    TableSpec(
        name="limits",
        cls=LimitsSection,
        intro="Limits the order manager checks on every new order and replace, whatever sends it.",
    ),
    TableSpec(
        name="orders",
        cls=OrdersSection,
        intro="How the order manager follows its requests up, and what `fixgw run` does at stop.",
    ),
    TableSpec(
        name="venues.NAME",
        cls=VenueSection,
        intro="One table per venue (at least one); `NAME` is the venue's name in `[routing]`.",
        not_keys=frozenset({"name"}),
    ),
    TableSpec(
        name="routing",
        cls=None,
        intro="Where each symbol's orders and market data go (at least one symbol).",
        free_rows=(("SYMBOL", "required"),),
    ),
    TableSpec(
        name="strategy",
        cls=StrategySection,
        intro="The built-in strategy, used when there is no `[decision]` table.",
    ),
    TableSpec(
        name="telemetry",
        cls=TelemetrySection,
        intro="OpenTelemetry spans: a JSON-lines file, and OTLP/HTTP when configured.",
    ),
    TableSpec(
        name="reconnect",
        cls=ReconnectSection,
        intro="Reconnect backoff with jitter, one state per session; out-of-range values are refused.",
    ),
    TableSpec(
        name="decision",
        cls=DecisionConfig,
        intro=(
            "The decision path (market data -> features -> model -> risk -> orders). Absent: the "
            "built-in strategy trades. Unknown keys are refused with their full path "
            "(`decision.risk.max_qty: unknown key`)."
        ),
        not_keys=frozenset({"execution", "risk", "symbols"}),
    ),
    TableSpec(
        name="decision.execution",
        cls=ExecutionConfig,
        intro="How the decision path's planner turns a target position into orders.",
    ),
    TableSpec(
        name="decision.risk",
        cls=RiskConfig,
        intro="The decision path's pre-trade checks and kill switch.",
    ),
    TableSpec(
        name="decision.symbols.SYM",
        cls=InstrumentConfig,
        intro="Per instrument; `SYM` must be one of the symbols in `[routing]`.",
        not_keys=frozenset({"symbol"}),
    ),
)

# One line per key: what it does, with units and effects. Keyed "table.key" as in TOML.
MEANINGS: Final[Mapping[str, str]] = {
    # [gateway]
    "gateway.mode": (
        '`"simulator"` or `"live"`; `"live"` refuses to start when a credential variable is unset'
    ),
    "gateway.sessions_cfg": "QuickFIX `.cfg` with the sessions; relative to the TOML file's directory",
    "gateway.state_dir": "effective `.cfg`, FIX message store, logs, ledger, spans, decision files",
    "gateway.host": "overrides SocketConnectHost of every session (`--host`)",
    "gateway.port": "overrides SocketConnectPort of every session (`--port`)",
    "gateway.log_fix_messages": "every message to `<state_dir>/fix-messages.log`, secrets masked",
    "gateway.resend_max_age_ms": (
        "an order message older than this is gap-filled, not resent, on a ResendRequest "
        "(a stale NewOrderSingle never reaches the market after a restart); `0` resends everything"
    ),
    "gateway.status_interval_ms": "period of `fixgw run`'s status line",
    # [ledger]
    "ledger.path": "the SQLite ledger",
    "ledger.synchronous": (
        '`"NORMAL"` survives a process crash; `"FULL"` also a power loss (one fsync per commit)'
    ),
    "ledger.busy_timeout_ms": "SQLite busy timeout",
    # [limits]
    "limits.max_order_qty": "quantity of one order",
    "limits.max_open_orders": "live orders, all symbols",
    "limits.max_position_qty": (
        "absolute position per symbol, counting working orders on the same side; an order that moves "
        "the position toward zero always passes"
    ),
    # [orders]
    "orders.request_timeout_ms": (
        "a new order, cancel or replace unanswered this long gets an OrderStatusRequest(35=H); "
        "unanswered as long again, it is given up (anomaly `request_timed_out`)"
    ),
    "orders.cancel_retry_interval_ms": (
        "a cancel the gateway must see through (feed gap, wind-down, stop) is sent again this often "
        "after a reject or a loss"
    ),
    "orders.cancel_deadline_ms": (
        "... until the order is final or this long has passed (then a warning names it)"
    ),
    "orders.cancel_on_stop": (
        "`fixgw run` cancels its working orders before logging out and waits for the answers"
    ),
    "orders.keep_gtc_on_stop": "... leaving GTC orders working",
    "orders.stop_timeout_ms": "how long the stop waits for those cancels",
    # [venues.NAME]
    "venues.NAME.order_session": "QuickFIX session id for orders, `FIX.4.4:SENDER->TARGET`",
    "venues.NAME.market_data_session": "session for MarketDataRequest(35=V) and W/X/Y",
    "venues.NAME.host": "this venue's SocketConnectHost override",
    "venues.NAME.port": "this venue's SocketConnectPort override",
    "venues.NAME.username_env": "name of the environment variable holding Username(553), never the value",
    "venues.NAME.password_env": "name of the environment variable holding Password(554), never the value",
    "venues.NAME.market_depth": "MarketDepth(264) of the subscription (0 = full book)",
    # [routing]
    "routing.SYMBOL": '`SYMBOL = "VENUE"`: the venue of the symbol\'s orders and market data',
    # [strategy]
    "strategy.enabled": "built-in strategy on or off (ignored when `[decision]` is present)",
    "strategy.style": '`"mean_reversion"` around an EMA of the mid, or `"alternating"`',
    "strategy.order_interval_ms": "at most one new order per symbol this often",
    "strategy.lots_per_order": "order size in lots (ACME 1, BOLT 10, CRUX 100 shares a lot)",
    "strategy.max_position_lots": "position limit in lots; beyond it orders only go back towards flat",
    "strategy.cancel_after_ms": "a resting order older than this is cancelled",
    "strategy.replace_after_ms": "a resting order older than this is first repriced (cancel/replace)",
    "strategy.ema_alpha": "smoothing factor of the EMA of the mid",
    # [telemetry]
    "telemetry.spans_path": "JSON-lines span file",
    "telemetry.service_name": "OpenTelemetry `service.name`",
    "telemetry.otlp": "also export over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set",
    # [reconnect]
    "reconnect.enabled": "`false`: QuickFIX's fixed `ReconnectInterval` alone",
    "reconnect.initial_delay_s": "delay after the first failure, and after a stable session ends (0.1-3600)",
    "reconnect.max_delay_s": "cap of the delay (0.1-86400, at least `initial_delay_s`)",
    "reconnect.multiplier": "growth per failure; 1 is a fixed interval (1-10)",
    "reconnect.jitter": (
        "fraction a delay is shortened by at random: `d` becomes a value in `[d*(1-jitter), d]` (0-0.9)"
    ),
    "reconnect.stable_after_s": "how long a logon must last to reset the backoff (0-86400)",
    # [decision]
    "decision.mode": (
        '`"realtime"`: one inference per symbol per message; `"microbatch"`: all symbols a message '
        "touched in one run"
    ),
    "decision.budget_us": (
        "codec + book + features + inference; over it the decision falls back (`budget_overrun`)"
    ),
    "decision.safe_target": (
        'target when falling back: `"flat"` (0), `"hold"` (current position), `"reduce_only"` '
        "(one step toward 0)"
    ),
    "decision.reduce_step_lots": 'step of `"reduce_only"`, in lots',
    "decision.full_position_bps": (
        "model output (predicted forward return, bps) that maps to the max position"
    ),
    "decision.max_abs_output_bps": "a larger absolute output is out of range (`output_out_of_range`)",
    "decision.registry_dir": "model registry directory",
    "decision.registry_poll_ms": (
        "how often the recorder thread looks for a model activation and the kill-switch file"
    ),
    "decision.max_md_age_ms": "SendingTime(52) older than this at receipt: stale (0 = off)",
    "decision.stale_after_ms": (
        "no update on a symbol for this long: stale (0 = off; quiet books can be normal)"
    ),
    "decision.snapshot_retry_ms": "how often a snapshot is asked for again while a symbol waits for one",
    "decision.tracing": "a span per decision with a child per stage; `false` for speed",
    "decision.record_ticks": "write the tick log (needed by `fixgw features build`)",
    "decision.store_flush_ms": "flush interval of the feature store and the tick log",
    "decision.trade": "`false`: decide and record everything, send nothing (shadow mode)",
    "decision.warmup_steps": (
        "after a book restarts (snapshot after a gap, session drop, stale feed) the decision stays on "
        "the safe target for this many steps (`features_warming_up`)"
    ),
    "decision.input_range_tolerance": (
        "a model input outside the range recorded with the model, widened by this fraction of its "
        "width, is a fallback (`invalid_input`)"
    ),
    "decision.max_store_backlog_rows": "rows per kind the feature store keeps while it cannot be written",
    # [decision.execution]
    "decision.execution.style": (
        '`"passive"`: limit at our touch, replaced to follow it; '
        '`"marketable"`: IOC limit through the far touch'
    ),
    "decision.execution.cap_ticks": "price cap of a marketable order, in ticks beyond the far touch",
    "decision.execution.max_working_per_side": "working orders per symbol and side",
    "decision.execution.min_replace_interval_ms": "how often a passive order may be repriced",
    "decision.execution.tif": (
        'TimeInForce(59) of passive orders: `"0"`, `"1"`, `"3"` or `"4"`; marketable ones are IOC'
    ),
    # [decision.risk]
    "decision.risk.max_order_qty": (
        "per order; a larger distance to the target is worked in clips of this size"
    ),
    "decision.risk.max_position_qty": "absolute per symbol, counting working orders on the same side",
    "decision.risk.max_notional": "per order, qty x price (a decimal string); the planner clips orders to it",
    "decision.risk.kill_switch": "`true`: no new orders or replaces; cancels still go out",
    "decision.risk.kill_switch_file": (
        "while this file exists the kill switch is on (checked every `registry_poll_ms`)"
    ),
    # [decision.symbols.SYM]
    "decision.symbols.SYM.tick_size": "price increment (a decimal string)",
    "decision.symbols.SYM.lot_size": "quantity increment",
    "decision.symbols.SYM.max_position_lots": (
        "position limit in lots; the model's full output (`full_position_bps`) maps to it"
    ),
}

# Defaults the parser computes (the dataclass has none, or a placeholder such as "" or None).
COMPUTED_DEFAULTS: Final[Mapping[str, str]] = {
    "gateway.host": "from the `.cfg`",
    "gateway.port": "from the `.cfg`",
    "ledger.path": "`<state_dir>/ledger.sqlite`",
    "venues.NAME.market_data_session": "the order session",
    "telemetry.spans_path": "`<state_dir>/spans.jsonl`",
    "decision.registry_dir": "`<state_dir>/decision/models`",
}


def _known_instrument_defaults() -> dict[str, str]:
    """The [decision.symbols.SYM] defaults, as the loader fills them for the bundled symbols."""
    loaded = load_decision_config({}, list(KNOWN_INSTRUMENTS)).symbols
    ticks = ", ".join(f"{s} `{loaded[s].tick_size}`" for s in KNOWN_INSTRUMENTS)
    lots = ", ".join(f"{s} `{loaded[s].lot_size}`" for s in KNOWN_INSTRUMENTS)
    max_lots = sorted({i.max_position_lots for i in loaded.values()})
    return {
        "decision.symbols.SYM.tick_size": f"{ticks}; required for other symbols",
        "decision.symbols.SYM.lot_size": f"{lots}; required for other symbols",
        "decision.symbols.SYM.max_position_lots": ", ".join(f"`{n}`" for n in max_lots),
    }


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str | Path | Decimal):
        return f'`"{value}"`'
    return f"`{value}`"


def _field_default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return "none" if f.default is None or f.default == "" else _format_value(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _format_value(f.default_factory())
    return "required"


def _table_keys(spec: TableSpec) -> list[str]:
    if spec.cls is None:
        return [key for key, _ in spec.free_rows]
    return [f.name for f in dataclasses.fields(spec.cls) if f.name not in spec.not_keys]


def check(meanings: Mapping[str, str], computed: Mapping[str, str]) -> None:
    """Raise ConfigReferenceError when a key has no meaning or a meaning (or a computed default)
    names no key."""
    keys = {f"{spec.name}.{key}" for spec in TABLES for key in _table_keys(spec)}
    for spec in TABLES:
        if spec.cls is None:
            continue
        names = {f.name for f in dataclasses.fields(spec.cls)}
        for field_name in spec.not_keys - names:
            raise ConfigReferenceError(f"{spec.name}.{field_name}: listed as not a key, but no such field")
    missing = sorted(keys - set(meanings))
    if missing:
        raise ConfigReferenceError(f"{missing[0]}: a config field without a meaning in MEANINGS")
    unknown = sorted(set(meanings) - keys)
    if unknown:
        raise ConfigReferenceError(f"{unknown[0]}: a meaning in MEANINGS for a key that does not exist")
    stray = sorted(set(computed) - keys)
    if stray:
        raise ConfigReferenceError(f"{stray[0]}: a computed default for a key that does not exist")
    for key, text in meanings.items():
        if not text.strip() or "\n" in text or "|" in text:
            raise ConfigReferenceError(f"{key}: a meaning must be one non-empty line without '|'")


def render(meanings: Mapping[str, str] = MEANINGS, computed: Mapping[str, str] = COMPUTED_DEFAULTS) -> str:
    """The Markdown reference: one section per TOML table, each a key | default | meaning table."""
    check(meanings, computed)
    defaults = {**_known_instrument_defaults(), **computed}
    out: list[str] = []
    for spec in TABLES:
        out += [f"### `[{spec.name}]`", "", spec.intro, ""]
        out += ["| key | default | meaning |", "| --- | --- | --- |"]
        if spec.cls is None:
            rows = [(key, default) for key, default in spec.free_rows]
        else:
            rows = []
            for f in dataclasses.fields(spec.cls):
                if f.name in spec.not_keys:
                    continue
                full = f"{spec.name}.{f.name}"
                default = defaults.get(full) or _field_default(f)
                rows.append((f.name, default))
        for key, default in rows:
            out.append(f"| `{key}` | {default} | {meanings[f'{spec.name}.{key}']} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def generated_block(text: str) -> str:
    """The part of a Markdown file between the markers (without them)."""
    try:
        start = text.index(BEGIN_MARKER) + len(BEGIN_MARKER)
        end = text.index(END_MARKER, start)
    except ValueError:
        raise ConfigReferenceError(f"markers {BEGIN_MARKER!r} ... {END_MARKER!r} not found") from None
    return text[start:end].strip("\n") + "\n"


def replace_block(text: str, block: str) -> str:
    start = text.index(BEGIN_MARKER) + len(BEGIN_MARKER)
    end = text.index(END_MARKER, start)
    return text[:start] + "\n\n" + block + "\n" + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.config_reference", description="print the gateway TOML's reference"
    )
    parser.add_argument("--update", type=Path, metavar="FILE", help="rewrite the generated block of FILE")
    args = parser.parse_args(argv)
    try:
        reference = render()
        if args.update is None:
            sys.stdout.write(reference)
            return 0
        text = args.update.read_text(encoding="utf-8")
        generated_block(text)  # the markers must be there
        args.update.write_text(replace_block(text, reference), encoding="utf-8")
    except ConfigReferenceError as exc:
        print(f"config_reference: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
