"""`fixgw sim` settings: a standard QuickFIX session settings file plus command-line overrides.

Takes the .cfg path and the overrides (port, seed, state dir, faults, market data interval,
logon timeout); gives a `SimulatorSettings` value and writes the effective QuickFIX settings
(ports and paths resolved) to a file that QuickFIX then loads, since QuickFIX reads its settings
from a file.
Keys starting with `Sim` are the simulator's own; QuickFIX ignores them. Most belong in
[DEFAULT]; the per-client ones (`SESSION_SIM_KEYS`: accounts, credentials, market-data cap) may
also be set in a [SESSION], where they override [DEFAULT] for that client.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fixcore.files import owner_only, private_dir, private_file
from simulator.clients import DEFAULT_MAX_MD_SUBSCRIPTIONS, ClientSession
from simulator.faults import FaultError, canonical_name
from simulator.instruments import DEFAULT_SYMBOLS_TEXT, Instrument, parse_symbols

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path("sessions") / "simulator.cfg"
_PATH_KEYS_FOR_STATE = ("FileStorePath", "FileLogPath")
_DICTIONARY_KEYS = ("DataDictionary", "TransportDataDictionary", "AppDataDictionary")


SOCKET_BUFFER_BYTES = 1024 * 1024
# A connection that has not logged on this long after it was opened is closed (idle_connections.py).
DEFAULT_LOGON_TIMEOUT_S = 10.0

KNOWN_SIM_KEYS = frozenset(
    {
        "SimSeed",
        "SimSymbols",
        "SimBookLevels",
        "SimMarketDataIntervalMs",
        "SimMarketDataMaxEntries",
        "SimStalledPeerTimeoutMs",
        "SimLogonTimeoutS",
        "SimStateDb",
        "SimPasswordEnv",
        "SimUsernameEnv",
        "SimControlPort",
        "SimMessageLog",
        "SimMessageLogMarketData",
        "SimMaxMarketDataSubscriptions",
        "SimControlTokenEnv",
        "SimControlTokenFile",
        "SimControlIdleTimeoutS",
        "SimControlMaxConnections",
    }
)
# Keys that describe one client and may also be set in its [SESSION] (SimAccounts only there).
SESSION_SIM_KEYS = frozenset(
    {"SimAccounts", "SimPasswordEnv", "SimUsernameEnv", "SimMaxMarketDataSubscriptions"}
)

DEFAULT_CONTROL_TOKEN_ENV = "FIXSIM_CONTROL_TOKEN"
DEFAULT_CONTROL_TOKEN_FILE = "control.token"
# A control connection that sends no request for this long is closed; at most this many at once.
DEFAULT_CONTROL_IDLE_TIMEOUT_S = 60.0
DEFAULT_CONTROL_MAX_CONNECTIONS = 8


class SettingsError(ValueError):
    """A settings file or an override that cannot be used; the message names the key."""


@dataclass(slots=True)
class CfgSection:
    name: str  # "DEFAULT" or "SESSION"
    values: dict[str, str] = field(default_factory=dict)


def parse_cfg(text: str, source: str = "<cfg>") -> list[CfgSection]:
    """Read the QuickFIX settings format: `[SECTION]` headers, `Key=Value` lines, `#` comments."""
    sections: list[CfgSection] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append(CfgSection(name=line[1:-1].strip().upper()))
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{source}:{number}: expected Key=Value, got {raw!r}")
        if not sections:
            raise SettingsError(f"{source}:{number}: {key.strip()} appears before any [DEFAULT] or [SESSION]")
        sections[-1].values[key.strip()] = value.strip()
    return sections


def render_cfg(sections: list[CfgSection]) -> str:
    lines = ["# Effective settings written by fixgw sim; edit the source .cfg instead.", ""]
    for section in sections:
        lines.append(f"[{section.name}]")
        lines.extend(f"{key}={value}" for key, value in section.values.items())
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorSettings:
    source_config: Path
    effective_config: Path
    port: int
    sessions: tuple[tuple[str, str, str], ...]  # (BeginString, SenderCompID, TargetCompID)
    seed: int
    instruments: Mapping[str, Instrument]
    maker_levels: int
    md_interval_ms: float
    md_max_entries: int
    socket_send_buffer_bytes: int
    stalled_peer_timeout_ms: int
    logon_timeout_s: float  # 0: connections that never log on are never closed
    state_db: Path
    message_log_dir: Path | None
    message_log_market_data: bool
    password_env: str | None
    username_env: str | None
    faults: Mapping[str, int]
    control_port: int | None
    state_dir: Path
    clients: tuple[ClientSession, ...] = ()
    control_token_env: str | None = DEFAULT_CONTROL_TOKEN_ENV
    control_token_file: Path | None = None
    control_idle_timeout_s: float = DEFAULT_CONTROL_IDLE_TIMEOUT_S
    control_max_connections: int = DEFAULT_CONTROL_MAX_CONNECTIONS


def find_data_dictionary(value: str, config_dir: Path) -> Path:
    path = Path(value)
    if path.is_absolute():
        if not path.exists():
            raise SettingsError(f"DataDictionary {value} does not exist")
        return path
    candidates = [Path.cwd() / path, config_dir / path, config_dir.parent / path, PACKAGE_ROOT / path]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise SettingsError(f"DataDictionary {value} not found (looked in {tried})")


def _resolve_state_path(value: str, state_dir: Path | None) -> Path:
    path = Path(value)
    if path.is_absolute():
        return path
    if state_dir is not None:
        return (state_dir / path.name).resolve()
    return (Path.cwd() / path).resolve()


def _int_setting(values: Mapping[str, str], key: str, default: int) -> int:
    raw = values.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{key}={raw!r} is not a whole number") from exc


def load_settings(
    config: Path | None = None,
    *,
    port: int | None = None,
    seed: int | None = None,
    state_dir: Path | None = None,
    control_port: int | None = None,
    faults: Mapping[str, int] | None = None,
    md_interval_ms: float | None = None,
    logon_timeout_s: float | None = None,
) -> SimulatorSettings:
    config_path = config if config is not None else DEFAULT_CONFIG
    if not config_path.is_absolute() and not config_path.exists() and (PACKAGE_ROOT / config_path).exists():
        config_path = PACKAGE_ROOT / config_path
    try:
        text = config_path.read_text()
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {config_path}: {exc.strerror}") from exc
    sections = parse_cfg(text, str(config_path))
    defaults = next((s for s in sections if s.name == "DEFAULT"), None)
    if defaults is None:
        defaults = CfgSection(name="DEFAULT")
        sections.insert(0, defaults)
    session_sections = [s for s in sections if s.name == "SESSION"]
    if not session_sections:
        raise SettingsError(f"{config_path}: no [SESSION] section: nobody could log on")
    config_dir = config_path.resolve().parent
    state_root = state_dir.resolve() if state_dir is not None else None
    if state_root is not None:
        private_dir(state_root)  # owner-only: orders, fills, session state (docs/security.md)

    sim = {k: v for k, v in defaults.values.items() if k.startswith("Sim")}
    for key in sim:
        if key == "SimAccounts":
            raise SettingsError(f"{config_path}: SimAccounts belongs in a [SESSION]: accounts are per client")
        if key not in KNOWN_SIM_KEYS and not key.startswith("SimFault"):
            known = ", ".join(sorted(KNOWN_SIM_KEYS | SESSION_SIM_KEYS))
            raise SettingsError(f"{config_path}: unknown setting {key} (known: {known}, SimFault<Name>)")
    for section in session_sections:
        stray = [k for k in section.values if k.startswith("Sim") and k not in SESSION_SIM_KEYS]
        if stray:
            raise SettingsError(f"{config_path}: {stray[0]} belongs in [DEFAULT], not in a [SESSION]")

    # Ports: --port wins over every SocketAcceptPort in the file.
    if port is not None:
        for section in sections:
            section.values.pop("SocketAcceptPort", None)
        defaults.values["SocketAcceptPort"] = str(port)
    ports = {_int_setting({**defaults.values, **s.values}, "SocketAcceptPort", -1) for s in session_sections}
    if -1 in ports:
        raise SettingsError("SocketAcceptPort is not set (in the file or with --port)")
    if len(ports) != 1:
        raise SettingsError(f"sessions listen on several ports {sorted(ports)}: pass --port to pick one")
    listen_port = ports.pop()
    if not 0 < listen_port < 65536:
        # QuickFIX would bind an ephemeral port for 0 and has no way to say which one.
        raise SettingsError(f"SocketAcceptPort {listen_port} is not a port between 1 and 65535")

    # Nagle's algorithm plus delayed ACKs cost up to 40 ms per reply: on unless the file says.
    # Large socket buffers: QuickFIX's acceptor writes with a blocking send() while holding the
    # GIL, so a full send buffer would freeze the whole simulator (see backpressure.py).
    for key, value in (
        ("SocketNodelay", "Y"),
        ("SocketSendBufferSize", str(SOCKET_BUFFER_BYTES)),
        ("SocketReceiveBufferSize", str(SOCKET_BUFFER_BYTES)),
    ):
        if not any(key in section.values for section in sections):
            defaults.values[key] = value

    # Paths.
    for section in sections:
        for key in _PATH_KEYS_FOR_STATE:
            if key in section.values:
                section.values[key] = str(_resolve_state_path(section.values[key], state_root))
        for key in _DICTIONARY_KEYS:
            if key in section.values:
                section.values[key] = str(find_data_dictionary(section.values[key], config_dir))
    state_db = _resolve_state_path(sim.get("SimStateDb", "var/sim/venue.sqlite"), state_root)
    message_log_value = defaults.values.pop("FileLogPath", None)
    message_log_dir = None if message_log_value is None else Path(message_log_value)
    for section in session_sections:
        # FileLog would write Password(554) in clear: the simulator writes its own masked log.
        section_log = section.values.pop("FileLogPath", None)
        if section_log is not None and message_log_dir is None:
            message_log_dir = Path(section_log)
    if sim.get("SimMessageLog", "Y").upper().startswith("N"):
        message_log_dir = None

    fault_values: dict[str, int] = {}
    from simulator.faults import FAULTS  # local: keeps the import graph flat for readers

    for key, value in sim.items():
        if key.startswith("SimFault"):
            try:
                name = canonical_name(key[len("SimFault") :])
                fault_values[name] = FAULTS[name].parse(value)
            except FaultError as exc:
                raise SettingsError(f"{key}: {exc}") from exc
    fault_values.update(faults or {})

    symbols_text = sim.get("SimSymbols", DEFAULT_SYMBOLS_TEXT)
    try:
        instruments = parse_symbols(symbols_text)
    except ValueError as exc:
        raise SettingsError(f"SimSymbols: {exc}") from exc
    interval = md_interval_ms
    if interval is None:
        raw_interval = sim.get("SimMarketDataIntervalMs", "100")
        try:
            interval = float(raw_interval)
        except ValueError as exc:
            raise SettingsError(f"SimMarketDataIntervalMs={raw_interval!r} is not a number") from exc
    if interval <= 0:
        raise SettingsError(f"market data interval must be positive, got {interval} ms")

    max_entries = _int_setting(sim, "SimMarketDataMaxEntries", 64)
    if max_entries < 1:
        raise SettingsError(f"SimMarketDataMaxEntries={max_entries} must be at least 1")

    logon_timeout = logon_timeout_s
    if logon_timeout is None:
        raw_timeout = sim.get("SimLogonTimeoutS", "") or str(DEFAULT_LOGON_TIMEOUT_S)
        try:
            logon_timeout = float(raw_timeout)
        except ValueError as exc:
            raise SettingsError(f"SimLogonTimeoutS={raw_timeout!r} is not a number of seconds") from exc
    if not math.isfinite(logon_timeout) or logon_timeout < 0:
        raise SettingsError(
            f"SimLogonTimeoutS (--logon-timeout) must be 0 (off) or a positive number of seconds, "
            f"got {logon_timeout}"
        )

    if control_port is None and "SimControlPort" in sim:
        control_port = _int_setting(sim, "SimControlPort", 0)

    effective_dir = state_root if state_root is not None else state_db.parent
    private_dir(effective_dir)
    effective = effective_dir / "effective-simulator.cfg"
    with owner_only():
        effective.write_text(render_cfg(sections))
    private_file(effective)

    sessions = tuple(
        (
            {**defaults.values, **s.values}.get("BeginString", ""),
            {**defaults.values, **s.values}.get("SenderCompID", ""),
            {**defaults.values, **s.values}.get("TargetCompID", ""),
        )
        for s in session_sections
    )
    clients = _client_sessions(config_path, sim, sessions, session_sections)
    control_idle = _float_setting(sim, "SimControlIdleTimeoutS", DEFAULT_CONTROL_IDLE_TIMEOUT_S)
    if not math.isfinite(control_idle) or control_idle <= 0:
        raise SettingsError(
            f"SimControlIdleTimeoutS must be a positive number of seconds, got {control_idle}"
        )
    control_max = _int_setting(sim, "SimControlMaxConnections", DEFAULT_CONTROL_MAX_CONNECTIONS)
    if control_max < 1:
        raise SettingsError(f"SimControlMaxConnections={control_max} must be at least 1")
    token_file = _resolve_state_path(
        sim.get("SimControlTokenFile") or DEFAULT_CONTROL_TOKEN_FILE, effective_dir
    )
    password_env = sim.get("SimPasswordEnv") or None
    return SimulatorSettings(
        source_config=config_path,
        effective_config=effective,
        port=listen_port,
        sessions=sessions,
        seed=seed if seed is not None else _int_setting(sim, "SimSeed", 7),
        instruments=instruments,
        maker_levels=_int_setting(sim, "SimBookLevels", 5),
        md_interval_ms=interval,
        md_max_entries=max_entries,
        stalled_peer_timeout_ms=_int_setting(sim, "SimStalledPeerTimeoutMs", 5000),
        logon_timeout_s=logon_timeout,
        socket_send_buffer_bytes=_int_setting(defaults.values, "SocketSendBufferSize", SOCKET_BUFFER_BYTES),
        state_db=state_db,
        message_log_dir=message_log_dir,
        message_log_market_data=sim.get("SimMessageLogMarketData", "N").upper().startswith("Y"),
        password_env=password_env,
        username_env=sim.get("SimUsernameEnv") or None,
        faults=fault_values,
        control_port=control_port,
        state_dir=effective_dir,
        clients=clients,
        control_token_env=sim.get("SimControlTokenEnv", DEFAULT_CONTROL_TOKEN_ENV) or None,
        control_token_file=token_file,
        control_idle_timeout_s=control_idle,
        control_max_connections=control_max,
    )


def _float_setting(values: Mapping[str, str], key: str, default: float) -> float:
    raw = values.get(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{key}={raw!r} is not a number") from exc


def _client_sessions(
    config_path: Path,
    sim: Mapping[str, str],
    sessions: tuple[tuple[str, str, str], ...],
    sections: list[CfgSection],
) -> tuple[ClientSession, ...]:
    """One ClientSession per [SESSION]: its accounts (SimAccounts, default its CompID), its
    credentials' variables and its market-data cap, [SESSION] values over [DEFAULT]'s."""
    owner_of: dict[str, str] = {}
    clients: list[ClientSession] = []
    for (begin, sender, target), section in zip(sessions, sections, strict=True):
        values = {**sim, **{k: v for k, v in section.values.items() if k in SESSION_SIM_KEYS}}
        raw_accounts = section.values.get("SimAccounts")
        accounts: tuple[str, ...]
        if raw_accounts is None:
            accounts = (target,)
        else:
            accounts = tuple(a.strip() for a in raw_accounts.split(","))
            if not accounts or any(not a for a in accounts):
                raise SettingsError(
                    f"{config_path}: SimAccounts={raw_accounts!r} of {target}: empty account name"
                )
        for account in accounts:
            if account in owner_of and owner_of[account] != target:
                raise SettingsError(
                    f"{config_path}: account {account} belongs to both {owner_of[account]} and {target}: "
                    "an account is owned by one session"
                )
            owner_of[account] = target
        cap = _int_setting(values, "SimMaxMarketDataSubscriptions", DEFAULT_MAX_MD_SUBSCRIPTIONS)
        if cap < 1:
            raise SettingsError(
                f"{config_path}: SimMaxMarketDataSubscriptions={cap} of {target} must be at least 1"
            )
        clients.append(
            ClientSession(
                key=f"{begin}:{sender}->{target}",
                comp_id=target,
                accounts=tuple(dict.fromkeys(accounts)),
                password_env=values.get("SimPasswordEnv") or None,
                username_env=values.get("SimUsernameEnv") or None,
                max_md_subscriptions=cap,
            )
        )
    return tuple(clients)


def expected_password(settings: SimulatorSettings) -> str | None:
    """[DEFAULT]'s Logon Password(554), from the environment variable its SimPasswordEnv names
    (each session's own: `simulator.clients.Clients.expected_logon`)."""
    if not settings.password_env:
        return None
    value = os.environ.get(settings.password_env)
    return value or None


def expected_username(settings: SimulatorSettings) -> str | None:
    """[DEFAULT]'s Logon Username(553), from the environment variable SimUsernameEnv names."""
    if not settings.username_env:
        return None
    value = os.environ.get(settings.username_env)
    return value or None
