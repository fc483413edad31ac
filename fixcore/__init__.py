"""What the gateway and the simulator share, and nothing of either: the FIX 4.4 vocabulary
(enumerations with their wire values), UTC timestamps, secret masking, owner-only files.

Both `gateway` and `simulator` import it; it imports neither (the import contracts in
pyproject.toml, checked by `make lint`). Each side keeps its own rules on top: which order
statuses are final for the gateway's order manager is the gateway's business, and the venue's
the simulator's.
"""
