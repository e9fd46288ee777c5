"""Handlers that misbehave: the consumer fails their batch, or stops cleanly, and never
hangs, starves the loop or leaves the bus's bookkeeping wrong."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from eventbus import (
    Bus,
    CountingIds,
    EventBusError,
    LambdaContext,
    NotIdle,
    Queue,
    RedrivePolicy,
    VirtualClock,
)

GUARD = 30
"""Real seconds after which a test that would hang fails instead."""


@contextmanager
def capture_logs() -> Iterator[list[dict[str, Any]]]:
    """The eventbus records logged in the block, each as its fields and ``log_level``."""
    logs: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logs.append({**record.__dict__, "log_level": record.levelname.lower()})

    logger = logging.getLogger("eventbus")
    keep = Keep()
    logger.addHandler(keep)
    try:
        yield logs
    finally:
        logger.removeHandler(keep)


async def queue_with_dlq(bus: Bus, *, max_receive_count: int = 3) -> tuple[Queue, Queue]:
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q",
        visibility_timeout=10,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=max_receive_count),
    )
    return queue, dlq


# ------------------------------------------------------------ CancelledError


async def test_a_handler_raising_cancelled_error_fails_its_batch(
    bus: Bus, clock: VirtualClock
) -> None:
    """A CancelledError the handler raises on its own is a failure like any other: the
    message comes back after the visibility timeout, and reaches the DLQ."""
    queue, dlq = await queue_with_dlq(bus)
    await queue.send("m")
    start = clock.now()
    attempts: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        attempts.append(clock.now() - start)
        raise asyncio.CancelledError()

    reached = False
    with capture_logs() as logs, anyio.fail_after(GUARD):
        async with bus.consume(queue, handler, batch_size=1) as consumer:
            await bus.run_until_idle()
            reached = True

    assert reached
    assert attempts == [0, 10, 20]
    assert (consumer.statistics().failures, consumer.statistics().successes) == (3, 0)
    assert (await dlq.statistics()).total == 1
    assert [e["event"] for e in logs].count("handler.failed") == 3


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_handler_awaiting_a_task_someone_cancelled_fails_its_batch(
    bus: Bus, clock: VirtualClock
) -> None:
    """What an asyncio handler meets when it awaits a task cancelled elsewhere."""
    queue, dlq = await queue_with_dlq(bus, max_receive_count=1)
    await queue.send("m")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        task = asyncio.get_running_loop().create_task(asyncio.Event().wait())
        await asyncio.sleep(0)
        task.cancel()
        await task

    with anyio.fail_after(GUARD):
        async with bus.consume(queue, handler) as consumer:
            await bus.run_until_idle()

    assert consumer.statistics().failures == 1
    assert (await dlq.statistics()).total == 1


async def test_stopping_still_cancels_a_running_handler(bus: Bus, clock: VirtualClock) -> None:
    """A real cancellation (stop past stop_timeout) is not mistaken for a handler's
    CancelledError: the consumer leaves, and the message goes back at once."""
    queue = await bus.create_queue("q")
    await queue.send("m")
    started = anyio.Event()

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        started.set()
        await anyio.Event().wait()

    with anyio.fail_after(GUARD):
        async with bus.consume(queue, handler) as consumer:
            await started.wait()
            await consumer.stop(cancel=True)

    assert consumer.statistics().failures == 0
    assert (await queue.statistics()).visible == 1


# ------------------------------------------------ KeyboardInterrupt, SystemExit


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("kind", ["async", "thread"])
async def test_keyboard_interrupt_from_a_handler_stops_the_consumer_and_propagates(
    bus: Bus, clock: VirtualClock, error: type[BaseException], kind: str
) -> None:
    """It stops the consumer and reaches the caller as itself; the bus's bookkeeping
    stays right, so run_until_idle and a new consumer work afterwards."""
    queue = await bus.create_queue("q", visibility_timeout=10)
    await queue.send("m")

    def raising(event: dict[str, Any], context: LambdaContext) -> None:
        raise error()

    async def raising_async(event: dict[str, Any], context: LambdaContext) -> None:
        raise error()

    handler: Callable[..., Any] = raising_async if kind == "async" else raising
    consumer = bus.consume(queue, handler)
    after = False

    async def consume() -> None:
        nonlocal after
        async with consumer:
            await bus.run_until_idle()
            after = True

    with anyio.fail_after(GUARD):
        with pytest.raises(error):
            await consume()

        assert not after
        assert clock.running == 0
        assert consumer.statistics().failures == 0
        assert (await queue.statistics()).visible == 1  # given back at once, as on stop
        await bus.run_until_idle()  # no consumer: idle at once
        handled: list[str] = []
        async with bus.consume(queue, lambda e, c: handled.append("m")):
            await bus.run_until_idle()
    assert handled == ["m"]
    assert (await queue.statistics()).total == 0


async def test_a_keyboard_interrupt_with_a_failing_block_comes_as_one_group(
    bus: Bus, clock: VirtualClock
) -> None:
    """Two failures at once (the handler's and the block's own) come as a group."""
    queue = await bus.create_queue("q")
    await queue.send("m")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        raise SystemExit(3)

    async def consume() -> None:
        async with bus.consume(queue, handler):
            try:
                await bus.run_until_idle()
            except anyio.get_cancelled_exc_class():
                raise ValueError("cleanup failed") from None

    with anyio.fail_after(GUARD), pytest.raises(BaseExceptionGroup) as caught:
        await consume()

    kinds = sorted(type(e).__name__ for e in caught.value.exceptions)
    assert kinds == ["SystemExit", "ValueError"]
    assert clock.running == 0


# ------------------------------------------------------ malformed responses


class ArrayLike:
    """What numpy arrays do under == and bool()."""

    def __eq__(self, other: object) -> Any:
        return self

    def __bool__(self) -> bool:
        raise ValueError("The truth value of an array is ambiguous.")

    __hash__ = None  # type: ignore[assignment]


class EqualityRaises(dict[str, Any]):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("== raised")

    __hash__ = None


class UnhashableId(str):
    __hash__ = None  # type: ignore[assignment]


RAISING_RESPONSES: dict[str, Callable[[str], Any]] = {
    "array-like": lambda message_id: ArrayLike(),
    "== raises": lambda message_id: EqualityRaises(batchItemFailures=[]),
    "unhashable itemIdentifier": lambda message_id: {
        "batchItemFailures": [{"itemIdentifier": UnhashableId(message_id)}]
    },
    "JSON nested 100,000 deep": lambda message_id: (
        '{"batchItemFailures": ' + "[" * 100_000 + "]" * 100_000 + "}"
    ),
}


@pytest.mark.parametrize("make", RAISING_RESPONSES.values(), ids=RAISING_RESPONSES.keys())
async def test_a_response_that_raises_when_read_fails_the_batch(
    bus: Bus, clock: VirtualClock, make: Callable[[str], Any]
) -> None:
    queue = await bus.create_queue("q", visibility_timeout=10)
    await queue.send("m")
    calls: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> Any:
        calls.append(clock.now())
        if len(calls) == 1:
            return make(event["Records"][0]["messageId"])
        return None

    with capture_logs() as logs, anyio.fail_after(GUARD):
        async with bus.consume(queue, handler, report_batch_item_failures=True) as consumer:
            await bus.run_until_idle()

    assert calls[1] - calls[0] == 10  # the batch failed: back after the visibility timeout
    assert (consumer.statistics().failures, consumer.statistics().successes) == (1, 1)
    [warning] = [e for e in logs if e["event"] == "handler.malformed_response"]
    assert warning["log_level"] == "warning"
    assert len(warning["response"]) < 300
    assert (await queue.statistics()).total == 0


# -------------------------------------------------------------- starvation


@pytest.mark.parametrize("kind", ["async", "on the loop"])
async def test_a_handler_that_never_awaits_does_not_starve_the_loop(kind: str) -> None:
    """The consumer yields between batches, so other tasks run while a backlog drains
    (on the system clock, where an invocation needs no helper task)."""
    beats = 0
    seen: list[int] = []

    def sync_handler(event: dict[str, Any], context: LambdaContext) -> None:
        seen.append(beats)

    async def async_handler(event: dict[str, Any], context: LambdaContext) -> None:
        seen.append(beats)

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await anyio.lowlevel.checkpoint()

    handler: Callable[..., Any] = async_handler if kind == "async" else sync_handler
    async with Bus() as bus:
        queue = await bus.create_queue("q")
        for start in range(0, 200, 10):
            await queue.send_batch([f"m{i}" for i in range(start, start + 10)])
        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(heartbeat)
                async with bus.consume(
                    queue,
                    handler,
                    batch_size=1,
                    max_concurrency=2,
                    run_sync_handlers_in_thread=False,
                ):
                    await bus.run_until_idle()
                tg.cancel_scope.cancel()

    assert len(seen) == 200
    # Each of the two pollers yields after each batch: the heartbeat runs between.
    assert max(Counter(seen).values()) <= 4


# ------------------------------------------------------------- thread bound


async def test_sync_handlers_share_anyio_s_default_thread_limiter(clock: VirtualClock) -> None:
    """50 consumers with blocking sync handlers hold at most 40 threads at once (anyio's
    default limiter), not one per poller."""
    entered = threading.Semaphore(0)
    release = threading.Event()
    inside = 0
    most = 0
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        entered.release()
        release.wait(GUARD)
        with lock:
            inside -= 1

    limiter = anyio.to_thread.current_default_thread_limiter()
    async with Bus(clock=clock, ids=CountingIds()) as bus:
        queues = [await bus.create_queue(f"q{i}") for i in range(50)]
        for queue in queues:
            await queue.send("m")
        with anyio.fail_after(GUARD):
            async with AsyncExitStack() as stack:
                for queue in queues:
                    await stack.enter_async_context(bus.consume(queue, handler))
                own = anyio.CapacityLimiter(1)  # the default one is taken by the handlers
                for _ in range(40):
                    assert await anyio.to_thread.run_sync(entered.acquire, True, GUARD, limiter=own)
                while limiter.statistics().tasks_waiting < 10:
                    await anyio.lowlevel.checkpoint()
                assert inside == 40
                release.set()
                await bus.run_until_idle()
    assert most == 40


async def test_a_thread_limiter_of_the_user_bounds_its_consumers(
    bus: Bus, clock: VirtualClock
) -> None:
    limiter = anyio.CapacityLimiter(2)
    started = threading.Semaphore(0)
    release = threading.Event()
    handled: list[str] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        started.release()
        release.wait(GUARD)
        handled.extend(r["body"] for r in event["Records"])

    queues = [await bus.create_queue(f"q{i}") for i in range(3)]
    for queue in queues:
        await queue.send_batch([f"{queue.name}-{i}" for i in range(3)])
    with anyio.fail_after(GUARD):
        async with AsyncExitStack() as stack:
            for queue in queues:
                await stack.enter_async_context(
                    bus.consume(queue, handler, batch_size=1, thread_limiter=limiter)
                )
            for _ in range(2):
                assert await anyio.to_thread.run_sync(started.acquire, True, GUARD)
            while limiter.statistics().tasks_waiting < 7:
                await anyio.lowlevel.checkpoint()
            assert limiter.statistics().borrowed_tokens == 2
            release.set()
            await bus.run_until_idle()
    assert len(handled) == 9


async def test_a_thread_limiter_that_is_not_one_is_refused(bus: Bus) -> None:
    queue = await bus.create_queue("q")
    with pytest.raises(EventBusError) as caught:
        bus.consume(queue, lambda e, c: None, thread_limiter=4)  # type: ignore[arg-type]
    assert caught.value.code == "InvalidParameterValueException"
    assert "CapacityLimiter" in str(caught.value)


# ------------------------------------------ batchItemFailures nobody reads


async def test_batch_item_failures_without_the_option_warn_once_per_consumer(
    bus: Bus, clock: VirtualClock
) -> None:
    """AWS deletes the whole batch there: the messages are deleted, and the consumer
    says so once."""
    queue = await bus.create_queue("q")
    await queue.send_batch(["a", "b", "c"])

    async def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}

    with capture_logs() as logs:
        async with bus.consume(queue, handler, batch_size=1) as consumer:
            await bus.run_until_idle()
        async with bus.consume(queue, lambda e, c: json.dumps({"batchItemFailures": [1]})):
            await queue.send("d")
            await bus.run_until_idle()

    warnings = [e for e in logs if e["event"] == "handler.batch_item_failures_ignored"]
    assert len(warnings) == 2  # once for each of the two consumers
    assert warnings[0]["log_level"] == "warning"
    assert "report_batch_item_failures" in warnings[0]["reason"]
    assert consumer.statistics().messages_deleted == 3
    assert (await queue.statistics()).total == 0


async def test_no_warning_when_the_handler_lists_no_failures(bus: Bus, clock: VirtualClock) -> None:
    queue = await bus.create_queue("q")
    await queue.send("a")
    with capture_logs() as logs:
        async with bus.consume(queue, lambda e, c: {"batchItemFailures": []}):
            await bus.run_until_idle()
    assert not [e for e in logs if e["event"] == "handler.batch_item_failures_ignored"]


# ------------------------------------------------- exceptions as themselves


async def test_not_idle_from_inside_the_consumer_block_comes_out_as_itself(
    bus: Bus, clock: VirtualClock
) -> None:
    queue = await bus.create_queue("q", visibility_timeout=10)
    await queue.send("poison")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        raise RuntimeError("poison")

    with pytest.raises(NotIdle) as caught:
        async with bus.consume(queue, handler):
            await bus.run_until_idle(max_time=30)
    assert "q: 0 visible, 1 in flight" in caught.value.message


async def test_a_failed_assert_in_the_consumer_block_comes_out_as_itself(
    bus: Bus, clock: VirtualClock
) -> None:
    queue = await bus.create_queue("q")
    with pytest.raises(AssertionError, match="plain"):
        async with bus.consume(queue, lambda e, c: None):
            raise AssertionError("plain")


async def test_exceptions_inside_a_bus_block_come_out_as_themselves() -> None:
    async def poison() -> None:
        async with Bus(clock=VirtualClock()) as bus:
            queue = await bus.create_queue("q", visibility_timeout=10)
            await queue.send("poison")
            async with bus.consume(queue, lambda e, c: 1 / 0):
                await bus.run_until_idle(max_time=30)

    with pytest.raises(NotIdle):
        await poison()
    with pytest.raises(KeyError):
        async with Bus(clock=VirtualClock()):
            raise KeyError("x")


# ------------------------------------------------ virtual time, stuck handlers


@pytest.fixture
def quick() -> VirtualClock:
    """A virtual clock that moves on past a stuck handler after 0.05 real seconds."""
    return VirtualClock(stuck_after=0.05)


async def test_a_handler_stuck_outside_the_bus_times_out_in_virtual_time(
    quick: VirtualClock,
) -> None:
    """On Lambda the function timeout ends a handler that awaits what never comes;
    under a VirtualClock too, once nothing else of the bus can run."""
    clock = quick
    async with Bus(clock=clock, ids=CountingIds()) as bus:
        queue, dlq = await queue_with_dlq(bus, max_receive_count=2)
        await queue.send("stuck")
        start = clock.now()
        attempts: list[float] = []

        async def handler(event: dict[str, Any], context: LambdaContext) -> None:
            attempts.append(clock.now() - start)
            await anyio.Event().wait()  # nobody ever sets it

        with capture_logs() as logs, anyio.fail_after(GUARD):
            async with bus.consume(queue, handler, function_timeout=3) as consumer:
                await bus.run_until_idle()

        assert attempts == [0, 10]
        timeouts = [e for e in logs if e["event"] == "handler.timed_out"]
        assert len(timeouts) == 2
        assert consumer.statistics().failures == 2
        assert (await dlq.statistics()).total == 1
        assert clock.running == 0


async def test_time_moves_on_for_the_rest_of_the_bus_while_a_handler_is_stuck(
    quick: VirtualClock,
) -> None:
    """A stuck handler counts as parked: a message delayed by one second is handled at
    its time, not after the stuck handler's timeout."""
    clock = quick
    async with Bus(clock=clock, ids=CountingIds()) as bus:
        queue = await bus.create_queue("q", visibility_timeout=60)
        start = clock.now()
        await queue.send("stuck")
        await queue.send("late", delay_seconds=1)
        handled: dict[str, float] = {}

        async def handler(event: dict[str, Any], context: LambdaContext) -> None:
            body = event["Records"][0]["body"]
            if body == "stuck" and body not in handled:
                handled[body] = clock.now() - start
                await anyio.Event().wait()
            handled.setdefault(body, clock.now() - start)

        with anyio.fail_after(GUARD):
            async with bus.consume(queue, handler, batch_size=1, function_timeout=30):
                await bus.run_until_idle()

    assert handled == {"stuck": 0, "late": 1}


