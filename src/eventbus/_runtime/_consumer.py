"""The consumer: AWS Lambda's SQS event source mapping, for handlers in this process.

Pollers long-poll the queue and assemble batches (up to ``batch_size``, waiting up
to ``maximum_batching_window`` for a full one, within the 6 MB invocation payload);
each batch is one invocation of the handler with a Lambda-shaped event and
context. The outcome decides what is deleted:

* the handler returns: the whole batch is deleted;
* it raises or times out: nothing is deleted, and the batch comes back after the
  queue's visibility timeout (and reaches the dead-letter queue after
  ``max_receive_count`` receives, by the queue's own redrive policy);
* with ``report_batch_item_failures``: every message except those listed in
  ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}`` is deleted; a malformed
  response fails the whole batch, as on AWS.

Scaling follows AWS's description on the bus clock: five pollers at first (or
``max_concurrency`` if smaller), one more whenever every poller is busy and
messages are waiting, at most 300 more per minute, up to ``max_concurrency``
(1000 without one); a poller whose 20-second long poll comes back empty leaves
while more than the minimum remain, and (without partial batch responses) so does
one whose invocation failed.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import math
from collections import deque
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.abc

from .._core._errors import (
    EventBusError,
    InvalidParameterValueException,
    QueueDoesNotExist,
    bounded_repr,
)
from .._core._message import ReceivedMessage
from ._backend import BusClosed
from ._clock import HandlerRun, Signal, SystemClock
from ._handles import Queue
from ._lambda import LambdaContext, sqs_event
from ._log import Once, consumer_log

if TYPE_CHECKING:
    from ._bus import Bus

MAX_PAYLOAD_BYTES = 6_291_456
"""The synchronous invocation payload limit (6 MB)."""
RECORD_OVERHEAD_BYTES = 1_024
"""What each record adds to the payload beyond its body and attributes (an estimate)."""
MIN_POLLERS = 5
MAX_POLLERS = 1_000
SCALE_UP_PER_MINUTE = 300
RELEASE_TIMEOUT = 10
"""How long (seconds) settling a batch or returning unhandled messages to a remote
queue may take once started (it is shielded from cancellation)."""
RETRY_PAUSE = 1.0
"""The first pause (seconds) after a failed receive; it doubles with each failure."""
RETRY_PAUSE_MAX = 20.0
"""The longest pause between retries of a failing receive."""

_FAILED_ALL = None


@dataclass(frozen=True, slots=True)
class ConsumerStatistics:
    """What a consumer has done so far.

    Attributes:
        invocations: handler invocations started.
        successes: invocations that succeeded (partial batch responses included).
        failures: invocations that raised, timed out or answered malformed.
        in_flight_batches: invocations running now.
        concurrency: pollers running now (each runs at most one invocation).
        messages_deleted: messages deleted after their handler succeeded.
        messages_failed: messages left to the visibility timeout after a failure.
    """

    invocations: int
    successes: int
    failures: int
    in_flight_batches: int
    concurrency: int
    messages_deleted: int
    messages_failed: int


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterValueException(
            f"{name} must be an integer from {low} to {high}, not {bounded_repr(value)}."
        )
    return value


class Consumer:
    """A Lambda-style consumer of one queue; use it as ``async with``.

    Args:
        bus: the bus the queue belongs to.
        queue: the queue to read: a handle, or its name, URL or ARN (looked up
            when the consumer is entered; ``queue`` is its handle from then on).
        handler: an AWS Lambda handler, ``handler(event, context)``, sync or async.
        batch_size: 1-10,000 messages per invocation; more than 10 needs a
            batching window.
        maximum_batching_window: 0-300 seconds to wait for a full batch.
        max_concurrency: 2-1000 concurrent invocations (``ScalingConfig``); None
            for AWS's default ceiling of 1000.
        function_timeout: 1-900 seconds; at most the queue's visibility timeout.
        report_batch_item_failures: honour ``batchItemFailures`` responses.
        function_name: the name in the context and ARN (the handler's by default).
        memory_limit_in_mb: reported by the context, 128-10240.
        run_sync_handlers_in_thread: run sync handlers in a worker thread (True,
            as Lambda runs them apart) or on the event loop (faster, but a handler
            that blocks stalls the bus).
        stop_timeout: on leaving the ``async with``, how long (bus clock seconds)
            running invocations may take to finish before they are cancelled;
            ``function_timeout`` by default.
        thread_limiter: bounds how many sync handlers run in worker threads at
            once. By default anyio's default thread limiter (40 threads, shared by
            every consumer and every ``anyio.to_thread`` call of the event loop; set
            its ``total_tokens`` to change it); pass a ``CapacityLimiter`` to share
            another bound among some consumers. Invocations beyond the bound wait
            for a thread, within their function timeout.

    Exceptions raised in the ``async with`` block come out as themselves, as does a
    ``KeyboardInterrupt`` or ``SystemExit`` raised by a handler: it stops the
    consumer as a cancelling ``stop`` does (every batch it holds, that one too, goes
    back to the queue at once) and the block is cancelled. Only several failures at
    once (the block raised while a handler raised ``SystemExit``, say) come out as
    an ``ExceptionGroup``. Any other exception a handler raises, ``CancelledError``
    included, fails its batch.

    Raises:
        EventBusError: ``InvalidParameterValueException`` for an option out of
            range, as Lambda's CreateEventSourceMapping.
    """

    def __init__(
        self,
        bus: Bus,
        queue: Queue | str,
        handler: Callable[[dict[str, Any], Any], Any],
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
    ) -> None:
        self.batch_size = _check_int("BatchSize", batch_size, 1, 10_000)
        if (
            not isinstance(maximum_batching_window, int | float)
            or isinstance(maximum_batching_window, bool)
            or not 0 <= maximum_batching_window <= 300
        ):
            raise InvalidParameterValueException(
                "MaximumBatchingWindowInSeconds must be from 0 to 300, not "
                f"{bounded_repr(maximum_batching_window)}."
            )
        if batch_size > 10 and maximum_batching_window <= 0:
            raise InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch "
                "size is greater than 10"
            )
        if max_concurrency is not None:
            _check_int("ScalingConfig.MaximumConcurrency", max_concurrency, 2, MAX_POLLERS)
        if (
            not isinstance(function_timeout, int | float)
            or isinstance(function_timeout, bool)
            or not 1 <= function_timeout <= 900
        ):
            raise InvalidParameterValueException(
                "Function timeout must be from 1 to 900 seconds, not "
                f"{bounded_repr(function_timeout)}."
            )
        fifo = queue.fifo if isinstance(queue, Queue) else str(queue).endswith(".fifo")
        if fifo and batch_size > 10:
            raise InvalidParameterValueException(
                f"BatchSize must be from 1 to 10 for a FIFO queue, not {batch_size}."
            )
        if isinstance(queue, Queue):
            self._check_visibility(queue, function_timeout)
        elif not isinstance(queue, str):
            raise InvalidParameterValueException(
                f"queue must be a Queue or a queue's name, URL or ARN, not {bounded_repr(queue)}."
            )
        if not isinstance(report_batch_item_failures, bool):
            raise InvalidParameterValueException(
                "report_batch_item_failures must be a bool (FunctionResponseTypes)."
            )
        _check_int("MemorySize", memory_limit_in_mb, 128, 10_240)
        if not callable(handler):
            raise InvalidParameterValueException(
                f"handler must be callable, not {bounded_repr(handler)}."
            )
        self.bus = bus
        self._queue_reference = queue
        if isinstance(queue, Queue):
            self.queue: Queue = queue
        self.handler = handler
        self.maximum_batching_window = float(maximum_batching_window)
        self.max_concurrency = max_concurrency
        self.function_timeout = float(function_timeout)
        self.report_batch_item_failures = report_batch_item_failures
        self.function_name: str = function_name or str(getattr(handler, "__name__", "handler"))
        self.memory_limit_in_mb = memory_limit_in_mb
        self.stop_timeout = self.function_timeout if stop_timeout is None else stop_timeout
        self._is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - a callable object's method
        )
        self._in_thread = run_sync_handlers_in_thread
        if thread_limiter is not None and not isinstance(thread_limiter, anyio.CapacityLimiter):
            raise InvalidParameterValueException(
                "thread_limiter must be an anyio.CapacityLimiter or None, not "
                f"{bounded_repr(thread_limiter)}."
            )
        self._limiter = thread_limiter
        ceiling = max_concurrency or MAX_POLLERS
        self._min_pollers = min(MIN_POLLERS, ceiling)
        self._max_pollers = ceiling
        self._stack: AsyncExitStack | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._stopping = False
        self._idle_scopes: set[anyio.CancelScope] = set()
        """The scopes of pollers waiting in a receive: stop() may cancel them."""
        self._pausing_scopes: set[anyio.CancelScope] = set()
        """The scopes of pollers pausing before a retry: stop() cancels them."""
        self._spawned_at: deque[float] = deque()
        self._batch_done = Signal()
        self._pollers = 0
        self._busy_pollers = 0
        self._running_batches = 0
        self._invocations = 0
        self._successes = 0
        self._failures = 0
        self._deleted = 0
        self._failed_messages = 0
        self._tracebacks = Once()
        """The messages whose handler failure was logged with its traceback."""
        self._runs: dict[HandlerRun, None] = {}
        """The invocations running now."""
        self._fatal: BaseException | None = None
        """A KeyboardInterrupt or SystemExit a handler raised: it ends the consumer."""
        self._warned_ignored_failures = False

    @staticmethod
    def _check_visibility(queue: Queue, function_timeout: float) -> None:
        visibility = queue._visibility_timeout()
        if function_timeout > visibility:
            raise InvalidParameterValueException(
                f"Queue visibility timeout: {visibility} seconds is less than Function "
                f"timeout: {function_timeout} seconds"
            )

    # ------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("a Consumer can be entered only once")
        self.bus._check_open()
        reference = self._queue_reference
        if isinstance(reference, str):
            queue = await self.bus.get_queue(reference)
            self._check_visibility(queue, self.function_timeout)
            self.queue = queue
        self._stack = AsyncExitStack()
        self._task_group = await self._stack.enter_async_context(anyio.create_task_group())
        self.bus._consumers.add(self)
        for _ in range(self._min_pollers):
            self._spawn_poller()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Stop the consumer; exceptions come out as themselves.

        The task group sees only cancellations (one of its own scope is its to
        swallow): an exception of the block, of the pollers or a handler's
        ``KeyboardInterrupt`` reaches the caller unwrapped, or, several at once, as
        one group.
        """
        assert self._stack is not None
        assert self._task_group is not None
        cancelled = anyio.get_cancelled_exc_class()
        errors: list[BaseException] = []
        inner: BaseException | None = None  # what the task group gets
        if exc is not None:
            if isinstance(exc, cancelled):
                inner = exc
            else:
                errors.append(exc)
        try:
            if not self._task_group.cancel_scope.cancel_called:  # stop(cancel=True) did it
                await self.stop(cancel=exc is not None)
        except BaseException as error:
            if isinstance(error, cancelled):
                inner = inner or error
            else:
                errors.append(error)
        finally:
            self.bus._consumers.discard(self)
        try:
            suppressed = bool(
                await self._stack.__aexit__(
                    None if inner is None else type(inner),
                    inner,
                    None if inner is None else inner.__traceback__,
                )
            )
        except BaseExceptionGroup as group:
            errors.extend(e for e in group.exceptions if not isinstance(e, cancelled))
            if not errors:
                raise
            suppressed = True
        if self._fatal is not None and self._fatal not in errors:
            errors.append(self._fatal)
        if not errors:
            return suppressed
        if len(errors) == 1 and errors[0] is exc:
            return False  # the block's own exception goes on, with its traceback
        failure = errors[0] if len(errors) == 1 else _group(errors)
        try:
            raise failure
        finally:
            del failure, errors

    async def stop(self, *, cancel: bool = False) -> None:
        """Stop polling, let running invocations finish, return unprocessed messages.

        Invocations still running after ``stop_timeout`` are cancelled (a sync
        handler's thread cannot be stopped: it is abandoned); their messages go back
        to the queue at once, as do messages received but not yet handed over. On a
        remote queue (AWS) the receives already sent are left to finish first, unless
        ``cancel``: what they bring goes back too.
        """
        self._stopping = True
        for scope in list(self._pausing_scopes):
            scope.cancel()
        if cancel or self.queue._receive_cancel_safe:
            for scope in list(self._idle_scopes):
                scope.cancel()
        # Otherwise a receive already sent to a remote queue is left to finish (at
        # most one long poll): cancelled, the service would still hide what it took,
        # with no receipt handle left here to give it back.
        clock = self.bus.clock
        if not cancel:
            deadline = clock.now() + self.stop_timeout
            while self._running_batches and clock.now() < deadline:
                await clock.wait(self._batch_done, deadline)
        if self._task_group is not None and (cancel or self._running_batches):
            self._task_group.cancel_scope.cancel()

    def statistics(self) -> ConsumerStatistics:
        """What the consumer has done so far, and how many pollers it runs now."""
        return ConsumerStatistics(
            invocations=self._invocations,
            successes=self._successes,
            failures=self._failures,
            in_flight_batches=self._running_batches,
            concurrency=self._pollers,
            messages_deleted=self._deleted,
            messages_failed=self._failed_messages,
        )

    def _busy(self) -> bool:
        return self._running_batches > 0 or self._busy_pollers > 0

    # --------------------------------------------------------------- polling

    def _spawn_poller(self) -> None:
        assert self._task_group is not None
        self._pollers += 1
        self.bus.clock.spawn(self._task_group, self._poll)

    async def _maybe_scale_up(self) -> None:
        if self._stopping or self._pollers >= self._max_pollers:
            return
        if self._busy_pollers < self._pollers:
            return
        if not await self.queue._has_backlog():
            return
        now = self.bus.clock.now()
        spawned = self._spawned_at
        while spawned and spawned[0] <= now - 60:
            spawned.popleft()
        if len(spawned) >= SCALE_UP_PER_MINUTE:
            return
        spawned.append(now)
        self._spawn_poller()

    async def _poll(self) -> None:
        """One poller: receive a batch, invoke the handler, settle; until stopped.

        A queue deleted under it, or its bus closing, stops it; any other error of the
        queue (a throttle, an unreachable service) is logged and retried after a growing
        pause.
        """
        # One cancel scope for the poller's life (entering one costs more than a
        # receive): stop() cancels it only while the poller is idle (receiving or
        # pausing). Once it is cancelled the poller only releases what it holds,
        # shielded, and leaves.
        failures = 0
        try:
            with anyio.CancelScope() as scope:
                while not self._stopping:
                    try:
                        stay = await self._poll_once(scope)
                    except (QueueDoesNotExist, BusClosed) as error:
                        consumer_log.warning(
                            "consumer.stopped",
                            bus_time=self.bus.clock.now(),
                            queue=self.queue.name,
                            code=error.code,
                            reason=error.message,
                        )
                        return
                    except EventBusError as error:
                        if self._stopping:  # a receive left to finish by stop() failed
                            return
                        failures += 1
                        pause = min(RETRY_PAUSE_MAX, RETRY_PAUSE * 2 ** (failures - 1))
                        consumer_log.warning(
                            "consumer.poll_failed",
                            bus_time=self.bus.clock.now(),
                            queue=self.queue.name,
                            code=error.code,
                            reason=error.message,
                            retry_in=pause,
                        )
                        self._pausing_scopes.add(scope)
                        try:
                            await self.bus.clock.sleep(pause)
                        finally:
                            self._pausing_scopes.discard(scope)
                        continue
                    failures = 0
                    if not stay:
                        return
                    # Let the rest of the program run between batches: a handler that
                    # never awaits, on a queue that always has messages, would
                    # otherwise hold the event loop until the backlog is drained.
                    await anyio.lowlevel.checkpoint()
        finally:
            self._pollers -= 1

    async def _poll_once(self, scope: anyio.CancelScope) -> bool:
        """Receive, invoke and settle one batch; False when this poller should leave."""
        batch: list[ReceivedMessage] = []
        holding = False
        succeeded = True
        try:
            self._idle_scopes.add(scope)
            try:
                await self._collect(batch)
            finally:
                self._idle_scopes.discard(scope)
            if not batch:
                return self._stopping or self._pollers <= self._min_pollers
            self._busy_pollers += 1
            holding = True
            if self._stopping:
                return False
            await self._maybe_scale_up()
            if self._stopping:  # stop() ran while scaling looked at the queue
                return False
            succeeded = await self._invoke(batch)
            batch = []
        finally:
            if holding:
                self._busy_pollers -= 1
            if batch:  # never handed over, or the invocation was cancelled
                await self._release(batch)
        return succeeded or self.report_batch_item_failures or self._pollers <= self._min_pollers

    async def _collect(self, batch: list[ReceivedMessage]) -> None:
        """Receive a batch into ``batch``: up to batch_size, within the window and
        the payload limit (messages that would pass the limit go back at once)."""
        queue = self.queue
        first = await queue.receive(
            max_messages=min(10, self.batch_size), wait_time_seconds=queue._long_poll_seconds
        )
        payload = await self._admit(first, batch, 0)
        window = self.maximum_batching_window
        if not batch or window <= 0:
            return
        clock = self.bus.clock
        end = clock.now() + window
        while len(batch) < self.batch_size and payload < MAX_PAYLOAD_BYTES and not self._stopping:
            remaining = end - clock.now()
            if remaining <= 0:
                break
            more = await queue.receive(
                max_messages=min(10, self.batch_size - len(batch)),
                wait_time_seconds=min(queue._long_poll_seconds, remaining),
            )
            payload = await self._admit(more, batch, payload)

    async def _admit(
        self, messages: list[ReceivedMessage], batch: list[ReceivedMessage], payload: int
    ) -> int:
        """Add ``messages`` to ``batch`` while the payload stays within the limit.

        The first message that does not fit, and every one after it, goes back to the
        queue (taking a later, smaller one instead could overtake its group on FIFO);
        the batch is then full.
        """
        for index, message in enumerate(messages):
            size = _record_size(message)
            if batch and payload + size > MAX_PAYLOAD_BYTES:
                await self._release(messages[index:])
                return MAX_PAYLOAD_BYTES
            payload += size
            batch.append(message)
        return payload

    async def _release(self, messages: list[ReceivedMessage]) -> None:
        """Make messages visible again at once, even when cancelled.

        Shielded, and bounded by ``RELEASE_TIMEOUT`` seconds for a remote backend;
        a message that could not be released comes back after its visibility
        timeout anyway.
        """
        with anyio.move_on_after(RELEASE_TIMEOUT, shield=True):
            try:
                await self.queue._release_received([m.receipt_handle for m in messages])
            except EventBusError as error:
                consumer_log.warning(
                    "consumer.release_failed",
                    bus_time=self.bus.clock.now(),
                    queue=self.queue.name,
                    code=error.code,
                    reason=error.message,
                    messages=len(messages),
                )

    # ------------------------------------------------------------- invoking

    async def _invoke(self, batch: list[ReceivedMessage]) -> bool:
        """Run the handler on one batch and settle the batch; True on success."""
        bus = self.bus
        clock = bus.clock
        self._invocations += 1
        self._running_batches += 1
        run: HandlerRun | None = None
        try:
            event = sqs_event(batch, self.queue.arn, bus.region)
            started = clock.now()
            deadline = started + self.function_timeout
            context = LambdaContext(
                function_name=self.function_name,
                region=bus.region,
                request_id=bus.backend.request_id(),
                memory_limit_in_mb=self.memory_limit_in_mb,
                deadline=deadline,
                now=clock.now,
            )
            run = HandlerRun(
                function=self.function_name,
                queue=self.queue.name,
                request_id=context.aws_request_id,
                timeout=self.function_timeout,
                started=started,
            )
            self._runs[run] = None
            result, error, timed_out = await self._call_with_timeout(event, context, run)
            if error is not None and error is self._fatal:
                # The consumer is cancelled: this raises, and the batch goes back.
                await anyio.lowlevel.checkpoint()
            failed: set[str] | None
            if timed_out:
                failed = _FAILED_ALL
                consumer_log.warning(
                    "handler.timed_out",
                    bus_time=clock.now(),
                    queue=self.queue.name,
                    function=self.function_name,
                    request_id=context.aws_request_id,
                    timeout=self.function_timeout,
                    messages=len(batch),
                )
            elif error is not None:
                failed = _FAILED_ALL
                consumer_log.warning(
                    "handler.failed",
                    bus_time=clock.now(),
                    queue=self.queue.name,
                    function=self.function_name,
                    request_id=context.aws_request_id,
                    messages=len(batch),
                    error=f"{type(error).__name__}: {error}",
                    # The traceback once per message, not on every retry.
                    exc_info=error if self._tracebacks.first(m.message_id for m in batch) else None,
                )
            elif self.report_batch_item_failures:
                failed = self._read_response(result, batch, context)
            else:
                failed = set()
                self._warn_if_ignored_failures(result, context)
            if failed and self.queue.fifo:
                failed = _fail_rest_of_groups(batch, failed)
            # Once the outcome is known, a cancellation must not undo it: messages the
            # handler processed would otherwise be released and delivered again.
            with anyio.move_on_after(RELEASE_TIMEOUT, shield=True):
                await self._settle(batch, failed)
            return failed is not _FAILED_ALL
        finally:
            if run is not None:
                del self._runs[run]
            self._running_batches -= 1
            self._batch_done.notify_all()

    def _read_response(
        self, result: Any, batch: list[ReceivedMessage], context: LambdaContext
    ) -> set[str] | None:
        """The ids a partial batch response fails, or None (all) if it is malformed.

        A response that raises while being read (its ``==`` or ``bool()``, an
        unhashable identifier, JSON nested too deep) is malformed too.
        """
        try:
            failed = _parse_batch_item_failures(result, {m.message_id for m in batch})
        except Exception:  # whatever reading the user's object raises
            failed = _FAILED_ALL
        if failed is _FAILED_ALL:
            consumer_log.warning(
                "handler.malformed_response",
                bus_time=self.bus.clock.now(),
                queue=self.queue.name,
                function=self.function_name,
                request_id=context.aws_request_id,
                response=bounded_repr(result),
            )
        return failed

    def _warn_if_ignored_failures(self, result: Any, context: LambdaContext) -> None:
        """Warn, once per consumer, of a partial batch response nobody reads.

        Without ``report_batch_item_failures`` Lambda ignores ``batchItemFailures``
        and deletes the whole batch: rarely what the handler's author meant.
        """
        if self._warned_ignored_failures:
            return
        try:
            if isinstance(result, str | bytes):
                listed = b"batchItemFailures" in (
                    result if isinstance(result, bytes) else result.encode()
                )
            else:
                listed = isinstance(result, dict) and bool(result.get("batchItemFailures"))
        except Exception:  # an odd object is no partial batch response
            listed = False
        if listed:
            self._warned_ignored_failures = True
            consumer_log.warning(
                "handler.batch_item_failures_ignored",
                bus_time=self.bus.clock.now(),
                queue=self.queue.name,
                function=self.function_name,
                request_id=context.aws_request_id,
                reason=(
                    "the handler returned batchItemFailures, but the consumer was made "
                    "without report_batch_item_failures=True: the whole batch is "
                    "deleted, as on AWS (warned once per consumer)"
                ),
            )

    async def _settle(self, batch: list[ReceivedMessage], failed: set[str] | None) -> None:
        """Delete the messages the invocation handled; count the rest as failed."""
        if failed is _FAILED_ALL:
            self._failures += 1
            self._failed_messages += len(batch)
            return
        self._successes += 1
        handles = [m.receipt_handle for m in batch if m.message_id not in failed]
        self._failed_messages += len(batch) - len(handles)
        if not handles:
            return
        try:
            refused = len(await self.queue._delete_received(handles))
        except EventBusError:  # the queue is gone: nothing was deleted
            refused = len(handles)
        self._failed_messages += refused  # an expired FIFO handle: it will come back
        self._deleted += len(handles) - refused

    async def _call_with_timeout(
        self, event: dict[str, Any], context: LambdaContext, run: HandlerRun
    ) -> tuple[Any, BaseException | None, bool]:
        """Call the handler; return (result, exception, timed out)."""
        clock = self.bus.clock
        deadline = run.started + self.function_timeout

        if type(clock) is SystemClock and not self._is_async and not self._in_thread:
            # A sync handler on the loop cannot be stopped: no cancel scope around it.
            # Lambda would have stopped it at its timeout, so a late return is a
            # timeout too (its messages are not deleted).
            try:
                result = self.handler(event, context)
            except BaseException as exc:
                return None, self._handler_error(exc), clock.now() > deadline
            error = None
            if inspect.isawaitable(result):
                with anyio.move_on_after(max(0.0, deadline - clock.now())) as scope:
                    result, error = await self._await(result)
                if scope.cancelled_caught:
                    return None, None, True
            if clock.now() > deadline:
                return None, None, True
            return result, error, False

        if type(clock) is SystemClock:  # the cheap way: anyio's own deadline
            with anyio.move_on_after(max(0.0, deadline - clock.now())) as scope:
                result, error = await self._call(event, context, run)
            # A handler that overran without yielding (so could not be cancelled)
            # timed out all the same, as Lambda would have stopped it.
            if scope.cancelled_caught or clock.now() > deadline:
                return None, None, True
            return result, error, False

        timed_out = False
        with anyio.CancelScope() as outer:

            async def watchdog() -> None:
                nonlocal timed_out
                await clock.wait(None, deadline)
                timed_out = True
                outer.cancel()

            async with anyio.create_task_group() as group:
                clock.spawn(group, watchdog)  # before the handler block: not part of it
                try:
                    with clock.handler(run):
                        result, error = await self._call(event, context, run)
                finally:
                    group.cancel_scope.cancel()
        if timed_out:
            return None, None, True
        return result, error, False

    async def _call(
        self, event: dict[str, Any], context: LambdaContext, run: HandlerRun
    ) -> tuple[Any, BaseException | None]:
        """Call the handler: (its result, None) or (None, the exception it raised)."""
        handler = self.handler
        try:
            if self._is_async:
                return await handler(event, context), None
            if self._in_thread:
                run.in_thread = True
                try:
                    result = await anyio.to_thread.run_sync(
                        functools.partial(handler, event, context),
                        abandon_on_cancel=True,
                        limiter=self._limiter,
                    )
                finally:
                    run.in_thread = False
            else:
                result = handler(event, context)
        except BaseException as exc:
            return None, self._handler_error(exc)
        if inspect.isawaitable(result):
            return await self._await(result)
        return result, None

    async def _await(self, result: Any) -> tuple[Any, BaseException | None]:
        """Await what a sync handler returned: (its result, None) or (None, error)."""
        try:
            return await result, None
        except BaseException as exc:
            return None, self._handler_error(exc)

    def _handler_error(self, error: BaseException) -> BaseException:
        """Sort what a handler raised: return it as the invocation's failure, or
        re-raise a cancellation of the consumer itself (call from ``except``).

        Any ``Exception`` fails the batch, and so does a ``CancelledError`` the
        handler raised on its own (one it met awaiting a task someone else
        cancelled): only a cancellation of the poller is one. ``KeyboardInterrupt``,
        ``SystemExit`` and other ``BaseException`` subclasses stop the consumer,
        whose ``async with`` raises them.
        """
        if isinstance(error, Exception):
            return error
        if isinstance(error, asyncio.CancelledError) and not _cancelled_here():
            return error
        if isinstance(error, anyio.get_cancelled_exc_class()):
            raise  # called from the except clause that caught it
        if self._fatal is None:
            self._fatal = error
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
        return error


