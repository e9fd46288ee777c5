"""Messages: the record a queue keeps, and the values it hands out."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._attributes import MessageAttributeValue

EMPTY_ATTRIBUTES: Mapping[str, MessageAttributeValue] = MappingProxyType({})
EMPTY_SYSTEM: Mapping[str, str] = MappingProxyType({})
"""The system attributes of most messages: none beyond the standard ones."""


class MessageState(enum.Enum):
    """Where a message is in its life. The last four are final."""

    # Members are singletons: hash by identity (Enum's own hash is Python code, and
    # the queue machine looks states up in dicts and sets on every transition).
    __hash__ = object.__hash__

    DELAYED = "delayed"
    VISIBLE = "visible"
    IN_FLIGHT = "in_flight"
    DELETED = "deleted"
    DEAD_LETTERED = "dead_lettered"
    EXPIRED = "expired"
    PURGED = "purged"


@dataclass(slots=True, eq=False)
class StoredMessage:
    """A message as its queue keeps it. Only the queue machine changes it."""

    message_id: str
    body: str
    message_attributes: Mapping[str, MessageAttributeValue]
    md5_of_body: str
    md5_of_message_attributes: str | None
    sent_at: float
    """When the message was first sent (``SentTimestamp``), epoch seconds."""
    enqueued_at: float
    """When retention started counting for it, epoch seconds."""
    seq: int
    """Its place in the queue's order of arrival."""
    state: MessageState
    available_at: float
    """When a delayed message becomes visible, or an in-flight one's visibility ends."""
    size: int
    receive_count: int = 0
    first_received_at: float | None = None
    received_at: float | None = None
    """When the latest receive happened (the 12-hour visibility cap counts from it)."""
    epoch: int = 0
    """Bumped on every transition; index entries made at an older epoch are stale."""
    system_attributes: Mapping[str, str] = field(default_factory=lambda: EMPTY_SYSTEM)
    """Extra system attributes: ``MessageGroupId``, ``DeadLetterQueueSourceArn``..."""
    group_id: str | None = None
    """The message group (FIFO queues, and fair standard queues)."""
    visible_order: int = 0
    """When it last became visible, as a standard queue counts (its place in line)."""


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as a receive returns it.

    Attributes:
        message_id: the SQS message id (kept through a dead-letter move).
        receipt_handle: the handle of this receive; delete and change visibility with it.
        body: the message body.
        md5_of_body: hex MD5 of the UTF-8 body.
        message_attributes: the user's attributes.
        md5_of_message_attributes: AWS's MD5 of the attributes, None without any.
        attributes: every system attribute that applies, under its AWS name, as strings.
        receive_count: how many times the message was received, this time included.
    """

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    message_attributes: Mapping[str, MessageAttributeValue]
    md5_of_message_attributes: str | None
    attributes: Mapping[str, str]
    receive_count: int


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    """The function that sets slot ``name`` of a ``cls`` instance, bypassing
    ``__setattr__`` (and so a frozen dataclass's refusal)."""
    setter: Callable[[object, object], None] = getattr(cls, name).__set__
    return setter


_set_message_id = _slot_setter(ReceivedMessage, "message_id")
_set_receipt_handle = _slot_setter(ReceivedMessage, "receipt_handle")
_set_body = _slot_setter(ReceivedMessage, "body")
_set_md5_of_body = _slot_setter(ReceivedMessage, "md5_of_body")
_set_message_attributes = _slot_setter(ReceivedMessage, "message_attributes")
_set_md5_of_message_attributes = _slot_setter(ReceivedMessage, "md5_of_message_attributes")
_set_attributes = _slot_setter(ReceivedMessage, "attributes")
_set_receive_count = _slot_setter(ReceivedMessage, "receive_count")


def received_message(
    message_id: str,
    receipt_handle: str,
    body: str,
    md5_of_body: str,
    message_attributes: Mapping[str, MessageAttributeValue],
    md5_of_message_attributes: str | None,
    attributes: Mapping[str, str],
    receive_count: int,
) -> ReceivedMessage:
    """``ReceivedMessage(...)`` for the receive path, at about half the cost.

    A frozen dataclass's ``__init__`` sets every field through
    ``object.__setattr__``; a receive makes one value per message, so this fills
    the slots through their descriptors instead. The result is the same frozen
    value (equal, hashable, immutable).
    """
    message: ReceivedMessage = object.__new__(ReceivedMessage)
    _set_message_id(message, message_id)
    _set_receipt_handle(message, receipt_handle)
    _set_body(message, body)
    _set_md5_of_body(message, md5_of_body)
    _set_message_attributes(message, message_attributes)
    _set_md5_of_message_attributes(message, md5_of_message_attributes)
    _set_attributes(message, attributes)
    _set_receive_count(message, receive_count)
    return message


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    """A message seen by ``peek``: as it is in the queue, nothing about it changed.

    Attributes:
        message_id: the SQS message id.
        body: the message body.
        md5_of_body: hex MD5 of the UTF-8 body.
        message_attributes: the user's attributes.
        md5_of_message_attributes: AWS's MD5 of the attributes, None without any.
        attributes: the system attributes a receive would show now, as strings.
        receive_count: how many times it was received so far.
        state: ``visible``, ``in_flight`` or ``delayed``.
    """

    message_id: str
    body: str
    md5_of_body: str
    message_attributes: Mapping[str, MessageAttributeValue]
    md5_of_message_attributes: str | None
    attributes: Mapping[str, str]
    receive_count: int
    state: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a send returns: the new message's id and digests."""

    message_id: str
    md5_of_message_body: str
    md5_of_message_attributes: str | None = None
    sequence_number: str | None = None


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """How many messages a queue holds, by state (SQS's ``ApproximateNumberOf*``).

    Attributes:
        visible: available for retrieval (``ApproximateNumberOfMessages``).
        in_flight: received, not deleted, visibility not yet over
            (``ApproximateNumberOfMessagesNotVisible``).
        delayed: waiting for their delay to end (``ApproximateNumberOfMessagesDelayed``).

    Cumulative counters since the queue was created (they take no part in
    equality, so two statistics are equal when the queues hold the same):

    Attributes:
        sent: messages that arrived (sends, deliveries from topics, dead-letter moves in).
        received: receives (deliveries to consumers), retries included.
        redelivered: receives of a message that had been received before.
        deleted: messages deleted.
        dead_lettered: messages moved to the dead-letter queue.
        expired: messages dropped at the end of the retention period.
        purged: messages deleted by purges.
    """

    visible: int
    in_flight: int
    delayed: int
    sent: int = field(default=0, compare=False)
    received: int = field(default=0, compare=False)
    redelivered: int = field(default=0, compare=False)
    deleted: int = field(default=0, compare=False)
    dead_lettered: int = field(default=0, compare=False)
    expired: int = field(default=0, compare=False)
    purged: int = field(default=0, compare=False)

    @property
    def total(self) -> int:
        """Every message the queue holds."""
        return self.visible + self.in_flight + self.delayed
