"""Transaction-cost analysis: slippage of fills against the decision and arrival mids."""
