"""Simulated time for producers: code sleeping on the bus clock runs on virtual time.

Written from a user's side: only the public API.
"""

from __future__ import annotations

import math
import time
from typing import Any

import anyio
import pytest

from eventbus import Bus, Clock, NotIdle, SystemClock, VirtualClock


async def test_run_until_idle_drives_a_producer_that_sleeps_on_the_bus_clock(
    clock: VirtualClock,
) -> None:
    """A producer sending every 60 virtual seconds, five times, is driven to its end
    by run_until_idle alone: every message is handled, at the time it was sent, and
    no real time passes."""
    handled: list[tuple[str, float]] = []
    async with Bus(clock=clock) as bus:
        queue = await bus.create_queue("ticks")

        async def producer() -> None:
            for n in range(5):
                await queue.send(str(n))
                await clock.sleep(60)

        def handler(event: dict[str, Any], context: Any) -> None:
            handled.extend((r["body"], clock.now()) for r in event["Records"])

        start = clock.now()
        began = time.monotonic()
        async with anyio.create_task_group() as tg, bus.consume(queue, handler):
            tg.start_soon(producer)
            await bus.run_until_idle()
            assert 300 == clock.now() - start  # returned once the producer stopped sleeping

    assert [(str(n), start + 60 * n) for n in range(5)] == handled
    assert time.monotonic() - began < 5


async def test_a_retry_loop_with_backoff_runs_on_virtual_time(clock: VirtualClock) -> None:
    """A task of the user's own retrying with exponential backoff on the bus clock
    is driven by run_until_idle, with no consumer at all."""
    attempts: list[float] = []
    async with Bus(clock=clock) as bus:
        queue = await bus.create_queue("out")

        async def send_with_retries() -> None:
            for attempt in range(4):
                attempts.append(clock.now())
                if attempt == 3:
                    await queue.send("finally")
                    return
                await clock.sleep(2**attempt)

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_with_retries)
            await bus.run_until_idle()
            assert 1 == (await queue.statistics()).visible

    start = attempts[0]
    assert [start, start + 1, start + 3, start + 7] == attempts


async def test_a_producer_that_never_stops_ends_in_not_idle(clock: VirtualClock) -> None:
    """A sleeper that never stops keeps the bus busy: run_until_idle gives up after
    max_time, naming the sleeping task."""
    async with Bus(clock=clock) as bus:
        queue = await bus.create_queue("ticks")

        async def heartbeat() -> None:
            while True:
                await queue.send("beat")
                await clock.sleep(1)

        async with anyio.create_task_group() as tg:
            tg.start_soon(heartbeat)
            with pytest.raises(NotIdle, match=r"1 task\(s\) sleeping on the bus clock"):
                await bus.run_until_idle(max_time=10)
            tg.cancel_scope.cancel()
        assert 10 <= (await queue.statistics()).visible


async def test_a_handler_sleeping_on_the_clock_is_not_a_producer(clock: VirtualClock) -> None:
    """A handler's own sleep counts as the handler running, not as a sleeper of the
    user's: run_until_idle returns once the handler is done."""
    async with Bus(clock=clock) as bus:
        queue = await bus.create_queue("slow", visibility_timeout=60)
        await queue.send("x")

        async def handler(event: dict[str, Any], context: Any) -> None:
            await clock.sleep(10)

        async with bus.consume(queue, handler, function_timeout=30):
            await bus.run_until_idle()
        assert [] == clock.sleepers()
        assert 0 == (await queue.statistics()).total


async def test_sleepers_lists_the_deadlines_of_sleeping_tasks(clock: VirtualClock) -> None:
    """``clock.sleepers()`` shows the deadlines of the tasks in ``sleep``, earliest
    first, and forgets each once it wakes."""
    start = clock.now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(clock.sleep, 5)
        tg.start_soon(clock.sleep, 2)
        await clock.wait_settled()
        assert [start + 2, start + 5] == clock.sleepers()
        await clock.advance(2)
        assert [start + 5] == clock.sleepers()
        await clock.advance(3)
    assert [] == clock.sleepers()


@pytest.mark.parametrize("make", [SystemClock, VirtualClock])
@pytest.mark.parametrize("seconds", [-1, math.nan])
async def test_sleep_refuses_negative_and_nan(make: type[Clock], seconds: float) -> None:
    """Both clocks refuse a negative or NaN sleep, and leave no sleeper behind."""
    clock = make()

    with pytest.raises(ValueError, match="seconds must be >= 0"):
        await clock.sleep(seconds)
    assert [] == clock.sleepers()


async def test_system_clock_sleep_zero_returns_at_once() -> None:
    """On the real clock, ``sleep(0)`` only yields."""
    clock = SystemClock()
    with anyio.fail_after(5):
        await clock.sleep(0)
    assert [] == clock.sleepers()
