"""Pure values shared by the gateway's stages: no I/O, no quickfix."""
