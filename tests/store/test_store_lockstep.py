"""The stores agree: the same operations on a memory broker and on an SQLite-backed
broker (restarted at random points) give the same answers."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from eventbus import EventBusError, SqliteStore
from eventbus._core._broker import Broker
from eventbus._core._ids import CountingIds
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings, RedriveRule

T0 = 1_767_225_600.0


def outcome(call: object) -> object:
    """A call's result, or its error code, so both stores can be compared."""
    try:
        return call() if callable(call) else call
    except EventBusError as error:
        return ("error", error.code)


class Lockstep(RuleBasedStateMachine):
    """Memory and SQLite brokers driven side by side."""

    handles = Bundle("handles")

    @initialize(
        fifo=st.booleans(),
        max_receive_count=st.integers(1, 3),
        visibility_timeout=st.sampled_from([0, 10, 30]),
    )
    def create(self, fifo: bool, max_receive_count: int, visibility_timeout: int) -> None:
        """Create a queue with a DLQ in both brokers."""
        self.now = T0
        self.fifo = fifo
        self.directory = Path(tempfile.mkdtemp())
        self.memory = Broker(region="us-east-1", ids=CountingIds())
        self.ids = CountingIds()
        self.store = SqliteStore(self.directory / "bus.db")
        self.durable = Broker(region="us-east-1", ids=self.ids, durable=True)
        self.store.open(self.durable, self.now)
        suffix = ".fifo" if fifo else ""
        for broker in (self.memory, self.durable):
            dlq = broker.create_queue(f"dlq{suffix}", QueueSettings(fifo_queue=fifo), now=self.now)
            broker.create_queue(
                f"q{suffix}",
                QueueSettings(
                    fifo_queue=fifo,
                    content_based_deduplication=fifo,
                    visibility_timeout=visibility_timeout,
                    redrive_policy=RedriveRule(dlq.arn, max_receive_count),
                ),
                now=self.now,
            )
        self.commit()

    def teardown(self) -> None:
        """Close the database and remove its directory."""
        if hasattr(self, "store"):
            self.store.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def commit(self) -> None:
        """What the runtime does after each operation."""
        changes = self.durable.changes
        assert changes is not None
        self.store.commit(changes, self.durable)
        changes.clear()

    def queues(self, name: str) -> tuple[QueueMachine, QueueMachine]:
        """The same queue in both brokers."""
        name += ".fifo" if self.fifo else ""
        return self.memory.queue(name), self.durable.queue(name)

    def both(self, name: str, operation: str, **arguments: object) -> object:
        """Run one operation on both and check they answer the same."""
        answers = []
        for queue in self.queues(name):
            method = getattr(queue, operation)
            answers.append(outcome(lambda method=method: method(**arguments)))
        self.commit()
        note(f"{operation}{arguments} -> {answers[0]!r}")
        assert answers[0] == answers[1]
        return answers[0]

    @rule(body=st.sampled_from(["a", "b", "c", "d"]), group=st.sampled_from(["g1", "g2"]))
    def send(self, body: str, group: str) -> None:
        """Send (FIFO: to a group, deduplicated by content)."""
        extra: dict[str, object] = {"message_group_id": group} if self.fifo else {}
        self.both("q", "send", body=body, now=self.now, **extra)

    @rule(target=handles, max_messages=st.integers(1, 10), zero=st.booleans())
    def receive(self, max_messages: int, zero: bool) -> str:
        """Receive from both (DLQ moves included) and compare."""
        memory_queue, durable_queue = self.queues("q")
        results = [
            broker.receive(
                queue,
                now=self.now,
                max_messages=max_messages,
                visibility_timeout=0 if zero else None,
            )
            for broker, queue in ((self.memory, memory_queue), (self.durable, durable_queue))
        ]
        self.commit()
        assert results[0] == results[1]
        return results[0][0].receipt_handle if results[0] else "no-handle"

    @rule(handle=handles)
    def delete(self, handle: str) -> None:
        """Delete with a handle (stale or not) on both."""
        if handle != "no-handle":
            self.both("q", "delete", receipt_handle=handle, now=self.now)

    @rule(handle=handles, timeout=st.sampled_from([0, 5, 60]))
    def change_visibility(self, handle: str, timeout: int) -> None:
        """Change visibility on both."""
        if handle != "no-handle":
            self.both(
                "q",
                "change_visibility",
                receipt_handle=handle,
                visibility_timeout=timeout,
                now=self.now,
            )

    @rule()
    def purge(self) -> None:
        """Purge both (PurgeQueueInProgress alike)."""
        self.both("q", "purge", now=self.now)

    @rule(seconds=st.integers(0, 120))
    def advance(self, seconds: int) -> None:
        """Let time pass."""
        self.now += seconds

    @precondition(lambda self: hasattr(self, "store"))
    @rule()
    def restart(self) -> None:
        """Close the SQLite broker and load a new one from the database."""
        self.store.close()
        self.store = SqliteStore(self.directory / "bus.db")
        self.durable = Broker(region="us-east-1", ids=self.ids, durable=True)
        self.store.open(self.durable, self.now)

    @invariant()
    def same_contents(self) -> None:
        """Both hold the same messages in the same states."""
        if not hasattr(self, "store"):
            return
        for name in ("q", "dlq"):
            memory_queue, durable_queue = self.queues(name)
            assert memory_queue.counts(now=self.now) == durable_queue.counts(now=self.now)
            assert memory_queue.peek(now=self.now, max_messages=1000) == durable_queue.peek(
                now=self.now, max_messages=1000
            )
        self.commit()


TestLockstep = Lockstep.TestCase
# Every step commits to SQLite: fewer, longer runs than the default profile.
TestLockstep.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
