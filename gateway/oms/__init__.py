"""Order management: submit/cancel/replace/status, routing, the state table applied to reports."""

from gateway.oms.order_manager import ExecutionOutcome, OrderManager, Route

__all__ = ["ExecutionOutcome", "OrderManager", "Route"]
