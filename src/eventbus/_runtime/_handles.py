"""Queue, Topic and Subscription: the handles a Bus hands out, whatever its backend.

These are abstract: the local backend implements them with the core
(``_local_handles``), the AWS backend with SNS and SQS calls (``eventbus.aws``).
User code and the :class:`~eventbus.Consumer` see only what is declared here, so
they run unchanged on either.

Every operation is async, because a durable or remote backend does I/O behind the
same names.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
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
from .._core._errors import UnsupportedOperation
from .._core._filter_policy import FilterPolicyScope
from .._core._message import PeekedMessage, QueueStatistics, ReceivedMessage, SendResult
from .._core._paging import Page
from .._core._settings import DeduplicationScope, FifoThroughputLimit
from .._models import NOT_GIVEN, NotGiven, RedriveAllowPolicy, RedrivePolicy, given_options

if TYPE_CHECKING:
    from ._move import MoveTask, MoveTaskStatus


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a publish returns: the SNS message id."""

    message_id: str
    sequence_number: str | None = None


class Queue(abc.ABC):
    """A handle on one SQS queue.

    Attributes:
        name: the queue's name.
        url: its URL.
        arn: its ARN.
    """

    __slots__ = ()

    name: str
    url: str
    arn: str

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @property
    def fifo(self) -> bool:
        """Whether this is a FIFO queue (its name ends in ``.fifo``)."""
        return self.name.endswith(".fifo")

    @abc.abstractmethod
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

    @abc.abstractmethod
    async def send_batch(
        self, entries: Sequence[SendBatchEntry | str]
    ) -> BatchResult[SendBatchResultEntry]:
        """Send up to 10 messages; each succeeds or fails on its own.

        A plain ``str`` entry is a body whose entry id is its index in ``entries``.
        """

    @abc.abstractmethod
    async def receive(
        self,
        *,
        max_messages: int = 1,
        wait_time_seconds: float | None = None,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        """Receive up to ``max_messages`` messages, waiting up to ``wait_time_seconds``.

        A long poll returns as soon as at least one message is available, or an
        empty list when the wait ends. The local backend answers a short poll (wait
        0) with every available message up to ``max_messages``; SQS may return
        fewer.

        Args:
            max_messages: 1-10.
            wait_time_seconds: 0-20; the queue's ``receive_message_wait_time_seconds``
                when omitted.
            visibility_timeout: 0-43200; the queue's when omitted.

        Raises:
            EventBusError: ``InvalidParameterValue`` for an argument out of range,
                ``QueueDoesNotExist`` if the queue was deleted.
        """

    @abc.abstractmethod
    async def delete(self, receipt_handle: str) -> None:
        """Delete the message a receipt handle names (deleting twice succeeds).

        Raises:
            EventBusError: ``ReceiptHandleIsInvalid`` if the handle is not this queue's.
        """

    @abc.abstractmethod
    async def delete_batch(self, entries: Sequence[DeleteBatchEntry | str]) -> BatchResult[str]:
        """Delete up to 10 messages; a plain ``str`` entry is a receipt handle whose
        entry id is its index."""

    @abc.abstractmethod
    async def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        """Hide a received message for ``visibility_timeout`` more seconds (0: now visible).

        Raises:
            EventBusError: ``ReceiptHandleIsInvalid`` or ``InvalidParameterValue``.
        """

    @abc.abstractmethod
    async def change_visibility_batch(
        self, entries: Sequence[ChangeVisibilityBatchEntry | tuple[str, int]]
    ) -> BatchResult[str]:
        """Change the visibility of up to 10 messages; a ``(receipt_handle, timeout)``
        tuple entry gets its index as entry id."""

    @abc.abstractmethod
    async def purge(self) -> int | None:
        """Delete every message, in flight and delayed included.

        Returns how many were deleted on the local backend; None on AWS, which does
        not say (and deletes asynchronously, within 60 seconds).

        Raises:
            EventBusError: ``PurgeQueueInProgress`` within 60 seconds of the last purge.
        """

    @abc.abstractmethod
    async def statistics(self) -> QueueStatistics:
        """How many messages are visible, in flight and delayed now.

        Exact on the local backend; on AWS these are SQS's approximate counts, and
        the cumulative counters are zero.
        """

    @abc.abstractmethod
    async def get_attributes(self) -> dict[str, str]:
        """Every attribute under its AWS name, as GetQueueAttributes(All) returns them."""

    async def set_attributes(
        self,
        /,
        *,
        visibility_timeout: int | None = None,
        delay_seconds: int | None = None,
        message_retention_period: int | None = None,
        maximum_message_size: int | None = None,
        receive_message_wait_time_seconds: int | None = None,
        redrive_policy: RedrivePolicy | NotGiven | None = NOT_GIVEN,
        redrive_allow_policy: RedriveAllowPolicy | NotGiven | None = NOT_GIVEN,
        fifo_queue: bool | None = None,
        content_based_deduplication: bool | None = None,
        deduplication_scope: DeduplicationScope | None = None,
        fifo_throughput_limit: FifoThroughputLimit | None = None,
        kms_master_key_id: str | None = None,
        kms_data_key_reuse_period_seconds: int | None = None,
        sqs_managed_sse_enabled: bool | None = None,
        policy: str | Mapping[str, Any] | NotGiven | None = NOT_GIVEN,
    ) -> None:
        """Change the attributes given, by the same keywords as ``Bus.create_queue``.

        An option left at None is not changed; ``redrive_policy=None``,
        ``redrive_allow_policy=None`` and ``policy=None`` (or ``""``) remove those
        policies, and
        ``kms_master_key_id=""`` removes the KMS key (as AWS's empty values do).
        ``fifo_queue`` is refused on a standard queue ("Unknown Attribute
        FifoQueue.", as AWS), and changing a FIFO queue's type is refused.

        Raises:
            EventBusError: as ``Bus.create_queue``; nothing changes.
        """
        attributes = given_options(
            visibility_timeout=visibility_timeout,
            delay_seconds=delay_seconds,
            message_retention_period=message_retention_period,
            maximum_message_size=maximum_message_size,
            receive_message_wait_time_seconds=receive_message_wait_time_seconds,
            fifo_queue=fifo_queue,
            content_based_deduplication=content_based_deduplication,
            deduplication_scope=deduplication_scope,
            fifo_throughput_limit=fifo_throughput_limit,
            kms_master_key_id=kms_master_key_id,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            sqs_managed_sse_enabled=sqs_managed_sse_enabled,
        )
        if redrive_policy is not NOT_GIVEN:
            attributes["redrive_policy"] = redrive_policy
        if redrive_allow_policy is not NOT_GIVEN:
            attributes["redrive_allow_policy"] = redrive_allow_policy
        if policy is not NOT_GIVEN:
            attributes["policy"] = policy
        await self._set_attributes(attributes)

    @abc.abstractmethod
    async def _set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """SetQueueAttributes of the attributes given (snake_case keys)."""

    @abc.abstractmethod
    async def delete_queue(self) -> None:
        """Delete this queue and every message in it."""

    async def peek(self, *, max_messages: int = 10) -> list[PeekedMessage]:
        """Look at up to ``max_messages`` messages in arrival order, changing nothing.

        Not an SQS call: for inspection tools and tests, on the local backend only.

        Raises:
            EventBusError: ``UnsupportedOperation`` on a backend without it.
        """
        raise UnsupportedOperation(f"peek is not offered by the backend of {self.name!r}.")

    async def start_message_move_task(
        self,
        *,
        destination: Queue | str | None = None,
        max_number_of_messages_per_second: int | None = None,
    ) -> MoveTask:
        """Move this dead-letter queue's messages back (``StartMessageMoveTask``).

        Each message goes back to the queue it was dead-lettered from, or to
        ``destination``, as a new message (new id, receive count from zero), at most
        ``max_number_of_messages_per_second`` (1-500) or as fast as it can.

        Raises:
            EventBusError: ``InvalidParameterValue`` (this queue is no queue's DLQ, a
                task is running already, a rate outside 1-500, a destination of the
                other type), ``ResourceNotFoundException`` (no such destination),
                ``UnsupportedOperation`` on a backend without move tasks.
        """
        raise UnsupportedOperation(
            f"message move tasks are not offered by the backend of {self.name!r}."
        )

    async def list_message_move_tasks(self, *, max_results: int = 1) -> list[MoveTaskStatus]:
        """The most recent move tasks of this queue (1-10), newest first.

        Raises:
            EventBusError: ``UnsupportedOperation`` on a backend without move tasks.
        """
        raise UnsupportedOperation(
            f"message move tasks are not offered by the backend of {self.name!r}."
        )

    # ---------------------------- tags, permissions and dead-letter source queues

    async def tag(self, tags: Mapping[str, str]) -> None:
        """Add tags, or replace those with the same keys (SQS ``TagQueue``).

        Keys are 1-128 characters, values 0-256, of letters, digits, white space and
        ``_ . : / = + - @``, not starting with ``aws:``; a queue keeps at most 50.

        Raises:
            EventBusError: ``InvalidParameterValue``; no tag changed.
        """
        raise UnsupportedOperation(f"tags are not offered by the backend of {self.name!r}.")

    async def untag(self, keys: Iterable[str]) -> None:
        """Remove the tags with these keys (SQS ``UntagQueue``); absent keys are no error.

        Raises:
            EventBusError: ``InvalidParameterValue`` for no keys or a key over 128
                characters.
        """
        raise UnsupportedOperation(f"tags are not offered by the backend of {self.name!r}.")

    async def list_tags(self) -> dict[str, str]:
        """The queue's tags (SQS ``ListQueueTags``)."""
        raise UnsupportedOperation(f"tags are not offered by the backend of {self.name!r}.")

    async def add_permission(
        self, label: str, account_ids: Sequence[str], actions: Sequence[str]
    ) -> None:
        """Let other accounts call ``actions`` on this queue (SQS ``AddPermission``).

        Adds the statement ``label`` to the queue's ``Policy``, as AWS builds it:
        ``{"Sid": label, "Effect": "Allow", "Principal": {"AWS":
        "arn:aws:iam::<account>:root"}, "Action": "SQS:<action>", "Resource":
        <queue ARN>}`` in a policy with ``"Id": "<queue ARN>/SQSDefaultPolicy"``.

        Args:
            label: 1-80 of ``[A-Za-z0-9_-]``, unique in the queue's policy.
            account_ids: 12-digit account ids, at least one.
            actions: 1-7 action names without the ``SQS:`` prefix (``SendMessage``,
                ``ReceiveMessage``, ``DeleteMessage``, ``ChangeMessageVisibility``,
                ``GetQueueAttributes``, ``GetQueueUrl``,
                ``ListDeadLetterSourceQueues``, ``PurgeQueue`` or ``*``).

        Raises:
            EventBusError: ``InvalidParameterValue`` (a label used already, a bad
                account or action), ``MissingParameter`` (no actions), ``OverLimit``
                (more than seven actions); the policy stays as it was.
        """
        raise UnsupportedOperation(f"permissions are not offered by the backend of {self.name!r}.")

    async def remove_permission(self, label: str) -> None:
        """Remove the statement ``label`` from the queue's policy (SQS
        ``RemovePermission``); removing the last one removes the policy.

        Raises:
            EventBusError: ``InvalidParameterValue`` if no statement has this label.
        """
        raise UnsupportedOperation(f"permissions are not offered by the backend of {self.name!r}.")

    async def list_dead_letter_source_queues(self) -> list[Queue]:
        """Every queue whose redrive policy names this one as its dead-letter queue,
        sorted by name (SQS ``ListDeadLetterSourceQueues``, every page)."""
        queues: list[Queue] = []
        token: str | None = None
        while True:
            page = await self.list_dead_letter_source_queues_page(
                max_results=1000, next_token=token
            )
            queues.extend(page.items)
            token = page.next_token
            if token is None:
                return sorted(queues, key=lambda q: q.name)

    async def list_dead_letter_source_queues_page(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[Queue]:
        """One page of ``ListDeadLetterSourceQueues``.

        Args:
            max_results: 1-1000; without it up to 1000 queues come and no
                ``next_token`` (as SQS: a token comes only with ``MaxResults``).
            next_token: the ``next_token`` of the page before.

        Raises:
            EventBusError: ``InvalidParameterValue`` for ``max_results`` outside
                1-1000 or a token this call did not return.
        """
        raise UnsupportedOperation(
            f"ListDeadLetterSourceQueues is not offered by the backend of {self.name!r}."
        )

    # What the consumer needs beyond the public calls: settling a batch in as few
    # calls as the backend allows, and the facts it scales and checks by.

    _long_poll_seconds: int = 20
    """How long a consumer's receives wait for messages (SQS's longest long poll)."""

    _receive_cancel_safe: bool = True
    """Whether a receive may be cancelled without losing what it took: true where the
    receive happens in this process; a remote service keeps what a cancelled request
    took hidden until its visibility timeout."""

    @abc.abstractmethod
    def _visibility_timeout(self) -> int:
        """The queue's visibility timeout (on AWS: as read when the handle was made)."""

    @abc.abstractmethod
    async def _has_backlog(self) -> bool:
        """Whether messages are waiting to be received (approximate on AWS)."""

    @abc.abstractmethod
    async def _delete_received(self, receipt_handles: Sequence[str]) -> Collection[str]:
        """Delete received messages; returns the handles that could not be deleted."""

    @abc.abstractmethod
    async def _release_received(self, receipt_handles: Sequence[str]) -> None:
        """Make received messages visible again at once, ignoring stale handles.

        The consumer calls it from cleanup code, shielded from cancellation.
        """


class Subscription(abc.ABC):
    """A handle on a topic's subscription of a queue.

    Attributes:
        arn: the subscription's ARN.
        topic_arn: its topic's ARN.
        endpoint: the subscribed queue's ARN.
    """

    __slots__ = ()

    arn: str
    topic_arn: str
    endpoint: str

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.arn}>"

    @property
    @abc.abstractmethod
    def raw_message_delivery(self) -> bool:
        """Whether the queue receives the bare message instead of the JSON envelope."""

    @property
    @abc.abstractmethod
    def filter_policy(self) -> dict[str, Any] | None:
        """The filter policy as JSON-able data, or None (every message matches)."""

    @property
    @abc.abstractmethod
    def filter_policy_scope(self) -> str:
        """``MessageAttributes`` or ``MessageBody``."""

    @property
    @abc.abstractmethod
    def dead_letter_queue_arn(self) -> str | None:
        """The ARN of the subscription's dead-letter queue (its ``RedrivePolicy``)."""

    @abc.abstractmethod
    async def get_attributes(self) -> dict[str, str]:
        """The subscription's attributes under their AWS names."""

    @abc.abstractmethod
    async def set_filter_policy(
        self, filter_policy: Mapping[str, Any] | str | None, *, scope: str | None = None
    ) -> None:
        """Replace the filter policy (None or ``{}`` removes it), and its scope if given.

        Takes effect for the next publish on the local backend (AWS may take up to
        15 minutes).

        Raises:
            EventBusError: ``InvalidParameter`` for a bad policy or scope; the
                subscription stays as it was.
        """

    @abc.abstractmethod
    async def set_raw_message_delivery(self, raw_message_delivery: bool) -> None:
        """Switch raw message delivery on or off.

        Raises:
            EventBusError: ``InvalidParameter`` unless given a bool.
        """

    @abc.abstractmethod
    async def set_dead_letter_queue(self, queue: Queue | str | None) -> None:
        """Send deliveries the queue refuses to ``queue`` (None: drop them, the default).

        Raises:
            EventBusError: ``InvalidParameter`` (a DLQ of the other type than the
                topic), ``QueueDoesNotExist``.
        """

    @abc.abstractmethod
    async def unsubscribe(self) -> None:
        """Remove the subscription (again: no error)."""


class Topic(abc.ABC):
    """A handle on one SNS topic.

    Attributes:
        name: the topic's name.
        arn: its ARN.
    """

    __slots__ = ()

    name: str
    arn: str

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @abc.abstractmethod
    async def subscribe(
        self,
        queue: Queue | str,
        *,
        raw_message_delivery: bool | None = None,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: FilterPolicyScope | None = None,
        dead_letter_queue: Queue | str | None = None,
    ) -> Subscription:
        """Subscribe a queue (a handle, or its name, URL or ARN), or return its
        existing subscription.

        None (the default) means "not given": a new subscription takes SNS's
        defaults (the JSON envelope, no filter policy, scope ``MessageAttributes``,
        no dead-letter queue); subscribing the queue again returns its subscription
        if every setting given equals the present one, as SNS does.

        On AWS this also adds a statement to the queue's access policy that lets
        this topic send to it, as SNS requires (SNS itself adds none). The local
        backend adds none: with ``Bus(enforce_queue_policies=True)`` deliveries
        arrive only once the queue's ``Policy`` allows the topic.

        Args:
            queue: the queue to deliver to.
            raw_message_delivery: deliver the bare message and its attributes.
            filter_policy: which messages to deliver (a dict or its JSON).
            filter_policy_scope: ``MessageAttributes`` or ``MessageBody``.
            dead_letter_queue: where deliveries the queue refuses go; a FIFO
                subscription (a FIFO queue on a FIFO topic) needs a FIFO one.

        Raises:
            EventBusError: ``InvalidParameter`` (a bad policy or setting, a FIFO queue
                on a standard topic, an existing subscription with a different value
                for a setting given), ``QueueDoesNotExist``.
        """

    @abc.abstractmethod
    async def subscriptions(self) -> list[Subscription]:
        """Every subscription of this topic."""

    @abc.abstractmethod
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
        """Publish a message to every subscribed queue whose filter policy matches.

        Args:
            message: 1 byte to 256 KiB (attributes count). With
                ``message_structure="json"``, a JSON object of one message per
                protocol: SQS subscriptions get its ``sqs`` entry, or else its
                ``default`` entry, which is required.
            subject: optional, 1-99 printable characters.
            message_attributes: plain values (str, int/float/Decimal, bytes, a list
                for ``String.Array``) or ``MessageAttributeValue``.
            message_group_id: required on FIFO topics; forwarded to standard queues.
            message_deduplication_id: FIFO topics only.
            message_structure: ``"json"`` for a message per protocol, or None.

        Raises:
            EventBusError: ``InvalidParameter`` or ``ParameterValueInvalid``; nothing
                was delivered.
        """

    # -------------------------------------------- publish batches, tags, paging

    async def publish_batch(
        self, entries: Sequence[PublishBatchEntry | str]
    ) -> BatchResult[PublishBatchResultEntry]:
        """Publish up to 10 messages in one call (SNS ``PublishBatch``).

        A plain ``str`` entry is a message whose entry id is its index. Each entry
        takes the arguments of :meth:`publish`; on a FIFO topic each needs its group
        id (and a deduplication id without content-based deduplication), and the
        entries are published in order. AWS refuses the whole request when an entry
        is invalid, so an invalid entry raises and nothing is published; per-entry
        failures (``failed``) come only from AWS itself.

        Raises:
            EventBusError: ``EmptyBatchRequest``, ``TooManyEntriesInBatchRequest``
                (over 10), ``BatchEntryIdsNotDistinct``, ``InvalidBatchEntryId``
                (over 80 characters, or other than ``[A-Za-z0-9_-]``),
                ``BatchRequestTooLong`` (over 256 KiB together), and the errors of
                :meth:`publish` for an invalid entry.
        """
        raise UnsupportedOperation(f"PublishBatch is not offered by the backend of {self.name!r}.")

    async def tag(self, tags: Mapping[str, str]) -> None:
        """Add tags, or replace those with the same keys (SNS ``TagResource``).

        The rules of :meth:`Queue.tag`; beyond 50 tags: ``TagLimitExceeded``.

        Raises:
            EventBusError: ``InvalidParameter``, ``TagLimitExceeded``; no tag changed.
        """
        raise UnsupportedOperation(f"tags are not offered by the backend of {self.name!r}.")

    async def untag(self, keys: Iterable[str]) -> None:
        """Remove the tags with these keys (SNS ``UntagResource``).

        Raises:
            EventBusError: ``InvalidParameter`` for no keys or a key over 128 characters.
        """
        raise UnsupportedOperation(f"tags are not offered by the backend of {self.name!r}.")

    async def list_tags(self) -> dict[str, str]:
        """The topic's tags (SNS ``ListTagsForResource``)."""
        raise UnsupportedOperation(f"tags are not offered by the backend of {self.name!r}.")

    async def subscriptions_page(self, *, next_token: str | None = None) -> Page[Subscription]:
        """One page (up to 100, as SNS) of ``ListSubscriptionsByTopic``.

        Raises:
            EventBusError: ``InvalidParameter`` for a token this call did not return.
        """
        raise UnsupportedOperation(f"paged listing is not offered by the backend of {self.name!r}.")

    @abc.abstractmethod
    async def get_attributes(self) -> dict[str, str]:
        """The topic's attributes under their AWS names."""

    @abc.abstractmethod
    async def delete(self) -> None:
        """Delete this topic and its subscriptions."""
