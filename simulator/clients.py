"""Who is on the other end of each session: its accounts, its credentials, its limits.

Pure: takes one `ClientSession` per [SESSION] of the settings file (settings.py builds them) and
the environment the passwords are read from; gives the simulator the account a message without
Account(1) belongs to, the accounts a session may name, and what its Logon(35=A) must carry.

Rules:
- a session owns the accounts its `SimAccounts` lists, by default one account named after the
  client's CompID; no account belongs to two sessions (settings.py refuses such a file). The
  first account is the default Account(1);
- credentials are per session: each [SESSION] may name its own `SimPasswordEnv` and
  `SimUsernameEnv`, [DEFAULT]'s apply to the others. When no session's password variable is set,
  no password is asked for (a local sandbox); as soon as one is set, a session whose own variable
  is unset cannot log on at all, so forgetting one client's password never opens that session.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_MAX_MD_SUBSCRIPTIONS = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSession:
    key: str  # QuickFIX's SessionID string on the venue's side, "FIX.4.4:FIXSIM->FIXGW"
    comp_id: str  # the client's CompID: TargetCompID of the venue's session
    accounts: tuple[str, ...]  # Account(1) values the session owns; the first is its default
    password_env: str | None = None
    username_env: str | None = None
    max_md_subscriptions: int = DEFAULT_MAX_MD_SUBSCRIPTIONS


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedLogon:
    password: str | None  # None: no Password(554) asked for
    username: str | None  # None: Username(553), when present, must be the client's CompID
    refusal: str | None = None  # set: the session may not log on at all (said in the log only)


class Clients:
    """The sessions of the settings file, by QuickFIX session key. Immutable after creation."""

    def __init__(self, sessions: Iterable[ClientSession], environ: Mapping[str, str] | None = None) -> None:
        self._sessions = {session.key: session for session in sessions}
        self._environ = environ

    def session(self, key: str) -> ClientSession | None:
        return self._sessions.get(key)

    def sessions(self) -> list[ClientSession]:
        return list(self._sessions.values())

    def default_account(self, key: str, comp_id: str) -> str:
        """The account of a message without Account(1): the session's first, else its CompID."""
        session = self._sessions.get(key)
        return session.accounts[0] if session is not None and session.accounts else comp_id

    def accounts_by_session(self) -> dict[str, frozenset[str]]:
        return {key: frozenset(session.accounts) for key, session in self._sessions.items()}

    def max_md_subscriptions(self, key: str) -> int:
        session = self._sessions.get(key)
        return session.max_md_subscriptions if session is not None else DEFAULT_MAX_MD_SUBSCRIPTIONS

    def expected_logon(self, key: str) -> ExpectedLogon:
        """What a Logon on session `key` must carry, read from the environment now (so a test
        or an operator may change a password without a restart)."""
        environ = os.environ if self._environ is None else self._environ
        session = self._sessions.get(key)
        if session is None:
            return ExpectedLogon(password=None, username=None, refusal="session not in the settings file")
        own = _value(environ, session.password_env)
        username = _value(environ, session.username_env)
        if own is None:
            others = [s.comp_id for s in self._sessions.values() if _value(environ, s.password_env)]
            if others:
                variable = session.password_env or "SimPasswordEnv (none named)"
                return ExpectedLogon(
                    password=None,
                    username=username,
                    refusal=f"no password set for {session.comp_id} ({variable} is unset) while "
                    f"{', '.join(sorted(others))} have one",
                )
        return ExpectedLogon(password=own, username=username)

    def unprotected(self) -> list[str]:
        """CompIDs that cannot log on because their password is unset while others have one."""
        return [s.comp_id for s in self._sessions.values() if self.expected_logon(s.key).refusal]

    def password_protected(self) -> bool:
        environ = os.environ if self._environ is None else self._environ
        return any(_value(environ, s.password_env) for s in self._sessions.values())


def _value(environ: Mapping[str, str], name: str | None) -> str | None:
    if not name:
        return None
    return environ.get(name) or None
