"""What the order manager needs from the outside, as protocols (adapters live in gateway/fix
and gateway/telemetry; tests pass recording fakes)."""

from __future__ import annotations

from typing import Protocol

from gateway.domain.commands import OrderCommand
from gateway.domain.orders import Order


class OrderSender(Protocol):
    """The FIX edge as the order manager sees it: it takes commands, not FIX fields."""

    def session_ready(self, session: str) -> bool:
        """The session is logged on and can take application messages now."""
        ...

    def send(self, session: str, command: OrderCommand) -> bool:
        """Hand one command to the FIX engine (encoded there); False if it refused it."""
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
