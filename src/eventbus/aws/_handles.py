"""Queue, Topic and Subscription handles over SQS and SNS calls.

The public methods are documented on the abstract handles; here each says which
AWS call it makes. Arguments the local backend checks before changing anything
(message attributes, filter policies, names, queue attributes) are checked by the
same rules here before any call, so they fail with the same errors; everything
else is left to AWS, whose errors arrive as the same ``EventBusError`` codes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from .._core._attributes import attributes_size, to_attribute_value
from .._core._batch import (
    BatchFailure,
    BatchResult,
    ChangeVisibilityBatchEntry,
    DeleteBatchEntry,
    PublishBatchEntry,
    PublishBatchResultEntry,
    SendBatchEntry,
    SendBatchResultEntry,
    check_entry_ids,
    check_publish_batch_ids,
)
from .._core._errors import (
    BatchRequestTooLong,
    InvalidParameter,
    NotFound,
    ParameterValueInvalid,
    bounded_repr,
)
from .._core._filter_policy import FilterPolicyScope
from .._core._message import QueueStatistics, ReceivedMessage, SendResult
from .._core._names import queue_name_from
from .._core._paging import Page, check_max_results
from .._core._policy import add_permission, allows_sns_delivery, sns_delivery_statement
from .._core._queue import (
    CheckedBody,
    check_max_messages,
    check_visibility_timeout,
    check_wait_time,
)
from .._core._tags import tagged, untagged
from .._core._topic import (
    MAX_PUBLISH_BYTES,
    check_message,
    check_message_structure,
    check_raw_message_delivery,
    check_subscription,
    check_subscription_dlq,
    compile_policy,
)
from .._models import QueueConfig, check_queue_type_change
from .._runtime._handles import PublishResult, Queue, Subscription, Topic
from ._convert import attributes_to_aws, bool_text, received_from_aws
from ._errors import aws_code

if TYPE_CHECKING:
    from ._backend import AwsBackend

BACKLOG_CACHE_SECONDS = 1.0
"""How long the consumer's backlog check reuses one GetQueueAttributes answer."""


def _given(**fields: Any) -> dict[str, Any]:
    """A request of the fields that have a value (None and empty ones are left out)."""
    return {name: value for name, value in fields.items() if value is not None and value != {}}


CONCURRENT_BATCH_CALLS = 10
"""How many batch calls (of 10 messages each) settling one large batch makes at once."""


async def _each_chunk(
    items: Sequence[str], call: Callable[[Sequence[str]], Awaitable[None]]
) -> None:
    """Call ``call`` on every run of 10 items: one at a time for a small batch, a few
    at once for a large one (10,000 messages are 1,000 calls)."""
    chunks = [items[i : i + 10] for i in range(0, len(items), 10)]
    if len(chunks) == 1:
        await call(chunks[0])
        return
    limiter = anyio.CapacityLimiter(CONCURRENT_BATCH_CALLS)

    async def limited(chunk: Sequence[str]) -> None:
        async with limiter:
            await call(chunk)

    async with anyio.create_task_group() as group:
        for chunk in chunks:
            group.start_soon(limited, chunk)


def _failure(entry: Mapping[str, Any]) -> BatchFailure:
    return BatchFailure(
        entry["Id"],
        aws_code(entry.get("Code", "InternalError")),
        entry.get("Message", ""),
        bool(entry.get("SenderFault", True)),
    )


