"""The library's log events, as standard ``logging`` records under ``eventbus``.

The library configures no logging and prints nothing: its records go to the loggers
``eventbus.queue`` (message steps), ``eventbus.topic`` (deliveries),
``eventbus.consumer`` (handlers and pollers) and ``eventbus.move`` (message move
tasks), children of ``eventbus``, which carries only the ``NullHandler`` that
Python's logging HOWTO asks of a library (so that, with logging left
unconfigured, Python's last-resort handler does not print warnings to stderr).
The application decides what is shown, where and how.

Each record is one event: its message reads ``"<event> key=value ..."``, and its
``extra`` holds ``event`` (the event's name, such as ``message.dead_lettered``),
``bus_time`` (the bus clock's time, epoch seconds, beside the record's wall time
``created``) and every field by name, so a structured formatter (structlog's
``ProcessorFormatter`` with ``ExtraAdder``, a JSON formatter) gets them as fields.

Without ``trace`` only what a person must see is logged, as warnings: a message
dead-lettered or expired, a delivery or a handler that failed; with ``trace``
every message step is a debug record too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

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

logging.getLogger("eventbus").addHandler(logging.NullHandler())


class _Fields:
    """The ``key=value`` part of a record's message, rendered only if a handler
    formats the record."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return " ".join(f"{key}={value!r}" for key, value in self.fields.items())


class EventLogger:
    """A logger that takes one event name and its fields per call.

    ``log.warning("handler.failed", bus_time=clock.now(), queue="orders")`` becomes
    a WARNING record of ``logging.getLogger(name)`` whose message is
    ``handler.failed queue='orders'`` and whose ``extra`` has ``event``,
    ``bus_time`` and ``queue``. Nothing is built when the level is disabled.
    """

    __slots__ = ("logger",)

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def log(
        self,
        level: int,
        event: str,
        /,
        *,
        bus_time: float,
        exc_info: BaseException | None = None,
        **fields: Any,
    ) -> None:
        """Log ``event`` at ``level`` with ``fields``, if the level is enabled."""
        logger = self.logger
        if logger.isEnabledFor(level):
            logger.log(
                level,
                f"{event} %s",
                _Fields(fields),
                exc_info=exc_info,
                extra={"event": event, "bus_time": bus_time, **fields},
            )

    def debug(self, event: str, /, *, bus_time: float, **fields: Any) -> None:
        """Log a DEBUG event (see :meth:`log`)."""
        self.log(logging.DEBUG, event, bus_time=bus_time, **fields)

    def info(self, event: str, /, *, bus_time: float, **fields: Any) -> None:
        """Log an INFO event (see :meth:`log`)."""
        self.log(logging.INFO, event, bus_time=bus_time, **fields)

    def warning(
        self,
        event: str,
        /,
        *,
        bus_time: float,
        exc_info: BaseException | None = None,
        **fields: Any,
    ) -> None:
        """Log a WARNING event (see :meth:`log`)."""
        self.log(logging.WARNING, event, bus_time=bus_time, exc_info=exc_info, **fields)


queue_log = EventLogger("eventbus.queue")
topic_log = EventLogger("eventbus.topic")
consumer_log = EventLogger("eventbus.consumer")
move_log = EventLogger("eventbus.move")
store_log = EventLogger("eventbus.store")


class Once:
    """Remembers the last ``size`` keys seen, to log something once per key.

    Bounded so that a long run does not grow it: a key forgotten after ``size``
    newer ones is logged again if it comes back, which is harmless.
    """

    __slots__ = ("_seen", "size")

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._seen: dict[str, None] = {}

    def first(self, keys: Iterable[str]) -> bool:
        """Remember ``keys``; True if any of them was not remembered yet."""
        seen = self._seen
        new = False
        for key in keys:
            if key not in seen:
                seen[key] = None
                new = True
        while len(seen) > self.size:
            del seen[next(iter(seen))]
        return new


def log_event(event: Event, bus_time: float) -> None:
    """Log one core event."""
    match event:
        case MessageDeadLettered():
            queue_log.warning(
                "message.dead_lettered",
                bus_time=bus_time,
                queue=event.queue,
                message_id=event.message_id,
                dead_letter_queue=event.dead_letter_queue,
                receive_count=event.receive_count,
            )
        case MessageExpired():
            queue_log.warning(
                "message.expired",
                bus_time=bus_time,
                queue=event.queue,
                message_id=event.message_id,
                age=event.age,
            )
        case DeliveryFailed():
            topic_log.warning(
                "delivery.failed",
                bus_time=bus_time,
                topic=event.topic,
                subscription=event.subscription,
                message_id=event.message_id,
                code=event.code,
                reason=event.reason,
            )
        case DeliveryDeadLettered():
            topic_log.warning(
                "delivery.dead_lettered",
                bus_time=bus_time,
                topic=event.topic,
                subscription=event.subscription,
                message_id=event.message_id,
                code=event.code,
                reason=event.reason,
                dead_letter_queue=event.dead_letter_queue,
            )
        case QueuePurged():
            queue_log.info("queue.purged", bus_time=bus_time, queue=event.queue, count=event.count)
        case MessageSent():
            queue_log.debug(
                "message.sent", bus_time=bus_time, queue=event.queue, message_id=event.message_id
            )
        case MessageReceived():
            queue_log.debug(
                "message.received",
                bus_time=bus_time,
                queue=event.queue,
                message_id=event.message_id,
                receive_count=event.receive_count,
            )
        case MessageDeleted():
            queue_log.debug(
                "message.deleted", bus_time=bus_time, queue=event.queue, message_id=event.message_id
            )
