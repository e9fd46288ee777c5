"""The default store: state lives in the machines only, and goes with the process."""

from __future__ import annotations

from typing import Protocol

from .._core._broker import Broker
from .._core._changes import Changes


class Store(Protocol):
    """Where a bus keeps its state.

    ``durable`` stores are handed the core's :class:`Changes` after every operation;
    :meth:`open` loads what they kept when the bus opens.
    """

    durable: bool
    group_commit: bool
    """Commit from a background task, so that concurrent calls share a commit."""

    def open(self, broker: Broker, now: float) -> None:
        """Load the kept state into ``broker``."""

    def commit(self, changes: Changes, broker: Broker) -> None:
        """Keep ``changes`` (the caller clears them afterwards)."""

    def close(self) -> None:
        """Release the store's resources."""


class MemoryStore:
    """Keep nothing beyond the process: the fastest store, and the default."""

    durable = False
    group_commit = False

    def open(self, broker: Broker, now: float) -> None:
        """Nothing to load."""

    def commit(self, changes: Changes, broker: Broker) -> None:
        """Nothing to keep."""

    def close(self) -> None:
        """Nothing to release."""