class AwsQueue(Queue):
    """A handle on one SQS queue.

    Attributes:
        name: the queue's name.
        url: its URL.
        arn: its ARN.
    """

    __slots__ = ("_aws", "_backlog", "_backlog_at", "_visibility", "arn", "name", "url")

    def __init__(self, aws: AwsBackend, *, url: str, arn: str, visibility_timeout: int) -> None:
        self._aws = aws
        self.url = url
        self.arn = arn
        self.name = queue_name_from(arn)
        self._visibility = visibility_timeout
        self._backlog = False
        self._backlog_at = -BACKLOG_CACHE_SECONDS

    _receive_cancel_safe = False

    @property
    def _long_poll_seconds(self) -> int:  # type: ignore[override]
        return self._aws.long_poll_seconds

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AwsQueue) and other.arn == self.arn

    def __hash__(self) -> int:
        return hash(self.arn)

    async def send(
        self,
        body: str,
        *,
        message_attributes: Mapping[str, object] | None = None,
        delay_seconds: int | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> SendResult:
        """SendMessage (the body and attributes checked by the local rules first)."""
        CheckedBody(body)
        request = _given(
            QueueUrl=self.url,
            MessageBody=body,
            MessageAttributes=attributes_to_aws(message_attributes, sns=False),
            DelaySeconds=delay_seconds,
            MessageGroupId=message_group_id,
            MessageDeduplicationId=message_deduplication_id,
        )
        with self._aws.call():
            response = await self._aws.sqs.send_message(**request)
        return SendResult(
            message_id=response["MessageId"],
            md5_of_message_body=response["MD5OfMessageBody"],
            md5_of_message_attributes=response.get("MD5OfMessageAttributes"),
            sequence_number=response.get("SequenceNumber"),
        )

    async def send_batch(
        self, entries: Sequence[SendBatchEntry | str]
    ) -> BatchResult[SendBatchResultEntry]:
        """SendMessageBatch."""
        items = [
            SendBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        check_entry_ids([e.id for e in items], "SendMessageBatchRequestEntry")
        request_entries = [
            _given(
                Id=item.id,
                MessageBody=item.body,
                MessageAttributes=attributes_to_aws(item.message_attributes, sns=False),
                DelaySeconds=item.delay_seconds,
                MessageGroupId=item.message_group_id,
                MessageDeduplicationId=item.message_deduplication_id,
            )
            for item in items
        ]
        with self._aws.call():
            response = await self._aws.sqs.send_message_batch(
                QueueUrl=self.url,
                Entries=request_entries,  # type: ignore[arg-type]
            )
        return BatchResult(
            successful=[
                SendBatchResultEntry(
                    id=ok["Id"],
                    message_id=ok["MessageId"],
                    md5_of_message_body=ok["MD5OfMessageBody"],
                    md5_of_message_attributes=ok.get("MD5OfMessageAttributes"),
                    sequence_number=ok.get("SequenceNumber"),
                )
                for ok in response.get("Successful", [])
            ],
            failed=[_failure(f) for f in response.get("Failed", [])],
        )

    async def receive(
        self,
        *,
        max_messages: int = 1,
        wait_time_seconds: float | None = None,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        """ReceiveMessage, asking for every system and message attribute.

        The arguments are checked by the local rules first. SQS takes whole seconds
        of wait: a fraction is rounded up.
        """
        check_max_messages(max_messages)
        if wait_time_seconds is not None:
            check_wait_time(wait_time_seconds)
        if visibility_timeout is not None:
            check_visibility_timeout(visibility_timeout)
        request = _given(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=None if wait_time_seconds is None else math.ceil(wait_time_seconds),
            VisibilityTimeout=visibility_timeout,
        )
        with self._aws.call():
            response = await self._aws.receiver.receive_message(**request)
        return [received_from_aws(m) for m in response.get("Messages", [])]

    async def delete(self, receipt_handle: str) -> None:
        """DeleteMessage."""
        with self._aws.call():
            await self._aws.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    async def delete_batch(self, entries: Sequence[DeleteBatchEntry | str]) -> BatchResult[str]:
        """DeleteMessageBatch."""
        items = [
            DeleteBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        check_entry_ids([e.id for e in items], "DeleteMessageBatchRequestEntry")
        with self._aws.call():
            response = await self._aws.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": e.id, "ReceiptHandle": e.receipt_handle} for e in items],
            )
        return BatchResult(
            successful=[ok["Id"] for ok in response.get("Successful", [])],
            failed=[_failure(f) for f in response.get("Failed", [])],
        )

    async def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        """ChangeMessageVisibility."""
        check_visibility_timeout(visibility_timeout)
        with self._aws.call():
            await self._aws.sqs.change_message_visibility(
                QueueUrl=self.url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=visibility_timeout,
            )

    async def change_visibility_batch(
        self, entries: Sequence[ChangeVisibilityBatchEntry | tuple[str, int]]
    ) -> BatchResult[str]:
        """ChangeMessageVisibilityBatch."""
        items = [
            entry
            if isinstance(entry, ChangeVisibilityBatchEntry)
            else ChangeVisibilityBatchEntry(str(index), entry[0], entry[1])
            for index, entry in enumerate(entries)
        ]
        check_entry_ids([e.id for e in items], "ChangeMessageVisibilityBatchRequestEntry")
        with self._aws.call():
            response = await self._aws.sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {
                        "Id": e.id,
                        "ReceiptHandle": e.receipt_handle,
                        "VisibilityTimeout": e.visibility_timeout,
                    }
                    for e in items
                ],
            )
        return BatchResult(
            successful=[ok["Id"] for ok in response.get("Successful", [])],
            failed=[_failure(f) for f in response.get("Failed", [])],
        )

    async def purge(self) -> None:
        """PurgeQueue: SQS deletes the messages within 60 seconds and says not how many."""
        with self._aws.call():
            await self._aws.sqs.purge_queue(QueueUrl=self.url)

    async def statistics(self) -> QueueStatistics:
        """GetQueueAttributes of the three approximate counts."""
        attributes = await self._attributes(
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        return QueueStatistics(
            visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
            delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", "0")),
        )

    async def get_attributes(self) -> dict[str, str]:
        """GetQueueAttributes(All)."""
        attributes = await self._attributes("All")
        if "VisibilityTimeout" in attributes:
            self._visibility = int(attributes["VisibilityTimeout"])
        return attributes

    async def _set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """SetQueueAttributes with the attributes given (checked by the local rules;
        the present ``DeduplicationScope`` or ``FifoThroughputLimit`` is read when
        only the other is given, to check the pair)."""
        given = dict(attributes)
        check_queue_type_change(self.fifo, given)
        base: dict[str, Any] = {"fifo_queue": True} if self.fifo else {}
        pair = {
            "deduplication_scope": "DeduplicationScope",
            "fifo_throughput_limit": "FifoThroughputLimit",
        }
        missing = [key for key in pair if key not in given]
        if self.fifo and len(missing) == 1:
            present = await self._attributes(pair[missing[0]])
            if pair[missing[0]] in present:
                base[missing[0]] = present[pair[missing[0]]]
        config = QueueConfig(**(base | given))
        aws = await self._aws._queue_attributes(config, set(given))
        with self._aws.call():
            await self._aws.sqs.set_queue_attributes(QueueUrl=self.url, Attributes=aws)  # type: ignore[arg-type]
        if "visibility_timeout" in given:
            self._visibility = config.visibility_timeout

    async def delete_queue(self) -> None:
        """DeleteQueue."""
        await self._aws.delete_queue(self)

    async def _attributes(self, *names: str) -> dict[str, str]:
        with self._aws.call():
            response = await self._aws.sqs.get_queue_attributes(
                QueueUrl=self.url,
                AttributeNames=list(names),  # type: ignore[arg-type]
            )
        return {str(k): v for k, v in response.get("Attributes", {}).items()}

    # ---------------------------- tags, permissions and dead-letter source queues

    async def tag(self, tags: Mapping[str, str]) -> None:
        """TagQueue (the tags checked by the local rules first)."""
        tagged({}, tags, resource=self.name, sns=False)
        with self._aws.call():
            await self._aws.sqs.tag_queue(QueueUrl=self.url, Tags=dict(tags))

    async def untag(self, keys: Iterable[str]) -> None:
        """UntagQueue."""
        wanted = list(keys) if not isinstance(keys, str) else keys
        untagged({}, wanted, sns=False)
        with self._aws.call():
            await self._aws.sqs.untag_queue(QueueUrl=self.url, TagKeys=list(wanted))

    async def list_tags(self) -> dict[str, str]:
        """ListQueueTags."""
        with self._aws.call():
            response = await self._aws.sqs.list_queue_tags(QueueUrl=self.url)
        return dict(response.get("Tags", {}))

    async def add_permission(
        self, label: str, account_ids: Sequence[str], actions: Sequence[str]
    ) -> None:
        """AddPermission (the arguments checked by the local rules first)."""
        add_permission(
            None, queue_arn=self.arn, label=label, account_ids=account_ids, actions=actions
        )
        with self._aws.call():
            await self._aws.sqs.add_permission(
                QueueUrl=self.url,
                Label=label,
                AWSAccountIds=list(account_ids),
                Actions=list(actions),
            )

    async def remove_permission(self, label: str) -> None:
        """RemovePermission."""
        with self._aws.call():
            await self._aws.sqs.remove_permission(QueueUrl=self.url, Label=label)

    async def list_dead_letter_source_queues_page(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[Queue]:
        """ListDeadLetterSourceQueues, then GetQueueAttributes of each queue."""
        request: dict[str, Any] = {"QueueUrl": self.url}
        if max_results is not None:
            request["MaxResults"] = check_max_results(max_results)
        if next_token is not None:
            request["NextToken"] = next_token
        with self._aws.call():
            response = await self._aws.sqs.list_dead_letter_source_queues(**request)
        queues = await self._aws._adopt_all(response.get("queueUrls", []))
        return Page(queues, response.get("NextToken"))

    # ------------------------------------------------------ for the consumer

    def _visibility_timeout(self) -> int:
        return self._visibility

    async def _has_backlog(self) -> bool:
        now = self._aws.clock.now()
        if now - self._backlog_at >= BACKLOG_CACHE_SECONDS:
            attributes = await self._attributes("ApproximateNumberOfMessages")
            self._backlog = int(attributes.get("ApproximateNumberOfMessages", "0")) > 0
            self._backlog_at = now
        return self._backlog

    async def _delete_received(self, receipt_handles: Sequence[str]) -> Collection[str]:
        failed: list[str] = []

        async def delete(chunk: Sequence[str]) -> None:
            result = await self.delete_batch(list(chunk))
            failed.extend(chunk[int(failure.id)] for failure in result.failed)

        await _each_chunk(receipt_handles, delete)
        return failed

    async def _release_received(self, receipt_handles: Sequence[str]) -> None:
        async def release(chunk: Sequence[str]) -> None:
            await self.change_visibility_batch([(handle, 0) for handle in chunk])

        await _each_chunk(receipt_handles, release)


class AwsSubscription(Subscription):
    """A handle on an SNS subscription of an SQS queue.

    Its settings (``raw_message_delivery``, ``filter_policy``...) are as read or set
    through this handle; ``get_attributes`` reads them again.

    Attributes:
        arn: the subscription's ARN.
        topic_arn: its topic's ARN.
        endpoint: the subscribed queue's ARN.
    """

    __slots__ = ("_attributes", "_aws", "arn", "endpoint", "topic_arn")

    def __init__(self, aws: AwsBackend, arn: str, attributes: Mapping[str, str]) -> None:
        self._aws = aws
        self.arn = arn
        self._attributes = dict(attributes)
        self.topic_arn = self._attributes.get("TopicArn", "")
        self.endpoint = self._attributes.get("Endpoint", "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AwsSubscription) and other.arn == self.arn

    def __hash__(self) -> int:
        return hash(self.arn)

    @property
    def raw_message_delivery(self) -> bool:
        return self._attributes.get("RawMessageDelivery", "false") == "true"

    @property
    def filter_policy(self) -> dict[str, Any] | None:
        text = self._attributes.get("FilterPolicy")
        policy = json.loads(text) if text else None
        return policy or None

    @property
    def filter_policy_scope(self) -> str:
        return self._attributes.get("FilterPolicyScope", "MessageAttributes")

    @property
    def dead_letter_queue_arn(self) -> str | None:
        text = self._attributes.get("RedrivePolicy")
        if not text:
            return None
        target = json.loads(text).get("deadLetterTargetArn")
        return str(target) if target else None

    async def get_attributes(self) -> dict[str, str]:
        """GetSubscriptionAttributes."""
        with self._aws.call():
            response = await self._aws.sns.get_subscription_attributes(SubscriptionArn=self.arn)
        self._attributes.update(response.get("Attributes", {}))
        return dict(self._attributes)

    async def _set(self, name: str, value: str) -> None:
        with self._aws.call():
            await self._aws.sns.set_subscription_attributes(
                SubscriptionArn=self.arn, AttributeName=name, AttributeValue=value
            )
        self._attributes[name] = value

    async def set_filter_policy(
        self, filter_policy: Mapping[str, Any] | str | None, *, scope: str | None = None
    ) -> None:
        """SetSubscriptionAttributes of FilterPolicy (``{}`` removes it) and its scope."""
        old_scope = self.filter_policy_scope
        new_scope = scope if scope is not None else old_scope
        compiled, _ = compile_policy(filter_policy, new_scope)
        text = "{}" if compiled is None else json.dumps(dict(compiled.source))
        if new_scope == old_scope:
            await self._set("FilterPolicy", text)
            return
        # Two calls, ordered so that each state in between is valid: a nested policy
        # is refused under MessageAttributes, so the scope moves to MessageBody before
        # the new policy comes, and away from it only after the new policy is in.
        old_text = self._attributes.get("FilterPolicy", "{}") or "{}"
        steps = [("FilterPolicy", text, old_text), ("FilterPolicyScope", new_scope, old_scope)]
        if new_scope == "MessageBody":
            steps.reverse()
        (first, first_value, first_old), (second, second_value, _) = steps
        await self._set(first, first_value)
        try:
            await self._set(second, second_value)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._set(first, first_old)
            raise

    async def set_raw_message_delivery(self, raw_message_delivery: bool) -> None:
        """SetSubscriptionAttributes of RawMessageDelivery."""
        check_raw_message_delivery(raw_message_delivery)
        await self._set("RawMessageDelivery", bool_text(raw_message_delivery))

    async def set_dead_letter_queue(self, queue: Queue | str | None) -> None:
        """SetSubscriptionAttributes of RedrivePolicy (``""`` removes it)."""
        if queue is None:
            await self._set("RedrivePolicy", "")
            return
        aws = self._aws
        dlq = await aws._queue_of(queue)
        check_subscription_dlq(
            topic_fifo=self.topic_arn.endswith(".fifo"),
            endpoint_fifo=self.endpoint.endswith(".fifo"),
            dlq_fifo=dlq.fifo,
        )
        await allow_topic(aws, dlq, self.topic_arn)
        await self._set("RedrivePolicy", json.dumps({"deadLetterTargetArn": dlq.arn}))

    async def unsubscribe(self) -> None:
        """Unsubscribe (a subscription already gone is no error)."""
        try:
            with self._aws.call():
                await self._aws.sns.unsubscribe(SubscriptionArn=self.arn)
        except NotFound:
            pass


class AwsTopic(Topic):
    """A handle on one SNS topic.

    Attributes:
        name: the topic's name.
        arn: its ARN.
    """

    __slots__ = ("_aws", "arn", "name")

    def __init__(self, aws: AwsBackend, arn: str) -> None:
        self._aws = aws
        self.arn = arn
        self.name = arn.rsplit(":", 1)[-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AwsTopic) and other.arn == self.arn

    def __hash__(self) -> int:
        return hash(self.arn)

    async def subscribe(
        self,
        queue: Queue | str,
        *,
        raw_message_delivery: bool | None = None,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: FilterPolicyScope | None = None,
        dead_letter_queue: Queue | str | None = None,
    ) -> Subscription:
        """Allow the topic in the queue's policy (SetQueueAttributes), then Subscribe
        with the settings given, and only those (SNS then returns an existing
        subscription unless one of them differs); then GetSubscriptionAttributes.

        The settings are checked by the local rules first. If Subscribe fails, the
        policy statements added for it are taken back.
        """
        aws = self._aws
        if not isinstance(queue, Queue | str):
            raise InvalidParameter(
                f"Invalid parameter: Endpoint (got {bounded_repr(queue)}; pass a Queue or its "
                "name, URL or ARN)"
            )
        target = await aws._queue_of(queue)
        dlq = None if dead_letter_queue is None else await aws._queue_of(dead_letter_queue)
        compiled, _ = check_subscription(
            topic_fifo=self.name.endswith(".fifo"),
            queue_fifo=target.fifo,
            raw_message_delivery=False if raw_message_delivery is None else raw_message_delivery,
            filter_policy=filter_policy,
            filter_policy_scope=(
                "MessageAttributes" if filter_policy_scope is None else filter_policy_scope
            ),
            dead_letter_queue_fifo=None if dlq is None else dlq.fifo,
        )
        attributes: dict[str, str] = {}
        if raw_message_delivery is not None:
            attributes["RawMessageDelivery"] = bool_text(raw_message_delivery)
        if filter_policy is not None:
            attributes["FilterPolicy"] = (
                "{}" if compiled is None else json.dumps(dict(compiled.source))
            )
        if filter_policy_scope is not None:
            attributes["FilterPolicyScope"] = filter_policy_scope
        if dlq is not None:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq.arn})
        granted = [target] if dlq is None else [target, dlq]
        undo = [await allow_topic(aws, q, self.arn) for q in granted]
        try:
            with aws.call():
                response = await aws.sns.subscribe(
                    TopicArn=self.arn,
                    Protocol="sqs",
                    Endpoint=target.arn,
                    Attributes=attributes,
                    ReturnSubscriptionArn=True,
                )
        except BaseException:
            with anyio.CancelScope(shield=True):
                for grant, previous in zip(granted, undo, strict=True):
                    if previous is not None:
                        await restore_policy(aws, grant, previous)
            raise
        subscription = AwsSubscription(
            aws,
            response["SubscriptionArn"],
            {"TopicArn": self.arn, "Endpoint": target.arn, "Protocol": "sqs"},
        )
        await subscription.get_attributes()
        return subscription

    async def subscriptions(self) -> list[Subscription]:
        """ListSubscriptionsByTopic (SQS subscriptions), then their attributes."""
        aws = self._aws
        listed: list[dict[str, str]] = []
        token: str | None = None
        while True:
            request: dict[str, str] = {"TopicArn": self.arn}
            if token:
                request["NextToken"] = token
            with aws.call():
                page = await aws.sns.list_subscriptions_by_topic(**request)
            listed.extend(
                {str(k): str(v) for k, v in s.items()}
                for s in page.get("Subscriptions", [])
                # a pending confirmation (another account's queue) has no ARN yet
                if s.get("Protocol") == "sqs" and s.get("SubscriptionArn", "").startswith("arn:")
            )
            token = page.get("NextToken")
            if not token:
                break
        out: list[Subscription] = []
        for entry in listed:
            subscription = AwsSubscription(aws, entry["SubscriptionArn"], entry)
            await subscription.get_attributes()
            out.append(subscription)
        return out

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
        """Publish (the message and attributes checked by the local rules first)."""
        check_message(message)
        check_message_structure(message, message_structure)
        request = _given(
            TopicArn=self.arn,
            Message=message,
            MessageAttributes=attributes_to_aws(message_attributes, sns=True),
            Subject=subject,
            MessageGroupId=message_group_id,
            MessageDeduplicationId=message_deduplication_id,
            MessageStructure=message_structure,
        )
        with self._aws.call():
            response = await self._aws.sns.publish(**request)
        return PublishResult(response["MessageId"], response.get("SequenceNumber"))

    # -------------------------------------------- publish batches, tags, paging

    async def publish_batch(
        self, entries: Sequence[PublishBatchEntry | str]
    ) -> BatchResult[PublishBatchResultEntry]:
        """PublishBatch (the ids, messages, attributes and total size checked by the
        local rules first; the FIFO rules are left to SNS)."""
        items = [
            PublishBatchEntry(str(index), entry) if isinstance(entry, str) else entry
            for index, entry in enumerate(entries)
        ]
        check_publish_batch_ids([item.id for item in items])
        request_entries = []
        total = 0
        for item in items:
            _, size = check_message(item.message)
            check_message_structure(item.message, item.message_structure)
            aws_attributes = attributes_to_aws(item.message_attributes, sns=True)
            if item.message_attributes:
                try:
                    size += attributes_size(
                        {
                            name: to_attribute_value(name, value, allow_array=True)
                            for name, value in item.message_attributes.items()
                        }
                    )
                except InvalidParameter as error:  # pragma: no cover - refused above
                    raise ParameterValueInvalid(error.message) from None
            total += size
            request_entries.append(
                _given(
                    Id=item.id,
                    Message=item.message,
                    Subject=item.subject,
                    MessageAttributes=aws_attributes,
                    MessageGroupId=item.message_group_id,
                    MessageDeduplicationId=item.message_deduplication_id,
                    MessageStructure=item.message_structure,
                )
            )
        if total > MAX_PUBLISH_BYTES:
            raise BatchRequestTooLong(
                "The length of all the messages put together is more than the limit."
            )
        with self._aws.call():
            response = await self._aws.sns.publish_batch(
                TopicArn=self.arn,
                PublishBatchRequestEntries=request_entries,  # type: ignore[arg-type]
            )
        return BatchResult(
            successful=[
                PublishBatchResultEntry(ok["Id"], ok["MessageId"], ok.get("SequenceNumber"))
                for ok in response.get("Successful", [])
            ],
            failed=[_failure(f) for f in response.get("Failed", [])],
        )

    async def tag(self, tags: Mapping[str, str]) -> None:
        """TagResource (the tags checked by the local rules first)."""
        tagged({}, tags, resource=self.arn, sns=True)
        with self._aws.call():
            await self._aws.sns.tag_resource(
                ResourceArn=self.arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )

    async def untag(self, keys: Iterable[str]) -> None:
        """UntagResource."""
        wanted = list(keys) if not isinstance(keys, str) else keys
        untagged({}, wanted, sns=True)
        with self._aws.call():
            await self._aws.sns.untag_resource(ResourceArn=self.arn, TagKeys=list(wanted))

    async def list_tags(self) -> dict[str, str]:
        """ListTagsForResource."""
        with self._aws.call():
            response = await self._aws.sns.list_tags_for_resource(ResourceArn=self.arn)
        return {tag["Key"]: tag.get("Value", "") for tag in response.get("Tags", [])}

    async def subscriptions_page(self, *, next_token: str | None = None) -> Page[Subscription]:
        """ListSubscriptionsByTopic (one page; its SQS subscriptions only)."""
        aws = self._aws
        request: dict[str, str] = {"TopicArn": self.arn}
        if next_token is not None:
            request["NextToken"] = next_token
        with aws.call():
            page = await aws.sns.list_subscriptions_by_topic(**request)
        return Page(
            await sqs_subscriptions(aws, page.get("Subscriptions", [])), page.get("NextToken")
        )

    async def get_attributes(self) -> dict[str, str]:
        """GetTopicAttributes."""
        with self._aws.call():
            response = await self._aws.sns.get_topic_attributes(TopicArn=self.arn)
        return dict(response.get("Attributes", {}))

    async def delete(self) -> None:
        """DeleteTopic."""
        await self._aws.delete_topic(self)


async def allow_topic(aws: AwsBackend, queue: AwsQueue, topic_arn: str) -> str | None:
    """Add a statement letting the topic send to the queue, unless one is there.

    SNS can deliver to a queue only if the queue's access policy allows the topic;
    other statements of the policy are kept. Returns the policy as it was before
    (``""`` for none) if it was changed, None if it already allowed the topic.

    The policy is read, changed and written back: two processes subscribing the
    same queue at the same moment can lose one statement (SQS has no conditional
    write), and SNS then cannot deliver from that topic.
    """
    attributes = await queue._attributes("Policy")
    before = attributes.get("Policy", "")
    if allows_sns_delivery(before or None, queue.arn, topic_arn):
        return None
    policy = json.loads(before) if before else {}
    statements = policy.setdefault("Statement", [])
    if isinstance(statements, dict):
        statements = policy["Statement"] = [statements]
    policy.setdefault("Version", "2012-10-17")
    digest = hashlib.sha256(topic_arn.encode()).hexdigest()[:16]
    statements.append(sns_delivery_statement(queue.arn, topic_arn, f"eventbus-sns-{digest}"))
    with aws.call():
        await aws.sqs.set_queue_attributes(
            QueueUrl=queue.url, Attributes={"Policy": json.dumps(policy)}
        )
    return before


async def sqs_subscriptions(
    aws: AwsBackend, listed: Iterable[Mapping[str, Any]]
) -> list[Subscription]:
    """Handles on the SQS subscriptions of a listing, their attributes read
    (GetSubscriptionAttributes each).

    A pending confirmation (another account's queue) has no ARN yet, and is left out.
    """
    out: list[Subscription] = []
    for entry in listed:
        fields = {str(k): str(v) for k, v in entry.items()}
        if fields.get("Protocol") == "sqs" and fields.get("SubscriptionArn", "").startswith("arn:"):
            subscription = AwsSubscription(aws, fields["SubscriptionArn"], fields)
            await subscription.get_attributes()
            out.append(subscription)
    return out


async def restore_policy(aws: AwsBackend, queue: AwsQueue, policy: str) -> None:
    """Put a queue's access policy back as :func:`allow_topic` found it."""
    with aws.call():
        await aws.sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={"Policy": policy})
