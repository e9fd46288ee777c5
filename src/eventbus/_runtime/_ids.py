"""The default identifier source: random, UUID-shaped ids, as AWS hands out."""

from __future__ import annotations

import os
import random


class UuidIds:
    """Random version-4 UUID strings for ids, random hex for receipt-handle tokens.

    They come from a pseudo-random generator seeded from the operating system once,
    not from ``os.urandom`` per id: about ten times cheaper, unique in practice, and
    not meant to be unguessable (receipt handles here are no security boundary).
    """

    __slots__ = ("_bits",)

    def __init__(self) -> None:
        self._bits = random.Random(os.urandom(32)).getrandbits

    def message_id(self) -> str:
        """A new random UUID (version 4, RFC 4122 variant)."""
        h = f"{self._bits(128) & ~(0xF << 76) & ~(0x3 << 62) | (0x4 << 76) | (0x2 << 62):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def token(self) -> str:
        """32 random hex digits."""
        return f"{self._bits(128):032x}"
