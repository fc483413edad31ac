"""`fixgw sim` settings: the cfg file, overrides, resolved paths, the effective file, faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.faults import FaultError, Faults, canonical_name, parse_assignments
from simulator.instruments import InstrumentError, parse_symbols
from simulator.settings import SettingsError, load_settings, parse_cfg

REPO = Path(__file__).resolve().parents[3]
SIM_CFG = REPO / "sessions" / "simulator.cfg"


def test_bundled_cfg_with_overrides_writes_an_effective_file(tmp_path: Path) -> None:
    settings = load_settings(SIM_CFG, port=12345, seed=3, state_dir=tmp_path, md_interval_ms=5)
    assert settings.port == 12345 and settings.seed == 3 and settings.md_interval_ms == 5
    assert {s[2] for s in settings.sessions} == {"FIXGW", "FIXGW-MD", "CLIENT1"}
    assert settings.state_db == tmp_path / "venue.sqlite"
    effective = parse_cfg(settings.effective_config.read_text())
    defaults = effective[0].values
    assert defaults["SocketAcceptPort"] == "12345"
    assert defaults["FileStorePath"] == str(tmp_path / "store")
    assert Path(defaults["DataDictionary"]).is_file()
    assert "FileLogPath" not in defaults, "QuickFIX's FileLog would write passwords"
    assert settings.message_log_dir == tmp_path / "log"
    assert settings.password_env == "FIXSIM_PASSWORD"
    assert defaults["SocketNodelay"] == "Y" and defaults["SocketSendBufferSize"] == "1048576"
    assert settings.md_max_entries == 64


def test_cfg_from_another_directory_still_finds_the_dictionary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "mine.cfg"
    cfg.write_text(
        "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=4000\nFileStorePath=store\n"
        "DataDictionary=fix_specs/FIX44.xml\nSimSymbols=ZED:0.5:2:10\nSimFaultRejectEveryNth=4\n"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=VENUE\nTargetCompID=ME\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(cfg, state_dir=tmp_path / "state")
    assert settings.port == 4000
    assert settings.sessions == (("FIX.4.4", "VENUE", "ME"),)
    assert list(settings.instruments) == ["ZED"]
    assert settings.faults == {"reject_every_nth": 4}
    assert "fix_specs" in settings.effective_config.read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[DEFAULT]\nSocketAcceptPort=1\n", "no [SESSION]"),
        ("SocketAcceptPort=1\n", "before any"),
        ("[DEFAULT]\nnonsense\n[SESSION]\n", "Key=Value"),
        (
            "[DEFAULT]\nSimFaultNoSuchThing=1\n[SESSION]\nSenderCompID=A\nTargetCompID=B\nSocketAcceptPort=1\n",
            "unknown fault",
        ),
        (
            "[DEFAULT]\nSimSymbols=BAD\n[SESSION]\nSenderCompID=A\nTargetCompID=B\nSocketAcceptPort=1\n",
            "SimSymbols",
        ),
        ("[DEFAULT]\n[SESSION]\nSenderCompID=A\nTargetCompID=B\n", "SocketAcceptPort"),
        ("[DEFAULT]\nSocketAcceptPort=1\n[SESSION]\nSimSeed=3\n", "belongs in [DEFAULT]"),
        (
            "[DEFAULT]\nSimSeeed=3\n[SESSION]\nSenderCompID=A\nTargetCompID=B\nSocketAcceptPort=1\n",
            "SimSeeed",
        ),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(text)
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(cfg, state_dir=tmp_path)


def test_port_zero_is_refused_because_quickfix_cannot_say_which_port_it_got(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="between 1 and 65535"):
        load_settings(SIM_CFG, port=0, state_dir=tmp_path)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "nope.cfg")


def test_symbols_parse_and_reject_nonsense() -> None:
    symbols = parse_symbols("ACME:0.01:1:100.00, BOLT:0.05:10:50.00")
    assert symbols["BOLT"].to_ticks(symbols["BOLT"].reference_price) == 1000
    for bad in ("X:0:1:1", "X:0.01:0:1", "X:0.01:1", "X:0.03:1:1.00"):
        with pytest.raises(InstrumentError):
            parse_symbols(bad)


def test_fault_names_in_any_spelling_and_values() -> None:
    assert canonical_name("RejectEveryNth") == "reject_every_nth"
    assert canonical_name("freeze-market-data") == "freeze_market_data"
    assert parse_assignments(["ack_delay_ms=20", "freeze_market_data"]) == {
        "ack_delay_ms": 20,
        "freeze_market_data": 1,
    }
    with pytest.raises(FaultError):
        parse_assignments(["nope=1"])
    with pytest.raises(FaultError):
        parse_assignments(["ack_delay_ms=-1"])


def test_reject_every_nth_counts_orders_and_counted_faults_run_out() -> None:
    faults = Faults({"reject_every_nth": 3, "bust_next_fill": 2})
    assert [faults.should_reject_order() for _ in range(6)] == [0, 0, 3, 0, 0, 3]
    assert [faults.consume("bust_next_fill") for _ in range(3)] == [True, True, False]
    faults.clear()
    assert faults.active() == {}
    assert faults.should_reject_order() == 0


def test_per_session_accounts_credentials_and_limits(tmp_path: Path) -> None:
    cfg = tmp_path / "clients.cfg"
    cfg.write_text(
        "[DEFAULT]\nSocketAcceptPort=4000\nSimPasswordEnv=PW_ALL\nSimMaxMarketDataSubscriptions=4\n"
        "SimControlIdleTimeoutS=2.5\nSimControlMaxConnections=2\n"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=VENUE\nTargetCompID=A\n"
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=VENUE\nTargetCompID=B\nSimAccounts=B-1, B-2\n"
        "SimPasswordEnv=PW_B\nSimUsernameEnv=USER_B\nSimMaxMarketDataSubscriptions=1\n"
    )
    settings = load_settings(cfg, state_dir=tmp_path / "state")
    a, b = settings.clients

    assert (a.key, a.accounts, a.password_env, a.max_md_subscriptions) == (
        "FIX.4.4:VENUE->A",
        ("A",),
        "PW_ALL",
        4,
    )
    assert (b.accounts, b.password_env, b.username_env, b.max_md_subscriptions) == (
        ("B-1", "B-2"),
        "PW_B",
        "USER_B",
        1,
    )
    assert (settings.control_idle_timeout_s, settings.control_max_connections) == (2.5, 2)
    assert settings.control_token_env == "FIXSIM_CONTROL_TOKEN"
    assert settings.control_token_file == (tmp_path / "state" / "control.token").resolve()


@pytest.mark.parametrize(
    ("extra_default", "sessions", "message"),
    [
        (
            "",
            "TargetCompID=A\nSimAccounts=SHARED\n[SESSION]\nTargetCompID=B\nSimAccounts=SHARED\n",
            "belongs to both",
        ),
        ("", "TargetCompID=A\nSimAccounts=X,,Y\n", "empty account name"),
        ("SimAccounts=X\n", "TargetCompID=A\n", "belongs in a [SESSION]"),
        ("", "TargetCompID=A\nSimMaxMarketDataSubscriptions=0\n", "at least 1"),
        ("SimControlMaxConnections=0\n", "TargetCompID=A\n", "SimControlMaxConnections"),
        ("SimControlIdleTimeoutS=-1\n", "TargetCompID=A\n", "SimControlIdleTimeoutS"),
    ],
)
def test_bad_client_settings_name_the_problem(
    tmp_path: Path, extra_default: str, sessions: str, message: str
) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(
        f"[DEFAULT]\nSocketAcceptPort=1\nSenderCompID=V\nBeginString=FIX.4.4\n{extra_default}[SESSION]\n{sessions}"
    )
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(cfg, state_dir=tmp_path)


def test_the_state_directory_and_effective_settings_are_owner_only(tmp_path: Path) -> None:
    settings = load_settings(SIM_CFG, port=12345, state_dir=tmp_path / "state")

    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert settings.effective_config.stat().st_mode & 0o777 == 0o600


def test_bundled_cfg_gives_client1_its_own_password_and_each_client_its_own_account(tmp_path: Path) -> None:
    settings = load_settings(SIM_CFG, port=12345, state_dir=tmp_path)

    assert {c.comp_id: (c.accounts, c.password_env) for c in settings.clients} == {
        "FIXGW": (("FIXGW",), "FIXSIM_PASSWORD"),
        "FIXGW-MD": (("FIXGW-MD",), "FIXSIM_PASSWORD"),
        "CLIENT1": (("CLIENT1",), "FIXSIM_PASSWORD_CLIENT1"),
    }
    assert {c.max_md_subscriptions for c in settings.clients} == {10}
