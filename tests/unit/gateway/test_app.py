"""Composition root: the [decision] table builds the decision path's sink; live mode refuses a
missing credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.config import load_config
from gateway.domain.errors import ConfigError
from tests.unit.gateway.factories import make_oms

SESSIONS = Path(__file__).resolve().parents[3] / "sessions"


def test_decision_table_builds_the_decision_sink_with_a_sink_context(tmp_path):
    from gateway.decision.sink import DecisionSink

    toml = tmp_path / "gw.toml"
    toml.write_text(
        (SESSIONS / "gateway-sim.toml")
        .read_text()
        .replace('sessions_cfg = "gateway-sim.cfg"', f'sessions_cfg = "{SESSIONS / "gateway-sim.cfg"}"')
        + '\n[decision]\nmode = "microbatch"\ntracing = false\n'
    )
    gateway = Gateway(load_config(toml, {"state_dir": str(tmp_path / "state")}))
    gateway.oms, gateway.ledger, _ = make_oms(tmp_path)

    sink = gateway._build_sink()
    try:
        assert isinstance(sink, DecisionSink)
        context = sink._ctx
        assert context.decision_table == {"mode": "microbatch", "tracing": False}
        assert list(context.symbols) == ["ACME", "BOLT", "CRUX"]
        assert context.orders is gateway.oms and context.ledger_path == gateway.ledger.path
        assert context.state_dir == tmp_path / "state" / "decision"
        assert callable(context.request_snapshot) and context.clock_ns() > 0
        assert sink.model.runner is not None  # the shipped model, seeded into the registry
    finally:
        sink.close()


def test_live_mode_refuses_to_start_without_the_credential_variables(tmp_path, monkeypatch):
    monkeypatch.delenv("BROKER_USERNAME", raising=False)
    config = load_config(SESSIONS / "broker-template.toml", {"state_dir": str(tmp_path)})

    with pytest.raises(
        ConfigError, match=r"\[venues.BROKER\] username_env: environment variable BROKER_USERNAME"
    ):
        Gateway(config).start()


def test_fixgw_run_refuses_a_file_that_is_not_a_ledger_with_exit_code_2(tmp_path, capsys):
    from gateway.app import main

    not_a_db = tmp_path / "ledger.sqlite"
    not_a_db.write_text("my trading notes\n")

    code = main(
        [
            "--config",
            str(SESSIONS / "gateway-sim.toml"),
            "--state-dir",
            str(tmp_path / "s"),
            "--ledger",
            str(not_a_db),
            "--quiet",
        ]
    )

    assert code == 2
    assert "is not an SQLite database" in capsys.readouterr().err
    assert not_a_db.read_text() == "my trading notes\n"


def test_fixgw_run_names_the_bad_key_with_exit_code_2(tmp_path, capsys):
    from gateway.app import main

    toml = tmp_path / "bad.toml"
    toml.write_text(
        (SESSIONS / "gateway-sim.toml").read_text().replace("max_order_qty = 1000", "max_order_qty = -1")
    )

    assert main(["--config", str(toml)]) == 2
    assert "[limits] max_order_qty" in capsys.readouterr().err
