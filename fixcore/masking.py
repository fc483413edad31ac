"""Secrets out of every FIX text a person or a file will see: Password(554), NewPassword(925)
and RawData(96) (which some venues use for credentials) become ***. Used by the gateway's and
the simulator's message logs and quarantine rows alike."""

from __future__ import annotations

import re
from typing import Final

SECRET_TAGS: Final = ("554", "925", "96")
_SECRET_FIELDS: Final = re.compile(r"(^|\x01)(554|925|96)=[^\x01]*")


def mask_secrets(text: str) -> str:
    """The raw FIX string with the values of the secret tags replaced by ***."""
    if "554=" not in text and "925=" not in text and "96=" not in text:
        return text  # nearly every message: skip the regular expression
    return _SECRET_FIELDS.sub(lambda match: f"{match.group(1)}{match.group(2)}=***", text)
