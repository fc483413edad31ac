"""Order sources other than the decision path: the built-in strategy the gateway runs without a
[decision] table."""
