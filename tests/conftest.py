"""Settings shared by the whole test tree.

Hypothesis: no per-example deadline (the machine is shared and a GC pause is not a bug) and the
failing example's reproduction blob printed, so a property failure seen once can be replayed.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("fixgw", deadline=None, print_blob=True)
settings.load_profile("fixgw")
