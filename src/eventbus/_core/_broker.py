"""The broker: one region's queues and topics, and what crosses between them.

Dead-letter moves (a queue to its DLQ) and fan-out (a topic to its queues) involve
more than one machine; the broker resolves the names and hands each machine its
part. Like the machines it is synchronous and takes ``now``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._attributes import MessageAttributeValue
from ._batch import (
    BatchResult,
    PublishBatchEntry,
    PublishBatchResultEntry,
    check_publish_batch_ids,
)
from ._changes import Changes
from ._errors import (
    AccessDenied,
    BatchRequestTooLong,
    EventBusError,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameter,
    InvalidParameterValue,
    NotFound,
    QueueAlreadyExists,
    QueueDeletedRecently,
    QueueDoesNotExist,
    ResourceNotFoundException,
    bounded_repr,
)
from ._events import DeliveryDeadLettered, DeliveryFailed, Event
from ._ids import IdSource
from ._message import ReceivedMessage
from ._move import (
    MoveTaskRecord,
    check_rate,
    make_task_handle,
    parse_task_handle,
    task_not_found,
)
from ._names import (
    check_queue_name,
    check_topic_name,
    queue_arn,
    queue_name_from,
    queue_url,
    topic_arn,
    topic_name_from,
)
from ._paging import sns_page, sqs_page
from ._policy import add_permission, allows_sns_delivery, remove_permission
from ._queue import CheckedBody, QueueMachine
from ._settings import QUEUE_AWS_NAMES, TOPIC_AWS_NAMES, QueueSettings, TopicSettings
from ._tags import tagged, untagged
from ._topic import (
    MAX_PUBLISH_BYTES,
    Delivery,
    Publication,
    SubscriptionRecord,
    TopicMachine,
    check_raw_message_delivery,
    check_subscription,
    check_subscription_dlq,
    compile_policy,
)

QUEUE_RECREATE_DELAY = 60.0


@dataclass(slots=True, eq=False)
class PublishOutcome:
    """What a publish did: the SNS message id and the queues it delivered to.

    Read-only by convention; not frozen, as a frozen dataclass is slower to build
    (one is made per publish).
    """

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

    def __init__(
        self,
        *,
        region: str,
        ids: IdSource,
        trace: bool = False,
        durable: bool = False,
        enforce_queue_policies: bool = False,
    ) -> None:
        self.region = region
        self.enforce_queue_policies = enforce_queue_policies
        """SNS delivers to a queue only if its access policy allows the topic."""
        self.tags: dict[str, dict[str, str]] = {}
        """Queue and topic tags, by the resource's ARN."""
        self.ids = ids
        self.trace = trace
        self.events: list[Event] = []
        self.changes: Changes | None = Changes() if durable else None
        """Durable changes since the last commit (None without a durable store)."""
        self._queues: dict[str, QueueMachine] = {}
        self._deleted_at: dict[str, float] = {}
        self._topics: dict[str, TopicMachine] = {}
        self._move_tasks: dict[str, list[MoveTaskRecord]] = {}

    # ---------------------------------------------------------------- restoring

    def restore_queue(
        self,
        name: str,
        settings: QueueSettings,
        *,
        uid: str,
        created_at: float,
        last_modified_at: float,
    ) -> QueueMachine:
        """Put back a queue a durable store kept (no validation: it was valid)."""
        queue = QueueMachine(
            name,
            queue_arn(self.region, name),
            settings,
            ids=self.ids,
            events=self.events,
            trace=self.trace,
            created_at=created_at,
            uid=uid,
            changes=self.changes,
        )
        queue.last_modified_at = last_modified_at
        self._queues[name] = queue
        return queue

    def restore_deleted_queue(self, name: str, deleted_at: float) -> None:
        """Remember that a queue was deleted (for ``QueueDeletedRecently``)."""
        self._deleted_at[name] = deleted_at

    def restore_topic(self, name: str, settings: TopicSettings) -> TopicMachine:
        """Put back a topic a durable store kept."""
        topic = TopicMachine(name, topic_arn(self.region, name), settings, region=self.region)
        self._topics[name] = topic
        return topic

    def restore_move_task(self, record: MoveTaskRecord) -> None:
        """Put back a move task (call oldest first)."""
        self._move_tasks.setdefault(record.source_arn, []).insert(0, record)

    def adopt(
        self,
        fresh: Broker,
        *,
        queues: Collection[str],
        topics: bool,
        move_tasks: bool,
        dropped: Mapping[str, QueueMachine] | None = None,
    ) -> None:
        """Take from ``fresh`` (loaded from a durable store) the state of the named
        queues, of the deleted-queue history, and of the topics and the move tasks
        when asked: how a store undoes changes it could not keep.

        Machines and records that exist on both sides keep their identity (they take
        the loaded state), so handles on them stay valid; ``dropped`` gives the
        machines of queues deleted since the last commit, to bring back the same way.
        """
        dropped = dropped or {}
        for name in queues:
            loaded = fresh._queues.get(name)
            current = self._queues.get(name) or dropped.get(name)
            if loaded is None:
                self._queues.pop(name, None)
            elif current is None:
                self._queues[name] = loaded
            else:
                # The cumulative statistics stay as counted: the file may hold older ones.
                counters = current.durable_counters()
                _take_state(current, loaded)
                current.restore_counters(counters)
                self._queues[name] = current
        self._deleted_at = fresh._deleted_at
        if topics:
            records = {
                arn: record
                for topic in self._topics.values()
                for arn, record in topic.subscriptions.items()
            }
            kept: dict[str, TopicMachine] = {}
            for name, loaded_topic in fresh._topics.items():
                current_topic = self._topics.get(name)
                if current_topic is None:
                    current_topic = loaded_topic
                else:
                    _take_state(current_topic, loaded_topic)
                for arn, loaded_record in list(current_topic.subscriptions.items()):
                    old = records.get(arn)
                    if old is not None:
                        _take_state(old, loaded_record)
                        current_topic.subscriptions[arn] = old
                kept[name] = current_topic
            self._topics = kept
        if move_tasks:
            by_handle = {task.task_handle: task for task in self.move_tasks()}
            for tasks in fresh._move_tasks.values():
                for index, loaded_task in enumerate(tasks):
                    old_task = by_handle.get(loaded_task.task_handle)
                    if old_task is not None:
                        _take_state(old_task, loaded_task)
                        tasks[index] = old_task
            self._move_tasks = fresh._move_tasks

    def deleted_queues(self) -> dict[str, float]:
        """Names of deleted queues and when they were deleted."""
        return dict(self._deleted_at)

    def move_tasks(self) -> list[MoveTaskRecord]:
        """Every move task, oldest first per source."""
        return [task for tasks in self._move_tasks.values() for task in reversed(tasks)]

    # ------------------------------------------------------------------ queues

    def create_queue(
        self,
        name: str,
        settings: QueueSettings,
        *,
        now: float,
        given: Collection[str] | None = None,
    ) -> QueueMachine:
        """Create a queue, or return the existing one if the attributes given match it.

        Like SQS, only the attributes the call gives (``given``, snake_case; every
        one when None) are compared with the existing queue's: a create without
        attributes returns the queue whatever its attributes, one with the same
        value as the queue has now (after any SetQueueAttributes) returns it too.
        Source: LocalStack's AWS-validated tests
        ``test_create_queue_with_different_attributes_raises_exception`` and
        ``test_create_queue_with_default_attributes_is_idempotent`` (test_sqs.py).

        Raises:
            InvalidParameterValue: a bad name or redrive policy.
            QueueAlreadyExists: the name is taken with a different value for an
                attribute given ("A queue already exists with the same name and a
                different value for attribute X", AWS's text).
            QueueDeletedRecently: the name was deleted less than 60 seconds ago.
        """
        check_queue_name(name, fifo=settings.fifo_queue)
        existing = self._queues.get(name)
        if existing is not None:
            keys = [key for key in QUEUE_AWS_NAMES if given is None or key in given]
            different = existing.settings.first_difference(settings, keys)
            if different is None:
                return existing
            raise QueueAlreadyExists(
                "A queue already exists with the same name and a different value for "
                f"attribute {QUEUE_AWS_NAMES[different]}"
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
            changes=self.changes,
        )
        self._queues[name] = queue
        self._deleted_at.pop(name, None)
        if self.changes is not None:
            self.changes.queues.add(name)
        return queue

    def _check_redrive(self, name: str, settings: QueueSettings) -> None:
        policy = settings.redrive_policy
        if policy is None:
            return
        target = self.queue_by_arn(policy.dead_letter_target_arn)
        if target is not None and target.name == name:
            raise InvalidParameterValue(
                f"Value {policy.to_json()} for parameter RedrivePolicy is invalid. Reason: "
                "a queue cannot be its own dead-letter queue."
            )
        if target is None:
            raise InvalidParameterValue(
                f"Value {policy.to_json()} for parameter RedrivePolicy is invalid. "
                "Reason: Dead letter target does not exist."
            )
        allow = target.settings.redrive_allow_policy
        if allow is not None and not allow.allows(queue_arn(self.region, name)):
            raise InvalidParameterValue(
                f"Value {policy.to_json()} for parameter RedrivePolicy is invalid. Reason: "
                f"the RedriveAllowPolicy of {target.arn} does not allow this queue to use it "
                "as a dead-letter queue."
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
        if settings.fifo_queue and not queue.settings.fifo_queue:
            raise InvalidAttributeName("Unknown Attribute FifoQueue.")
        if queue.settings.fifo_queue and not settings.fifo_queue:
            raise InvalidAttributeValue(
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
            raise QueueDoesNotExist(
                f"The specified queue does not exist: {bounded_repr(reference)}."
            )
        return queue

    def has_queue(self, queue: QueueMachine) -> bool:
        """True while ``queue`` has not been deleted."""
        return self._queues.get(queue.name) is queue

    def delete_queue(self, reference: str, *, now: float) -> None:
        """Delete a queue and everything in it."""
        queue = self.queue(reference)
        del self._queues[queue.name]
        self._deleted_at[queue.name] = now
        self._drop_tags(queue.arn)
        changes = self.changes
        if changes is not None:
            changes.queues.discard(queue.name)
            changes.purged.discard(queue.name)
            changes.messages.pop(queue.name, None)
            changes.removed_queues[queue.name] = now

    def list_queues(self, prefix: str = "") -> list[QueueMachine]:
        """Every queue whose name starts with ``prefix``, by name."""
        return [q for name, q in sorted(self._queues.items()) if name.startswith(prefix)]

    def queue_by_name(self, name: str) -> QueueMachine | None:
        """The queue with this name, if it exists."""
        return self._queues.get(name)

    def queue_by_arn(self, arn: str) -> QueueMachine | None:
        """The queue with this ARN, if it exists."""
        queue = self._queues.get(arn.rpartition(":")[2])
        return queue if queue is not None and queue.arn == arn else None

    def dead_letter_queue_of(self, queue: QueueMachine) -> QueueMachine | None:
        """The queue's dead-letter queue, if it has a redrive policy and the DLQ exists."""
        policy = queue.settings.redrive_policy
        return None if policy is None else self.queue_by_arn(policy.dead_letter_target_arn)

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

    # -------------------------------------------------------------- move tasks

    def start_move_task(
        self,
        source: QueueMachine,
        *,
        now: float,
        destination_arn: str | None = None,
        max_number_of_messages_per_second: int | None = None,
    ) -> MoveTaskRecord:
        """Start moving the messages of dead-letter queue ``source`` back.

        Raises:
            InvalidParameterValue: ``source`` is no queue's dead-letter queue, a task
                is already running for it, the rate is outside 1-500, or the
                destination is of the other type.
            ResourceNotFoundException: the destination does not exist.
        """
        rate = check_rate(max_number_of_messages_per_second)
        is_dlq = any(
            q.settings.redrive_policy is not None
            and q.settings.redrive_policy.dead_letter_target_arn == source.arn
            for q in self._queues.values()
        )
        if not is_dlq:
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None:
            destination = self.queue_by_arn(destination_arn)
            if destination is None:
                raise ResourceNotFoundException(
                    "The resource that you specified for the DestinationArn parameter "
                    "doesn't exist."
                )
            if destination.fifo != source.fifo:
                raise InvalidParameterValue(
                    "The destination queue must be of the same type (standard or FIFO) as "
                    "the source queue."
                )
        tasks = self._move_tasks.setdefault(source.arn, [])
        if tasks and tasks[0].running:
            raise InvalidParameterValue(
                "There is already a task running. Only one active task is allowed for a "
                "source queue arn at a given time."
            )
        record = MoveTaskRecord(
            task_handle=make_task_handle(self.ids.message_id(), source.arn),
            source_arn=source.arn,
            destination_arn=destination_arn,
            max_number_of_messages_per_second=rate,
            started_at=now,
            approximate_number_of_messages_to_move=source.counts(now=now).visible,
        )
        tasks.insert(0, record)
        if record.approximate_number_of_messages_to_move == 0:
            record.finish("COMPLETED")
        self._move_tasks_changed()
        return record

    def move_messages(self, task: MoveTaskRecord, *, now: float, limit: int) -> list[QueueMachine]:
        """Move up to ``limit`` messages of a running task; return the queues that got some.

        Each message is received from the dead-letter queue, sent to its destination
        as a new message and deleted. A destination that does not exist (any more),
        or refuses the message, fails the task; the message stays where it was.
        """
        touched: list[QueueMachine] = []
        self._move_tasks_changed()
        if task.expire(now):
            return touched
        source = self.queue_by_arn(task.source_arn)
        if source is None:
            task.finish("FAILED", "AWS.SimpleQueueService.NonExistentQueue")
            return touched
        moved = 0
        while task.running and moved < limit:
            left = task.remaining
            if left <= 0:
                break
            batch = source.receive(now=now, max_messages=min(10, limit - moved, left))
            if not batch:
                break
            for index, message in enumerate(batch):
                target = task.destination_arn or message.attributes.get("DeadLetterQueueSourceArn")
                destination = self.queue_by_arn(target) if target else None
                try:
                    if destination is None:
                        raise QueueDoesNotExist("The destination queue does not exist.")
                    destination.send(
                        message.body,
                        now=now,
                        message_attributes=message.message_attributes,
                        message_group_id=message.attributes.get("MessageGroupId"),
                        message_deduplication_id=(
                            message.attributes.get("MessageDeduplicationId")
                            if destination.fifo
                            else None
                        ),
                    )
                except EventBusError as error:
                    reason = (
                        "AWS.SimpleQueueService.NonExistentQueue"
                        if isinstance(error, QueueDoesNotExist)
                        else error.code
                    )
                    task.finish("FAILED", reason)
                    for left_over in batch[index:]:
                        source.change_visibility(left_over.receipt_handle, 0, now=now)
                    touched.append(source)
                    return touched
                source.delete(message.receipt_handle, now=now)
                task.approximate_number_of_messages_moved += 1
                moved += 1
                if destination not in touched:
                    touched.append(destination)
        if task.running and (task.remaining <= 0 or source.counts(now=now).visible == 0):
            task.finish("COMPLETED")
        return touched

    def list_move_tasks(
        self, source: QueueMachine, *, max_results: int = 1
    ) -> list[MoveTaskRecord]:
        """The most recent move tasks of ``source``, newest first.

        Raises:
            InvalidParameterValue: ``max_results`` outside 1-10.
        """
        if (
            not isinstance(max_results, int)
            or isinstance(max_results, bool)
            or not 1 <= max_results <= 10
        ):
            raise InvalidParameterValue(
                f"Value {max_results} for parameter MaxResults is invalid. Reason: Must be "
                "between 1 and 10."
            )
        return self._move_tasks.get(source.arn, [])[:max_results]

    def move_task(self, task_handle: str) -> MoveTaskRecord:
        """The task a handle names.

        Raises:
            InvalidParameterValue: a malformed handle.
            ResourceNotFoundException: no such task.
        """
        source_arn = parse_task_handle(task_handle)
        for task in self._move_tasks.get(source_arn, []):
            if task.task_handle == task_handle:
                return task
        raise task_not_found()

    def cancel_move_task(self, task_handle: str) -> MoveTaskRecord:
        """Cancel a running task; the messages it moved stay moved.

        Raises:
            InvalidParameterValue: a malformed handle, or the task is not running.
            ResourceNotFoundException: no such task.
        """
        task = self.move_task(task_handle)
        if not task.running:
            raise InvalidParameterValue(
                f"Only a RUNNING task can be cancelled; this one is {task.status}."
            )
        task.finish("CANCELLED")
        self._move_tasks_changed()
        return task

    # ------------------------------------------------------------------ topics

    def create_topic(
        self, name: str, settings: TopicSettings, *, given: Collection[str] | None = None
    ) -> TopicMachine:
        """Create a topic, or return the existing one if the attributes given match it.

        Like SNS, only the attributes the call gives (``given``, snake_case; every
        one when None) are compared with the topic's present values: a create
        without attributes returns the topic, ``FifoTopic`` false on a standard
        topic too. Source: LocalStack's AWS-validated snapshot of
        ``test_create_topic_different_attrs`` (test_sns.py).

        Raises:
            InvalidParameter: a bad name, or a given attribute differs ("Invalid
                parameter: Attributes Reason: Topic already exists with different
                attributes", AWS's text).
        """
        check_topic_name(name, fifo=settings.fifo_topic)
        existing = self._topics.get(name)
        if existing is not None:
            keys = [key for key in TOPIC_AWS_NAMES if given is None or key in given]
            if existing.settings.same_as(settings, keys):
                return existing
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: Topic already exists with different "
                "attributes"
            )
        topic = TopicMachine(name, topic_arn(self.region, name), settings, region=self.region)
        self._topics[name] = topic
        self._topology_changed()
        return topic

    def topic(self, reference: str) -> TopicMachine:
        """The topic a name or ARN names.

        Raises:
            NotFound: there is no such topic.
        """
        topic = self._topics.get(topic_name_from(reference)) if isinstance(reference, str) else None
        if topic is None:
            raise NotFound(f"Topic does not exist: {bounded_repr(reference)}")
        return topic

    def delete_topic(self, reference: str) -> None:
        """Delete a topic and its subscriptions (deleting a missing topic succeeds)."""
        topic = self._topics.pop(topic_name_from(reference), None)
        if topic is not None:
            self._drop_tags(topic.arn)
            self._topology_changed()

    def list_topics(self) -> list[TopicMachine]:
        """Every topic, by name."""
        return [t for _, t in sorted(self._topics.items())]

    def subscribe(
        self,
        topic: TopicMachine,
        queue: QueueMachine,
        *,
        raw_message_delivery: bool | None = None,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str | None = None,
        dead_letter_queue: QueueMachine | None = None,
    ) -> SubscriptionRecord:
        """Subscribe ``queue`` to ``topic``, or return its existing subscription.

        None is "not given": a new subscription takes SNS's defaults (envelope
        delivery, no filter policy, scope ``MessageAttributes``, no DLQ); an
        existing one is returned if every setting given equals its present one
        (none given: always). Source: LocalStack's AWS-validated snapshot of
        ``test_subscribe_idempotency`` (test_sns.py).

        Raises:
            InvalidParameter: a FIFO queue on a standard topic, a bad setting or filter
                policy, a dead-letter queue of the wrong type, or the queue is
                subscribed already with a different value for a setting given
                ("Invalid parameter: Attributes Reason: Subscription already exists
                with different attributes", AWS's text).
        """
        policy, scope = check_subscription(
            topic_fifo=topic.settings.fifo_topic,
            queue_fifo=queue.fifo,
            raw_message_delivery=False if raw_message_delivery is None else raw_message_delivery,
            filter_policy=filter_policy,
            filter_policy_scope=(
                "MessageAttributes" if filter_policy_scope is None else filter_policy_scope
            ),
            dead_letter_queue_fifo=None if dead_letter_queue is None else dead_letter_queue.fifo,
        )
        dlq_arn = None if dead_letter_queue is None else dead_letter_queue.arn
        existing = topic.subscription_for(queue.arn)
        if existing is not None:
            if existing.same_settings(
                raw_message_delivery,
                policy if filter_policy is not None else None,
                filter_policy is not None,
                filter_policy_scope,
                dlq_arn,
            ):
                return existing
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: Subscription already exists with "
                "different attributes"
            )
        record = SubscriptionRecord(
            arn=f"{topic.arn}:{self.ids.message_id()}",
            topic_arn=topic.arn,
            endpoint=queue.arn,
            raw_message_delivery=bool(raw_message_delivery),
            filter_policy=policy,
            filter_policy_scope=scope,
            dead_letter_target_arn=dlq_arn,
        )
        topic.subscriptions[record.arn] = record
        self._topology_changed()
        return record

    def subscription(self, arn: str) -> tuple[TopicMachine, SubscriptionRecord]:
        """The topic and record of a subscription ARN.

        Raises:
            NotFound: no such subscription.
        """
        topic = self._topics.get(topic_name_from(arn.rsplit(":", 1)[0])) if ":" in arn else None
        record = topic.subscriptions.get(arn) if topic else None
        if topic is None or record is None:
            raise NotFound(f"Subscription does not exist: {bounded_repr(arn)}")
        return topic, record

    def unsubscribe(self, arn: str) -> None:
        """Remove a subscription (removing a missing one succeeds)."""
        try:
            topic, _ = self.subscription(arn)
        except NotFound:
            return
        del topic.subscriptions[arn]
        self._topology_changed()

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
        message_structure: str | None = None,
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
            message_structure=message_structure,
        )
        return self._publish(topic, publication, now)

    def _publish(self, topic: TopicMachine, publication: Publication, now: float) -> PublishOutcome:
        """Deliver a validated publication (see :meth:`publish`)."""
        repeated = topic.deduplicate(publication, now)
        if repeated is not None:  # accepted, not delivered again
            return PublishOutcome(repeated[0], [], repeated[1])
        message_id = self.ids.message_id()
        sequence_number = topic.remember(publication, message_id, now, self.changes)
        fifo_topic = topic.settings.fifo_topic
        delivered: list[QueueMachine] = []
        checked: CheckedBody | None = None  # raw deliveries share one body: check it once
        for delivery in topic.fan_out(
            publication, message_id=message_id, sequence_number=sequence_number, now=now
        ):
            record = delivery.subscription
            queue = self.queue_by_arn(record.endpoint)
            try:
                if queue is None:
                    raise QueueDoesNotExist("The specified queue does not exist.")
                if self.enforce_queue_policies:
                    check_sns_may_send(queue, topic)
                if checked is None or checked.body is not delivery.body:
                    envelope = delivery.envelope
                    checked = (
                        CheckedBody(delivery.body)
                        if envelope is None
                        else envelope.checked_body(delivery.body, record.arn)
                    )
                to_fifo = queue.settings.fifo_queue
                queue.deliver(
                    checked,
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
                dlq = self._dead_letter_delivery(topic, delivery, message_id, error, now)
                if dlq is not None:
                    delivered.append(dlq)
                continue
            delivered.append(queue)
        return PublishOutcome(message_id, delivered, sequence_number)

    def _dead_letter_delivery(
        self,
        topic: TopicMachine,
        delivery: Delivery,
        message_id: str,
        error: EventBusError,
        now: float,
    ) -> QueueMachine | None:
        """Put a delivery the endpoint refused into the subscription's DLQ, if it has one.

        The DLQ gets what would have been delivered (the envelope, or the raw message
        and its attributes), plus the attributes ``ErrorCode``, ``ErrorMessage`` and
        ``RequestID`` while there is room for them within SQS's 10 (their exact
        values on AWS are UNCONFIRMED; ours are the SQS error code and message).
        Without a DLQ, or if the DLQ refuses it too, the message is dropped with a
        ``DeliveryFailed`` event, as SNS discards it.
        """
        record = delivery.subscription
        dlq_arn = record.dead_letter_target_arn
        dlq = self.queue_by_arn(dlq_arn) if dlq_arn is not None else None
        if dlq is not None and self.enforce_queue_policies:
            try:
                check_sns_may_send(dlq, topic)
            except AccessDenied:
                dlq = None
        if dlq is not None:
            attributes = dict(delivery.message_attributes)
            extra = {
                "ErrorCode": MessageAttributeValue("String", string_value=error.code),
                "ErrorMessage": MessageAttributeValue("String", string_value=error.message),
                "RequestID": MessageAttributeValue("String", string_value=message_id),
            }
            if len(attributes) + len(extra) <= 10:
                attributes |= extra
            try:
                dlq.send(
                    delivery.body,
                    now=now,
                    message_attributes=attributes,
                    message_group_id=delivery.message_group_id if dlq.fifo else None,
                    message_deduplication_id=(
                        delivery.message_deduplication_id if dlq.fifo else None
                    ),
                )
            except EventBusError:
                pass
            else:
                self.events.append(
                    DeliveryDeadLettered(
                        topic.name, record.arn, message_id, error.code, error.message, dlq.name
                    )
                )
                return dlq
        self.events.append(
            DeliveryFailed(topic.name, record.arn, message_id, error.code, error.message)
        )
        return None

    def set_subscription_dead_letter_queue(
        self, topic: TopicMachine, record: SubscriptionRecord, dlq: QueueMachine | None
    ) -> None:
        """Set (or with None remove) a subscription's dead-letter queue."""
        if dlq is not None:
            check_subscription_dlq(
                topic_fifo=topic.settings.fifo_topic,
                endpoint_fifo=record.endpoint.endswith(".fifo"),
                dlq_fifo=dlq.fifo,
            )
        record.dead_letter_target_arn = None if dlq is None else dlq.arn
        self._topology_changed()

    def set_subscription_filter_policy(
        self,
        record: SubscriptionRecord,
        filter_policy: Mapping[str, Any] | str | None,
        scope: str | None = None,
    ) -> None:
        """Replace a subscription's filter policy (None or {} removes it) and scope.

        Raises:
            InvalidParameter: a bad policy or scope; the subscription stays as it was.
        """
        try:
            policy, new_scope = compile_policy(
                filter_policy, record.filter_policy_scope if scope is None else scope
            )
        except InvalidParameter as error:
            raise InvalidParameter(
                "Invalid parameter: " + error.message.removeprefix("Invalid parameter: ")
            ) from None
        record.filter_policy = policy
        record.filter_policy_scope = new_scope
        self._topology_changed()

    def set_subscription_raw_message_delivery(
        self, record: SubscriptionRecord, raw_message_delivery: object
    ) -> None:
        """Switch raw message delivery on or off.

        Raises:
            InvalidParameter: not a bool.
        """
        raw_message_delivery = check_raw_message_delivery(raw_message_delivery)
        record.raw_message_delivery = raw_message_delivery
        self._topology_changed()

    # -------------------------------- publish batches, tags, permissions, listing

    def publish_batch(
        self, topic: TopicMachine, entries: Sequence[PublishBatchEntry], *, now: float
    ) -> tuple[BatchResult[PublishBatchResultEntry], list[QueueMachine]]:
        """SNS PublishBatch: validate every entry, then publish them in order.

        Returns the result and the queues the entries were delivered to.

        AWS refuses the whole request when one entry is invalid (a missing group id,
        a bad ``MessageStructure`` message: LocalStack's AWS-validated snapshot of
        ``test_publish_batch_exceptions``), so an invalid entry raises here and
        nothing is published. On a FIFO topic the entries are numbered in order and
        deduplicated against each other and earlier publishes.

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, BatchEntryIdsNotDistinct,
            InvalidBatchEntryId: the whole-request rules.
            InvalidParameter, ParameterValueInvalid: an invalid entry.
            BatchRequestTooLong: the entries add up to more than 256 KiB.
        """
        check_publish_batch_ids([entry.id for entry in entries])
        publications = [
            topic.prepare_publish(
                entry.message,
                subject=entry.subject,
                message_attributes=entry.message_attributes,
                message_group_id=entry.message_group_id,
                message_deduplication_id=entry.message_deduplication_id,
                message_structure=entry.message_structure,
            )
            for entry in entries
        ]
        if sum(p.size for p in publications) > MAX_PUBLISH_BYTES:
            raise BatchRequestTooLong(
                "The length of all the messages put together is more than the limit."
            )
        result: BatchResult[PublishBatchResultEntry] = BatchResult()
        delivered: list[QueueMachine] = []
        for entry, publication in zip(entries, publications, strict=True):
            outcome = self._publish(topic, publication, now)
            delivered.extend(outcome.delivered_to)
            result.successful.append(
                PublishBatchResultEntry(entry.id, outcome.message_id, outcome.sequence_number)
            )
        return result, delivered

    def tags_of(self, arn: str) -> dict[str, str]:
        """The tags of the queue or topic with this ARN."""
        return dict(self.tags.get(arn, {}))

    def tag(self, arn: str, tags: Mapping[str, str], *, resource: str, sns: bool) -> None:
        """Add or replace tags of a queue or topic (see ``_tags``)."""
        self._set_tags(arn, tagged(self.tags.get(arn, {}), tags, resource=resource, sns=sns))

    def untag(self, arn: str, keys: Iterable[str], *, sns: bool) -> None:
        """Remove tags of a queue or topic (absent keys are no error)."""
        self._set_tags(arn, untagged(self.tags.get(arn, {}), keys, sns=sns))

    def _set_tags(self, arn: str, tags: dict[str, str]) -> None:
        if tags:
            self.tags[arn] = tags
        else:
            self.tags.pop(arn, None)
        if self.changes is not None:
            self.changes.tags.add(arn)

    def _drop_tags(self, arn: str) -> None:
        if self.tags.pop(arn, None) is not None and self.changes is not None:
            self.changes.tags.add(arn)

    def add_permission(
        self,
        queue: QueueMachine,
        *,
        label: str,
        account_ids: Sequence[str],
        actions: Sequence[str],
        now: float,
    ) -> None:
        """AddPermission: a statement for ``label`` in the queue's policy (``_policy``)."""
        policy = add_permission(
            queue.settings.policy,
            queue_arn=queue.arn,
            label=label,
            account_ids=account_ids,
            actions=actions,
        )
        queue.set_settings(replace(queue.settings, policy=policy), now=now)

    def remove_permission(self, queue: QueueMachine, *, label: str, now: float) -> None:
        """RemovePermission: drop the statement ``label`` (the policy with the last one)."""
        policy = remove_permission(queue.settings.policy, label=label)
        queue.set_settings(replace(queue.settings, policy=policy), now=now)

    def list_queues_page(
        self, prefix: str, *, max_results: int | None, next_token: str | None
    ) -> tuple[list[QueueMachine], str | None]:
        """One page of ListQueues (see ``_paging``), by name."""
        names = sorted(name for name in self._queues if name.startswith(prefix))
        chosen, token = sqs_page(
            names, kind=f"queues:{prefix}", max_results=max_results, next_token=next_token
        )
        return [self._queues[name] for name in chosen], token

    def dead_letter_source_queues(
        self, dlq: QueueMachine, *, max_results: int | None, next_token: str | None
    ) -> tuple[list[QueueMachine], str | None]:
        """One page of ListDeadLetterSourceQueues: the queues whose redrive policy
        names ``dlq``, by name."""
        names = sorted(
            name
            for name, queue in self._queues.items()
            if queue.settings.redrive_policy is not None
            and queue.settings.redrive_policy.dead_letter_target_arn == dlq.arn
        )
        chosen, token = sqs_page(
            names, kind=f"sources:{dlq.name}", max_results=max_results, next_token=next_token
        )
        return [self._queues[name] for name in chosen], token

    def list_topics_page(self, *, next_token: str | None) -> tuple[list[TopicMachine], str | None]:
        """One page (100) of ListTopics, by name."""
        chosen, token = sns_page(sorted(self._topics), kind="topics", next_token=next_token)
        return [self._topics[name] for name in chosen], token

    def list_subscriptions_page(
        self, topic: TopicMachine | None, *, next_token: str | None
    ) -> tuple[list[SubscriptionRecord], str | None]:
        """One page (100) of ListSubscriptions (every topic's, or ``topic``'s), by ARN."""
        topics = self._topics.values() if topic is None else [topic]
        records = {arn: r for t in topics for arn, r in t.subscriptions.items()}
        kind = "subscriptions" if topic is None else f"subscriptions:{topic.name}"
        chosen, token = sns_page(sorted(records), kind=kind, next_token=next_token)
        return [records[arn] for arn in chosen], token

    def _topology_changed(self) -> None:
        if self.changes is not None:
            self.changes.topology = True

    def _move_tasks_changed(self) -> None:
        if self.changes is not None:
            self.changes.move_tasks = True


def check_sns_may_send(queue: QueueMachine, topic: TopicMachine) -> None:
    """Raise AccessDenied unless the queue's access policy lets the topic send to it.

    The text is SQS's for a denied request ("Access to the resource <queue URL> is
    denied."), as SNS reports it for a failed delivery, with what was missing after it.
    """
    if not allows_sns_delivery(queue.settings.policy, queue.arn, topic.arn):
        raise AccessDenied(
            f"Access to the resource {queue_url(queue.arn.split(':')[3], queue.name)} is "
            f"denied. (The queue's policy does not allow sqs:SendMessage to "
            f"sns.amazonaws.com from {topic.arn}.)"
        )


def _take_state(target: object, source: object) -> None:
    """Make ``target`` hold what ``source`` (an object of the same class) holds."""
    if hasattr(target, "__dict__"):
        vars(target).clear()
        vars(target).update(vars(source))
    for cls in type(target).__mro__:
        slots = getattr(cls, "__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(source, slot):
                setattr(target, slot, getattr(source, slot))
