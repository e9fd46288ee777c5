"""The Bus: SNS topics and SQS queues on a backend, driven by a clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio

from .._core._errors import EventBusError, InvalidParameterValue, bounded_repr
from .._core._ids import IdSource
from .._core._message import QueueStatistics
from .._core._paging import Page
from .._core._settings import DeduplicationScope, FifoThroughputLimit, FifoThroughputScope
from .._models import RedriveAllowPolicy, RedrivePolicy, given_options
from .._store._memory import Store
from ._backend import CLOSED, NOT_OPEN, Backend, BusClosed
from ._clock import Clock, SystemClock, VirtualClock
from ._clock import NotIdle as NotIdle
from ._handles import Queue, Subscription, Topic
from ._local import LocalBackend

if TYPE_CHECKING:
    from ._consumer import Consumer

Handler = Callable[[dict[str, Any], Any], "Awaitable[Any] | Any"]

DEFAULT_REGION = "us-east-1"


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
        trace: log a debug record (logger ``eventbus.queue``) for every message
            step (sent, received, deleted). Off by default: then only warnings
            (and purges, at INFO) are logged. Local backend only.
        store: where the state is kept: in memory (the default) or, with
            :class:`SqliteStore`, in a database that survives restarts; a durable
            store is opened (and its state loaded) when the bus is entered.
            Local backend only.
        backend: where queues and topics live: this process (None, the default)
            or another backend, such as ``eventbus.aws.AwsBackend`` for real SNS
            and SQS.
        enforce_queue_policies: deliver from a topic to a queue only if the
            queue's ``Policy`` allows it, as SNS does (a statement allowing
            ``sqs:SendMessage`` to ``sns.amazonaws.com`` or ``*`` on the queue, with
            an ``aws:SourceArn`` condition matching the topic if it has one). A
            delivery it refuses goes to the subscription's dead-letter queue (if
            that queue's policy allows the topic) or is dropped, with a warning log
            event, as on AWS. Off by default: every delivery is allowed. The local
            ``subscribe`` never adds such a statement (SNS does not either).
            Local backend only.

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
        enforce_queue_policies: bool = False,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        if not isinstance(enforce_queue_policies, bool):
            raise InvalidParameterValue(
                "enforce_queue_policies must be a bool, not "
                f"{bounded_repr(enforce_queue_policies)}."
            )
        if backend is None:
            backend = LocalBackend(
                clock=self.clock,
                region=region or DEFAULT_REGION,
                ids=ids,
                trace=trace,
                store=store,
                enforce_queue_policies=enforce_queue_policies,
            )
        else:
            given = [
                name
                for name, value in (
                    ("store", store),
                    ("ids", ids),
                    ("trace", trace or None),
                    ("enforce_queue_policies", enforce_queue_policies or None),
                )
                if value is not None
            ]
            if given:
                raise InvalidParameterValue(
                    f"{', '.join(given)} apply to the local backend only, not to "
                    f"{type(backend).__name__}."
                )
            if region is not None and region != backend.region:
                raise InvalidParameterValue(
                    f"region {bounded_repr(region)} differs from the backend's region "
                    f"{backend.region!r}; "
                    "give the region to the backend only."
                )
            backend.bind(self.clock)
        self.backend = backend
        self.region = backend.region
        self._consumers: set[Consumer] = set()
        self._unavailable: str | None = NOT_OPEN
        """Why the bus cannot be used now (None while it is open)."""

    def __repr__(self) -> str:
        return f"<Bus {type(self.backend).__name__} {self.region}>"

    def _check_open(self) -> None:
        """Raise :class:`BusClosed` unless the bus is open."""
        if self._unavailable is not None:
            raise BusClosed(self._unavailable)

    async def __aenter__(self) -> Self:
        """Open the bus (a durable store is opened and its state loaded).

        Raises:
            BusClosed: the bus was entered before; a Bus is entered once.
        """
        if self._unavailable is not NOT_OPEN:
            raise BusClosed(
                "A Bus is entered once, and this one "
                + ("is open already." if self._unavailable is None else "was closed. " + CLOSED)
            )
        await self.backend.open()
        self._unavailable = None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the bus: running message move tasks are cancelled, and from now on
        every call on the bus or its handles raises :class:`BusClosed`.

        An exception of the block comes out as itself; a failure of a background
        task comes out as itself too, or, with the block's own, as one group.
        """
        self._unavailable = CLOSED
        try:
            await self.backend.close()
        except BaseExceptionGroup as group:
            errors = [e for e in group.exceptions if not _is_cancellation(e)]
            if exc is not None and not _is_cancellation(exc):
                errors.insert(0, exc)
            if not errors:
                raise
            failure = errors[0] if len(errors) == 1 else _group(errors)
        else:
            return
        try:
            raise failure
        finally:
            del failure

    # ------------------------------------------------------------------ queues

    async def create_queue(
        self,
        /,
        name: str,
        *,
        visibility_timeout: int | None = None,
        delay_seconds: int | None = None,
        message_retention_period: int | None = None,
        maximum_message_size: int | None = None,
        receive_message_wait_time_seconds: int | None = None,
        redrive_policy: RedrivePolicy | None = None,
        redrive_allow_policy: RedriveAllowPolicy | None = None,
        fifo_queue: bool | None = None,
        content_based_deduplication: bool | None = None,
        deduplication_scope: DeduplicationScope | None = None,
        fifo_throughput_limit: FifoThroughputLimit | None = None,
        kms_master_key_id: str | None = None,
        kms_data_key_reuse_period_seconds: int | None = None,
        sqs_managed_sse_enabled: bool | None = None,
        policy: str | Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Queue:
        """Create a queue, or return the existing one if the attributes given match it.

        The keywords are the snake_case AWS attribute names; None (the default)
        means "not given": a new queue takes AWS's default, and an existing queue is
        compared only on the attributes given, as SQS does (so ``create_queue(name)``
        returns the queue whatever its attributes).

        Args:
            name: 1-80 letters, digits, ``-`` and ``_``; a FIFO queue's ends in ``.fifo``.
            visibility_timeout: 0-43200 seconds (AWS's default 30).
            delay_seconds: 0-900 (0).
            message_retention_period: 60-1209600 seconds (345600, 4 days).
            maximum_message_size: 1024-1048576 bytes (1048576).
            receive_message_wait_time_seconds: 0-20 (0).
            redrive_policy: where messages go after too many receives.
            redrive_allow_policy: which queues may use this one as their DLQ.
            fifo_queue: True for a FIFO queue (a standard queue knows no
                ``FifoQueue`` attribute: False is refused, as on AWS).
            content_based_deduplication: FIFO only (False).
            deduplication_scope: FIFO only: ``queue`` (the default) or
                ``messageGroup``.
            fifo_throughput_limit: FIFO only: ``perQueue`` (the default) or
                ``perMessageGroupId`` (only with ``deduplication_scope="messageGroup"``).
            kms_master_key_id: SSE-KMS key (kept and returned; nothing is encrypted).
            kms_data_key_reuse_period_seconds: 60-86400 (300).
            sqs_managed_sse_enabled: SSE-SQS (True; off once a KMS key is set).
            policy: the access policy, as JSON text or a mapping (none).
            tags: tag a new queue (the rules of :meth:`Queue.tag`); a queue that
                exists already is returned with its own tags, the given ones not
                applied.

        Raises:
            EventBusError: ``InvalidParameterValue`` (name, redrive policy),
                ``InvalidAttributeValue``, ``InvalidAttributeName``,
                ``QueueAlreadyExists``, ``QueueDeletedRecently``.
        """
        attributes = given_options(
            visibility_timeout=visibility_timeout,
            delay_seconds=delay_seconds,
            message_retention_period=message_retention_period,
            maximum_message_size=maximum_message_size,
            receive_message_wait_time_seconds=receive_message_wait_time_seconds,
            redrive_policy=redrive_policy,
            redrive_allow_policy=redrive_allow_policy,
            fifo_queue=fifo_queue,
            content_based_deduplication=content_based_deduplication,
            deduplication_scope=deduplication_scope,
            fifo_throughput_limit=fifo_throughput_limit,
            kms_master_key_id=kms_master_key_id,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            sqs_managed_sse_enabled=sqs_managed_sse_enabled,
            policy=policy,
        )
        if tags is None:
            return await self.backend.create_queue(name, **attributes)
        return await self.backend.create_queue(name, tags=tags, **attributes)

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

    async def create_topic(
        self,
        /,
        name: str,
        *,
        fifo_topic: bool | None = None,
        content_based_deduplication: bool | None = None,
        display_name: str | None = None,
        fifo_throughput_scope: FifoThroughputScope | None = None,
        kms_master_key_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Topic:
        """Create a topic, or return the existing one if the attributes given match it.

        None (the default) means "not given": a new topic takes AWS's default, and
        an existing topic is compared only on the attributes given, as SNS does.

        Args:
            name: 1-256 letters, digits, ``-`` and ``_``; a FIFO topic's ends in ``.fifo``.
            fifo_topic: True for a FIFO topic (False).
            content_based_deduplication: FIFO only (False).
            display_name: up to 100 characters ("").
            fifo_throughput_scope: FIFO only: ``Topic`` (the default: deduplication
                across the topic) or ``MessageGroup`` (within each message group).
            kms_master_key_id: SSE key (kept and returned; nothing is encrypted).
            tags: tag a new topic (the rules of :meth:`Topic.tag`); for a topic that
                exists already every tag given must be one it has.

        ``tags`` (the rules of :meth:`Topic.tag`) tag a new topic; for a topic that
        exists already every tag given must be one it has.

        Raises:
            EventBusError: ``InvalidParameter`` (a bad name, attribute or tag, the
                name is taken with a different value for an attribute given, or the
                topic exists "with different tags"), ``TagLimitExceeded``.
        """
        attributes = given_options(
            fifo_topic=fifo_topic,
            content_based_deduplication=content_based_deduplication,
            display_name=display_name,
            fifo_throughput_scope=fifo_throughput_scope,
            kms_master_key_id=kms_master_key_id,
        )
        if tags is None:
            return await self.backend.create_topic(name, **attributes)
        return await self.backend.create_topic(name, tags=tags, **attributes)

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

    # ------------------------------------------------------------------ paging

    async def list_queues_page(
        self,
        prefix: str = "",
        *,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[Queue]:
        """One page of SQS ``ListQueues``: the queues whose names start with ``prefix``.

        Locally the queues come sorted by name; on AWS in the order SQS gives.

        Args:
            prefix: the start of the names to list.
            max_results: 1-1000. Without it up to 1000 queues come and no
                ``next_token`` (SQS returns a token only when ``MaxResults`` is given).
            next_token: the ``next_token`` of the page before.

        Raises:
            EventBusError: ``InvalidParameterValue`` for ``max_results`` outside
                1-1000 or a token this call did not return.
        """
        return await self.backend.list_queues_page(
            prefix, max_results=max_results, next_token=next_token
        )

    async def list_topics_page(self, *, next_token: str | None = None) -> Page[Topic]:
        """One page of SNS ``ListTopics``: up to 100 topics (by name locally).

        Raises:
            EventBusError: ``InvalidParameter`` for a token this call did not return.
        """
        return await self.backend.list_topics_page(next_token=next_token)

    async def list_subscriptions(self) -> list[Subscription]:
        """Every subscription of every topic (SNS ``ListSubscriptions``, every page)."""
        subscriptions: list[Subscription] = []
        token: str | None = None
        while True:
            page = await self.backend.list_subscriptions_page(next_token=token)
            subscriptions.extend(page.items)
            token = page.next_token
            if token is None:
                return subscriptions

    async def list_subscriptions_page(self, *, next_token: str | None = None) -> Page[Subscription]:
        """One page of SNS ``ListSubscriptions``: up to 100 subscriptions of every
        topic (by subscription ARN locally).

        Raises:
            EventBusError: ``InvalidParameter`` for a token this call did not return.
        """
        return await self.backend.list_subscriptions_page(next_token=next_token)

    async def cancel_message_move_task(self, task_handle: str) -> int:
        """Cancel a running message move task; returns how many messages it moved.

        Raises:
            EventBusError: ``InvalidParameterValue`` (a malformed handle, or the task
                is not running), ``ResourceNotFoundException`` (no such task).
        """
        return await self.backend.cancel_message_move_task(task_handle)

    # ---------------------------------------------------------------- consumers

    def consume(
        self,
        queue: Queue | str,
        handler: Handler,
        *,
        batch_size: int = 10,
        maximum_batching_window: float = 0,
        max_concurrency: int | None = None,
        function_timeout: float = 3,
        report_batch_item_failures: bool = False,
        function_name: str | None = None,
        memory_limit_in_mb: int = 128,
        run_sync_handlers_in_thread: bool = True,
        stop_timeout: float | None = None,
        thread_limiter: anyio.CapacityLimiter | None = None,
    ) -> Consumer:
        """A Lambda-style consumer of ``queue`` (a handle, name, URL or ARN); use it
        as ``async with``.

        A queue given by reference is looked up when the consumer is entered. See
        :class:`~eventbus.Consumer` for the options.
        """
        from ._consumer import Consumer

        self._check_open()
        return Consumer(
            self,
            queue,
            handler,
            batch_size=batch_size,
            maximum_batching_window=maximum_batching_window,
            max_concurrency=max_concurrency,
            function_timeout=function_timeout,
            report_batch_item_failures=report_batch_item_failures,
            function_name=function_name,
            memory_limit_in_mb=memory_limit_in_mb,
            run_sync_handlers_in_thread=run_sync_handlers_in_thread,
            stop_timeout=stop_timeout,
            thread_limiter=thread_limiter,
        )

    # --------------------------------------------------------------- idleness

    async def _busy_queues(self) -> list[str]:
        """What keeps the bus from being idle: one line per busy consumer, naming
        each running handler and how long it has run."""
        busy = []
        now = self.clock.now()
        for consumer in self._consumers:
            try:
                stats = await consumer.queue.statistics()
            except EventBusError:  # the queue is gone: nothing left to consume
                stats = QueueStatistics(0, 0, 0)
            if consumer._busy() or stats.total:
                line = (
                    f"{consumer.queue.name}: {stats.visible} visible, {stats.in_flight} in "
                    f"flight, {stats.delayed} delayed, {consumer._running_batches} batches "
                    "running"
                )
                runs = [run.describe(now) for run in consumer._runs]
                busy.append("; ".join([line, *runs]))
        return busy

    async def run_until_idle(self, *, max_time: float = 3600.0) -> None:
        """Run until no handler is running, the queues consumers read are empty, and
        no task of yours sleeps on the bus clock.

        With a :class:`VirtualClock` it moves time to the next timer whenever every
        task of the bus is waiting, so retries after visibility timeouts, delays and
        batching windows play out in no real time. Virtual time never moves while a
        handler runs, unless the handler is stuck on something outside the bus
        (see the clock's ``stuck_after``): then it moves on toward the handler's
        function timeout. On a backend whose counts lag (AWS), the queues must read
        idle for the backend's ``idle_quiet_period`` (its counts read every
        ``poll_interval``) before it returns: what arrives meanwhile is handled too.

        A task of your own sleeping in ``clock.sleep()`` (a producer sending every
        second) counts as work still to do: time moves on to its deadline, and this
        returns only once it has stopped sleeping, so a producer that never stops
        ends in :class:`NotIdle` after ``max_time`` (drive such a one with
        ``clock.advance`` instead). Between two sleeps such a task should await only
        the bus (sends, publishes): time may move on while it awaits anything else.

        Args:
            max_time: how far (in the clock's seconds) time may move before giving up.

        Raises:
            NotIdle: idleness was not reached within ``max_time``, or cannot be (a
                sync handler runs in its thread past its function timeout while
                virtual time cannot move); the message names each busy queue and
                each running handler, with how long it has run.
            RuntimeError: called from inside a handler (it would wait for itself).
        """
        self._check_open()
        clock = self.clock
        clock._refuse_inside_handler("Bus.run_until_idle()")
        backend = self.backend
        limit = clock.now() + max_time
        quiet = backend.idle_quiet_period
        idle_since: float | None = None
        while True:
            if isinstance(clock, VirtualClock):
                await clock.wait_settled()
            else:  # real time: a running handler may take as long as its timeout
                with anyio.move_on_after(max(0.0, limit - clock.now())):
                    await clock.wait_settled()
            busy = await self._busy_queues()
            sleepers = clock.sleepers()
            if sleepers:
                busy.append(
                    f"{len(sleepers)} task(s) sleeping on the bus clock (clock.sleep), the "
                    f"first until {sleepers[0]}"
                )
            now = clock.now()
            if busy:
                idle_since = None
            else:
                if idle_since is None:
                    idle_since = now
                if now - idle_since >= quiet:
                    return
            if now >= limit:
                if idle_since is None:
                    what = "; ".join(busy)
                else:
                    what = (
                        f"the queues read idle for only {now - idle_since:g} s of the "
                        f"backend's idle_quiet_period of {quiet:g} s"
                    )
                raise NotIdle(f"The bus was not idle after {max_time} s: {what}.")
            deadlines = [
                d
                for d in (backend.next_deadline(), _next_timer(clock), *sleepers[:1])
                if d is not None
            ]
            if idle_since is not None:
                deadlines.append(idle_since + quiet)
            wake = min([*deadlines, limit])
            if isinstance(clock, VirtualClock):
                await clock.advance_to(wake)
            else:
                await backend.wait_for_change(clock, wake)


def _next_timer(clock: Clock) -> float | None:
    return clock.next_timer() if isinstance(clock, VirtualClock) else None


def _is_cancellation(error: BaseException) -> bool:
    try:
        return isinstance(error, anyio.get_cancelled_exc_class())
    except Exception:  # no async library running (cannot happen in __aexit__)
        return False


def _group(errors: list[BaseException]) -> BaseException:
    """Several failures at once, as one group (an ExceptionGroup if all are Exceptions)."""
    return BaseExceptionGroup("several failures while the bus ran", errors)
