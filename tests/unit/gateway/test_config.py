"""Gateway TOML config: templates load, every error names the bad key, unknown keys fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.domain.errors import ConfigError
from tests.unit.gateway.factories import MINIMAL_GATEWAY_TOML as MINIMAL
from tests.unit.gateway.factories import SESSIONS_DIR as SESSIONS
from tests.unit.gateway.factories import write_gateway_toml as write


@pytest.mark.parametrize("name", ["gateway-sim.toml", "broker-template.toml"])
def test_shipped_templates_load(name):
    config = load_config(SESSIONS / name)

    assert config.gateway.sessions_cfg.exists()
    assert config.routing


def test_minimal_config_gets_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))

    assert config.gateway.mode == "simulator"
    assert config.ledger.path == Path("var/gateway/ledger.sqlite")
    assert config.limits.max_order_qty == 10_000
    assert config.decision is None
    assert config.symbols_for_venue("SIM") == ["ACME"]
    assert config.gateway.sessions_cfg == (tmp_path / "gateway-sim.cfg").resolve()


def test_overrides_replace_gateway_keys_and_move_the_default_ledger(tmp_path):
    config = load_config(write(tmp_path, MINIMAL), {"port": 12345, "state_dir": "elsewhere"})

    assert config.gateway.port == 12345
    assert config.ledger.path == Path("elsewhere/ledger.sqlite")


@pytest.mark.parametrize(
    ("snippet", "named"),
    [
        ("[limits]\nmax_order_qty = 'ten'\n", "[limits] max_order_qty"),
        ("[limits]\nmax_qty = 1\n", "[limits] max_qty: unknown key"),
        ("[strategy]\nstyle = 'momentum'\n", "[strategy] style"),
        ("[telemetry]\notlp = 'yes'\n", "[telemetry] otlp"),
        ("[ledger]\nsynchronous = 'OFF'\n", "[ledger] synchronous"),
        ("[extra]\nx = 1\n", "extra: unknown table"),
    ],
)
def test_bad_values_and_unknown_keys_name_the_key(tmp_path, snippet, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(write(tmp_path, MINIMAL + snippet))


def test_route_to_an_undefined_venue_is_named(tmp_path):
    text = MINIMAL.replace('ACME = "SIM"', 'ACME = "NOWHERE"')

    with pytest.raises(ConfigError, match=r"\[routing\] ACME"):
        load_config(write(tmp_path, text))


def test_port_out_of_range_is_named(tmp_path):
    text = MINIMAL.replace("[venues.SIM]", "[venues.SIM]\nport = 70000")

    with pytest.raises(ConfigError, match=r"\[venues.SIM\] port"):
        load_config(write(tmp_path, text))


def test_malformed_session_id_is_named(tmp_path):
    text = MINIMAL.replace("FIX.4.4:FIXGW->FIXSIM", "FIXGW")

    with pytest.raises(ConfigError, match=r"\[venues.SIM\] order_session"):
        load_config(write(tmp_path, text))


def test_a_valid_decision_table_is_kept_as_given(tmp_path):
    config = load_config(
        write(
            tmp_path, MINIMAL + "[decision]\nmode = 'microbatch'\n[decision.execution]\nstyle = 'passive'\n"
        )
    )

    assert config.decision == {"mode": "microbatch", "execution": {"style": "passive"}}


def test_missing_file_and_bad_toml_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[gateway\n"))


def test_a_bad_decision_key_is_a_config_error_naming_the_key(tmp_path):
    path = write(tmp_path, MINIMAL + "[decision]\nno_such_key = 1\n")

    with pytest.raises(ConfigError, match=r"decision\.no_such_key"):
        load_config(path)


def test_fixgw_run_with_a_bad_decision_key_exits_2_before_opening_a_ledger(tmp_path, capsys):
    from gateway.app import main

    state_dir = tmp_path / "state"
    text = MINIMAL.replace(
        'sessions_cfg = "gateway-sim.cfg"',
        f'sessions_cfg = "{SESSIONS / "gateway-sim.cfg"}"\nstate_dir = "{state_dir}"',
    )
    path = write(tmp_path, text + '[decision]\nmode = "sometimes"\n')

    assert main(["--config", str(path)]) == 2
    assert "decision.mode" in capsys.readouterr().err
    assert not (state_dir / "ledger.sqlite").exists()
