"""The `fixgw` command line and the demo: above both the gateway and the simulator, the only
code that knows them both (the import contracts in pyproject.toml keep it so)."""
