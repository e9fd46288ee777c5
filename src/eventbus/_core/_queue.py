"""The queue machine: every state change of a standard SQS queue's messages lives here.

A message moves through the states of :class:`MessageState`; the table
``_ALLOWED`` says which moves exist, and :meth:`QueueMachine._transition` is the one
place that makes them, so "can an in-flight message become delayed?" is answered
by reading one table (it cannot).

Indexes, so that no operation scans the queue:

* ``_visible``: a deque of visible messages in arrival order;
* ``_delayed`` and ``_in_flight``: heaps keyed by the moment the message becomes
  visible;
* ``_retention``: a heap keyed by enqueue time, for expiry;
* ``_messages``: a dict from message id to the live record; receipt handles name
  the message, so they need no index of their own.

Index entries are never removed in place. Each carries the record's ``epoch`` at
the time it was made; a transition bumps the epoch, which makes every older entry
stale, and stale entries are skipped when they come up (and swept out when they
outnumber the live ones). Every operation first calls :meth:`_advance`, which makes
due delayed and in-flight messages visible and expires old ones, so the state is
exact whenever it is observed.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from hashlib import md5
from itertools import islice
from typing import Final

from ._attributes import (
    MessageAttributeValue,
    attributes_size,
    check_body_characters,
    md5_of_attributes,
    to_attribute_value,
    validate_sqs_attributes,
)
from ._batch import (
    MAX_BATCH_BYTES,
    BatchFailure,
    BatchResult,
    ChangeVisibilityBatchEntry,
    DeleteBatchEntry,
    SendBatchEntry,
    SendBatchResultEntry,
    check_entry_ids,
    message_too_long,
)
from ._changes import Changes
from ._errors import (
    BatchRequestTooLong,
    EventBusError,
    InvalidParameterValue,
    MissingParameter,
    PurgeQueueInProgress,
    ReceiptHandleIsInvalid,
    echo,
)
from ._events import (
    Event,
    MessageDeadLettered,
    MessageDeleted,
    MessageExpired,
    MessageReceived,
    MessageSent,
    QueuePurged,
)
from ._ids import IdSource
from ._message import (
    EMPTY_ATTRIBUTES,
    EMPTY_SYSTEM,
    MessageState,
    PeekedMessage,
    QueueStatistics,
    ReceivedMessage,
    SendResult,
    StoredMessage,
    received_message,
)
from ._names import DEDUPLICATION_INTERVAL, FIFO_ID, content_deduplication_id
from ._order import FifoOrder, Order, StandardOrder
from ._settings import MAX_VISIBILITY_TIMEOUT, QueueSettings

DELAYED = MessageState.DELAYED
VISIBLE = MessageState.VISIBLE
IN_FLIGHT = MessageState.IN_FLIGHT
DELETED = MessageState.DELETED
DEAD_LETTERED = MessageState.DEAD_LETTERED
EXPIRED = MessageState.EXPIRED

#: Every transition a message may make. Final states have none.
_ALLOWED: Final[dict[MessageState, frozenset[MessageState]]] = {
    DELAYED: frozenset({VISIBLE, EXPIRED}),
    VISIBLE: frozenset({IN_FLIGHT, DELETED, DEAD_LETTERED, EXPIRED}),
    IN_FLIGHT: frozenset({IN_FLIGHT, VISIBLE, DELETED, EXPIRED}),
    DELETED: frozenset(),
    DEAD_LETTERED: frozenset(),
    EXPIRED: frozenset(),
    MessageState.PURGED: frozenset(),
}
_LIVE: Final = frozenset({DELAYED, VISIBLE, IN_FLIGHT})

LOCAL_SENDER_ID: Final = "AIDAEVENTBUSLOCAL0000"
"""The ``SenderId`` of every message sent through the local bus."""

MAX_DELAY_SECONDS: Final = 900
PURGE_INTERVAL: Final = 60.0
_SEQUENCE_BASE: Final = 18_849_496_460_467_696_128
_SWEEP_SLACK: Final = 1024

_HeapEntry = tuple[float, int, int, StoredMessage]


class IllegalTransition(AssertionError):
    """Raised when the queue machine is asked for a move its table does not allow.

    This is a bug in the library, never the caller's fault.
    """


class CheckedBody:
    """A message body that passed SQS's body checks, with its digest and size.

    A topic fans one body out to several queues; the broker checks it once and
    hands the same value to each of them (the checks do not depend on the queue).

    Raises:
        InvalidParameterValue: the body is not a str.
        MissingParameter: the body is empty.
        InvalidMessageContents: it holds a character SQS refuses.
    """

    __slots__ = ("body", "md5", "size")

    def __init__(self, body: object) -> None:
        if not isinstance(body, str):
            raise InvalidParameterValue(f"MessageBody must be a str, not {type(body).__name__}.")
        if not body:
            raise MissingParameter("The request must contain the parameter MessageBody.")
        check_body_characters(body)
        self.body = body
        encoded = body.encode()
        self.size = len(encoded)
        """The body's size in bytes (UTF-8)."""
        self.md5 = md5(encoded, usedforsecurity=False).hexdigest()
        """The hex MD5 of the UTF-8 body, as SQS reports it."""

    @classmethod
    def trusted(cls, body: str, size: int, digest: str) -> CheckedBody:
        """A body whose checks the caller made, with its size and hex MD5 (an SNS
        envelope checks and hashes the parts its subscriptions share only once)."""
        checked = object.__new__(cls)
        checked.body = body
        checked.size = size
        checked.md5 = digest
        return checked


