"""QuickFIX session settings: read a standard .cfg, apply the gateway's overrides, write the
effective file to the state dir (QuickFIX reads its settings from a file) and return its path.

Overrides: ConnectionType=initiator; FileStorePath under the state dir (so a restart resumes the
stored sequence numbers); no FileLogPath (QuickFIX's FileLog writes raw messages including
Password(554); the gateway's own log masks it); DataDictionary made absolute; and
SocketConnectHost/SocketConnectPort from the venue or [gateway] host/port, so tests and the demo
can point the sessions at a simulator on a free port.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.domain.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
EFFECTIVE_CFG_NAME = "sessions.effective.cfg"
PATH_KEYS = ("DataDictionary", "TransportDataDictionary", "AppDataDictionary")
DROPPED_KEYS = ("FileLogPath", "FileLogBackupPath", "ScreenLogShowIncoming", "ScreenLogShowOutgoing")


@dataclass(frozen=True, slots=True)
class SessionsFile:
    default: dict[str, str]
    sessions: list[dict[str, str]]


def parse_cfg(path: Path) -> SessionsFile:
    """Read a QuickFIX .cfg: a [DEFAULT] section and any number of [SESSION] sections."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the session settings ({exc.strerror})") from exc
    default: dict[str, str] = {}
    sessions: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip().upper()
            if name == "DEFAULT":
                current = default
            elif name == "SESSION":
                current = {}
                sessions.append(current)
            else:
                raise ConfigError(f"{path}:{number}: unknown section [{name}]")
            continue
        if "=" not in line or current is None:
            raise ConfigError(f"{path}:{number}: expected Key=Value inside a section, got {line!r}")
        key, value = line.split("=", 1)
        current[key.strip()] = value.strip()
    if not sessions:
        raise ConfigError(f"{path}: no [SESSION] section")
    return SessionsFile(default=default, sessions=sessions)


def session_key(values: dict[str, str]) -> str:
    """QuickFIX's SessionID.toString() form: BeginString:SenderCompID->TargetCompID."""
    try:
        return f"{values['BeginString']}:{values['SenderCompID']}->{values['TargetCompID']}"
    except KeyError as exc:
        raise ConfigError(f"a [SESSION] lacks {exc.args[0]}") from exc


def _resolve(value: str, cfg_dir: Path) -> str:
    candidate = Path(value)
    if candidate.is_absolute():
        return value
    for base in (Path.cwd(), cfg_dir, cfg_dir.parent, PROJECT_ROOT):
        if (base / candidate).exists():
            return str((base / candidate).resolve())
    raise ConfigError(f"{cfg_dir}: data dictionary {value!r} not found (relative to the working dir or cfg)")


def write_effective_cfg(config: GatewayConfig, state_dir: Path) -> tuple[Path, list[str]]:
    """Write the effective session settings; return the file and the session keys it holds.

    Every session named by a venue must exist in the .cfg (the error names the venue key)."""
    source = config.gateway.sessions_cfg
    parsed = parse_cfg(source)
    default = dict(parsed.default)
    for key in DROPPED_KEYS:
        default.pop(key, None)
    default["ConnectionType"] = "initiator"
    store_dir = state_dir / "store"
    store_dir.mkdir(parents=True, exist_ok=True)
    default["FileStorePath"] = str(store_dir.resolve())
    for key in PATH_KEYS:
        if key in default:
            default[key] = _resolve(default[key], source.parent)

    venue_of_session: dict[str, str] = {}
    for venue in config.venues.values():
        venue_of_session[venue.order_session] = venue.name
        if venue.market_data_session:
            venue_of_session[venue.market_data_session] = venue.name

    keys: list[str] = []
    lines = [f"# written by fixgw from {source.name}; edit that file, not this one", "[DEFAULT]"]
    lines += [f"{k}={v}" for k, v in default.items()]
    for values in parsed.sessions:
        merged = {**default, **values}
        key = session_key(merged)
        venue_name = venue_of_session.get(key)
        if venue_name is None:
            continue  # a session no venue uses is not started
        venue = config.venues[venue_name]
        section = dict(values)
        for drop in DROPPED_KEYS:
            section.pop(drop, None)
        for path_key in PATH_KEYS:
            if path_key in section:
                section[path_key] = _resolve(section[path_key], source.parent)
        host = venue.host or config.gateway.host
        port = venue.port or config.gateway.port
        if host:
            section["SocketConnectHost"] = host
        if port:
            section["SocketConnectPort"] = str(port)
        for required in ("SocketConnectHost", "SocketConnectPort"):
            if required not in section and required not in default:
                raise ConfigError(
                    f"{source}: session {key} has no {required} (set it, or [venues.{venue_name}])"
                )
        lines.append("")
        lines.append("[SESSION]")
        lines += [f"{k}={v}" for k, v in section.items()]
        keys.append(key)

    for session, venue_name in venue_of_session.items():
        if session not in keys:
            role = (
                "order_session"
                if config.venues[venue_name].order_session == session
                else "market_data_session"
            )
            raise ConfigError(f"[venues.{venue_name}] {role}: session {session} is not in {source}")
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / EFFECTIVE_CFG_NAME
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target, keys
