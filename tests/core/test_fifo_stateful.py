"""A FIFO queue (and optionally its FIFO dead-letter queue) driven by hypothesis against a model.

The model keeps, per message, its group, its place in the send order, where it is
(delayed, visible, in flight, or a final place), when a delay or visibility ends
and which receive last handed it out; and the deduplication keys seen in the last
5 minutes. Time-driven changes are computed from ``now`` on every look.

Where SQS leaves a choice open (which available group a receive starts with) the
model checks that the machine's choice is legal instead of predicting it: per
group, a receive hands out (or moves to the DLQ) a prefix of the group's live
messages in send order, all of them visible, and it takes a group's whole run
before it starts on another.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Literal

import hypothesis.strategies as st
from hypothesis import note, target
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
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
from eventbus._core._message import ReceivedMessage
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings, RedriveRule

T0 = 1_767_225_600
PURGE_INTERVAL = 60
DEDUP_WINDOW = 300
MAX_LIVE = 12
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

BODIES = st.sampled_from(["a", "b", "c", "fresh"])
"""A few bodies repeat, so content-based deduplication finds duplicates."""
DEDUP_IDS = st.one_of(st.none(), st.sampled_from(["d0", "d1", "d2"]), st.just("fresh"))
"""None: content-based (or a fresh id without it); "fresh": an id never used before."""


@dataclass
class Record:
    """The model's view of one message of the source queue."""

    message_id: str
    group: str
    order: int
    """Its place in the queue's send order."""
    place: str
    sent_at: int
    available_at: int
    """When a delay or a visibility timeout ends."""
    receive_count: int = 0
    received_at: int | None = None
    handed_out_by: int = 0
    """The number of the receive that last handed it out."""


@dataclass(frozen=True)
class Handle:
    """A receipt handle, with the message it names and the receive number that made it."""

    receipt_handle: str
    message_id: str
    receive_number: int