class _Prepared:
    """A validated send, ready to enqueue."""

    __slots__ = (
        "attributes",
        "body",
        "dedup_key",
        "delay",
        "group_id",
        "md5_attributes",
        "md5_body",
        "size",
        "system",
    )

    def __init__(
        self,
        body: CheckedBody,
        attributes: Mapping[str, MessageAttributeValue],
        delay: int,
        size: int,
        system: dict[str, str] | None,
        group_id: str | None,
        dedup_key: tuple[str, str] | None,
    ) -> None:
        self.body = body.body
        self.attributes = attributes
        self.delay = delay
        self.size = size
        self.system = system
        self.group_id = group_id
        self.dedup_key = dedup_key
        self.md5_body = body.md5
        self.md5_attributes = md5_of_attributes(attributes)


MAX_WAIT_TIME_SECONDS = 20
"""The longest long poll SQS allows."""


def invalid_value(parameter: str, value: object, reason: str) -> InvalidParameterValue:
    """An InvalidParameterValue worded as SQS words it."""
    return InvalidParameterValue(
        f"Value {echo(value)} for parameter {parameter} is invalid. Reason: {reason}"
    )


def check_visibility_timeout(value: object) -> int:
    """Return ``value`` if it is a valid visibility timeout, else raise."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 0 <= value <= MAX_VISIBILITY_TIMEOUT
    ):
        raise invalid_value(
            "VisibilityTimeout", value, "Must be an integer between 0 and 43200, if provided."
        )
    return value


def check_max_messages(value: object) -> int:
    """Return ``value`` if it is a valid ``MaxNumberOfMessages`` (1-10), else raise."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise invalid_value("MaxNumberOfMessages", value, "Must be between 1 and 10, if provided.")
    return value


def check_wait_time(value: object) -> float:
    """Return ``value`` if it is a valid ``WaitTimeSeconds`` (0-20), else raise."""
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not 0 <= value <= MAX_WAIT_TIME_SECONDS
    ):
        raise invalid_value("WaitTimeSeconds", value, "Must be >= 0 and <= 20, if provided.")
    return value


