"""The Bus: SNS topics and SQS queues on a backend, driven by a clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .._core._errors import EventBusError, InvalidParameterValue
from .._core._ids import IdSource
from .._core._message import QueueStatistics
from .._store._memory import Store
from ._backend import Backend
from ._clock import Clock, SystemClock, VirtualClock
from ._handles import Queue, Topic
from ._local import LocalBackend

if TYPE_CHECKING:
    from ._consumer import Consumer

Handler = Callable[[dict[str, Any], Any], "Awaitable[Any] | Any"]

DEFAULT_REGION = "us-east-1"


class NotIdle(EventBusError):
    """Raised when ``run_until_idle`` cannot reach idleness within ``max_time``."""

    code = "NotIdle"


class Bus:
    """SNS topics and SQS queues with AWS's semantics: in this process, or on AWS.

    Use it as an async context manager::

        async with Bus(clock=VirtualClock()) as bus:
            queue = await bus.create_queue("orders")

    Args:
        clock: the bus's time; a :class:`SystemClock` by default. A
            :class:`VirtualClock` moves only when told to (local backend only).
        region: the region in ARNs and URLs (``us-east-1`` by default; with a
            ``backend``, the backend's region).
        ids: where message ids and receipt-handle tokens come from (random UUIDs
            by default; ``CountingIds`` makes runs replayable). Local backend only.
        trace: emit a structlog debug event for every message step (sent,
            received, deleted). Off by default: then only warnings are emitted.
            Local backend only.
        store: where the state is kept: in memory (the default) or, with
            :class:`SqliteStore`, in a database that survives restarts; a durable
            store is opened (and its state loaded) when the bus is entered.
            Local backend only.
        backend: where queues and topics live: this process (None, the default)
            or another backend, such as ``eventbus.aws.AwsBackend`` for real SNS
            and SQS.

    Raises:
        EventBusError: ``InvalidParameterValue`` for options the backend cannot
            take (a store, ids or trace with another backend than the local one,
            a region other than the backend's, a VirtualClock on AWS).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        region: str | None = None,
        ids: IdSource | None = None,
        trace: bool = False,
        store: Store | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        if backend is None:
            backend = LocalBackend(
                clock=self.clock,
                region=region or DEFAULT_REGION,
                ids=ids,
                trace=trace,
                store=store,
            )
        else:
            given = [
                name
                for name, value in (("store", store), ("ids", ids), ("trace", trace or None))
                if value is not None
            ]
            if given:
                raise InvalidParameterValue(
                    f"{', '.join(given)} apply to the local backend only, not to "
                    f"{type(backend).__name__}."
                )
            if region is not None and region != backend.region:
                raise InvalidParameterValue(
                    f"region {region!r} differs from the backend's region {backend.region!r}; "
                    "give the region to the backend only."
                )
            backend.bind(self.clock)
        self.backend = backend
        self.region = backend.region
        self._consumers: set[Consumer] = set()

    def __repr__(self) -> str:
        return f"<Bus {type(self.backend).__name__} {self.region}>"

    async def __aenter__(self) -> Self:
        await self.backend.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the bus: running message move tasks are cancelled."""
        await self.backend.close()

    # ------------------------------------------------------------------ queues

    async def create_queue(self, /, name: str, **attributes: Any) -> Queue:
        """Create a queue, or return the existing one if its attributes match.

        Attribute keywords are the snake_case AWS names: ``visibility_timeout``
        (0-43200, default 30), ``delay_seconds`` (0-900, 0),
        ``message_retention_period`` (60-1209600, 345600), ``maximum_message_size``
        (1024-1048576, 1048576), ``receive_message_wait_time_seconds`` (0-20, 0),
        ``redrive_policy`` (a :class:`RedrivePolicy`), ``redrive_allow_policy``,
        ``fifo_queue``, ``content_based_deduplication``, ``deduplication_scope``,
        ``fifo_throughput_limit``.

        Raises:
            EventBusError: ``InvalidParameterValue`` (name, redrive policy),
                ``InvalidAttributeValue``, ``InvalidAttributeName``,
                ``QueueAlreadyExists``, ``QueueDeletedRecently``.
        """
        return await self.backend.create_queue(name, **attributes)

    async def get_queue(self, name: str) -> Queue:
        """The queue with this name, URL or ARN.

        Raises:
            EventBusError: ``QueueDoesNotExist``.
        """
        return await self.backend.get_queue(name)

    async def delete_queue(self, queue: Queue | str) -> None:
        """Delete a queue (a handle, name, URL or ARN) and every message in it.

        Raises:
            EventBusError: ``QueueDoesNotExist``.
        """
        await self.backend.delete_queue(queue)

    async def list_queues(self, prefix: str = "") -> list[Queue]:
        """Every queue whose name starts with ``prefix``, sorted by name."""
        return await self.backend.list_queues(prefix)

    # ------------------------------------------------------------------ topics

    async def create_topic(self, /, name: str, **attributes: Any) -> Topic:
        """Create a topic, or return the existing one if its attributes match.

        Raises:
            EventBusError: ``InvalidParameter`` (a bad name or attribute, or the name
                is taken with other attributes).
        """
        return await self.backend.create_topic(name, **attributes)

    async def get_topic(self, name: str) -> Topic:
        """The topic with this name or ARN.

        Raises:
            EventBusError: ``NotFound``.
        """
        return await self.backend.get_topic(name)

    async def delete_topic(self, topic: Topic | str) -> None:
        """Delete a topic and its subscriptions (a missing topic is no error)."""
        await self.backend.delete_topic(topic)

    async def list_topics(self) -> list[Topic]:
        """Every topic, sorted by name."""
        return await self.backend.list_topics()

    async def cancel_message_move_task(self, task_handle: str) -> int:
        """Cancel a running message move task; returns how many messages it moved.

        Raises:
            EventBusError: ``InvalidParameterValue`` (a malformed handle, or the task
                is not running), ``ResourceNotFoundException`` (no such task).
        """
        return await self.backend.cancel_message_move_task(task_handle)

    # ---------------------------------------------------------------- consumers

    def consume(self, queue: Queue, handler: Handler, **options: Any) -> Consumer:
        """A Lambda-style consumer of ``queue``; use it as ``async with``.

        See :class:`~eventbus.Consumer` for the options.
        """
        from ._consumer import Consumer

        return Consumer(self, queue, handler, **options)

    # --------------------------------------------------------------- idleness

    async def _busy_queues(self) -> list[str]:
        """What keeps the bus from being idle: one line per busy consumer."""
        busy = []
        for consumer in self._consumers:
            try:
                stats = await consumer.queue.statistics()
            except EventBusError:  # the queue is gone: nothing left to consume
                stats = QueueStatistics(0, 0, 0)
            if consumer._busy() or stats.total:
                busy.append(
                    f"{consumer.queue.name}: {stats.visible} visible, {stats.in_flight} in "
                    f"flight, {stats.delayed} delayed, {consumer._running_batches} batches "
                    "running"
                )
        return busy

    async def run_until_idle(self, *, max_time: float = 3600.0) -> None:
        """Run until no handler is running and the queues consumers read are empty.

        With a :class:`VirtualClock` it moves time to the next timer whenever every
        task of the bus is waiting, so retries after visibility timeouts, delays and
        batching windows play out in no real time. Virtual time never moves while a
        handler runs. On AWS the queues' counts are SQS's approximate ones, looked
        at once a second.

        Args:
            max_time: how far (in the clock's seconds) time may move before giving up.

        Raises:
            NotIdle: idleness was not reached within ``max_time``.
        """
        clock = self.clock
        backend = self.backend
        limit = clock.now() + max_time
        while True:
            await clock.wait_settled()
            busy = await self._busy_queues()
            if not busy:
                return
            deadlines = [d for d in (backend.next_deadline(), _next_timer(clock)) if d is not None]
            wake = min([*deadlines, limit])
            if clock.now() >= limit:
                raise NotIdle(f"The bus was not idle after {max_time} s: {'; '.join(busy)}.")
            if isinstance(clock, VirtualClock):
                await clock.advance_to(wake)
            else:
                await backend.wait_for_change(clock, wake)


def _next_timer(clock: Clock) -> float | None:
    return clock.next_timer() if isinstance(clock, VirtualClock) else None
