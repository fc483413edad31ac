"""Per-session accounts and credentials (simulator/clients.py), pure."""

from __future__ import annotations

from simulator.clients import Clients, ClientSession

GW = ClientSession(key="FIX.4.4:FIXSIM->FIXGW", comp_id="FIXGW", accounts=("FIXGW",), password_env="PW_GW")
MD = ClientSession(
    key="FIX.4.4:FIXSIM->FIXGW-MD", comp_id="FIXGW-MD", accounts=("FIXGW-MD",), password_env="PW_GW"
)
C1 = ClientSession(
    key="FIX.4.4:FIXSIM->CLIENT1",
    comp_id="CLIENT1",
    accounts=("C1-MAIN", "C1-HEDGE"),
    password_env="PW_C1",
    username_env="USER_C1",
    max_md_subscriptions=3,
)


def test_default_account_is_the_sessions_first_and_accounts_are_per_session() -> None:
    clients = Clients([GW, C1], environ={})

    assert clients.default_account(C1.key, "CLIENT1") == "C1-MAIN"
    assert clients.default_account("FIX.4.4:FIXSIM->UNKNOWN", "UNKNOWN") == "UNKNOWN"
    assert clients.accounts_by_session() == {GW.key: {"FIXGW"}, C1.key: {"C1-MAIN", "C1-HEDGE"}}
    assert clients.max_md_subscriptions(C1.key) == 3


def test_no_password_anywhere_is_an_open_sandbox() -> None:
    clients = Clients([GW, MD, C1], environ={})

    assert [clients.expected_logon(s.key).refusal for s in (GW, MD, C1)] == [None, None, None]
    assert clients.expected_logon(GW.key).password is None and not clients.password_protected()


def test_each_session_expects_its_own_password_and_user() -> None:
    clients = Clients([GW, MD, C1], environ={"PW_GW": "gw-secret", "PW_C1": "c1-secret", "USER_C1": "alice"})

    assert clients.expected_logon(GW.key).password == "gw-secret"
    assert clients.expected_logon(MD.key).password == "gw-secret"
    assert (clients.expected_logon(C1.key).password, clients.expected_logon(C1.key).username) == (
        "c1-secret",
        "alice",
    )


def test_a_session_without_its_password_cannot_log_on_once_others_have_one() -> None:
    clients = Clients([GW, MD, C1], environ={"PW_GW": "gw-secret"})

    refusal = clients.expected_logon(C1.key).refusal

    assert refusal is not None and "PW_C1 is unset" in refusal
    assert clients.unprotected() == ["CLIENT1"]
    assert clients.expected_logon(GW.key).refusal is None