class QueueMachine:
    """An SQS queue, standard or FIFO, as a synchronous state machine driven with ``now``.

    FIFO queues differ in three places: the order a receive takes messages in
    (:class:`FifoOrder`: per group, a group blocked while its head is in flight), the
    send rules (group id required, 5-minute deduplication, no per-message delay)
    and stale receipt handles, which fail instead of succeeding.

    Args:
        name: the queue's name.
        arn: the queue's ARN.
        settings: its validated attributes.
        ids: where message ids and receipt-handle tokens come from.
        events: the list this queue records what happened in.
        trace: record per-message events too (sent, received, deleted).
    """

    def __init__(
        self,
        name: str,
        arn: str,
        settings: QueueSettings,
        *,
        ids: IdSource,
        events: list[Event],
        trace: bool = False,
        created_at: float = 0.0,
        uid: str | None = None,
        changes: Changes | None = None,
    ) -> None:
        self.name = name
        self.arn = arn
        self.settings = settings
        self.created_at = created_at
        self.last_modified_at = created_at
        self.trace = trace
        self._ids = ids
        self._events = events
        self._uid = ids.token() if uid is None else uid
        self._seq = 0
        self._last_purge: float | None = None
        self._sent = self._received = self._redelivered = self._purged = 0
        self._finished = {DELETED: 0, DEAD_LETTERED: 0, EXPIRED: 0}
        self.fifo = settings.fifo_queue
        self.changes = changes
        """Where durable changes are recorded (None with the in-memory store)."""
        self._reset()

    def _reset(self) -> None:
        self._messages: dict[str, StoredMessage] = {}
        self._order: Order = (
            FifoOrder() if self.fifo else StandardOrder(stamp=self.changes is not None)
        )
        # Deduplication history, as plain strings ("scope\0id" -> "message id\0sequence
        # number"): strings are not tracked by the cyclic garbage collector, so a long
        # history does not make every collection slower.
        self._dedup: dict[str, str] = {}
        self._dedup_expiry: deque[tuple[float, str]] = deque()
        self._delayed: list[_HeapEntry] = []
        self._in_flight: list[_HeapEntry] = []
        self._retention: list[tuple[float, int, StoredMessage]] = []
        self._count = {DELAYED: 0, VISIBLE: 0, IN_FLIGHT: 0}

    # ------------------------------------------------------------------ transitions

    def _transition(
        self, message: StoredMessage, new: MessageState, available_at: float = 0.0
    ) -> None:
        """Move ``message`` to ``new``: the only place a message changes state."""
        old = message.state
        if new not in _ALLOWED[old]:
            raise IllegalTransition(f"{message.message_id}: {old.name} -> {new.name}")
        self._count[old] -= 1
        message.state = new
        message.epoch += 1
        if new is VISIBLE:
            self._count[VISIBLE] += 1
            self._order.became_visible(message, self._count[VISIBLE])
        elif new is IN_FLIGHT:
            self._count[IN_FLIGHT] += 1
            message.available_at = available_at
            self._push(self._in_flight, message, IN_FLIGHT)
        else:
            del self._messages[message.message_id]
            self._finished[new] += 1
            self._order.removed(message)
        changes = self.changes
        if changes is not None:
            changes.message(self.name, message.message_id, message)

    def _push(self, heap: list[_HeapEntry], message: StoredMessage, state: MessageState) -> None:
        heapq.heappush(heap, (message.available_at, message.seq, message.epoch, message))
        if len(heap) > 2 * self._count[state] + _SWEEP_SLACK:
            heap[:] = [e for e in heap if e[2] == e[3].epoch]
            heapq.heapify(heap)

    def _advance(self, now: float) -> None:
        """Make due messages visible, in deadline order, and expire old ones."""
        in_flight, delayed = self._in_flight, self._delayed
        while True:
            if in_flight and in_flight[0][0] <= now:
                heap = in_flight
                if delayed and delayed[0] < in_flight[0]:
                    heap = delayed
            elif delayed and delayed[0][0] <= now:
                heap = delayed
            else:
                break
            _, _, epoch, message = heapq.heappop(heap)
            if message.epoch == epoch:
                self._transition(message, VISIBLE)
        retention = self.settings.message_retention_period
        heap_r = self._retention
        while heap_r and heap_r[0][0] + retention <= now:
            enqueued_at, _, message = heapq.heappop(heap_r)
            if message.state in _LIVE:
                self._transition(message, EXPIRED)
                self._events.append(
                    MessageExpired(self.name, message.message_id, now - enqueued_at)
                )

    def next_deadline(self) -> float | None:
        """The earliest moment at which a message of this queue changes state by itself.

        A delay ending, a visibility timeout running out or a message expiring.
        None when no such moment is pending.
        """
        deadlines: list[float] = []
        for heap in (self._delayed, self._in_flight):
            while heap and heap[0][2] != heap[0][3].epoch:
                heapq.heappop(heap)
            if heap:
                deadlines.append(heap[0][0])
        heap_r = self._retention
        while heap_r and heap_r[0][2].state not in _LIVE:
            heapq.heappop(heap_r)
        if heap_r:
            deadlines.append(heap_r[0][0] + self.settings.message_retention_period)
        return min(deadlines) if deadlines else None

    # ------------------------------------------------------------------------- send

    def _prepare(
        self,
        body: object,
        message_attributes: Mapping[str, object] | None,
        delay_seconds: object,
        message_group_id: object,
        message_deduplication_id: object,
        *,
        batch: bool = False,
    ) -> _Prepared:
        checked = body if isinstance(body, CheckedBody) else CheckedBody(body)
        body = checked.body
        if delay_seconds is None or (self.fifo and delay_seconds == 0):
            delay = self.settings.delay_seconds
        elif self.fifo:
            raise invalid_value(
                "DelaySeconds",
                delay_seconds,
                "The request include parameter that is not valid for this queue type.",
            )
        elif (
            not isinstance(delay_seconds, int)
            or isinstance(delay_seconds, bool)
            or not 0 <= delay_seconds <= MAX_DELAY_SECONDS
        ):
            raise invalid_value(
                "DelaySeconds", delay_seconds, "Must be an integer >= 0 and <= 900, if provided."
            )
        else:
            delay = delay_seconds
        system: dict[str, str] | None = None
        group_id = self._check_group_id(message_group_id)
        if group_id is not None:
            system = {"MessageGroupId": group_id}
        dedup_key = self._dedup_key(body, group_id, message_deduplication_id)
        if dedup_key is not None:
            system = {**(system or {}), "MessageDeduplicationId": dedup_key[1]}
        attributes: Mapping[str, MessageAttributeValue] = EMPTY_ATTRIBUTES
        if message_attributes:
            attributes = {
                name: to_attribute_value(name, value, allow_array=False)
                for name, value in message_attributes.items()
            }
            validate_sqs_attributes(attributes)
            size = checked.size + attributes_size(attributes)
        else:
            size = checked.size
        self._check_size(size, batch=batch)
        return _Prepared(checked, attributes, delay, size, system, group_id, dedup_key)

    def _check_size(self, size: int, *, batch: bool = False) -> None:
        limit = self.settings.maximum_message_size
        if size > limit:
            raise message_too_long(limit, size, batch=batch)

    def _check_group_id(self, message_group_id: object) -> str | None:
        if message_group_id is None:
            if self.fifo:
                raise MissingParameter("The request must contain the parameter MessageGroupId.")
            return None
        if not isinstance(message_group_id, str) or not FIFO_ID.fullmatch(message_group_id):
            raise invalid_value(
                "MessageGroupId",
                message_group_id,
                "MessageGroupId can only include alphanumeric and punctuation characters. "
                "1 to 128 in length.",
            )
        return message_group_id

    def _dedup_key(
        self, body: str, group_id: str | None, message_deduplication_id: object
    ) -> tuple[str, str] | None:
        """The deduplication key of a FIFO send: (scope, deduplication id)."""
        if not self.fifo:
            if message_deduplication_id is not None:
                raise invalid_value(
                    "MessageDeduplicationId",
                    message_deduplication_id,
                    "The request includes a parameter that is not valid for this queue type.",
                )
            return None
        if message_deduplication_id is None:
            if not self.settings.content_based_deduplication:
                raise InvalidParameterValue(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup_id = content_deduplication_id(body)
        elif not isinstance(message_deduplication_id, str) or not FIFO_ID.fullmatch(
            message_deduplication_id
        ):
            raise invalid_value(
                "MessageDeduplicationId",
                message_deduplication_id,
                "MessageDeduplicationId can only include alphanumeric and punctuation "
                "characters. 1 to 128 in length.",
            )
        else:
            dedup_id = message_deduplication_id
        scope = (group_id or "") if self.settings.deduplication_scope == "messageGroup" else ""
        return scope, dedup_id

    def _enqueue(self, prepared: _Prepared, now: float) -> tuple[str, str | None]:
        """Store a prepared send; return its message id and sequence number (FIFO).

        A FIFO send that repeats one within the deduplication interval is accepted
        and not stored: the first message's id and sequence number are returned.
        """
        dedup_key = prepared.dedup_key
        key = None
        if dedup_key is not None:
            key = "\0".join(dedup_key)
            expiry = self._dedup_expiry
            while expiry and expiry[0][0] <= now:
                _, old = expiry.popleft()
                self._dedup.pop(old, None)
            seen = self._dedup.get(key)
            if seen is not None:  # accepted, not delivered again
                first_id, first_number = seen.split("\0")
                return first_id, first_number or None
        message_id = self._ids.message_id()
        self._seq += 1
        if self.changes is not None:
            self.changes.queues.add(self.name)  # the arrival counter is durable state
        sequence_number = None
        if self.fifo:
            sequence_number = str(_SEQUENCE_BASE + self._seq)
            prepared.system = {**(prepared.system or {}), "SequenceNumber": sequence_number}
        if key is not None and dedup_key is not None:
            self._dedup[key] = f"{message_id}\0{sequence_number or ''}"
            self._dedup_expiry.append((now + DEDUPLICATION_INTERVAL, key))
            if self.changes is not None:
                self.changes.dedup.append(
                    (
                        self.name,
                        *dedup_key,
                        message_id,
                        sequence_number or "",
                        now + DEDUPLICATION_INTERVAL,
                    )
                )
        self._store(
            message_id,
            prepared.body,
            prepared.attributes,
            prepared.md5_body,
            prepared.md5_attributes,
            prepared.delay,
            prepared.size,
            prepared.system or EMPTY_SYSTEM,
            prepared.group_id,
            now,
        )
        return message_id, sequence_number

    def _store(
        self,
        message_id: str,
        body: str,
        attributes: Mapping[str, MessageAttributeValue],
        md5_body: str,
        md5_attributes: str | None,
        delay: int,
        size: int,
        system: Mapping[str, str],
        group_id: str | None,
        now: float,
    ) -> None:
        """Make and index the record of a new message (its arrival number is taken)."""
        # Positional: a dataclass's __init__ takes keywords at about twice the cost.
        message = StoredMessage(
            message_id,
            body,
            attributes,
            md5_body,
            md5_attributes,
            now,  # sent_at
            now,  # enqueued_at
            self._seq,
            DELAYED if delay else VISIBLE,
            now + delay if delay else now,  # available_at
            size,
            0,  # receive_count
            None,  # first_received_at
            None,  # received_at
            0,  # epoch
            system,
            group_id,
        )
        self._insert(message)
        if self.trace:
            self._events.append(MessageSent(self.name, message_id))

    def _insert(self, message: StoredMessage) -> None:
        """Index a new record in its initial state (VISIBLE or DELAYED)."""
        self._messages[message.message_id] = message
        if self.changes is not None:
            self.changes.message(self.name, message.message_id, message)
        self._sent += 1
        state = message.state
        self._count[state] += 1
        if state is DELAYED:
            self._push(self._delayed, message, DELAYED)
        self._order.enqueued(message)
        heap_r = self._retention
        heapq.heappush(heap_r, (message.enqueued_at, message.seq, message))
        if len(heap_r) > 2 * len(self._messages) + _SWEEP_SLACK:
            heap_r[:] = [e for e in heap_r if e[2].state in _LIVE]
            heapq.heapify(heap_r)

    def send(
        self,
        body: str,
        *,
        now: float,
        message_attributes: Mapping[str, object] | None = None,
        delay_seconds: int | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> SendResult:
        """Accept one message.

        Raises:
            MissingParameter: the body is empty.
            InvalidMessageContents: the body or a String attribute holds a character
                SQS refuses.
            InvalidParameterValue: an attribute, the delay, the group id or the size is
                out of bounds.
        """
        prepared = self._prepare(
            body, message_attributes, delay_seconds, message_group_id, message_deduplication_id
        )
        self._advance(now)
        message_id, sequence_number = self._enqueue(prepared, now)
        return SendResult(message_id, prepared.md5_body, prepared.md5_attributes, sequence_number)

    def deliver(
        self,
        body: CheckedBody,
        *,
        now: float,
        message_attributes: Mapping[str, object] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> None:
        """Accept a message a topic delivers: :meth:`send` for a body checked already.

        The same rules and errors as :meth:`send` (the body's own checks were made
        when ``body`` was built); it returns nothing, as SNS does not report the SQS
        message id.
        """
        if (
            message_attributes
            or message_group_id is not None
            or message_deduplication_id is not None
            or self.fifo
        ):
            prepared = self._prepare(
                body, message_attributes, None, message_group_id, message_deduplication_id
            )
            self._advance(now)
            self._enqueue(prepared, now)
            return
        # The common case, a plain message to a standard queue: :meth:`_prepare`
        # would find nothing to check but the size, and :meth:`_enqueue` no
        # deduplication to do.
        self._check_size(body.size)
        self._advance(now)
        message_id = self._ids.message_id()
        self._seq += 1
        if self.changes is not None:
            self.changes.queues.add(self.name)  # the arrival counter is durable state
        self._store(
            message_id,
            body.body,
            EMPTY_ATTRIBUTES,
            body.md5,
            None,
            self.settings.delay_seconds,
            body.size,
            EMPTY_SYSTEM,
            None,
            now,
        )

    def send_batch(
        self, entries: Iterable[SendBatchEntry], *, now: float
    ) -> BatchResult[SendBatchResultEntry]:
        """Accept up to 10 messages; each entry succeeds or fails on its own.

        Raises:
            EmptyBatchRequest, TooManyEntriesInBatchRequest, InvalidBatchEntryId,
            BatchEntryIdsNotDistinct, BatchRequestTooLong: the request as a whole.
        """
        entries = list(entries)
        check_entry_ids([e.id for e in entries], "SendMessageBatchRequestEntry")
        if self.fifo:  # these fail the whole request on FIFO queues
            for entry in entries:
                if entry.message_group_id is None:
                    raise InvalidParameterValue(
                        "The request must contain the parameter MessageGroupId."
                    )
                self._check_group_id(entry.message_group_id)
                if (
                    entry.message_deduplication_id is None
                    and not self.settings.content_based_deduplication
                ):
                    self._dedup_key("", None, None)
        prepared: list[_Prepared | EventBusError] = []
        total = 0
        for entry in entries:
            try:
                item: _Prepared | EventBusError = self._prepare(
                    entry.body,
                    entry.message_attributes,
                    entry.delay_seconds,
                    entry.message_group_id,
                    entry.message_deduplication_id,
                    batch=True,
                )
            except EventBusError as error:
                item = error
            prepared.append(item)
            if isinstance(item, _Prepared):
                total += item.size
            elif isinstance(entry.body, str):
                total += len(entry.body.encode(errors="surrogatepass"))
        if total > MAX_BATCH_BYTES:
            raise BatchRequestTooLong(
                f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. "
                f"You have sent {total} bytes."
            )
        self._advance(now)
        result: BatchResult[SendBatchResultEntry] = BatchResult()
        for entry, item in zip(entries, prepared, strict=True):
            if isinstance(item, EventBusError):
                result.failed.append(BatchFailure.from_error(entry.id, item))
            else:
                message_id, sequence_number = self._enqueue(item, now)
                result.successful.append(
                    SendBatchResultEntry(
                        entry.id,
                        message_id,
                        item.md5_body,
                        item.md5_attributes,
                        sequence_number,
                    )
                )
        return result

    # ---------------------------------------------------------------------- receive

    def receive(
        self,
        *,
        now: float,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
        dead_letter_queue: QueueMachine | None = None,
    ) -> list[ReceivedMessage]:
        """Hand out up to ``max_messages`` visible messages and hide them.

        A message whose receive count already reached the redrive policy's
        ``max_receive_count`` is moved to ``dead_letter_queue`` instead of being
        returned (SQS moves it lazily, on the receive that would exceed the count).
        Without a ``dead_letter_queue`` (none configured, or it no longer exists) the
        message is returned as if there were no redrive policy.

        Raises:
            InvalidParameterValue: ``max_messages`` outside 1-10 or a bad visibility
                timeout.
        """
        check_max_messages(max_messages)
        timeout = (
            self.settings.visibility_timeout
            if visibility_timeout is None
            else check_visibility_timeout(visibility_timeout)
        )
        self._advance(now)
        policy = self.settings.redrive_policy
        limit = (
            policy.max_receive_count
            if policy is not None and dead_letter_queue is not None
            else None
        )
        out: list[ReceivedMessage] = []
        for message in self._order.candidates():
            if limit is not None and message.receive_count >= limit:
                assert dead_letter_queue is not None
                self._transition(message, DEAD_LETTERED)
                dead_letter_queue.accept_dead_letter(message, self.arn, now)
                self._events.append(
                    MessageDeadLettered(
                        self.name,
                        message.message_id,
                        dead_letter_queue.name,
                        message.receive_count,
                    )
                )
                continue
            message.receive_count += 1
            self._received += 1
            if message.receive_count > 1:
                self._redelivered += 1
            message.received_at = now
            if message.first_received_at is None:
                message.first_received_at = now
            self._transition(message, IN_FLIGHT, now + timeout)
            out.append(self._delivery(message))
            if len(out) == max_messages:
                break
        return out

    @staticmethod
    def _system_attributes(message: StoredMessage) -> dict[str, str]:
        first = message.first_received_at
        attributes = {
            "SenderId": LOCAL_SENDER_ID,
            "SentTimestamp": str(int(message.sent_at * 1000)),
            "ApproximateReceiveCount": str(message.receive_count),
            "ApproximateFirstReceiveTimestamp": str(int((first or 0.0) * 1000)),
        }
        if message.system_attributes:
            attributes.update(message.system_attributes)
        return attributes

    def peek(self, *, now: float, max_messages: int = 10) -> list[PeekedMessage]:
        """Up to ``max_messages`` messages in arrival order, changing nothing.

        For inspection tools and tests: no receive is counted, no visibility
        changes, and in-flight and delayed messages are shown too. Its cost is the
        number of messages returned.

        Raises:
            InvalidParameterValue: ``max_messages`` is not a positive integer.
        """
        if not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1:
            raise invalid_value("MaxNumberOfMessages", max_messages, "Must be at least 1.")
        self._advance(now)
        return [
            PeekedMessage(
                message_id=message.message_id,
                body=message.body,
                md5_of_body=message.md5_of_body,
                message_attributes=message.message_attributes,
                md5_of_message_attributes=message.md5_of_message_attributes,
                attributes=self._system_attributes(message),
                receive_count=message.receive_count,
                state=message.state.value,
            )
            for message in islice(self._messages.values(), max_messages)
        ]

    def _delivery(self, message: StoredMessage) -> ReceivedMessage:
        count = message.receive_count
        attributes = self._system_attributes(message)
        if self.trace:
            self._events.append(MessageReceived(self.name, message.message_id, count))
        return received_message(
            message.message_id,
            self._make_handle(message),
            message.body,
            message.md5_of_body,
            message.message_attributes,
            message.md5_of_message_attributes,
            attributes,
            count,
        )

    def accept_dead_letter(self, message: StoredMessage, source_arn: str, now: float) -> None:
        """Take in a message moved here from a source queue's redrive.

        The message keeps its id, body, attributes, sent and first-receive
        timestamps, receive count and (standard queues) its enqueue time, so
        retention keeps counting from the original send; it gains
        ``DeadLetterQueueSourceArn``. On a FIFO queue the enqueue time starts again,
        the deduplication id becomes the message id (so unrelated messages that
        shared one are not collapsed) and the message gets a sequence number here.
        """
        self._advance(now)
        self._seq += 1
        if self.changes is not None:
            self.changes.queues.add(self.name)  # the arrival counter is durable state
        system = {**message.system_attributes, "DeadLetterQueueSourceArn": source_arn}
        if self.fifo:
            system["MessageDeduplicationId"] = message.message_id
            system["SequenceNumber"] = str(_SEQUENCE_BASE + self._seq)
        moved = StoredMessage(
            message_id=message.message_id,
            body=message.body,
            message_attributes=message.message_attributes,
            md5_of_body=message.md5_of_body,
            md5_of_message_attributes=message.md5_of_message_attributes,
            sent_at=message.sent_at,
            enqueued_at=now if self.fifo else message.enqueued_at,
            seq=self._seq,
            state=VISIBLE,
            available_at=now,
            size=message.size,
            receive_count=message.receive_count,
            first_received_at=message.first_received_at,
            received_at=message.received_at,
            system_attributes=system,
            group_id=message.group_id,
        )
        self._insert(moved)

    # ------------------------------------------------------------ receipt handles

    def _make_handle(self, message: StoredMessage) -> str:
        """A new handle: this queue's identity, a random token, the message, the receive.

        Opaque to users, as AWS's are; it names the message and the receive, so the
        queue keeps no index of handles.
        """
        token = self._ids.token()
        return f"{self._uid}{token}:{message.message_id}:{message.receive_count}"

    def _parse_handle(self, handle: object) -> tuple[str, int]:
        """The message id and receive number a handle names; raise if it is not ours."""
        uid, message_id, number = "", "", 0
        if isinstance(handle, str):
            try:
                prefix, message_id, count = handle.split(":")
                number = int(count)
                uid = prefix[: len(self._uid)]
            except ValueError:
                uid = ""
        if uid != self._uid:
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{handle}" is not a valid receipt handle.'
            )
        return message_id, number

    def _live_message(self, handle: str, message_id: str, number: int) -> StoredMessage | None:
        """The live message a handle names, None if it is gone.

        On a FIFO queue only the latest handle of a message still in flight is
        valid; an older one, or one whose visibility timeout ran out, has expired.
        """
        message = self._messages.get(message_id)
        if message is None:
            return None
        if number > message.receive_count:
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{handle}" is not a valid receipt handle.'
            )
        if self.fifo and (number != message.receive_count or message.state is not IN_FLIGHT):
            raise invalid_value("ReceiptHandle", handle, "The receipt handle has expired.")
        return message

    # ------------------------------------------------------- delete and visibility

    def delete(self, receipt_handle: str, *, now: float) -> bool:
        """Delete the message a receipt handle names.

        Any handle this queue issued for the message deletes it, the latest or an
        older one, even after its visibility timeout ran out (as recorded on AWS
        for standard queues). Deleting a message that is already gone succeeds.

        Returns:
            True if a message was deleted, False if it was already gone.

        Raises:
            ReceiptHandleIsInvalid: the handle was not issued by this queue.
        """
        message_id, number = self._parse_handle(receipt_handle)
        self._advance(now)
        return self._delete(receipt_handle, message_id, number)

    def _delete(self, receipt_handle: str, message_id: str, number: int) -> bool:
        """:meth:`delete` of a parsed handle, time already advanced."""
        message = self._live_message(receipt_handle, message_id, number)
        if message is None:
            return False
        self._transition(message, DELETED)
        if self.trace:
            self._events.append(MessageDeleted(self.name, message_id))
        return True

    def delete_many(
        self, receipt_handles: Iterable[str], *, now: float
    ) -> list[EventBusError | None]:
        """Delete the messages several receipt handles name: :meth:`delete` of each
        in turn, in one call (what a consumer does once its handler succeeded).

        Returns:
            for each handle, in order, None if it succeeded (the message was deleted
            or already gone) or the error :meth:`delete` raises for it, which
            leaves the other handles alone.
        """
        parsed: list[tuple[str, tuple[str, int] | EventBusError]] = []
        for handle in receipt_handles:
            try:
                parsed.append((handle, self._parse_handle(handle)))
            except EventBusError as error:
                parsed.append((handle, error))
        if any(not isinstance(p, EventBusError) for _, p in parsed):
            self._advance(now)  # as delete() does, only once a handle is valid
        outcomes: list[EventBusError | None] = []
        for handle, found in parsed:
            if isinstance(found, EventBusError):
                outcomes.append(found)
                continue
            try:
                self._delete(handle, *found)
            except EventBusError as error:
                outcomes.append(error)
            else:
                outcomes.append(None)
        return outcomes

    def delete_batch(self, entries: Iterable[DeleteBatchEntry], *, now: float) -> BatchResult[str]:
        """Delete up to 10 messages; returns the ids of the entries that succeeded."""
        entries = list(entries)
        check_entry_ids([e.id for e in entries], "DeleteMessageBatchRequestEntry")
        result: BatchResult[str] = BatchResult()
        for entry in entries:
            try:
                self.delete(entry.receipt_handle, now=now)
            except EventBusError as error:
                result.failed.append(BatchFailure.from_error(entry.id, error))
            else:
                result.successful.append(entry.id)
        return result

    def change_visibility(
        self, receipt_handle: str, visibility_timeout: int, *, now: float
    ) -> None:
        """Hide the message for ``visibility_timeout`` seconds from now (0: show it now).

        The new timeout counts from this call and holds for this receive only; the
        total time a message stays hidden after a receive is capped at 12 hours.
        A message whose visibility already ran out (but that nobody received since)
        is hidden again: the handle is still its latest (AWS answers 200 here; that
        it re-hides is UNCONFIRMED and our choice).

        Raises:
            ReceiptHandleIsInvalid: the handle was not issued by this queue.
            InvalidParameterValue: the timeout is outside 0-43200, would pass the
                12-hour cap, or the message no longer exists.
        """
        timeout = check_visibility_timeout(visibility_timeout)
        message_id, number = self._parse_handle(receipt_handle)
        self._advance(now)
        message = self._live_message(receipt_handle, message_id, number)
        if message is None:
            raise invalid_value(
                "ReceiptHandle",
                receipt_handle,
                "Message does not exist or is not available for visibility timeout change.",
            )
        received_at = message.received_at if message.received_at is not None else now
        if now + timeout > received_at + MAX_VISIBILITY_TIMEOUT:
            raise invalid_value(
                "VisibilityTimeout",
                timeout,
                "Total VisibilityTimeout for the message is beyond the limit "
                f"[{MAX_VISIBILITY_TIMEOUT} seconds].",
            )
        if timeout == 0:
            if message.state is IN_FLIGHT:
                self._transition(message, VISIBLE)
        else:
            self._transition(message, IN_FLIGHT, now + timeout)

    def change_visibility_batch(
        self, entries: Iterable[ChangeVisibilityBatchEntry], *, now: float
    ) -> BatchResult[str]:
        """Change the visibility of up to 10 messages; returns the ids that succeeded."""
        entries = list(entries)
        check_entry_ids([e.id for e in entries], "ChangeMessageVisibilityBatchRequestEntry")
        result: BatchResult[str] = BatchResult()
        for entry in entries:
            try:
                self.change_visibility(entry.receipt_handle, entry.visibility_timeout, now=now)
            except EventBusError as error:
                result.failed.append(BatchFailure.from_error(entry.id, error))
            else:
                result.successful.append(entry.id)
        return result

    # ------------------------------------------------------------- whole queue

    def purge(self, *, now: float) -> int:
        """Delete every message, in flight and delayed ones included.

        SQS takes up to 60 seconds to finish a purge; here it is done at once.

        Returns:
            how many messages were deleted.

        Raises:
            PurgeQueueInProgress: the queue was purged less than 60 seconds ago.
        """
        if self._last_purge is not None and now - self._last_purge < PURGE_INTERVAL:
            raise PurgeQueueInProgress(
                f"Only one PurgeQueue operation on {self.name} is allowed every 60 seconds."
            )
        self._advance(now)  # messages already expired are not purged
        self._last_purge = now
        count = len(self._messages)
        self._purged += count
        # A bulk transition to PURGED: the records become unreachable with the indexes.
        self._reset()
        changes = self.changes
        if changes is not None:
            changes.messages.pop(self.name, None)
            changes.purged.add(self.name)
            changes.queues.add(self.name)
        self._events.append(QueuePurged(self.name, count))
        return count

    def counts(self, *, now: float) -> QueueStatistics:
        """How many messages are visible, in flight and delayed at ``now``."""
        self._advance(now)
        count = self._count
        finished = self._finished
        return QueueStatistics(
            count[VISIBLE],
            count[IN_FLIGHT],
            count[DELAYED],
            sent=self._sent,
            received=self._received,
            redelivered=self._redelivered,
            deleted=finished[DELETED],
            dead_lettered=finished[DEAD_LETTERED],
            expired=finished[EXPIRED],
            purged=self._purged,
        )

    def set_settings(self, settings: QueueSettings, *, now: float) -> None:
        """Replace the queue's attributes.

        A new delay is not retroactive on a standard queue and is on a FIFO queue
        (for messages still delayed); a shorter retention period expires old
        messages at once.
        """
        self._advance(now)
        old_delay = self.settings.delay_seconds
        self.settings = settings
        self.last_modified_at = now
        if self.changes is not None:
            self.changes.queues.add(self.name)
        if self.fifo and settings.delay_seconds != old_delay:
            # FIFO delays are retroactive: messages still delayed wait the new delay.
            delayed = [e[3] for e in self._delayed if e[2] == e[3].epoch]
            self._delayed.clear()
            for message in delayed:
                message.available_at = message.sent_at + settings.delay_seconds
                self._push(self._delayed, message, DELAYED)
                if self.changes is not None:
                    self.changes.message(self.name, message.message_id, message)
            self._advance(now)

    # ----------------------------------------------------------------- restoring

    def durable_state(self) -> tuple[str, int, float | None]:
        """What a store keeps of the queue besides its settings and messages:
        the receipt-handle identity, the arrival counter and the last purge."""
        return self._uid, self._seq, self._last_purge

    def restore(self, seq: int, last_purge: float | None) -> None:
        """Take back the arrival counter and last purge (on an empty machine)."""
        self._seq, self._last_purge = seq, last_purge

    def durable_counters(self) -> list[int]:
        """The cumulative statistics (sent, received, redelivered, purged, deleted,
        dead-lettered, expired), for a durable store to keep."""
        finished = self._finished
        return [
            self._sent,
            self._received,
            self._redelivered,
            self._purged,
            finished[DELETED],
            finished[DEAD_LETTERED],
            finished[EXPIRED],
        ]

    def restore_counters(self, counters: list[int]) -> None:
        """Take back what :meth:`durable_counters` gave (on an empty machine)."""
        finished = self._finished
        (
            self._sent,
            self._received,
            self._redelivered,
            self._purged,
            finished[DELETED],
            finished[DEAD_LETTERED],
            finished[EXPIRED],
        ) = counters

    def restore_messages(self, messages: list[StoredMessage]) -> None:
        """Index stored records in the states they were kept in (on an empty machine)."""
        for message in sorted(messages, key=lambda m: m.seq):
            self._messages[message.message_id] = message
            state = message.state
            self._count[state] += 1
            if state is DELAYED:
                self._push(self._delayed, message, DELAYED)
            elif state is IN_FLIGHT:
                self._push(self._in_flight, message, IN_FLIGHT)
            heapq.heappush(self._retention, (message.enqueued_at, message.seq, message))
            self._seq = max(self._seq, message.seq)
        self._order.restore(messages)

    def restore_dedup(
        self, key: tuple[str, str], message_id: str, sequence_number: str, expires_at: float
    ) -> None:
        """Take back a deduplication entry; call in ``expires_at`` order."""
        joined = "\0".join(key)
        self._dedup[joined] = f"{message_id}\0{sequence_number}"
        self._dedup_expiry.append((expires_at, joined))

    def check_invariants(self) -> None:
        """Assert that the counters agree with the records (for tests)."""
        tally = {DELAYED: 0, VISIBLE: 0, IN_FLIGHT: 0}
        for message in self._messages.values():
            assert message.state in _LIVE, message
            tally[message.state] += 1
        assert tally == self._count, (tally, self._count)

    @property
    def visible_count(self) -> int:
        """Messages visible as of the last operation (no time is applied)."""
        return self._count[VISIBLE]

    @property
    def message_count(self) -> int:
        """How many live messages the queue holds (any state)."""
        return len(self._messages)
