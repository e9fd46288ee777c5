"""The local backend's Queue, Topic and Subscription: the handles over the core.

Only ``receive`` (long polling) ever waits, and, with a group-committing store,
the calls that change state (until their change is committed). The public
methods are documented on the abstract handles in ``_handles``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._core._batch import (
    BatchResult,
    ChangeVisibilityBatchEntry,
    DeleteBatchEntry,
    PublishBatchEntry,
    PublishBatchResultEntry,
    SendBatchEntry,
    SendBatchResultEntry,
)
from .._core._errors import (
    EventBusError,
    InvalidParameter,
    NotFound,
    QueueDoesNotExist,
    ResourceNotFound,
    bounded_repr,
)
from .._core._filter_policy import FilterPolicyScope
from .._core._message import PeekedMessage, QueueStatistics, ReceivedMessage, SendResult
from .._core._names import queue_url
from .._core._paging import Page
from .._core._queue import QueueMachine, check_wait_time
from .._core._topic import SubscriptionRecord, TopicMachine
from ._durable import durable
from ._handles import PublishResult, Queue, Subscription, Topic
from ._move import MoveTask, MoveTaskStatus

if TYPE_CHECKING:
    from ._local import LocalBackend


class LocalQueue(Queue):
    """A handle on one SQS queue of the local backend.

    Attributes:
        name: the queue's name.
        url: its URL (AWS's format, with the local account id).
        arn: its ARN.
    """

    __slots__ = ("_local", "_machine", "arn", "name", "url")

    def __init__(self, local: LocalBackend, machine: QueueMachine) -> None:
        self._local = local
        self._machine = machine
        self.name = machine.name
        self.arn = machine.arn
        self.url = queue_url(local.region, machine.name)

    def __repr__(self) -> str:
        return f"<Queue {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalQueue) and other._machine is self._machine

    def __hash__(self) -> int:
        return id(self._machine)

    def _live(self) -> QueueMachine:
        if not self._local._broker.has_queue(self._machine):
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
        machine = self._live()
        local = self._local
        result = machine.send(
            body,
            now=local.clock.now(),
            message_attributes=message_attributes,
            delay_seconds=delay_seconds,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
        )
        local._changed(machine, 1)
        return result

    @durable
    async def send_batch(
        self, entries: Sequence[SendBatchEntry | str]
    ) -> BatchResult[SendBatchResultEntry]:
        machine = self._live()
        items = [
            SendBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        result = machine.send_batch(items, now=self._local.clock.now())
        if result.successful:
            self._local._changed(machine, len(result.successful))
        return result

    @durable
    async def receive(
        self,
        *,
        max_messages: int = 1,
        wait_time_seconds: float | None = None,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        machine = self._live()
        local = self._local
        wait = (
            machine.settings.receive_message_wait_time_seconds
            if wait_time_seconds is None
            else wait_time_seconds
        )
        check_wait_time(wait)
        clock = local.clock
        broker = local._broker
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
                local._after()
                if messages:
                    if machine.visible_count:  # leave the rest to the next long poller
                        local._notify(machine, 1)
                    return messages
                if now >= end:
                    return messages
                wake = end
                deadline = machine.next_deadline()
                if deadline is not None and deadline < wake:
                    wake = deadline
                await clock.wait(local._signal(machine), wake)
                now = clock.now()

    @durable
    async def delete(self, receipt_handle: str) -> None:
        machine = self._live()
        machine.delete(receipt_handle, now=self._local.clock.now())
        self._local._after()

    @durable
    async def delete_batch(self, entries: Sequence[DeleteBatchEntry | str]) -> BatchResult[str]:
        machine = self._live()
        items = [
            DeleteBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        result = machine.delete_batch(items, now=self._local.clock.now())
        self._local._after()
        return result

    @durable
    async def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        machine = self._live()
        machine.change_visibility(receipt_handle, visibility_timeout, now=self._local.clock.now())
        self._local._changed(machine)

    @durable
    async def change_visibility_batch(
        self, entries: Sequence[ChangeVisibilityBatchEntry | tuple[str, int]]
    ) -> BatchResult[str]:
        machine = self._live()
        items = [
            entry
            if isinstance(entry, ChangeVisibilityBatchEntry)
            else ChangeVisibilityBatchEntry(str(index), entry[0], entry[1])
            for index, entry in enumerate(entries)
        ]
        result = machine.change_visibility_batch(items, now=self._local.clock.now())
        self._local._changed(machine)
        return result

    @durable
    async def purge(self) -> int:
        count = self._live().purge(now=self._local.clock.now())
        self._local._after()
        return count

    async def statistics(self) -> QueueStatistics:
        stats = self._live().counts(now=self._local.clock.now())
        self._local._after(commit=False)
        return stats

    async def get_attributes(self) -> dict[str, str]:
        machine = self._live()
        stats = machine.counts(now=self._local.clock.now())
        self._local._after(commit=False)
        return {
            **machine.settings.to_aws(),
            "QueueArn": machine.arn,
            "ApproximateNumberOfMessages": str(stats.visible),
            "ApproximateNumberOfMessagesNotVisible": str(stats.in_flight),
            "ApproximateNumberOfMessagesDelayed": str(stats.delayed),
            "CreatedTimestamp": str(int(machine.created_at)),
            "LastModifiedTimestamp": str(int(machine.last_modified_at)),
        }

    @durable
    async def _set_attributes(self, attributes: Mapping[str, Any]) -> None:
        machine = self._live()
        local = self._local
        settings = local._queue_settings(attributes, base=machine.settings)
        local._broker.set_queue_settings(machine, settings, now=local.clock.now())
        local._changed(machine)

    async def delete_queue(self) -> None:
        await self._local.delete_queue(self)

    async def peek(self, *, max_messages: int = 10) -> list[PeekedMessage]:
        messages = self._live().peek(now=self._local.clock.now(), max_messages=max_messages)
        self._local._after(commit=False)
        return messages

    @durable
    async def start_message_move_task(
        self,
        *,
        destination: Queue | str | None = None,
        max_number_of_messages_per_second: int | None = None,
    ) -> MoveTask:
        local = self._local
        destination_arn = None
        if destination is not None:
            destination_arn = (
                destination.arn if isinstance(destination, Queue) else local._queue_arn(destination)
            )
        record = local._broker.start_move_task(
            self._live(),
            now=local.clock.now(),
            destination_arn=destination_arn,
            max_number_of_messages_per_second=max_number_of_messages_per_second,
        )
        task = MoveTask(local, record)
        if record.running:
            local._start_move_task(task)
        local._after()
        return task

    async def list_message_move_tasks(self, *, max_results: int = 1) -> list[MoveTaskStatus]:
        records = self._local._broker.list_move_tasks(self._live(), max_results=max_results)
        return [MoveTaskStatus.of(record) for record in records]

    # ---------------------------- tags, permissions and dead-letter source queues

    @durable
    async def tag(self, tags: Mapping[str, str]) -> None:
        machine = self._live()
        self._local._broker.tag(machine.arn, tags, resource=machine.name, sns=False)
        self._local._after()

    @durable
    async def untag(self, keys: Iterable[str]) -> None:
        machine = self._live()
        self._local._broker.untag(machine.arn, keys, sns=False)
        self._local._after()

    async def list_tags(self) -> dict[str, str]:
        return self._local._broker.tags_of(self._live().arn)

    @durable
    async def add_permission(
        self, label: str, account_ids: Sequence[str], actions: Sequence[str]
    ) -> None:
        local = self._local
        local._broker.add_permission(
            self._live(),
            label=label,
            account_ids=account_ids,
            actions=actions,
            now=local.clock.now(),
        )
        local._after()

    @durable
    async def remove_permission(self, label: str) -> None:
        local = self._local
        local._broker.remove_permission(self._live(), label=label, now=local.clock.now())
        local._after()

    async def list_dead_letter_source_queues_page(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[Queue]:
        local = self._local
        machines, token = local._broker.dead_letter_source_queues(
            self._live(), max_results=max_results, next_token=next_token
        )
        return Page([LocalQueue(local, m) for m in machines], token)

    # ------------------------------------------------------ for the consumer

    def _visibility_timeout(self) -> int:
        return self._live().settings.visibility_timeout

    async def _has_backlog(self) -> bool:
        # As of the poller's receive just before: no need to apply time again.
        machine = self._machine
        return self._local._broker.has_queue(machine) and machine.visible_count > 0

    async def _delete_received(self, receipt_handles: Sequence[str]) -> Collection[str]:
        local = self._local
        machine = self._machine
        if not local._broker.has_queue(machine):
            return receipt_handles
        outcomes = machine.delete_many(receipt_handles, now=local.clock.now())
        local._after()
        # An error is a FIFO handle that expired: the message will come back.
        return [h for h, error in zip(receipt_handles, outcomes, strict=True) if error is not None]

    async def _release_received(self, receipt_handles: Sequence[str]) -> None:
        local = self._local
        machine = self._machine
        if not local._broker.has_queue(machine):
            return
        now = local.clock.now()
        for handle in receipt_handles:
            try:
                machine.change_visibility(handle, 0, now=now)
            except EventBusError:
                continue
        local._changed(machine)


class LocalSubscription(Subscription):
    """A handle on a topic's subscription of a queue.

    Attributes:
        arn: the subscription's ARN.
        topic_arn: its topic's ARN.
        endpoint: the subscribed queue's ARN.
    """

    __slots__ = ("_local", "_record", "arn", "endpoint", "topic_arn")

    def __init__(self, local: LocalBackend, record: SubscriptionRecord) -> None:
        self._local = local
        self._record = record
        self.arn = record.arn
        self.topic_arn = record.topic_arn
        self.endpoint = record.endpoint

    def __repr__(self) -> str:
        return f"<Subscription {self.arn}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalSubscription) and other._record is self._record

    def __hash__(self) -> int:
        return id(self._record)

    @property
    def raw_message_delivery(self) -> bool:
        return self._record.raw_message_delivery

    @property
    def filter_policy(self) -> dict[str, Any] | None:
        policy = self._record.filter_policy
        return None if policy is None else dict(policy.source)

    @property
    def filter_policy_scope(self) -> str:
        return self._record.filter_policy_scope

    async def get_attributes(self) -> dict[str, str]:
        self._local._broker.subscription(self.arn)
        return self._record.attributes()

    @durable
    async def set_filter_policy(
        self, filter_policy: Mapping[str, Any] | str | None, *, scope: str | None = None
    ) -> None:
        broker = self._local._broker
        broker.subscription(self.arn)
        broker.set_subscription_filter_policy(self._record, filter_policy, scope)
        self._local._after()

    @durable
    async def set_raw_message_delivery(self, raw_message_delivery: bool) -> None:
        broker = self._local._broker
        broker.subscription(self.arn)
        broker.set_subscription_raw_message_delivery(self._record, raw_message_delivery)
        self._local._after()

    @property
    def dead_letter_queue_arn(self) -> str | None:
        return self._record.dead_letter_target_arn

    @durable
    async def set_dead_letter_queue(self, queue: Queue | str | None) -> None:
        broker = self._local._broker
        topic, record = broker.subscription(self.arn)
        dlq = _queue_machine(self._local, queue) if queue is not None else None
        broker.set_subscription_dead_letter_queue(topic, record, dlq)
        self._local._after()

    @durable
    async def unsubscribe(self) -> None:
        self._local._broker.unsubscribe(self.arn)
        self._local._after()


class LocalTopic(Topic):
    """A handle on one SNS topic of the local backend.

    Attributes:
        name: the topic's name.
        arn: its ARN.
    """

    __slots__ = ("_local", "_machine", "arn", "name")

    def __init__(self, local: LocalBackend, machine: TopicMachine) -> None:
        self._local = local
        self._machine = machine
        self.name = machine.name
        self.arn = machine.arn

    def __repr__(self) -> str:
        return f"<Topic {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalTopic) and other._machine is self._machine

    def __hash__(self) -> int:
        return id(self._machine)

    def _live(self) -> TopicMachine:
        return self._local._broker.topic(self.name)

    @durable
    async def subscribe(
        self,
        queue: Queue | str,
        *,
        raw_message_delivery: bool | None = None,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: FilterPolicyScope | None = None,
        dead_letter_queue: Queue | str | None = None,
    ) -> Subscription:
        broker = self._local._broker
        if not isinstance(queue, Queue | str):
            raise InvalidParameter(
                f"Invalid parameter: Endpoint (got {bounded_repr(queue)}; pass a Queue or its "
                "name, URL or ARN)"
            )
        machine = _queue_machine(self._local, queue)
        record = broker.subscribe(
            self._live(),
            machine,
            raw_message_delivery=raw_message_delivery,
            filter_policy=filter_policy,
            filter_policy_scope=filter_policy_scope,
            dead_letter_queue=(
                None
                if dead_letter_queue is None
                else _queue_machine(self._local, dead_letter_queue)
            ),
        )
        self._local._after()
        return LocalSubscription(self._local, record)

    async def subscriptions(self) -> list[Subscription]:
        return [LocalSubscription(self._local, r) for r in self._live().subscriptions.values()]

    @durable
    async def publish(
        self,
        message: str,
        *,
        subject: str | None = None,
        message_attributes: Mapping[str, object] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> PublishResult:
        local = self._local
        outcome = local._broker.publish(
            self._live(),
            message,
            now=local.clock.now(),
            subject=subject,
            message_attributes=message_attributes,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
            message_structure=message_structure,
        )
        for machine in outcome.delivered_to:
            local._notify(machine, 1)
        local._after()
        return PublishResult(outcome.message_id, outcome.sequence_number)

    # -------------------------------------------- publish batches, tags, paging

    @durable
    async def publish_batch(
        self, entries: Sequence[PublishBatchEntry | str]
    ) -> BatchResult[PublishBatchResultEntry]:
        local = self._local
        items = [
            PublishBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        result, delivered = local._broker.publish_batch(self._live(), items, now=local.clock.now())
        for machine in delivered:
            local._notify(machine, 1)
        local._after()
        return result

    def _tagged(self) -> TopicMachine:
        """The live topic, for the tag calls (which answer ``ResourceNotFound``)."""
        try:
            return self._live()
        except NotFound:
            raise ResourceNotFound(f"Resource does not exist: {self.arn}") from None

    @durable
    async def tag(self, tags: Mapping[str, str]) -> None:
        self._local._broker.tag(self._tagged().arn, tags, resource=self.arn, sns=True)
        self._local._after()

    @durable
    async def untag(self, keys: Iterable[str]) -> None:
        self._local._broker.untag(self._tagged().arn, keys, sns=True)
        self._local._after()

    async def list_tags(self) -> dict[str, str]:
        return self._local._broker.tags_of(self._tagged().arn)

    async def subscriptions_page(self, *, next_token: str | None = None) -> Page[Subscription]:
        local = self._local
        records, token = local._broker.list_subscriptions_page(self._live(), next_token=next_token)
        return Page([LocalSubscription(local, r) for r in records], token)

    async def get_attributes(self) -> dict[str, str]:
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
        await self._local.delete_topic(self.name)


def _queue_machine(local: LocalBackend, queue: Queue | str) -> QueueMachine:
    """The live queue a handle, name, URL or ARN stands for."""
    if isinstance(queue, LocalQueue):
        return queue._live()
    if isinstance(queue, Queue):
        raise InvalidParameter(
            f"{bounded_repr(queue)} belongs to another backend than this topic's."
        )
    return local._broker.queue(queue)
