"""The default identifier source: random UUIDs, as AWS hands out."""

from __future__ import annotations

import uuid


class UuidIds:
    """Random version-4 UUIDs for ids, random hex for receipt-handle tokens."""

    __slots__ = ()

    def message_id(self) -> str:
        """A new random UUID."""
        return str(uuid.uuid4())

    def token(self) -> str:
        """32 random hex digits."""
        return uuid.uuid4().hex
