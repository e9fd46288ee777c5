"""The broker: one region's queues and topics, and what crosses between them.

Dead-letter moves (a queue to its DLQ) and fan-out (a topic to its queues) involve
more than one machine; the broker resolves the names and hands each machine its
part. Like the machines it is synchronous and takes ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ._errors import (
    EventBusError,
    InvalidParameter,
    InvalidParameterValue,
    NotFound,
    QueueAlreadyExists,
    QueueDeletedRecently,
    QueueDoesNotExist,
)
from ._events import DeliveryFailed, Event
from ._ids import IdSource
from ._message import ReceivedMessage
from ._names import (
    check_queue_name,
    check_topic_name,
    queue_arn,
    queue_name_from,
    topic_arn,
    topic_name_from,
)
from ._queue import QueueMachine
from ._settings import QUEUE_INT_ATTRIBUTES, QueueSettings, TopicSettings
from ._topic import SubscriptionRecord, TopicMachine, compile_policy

QUEUE_RECREATE_DELAY = 60.0

_AWS_NAMES = {key: aws for key, (aws, *_) in QUEUE_INT_ATTRIBUTES.items()} | {
    "redrive_policy": "RedrivePolicy",
    "fifo_queue": "FifoQueue",
    "content_based_deduplication": "ContentBasedDeduplication",
    "deduplication_scope": "DeduplicationScope",
    "fifo_throughput_limit": "FifoThroughputLimit",
}


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What a publish did: the SNS message id and the queues it delivered to."""

    message_id: str
    delivered_to: list[QueueMachine]
    sequence_number: str | None = None


