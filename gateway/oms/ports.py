"""What the order manager needs from the outside, as protocols (adapters live in gateway/fix
and gateway/telemetry; tests pass recording fakes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.domain.orders import Order

# A FIX message as the order manager builds it: MsgType(35) and body fields in order.
Fields = Sequence[tuple[int, str]]


class OrderSender(Protocol):
    def session_ready(self, session: str) -> bool:
        """The session is logged on and can take application messages now."""
        ...

    def send(self, session: str, msg_type: str, fields: Fields) -> bool:
        """Hand one message to the FIX engine; False if it refused it."""
        ...


class OrderObserver(Protocol):
    """Told about order lifecycles (telemetry spans, progress counters)."""

    def order_submitted(self, order: Order) -> None: ...

    def order_finished(self, order: Order) -> None: ...


class NoObserver:
    def order_submitted(self, order: Order) -> None:
        pass

    def order_finished(self, order: Order) -> None:
        pass
