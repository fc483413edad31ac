"""The gateway's exception hierarchy: one base, one subclass per kind of failure."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(GatewayError, ValueError):
    """A configuration file is missing, unreadable or invalid; the message names the bad key."""


class LedgerError(GatewayError):
    """The ledger database cannot be opened, is not SQLite, or has an unknown schema."""


class MessageError(GatewayError, ValueError):
    """An inbound FIX message cannot be processed; `tag` names the offending field if known."""

    def __init__(self, reason: str, *, tag: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tag = tag


class UnknownOrderError(MessageError):
    """A report about an order this gateway never sent: answered BusinessMessageReject(35=j)."""

    def __init__(self, reason: str, *, cl_ord_id: str) -> None:
        super().__init__(reason, tag=None)
        self.cl_ord_id = cl_ord_id
