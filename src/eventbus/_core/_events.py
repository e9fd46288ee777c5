"""What happened, as data: the core records these, the runtime logs and counts them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MessageSent:
    """A message was accepted by a queue (recorded only when tracing)."""

    queue: str
    message_id: str


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message was handed out by a receive (recorded only when tracing)."""

    queue: str
    message_id: str
    receive_count: int


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    """A message was deleted (recorded only when tracing)."""

    queue: str
    message_id: str


@dataclass(frozen=True, slots=True)
class MessageDeadLettered:
    """A message was moved to its queue's dead-letter queue."""

    queue: str
    message_id: str
    dead_letter_queue: str
    receive_count: int


@dataclass(frozen=True, slots=True)
class MessageExpired:
    """A message outlived its queue's retention period and was dropped."""

    queue: str
    message_id: str
    age: float


@dataclass(frozen=True, slots=True)
class QueuePurged:
    """Every message of a queue was deleted."""

    queue: str
    count: int


@dataclass(frozen=True, slots=True)
class DeliveryFailed:
    """SNS could not deliver a message to a subscription (a client-side error)."""

    topic: str
    subscription: str
    message_id: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeliveryDeadLettered:
    """SNS could not deliver a message and put it in the subscription's DLQ."""

    topic: str
    subscription: str
    message_id: str
    code: str
    reason: str
    dead_letter_queue: str


Event = (
    MessageSent
    | MessageReceived
    | MessageDeleted
    | MessageDeadLettered
    | MessageExpired
    | QueuePurged
    | DeliveryFailed
    | DeliveryDeadLettered
)
