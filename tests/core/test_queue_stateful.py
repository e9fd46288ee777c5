"""A source queue with a dead-letter queue, driven by hypothesis against a plain reference model.

The model is a dict of message records scanned in O(n): where each message is
(delayed, visible, in flight, deleted, dead-lettered, expired, purged), when its
delay or visibility ends, when it was enqueued and how often it was received.
Time-driven changes are computed from ``now`` on every look, never stored ahead.

Where SQS leaves a choice open (which visible messages a receive picks) the model
checks that the machine's choice is a legal one instead of predicting it.
"""

from __future__ import annotations

from dataclasses import dataclass

import hypothesis.strategies as st
from hypothesis import note, target
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from eventbus._core._batch import SendBatchEntry
from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._events import MessageDeadLettered
from eventbus._core._ids import CountingIds
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import MAX_VISIBILITY_TIMEOUT, QueueSettings, RedriveRule

T0 = 1_767_225_600
PURGE_INTERVAL = 60
MAX_LIVE = 5
"""Sends stop while this many messages are live, so the same messages come back often."""

DELAYED = "delayed"
VISIBLE = "visible"
IN_FLIGHT = "in_flight"
DELETED = "deleted"
DEAD_LETTERED = "dead_lettered"
EXPIRED = "expired"
PURGED = "purged"
LIVE = frozenset({DELAYED, VISIBLE, IN_FLIGHT})
PLACES = (DELAYED, VISIBLE, IN_FLIGHT, DELETED, DEAD_LETTERED, EXPIRED, PURGED)


@dataclass
class Record:
    """The model's view of one message in the source queue."""

    message_id: str
    body: str
    place: str
    enqueued_at: int
    available_at: int
    """When a delay or a visibility timeout ends."""
    receive_count: int = 0
    received_at: int | None = None


@dataclass
class DeadRecord:
    """The model's view of one message in the dead-letter queue."""

    message_id: str
    body: str
    enqueued_at: int
    receive_count: int
    expired: bool = False


@dataclass(frozen=True)
class Handle:
    """A receipt handle, with the message it names and the receive that made it."""

    receipt_handle: str
    message_id: str
    receive_number: int


delays = st.one_of(st.none(), st.just(0), st.integers(0, 150), st.just(900))
visibility_overrides = st.one_of(st.sampled_from([0, 1, 10, 30, 75, 150]), st.integers(0, 150))


