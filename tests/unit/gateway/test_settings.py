"""Effective QuickFIX settings: overrides applied, paths absolute, missing sessions named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.domain.errors import ConfigError
from gateway.fix.settings import parse_cfg, write_effective_cfg

SIM_TOML = Path(__file__).resolve().parents[3] / "sessions" / "gateway-sim.toml"


def test_effective_cfg_points_at_the_port_and_keeps_state_in_the_state_dir(tmp_path):
    config = load_config(SIM_TOML, {"port": 23456, "state_dir": str(tmp_path)})

    path, keys = write_effective_cfg(config, tmp_path)

    parsed = parse_cfg(path)
    assert keys == ["FIX.4.4:FIXGW->FIXSIM", "FIX.4.4:FIXGW-MD->FIXSIM"]
    assert all(s["SocketConnectPort"] == "23456" for s in parsed.sessions)
    assert parsed.default["ConnectionType"] == "initiator"
    assert Path(parsed.default["FileStorePath"]).is_relative_to(tmp_path.resolve())
    assert Path(parsed.default["DataDictionary"]).is_absolute()
    assert "FileLogPath" not in parsed.default


def test_a_venue_session_missing_from_the_cfg_is_named(tmp_path):
    config = load_config(SIM_TOML, {"state_dir": str(tmp_path)})
    venue = replace(config.venues["SIM"], order_session="FIX.4.4:OTHER->FIXSIM")
    config = replace(config, venues={"SIM": venue})

    with pytest.raises(ConfigError, match=r"\[venues.SIM\] order_session"):
        write_effective_cfg(config, tmp_path)
