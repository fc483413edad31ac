"""The gateway's own settings, loaded from TOML and validated before anything starts.

Takes a path to a TOML file; gives a frozen `GatewayConfig` with one frozen dataclass per table.
QuickFIX session settings stay in a standard QuickFIX .cfg file (`[gateway] sessions_cfg`); this
file says what the gateway does with those sessions: which venue each belongs to, which symbols
go where, where the ledger lives, and the limits.

Every error names the bad key (`[venues.SIM] port: ...`); unknown keys are errors, so a typo
cannot silently fall back to a default. The `[decision]` table belongs to the decision path and is
kept as a raw dict. Relative `sessions_cfg` resolves against the TOML file's directory; other
relative paths resolve against the working directory.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.domain.errors import ConfigError

MODES = ("simulator", "live")
SYNCHRONOUS_LEVELS = ("NORMAL", "FULL")
STRATEGY_STYLES = ("mean_reversion", "alternating")


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySection:
    mode: str = "simulator"  # "simulator" | "live": live refuses to start without credentials
    sessions_cfg: Path
    state_dir: Path = Path("var/gateway")
    host: str | None = None  # overrides SocketConnectHost of every session
    port: int | None = None  # overrides SocketConnectPort of every session
    log_fix_messages: bool = True  # application and admin messages, Password(554) masked
    # an order message older than this is not resent on a ResendRequest (a gap fill instead):
    # after a restart, a stale NewOrderSingle must not reach the market; 0 resends everything
    resend_max_age_ms: int = 30_000
    status_interval_ms: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerSection:
    path: Path
    synchronous: str = "NORMAL"  # NORMAL: survives a process crash; FULL: also a power loss
    busy_timeout_ms: int = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsSection:
    max_order_qty: int = 10_000
    max_open_orders: int = 100
    max_position_qty: int = 100_000  # absolute, per symbol


@dataclass(frozen=True, slots=True, kw_only=True)
class OrdersSection:
    """How the order manager follows its requests up (gateway/oms/order_manager.py).

    A cancel or replace unanswered for `request_timeout_ms` triggers an OrderStatusRequest(35=H);
    unanswered again, the request is given up so the order can be cancelled anew. A cancel the
    gateway must see through (feed gap, wind-down, stop) is retried every
    `cancel_retry_interval_ms` until the order is final or `cancel_deadline_ms` has passed.
    """

    request_timeout_ms: int = 5_000
    cancel_retry_interval_ms: int = 1_000
    cancel_deadline_ms: int = 30_000
    # `fixgw run` stopping (SIGTERM, SIGINT, --seconds): cancel working orders and wait up to
    # stop_timeout_ms for the answers before logging out; keep_gtc_on_stop leaves GTC ones
    cancel_on_stop: bool = True
    keep_gtc_on_stop: bool = False
    stop_timeout_ms: int = 5_000


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueSection:
    name: str
    order_session: str  # QuickFIX session id, e.g. "FIX.4.4:FIXGW->FIXSIM"
    market_data_session: str | None = None
    host: str | None = None
    port: int | None = None
    username_env: str | None = None  # names of environment variables, never the secrets
    password_env: str | None = None
    market_depth: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategySection:
    """The built-in strategy, used when there is no [decision] table."""

    enabled: bool = True
    style: str = "mean_reversion"
    order_interval_ms: int = 500  # per symbol, at most one new order this often
    lots_per_order: int = 1
    max_position_lots: int = 5
    cancel_after_ms: int = 2000  # a resting order older than this is cancelled
    replace_after_ms: int = 800  # ... and one older than this is first repriced
    ema_alpha: float = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetrySection:
    spans_path: Path
    service_name: str = "fixgw"
    otlp: bool = True  # export over OTLP too when OTEL_EXPORTER_OTLP_ENDPOINT is set


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectSection:
    """Backoff between reconnect attempts, one state per session (gateway/fix/reconnect.py).

    The n-th consecutive failed connection waits initial_delay_s * multiplier**(n-1), capped at
    max_delay_s, less a random fraction of up to `jitter` (so gateways that lost the same venue
    do not come back in step). A logon counts as success only once it has lasted
    stable_after_s: a venue that accepts the connection and then logs us out at once (a refused
    logon) keeps the delays growing. QuickFIX's ReconnectInterval becomes the polling step.
    """

    enabled: bool = True  # false: QuickFIX's fixed ReconnectInterval alone, as before
    initial_delay_s: float = 1.0
    max_delay_s: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.2  # fraction: a delay d becomes a random value in [d * (1 - jitter), d]
    stable_after_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    source: Path
    gateway: GatewaySection
    ledger: LedgerSection
    limits: LimitsSection
    venues: Mapping[str, VenueSection]
    routing: Mapping[str, str]  # symbol -> venue name
    strategy: StrategySection
    telemetry: TelemetrySection
    decision: Mapping[str, Any] | None = field(default=None)
    reconnect: ReconnectSection = field(default_factory=ReconnectSection)
    orders: OrdersSection = field(default_factory=OrdersSection)

    def symbols_for_venue(self, venue: str) -> list[str]:
        return sorted(symbol for symbol, name in self.routing.items() if name == venue)


class _Table:
    """Reads one TOML table, remembering which keys were used so the rest can be rejected."""

    def __init__(self, name: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"[{name}]: expected a table, got {type(data).__name__}")
        self.name = name
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def _get(self, key: str, default: Any, required: bool) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise ConfigError(f"[{self.name}] {key}: required key is missing")
            return default
        return self.data[key]

    def _fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"[{self.name}] {key}: expected {expected}, got {value!r}")

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self._get(key, default, required)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self._fail(key, "a non-empty string", value)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._get(key, default, False)
        if value not in choices:
            raise self._fail(key, "one of " + ", ".join(repr(c) for c in choices), value)
        return str(value)

    def integer(self, key: str, default: int | None, *, low: int = 0, high: int = 2**62) -> Any:
        value = self._get(key, default, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(key, f"an integer from {low} to {high}", value)
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self._get(key, default, False)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self._fail(key, f"a number from {low} to {high}", value)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise ConfigError(f"[{self.name}] {unknown[0]}: unknown key (known keys: {known})")


def _port(table: _Table, key: str) -> int | None:
    value: int | None = table.integer(key, None, low=1, high=65535)
    return value


def _session_id(table: _Table, key: str, *, required: bool) -> str | None:
    value: str | None = table.string(key, required=required)
    if value is not None and ("->" not in value or ":" not in value):
        raise ConfigError(
            f"[{table.name}] {key}: expected a QuickFIX session id like 'FIX.4.4:SENDER->TARGET', "
            f"got {value!r}"
        )
    return value


def parse_config(data: Mapping[str, Any], source: Path) -> GatewayConfig:
    """Validate an already-parsed TOML document. Raises ConfigError naming the bad key."""
    known_tables = {
        "gateway",
        "ledger",
        "limits",
        "venues",
        "routing",
        "strategy",
        "telemetry",
        "decision",
        "reconnect",
        "orders",
    }
    for key in data:
        if key not in known_tables:
            raise ConfigError(f"{key}: unknown table or key (known: {', '.join(sorted(known_tables))})")

    g = _Table("gateway", data.get("gateway", {}))
    sessions_cfg_text = g.string("sessions_cfg", required=True)
    sessions_cfg = Path(sessions_cfg_text)
    if not sessions_cfg.is_absolute():
        sessions_cfg = (source.parent / sessions_cfg).resolve()
    gateway = GatewaySection(
        mode=g.choice("mode", MODES, "simulator"),
        sessions_cfg=sessions_cfg,
        state_dir=Path(g.string("state_dir", "var/gateway")),
        host=g.string("host"),
        port=_port(g, "port"),
        log_fix_messages=g.boolean("log_fix_messages", True),
        resend_max_age_ms=g.integer("resend_max_age_ms", 30_000, low=0, high=86_400_000),
        status_interval_ms=g.integer("status_interval_ms", 1000, low=50, high=3_600_000),
    )
    g.finish()

    led = _Table("ledger", data.get("ledger", {}))
    ledger = LedgerSection(
        path=Path(led.string("path", str(gateway.state_dir / "ledger.sqlite"))),
        synchronous=led.choice("synchronous", SYNCHRONOUS_LEVELS, "NORMAL"),
        busy_timeout_ms=led.integer("busy_timeout_ms", 5000, low=0, high=600_000),
    )
    led.finish()

    lim = _Table("limits", data.get("limits", {}))
    limits = LimitsSection(
        max_order_qty=lim.integer("max_order_qty", 10_000, low=1),
        max_open_orders=lim.integer("max_open_orders", 100, low=1),
        max_position_qty=lim.integer("max_position_qty", 100_000, low=1),
    )
    lim.finish()

    o = _Table("orders", data.get("orders", {}))
    orders = OrdersSection(
        request_timeout_ms=o.integer("request_timeout_ms", 5_000, low=10, high=3_600_000),
        cancel_retry_interval_ms=o.integer("cancel_retry_interval_ms", 1_000, low=10, high=3_600_000),
        cancel_deadline_ms=o.integer("cancel_deadline_ms", 30_000, low=10, high=86_400_000),
        cancel_on_stop=o.boolean("cancel_on_stop", True),
        keep_gtc_on_stop=o.boolean("keep_gtc_on_stop", False),
        stop_timeout_ms=o.integer("stop_timeout_ms", 5_000, low=0, high=3_600_000),
    )
    o.finish()

    venues_data = data.get("venues")
    if not isinstance(venues_data, dict) or not venues_data:
        raise ConfigError("[venues]: at least one venue table is required, e.g. [venues.SIM]")
    venues: dict[str, VenueSection] = {}
    sessions_seen: dict[str, str] = {}
    for name, body in venues_data.items():
        v = _Table(f"venues.{name}", body)
        venue = VenueSection(
            name=name,
            order_session=str(_session_id(v, "order_session", required=True)),
            market_data_session=_session_id(v, "market_data_session", required=False),
            host=v.string("host"),
            port=_port(v, "port"),
            username_env=v.string("username_env"),
            password_env=v.string("password_env"),
            market_depth=v.integer("market_depth", 5, low=0, high=1000),
        )
        v.finish()
        for key, session in (
            ("order_session", venue.order_session),
            ("market_data_session", venue.market_data_session),
        ):
            if session is None:
                continue
            owner = sessions_seen.get(session)
            if owner is not None and owner != name:
                raise ConfigError(f"[venues.{name}] {key}: session {session} already belongs to {owner}")
            sessions_seen[session] = name
        venues[name] = venue

    routing_data = data.get("routing", {})
    if not isinstance(routing_data, dict):
        raise ConfigError('[routing]: expected a table of SYMBOL = "VENUE"')
    routing: dict[str, str] = {}
    for symbol, venue_name in routing_data.items():
        if not isinstance(venue_name, str) or venue_name not in venues:
            raise ConfigError(
                f"[routing] {symbol}: expected the name of a venue ({', '.join(venues)}), got {venue_name!r}"
            )
        routing[symbol] = venue_name
    if not routing:
        raise ConfigError('[routing]: route at least one symbol, e.g. ACME = "SIM"')

    s = _Table("strategy", data.get("strategy", {}))
    strategy = StrategySection(
        enabled=s.boolean("enabled", True),
        style=s.choice("style", STRATEGY_STYLES, "mean_reversion"),
        order_interval_ms=s.integer("order_interval_ms", 500, low=1, high=3_600_000),
        lots_per_order=s.integer("lots_per_order", 1, low=1, high=1_000_000),
        max_position_lots=s.integer("max_position_lots", 5, low=1, high=1_000_000),
        cancel_after_ms=s.integer("cancel_after_ms", 2000, low=1, high=86_400_000),
        replace_after_ms=s.integer("replace_after_ms", 800, low=1, high=86_400_000),
        ema_alpha=s.number("ema_alpha", 0.2, low=0.0001, high=1.0),
    )
    s.finish()

    t = _Table("telemetry", data.get("telemetry", {}))
    telemetry = TelemetrySection(
        spans_path=Path(t.string("spans_path", str(gateway.state_dir / "spans.jsonl"))),
        service_name=t.string("service_name", "fixgw"),
        otlp=t.boolean("otlp", True),
    )
    t.finish()

    reconnect = _reconnect_section(_Table("reconnect", data.get("reconnect", {})))

    decision = data.get("decision")
    if decision is not None and not isinstance(decision, dict):
        raise ConfigError("[decision]: expected a table")
    if decision is not None:
        # Validated here, with the rest of the file: a bad key stops `fixgw run` with status 2
        # and the key's name before a ledger is opened or a run row written.
        from gateway.decision.config import DecisionConfigError, load_decision_config

        try:
            load_decision_config(decision, sorted(routing))
        except DecisionConfigError as exc:
            raise ConfigError(str(exc)) from exc

    return GatewayConfig(
        source=source,
        gateway=gateway,
        ledger=ledger,
        limits=limits,
        venues=venues,
        routing=routing,
        strategy=strategy,
        telemetry=telemetry,
        decision=decision,
        reconnect=reconnect,
        orders=orders,
    )


def _reconnect_section(r: _Table) -> ReconnectSection:
    section = ReconnectSection(
        enabled=r.boolean("enabled", True),
        initial_delay_s=r.number("initial_delay_s", 1.0, low=0.1, high=3600.0),
        max_delay_s=r.number("max_delay_s", 60.0, low=0.1, high=86_400.0),
        multiplier=r.number("multiplier", 2.0, low=1.0, high=10.0),
        # below 1, so a jittered delay is never zero
        jitter=r.number("jitter", 0.2, low=0.0, high=0.9),
        stable_after_s=r.number("stable_after_s", 30.0, low=0.0, high=86_400.0),
    )
    r.finish()
    if section.max_delay_s < section.initial_delay_s:
        raise ConfigError(
            f"[reconnect] max_delay_s: expected at least initial_delay_s ({section.initial_delay_s:g}), "
            f"got {section.max_delay_s:g}"
        )
    return section


def load_config(path: Path | str, overrides: Mapping[str, Any] | None = None) -> GatewayConfig:
    """Read and validate a gateway TOML file. `overrides` replace top-level [gateway] keys
    (the command line's --port, --host, --state-dir) before validation."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
    if overrides:
        gateway_table = dict(data.get("gateway", {}))
        gateway_table.update({k: v for k, v in overrides.items() if v is not None})
        data["gateway"] = gateway_table
    try:
        return parse_config(data, source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
