"""Queue, Topic and Subscription: the handles a Bus hands out.

Every operation is async, because a durable or remote backend does I/O behind the
same names; on the local backend only ``receive`` (long polling) ever waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core._batch import (
    BatchResult,
    ChangeVisibilityBatchEntry,
    DeleteBatchEntry,
    SendBatchEntry,
    SendBatchResultEntry,
)
from .._core._errors import InvalidParameter, QueueDoesNotExist
from .._core._message import PeekedMessage, QueueStatistics, ReceivedMessage, SendResult
from .._core._names import queue_url
from .._core._queue import QueueMachine, invalid_value
from .._core._topic import SubscriptionRecord, TopicMachine
from ._durable import durable
from ._move import MoveTask, MoveTaskStatus

if TYPE_CHECKING:
    from ._bus import Bus

MAX_WAIT_TIME_SECONDS = 20


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a publish returns: the SNS message id."""

    message_id: str
    sequence_number: str | None = None


class Queue:
    """A handle on one SQS queue of a bus.

    Attributes:
        name: the queue's name.
        url: its URL (AWS's format, with the local account id).
        arn: its ARN.
    """

    __slots__ = ("_bus", "_machine", "arn", "name", "url")

    def __init__(self, bus: Bus, machine: QueueMachine) -> None:
        self._bus = bus
        self._machine = machine
        self.name = machine.name
        self.arn = machine.arn
        self.url = queue_url(bus.region, machine.name)

    def __repr__(self) -> str:
        return f"<Queue {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Queue) and other._machine is self._machine

    def __hash__(self) -> int:
        return id(self._machine)

    def _live(self) -> QueueMachine:
        if not self._bus._broker.has_queue(self._machine):
            raise QueueDoesNotExist(f"The specified queue does not exist: {self.name!r}.")
        return self._machine

    @durable
    async def send(
        self,
        body: str,
        *,
        message_attributes: Mapping[str, object] | None = None,
        delay_seconds: int | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> SendResult:
        """Send one message.

        Args:
            body: 1 byte to the queue's ``maximum_message_size`` (attributes count).
            message_attributes: up to 10, as plain values (str, int/float/Decimal,
                bytes) or ``MessageAttributeValue``.
            delay_seconds: 0-900; the queue's delay when omitted.
            message_group_id: accepted on standard queues too (fair queues).
            message_deduplication_id: FIFO queues only.

        Raises:
            EventBusError: ``MissingParameter``, ``InvalidMessageContents`` or
                ``InvalidParameterValue``; nothing was sent.
        """
        machine = self._live()
        bus = self._bus
        result = machine.send(
            body,
            now=bus.clock.now(),
            message_attributes=message_attributes,
            delay_seconds=delay_seconds,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
        )
        bus._changed(machine, 1)
        return result

    @durable
    async def send_batch(
        self, entries: Sequence[SendBatchEntry | str]
    ) -> BatchResult[SendBatchResultEntry]:
        """Send up to 10 messages; each succeeds or fails on its own.

        A plain ``str`` entry is a body whose entry id is its index in ``entries``.
        """
        machine = self._live()
        items = [
            SendBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        result = machine.send_batch(items, now=self._bus.clock.now())
        if result.successful:
            self._bus._changed(machine, len(result.successful))
        return result

    @durable
    async def receive(
        self,
        *,
        max_messages: int = 1,
        wait_time_seconds: float | None = None,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        """Receive up to ``max_messages`` messages, waiting up to ``wait_time_seconds``.

        A short poll (wait 0) returns every available message up to
        ``max_messages`` at once (SQS may return fewer; we are deterministic). A long
        poll returns as soon as at least one message is available, or an empty list
        when the wait ends.

        Args:
            max_messages: 1-10.
            wait_time_seconds: 0-20; the queue's ``receive_message_wait_time_seconds``
                when omitted.
            visibility_timeout: 0-43200; the queue's when omitted.

        Raises:
            EventBusError: ``InvalidParameterValue`` for an argument out of range,
                ``QueueDoesNotExist`` if the queue was deleted.
        """
        machine = self._live()
        bus = self._bus
        wait = (
            machine.settings.receive_message_wait_time_seconds
            if wait_time_seconds is None
            else wait_time_seconds
        )
        if (
            not isinstance(wait, int | float)
            or isinstance(wait, bool)
            or not 0 <= wait <= MAX_WAIT_TIME_SECONDS
        ):
            raise invalid_value("WaitTimeSeconds", wait, "Must be >= 0 and <= 20, if provided.")
        clock = bus.clock
        broker = bus._broker
        with clock.busy():
            now = clock.now()
            end = now + wait
            while True:
                machine = self._live()
                messages = broker.receive(
                    machine,
                    now=now,
                    max_messages=max_messages,
                    visibility_timeout=visibility_timeout,
                )
                bus._after()
                if messages:
                    if machine.visible_count:  # leave the rest to the next long poller
                        bus._notify(machine, 1)
                    return messages
                if now >= end:
                    return messages
                wake = end
                deadline = machine.next_deadline()
                if deadline is not None and deadline < wake:
                    wake = deadline
                await clock.wait(bus._signal(machine), wake)
                now = clock.now()

    @durable
    async def delete(self, receipt_handle: str) -> None:
        """Delete the message a receipt handle names (deleting twice succeeds).

        Raises:
            EventBusError: ``ReceiptHandleIsInvalid`` if the handle is not this queue's.
        """
        machine = self._live()
        machine.delete(receipt_handle, now=self._bus.clock.now())
        self._bus._after()

    @durable
    async def delete_batch(self, entries: Sequence[DeleteBatchEntry | str]) -> BatchResult[str]:
        """Delete up to 10 messages; a plain ``str`` entry is a receipt handle whose
        entry id is its index."""
        machine = self._live()
        items = [
            DeleteBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        result = machine.delete_batch(items, now=self._bus.clock.now())
        self._bus._after()
        return result

    @durable
    async def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        """Hide a received message for ``visibility_timeout`` more seconds (0: now visible).

        Raises:
            EventBusError: ``ReceiptHandleIsInvalid`` or ``InvalidParameterValue``.
        """
        machine = self._live()
        machine.change_visibility(receipt_handle, visibility_timeout, now=self._bus.clock.now())
        self._bus._changed(machine)

    @durable
    async def change_visibility_batch(
        self, entries: Sequence[ChangeVisibilityBatchEntry | tuple[str, int]]
    ) -> BatchResult[str]:
        """Change the visibility of up to 10 messages; a ``(receipt_handle, timeout)``
        tuple entry gets its index as entry id."""
        machine = self._live()
        items = [
            entry
            if isinstance(entry, ChangeVisibilityBatchEntry)
            else ChangeVisibilityBatchEntry(str(index), entry[0], entry[1])
            for index, entry in enumerate(entries)
        ]
        result = machine.change_visibility_batch(items, now=self._bus.clock.now())
        self._bus._changed(machine)
        return result

    @durable
    async def purge(self) -> int:
        """Delete every message, in flight and delayed included; returns how many.

        Raises:
            EventBusError: ``PurgeQueueInProgress`` within 60 seconds of the last purge.
        """
        count = self._live().purge(now=self._bus.clock.now())
        self._bus._after()
        return count

    async def statistics(self) -> QueueStatistics:
        """How many messages are visible, in flight and delayed now."""
        stats = self._live().counts(now=self._bus.clock.now())
        self._bus._after()
        return stats

    async def get_attributes(self) -> dict[str, str]:
        """Every attribute under its AWS name, as GetQueueAttributes(All) returns them."""
        machine = self._live()
        stats = machine.counts(now=self._bus.clock.now())
        self._bus._after()
        return {
            **machine.settings.to_aws(),
            "QueueArn": machine.arn,
            "ApproximateNumberOfMessages": str(stats.visible),
            "ApproximateNumberOfMessagesNotVisible": str(stats.in_flight),
            "ApproximateNumberOfMessagesDelayed": str(stats.delayed),
            "CreatedTimestamp": str(int(machine.created_at)),
            "LastModifiedTimestamp": str(int(machine.last_modified_at)),
            "SqsManagedSseEnabled": "true",
        }

    @durable
    async def set_attributes(self, /, **attributes: Any) -> None:
        """Change attributes, by the same keywords as ``Bus.create_queue``.

        ``redrive_policy=None`` removes the redrive policy.

        Raises:
            EventBusError: as ``Bus.create_queue``; nothing changes.
        """
        machine = self._live()
        bus = self._bus
        settings = bus._queue_settings(attributes, base=machine.settings)
        bus._broker.set_queue_settings(machine, settings, now=bus.clock.now())
        bus._changed(machine)

    async def delete_queue(self) -> None:
        """Delete this queue and every message in it."""
        await self._bus.delete_queue(self)

    async def peek(self, *, max_messages: int = 10) -> list[PeekedMessage]:
        """Look at up to ``max_messages`` messages in arrival order, changing nothing.

        Not an SQS call: for inspection tools and tests. No receive is counted and no
        visibility changes; in-flight and delayed messages are shown too.
        """
        messages = self._live().peek(now=self._bus.clock.now(), max_messages=max_messages)
        self._bus._after()
        return messages

    @durable
    async def start_message_move_task(
        self,
        *,
        destination: Queue | str | None = None,
        max_number_of_messages_per_second: int | None = None,
    ) -> MoveTask:
        """Move this dead-letter queue's messages back (``StartMessageMoveTask``).

        Each message goes back to the queue it was dead-lettered from, or to
        ``destination``, as a new message (new id, receive count from zero). The
        task runs in the background of the bus (which must be used as
        ``async with``), at most ``max_number_of_messages_per_second`` (1-500) on the
        bus clock, or as fast as it can.

        Raises:
            EventBusError: ``InvalidParameterValue`` (this queue is no queue's DLQ, a
                task is running already, a rate outside 1-500, a destination of the
                other type), ``ResourceNotFoundException`` (no such destination).
        """
        bus = self._bus
        destination_arn = None
        if destination is not None:
            destination_arn = (
                destination.arn if isinstance(destination, Queue) else bus._queue_arn(destination)
            )
        record = bus._broker.start_move_task(
            self._live(),
            now=bus.clock.now(),
            destination_arn=destination_arn,
            max_number_of_messages_per_second=max_number_of_messages_per_second,
        )
        task = MoveTask(bus, record)
        if record.running:
            bus._start_move_task(task)
        bus._after()
        return task

    async def list_message_move_tasks(self, *, max_results: int = 1) -> list[MoveTaskStatus]:
        """The most recent move tasks of this queue (1-10), newest first."""
        records = self._bus._broker.list_move_tasks(self._live(), max_results=max_results)
        return [MoveTaskStatus.of(record) for record in records]


class Subscription:
    """A handle on a topic's subscription of a queue.

    Attributes:
        arn: the subscription's ARN.
        topic_arn: its topic's ARN.
        endpoint: the subscribed queue's ARN.
    """

    __slots__ = ("_bus", "_record", "arn", "endpoint", "topic_arn")

    def __init__(self, bus: Bus, record: SubscriptionRecord) -> None:
        self._bus = bus
        self._record = record
        self.arn = record.arn
        self.topic_arn = record.topic_arn
        self.endpoint = record.endpoint

    def __repr__(self) -> str:
        return f"<Subscription {self.arn}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Subscription) and other._record is self._record

    def __hash__(self) -> int:
        return id(self._record)

    @property
    def raw_message_delivery(self) -> bool:
        """Whether the queue receives the bare message instead of the JSON envelope."""
        return self._record.raw_message_delivery

    @property
    def filter_policy(self) -> dict[str, Any] | None:
        """The filter policy as JSON-able data, or None (every message matches)."""
        policy = self._record.filter_policy
        return None if policy is None else dict(policy.source)

    @property
    def filter_policy_scope(self) -> str:
        """``MessageAttributes`` or ``MessageBody``."""
        return self._record.filter_policy_scope

    async def get_attributes(self) -> dict[str, str]:
        """The subscription's attributes under their AWS names."""
        self._bus._broker.subscription(self.arn)
        return self._record.attributes()

    @durable
    async def set_filter_policy(
        self, filter_policy: Mapping[str, Any] | str | None, *, scope: str | None = None
    ) -> None:
        """Replace the filter policy (None or ``{}`` removes it), and its scope if given.

        Takes effect for the next publish (AWS may take up to 15 minutes).

        Raises:
            EventBusError: ``InvalidParameter`` for a bad policy or scope; the
                subscription stays as it was.
        """
        broker = self._bus._broker
        broker.subscription(self.arn)
        broker.set_subscription_filter_policy(self._record, filter_policy, scope)
        self._bus._after()

    @durable
    async def set_raw_message_delivery(self, raw_message_delivery: bool) -> None:
        """Switch raw message delivery on or off.

        Raises:
            EventBusError: ``InvalidParameter`` unless given a bool.
        """
        broker = self._bus._broker
        broker.subscription(self.arn)
        broker.set_subscription_raw_message_delivery(self._record, raw_message_delivery)
        self._bus._after()

    @property
    def dead_letter_queue_arn(self) -> str | None:
        """The ARN of the subscription's dead-letter queue (its ``RedrivePolicy``)."""
        return self._record.dead_letter_target_arn

    @durable
    async def set_dead_letter_queue(self, queue: Queue | str | None) -> None:
        """Send deliveries the queue refuses to ``queue`` (None: drop them, the default).

        Raises:
            EventBusError: ``InvalidParameter`` (a DLQ of the other type than the
                topic), ``QueueDoesNotExist``.
        """
        broker = self._bus._broker
        topic, record = broker.subscription(self.arn)
        dlq = _queue_machine(self._bus, queue) if queue is not None else None
        broker.set_subscription_dead_letter_queue(topic, record, dlq)
        self._bus._after()

    @durable
    async def unsubscribe(self) -> None:
        """Remove the subscription (again: no error)."""
        self._bus._broker.unsubscribe(self.arn)
        self._bus._after()


class Topic:
    """A handle on one SNS topic of a bus.

    Attributes:
        name: the topic's name.
        arn: its ARN.
    """

    __slots__ = ("_bus", "_machine", "arn", "name")

    def __init__(self, bus: Bus, machine: TopicMachine) -> None:
        self._bus = bus
        self._machine = machine
        self.name = machine.name
        self.arn = machine.arn

    def __repr__(self) -> str:
        return f"<Topic {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Topic) and other._machine is self._machine

    def __hash__(self) -> int:
        return id(self._machine)

    def _live(self) -> TopicMachine:
        return self._bus._broker.topic(self.name)

    @durable
    async def subscribe(
        self,
        queue: Queue | str,
        *,
        raw_message_delivery: bool = False,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
        dead_letter_queue: Queue | str | None = None,
    ) -> Subscription:
        """Subscribe a queue (a handle, or its ARN); again with the same settings
        returns the same subscription.

        Raises:
            EventBusError: ``InvalidParameter`` (a bad policy or setting, a FIFO queue
                on a standard topic, an existing subscription with other settings),
                ``QueueDoesNotExist``.
        """
        broker = self._bus._broker
        if isinstance(queue, Queue):
            machine = queue._live()
        elif isinstance(queue, str) and queue.startswith("arn:aws:sqs:"):
            machine = broker.queue(queue)
        else:
            raise InvalidParameter(
                f"Invalid parameter: SQS endpoint ARN (got {queue!r}; pass a Queue or its ARN)"
            )
        record = broker.subscribe(
            self._live(),
            machine,
            raw_message_delivery=raw_message_delivery,
            filter_policy=filter_policy,
            filter_policy_scope=filter_policy_scope,
            dead_letter_queue=(
                None if dead_letter_queue is None else _queue_machine(self._bus, dead_letter_queue)
            ),
        )
        self._bus._after()
        return Subscription(self._bus, record)

    async def subscriptions(self) -> list[Subscription]:
        """Every subscription of this topic."""
        return [Subscription(self._bus, r) for r in self._live().subscriptions.values()]

    @durable
    async def publish(
        self,
        message: str,
        *,
        subject: str | None = None,
        message_attributes: Mapping[str, object] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> PublishResult:
        """Publish a message to every subscribed queue whose filter policy matches.

        Args:
            message: 1 byte to 256 KiB (attributes count).
            subject: optional, 1-99 printable characters.
            message_attributes: plain values (str, int/float/Decimal, bytes, a list
                for ``String.Array``) or ``MessageAttributeValue``.
            message_group_id: forwarded to standard queues (fair queues).
            message_deduplication_id: FIFO topics only.

        Raises:
            EventBusError: ``InvalidParameter`` or ``ParameterValueInvalid``; nothing
                was delivered.
        """
        bus = self._bus
        outcome = bus._broker.publish(
            self._live(),
            message,
            now=bus.clock.now(),
            subject=subject,
            message_attributes=message_attributes,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
        )
        for machine in outcome.delivered_to:
            bus._notify(machine, 1)
        bus._after()
        return PublishResult(outcome.message_id, outcome.sequence_number)

    async def get_attributes(self) -> dict[str, str]:
        """The topic's attributes under their AWS names."""
        machine = self._live()
        return {
            **machine.settings.to_aws(),
            "TopicArn": machine.arn,
            "Owner": machine.arn.split(":")[4],
            "SubscriptionsConfirmed": str(len(machine.subscriptions)),
            "SubscriptionsPending": "0",
            "SubscriptionsDeleted": "0",
        }

    async def delete(self) -> None:
        """Delete this topic and its subscriptions."""
        await self._bus.delete_topic(self.name)


def _queue_machine(bus: Bus, queue: Queue | str) -> QueueMachine:
    """The live queue a handle, name, URL or ARN stands for."""
    if isinstance(queue, Queue):
        return queue._live()
    return bus._broker.queue(queue)
