"""Where identifiers come from: an injected source, so runs can be replayed."""

from __future__ import annotations

from typing import Protocol


class IdSource(Protocol):
    """Makes the identifiers the core hands out.

    The runtime's default draws random UUIDs; tests inject :class:`CountingIds` so
    that a failing run can be replayed exactly.
    """

    def message_id(self) -> str:
        """A new message, subscription or task id (at most 100 characters)."""
        ...

    def token(self) -> str:
        """A new opaque token, used to make receipt handles unguessable."""
        ...


class CountingIds:
    """Deterministic, UUID-shaped identifiers: 1, 2, 3, ... in a UUID's clothes."""

    __slots__ = ("_count",)

    def __init__(self, start: int = 0) -> None:
        self._count = start

    def message_id(self) -> str:
        """The next id, shaped like a UUID (``00000000-0000-4000-8000-000000000001``)."""
        self._count += 1
        return f"00000000-0000-4000-8000-{self._count:012x}"

    def token(self) -> str:
        """The next token (a hex counter)."""
        self._count += 1
        return f"{self._count:016x}"