class Broker:
    """All queues and topics of one (local) region.

    Args:
        region: the region in every ARN and URL.
        ids: where identifiers come from.
        trace: record per-message events (sent, received, deleted) as well.
    """

    def __init__(self, *, region: str, ids: IdSource, trace: bool = False) -> None:
        self.region = region
        self.ids = ids
        self.trace = trace
        self.events: list[Event] = []
        self._queues: dict[str, QueueMachine] = {}
        self._deleted_at: dict[str, float] = {}
        self._topics: dict[str, TopicMachine] = {}

    # ------------------------------------------------------------------ queues

    def create_queue(self, name: str, settings: QueueSettings, *, now: float) -> QueueMachine:
        """Create a queue, or return the existing one if its attributes are the same.

        Raises:
            InvalidParameterValue: a bad name or redrive policy.
            QueueAlreadyExists: the name is taken with different attributes.
            QueueDeletedRecently: the name was deleted less than 60 seconds ago.
        """
        check_queue_name(name, fifo=settings.fifo_queue)
        existing = self._queues.get(name)
        if existing is not None:
            different = _first_difference(existing.settings, settings)
            if different is None:
                return existing
            raise QueueAlreadyExists(
                "A queue already exists with the same name and a different value for "
                f"attribute {_AWS_NAMES[different]}"
            )
        deleted_at = self._deleted_at.get(name)
        if deleted_at is not None and now - deleted_at < QUEUE_RECREATE_DELAY:
            raise QueueDeletedRecently(
                f"You must wait 60 seconds after deleting a queue before you can create "
                f"another with the same name ({name!r} was deleted {now - deleted_at:.0f} s ago)."
            )
        self._check_redrive(name, settings)
        queue = QueueMachine(
            name,
            queue_arn(self.region, name),
            settings,
            ids=self.ids,
            events=self.events,
            trace=self.trace,
            created_at=now,
        )
        self._queues[name] = queue
        return queue

    def _check_redrive(self, name: str, settings: QueueSettings) -> None:
        policy = settings.redrive_policy
        if policy is None:
            return
        target = self._queues.get(queue_name_from(policy.dead_letter_target_arn))
        if target is not None and target.name == name:
            raise InvalidParameterValue(
                f"Value {policy.to_json()} for parameter RedrivePolicy is invalid. Reason: "
                "a queue cannot be its own dead-letter queue."
            )
        if target is None or target.arn != policy.dead_letter_target_arn:
            raise InvalidParameterValue(
                f"Value {policy.to_json()} for parameter RedrivePolicy is invalid. "
                "Reason: Dead letter target does not exist."
            )
        if target.settings.fifo_queue != settings.fifo_queue:
            raise InvalidParameterValue(
                f"Value {policy.to_json()} for parameter RedrivePolicy is invalid. Reason: "
                "Dead-letter queue must be same type of queue as the source."
            )

    def set_queue_settings(
        self, queue: QueueMachine, settings: QueueSettings, *, now: float
    ) -> None:
        """Change a queue's attributes (validated like a create)."""
        if settings.fifo_queue != queue.settings.fifo_queue:
            raise InvalidParameterValue(
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is "
                "not supported."
            )
        if settings.redrive_policy != queue.settings.redrive_policy:
            self._check_redrive(queue.name, settings)
        queue.set_settings(settings, now=now)

    def queue(self, reference: str) -> QueueMachine:
        """The queue a name, URL or ARN names.

        Raises:
            QueueDoesNotExist: there is no such queue.
        """
        queue = self._queues.get(queue_name_from(reference)) if isinstance(reference, str) else None
        if queue is None:
            raise QueueDoesNotExist(f"The specified queue does not exist: {reference!r}.")
        return queue

    def has_queue(self, queue: QueueMachine) -> bool:
        """True while ``queue`` has not been deleted."""
        return self._queues.get(queue.name) is queue

    def delete_queue(self, reference: str, *, now: float) -> None:
        """Delete a queue and everything in it."""
        queue = self.queue(reference)
        del self._queues[queue.name]
        self._deleted_at[queue.name] = now

    def list_queues(self, prefix: str = "") -> list[QueueMachine]:
        """Every queue whose name starts with ``prefix``, by name."""
        return [q for name, q in sorted(self._queues.items()) if name.startswith(prefix)]

    def dead_letter_queue_of(self, queue: QueueMachine) -> QueueMachine | None:
        """The queue's dead-letter queue, if it has a redrive policy and the DLQ exists."""
        policy = queue.settings.redrive_policy
        if policy is None:
            return None
        target = self._queues.get(queue_name_from(policy.dead_letter_target_arn))
        if target is None or target.arn != policy.dead_letter_target_arn:
            return None
        return target

    def receive(
        self,
        queue: QueueMachine,
        *,
        now: float,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        """Receive from ``queue``, moving messages past their receive limit to its DLQ."""
        return queue.receive(
            now=now,
            max_messages=max_messages,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=self.dead_letter_queue_of(queue),
        )

    def next_deadline(self) -> float | None:
        """The earliest moment any queue changes by itself (for idle detection)."""
        deadlines = [d for q in self._queues.values() if (d := q.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    # ------------------------------------------------------------------ topics

    def create_topic(self, name: str, settings: TopicSettings) -> TopicMachine:
        """Create a topic, or return the existing one if its attributes are the same.

        Raises:
            InvalidParameter: a bad name, or the name is taken with other attributes.
        """
        check_topic_name(name, fifo=settings.fifo_topic)
        existing = self._topics.get(name)
        if existing is not None:
            if existing.settings == settings:
                return existing
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: Topic already exists with different "
                "attributes"
            )
        topic = TopicMachine(name, topic_arn(self.region, name), settings, region=self.region)
        self._topics[name] = topic
        return topic

    def topic(self, reference: str) -> TopicMachine:
        """The topic a name or ARN names.

        Raises:
            NotFound: there is no such topic.
        """
        topic = self._topics.get(topic_name_from(reference)) if isinstance(reference, str) else None
        if topic is None:
            raise NotFound(f"Topic does not exist: {reference!r}")
        return topic

    def delete_topic(self, reference: str) -> None:
        """Delete a topic and its subscriptions (deleting a missing topic succeeds)."""
        self._topics.pop(topic_name_from(reference), None)

    def list_topics(self) -> list[TopicMachine]:
        """Every topic, by name."""
        return [t for _, t in sorted(self._topics.items())]

    def subscribe(
        self,
        topic: TopicMachine,
        queue: QueueMachine,
        *,
        raw_message_delivery: bool = False,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
    ) -> SubscriptionRecord:
        """Subscribe ``queue`` to ``topic`` (again with the same settings: the same one).

        Raises:
            InvalidParameter: a FIFO queue on a standard topic, a bad setting or filter
                policy, or the queue is subscribed already with other settings.
        """
        if queue.settings.fifo_queue and not topic.settings.fifo_topic:
            raise InvalidParameter(
                "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can "
                "not be subscribed to standard SNS topics"
            )
        if not isinstance(raw_message_delivery, bool):
            raise InvalidParameter(
                f"Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value "
                f"[{raw_message_delivery}]. Must be true or false."
            )
        try:
            policy, scope = compile_policy(filter_policy, filter_policy_scope)
        except InvalidParameter as error:
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: "
                + error.message.removeprefix("Invalid parameter: ")
            ) from None
        existing = topic.subscription_for(queue.arn)
        if existing is not None:
            if existing.same_settings(raw_message_delivery, policy, scope):
                return existing
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: Subscription already exists with "
                "different attributes"
            )
        record = SubscriptionRecord(
            arn=f"{topic.arn}:{self.ids.message_id()}",
            topic_arn=topic.arn,
            endpoint=queue.arn,
            raw_message_delivery=raw_message_delivery,
            filter_policy=policy,
            filter_policy_scope=scope,
        )
        topic.subscriptions[record.arn] = record
        return record

    def subscription(self, arn: str) -> tuple[TopicMachine, SubscriptionRecord]:
        """The topic and record of a subscription ARN.

        Raises:
            NotFound: no such subscription.
        """
        topic = self._topics.get(topic_name_from(arn.rsplit(":", 1)[0])) if ":" in arn else None
        record = topic.subscriptions.get(arn) if topic else None
        if topic is None or record is None:
            raise NotFound(f"Subscription does not exist: {arn!r}")
        return topic, record

    def unsubscribe(self, arn: str) -> None:
        """Remove a subscription (removing a missing one succeeds)."""
        try:
            topic, _ = self.subscription(arn)
        except NotFound:
            return
        del topic.subscriptions[arn]

    def publish(
        self,
        topic: TopicMachine,
        message: str,
        *,
        now: float,
        subject: str | None = None,
        message_attributes: Mapping[str, object] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> PublishOutcome:
        """Publish to a topic and deliver to every subscription whose policy matches.

        A delivery the queue refuses (it was deleted, the message is too large for it,
        raw delivery with more than 10 attributes) is a client-side error for SNS: it
        is not retried and is recorded as a ``DeliveryFailed`` event.

        Raises:
            InvalidParameter, ParameterValueInvalid: the publish itself is invalid.
        """
        publication = topic.prepare_publish(
            message,
            subject=subject,
            message_attributes=message_attributes,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
        )
        repeated = topic.deduplicate(publication, now)
        if repeated is not None:  # accepted, not delivered again
            return PublishOutcome(repeated[0], [], repeated[1])
        message_id = self.ids.message_id()
        sequence_number = topic.remember(publication, message_id, now)
        fifo_topic = topic.settings.fifo_topic
        delivered: list[QueueMachine] = []
        for delivery in topic.fan_out(
            publication, message_id=message_id, sequence_number=sequence_number, now=now
        ):
            record = delivery.subscription
            queue = self._queues.get(queue_name_from(record.endpoint))
            try:
                if queue is None or queue.arn != record.endpoint:
                    raise QueueDoesNotExist("The specified queue does not exist.")
                to_fifo = queue.settings.fifo_queue
                queue.send(
                    delivery.body,
                    now=now,
                    message_attributes=delivery.message_attributes,
                    message_group_id=(
                        delivery.message_group_id if to_fifo or not fifo_topic else None
                    ),
                    message_deduplication_id=(
                        delivery.message_deduplication_id if to_fifo else None
                    ),
                )
            except EventBusError as error:
                self.events.append(
                    DeliveryFailed(topic.name, record.arn, message_id, error.code, error.message)
                )
                continue
            delivered.append(queue)
        return PublishOutcome(message_id, delivered, sequence_number)


def _first_difference(old: QueueSettings, new: QueueSettings) -> str | None:
    for field in fields(QueueSettings):
        if getattr(old, field.name) != getattr(new, field.name):
            return field.name
    return None
