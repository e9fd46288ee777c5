"""Pipeline workloads: throughput (2) and publish-to-handler latency (7).

Both use the topology of issue 4: one topic fanning out to two queues, each read by
a consumer with a no-op handler (it only counts records, so that the last delivery is
timed exactly), on the system clock. The baseline is the
hand-written asyncio pipeline of :mod:`bench_baseline` (one consumer task per
queue, one handler call per message), run in the same event loop.

The producer yields to the event loop once every 10 publishes (a burst of one
batch), in both pipelines alike.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
from bench_baseline import MiniConsumer, MiniMessage, MiniQueue, MiniTopic
from bench_harness import BODY, BODY_BYTES, Figure, Sizes, interleave, median, percentile

from eventbus import Bus, Consumer, Store, Topic

POLL_SECONDS = 0.0005
"""How often the benchmark looks whether every delivery was handled."""
BURST = 10


class Finish:
    """Counts handled deliveries and notes when the last one was handled.

    Handlers call :meth:`tick`, from the event loop or from worker threads:
    ``next()`` on an ``itertools.count`` is atomic, so exactly one call sees the
    target number and stamps the time. Timing up to that stamp (rather than up to
    when a polling loop notices) keeps the poll interval out of the figure.
    """

    __slots__ = ("_counter", "at", "target")

    def __init__(self, target: int) -> None:
        self._counter = itertools.count(1)
        self.target = target
        self.at: float | None = None

    def tick(self, count: int = 1) -> None:
        counter, target = self._counter, self.target
        for _ in range(count):
            if next(counter) == target:
                self.at = time.perf_counter()

    async def wait(self, limit: float = 60.0) -> float:
        """Wait until the target was reached; return the time it was."""
        give_up = time.perf_counter() + limit
        while self.at is None:
            if time.perf_counter() > give_up:
                raise RuntimeError(f"pipeline stalled short of {self.target} deliveries")
            await asyncio.sleep(POLL_SECONDS)
        return self.at


async def _wait_for(done: Callable[[], int], target: int, limit: float = 60.0) -> None:
    give_up = time.perf_counter() + limit
    while done() < target:
        if time.perf_counter() > give_up:
            raise RuntimeError(f"pipeline stalled at {done()} of {target} deliveries")
        await asyncio.sleep(POLL_SECONDS)


async def _eventbus_topology(
    bus: Bus,
    stack: AsyncExitStack,
    handler: Callable[[dict[str, Any], Any], Any],
    *,
    raw: bool,
    in_thread: bool,
) -> tuple[Topic, list[Consumer]]:
    topic = await bus.create_topic("bench")
    consumers = []
    for name in ("left", "right"):
        queue = await bus.create_queue(name)
        await topic.subscribe(queue, raw_message_delivery=raw)
        consumer = bus.consume(queue, handler, run_sync_handlers_in_thread=in_thread)
        consumers.append(await stack.enter_async_context(consumer))
    await anyio.sleep(0.01)  # let the pollers reach their first long poll
    return topic, consumers


# ------------------------------------------------------------------ 2. throughput


async def eventbus_pipeline(
    publishes: int, *, raw: bool, in_thread: bool, store: Store | None = None
) -> float:
    """Deliveries/s through topic -> 2 queues -> 2 consumers (no-op handler)."""
    finish = Finish(2 * publishes)

    def handler(event: dict[str, Any], context: Any) -> None:
        finish.tick(len(event["Records"]))

    async with Bus(store=store) as bus, AsyncExitStack() as stack:
        topic, _ = await _eventbus_topology(bus, stack, handler, raw=raw, in_thread=in_thread)
        start = time.perf_counter()
        for i in range(publishes):
            await topic.publish(BODY)
            if i % BURST == BURST - 1:
                await asyncio.sleep(0)
        end = await finish.wait()
    return finish.target / (end - start)


async def mini_pipeline(publishes: int, *, in_thread: bool = False) -> float:
    """Deliveries/s through the hand-written pipeline."""
    finish = Finish(2 * publishes)

    def handler(message: MiniMessage) -> None:
        finish.tick()

    queues = [MiniQueue(), MiniQueue()]
    topic = MiniTopic(queues)
    consumers = [MiniConsumer(queue, handler, in_thread=in_thread) for queue in queues]
    for consumer in consumers:
        consumer.start()
    await asyncio.sleep(0.01)
    try:
        start = time.perf_counter()
        for i in range(publishes):
            await topic.publish(BODY)
            if i % BURST == BURST - 1:
                await asyncio.sleep(0)
        end = await finish.wait()
        return finish.target / (end - start)
    finally:
        for consumer in consumers:
            await consumer.stop()


async def pipeline(sizes: Sizes) -> list[Figure]:
    n = sizes.pipeline_publishes

    def ours(raw: bool, in_thread: bool) -> Callable[[], Awaitable[float]]:
        async def run() -> float:
            return await eventbus_pipeline(n, raw=raw, in_thread=in_thread)

        return run

    def mini(in_thread: bool) -> Callable[[], Awaitable[float]]:
        async def run() -> float:
            return await mini_pipeline(n, in_thread=in_thread)

        return run

    runs = await interleave(
        [
            ("raw_loop", ours(True, False)),
            ("raw_thread", ours(True, True)),
            ("envelope_loop", ours(False, False)),
            ("mini", mini(False)),
            ("mini_thread", mini(True)),
        ],
        sizes.reps,
    )
    figures = []
    for key, label, base_key, target in (
        ("raw_loop", "raw delivery, handler on the event loop", "mini", True),
        ("raw_thread", "raw delivery, handler in a thread (the default)", "mini", True),
        ("envelope_loop", "SNS envelope, handler on the event loop", "mini", False),
        ("raw_thread", "raw delivery, handler in a thread (the default)", "mini_thread", False),
    ):
        value, base = median(runs[key]), median(runs[base_key])
        figures.append(
            Figure(
                "2",
                f"pipeline topic->2 queues->consumers, {label}",
                value,
                "deliv/s",
                "hand-written" + (", to_thread" if base_key == "mini_thread" else ""),
                base,
                "higher",
                target=">= 0.8x" if target else "",
                met=value >= 0.8 * base if target else None,
                samples=runs[key],
                baseline_samples=runs[base_key],
            )
        )
    return figures


# ------------------------------------------------------------------ 7. latency


def _stamped_body(now: float) -> str:
    stamp = f"{now:020.9f}|"
    return stamp + "b" * (BODY_BYTES - len(stamp))


def _stamp(body: str) -> float:
    return float(body[:20])


async def _steady(publish: Callable[[str], Awaitable[object]], seconds: float, rate: float) -> int:
    """Publish at ``rate`` per second for ``seconds``; returns how many were published."""
    count = int(seconds * rate)
    perf = time.perf_counter
    start = perf()
    for i in range(count):
        delay = start + i / rate - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        await publish(_stamped_body(perf()))
    return count


async def eventbus_latency(seconds: float, rate: float, *, in_thread: bool) -> list[float]:
    latencies: list[float] = []
    recording = False

    def handler(event: dict[str, Any], context: Any) -> None:
        now = time.perf_counter()
        if recording:
            latencies.extend(now - _stamp(r["body"]) for r in event["Records"])

    async with Bus() as bus, AsyncExitStack() as stack:
        topic, consumers = await _eventbus_topology(
            bus, stack, handler, raw=True, in_thread=in_thread
        )

        async def publish(body: str) -> object:
            return await topic.publish(body)

        def done() -> int:
            return sum(c.statistics().messages_deleted for c in consumers)

        warm = await _steady(publish, 0.1, rate)
        await _wait_for(done, 2 * warm)
        recording = True
        count = await _steady(publish, seconds, rate)
        await _wait_for(done, 2 * (warm + count))
    return latencies


async def mini_latency(seconds: float, rate: float, *, in_thread: bool = False) -> list[float]:
    latencies: list[float] = []
    recording = False

    def handler(message: MiniMessage) -> None:
        now = time.perf_counter()
        if recording:
            latencies.append(now - _stamp(message.body))

    queues = [MiniQueue(), MiniQueue()]
    topic = MiniTopic(queues)
    consumers = [MiniConsumer(queue, handler, in_thread=in_thread) for queue in queues]
    for consumer in consumers:
        consumer.start()
    try:

        def done() -> int:
            return sum(c.handled for c in consumers)

        warm = await _steady(topic.publish, 0.1, rate)
        await _wait_for(done, 2 * warm)
        recording = True
        count = await _steady(topic.publish, seconds, rate)
        await _wait_for(done, 2 * (warm + count))
    finally:
        for consumer in consumers:
            await consumer.stop()
    return latencies


async def latency(sizes: Sizes) -> list[Figure]:
    seconds, rate = sizes.latency_segment_seconds, sizes.latency_rate
    pooled: dict[str, list[float]] = {"loop": [], "thread": [], "mini": [], "mini_thread": []}

    def variant(key: str, ours: bool, in_thread: bool) -> Callable[[], Awaitable[float]]:
        async def run() -> float:
            if ours:
                values = await eventbus_latency(seconds, rate, in_thread=in_thread)
            else:
                values = await mini_latency(seconds, rate, in_thread=in_thread)
            pooled[key].extend(values)
            return percentile(values, 99)

        return run

    segment_p99 = await interleave(
        [
            ("loop", variant("loop", True, False)),
            ("thread", variant("thread", True, True)),
            ("mini", variant("mini", False, False)),
            ("mini_thread", variant("mini_thread", False, True)),
        ],
        sizes.latency_segments,
    )
    ms = 1e3
    figures = []
    for key, base_key, label in (
        ("loop", "mini", "handler on the event loop"),
        ("thread", "mini_thread", "handler in a thread (the default)"),
    ):
        values, base = pooled[key], pooled[base_key]
        for q in (50, 99):
            value = percentile(values, q) * ms
            figures.append(
                Figure(
                    "7",
                    f"publish->handler p{q} at {rate:,.0f} msg/s, SystemClock, {label}",
                    value,
                    "ms",
                    "hand-written" + (", to_thread" if base_key == "mini_thread" else ""),
                    percentile(base, q) * ms,
                    "lower",
                    target="< 2 ms" if q == 99 else "",
                    met=value < 2.0 if q == 99 else None,
                    samples=[v * ms for v in segment_p99[key]] if q == 99 else [],
                    baseline_samples=[v * ms for v in segment_p99[base_key]] if q == 99 else [],
                    note=(
                        f"{len(values):,} deliveries pooled over {sizes.latency_segments} "
                        f"segments of {seconds:g} s; per-segment p99 "
                        f"{', '.join(f'{v * ms:.2f}' for v in segment_p99[key])} ms; "
                        f"max {max(values) * ms:.2f} ms"
                        if q == 99 and values
                        else ""
                    ),
                )
            )
    return figures


# ------------------------------------------------------------------ profiling


async def profile_pipeline(sizes: Sizes, *, in_thread: bool) -> None:
    await eventbus_pipeline(sizes.pipeline_publishes * 4, raw=True, in_thread=in_thread)


async def profile_latency(sizes: Sizes, *, in_thread: bool) -> None:
    await eventbus_latency(3.0, sizes.latency_rate, in_thread=in_thread)
