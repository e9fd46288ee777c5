"""Workload 10: the SQLite store against the in-memory store, in the same run.

Queue operations (send, receive and delete in batches of 10 through the public API)
on memory, on SQLite with ``durability="process"`` and with ``durability="power"``;
and the cost of a restart: opening a database that holds N stored messages, against
building the same queue in memory.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench_harness import BODY, Figure, Sizes, Stopwatch, interleave, median
from bench_pipeline import eventbus_pipeline
from bench_queue import BATCH, api_cycles

from eventbus import Bus, MemoryStore, SqliteStore, Store, VirtualClock
from eventbus._core._broker import Broker
from eventbus._core._ids import CountingIds
from eventbus._core._settings import QueueSettings
from eventbus._runtime._ids import UuidIds

NOW = 1_767_225_600.0


async def _ops(store: Store, cycles: int) -> float:
    async with Bus(clock=VirtualClock(NOW), store=store) as bus:
        queue = await bus.create_queue("ops")
        for _ in range(10):
            await queue.send_batch(BATCH)
        return await api_cycles(queue, cycles)


def _fill(path: Path, count: int) -> None:
    """Store ``count`` messages, committing every 10,000 (a prefill, not measured).

    Random message ids, as a bus makes them (their order is not the arrival order)."""
    store = SqliteStore(path)
    broker = Broker(region="us-east-1", ids=UuidIds(), durable=True)
    store.open(broker, NOW)
    queue = broker.create_queue("stored", QueueSettings(), now=NOW)
    assert broker.changes is not None
    for n in range(count):
        queue.send(BODY, now=NOW)
        if n % 10_000 == 9_999:
            store.commit(broker.changes, broker)
            broker.changes.clear()
    store.commit(broker.changes, broker)
    store.close()


async def store(sizes: Sizes) -> list[Figure]:
    """Throughput per store and durability mode; the cost of a restart."""
    directory = Path(tempfile.mkdtemp(prefix="eventbus-bench-"))
    cycles = max(50, sizes.queue_cycles // 3)
    counter = iter(range(1_000_000))

    def sqlite(durability: str) -> SqliteStore:
        return SqliteStore(directory / f"ops-{next(counter)}.db", durability=durability)  # type: ignore[arg-type]

    async def memory() -> float:
        return await _ops(MemoryStore(), cycles)

    async def process() -> float:
        return await _ops(sqlite("process"), cycles)

    async def power() -> float:
        return await _ops(sqlite("power"), cycles)

    publishes = max(200, sizes.pipeline_publishes // 2)

    def pipeline(mode: str | None) -> Callable[[], Awaitable[float]]:
        async def run() -> float:
            store = MemoryStore() if mode is None else sqlite(mode)
            return await eventbus_pipeline(publishes, raw=True, in_thread=False, store=store)

        return run

    try:
        runs = await interleave(
            [("memory", memory), ("process", process), ("power", power)], sizes.reps
        )
        pipelines = await interleave(
            [
                ("memory", pipeline(None)),
                ("process", pipeline("process")),
                ("power", pipeline("power")),
            ],
            min(3, sizes.reps),
        )
        stored = sizes.memory_messages
        _fill(directory / "restart.db", stored)

        async def reopen() -> float:
            with Stopwatch() as sw:
                async with Bus(
                    clock=VirtualClock(NOW), store=SqliteStore(directory / "restart.db")
                ):
                    pass
            return sw.seconds

        async def rebuild() -> float:
            started = time.perf_counter()
            broker = Broker(region="us-east-1", ids=CountingIds())
            queue = broker.create_queue("stored", QueueSettings(), now=NOW)
            for _ in range(stored):
                queue.send(BODY, now=NOW)
            return time.perf_counter() - started

        # One repetition: a restart of 1,000,000 messages is seconds long, not noisy.
        restarts = await interleave([("reopen", reopen), ("rebuild", rebuild)], 1)
        _fill(directory / "shallow.db", 100)
        depth = await _depth_cost(
            {100: directory / "shallow.db", stored: directory / "restart.db"},
            rounds=max(10, sizes.depth_rounds // 5),
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    figures = [
        Figure(
            "10",
            f"queue ops on SQLite, durability={mode!r}, send+recv+delete x10",
            median(runs[mode]),
            "msg/s",
            "in-memory store",
            median(runs["memory"]),
            "higher",
            samples=runs[mode],
            baseline_samples=runs["memory"],
        )
        for mode in ("process", "power")
    ]
    figures += [
        Figure(
            "10",
            f"pipeline topic->2 queues->consumers on SQLite, durability={mode!r}",
            median(pipelines[mode]),
            "deliv/s",
            "in-memory store",
            median(pipelines["memory"]),
            "higher",
            samples=pipelines[mode],
            baseline_samples=pipelines["memory"],
        )
        for mode in ("process", "power")
    ]
    figures.append(
        Figure(
            "10",
            f"restart: open an SQLite store holding {stored:,} messages",
            median(restarts["reopen"]),
            "s",
            "building the same queue in memory",
            median(restarts["rebuild"]),
            "lower",
            samples=restarts["reopen"],
            baseline_samples=restarts["rebuild"],
        )
    )
    figures.append(
        Figure(
            "10",
            f"receive(1)+delete on SQLite at a depth of {stored:,}, us per message",
            depth[stored],
            "us",
            "the same at a depth of 100",
            depth[100],
            "lower",
            target="<= 1.3x",
            met=depth[stored] <= 1.3 * depth[100],
        )
    )
    return figures


async def _depth_cost(paths: dict[int, Path], *, rounds: int) -> dict[int, float]:
    """Microseconds per receive(1)+delete (a commit each, durability "process") on
    databases of each depth, open side by side; the depths take turns round by round,
    each round sends 200 messages (untimed) and times 200 receive+delete; medians."""
    chunk = 200
    samples: dict[int, list[float]] = {depth: [] for depth in paths}
    async with contextlib.AsyncExitStack() as stack:
        queues = {}
        for depth, path in paths.items():
            bus = await stack.enter_async_context(
                Bus(clock=VirtualClock(NOW), store=SqliteStore(path))
            )
            queues[depth] = await bus.get_queue("stored")
        depths = list(paths)
        for index in range(rounds):
            turn = index % len(depths)
            for depth in depths[turn:] + depths[:turn]:
                queue = queues[depth]
                for _ in range(chunk // 10):
                    await queue.send_batch(BATCH)
                with Stopwatch() as sw:
                    for _ in range(chunk):
                        [message] = await queue.receive()
                        await queue.delete(message.receipt_handle)
                samples[depth].append(sw.seconds / chunk * 1e6)
    return {depth: median(values) for depth, values in samples.items()}
