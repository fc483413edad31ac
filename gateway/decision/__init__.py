"""The decision path: `build_sink(ctx)` gives the MarketDataSink the gateway hands W/X/Y to.

`gateway.app` calls `build_sink(SinkContext(...))` when the gateway TOML has a [decision] table.
The sink is warmed (numba kernels compiled or loaded from cache, the model run once, the tracer
started) before it is returned, so the gateway can log on right after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.decision.config import DecisionConfigError, decision_table_default, load_decision_config

if TYPE_CHECKING:
    from gateway.decision.sink import DecisionSink
    from gateway.domain.ports import SinkContext

__all__ = ["DecisionConfigError", "build_sink", "decision_table_default", "load_decision_config"]


def build_sink(ctx: SinkContext) -> DecisionSink:
    """Validate ctx.decision_table (DecisionConfigError names a bad key), then build, warm and
    start the sink. Imported lazily so `fixgw sim` never pays for numba or onnxruntime."""
    from gateway.decision.sink import open_sink

    config = load_decision_config(dict(ctx.decision_table), list(ctx.symbols))
    return open_sink(ctx, config)


def __getattr__(name: str) -> Any:
    if name == "DecisionSink":
        from gateway.decision.sink import DecisionSink

        return DecisionSink
    raise AttributeError(name)