def _cancelled_here() -> bool:
    """Whether the current task is being cancelled (by a cancel scope, or, on
    asyncio, by ``Task.cancel``)."""
    if anyio.current_effective_deadline() == -math.inf:
        return True
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not in an asyncio event loop
        return False
    return task is not None and task.cancelling() > 0


def _group(errors: list[BaseException]) -> BaseException:
    """Several failures at once, as one group (an ExceptionGroup if all are Exceptions)."""
    return BaseExceptionGroup("several failures while the consumer ran", errors)


def _record_size(message: ReceivedMessage) -> int:
    size = len(message.body.encode()) + RECORD_OVERHEAD_BYTES
    for name, value in message.message_attributes.items():
        size += len(name) + value.size()
    return size


def _fail_rest_of_groups(batch: list[ReceivedMessage], failed: set[str]) -> set[str]:
    """On FIFO queues a failure holds back the rest of its group, to keep the order.

    Lambda stops a group at its first failed message: the later messages of the
    same group in the batch are not deleted either, whatever the response said.
    """
    stopped: set[str] = set()
    out = set(failed)
    for message in batch:
        group = message.attributes.get("MessageGroupId", "")
        if group in stopped:
            out.add(message.message_id)
        elif message.message_id in failed:
            stopped.add(group)
    return out


def _parse_batch_item_failures(response: Any, batch_ids: set[str]) -> set[str] | None:
    """The ids a partial batch response lists, or None if the response is malformed.

    As on AWS: None, an empty response, or an empty or null ``batchItemFailures``
    mean complete success; a response that is not such an object, a wrong key, an
    empty or null ``itemIdentifier`` or one not in the batch fail the whole batch.
    """
    if isinstance(response, str | bytes):
        if not response:
            return set()
        try:
            response = json.loads(response)
        except ValueError:
            return _FAILED_ALL
    if response is None or response == {}:
        return set()
    if not isinstance(response, dict) or set(response) != {"batchItemFailures"}:
        return _FAILED_ALL
    items = response["batchItemFailures"]
    if items is None:
        return set()
    if not isinstance(items, list):
        return _FAILED_ALL
    failed: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            return _FAILED_ALL
        identifier = item.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier or identifier not in batch_ids:
            return _FAILED_ALL
        failed.add(identifier)
    return failed
