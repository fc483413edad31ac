"""FIX 4.4 enumerations, with their wire values, shared by the gateway and the simulator.

Each enum's value is the exact string that travels in the tag, so `OrdStatus(msg.getField(39))`
parses and `status.value` serialises. An unknown value raises ValueError, which each side's FIX
edge turns into a Reject(35=3). Rules about the values (which statuses are final) belong to each
side, not here. `tests/unit/fixcore/test_values.py` checks every value against fix_specs/FIX44.xml.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """Side(54)."""

    BUY = "1"
    SELL = "2"
    SELL_SHORT = "5"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: a fill changes the position by sign * qty."""
        return 1 if self is Side.BUY else -1


class OrdType(StrEnum):
    """OrdType(40)."""

    MARKET = "1"
    LIMIT = "2"


class TimeInForce(StrEnum):
    """TimeInForce(59)."""

    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"


class OrdStatus(StrEnum):
    """OrdStatus(39)."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    ACCEPTED_FOR_BIDDING = "D"
    PENDING_REPLACE = "E"


class ExecType(StrEnum):
    """ExecType(150), FIX 4.4 values (fills are F = Trade; 1/2 exist only in FIX 4.2)."""

    NEW = "0"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    RESTATED = "D"
    PENDING_REPLACE = "E"
    TRADE = "F"
    TRADE_CORRECT = "G"
    TRADE_CANCEL = "H"
    ORDER_STATUS = "I"


class MsgType:
    """MsgType(35) values the gateway sends or handles."""

    HEARTBEAT = "0"
    REJECT = "3"
    LOGOUT = "5"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    LOGON = "A"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_STATUS_REQUEST = "H"
    MARKET_DATA_REQUEST = "V"
    MARKET_DATA_SNAPSHOT = "W"
    MARKET_DATA_INCREMENTAL = "X"
    MARKET_DATA_REQUEST_REJECT = "Y"
    BUSINESS_MESSAGE_REJECT = "j"


class BusinessRejectReason:
    """BusinessRejectReason(380) values."""

    OTHER = "0"
    UNKNOWN_ID = "1"
    UNKNOWN_SECURITY = "2"
    UNSUPPORTED_MESSAGE_TYPE = "3"
    APPLICATION_NOT_AVAILABLE = "4"
    CONDITIONALLY_REQUIRED_FIELD_MISSING = "5"
