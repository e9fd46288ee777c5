"""In which order a queue hands out its visible messages: standard or FIFO.

The queue machine owns every state change; an order only keeps the index that
decides which visible message a receive takes next. The machine tells it about
new records (:meth:`enqueued`), records becoming visible (:meth:`became_visible`)
and records reaching a final state (:meth:`removed`), and asks it for
:meth:`candidates`, which it consumes one at a time, receiving or dead-lettering
each before asking for the next.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from typing import Final, Protocol

from ._message import MessageState, StoredMessage

VISIBLE = MessageState.VISIBLE
_FINAL: Final = frozenset(
    {
        MessageState.DELETED,
        MessageState.DEAD_LETTERED,
        MessageState.EXPIRED,
        MessageState.PURGED,
    }
)
_SWEEP_SLACK: Final = 1024


class Order(Protocol):
    """The index of visible messages a queue machine receives from."""

    def enqueued(self, message: StoredMessage) -> None:
        """A new record was inserted (VISIBLE or DELAYED)."""

    def became_visible(self, message: StoredMessage, visible: int) -> None:
        """``message`` became VISIBLE; ``visible`` messages are visible now."""

    def removed(self, message: StoredMessage) -> None:
        """``message`` reached a final state."""

    def candidates(self) -> Iterator[StoredMessage]:
        """Visible messages in delivery order; each must leave VISIBLE before the next."""
        ...

    def restore(self, messages: list[StoredMessage]) -> None:
        """Index records a durable store kept, as they were."""


class StandardOrder:
    """A standard queue's order: messages in the order they became visible.

    A message whose visibility timeout ran out goes to the back, as on SQS (which
    promises only best-effort ordering).
    """

    __slots__ = ("_entries", "_stamp", "_stamping")

    def __init__(self, *, stamp: bool = False) -> None:
        self._entries: deque[tuple[int, StoredMessage]] = deque()
        self._stamp = 0
        self._stamping = stamp
        """Record each message's place in line on it, for a durable store to keep
        (off without one: it costs an int per message)."""

    def enqueued(self, message: StoredMessage) -> None:
        """Queue a new visible message at the back (delayed ones wait)."""
        if message.state is VISIBLE:
            if self._stamping:
                self._stamp += 1
                message.visible_order = self._stamp
            self._entries.append((message.epoch, message))

    def became_visible(self, message: StoredMessage, visible: int) -> None:
        """Queue the message at the back; sweep out stale entries if they pile up."""
        if self._stamping:
            self._stamp += 1
            message.visible_order = self._stamp
        entries = self._entries
        entries.append((message.epoch, message))
        if len(entries) > 2 * visible + _SWEEP_SLACK:
            live = [e for e in entries if e[0] == e[1].epoch]
            entries.clear()
            entries.extend(live)

    def removed(self, message: StoredMessage) -> None:
        """Nothing to do: the message's entry is stale and will be skipped."""

    def restore(self, messages: list[StoredMessage]) -> None:
        """Line the visible records up in the order they became visible."""
        visible = sorted((m for m in messages if m.state is VISIBLE), key=lambda m: m.visible_order)
        self._entries.extend((m.epoch, m) for m in visible)
        self._stamp = max([self._stamp, *(m.visible_order for m in messages)])

    def candidates(self) -> Iterator[StoredMessage]:
        """Visible messages, oldest first."""
        entries = self._entries
        while entries:
            epoch, message = entries.popleft()
            if message.epoch == epoch:
                yield message


class FifoOrder:
    """A FIFO queue's order: per message group in send order, groups oldest first.

    A group is receivable while its head (its oldest live message) is visible; a
    receive takes the visible run from the head of a group, then fills up from the
    next group. While the head is in flight nothing more of the group is handed
    out. Delayed messages are at the back of their group (FIFO delays apply to the
    whole queue), so they never block it.
    """

    __slots__ = ("_groups", "_ready")

    def __init__(self) -> None:
        self._groups: dict[str, deque[StoredMessage]] = {}
        self._ready: list[tuple[int, str]] = []

    def _head(self, group_id: str) -> StoredMessage | None:
        """The group's oldest live message, dropping dead ones from its front."""
        group = self._groups.get(group_id)
        if group is None:
            return None
        while group and group[0].state in _FINAL:
            group.popleft()
        if not group:
            del self._groups[group_id]
            return None
        return group[0]

    def _mark_ready(self, message: StoredMessage) -> None:
        ready = self._ready
        heapq.heappush(ready, (message.seq, message.group_id or ""))
        if len(ready) > 2 * len(self._groups) + _SWEEP_SLACK:
            ready[:] = [
                (head.seq, gid)
                for gid in list(self._groups)
                if (head := self._head(gid)) is not None and head.state is VISIBLE
            ]
            heapq.heapify(ready)

    def enqueued(self, message: StoredMessage) -> None:
        """Append the message to its group; a visible new head makes the group ready."""
        group_id = message.group_id or ""
        group = self._groups.get(group_id)
        if group is None:
            group = self._groups[group_id] = deque()
        if group and group[-1].seq > message.seq:  # only after a retroactive delay change
            position = next(i for i, m in enumerate(group) if m.seq > message.seq)
            group.insert(position, message)
        else:
            group.append(message)
        if message.state is VISIBLE and self._head(group_id) is message:
            self._mark_ready(message)

    def became_visible(self, message: StoredMessage, visible: int) -> None:
        """If the message heads its group, the group is receivable again."""
        if self._head(message.group_id or "") is message:
            self._mark_ready(message)

    def removed(self, message: StoredMessage) -> None:
        """If the message headed its group, the next one may make the group ready."""
        group_id = message.group_id or ""
        group = self._groups.get(group_id)
        if group and group[0] is message:
            head = self._head(group_id)
            if head is not None and head.state is VISIBLE:
                self._mark_ready(head)

    def restore(self, messages: list[StoredMessage]) -> None:
        """Put the records back in their groups, in send order."""
        for message in sorted(messages, key=lambda m: m.seq):
            self.enqueued(message)

    def candidates(self) -> Iterator[StoredMessage]:
        """The visible run of the oldest ready group, then of the next, and so on.

        A run is a group's visible messages from its head on, at most 10 at a time;
        the caller receives or dead-letters each message before it asks for the
        next. A group goes on past its run while the caller takes more: messages
        this receive was handed (now in flight or gone) are stepped over, so
        dead-lettered messages do not use up the 10 a receive may return.
        """
        ready = self._ready
        while ready:
            seq, group_id = heapq.heappop(ready)
            head = self._head(group_id)
            if head is None or head.seq != seq or head.state is not VISIBLE:
                continue  # a stale entry: the group changed since it was marked
            handed: set[int] = set()
            while True:
                run: list[StoredMessage] = []
                for message in self._groups.get(group_id, ()):  # gone once emptied
                    if message.state in _FINAL or id(message) in handed:
                        continue
                    if message.state is not VISIBLE or len(run) == 10:
                        break
                    run.append(message)
                if not run:
                    break
                handed.update(map(id, run))
                yield from run