async def test_a_handler_awaiting_briefly_outside_the_bus_does_not_time_out(
    bus: Bus, clock: VirtualClock
) -> None:
    """Within ``stuck_after`` (1 real second by default) a handler may await real
    work outside the bus (here a worker thread) without time moving under it."""
    queue = await bus.create_queue("q")
    await queue.send("m")
    seen: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        await anyio.to_thread.run_sync(lambda: None)
        seen.append(clock.now())

    start = clock.now()
    async with bus.consume(queue, handler, function_timeout=1) as consumer:
        await bus.run_until_idle()
    assert seen == [start]
    assert consumer.statistics().successes == 1


async def test_not_idle_names_a_handler_that_ignores_its_timeout(quick: VirtualClock) -> None:
    """A handler that shields itself from its timeout cannot be stopped: run_until_idle
    gives up at max_time, naming the handler, its queue and how long it has run."""
    clock = quick
    release = anyio.Event()
    async with Bus(clock=clock, ids=CountingIds()) as bus:
        queue = await bus.create_queue("orders", visibility_timeout=60)
        await queue.send("m")

        async def stubborn(event: dict[str, Any], context: LambdaContext) -> None:
            with anyio.CancelScope(shield=True):
                await release.wait()

        with anyio.fail_after(GUARD):
            async with bus.consume(queue, stubborn):
                with pytest.raises(NotIdle) as caught:
                    await bus.run_until_idle(max_time=100)
                release.set()

    message = caught.value.message
    assert "not idle after 100 s" in message
    assert "handler 'stubborn' on queue 'orders'" in message
    assert "has run 100 s of bus time" in message
    assert "waiting on something outside the bus" in message


