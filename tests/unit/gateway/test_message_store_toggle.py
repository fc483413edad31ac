"""The gateway's QuickFIX store keeps application messages only: no Logon, so no Password(554).

QuickFIX 1.16 persists a message right after toAdmin/toApp returns, reading the session's
PersistMessages flag then; GatewayApplication switches it off in toAdmin and on in toApp and
fromAdmin. Here a recording fake stands in for the engine's Session (the real engine is covered
by tests/integration/gateway/test_secrets_on_disk.py).
"""

from __future__ import annotations

import pytest
import quickfix as fix

from gateway.fix.application import GatewayApplication, SessionRole

KEY = "FIX.4.4:FIXGW->FIXSIM"


class RecordingSession:
    def __init__(self, persist: bool = True) -> None:
        self.persist = persist
        self.switches: list[bool] = []

    def getPersistMessages(self) -> bool:  # QuickFIX's name
        return self.persist

    def setPersistMessages(self, value: bool) -> None:  # QuickFIX's name
        self.persist = value
        self.switches.append(value)


def message(msg_type: str) -> fix.Message:
    m = fix.Message()
    m.getHeader().setField(fix.BeginString("FIX.4.4"))
    m.getHeader().setField(35, msg_type)
    return m


def application(monkeypatch: pytest.MonkeyPatch, session: RecordingSession) -> GatewayApplication:
    monkeypatch.setattr(fix.Session, "lookupSession", staticmethod(lambda _sid: session))
    monkeypatch.setenv("FIXGW_UNIT_PASSWORD", "pw-unit")
    role = SessionRole(
        key=KEY, venue="SIM", order_entry=True, market_data=False, password_env="FIXGW_UNIT_PASSWORD"
    )
    return GatewayApplication(roles={KEY: role})


def test_the_logon_is_sent_with_the_password_but_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    session = RecordingSession()
    app = application(monkeypatch, session)
    sid = fix.SessionID("FIX.4.4", "FIXGW", "FIXSIM")
    logon = message("A")

    app.toAdmin(logon, sid)

    assert logon.getField(554) == "pw-unit"
    assert session.persist is False, "QuickFIX persists after toAdmin returns: off for the Logon"


def test_application_messages_are_stored_and_admin_messages_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    session = RecordingSession()
    app = application(monkeypatch, session)
    sid = fix.SessionID("FIX.4.4", "FIXGW", "FIXSIM")
    seen = []
    for kind, msg_type in [("admin", "A"), ("app", "D"), ("admin", "0"), ("admin", "0"), ("app", "F")]:
        (app.toAdmin if kind == "admin" else app.toApp)(message(msg_type), sid)
        seen.append(session.persist)

    assert seen == [False, True, False, False, True]
    assert session.switches == [False, True, False, True], "only a change of kind costs a SWIG call"


def test_an_incoming_admin_message_turns_storing_back_on_before_a_resend_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = RecordingSession()
    app = application(monkeypatch, session)
    sid = fix.SessionID("FIX.4.4", "FIXGW", "FIXSIM")
    app.toAdmin(message("0"), sid)

    app.fromAdmin(message("2"), sid)  # ResendRequest: QuickFIX retransmits only while persisting

    assert session.persist is True


def test_a_session_configured_without_persisting_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    session = RecordingSession(persist=False)
    app = application(monkeypatch, session)
    sid = fix.SessionID("FIX.4.4", "FIXGW", "FIXSIM")

    app.toAdmin(message("A"), sid)
    app.toApp(message("D"), sid)
    app.fromAdmin(message("0"), sid)

    assert session.switches == []
