"""What changed since the last commit: the seam between the core and a durable store.

The machines record every change of durable state here as they make it (a message
saved or gone, a queue's settings, a purge, a deduplication entry, the topology);
the runtime hands the changes to the store after each operation, and the store
writes them in one transaction. With the in-memory store nothing is recorded.
No semantic code lives in a store: it only keeps what the machines decided.
"""

from __future__ import annotations

from ._message import StoredMessage


class Changes:
    """Durable changes not yet committed."""

    __slots__ = (
        "dedup",
        "messages",
        "move_tasks",
        "purged",
        "queues",
        "removed_queues",
        "tags",
        "topic_dedup",
        "topics",
        "topology",
    )

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (after a commit)."""
        self.messages: dict[str, dict[str, StoredMessage]] = {}
        """queue -> message id -> the record: to save while it is live (delayed,
        visible, in flight), to delete once its state is final (deleted, ...). The
        record, not None, for a deletion too: a store finds the row by the record's
        arrival number, which keeps the rows it touches together."""
        self.queues: set[str] = set()
        """Queues whose settings or counters to save."""
        self.removed_queues: dict[str, float] = {}
        """Queues deleted, with when."""
        self.purged: set[str] = set()
        """Queues whose messages and deduplication history were all dropped."""
        self.dedup: list[tuple[str, str, str, str, str, float]] = []
        """(queue, scope, deduplication id, message id, sequence number, expires at)."""
        self.topic_dedup: list[tuple[str, str, str, str, float]] = []
        """(topic, deduplication id, message id, sequence number, expires at)."""
        self.topics: set[str] = set()
        """Topics whose sequence counter to save."""
        self.topology = False
        """Topics or subscriptions were created, changed or removed."""
        self.move_tasks = False
        """A message move task started, progressed or ended."""
        self.tags: set[str] = set()
        """ARNs of queues and topics whose tags changed."""

    def message(self, queue: str, message_id: str, record: StoredMessage) -> None:
        """Record that a message is to be saved (or deleted, if its state is final)."""
        pending = self.messages.get(queue)
        if pending is None:
            pending = self.messages[queue] = {}
        pending[message_id] = record

    def __bool__(self) -> bool:
        return bool(
            self.messages
            or self.queues
            or self.removed_queues
            or self.purged
            or self.dedup
            or self.topic_dedup
            or self.topics
            or self.topology
            or self.move_tasks
            or self.tags
        )