class FifoQueueRules(RuleBasedStateMachine):
    """A FIFO source queue (+ FIFO DLQ) through the Broker, step for step against the model."""

    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.model: dict[str, Record] = {}
        self.order: list[str] = []
        """Accepted message ids in send order."""
        self.dedup: dict[tuple[str, str], tuple[str, int]] = {}
        """Deduplication key -> (message id, send time) of the message that holds it."""
        self.keys: dict[str, tuple[str, str]] = {}
        self.purges: list[int] = []
        self.dead: dict[str, Record] = {}
        self.receives = 0
        self.deliveries = 0
        self.fresh = 0
        self.last_sequence: dict[str, int] = {}
        self.latest: dict[str, Handle] = {}
        """The latest receipt handle of each message ever received."""

    # ---------------------------------------------------------------- the model

    def place(self, record: Record) -> str:
        """Where the message is at ``self.now``, time-driven changes applied."""
        if record.place not in LIVE:
            return record.place
        if record.sent_at + self.retention <= self.now:
            return EXPIRED
        if record.place in (DELAYED, IN_FLIGHT) and record.available_at <= self.now:
            return VISIBLE
        return record.place

    def settle(self) -> None:
        """Write the time-driven changes into the records."""
        for record in self.model.values():
            record.place = self.place(record)

    def tally(self) -> dict[str, int]:
        """How many source messages are in each place."""
        self.settle()
        out = dict.fromkeys(PLACES, 0)
        for record in self.model.values():
            out[record.place] += 1
        return out

    def live_count(self) -> int:
        """How many source messages are live (any live place)."""
        return sum(self.place(record) in LIVE for record in self.model.values())

    def live_by_group(self) -> dict[str, list[Record]]:
        """Each group's live messages, in send order."""
        self.settle()
        out: dict[str, list[Record]] = {}
        for message_id in self.order:
            record = self.model[message_id]
            if record.place in LIVE:
                out.setdefault(record.group, []).append(record)
        return out

    def dedup_key(self, body: str, group: str, dedup_id: str | None) -> tuple[str, str]:
        """The deduplication key the queue must use for a send."""
        if dedup_id is None:
            dedup_id = hashlib.sha256(body.encode()).hexdigest()
        return (group if self.scope == "messageGroup" else "", dedup_id)

    def expect_send(self, body: str, group: str, dedup_id: str | None) -> str | None:
        """The message id a send must return if it is a duplicate, else None."""
        key = self.dedup_key(body, group, dedup_id)
        held = self.dedup.get(key)
        if held is not None and self.now < held[1] + DEDUP_WINDOW:
            return held[0]
        return None

    def accept(self, message_id: str, body: str, group: str, dedup_id: str | None) -> None:
        """Record a message the machine accepted (not a duplicate)."""
        assert message_id not in self.model
        key = self.dedup_key(body, group, dedup_id)
        self.dedup[key] = (message_id, self.now)
        self.keys[message_id] = key
        self.model[message_id] = Record(
            message_id,
            group,
            order=len(self.order),
            place=DELAYED if self.delay else VISIBLE,
            sent_at=self.now,
            available_at=self.now + self.delay,
        )
        self.order.append(message_id)

    def draw_dedup_id(self, choice: str | None) -> str | None:
        """A concrete dedup id for a drawn choice (None needs content-based deduplication)."""
        if choice == "fresh" or (choice is None and not self.content_based):
            self.fresh += 1
            return f"fresh-{self.fresh}"
        return choice

    def check_sequence(self, group: str, sequence_number: str | None) -> None:
        """Sequence numbers increase per group."""
        assert sequence_number is not None
        assert sequence_number.isdigit()
        number = int(sequence_number)
        assert number > self.last_sequence.get(group, -1)
        self.last_sequence[group] = number

    # -------------------------------------------------------------------- setup

    @initialize(
        groups=st.integers(2, 3),
        content_based=st.booleans(),
        scope=st.sampled_from(["queue", "messageGroup"]),
        max_receive_count=st.one_of(st.none(), st.integers(1, 3)),
        visibility_timeout=st.sampled_from([0, 5, 30]),
        delay=st.sampled_from([0, 0, 0, 20]),
        retention=st.sampled_from([345_600, 345_600, 600]),
    )
    def setup(
        self,
        groups: int,
        content_based: bool,
        scope: Literal["queue", "messageGroup"],
        max_receive_count: int | None,
        visibility_timeout: int,
        delay: int,
        retention: int,
    ) -> None:
        """Create the FIFO queue (and a FIFO DLQ if a receive count is drawn)."""
        self.groups = [f"g{i}" for i in range(1, groups + 1)]
        self.content_based = content_based
        self.scope = scope
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.delay = delay
        self.retention = retention
        self.broker = Broker(region="us-east-1", ids=CountingIds())
        self.dlq: QueueMachine | None = None
        redrive = None
        if max_receive_count is not None:
            self.dlq = self.broker.create_queue(
                "dlq.fifo", QueueSettings(fifo_queue=True), now=self.now
            )
            redrive = RedriveRule(self.dlq.arn, max_receive_count)
        self.source: QueueMachine = self.broker.create_queue(
            "source.fifo",
            QueueSettings(
                fifo_queue=True,
                content_based_deduplication=content_based,
                deduplication_scope=scope,
                visibility_timeout=visibility_timeout,
                delay_seconds=delay,
                message_retention_period=retention,
                redrive_policy=redrive,
            ),
            now=self.now,
        )
        note(
            f"groups={groups} content_based={content_based} scope={scope} "
            f"maxReceiveCount={max_receive_count} visibility={visibility_timeout} "
            f"delay={delay} retention={retention}"
        )

    # -------------------------------------------------------------------- rules

    @precondition(lambda self: self.live_count() < MAX_LIVE)
    @rule(data=st.data(), body=BODIES, dedup_choice=DEDUP_IDS)
    def send(self, data: st.DataObject, body: str, dedup_choice: str | None) -> None:
        """SendMessage: a repeated dedup key within 5 minutes returns the holder's id, unsent."""
        group = data.draw(st.sampled_from(self.groups), label="group")
        dedup_id = self.draw_dedup_id(dedup_choice)
        if body == "fresh":
            body = f"fresh-{len(self.order)}-{self.now}"
        duplicate_of = self.expect_send(body, group, dedup_id)
        sent_before = self.source.counts(now=self.now).sent

        result = self.source.send(
            body, now=self.now, message_group_id=group, message_deduplication_id=dedup_id
        )
        note(
            f"t+{self.now - T0}: send {group} {body!r} dedup={dedup_id} -> {result.message_id}"
            f"{' (duplicate)' if duplicate_of else ''}"
        )

        if duplicate_of is not None:
            assert duplicate_of == result.message_id
            assert sent_before == self.source.counts(now=self.now).sent
        else:
            self.check_sequence(group, result.sequence_number)
            self.accept(result.message_id, body, group, dedup_id)

    @precondition(lambda self: self.live_count() < MAX_LIVE)
    @rule(
        data=st.data(),
        entries=st.lists(st.tuples(BODIES, DEDUP_IDS), min_size=1, max_size=4),
    )
    def send_batch(self, data: st.DataObject, entries: list[tuple[str, str | None]]) -> None:
        """SendMessageBatch: entries enqueued in order, each deduplicated on its own."""
        batch = []
        for index, (body, choice) in enumerate(entries):
            group = data.draw(st.sampled_from(self.groups), label=f"group {index}")
            if body == "fresh":
                body = f"fresh-{len(self.order)}-{index}-{self.now}"
            batch.append(
                SendBatchEntry(
                    f"e{index}",
                    body,
                    message_group_id=group,
                    message_deduplication_id=self.draw_dedup_id(choice),
                )
            )

        result = self.source.send_batch(batch, now=self.now)
        note(f"t+{self.now - T0}: send_batch -> {[e.message_id for e in result.successful]}")

        assert [] == result.failed
        assert [e.id for e in batch] == [e.id for e in result.successful]
        for entry, sent in zip(batch, result.successful, strict=True):
            assert entry.message_group_id is not None
            duplicate_of = self.expect_send(
                entry.body, entry.message_group_id, entry.message_deduplication_id
            )
            if duplicate_of is not None:
                assert duplicate_of == sent.message_id
            else:
                self.check_sequence(entry.message_group_id, sent.sequence_number)
                self.accept(
                    sent.message_id,
                    entry.body,
                    entry.message_group_id,
                    entry.message_deduplication_id,
                )

    @rule(
        target=handles,
        max_messages=st.integers(1, 10),
        visibility=st.one_of(st.none(), st.just(0), st.integers(0, 60)),
    )
    def receive(self, max_messages: int, visibility: int | None) -> object:
        """ReceiveMessage: per group a prefix of the live messages, whole runs first."""
        limit = self.max_receive_count
        runs: dict[str, list[Record]] = {}
        for group, live in self.live_by_group().items():
            run = []
            for record in live:
                if record.place != VISIBLE:
                    break
                run.append(record)
            if run:
                runs[group] = run
        eligible = {
            g: [r for r in run if limit is None or r.receive_count < limit]
            for g, run in runs.items()
        }
        exhausted = {
            r.message_id
            for run in runs.values()
            for r in run
            if limit is not None and r.receive_count >= limit
        }
        available = sum(len(e) for e in eligible.values())
        events_before = len(self.broker.events)

        got = self.broker.receive(
            self.source, now=self.now, max_messages=max_messages, visibility_timeout=visibility
        )
        moved = [
            e.message_id
            for e in self.broker.events[events_before:]
            if isinstance(e, MessageDeadLettered)
        ]
        self.receives += 1
        note(
            f"t+{self.now - T0}: receive#{self.receives} max={max_messages} vt={visibility} -> "
            f"{[(m.message_id, m.attributes['MessageGroupId']) for m in got]} moved={moved}"
        )

        self.check_receive(got, moved, runs, eligible, exhausted, max_messages, available)
        timeout = self.visibility_timeout if visibility is None else visibility
        out = []
        for message in got:
            record = self.model[message.message_id]
            record.receive_count += 1
            record.place = IN_FLIGHT
            record.available_at = self.now + timeout
            record.received_at = self.now
            record.handed_out_by = self.receives
            self.deliveries += 1
            assert (record.receive_count, record.group) == (
                message.receive_count,
                message.attributes["MessageGroupId"],
            )
            handle = Handle(message.receipt_handle, message.message_id, record.receive_count)
            self.latest[message.message_id] = handle
            out.append(handle)
        for message_id in moved:
            record = self.model[message_id]
            record.place = DEAD_LETTERED
            self.dead[message_id] = record
        return multiple(*out)

    def check_receive(
        self,
        got: list[ReceivedMessage],
        moved: list[str],
        runs: dict[str, list[Record]],
        eligible: dict[str, list[Record]],
        exhausted: set[str],
        max_messages: int,
        available: int,
    ) -> None:
        """The legality of one receive's choice."""
        assert min(max_messages, available) == len(got)
        assert set(moved) <= exhausted
        if len(got) < max_messages:
            assert exhausted == set(moved)
        taken: dict[str, list[str]] = {}
        for message_id in [m.message_id for m in got] + moved:
            taken.setdefault(self.model[message_id].group, []).append(message_id)
        for group, ids in taken.items():
            in_order = sorted(ids, key=lambda i: self.model[i].order)
            prefix = [r.message_id for r in runs.get(group, [])][: len(ids)]
            assert in_order == prefix, (group, ids, prefix)
        groups = [m.attributes["MessageGroupId"] for m in got]
        assert [m.message_id for m in got] == sorted(
            (m.message_id for m in got),
            key=lambda i: (groups.index(self.model[i].group), self.model[i].order),
        ), "a group's messages come in send order, each group as one block"
        blocks = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
        assert len(blocks) == len(set(blocks)), groups
        for group in blocks[:-1]:
            assert groups.count(group) == len(eligible[group]), "a group's whole run comes first"

    @precondition(lambda self: bool(self.latest))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        """DeleteMessage with a message's latest handle: deletes it while in flight."""
        message_id = data.draw(st.sampled_from(sorted(self.latest)), label="message")
        self.delete_with(self.latest[message_id])

    @rule(handle=handles)
    def delete_with_any_handle(self, handle: Handle) -> None:
        """DeleteMessage with any handle ever issued, older ones included."""
        self.delete_with(handle)

    def delete_with(self, handle: Handle) -> None:
        """Delete: an older handle or one whose timeout ran out has expired (FIFO);
        a message already gone is a no-op."""
        self.settle()
        record = self.model[handle.message_id]
        expired = record.place in LIVE and (
            handle.receive_number != record.receive_count or record.place != IN_FLIGHT
        )
        before = self.tally()

        error: str | None = None
        deleted = False
        try:
            deleted = self.source.delete(handle.receipt_handle, now=self.now)
        except EventBusError as caught:
            error = caught.code
        note(
            f"t+{self.now - T0}: delete {handle.message_id}#{handle.receive_number} "
            f"-> {deleted} {error}"
        )

        if expired:
            assert ("InvalidParameterValue", False, before) == (error, deleted, self.tally())
        else:
            assert (None, record.place in LIVE) == (error, deleted)
            if deleted:
                record.place = DELETED

    @precondition(lambda self: bool(self.latest))
    @rule(data=st.data(), timeout=st.one_of(st.just(0), st.integers(0, 100)))
    def change_visibility(self, data: st.DataObject, timeout: int) -> None:
        """ChangeMessageVisibility with a message's latest handle."""
        message_id = data.draw(st.sampled_from(sorted(self.latest)), label="message")
        self.change_visibility_with(self.latest[message_id], timeout)

    @rule(handle=handles, timeout=st.integers(0, 100))
    def change_visibility_with_any_handle(self, handle: Handle, timeout: int) -> None:
        """ChangeMessageVisibility with any handle ever issued, older ones included."""
        self.change_visibility_with(handle, timeout)

    def change_visibility_with(self, handle: Handle, timeout: int) -> None:
        """CMV: only the latest handle of a message in flight works (FIFO); a handle of a
        message that is gone, older, or whose timeout ran out fails and changes nothing."""
        self.settle()
        record = self.model[handle.message_id]
        if record.place not in LIVE:
            expected: str | None = "InvalidParameterValue"
        elif handle.receive_number != record.receive_count or record.place != IN_FLIGHT:
            expected = "InvalidParameterValue"
        else:
            expected = None
        before = self.tally()

        error: str | None = None
        try:
            self.source.change_visibility(handle.receipt_handle, timeout, now=self.now)
        except EventBusError as caught:
            error = caught.code
        note(
            f"t+{self.now - T0}: change_visibility {handle.message_id}#{handle.receive_number} "
            f"{timeout} -> {error}"
        )

        assert expected == error
        if error is None:
            if timeout == 0:
                record.place = VISIBLE
            else:
                record.available_at = self.now + timeout
        else:
            assert before == self.tally()

    @rule(
        seconds=st.one_of(
            st.integers(0, 40), st.sampled_from([60, 299, 300, 301]), st.integers(0, 400)
        )
    )
    def advance(self, seconds: int) -> None:
        """Let time pass (sometimes past the 5-minute deduplication window)."""
        self.now += seconds
        note(f"advance {seconds} -> t+{self.now - T0}")

    @precondition(lambda self: not self.purges or self.now - self.purges[-1] >= PURGE_INTERVAL)
    @rule()
    def purge(self) -> None:
        """PurgeQueue removes every live message and clears the deduplication cache."""
        expected = self.live_count()

        purged = self.source.purge(now=self.now)
        note(f"t+{self.now - T0}: purge -> {purged}")

        assert expected == purged
        self.settle()
        for record in self.model.values():
            if record.place in LIVE:
                record.place = PURGED
        self.dedup.clear()
        self.purges.append(self.now)

    @precondition(lambda self: bool(self.purges) and self.now - self.purges[-1] < PURGE_INTERVAL)
    @rule()
    def purge_too_soon(self) -> None:
        """A purge within 60 s of the last is PurgeQueueInProgress and changes nothing."""
        before = self.tally()
        error: str | None = None

        try:
            self.source.purge(now=self.now)
        except EventBusError as caught:
            error = caught.code

        assert ("PurgeQueueInProgress", before) == (error, self.tally())

    @precondition(lambda self: bool(self.dead))
    @rule()
    def receive_from_dlq(self) -> None:
        """The FIFO DLQ holds the moved messages with id, group and source ARN kept."""
        assert self.dlq is not None
        got = self.broker.receive(self.dlq, now=self.now, max_messages=10, visibility_timeout=0)
        note(f"t+{self.now - T0}: receive dlq -> {[m.message_id for m in got]}")

        assert min(10, len(self.dead)) == len(got)
        for message in got:
            record = self.dead[message.message_id]
            assert (record.group, self.source.arn, message.message_id) == (
                message.attributes["MessageGroupId"],
                message.attributes["DeadLetterQueueSourceArn"],
                message.attributes["MessageDeduplicationId"],
            )

    def teardown(self) -> None:
        """Steer generation towards runs with many deliveries and moves."""
        target(float(self.deliveries + 3 * len(self.dead)), label="deliveries and moves")

    # --------------------------------------------------------------- invariants

    @invariant()
    def machines_are_self_consistent(self) -> None:
        """The queues' counters agree with their own records."""
        self.source.check_invariants()
        if self.dlq is not None:
            self.dlq.check_invariants()

    @invariant()
    def counts_match_the_model(self) -> None:
        """Every message is in exactly one place, the same in the machine and the model."""
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
        assert (len(self.model), self.deliveries) == (stats.sent, stats.received)

    @invariant()
    def nothing_is_lost(self) -> None:
        """Every accepted message is live, deleted, expired, purged or dead-lettered."""
        stats = self.source.counts(now=self.now)

        assert stats.sent == (
            stats.total + stats.deleted + stats.dead_lettered + stats.expired + stats.purged
        )
        assert self.source.message_count == stats.total
        if self.dlq is not None:
            assert len(self.dead) == self.dlq.counts(now=self.now).total

    @invariant()
    def a_group_is_in_flight_from_one_receive_at_a_time(self) -> None:
        """No message is handed out while an older one of its group is in flight.

        Two messages of a group in flight together were handed out by the same
        receive, or the older one was handed out again later (after its own
        visibility was ended, as recorded on AWS): never the younger one later.
        """
        for live in self.live_by_group().values():
            in_flight = [r for r in live if r.place == IN_FLIGHT]
            for older, younger in itertools.pairwise(in_flight):
                assert older.handed_out_by >= younger.handed_out_by, (older, younger)

    @invariant()
    def a_dedup_key_is_accepted_once_per_window(self) -> None:
        """Two messages sharing a dedup key were sent 5 minutes apart, or a purge lies between."""
        by_key: dict[tuple[str, str], list[Record]] = {}
        for message_id in self.order:
            by_key.setdefault(self.keys[message_id], []).append(self.model[message_id])
        for records in by_key.values():
            for first, second in itertools.pairwise(records):
                assert second.sent_at >= first.sent_at + DEDUP_WINDOW or any(
                    first.sent_at <= t <= second.sent_at for t in self.purges
                ), (first, second)


TestFifoQueue = FifoQueueRules.TestCase
