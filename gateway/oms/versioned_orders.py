"""Live orders by order key, with a version that moves on every change: a view built from them
(the decision path's working orders) stays valid, and can be handed out again, until it moves."""

from __future__ import annotations

from typing import Any

from gateway.domain.orders import Order


class VersionedOrders(dict[str, Order]):
    """Live orders by order key. `version` moves on every change, so a view built from the
    orders (`working_orders`) stays valid, and can be handed out again, until it moves."""

    __slots__ = ("version",)

    def __init__(self) -> None:
        super().__init__()
        self.version = 0

    def __setitem__(self, key: str, value: Order) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Order]:
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self.version += 1

    def setdefault(self, key: str, default: Order) -> Order:
        self.version += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.version += 1

    def __ior__(self, other: Any) -> Any:  # type: ignore[misc]
        self.update(other)
        return self