async def test_not_idle_names_a_sync_handler_stuck_in_its_thread(
    bus: Bus, clock: VirtualClock
) -> None:
    """Time cannot move under a thread; once the handler has run past its function
    timeout in real time, run_until_idle says so instead of waiting for ever."""
    queue = await bus.create_queue("orders")
    await queue.send("m")
    release = threading.Event()

    def blocked(event: dict[str, Any], context: LambdaContext) -> None:
        release.wait(GUARD)

    try:
        with anyio.fail_after(GUARD):
            async with bus.consume(queue, blocked, function_timeout=1):
                with pytest.raises(NotIdle) as caught:
                    await bus.run_until_idle()
                release.set()
                await bus.run_until_idle()
    finally:
        release.set()

    message = caught.value.message
    assert "handler 'blocked' on queue 'orders'" in message
    assert "running in a worker thread" in message
    assert "past its function timeout of 1 s" in message
    assert (await queue.statistics()).total == 0


@pytest.mark.parametrize("call", ["advance", "run_until_idle"])
async def test_waiting_for_time_inside_a_handler_is_refused(
    bus: Bus, clock: VirtualClock, call: str
) -> None:
    """It would wait for the handler making the call: a clear error, not a deadlock."""
    queue = await bus.create_queue("q")
    await queue.send("m")
    errors: list[BaseException] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        try:
            if call == "advance":
                await clock.advance(5)
            else:
                await bus.run_until_idle()
        except RuntimeError as error:
            errors.append(error)

    with anyio.fail_after(GUARD):
        async with bus.consume(queue, handler):
            await bus.run_until_idle()

    [error] = errors
    assert "inside handler 'handler'" in str(error)
    assert "clock.sleep" in str(error)


async def test_a_handler_may_sleep_on_the_bus_clock(bus: Bus, clock: VirtualClock) -> None:
    """What the refusal suggests instead: clock.sleep inside a handler lets time pass."""
    queue = await bus.create_queue("q")
    await queue.send("m")
    start = clock.now()
    seen: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        await clock.sleep(2)
        seen.append(clock.now() - start)

    async with bus.consume(queue, handler) as consumer:
        await bus.run_until_idle()
    assert seen == [2]
    assert consumer.statistics().successes == 1
