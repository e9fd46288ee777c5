"""Property: failures, dead-letter moves and redrives never lose or duplicate a message.

A RuleBasedStateMachine drives a source queue with a DLQ through receives that fail
(or succeed and delete), clock advances, and message move tasks that redrive the
DLQ back in random steps. After every step each message sent and not yet deleted
is live exactly once, in the source or in the DLQ, and a deleted one nowhere.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from eventbus._core._broker import Broker
from eventbus._core._ids import CountingIds
from eventbus._core._move import MoveTaskRecord
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings, RedriveRule

RETENTION = 1_209_600


class RedriveMachine(RuleBasedStateMachine):
    """A source queue, its DLQ and move tasks, against a set of live bodies."""

    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.now = 1_000_000.0
        self.sent = 0
        self.deleted: set[str] = set()
        self.task: MoveTaskRecord | None = None

    @initialize(max_receive_count=st.integers(1, 3), visibility_timeout=st.sampled_from([0, 5, 30]))
    def create(self, max_receive_count: int, visibility_timeout: int) -> None:
        """Create the DLQ and the source queue."""
        self.broker = Broker(region="us-east-1", ids=CountingIds())
        self.dlq: QueueMachine = self.broker.create_queue(
            "dlq", QueueSettings(message_retention_period=RETENTION), now=self.now
        )
        self.source: QueueMachine = self.broker.create_queue(
            "source",
            QueueSettings(
                visibility_timeout=visibility_timeout,
                message_retention_period=RETENTION,
                redrive_policy=RedriveRule(self.dlq.arn, max_receive_count),
            ),
            now=self.now,
        )

    @rule()
    def send(self) -> None:
        """Send a message with a new, unique body."""
        self.sent += 1
        self.source.send(f"body-{self.sent}", now=self.now)

    @rule(target=handles, max_messages=st.integers(1, 10))
    def receive(self, max_messages: int) -> list[str]:
        """Receive from the source (moving messages past their count to the DLQ)."""
        received = self.broker.receive(self.source, now=self.now, max_messages=max_messages)
        note(f"received {[m.body for m in received]}")
        return [f"{m.receipt_handle}|{m.body}" for m in received]

    @rule(handles=consumes(handles), succeed=st.lists(st.booleans(), min_size=10, max_size=10))
    def handle(self, handles: list[str], succeed: list[bool]) -> None:
        """Delete the messages whose handler succeeded; the others fail (left in flight)."""
        for entry, ok in zip(handles, succeed, strict=False):
            handle, body = entry.split("|", 1)
            if ok and self.source.delete(handle, now=self.now):
                self.deleted.add(body)

    @rule(seconds=st.integers(0, 60))
    def advance(self, seconds: int) -> None:
        """Let time pass (visibility timeouts run out)."""
        self.now += seconds

    @precondition(lambda self: self.task is None or not self.task.running)
    @rule()
    def start_redrive(self) -> None:
        """Start a move task back to the source if the DLQ has messages."""
        if self.dlq.counts(now=self.now).visible:
            self.task = self.broker.start_move_task(self.dlq, now=self.now)

    @precondition(lambda self: self.task is not None and self.task.running)
    @rule(limit=st.integers(1, 10))
    def move_step(self, limit: int) -> None:
        """Let the running move task move up to ``limit`` messages."""
        assert self.task is not None
        self.broker.move_messages(self.task, now=self.now, limit=limit)

    @invariant()
    def each_message_is_live_once_or_deleted(self) -> None:
        """Every body sent is live exactly once (source or DLQ) or deleted, never both."""
        if not hasattr(self, "source"):
            return
        live = Counter(
            m.body
            for queue in (self.source, self.dlq)
            for m in queue.peek(now=self.now, max_messages=100_000)
        )
        assert [] == [body for body, count in live.items() if count > 1]
        assert set() == set(live) & self.deleted
        assert {f"body-{n}" for n in range(1, self.sent + 1)} == set(live) | self.deleted
        self.source.check_invariants()
        self.dlq.check_invariants()


TestRedrive = RedriveMachine.TestCase
