"""The Bus: one process's SNS and SQS, driven by a clock."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.abc
import anyio.lowlevel

from .._core._broker import Broker
from .._core._errors import (
    EventBusError,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    QueueDoesNotExist,
)
from .._core._events import MessageDeadLettered
from .._core._ids import IdSource
from .._core._names import queue_arn, queue_name_from
from .._core._queue import QueueMachine
from .._core._settings import QUEUE_INT_ATTRIBUTES, QueueSettings, RedriveAllowRule, RedriveRule
from .._models import QueueConfig, TopicConfig
from .._store._memory import MemoryStore, Store
from ._clock import Clock, Signal, SystemClock, VirtualClock
from ._durable import durable
from ._handles import Queue, Topic
from ._ids import UuidIds
from ._log import log_event

if TYPE_CHECKING:
    from ._consumer import Consumer
    from ._move import MoveTask

Handler = Callable[[dict[str, Any], Any], "Awaitable[Any] | Any"]


class NotIdle(EventBusError):
    """Raised when ``run_until_idle`` cannot reach idleness within ``max_time``."""

    code = "NotIdle"


class Bus:
    """SNS topics and SQS queues in this process, with AWS's semantics.

    Use it as an async context manager::

        async with Bus(clock=VirtualClock()) as bus:
            queue = await bus.create_queue("orders")

    Args:
        clock: the bus's time; a :class:`SystemClock` by default. A
            :class:`VirtualClock` moves only when told to.
        region: the region in ARNs and URLs.
        ids: where message ids and receipt-handle tokens come from (random UUIDs
            by default; ``CountingIds`` makes runs replayable).
        trace: emit a structlog debug event for every message step (sent,
            received, deleted). Off by default: then only warnings are emitted.
        store: where the state is kept: in memory (the default) or, with
            :class:`SqliteStore`, in a database that survives restarts; a durable
            store is opened (and its state loaded) when the bus is entered.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        region: str = "us-east-1",
        ids: IdSource | None = None,
        trace: bool = False,
        store: Store | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.region = region
        self._store: Store = store if store is not None else MemoryStore()
        self._broker = Broker(
            region=region, ids=ids or UuidIds(), trace=trace, durable=self._store.durable
        )
        self._signals: dict[QueueMachine, Signal] = {}
        self._any_change = Signal()
        self._consumers: set[Consumer] = set()
        self._move_tasks: dict[str, MoveTask] = {}
        self._stack: AsyncExitStack | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._commit_due = Signal()
        self._committed = Signal()
        self._commit_generation = 0
        self._group_commit = False

    async def __aenter__(self) -> Self:
        self._store.open(self._broker, self.clock.now())
        self._stack = AsyncExitStack()
        self._task_group = await self._stack.enter_async_context(anyio.create_task_group())
        if self._store.group_commit:
            self._group_commit = True
            self.clock.spawn(self._task_group, self._committer)
        from ._move import MoveTask

        for record in self._broker.move_tasks():  # resume what was running at a crash
            if record.running:
                self._start_move_task(MoveTask(self, record))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the bus: running message move tasks are cancelled."""
        stack, group = self._stack, self._task_group
        self._stack = self._task_group = None
        if stack is None or group is None:
            return
        group.cancel_scope.cancel()
        try:
            await stack.__aexit__(exc_type, exc, tb)
        finally:
            self._group_commit = False
            self._commit()
            self._store.close()

    def _commit(self) -> None:
        """Hand the durable changes made so far to the store."""
        changes = self._broker.changes
        if changes:
            assert changes is not None
            self._store.commit(changes, self._broker)
            changes.clear()
        self._commit_generation += 1
        self._committed.notify_all()

    async def _committer(self) -> None:
        """Group commit: commit whatever the calls made meanwhile have changed."""
        while True:
            while not self._broker.changes:
                await self.clock.wait(self._commit_due)
            await anyio.lowlevel.checkpoint()  # let calls made at the same time join
            self._commit()

    async def _durable(self) -> None:
        """Return once the changes made so far are committed (group commit only)."""
        if not self._group_commit or not self._broker.changes:
            return
        target = self._commit_generation + 1
        while self._commit_generation < target and self._group_commit:
            await self.clock.wait(self._committed)

    def _start_move_task(self, task: MoveTask) -> None:
        if self._task_group is None:
            raise RuntimeError(
                "message move tasks run in the bus's background: use it as `async with Bus()`"
            )
        self._move_tasks[task.task_handle] = task
        self.clock.spawn(self._task_group, task._run)

    @durable
    async def cancel_message_move_task(self, task_handle: str) -> int:
        """Cancel a running message move task; returns how many messages it moved.

        Raises:
            EventBusError: ``InvalidParameterValue`` (a malformed handle, or the task
                is not running), ``ResourceNotFoundException`` (no such task).
        """
        record = self._broker.cancel_move_task(task_handle)
        self._after()
        return record.approximate_number_of_messages_moved

    @property
    def _bus(self) -> Bus:
        """The bus itself (handles reach theirs by the same name)."""
        return self

    # ------------------------------------------------------------- bookkeeping

    def _signal(self, machine: QueueMachine) -> Signal:
        signal = self._signals.get(machine)
        if signal is None:
            signal = self._signals[machine] = Signal()
        return signal

    def _notify(self, machine: QueueMachine, count: int | None = None) -> None:
        """Wake long pollers of ``machine``: ``count`` of them for that many new
        messages, or all of them (for changes of any other kind)."""
        signal = self._signals.get(machine)
        if signal is not None:
            if count is None:
                signal.notify_all()
            else:
                signal.notify(count)
        self._any_change.notify_all()

    def _after(self) -> None:
        """Log and act on what the core recorded during the last operation."""
        if self._broker.changes:
            if self._group_commit:
                self._commit_due.notify_all()
            else:
                self._commit()
        events = self._broker.events
        if not events:
            self._any_change.notify_all()
            return
        recorded = events[:]
        events.clear()
        for event in recorded:
            if isinstance(event, MessageDeadLettered):
                with contextlib.suppress(QueueDoesNotExist):
                    self._notify(self._broker.queue(event.dead_letter_queue))
            log_event(event)
        self._any_change.notify_all()

    def _changed(self, machine: QueueMachine, count: int | None = None) -> None:
        self._notify(machine, count)
        self._after()

    def _queue_settings(
        self, attributes: Mapping[str, Any], *, base: QueueSettings | None = None
    ) -> QueueSettings:
        merged: dict[str, Any] = {}
        if base is not None and attributes.get("fifo_queue", base.fifo_queue) != base.fifo_queue:
            if base.fifo_queue:
                raise InvalidAttributeValue(
                    "Invalid value for the parameter FifoQueue. Reason: Modifying queue type "
                    "is not supported."
                )
            raise InvalidAttributeName("Unknown Attribute FifoQueue.")
        if base is not None:
            merged = {key: getattr(base, key) for key in QUEUE_INT_ATTRIBUTES}
            if base.fifo_queue:
                merged |= {
                    "fifo_queue": True,
                    "content_based_deduplication": base.content_based_deduplication,
                    "deduplication_scope": base.deduplication_scope,
                    "fifo_throughput_limit": base.fifo_throughput_limit,
                }
        merged.update(attributes)
        config = QueueConfig(**merged)
        redrive = base.redrive_policy if base is not None else None
        if "redrive_policy" in attributes:
            redrive = None
            if config.redrive_policy is not None:
                policy = config.redrive_policy
                try:
                    target = self._broker.queue(policy.dead_letter_queue)
                except QueueDoesNotExist:
                    raise InvalidParameterValue(
                        f"Value {policy.dead_letter_queue!r} for parameter RedrivePolicy is "
                        "invalid. Reason: Dead letter target does not exist."
                    ) from None
                redrive = RedriveRule(target.arn, policy.max_receive_count)
        allow = base.redrive_allow_policy if base is not None else None
        if "redrive_allow_policy" in attributes:
            allow = None
            if config.redrive_allow_policy is not None:
                given = config.redrive_allow_policy
                allow = RedriveAllowRule(
                    given.redrive_permission,
                    tuple(self._queue_arn(source) for source in given.source_queues),
                )
        return QueueSettings(
            visibility_timeout=config.visibility_timeout,
            delay_seconds=config.delay_seconds,
            message_retention_period=config.message_retention_period,
            maximum_message_size=config.maximum_message_size,
            receive_message_wait_time_seconds=config.receive_message_wait_time_seconds,
            redrive_policy=redrive,
            redrive_allow_policy=allow,
            fifo_queue=config.fifo_queue,
            content_based_deduplication=config.content_based_deduplication,
            deduplication_scope=config.deduplication_scope,
            fifo_throughput_limit=config.fifo_throughput_limit,
        )

    def _queue_arn(self, reference: str) -> str:
        """The ARN a queue name, URL or ARN stands for (the queue need not exist)."""
        if reference.startswith("arn:"):
            return reference
        return queue_arn(self.region, queue_name_from(reference))

    # ------------------------------------------------------------------ queues

    @durable
    async def create_queue(self, /, name: str, **attributes: Any) -> Queue:
        """Create a queue, or return the existing one if its attributes match.

        Attribute keywords are the snake_case AWS names: ``visibility_timeout``
        (0-43200, default 30), ``delay_seconds`` (0-900, 0),
        ``message_retention_period`` (60-1209600, 345600), ``maximum_message_size``
        (1024-1048576, 1048576), ``receive_message_wait_time_seconds`` (0-20, 0),
        ``redrive_policy`` (a :class:`RedrivePolicy`).

        Raises:
            EventBusError: ``InvalidParameterValue`` (name, redrive policy),
                ``InvalidAttributeValue``, ``InvalidAttributeName``,
                ``QueueAlreadyExists``, ``QueueDeletedRecently``.
        """
        settings = self._queue_settings(attributes)
        machine = self._broker.create_queue(name, settings, now=self.clock.now())
        self._after()
        return Queue(self, machine)

    async def get_queue(self, name: str) -> Queue:
        """The queue with this name, URL or ARN.

        Raises:
            EventBusError: ``QueueDoesNotExist``.
        """
        return Queue(self, self._broker.queue(name))

    @durable
    async def delete_queue(self, queue: Queue | str) -> None:
        """Delete a queue (a handle, name, URL or ARN) and every message in it.

        Raises:
            EventBusError: ``QueueDoesNotExist``.
        """
        reference = queue.name if isinstance(queue, Queue) else queue
        machine = self._broker.queue(reference)
        self._broker.delete_queue(reference, now=self.clock.now())
        self._notify(machine)
        self._signals.pop(machine, None)
        self._after()

    async def list_queues(self, prefix: str = "") -> list[Queue]:
        """Every queue whose name starts with ``prefix``, sorted by name."""
        return [Queue(self, m) for m in self._broker.list_queues(prefix)]

    # ------------------------------------------------------------------ topics

    @durable
    async def create_topic(self, /, name: str, **attributes: Any) -> Topic:
        """Create a topic, or return the existing one if its attributes match.

        Raises:
            EventBusError: ``InvalidParameter`` (a bad name or attribute, or the name
                is taken with other attributes).
        """
        settings = TopicConfig(**attributes).to_core()
        topic = Topic(self, self._broker.create_topic(name, settings))
        self._after()
        return topic

    async def get_topic(self, name: str) -> Topic:
        """The topic with this name or ARN.

        Raises:
            EventBusError: ``NotFound``.
        """
        return Topic(self, self._broker.topic(name))

    @durable
    async def delete_topic(self, topic: Topic | str) -> None:
        """Delete a topic and its subscriptions (a missing topic is no error)."""
        self._broker.delete_topic(topic.name if isinstance(topic, Topic) else topic)
        self._after()

    async def list_topics(self) -> list[Topic]:
        """Every topic, sorted by name."""
        return [Topic(self, t) for t in self._broker.list_topics()]

    # ---------------------------------------------------------------- consumers

    def consume(self, queue: Queue, handler: Handler, **options: Any) -> Consumer:
        """A Lambda-style consumer of ``queue``; use it as ``async with``.

        See :class:`~eventbus.Consumer` for the options.
        """
        from ._consumer import Consumer

        return Consumer(self, queue, handler, **options)

    # --------------------------------------------------------------- idleness

    def _idle(self) -> bool:
        now = self.clock.now()
        for consumer in self._consumers:
            if consumer._busy():
                return False
            machine = consumer.queue._machine
            if self._broker.has_queue(machine) and machine.counts(now=now).total:
                return False
        self._after()
        return True

    def _describe_busy(self) -> str:
        now = self.clock.now()
        parts = []
        for consumer in self._consumers:
            machine = consumer.queue._machine
            stats = machine.counts(now=now)
            parts.append(
                f"{machine.name}: {stats.visible} visible, {stats.in_flight} in flight, "
                f"{stats.delayed} delayed, {consumer._running_batches} batches running"
            )
        return "; ".join(parts) or "no consumer"

    async def run_until_idle(self, *, max_time: float = 3600.0) -> None:
        """Run until no handler is running and the queues consumers read are empty.

        With a :class:`VirtualClock` it moves time to the next timer whenever every
        task of the bus is waiting, so retries after visibility timeouts, delays and
        batching windows play out in no real time. Virtual time never moves while a
        handler runs.

        Args:
            max_time: how far (in the clock's seconds) time may move before giving up.

        Raises:
            NotIdle: idleness was not reached within ``max_time``.
        """
        clock = self.clock
        limit = clock.now() + max_time
        while True:
            await clock.wait_settled()
            if self._idle():
                return
            deadlines = [
                d for d in (self._broker.next_deadline(), _next_timer(clock)) if d is not None
            ]
            wake = min([*deadlines, limit])
            if clock.now() >= limit:
                raise NotIdle(f"The bus was not idle after {max_time} s: {self._describe_busy()}.")
            if isinstance(clock, VirtualClock):
                await clock.advance_to(wake)
            else:
                await clock.wait(self._any_change, wake)


def _next_timer(clock: Clock) -> float | None:
    return clock.next_timer() if isinstance(clock, VirtualClock) else None
