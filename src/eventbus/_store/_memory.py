"""The default store: state lives in the machines only, and goes with the process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .._core._broker import Broker
from .._core._changes import Changes
from .._core._queue import QueueMachine


class Store(Protocol):
    """Where a bus keeps its state.

    ``durable`` stores are handed the core's :class:`Changes` after every operation;
    :meth:`open` loads what they kept when the bus opens. A commit that fails
    raises (an ``EventBusError``, ``StoreUnavailable`` for the SQLite store), and
    the bus then calls :meth:`rollback` so that the state is as the store keeps it.
    """

    durable: bool
    group_commit: bool
    """Commit from a background task, so that concurrent calls share a commit."""
    saved_time: float | None
    """The latest bus time the kept state holds (known once the store is open)."""

    def open(self, broker: Broker, now: float) -> None:
        """Load the kept state into ``broker``."""

    def commit(self, changes: Changes, broker: Broker, now: float | None = None) -> None:
        """Keep ``changes`` (the caller clears them afterwards), made at bus time ``now``."""

    def rollback(
        self,
        changes: Changes,
        broker: Broker,
        now: float,
        *,
        dropped: Mapping[str, QueueMachine] | None = None,
    ) -> None:
        """Put back in ``broker`` what ``changes`` (a failed commit) touched, as kept."""

    def close(self) -> None:
        """Release the store's resources."""


class MemoryStore:
    """Keep nothing beyond the process: the fastest store, and the default."""

    durable = False
    group_commit = False
    saved_time: float | None = None

    def open(self, broker: Broker, now: float) -> None:
        """Nothing to load."""

    def commit(self, changes: Changes, broker: Broker, now: float | None = None) -> None:
        """Nothing to keep."""

    def rollback(
        self,
        changes: Changes,
        broker: Broker,
        now: float,
        *,
        dropped: Mapping[str, QueueMachine] | None = None,
    ) -> None:
        """Nothing was kept, so nothing can fail to be."""

    def close(self) -> None:
        """Nothing to release."""
