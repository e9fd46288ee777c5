"""Turn the core's events into structlog events.

The library never configures logging. Without ``trace`` it emits only what a
person must see, as warnings: a message dead-lettered or expired, a delivery that
failed, a handler that failed. With ``trace`` every step is a debug event too.
"""

from __future__ import annotations

from typing import Any

import structlog

from .._core._events import (
    DeliveryDeadLettered,
    DeliveryFailed,
    Event,
    MessageDeadLettered,
    MessageDeleted,
    MessageExpired,
    MessageReceived,
    MessageSent,
    QueuePurged,
)

logger: Any = structlog.get_logger("eventbus")


def log_event(event: Event) -> None:
    """Emit one core event as a structlog event."""
    match event:
        case MessageDeadLettered():
            logger.warning(
                "message.dead_lettered",
                queue=event.queue,
                message_id=event.message_id,
                dead_letter_queue=event.dead_letter_queue,
                receive_count=event.receive_count,
            )
        case MessageExpired():
            logger.warning(
                "message.expired", queue=event.queue, message_id=event.message_id, age=event.age
            )
        case DeliveryFailed():
            logger.warning(
                "delivery.failed",
                topic=event.topic,
                subscription=event.subscription,
                message_id=event.message_id,
                code=event.code,
                reason=event.reason,
            )
        case DeliveryDeadLettered():
            logger.warning(
                "delivery.dead_lettered",
                topic=event.topic,
                subscription=event.subscription,
                message_id=event.message_id,
                code=event.code,
                reason=event.reason,
                dead_letter_queue=event.dead_letter_queue,
            )
        case QueuePurged():
            logger.info("queue.purged", queue=event.queue, count=event.count)
        case MessageSent():
            logger.debug("message.sent", queue=event.queue, message_id=event.message_id)
        case MessageReceived():
            logger.debug(
                "message.received",
                queue=event.queue,
                message_id=event.message_id,
                receive_count=event.receive_count,
            )
        case MessageDeleted():
            logger.debug("message.deleted", queue=event.queue, message_id=event.message_id)