class QueueMachineRules(RuleBasedStateMachine):
    """Source queue + DLQ through the Broker, step for step against the model."""

    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.model: dict[str, Record] = {}
        self.dead: dict[str, DeadRecord] = {}
        self.issued: list[Handle] = []
        self.last_purge: int | None = None
        self.receives = 0
        self.highest_count: dict[str, int] = {}
        self.counter = 0
        # What the run exercised, for the targets in teardown.
        self.expired_hidden = {IN_FLIGHT: 0, DELAYED: 0}
        self.stale_deletes = 0
        self.dlq_deliveries = 0
        self.dlq_peak = 0

    # ---------------------------------------------------------------- the model

    def place(self, record: Record) -> str:
        """Where the message is at ``self.now``, time-driven changes applied."""
        if record.place not in LIVE:
            return record.place
        if record.enqueued_at + self.retention <= self.now:
            return EXPIRED
        if record.place in (DELAYED, IN_FLIGHT) and record.available_at <= self.now:
            return VISIBLE
        return record.place

    def settle(self) -> None:
        """Write the time-driven changes into the records."""
        for record in self.model.values():
            place = self.place(record)
            hidden = record.place in self.expired_hidden and record.available_at > self.now
            if place == EXPIRED and hidden:
                self.expired_hidden[record.place] += 1
            record.place = place
        for dead in self.dead.values():
            if dead.enqueued_at + self.dlq_retention <= self.now:
                dead.expired = True

    def tally(self) -> dict[str, int]:
        """How many source messages are in each place."""
        self.settle()
        out = dict.fromkeys(PLACES, 0)
        for record in self.model.values():
            out[record.place] += 1
        return out

    def live_count(self) -> int:
        """How many source messages are still in the queue (any live place)."""
        return sum(self.place(record) in LIVE for record in self.model.values())

    def add(self, message_id: str, body: str, delay: int | None) -> None:
        """Record a message the machine accepted."""
        effective = self.queue_delay if delay is None else delay
        self.model[message_id] = Record(
            message_id,
            body,
            DELAYED if effective else VISIBLE,
            enqueued_at=self.now,
            available_at=self.now + effective,
        )

    def next_body(self) -> str:
        """A fresh, recognisable body."""
        self.counter += 1
        return f"body-{self.counter}"

    # -------------------------------------------------------------------- setup

    @initialize(
        max_receive_count=st.integers(1, 5),
        visibility_timeout=st.sampled_from([0, 1, 10, 30, 90]),
        delay=st.sampled_from([0, 0, 0, 3, 45]),
        retention=st.sampled_from([60, 300, 345_600, 345_600]),
        dlq_retention=st.sampled_from([120, 600, 345_600, 345_600]),
        purges=st.booleans(),
    )
    def setup(
        self,
        max_receive_count: int,
        visibility_timeout: int,
        delay: int,
        retention: int,
        dlq_retention: int,
        purges: bool,
    ) -> None:
        """Create the DLQ and the source queue from drawn attributes.

        Half the runs never purge, so that long message histories build up.
        """
        self.purges = purges
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.queue_delay = delay
        self.retention = retention
        self.dlq_retention = dlq_retention
        self.broker = Broker(region="us-east-1", ids=CountingIds())
        self.dlq: QueueMachine = self.broker.create_queue(
            "dlq", QueueSettings(message_retention_period=dlq_retention), now=self.now
        )
        self.source: QueueMachine = self.broker.create_queue(
            "source",
            QueueSettings(
                visibility_timeout=visibility_timeout,
                delay_seconds=delay,
                message_retention_period=retention,
                redrive_policy=RedriveRule(self.dlq.arn, max_receive_count),
            ),
            now=self.now,
        )
        note(
            f"maxReceiveCount={max_receive_count} visibility={visibility_timeout} "
            f"delay={delay} retention={retention} dlq_retention={dlq_retention} purges={purges}"
        )

    # -------------------------------------------------------------------- rules

    @precondition(lambda self: self.live_count() < MAX_LIVE)
    @rule(delay=delays)
    def send(self, delay: int | None) -> None:
        """SendMessage, with or without its own delay."""
        body = self.next_body()
        result = self.source.send(body, now=self.now, delay_seconds=delay)
        note(f"t+{self.now - T0}: send {result.message_id} delay={delay}")

        assert result.message_id not in self.model
        self.add(result.message_id, body, delay)

    @precondition(lambda self: self.live_count() < MAX_LIVE)
    @rule(delays_=st.lists(delays, min_size=1, max_size=10))
    def send_batch(self, delays_: list[int | None]) -> None:
        """SendMessageBatch of 1-10 valid entries: all succeed, in order."""
        bodies = [self.next_body() for _ in delays_]
        entries = [
            SendBatchEntry(f"e{i}", body, delay_seconds=delay)
            for i, (body, delay) in enumerate(zip(bodies, delays_, strict=True))
        ]

        result = self.source.send_batch(entries, now=self.now)
        note(f"t+{self.now - T0}: send_batch {[e.message_id for e in result.successful]}")

        assert [] == result.failed
        assert [e.id for e in entries] == [e.id for e in result.successful]
        for entry, body, delay in zip(result.successful, bodies, delays_, strict=True):
            assert entry.message_id not in self.model
            self.add(entry.message_id, body, delay)

    @rule(target=handles, max_messages=st.integers(1, 10))
    def receive(self, max_messages: int) -> object:
        """ReceiveMessage with the queue's visibility timeout."""
        return self.check_receive(max_messages, None)

    @rule(target=handles, max_messages=st.integers(1, 10), visibility=visibility_overrides)
    def receive_overriding_visibility(self, max_messages: int, visibility: int) -> object:
        """ReceiveMessage with its own VisibilityTimeout (0 included)."""
        return self.check_receive(max_messages, visibility)

    def check_receive(self, max_messages: int, visibility: int | None) -> object:
        """Receive: a legal choice of messages; only exhausted ones move to the DLQ."""
        self.settle()
        visible = [r for r in self.model.values() if r.place == VISIBLE]
        eligible = {r.message_id for r in visible if r.receive_count < self.max_receive_count}
        exhausted = {r.message_id for r in visible if r.receive_count >= self.max_receive_count}
        events_before = len(self.broker.events)

        got = self.broker.receive(
            self.source, now=self.now, max_messages=max_messages, visibility_timeout=visibility
        )
        moved = [
            e.message_id
            for e in self.broker.events[events_before:]
            if isinstance(e, MessageDeadLettered)
        ]
        note(
            f"t+{self.now - T0}: receive max={max_messages} vt={visibility} -> "
            f"{[(m.message_id, m.receive_count) for m in got]} moved={moved}"
        )

        assert min(max_messages, len(eligible)) == len(got)
        assert len(got) == len({m.message_id for m in got})
        assert {m.message_id for m in got} <= eligible
        assert set(moved) <= exhausted
        if len(eligible) < max_messages:
            # The receive ran out of messages before filling up: it saw every one.
            assert exhausted == set(moved)
        timeout = self.visibility_timeout if visibility is None else visibility
        out = []
        for message in got:
            record = self.model[message.message_id]
            assert message.receive_count > record.receive_count
            record.receive_count += 1
            record.place = IN_FLIGHT
            record.available_at = self.now + timeout
            record.received_at = self.now
            self.receives += 1
            assert (record.receive_count, str(record.receive_count), record.body) == (
                message.receive_count,
                message.attributes["ApproximateReceiveCount"],
                message.body,
            )
            out.append(Handle(message.receipt_handle, message.message_id, record.receive_count))
        self.issued.extend(out)
        for message_id in moved:
            record = self.model[message_id]
            assert self.max_receive_count == record.receive_count
            record.place = DEAD_LETTERED
            self.dead[message_id] = DeadRecord(
                message_id, record.body, record.enqueued_at, record.receive_count
            )
        return multiple(*out)

    @rule(handle=consumes(handles))
    def delete(self, handle: Handle) -> None:
        """DeleteMessage with any handle the queue issued: deletes a live message."""
        self.check_delete(handle)

    def older_handles(self) -> list[Handle]:
        """Handles of live messages that were received again after the handle was issued."""
        return [
            handle
            for handle in self.issued
            if self.place(record := self.model[handle.message_id]) in LIVE
            and handle.receive_number < record.receive_count
        ]

    @precondition(lambda self: bool(self.older_handles()))
    @rule(data=st.data())
    def delete_with_an_older_handle(self, data: st.DataObject) -> None:
        """DeleteMessage through a handle older than the latest receive still deletes."""
        self.check_delete(data.draw(st.sampled_from(self.older_handles()), label="older handle"))

    def check_delete(self, handle: Handle) -> None:
        """Delete through ``handle``: True and gone if the message was live, else False."""
        self.settle()
        record = self.model[handle.message_id]
        expected = record.place in LIVE

        deleted = self.source.delete(handle.receipt_handle, now=self.now)
        note(f"t+{self.now - T0}: delete {handle.message_id}#{handle.receive_number} -> {deleted}")

        assert expected == deleted
        if deleted and handle.receive_number < record.receive_count:
            self.stale_deletes += 1
        if deleted:
            record.place = DELETED
        before = self.tally()

        again = self.source.delete(handle.receipt_handle, now=self.now)

        assert (False, before) == (again, self.tally()), "a second delete must change nothing"

    @rule(
        handle=handles,
        timeout=st.one_of(st.integers(0, 150), st.just(MAX_VISIBILITY_TIMEOUT)),
    )
    def change_visibility(self, handle: Handle, timeout: int) -> None:
        """ChangeMessageVisibility from the call's time, capped 12 h after the receive."""
        self.settle()
        record = self.model[handle.message_id]
        if record.place not in LIVE:
            expected_error: str | None = "InvalidParameterValue"
        else:
            assert record.received_at is not None
            over_cap = self.now + timeout > record.received_at + MAX_VISIBILITY_TIMEOUT
            expected_error = "InvalidParameterValue" if over_cap else None

        error: str | None = None
        try:
            self.source.change_visibility(handle.receipt_handle, timeout, now=self.now)
        except EventBusError as caught:
            error = caught.code
        note(
            f"t+{self.now - T0}: change_visibility {handle.message_id}#{handle.receive_number} "
            f"{timeout} -> {error}"
        )

        assert expected_error == error
        if error is None:
            if timeout == 0:
                record.place = VISIBLE
            else:
                record.place = IN_FLIGHT
                record.available_at = self.now + timeout

    @precondition(
        lambda self: (
            self.purges
            and (self.last_purge is None or self.now - self.last_purge >= PURGE_INTERVAL)
        )
    )
    @rule()
    def purge(self) -> None:
        """PurgeQueue removes every live message, in flight and delayed ones included."""
        live = self.tally()
        expected = live[VISIBLE] + live[IN_FLIGHT] + live[DELAYED]

        purged = self.source.purge(now=self.now)
        note(f"t+{self.now - T0}: purge -> {purged}")

        assert expected == purged
        for record in self.model.values():
            if record.place in LIVE:
                record.place = PURGED
        self.last_purge = self.now

    @precondition(
        lambda self: self.last_purge is not None and self.now - self.last_purge < PURGE_INTERVAL
    )
    @rule()
    def purge_too_soon(self) -> None:
        """A purge within 60 s of the last is PurgeQueueInProgress and changes nothing."""
        before = self.tally()
        error: str | None = None

        try:
            self.source.purge(now=self.now)
        except EventBusError as caught:
            error = caught.code
        note(f"t+{self.now - T0}: purge too soon -> {error}")

        assert ("PurgeQueueInProgress", before) == (error, self.tally())

    def dlq_waiting(self) -> set[str]:
        """The moved messages the DLQ still holds (standard DLQ: retention from the send)."""
        return {
            d.message_id
            for d in self.dead.values()
            if d.enqueued_at + self.dlq_retention > self.now
        }

    @precondition(lambda self: bool(self.dlq_waiting()))
    @rule()
    def receive_from_dlq(self) -> None:
        """The DLQ hands out moved messages with their count kept and the source ARN added."""
        self.settle()
        waiting = self.dlq_waiting()

        got = self.broker.receive(self.dlq, now=self.now, max_messages=10, visibility_timeout=0)
        note(f"t+{self.now - T0}: receive dlq -> {[m.message_id for m in got]}")

        assert min(10, len(waiting)) == len(got)
        for message in got:
            assert message.message_id in waiting
            dead = self.dead[message.message_id]
            dead.receive_count += 1
            self.dlq_deliveries += 1
            assert (dead.body, dead.receive_count, self.source.arn) == (
                message.body,
                message.receive_count,
                message.attributes["DeadLetterQueueSourceArn"],
            )

    @rule(seconds=st.integers(0, 120))
    def advance(self, seconds: int) -> None:
        """Let time pass."""
        self.now += seconds
        note(f"advance {seconds} -> t+{self.now - T0}")

    def teardown(self) -> None:
        """Steer generation towards runs that take the rarer paths, each on its own.

        The paths: DLQ moves (weighted by the receive limit, so that high limits are
        reached too), expiry of in-flight and of delayed messages, deletes through
        an older handle, messages waiting in and received from the DLQ.
        """
        if hasattr(self, "source"):
            target(float(len(self.dead) * self.max_receive_count), label="dead-letter moves")
            target(float(self.expired_hidden[IN_FLIGHT]), label="in-flight expiries")
            target(float(self.expired_hidden[DELAYED]), label="delayed expiries")
            target(float(self.stale_deletes), label="deletes through an older handle")
            target(float(self.dlq_peak + self.dlq_deliveries), label="DLQ messages seen")

    # --------------------------------------------------------------- invariants

    @invariant()
    def machines_are_self_consistent(self) -> None:
        """Both queues' counters agree with their own records."""
        self.source.check_invariants()
        self.dlq.check_invariants()

    @invariant()
    def source_counts_match_the_model(self) -> None:
        """Every message is in exactly one place, the same one in the machine and the model."""
        tally = self.tally()
        stats = self.source.counts(now=self.now)

        assert tally == {
            DELAYED: stats.delayed,
            VISIBLE: stats.visible,
            IN_FLIGHT: stats.in_flight,
            DELETED: stats.deleted,
            DEAD_LETTERED: stats.dead_lettered,
            EXPIRED: stats.expired,
            PURGED: stats.purged,
        }
        assert (len(self.model), self.receives) == (stats.sent, stats.received)
        assert tally[VISIBLE] + tally[IN_FLIGHT] + tally[DELAYED] == self.source.message_count

    @invariant()
    def each_message_is_where_the_model_says(self) -> None:
        """Message by message: the same live messages, in the same state, same receive count."""
        self.settle()
        live = {m: (r.place, r.receive_count) for m, r in self.model.items() if r.place in LIVE}
        waiting = {m: d.receive_count for m, d in self.dead.items() if not d.expired}
        self.dlq_peak = max(self.dlq_peak, len(waiting))

        in_source = self.source.peek(now=self.now, max_messages=len(live) + 1)
        in_dlq = self.dlq.peek(now=self.now, max_messages=len(waiting) + 1)

        assert live == {m.message_id: (m.state, m.receive_count) for m in in_source}
        assert waiting == {m.message_id: m.receive_count for m in in_dlq}
        assert [self.source.arn] * len(in_dlq) == [
            m.attributes.get("DeadLetterQueueSourceArn") for m in in_dlq
        ]

    @invariant()
    def receive_counts_never_go_back(self) -> None:
        """No message's receive count ever decreases, in the source or after the DLQ move."""
        seen = self.source.peek(now=self.now, max_messages=len(self.model) + 1)
        seen += self.dlq.peek(now=self.now, max_messages=len(self.dead) + 1)

        for message in seen:
            previous = self.highest_count.get(message.message_id, 0)
            assert message.receive_count >= previous, (message.message_id, previous)
            self.highest_count[message.message_id] = message.receive_count

    @invariant()
    def nothing_sent_is_unaccounted_for(self) -> None:
        """The places of the machine's counters add up to every message sent."""
        stats = self.source.counts(now=self.now)

        assert len(self.model) == stats.sent
        assert stats.sent == (
            stats.total + stats.deleted + stats.dead_lettered + stats.expired + stats.purged
        )

    @invariant()
    def dlq_holds_exactly_the_exhausted_messages(self) -> None:
        """Only messages received maxReceiveCount times reach the DLQ, and all of them stay."""
        self.settle()
        stats = self.dlq.counts(now=self.now)
        expired = sum(d.expired for d in self.dead.values())
        moved = {m for m, r in self.model.items() if r.place == DEAD_LETTERED}

        assert moved == set(self.dead)
        assert (len(self.dead), len(self.dead) - expired, 0, 0, expired) == (
            stats.sent,
            stats.visible,
            stats.in_flight,
            stats.delayed,
            stats.expired,
        )


TestQueue = QueueMachineRules.TestCase
