"""Queue workloads: operations (1), depth scaling (4), memory (5) and moto (6).

* Operations: cycles of send_batch(10) + receive(10) + delete_batch(10) on a queue
  holding a backlog of 100, through the public async API (``Queue`` on a
  ``VirtualClock``) and directly on the core ``QueueMachine``, against the
  hand-written baseline queue's async and sync faces.
* Depth: single-message operations on core queues that already hold ``D`` visible
  and ``D`` in-flight messages, the depths taking turns round by round.
* Memory: tracemalloc's count of the bytes a core queue allocates while 1,000,000
  messages are sent to it (their bodies are made beforehand, so they are not
  counted), against the baseline queue.
* moto: the operations cycle through boto3 on ``mock_aws`` at backlogs of 100 and
  1,000, against the same cycle through the public API at the same backlogs.
"""

from __future__ import annotations

import gc
import importlib
import linecache
import os
import time
import tracemalloc
import uuid
from typing import Any

from bench_baseline import MiniQueue
from bench_harness import (
    BODY,
    BODY_BYTES,
    Figure,
    Sizes,
    Stopwatch,
    interleave,
    median,
)

from eventbus import (
    Bus,
    CountingIds,
    DeleteBatchEntry,
    IdSource,
    Queue,
    SendBatchEntry,
    VirtualClock,
)
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings

NOW = 1_767_225_600.0
ARN = "arn:aws:sqs:us-east-1:000000000000:bench"
BATCH = [BODY] * 10


class SwitchableIds:
    """Counting ids while a big queue is pre-filled, random UUIDs when measuring.

    Pre-filling a million messages is the slow part of the depth workload; counting
    ids save about a third of it. The measured operations use UUIDs, as a default
    ``Bus`` does.
    """

    __slots__ = ("_counting", "fast")

    def __init__(self) -> None:
        self._counting = CountingIds()
        self.fast = True

    def message_id(self) -> str:
        return self._counting.message_id() if self.fast else str(uuid.uuid4())

    def token(self) -> str:
        return self._counting.token() if self.fast else uuid.uuid4().hex


def core_queue(ids: IdSource | None = None, **settings: Any) -> QueueMachine:
    """A bare core queue, as the broker would make it."""
    return QueueMachine(
        "bench",
        ARN,
        QueueSettings(**settings),
        ids=ids if ids is not None else SwitchableIds(),
        events=[],
    )


# ------------------------------------------------------------------ 1. operations


def core_cycles(machine: QueueMachine, cycles: int) -> float:
    """Messages/s of send_batch + receive + delete_batch cycles on a core queue."""
    send_entries = [SendBatchEntry(str(i), BODY) for i in range(10)]
    with Stopwatch() as sw:
        for _ in range(cycles):
            machine.send_batch(send_entries, now=NOW)
            received = machine.receive(now=NOW, max_messages=10)
            machine.delete_batch(
                [DeleteBatchEntry(str(i), m.receipt_handle) for i, m in enumerate(received)],
                now=NOW,
            )
    return cycles * 10 / sw.seconds


async def api_cycles(queue: Queue, cycles: int) -> float:
    """Messages/s of the same cycle through the public async API."""
    with Stopwatch() as sw:
        for _ in range(cycles):
            await queue.send_batch(BATCH)
            received = await queue.receive(max_messages=10, wait_time_seconds=0)
            await queue.delete_batch([m.receipt_handle for m in received])
    return cycles * 10 / sw.seconds


async def api_queue(bus: Bus, name: str, backlog: int) -> Queue:
    queue = await bus.create_queue(name)
    for _ in range(backlog // 10):
        await queue.send_batch(BATCH)
    return queue


def mini_cycles_sync(queue: MiniQueue, cycles: int) -> float:
    with Stopwatch() as sw:
        for _ in range(cycles):
            queue.send_batch(BATCH)
            received = queue.receive(10)
            queue.delete_batch([handle for handle, _ in received])
    return cycles * 10 / sw.seconds


async def mini_cycles_async(queue: MiniQueue, cycles: int) -> float:
    with Stopwatch() as sw:
        for _ in range(cycles):
            await queue.asend_batch(BATCH)
            received = await queue.areceive(10)
            await queue.adelete_batch([handle for handle, _ in received])
    return cycles * 10 / sw.seconds


def mini_with_backlog(backlog: int) -> MiniQueue:
    queue = MiniQueue()
    for _ in range(backlog // 10):
        queue.send_batch(BATCH)
    return queue


async def operations(sizes: Sizes) -> list[Figure]:
    backlog, cycles = 100, sizes.queue_cycles

    async def api() -> float:
        async with Bus(clock=VirtualClock()) as bus:
            return await api_cycles(await api_queue(bus, "ops", backlog), cycles)

    async def core() -> float:
        ids = SwitchableIds()
        machine = core_queue(ids)
        for _ in range(backlog):
            machine.send(BODY, now=NOW)
        ids.fast = False
        return core_cycles(machine, cycles)

    async def mini_async() -> float:
        return await mini_cycles_async(mini_with_backlog(backlog), cycles)

    async def mini_sync() -> float:
        return mini_cycles_sync(mini_with_backlog(backlog), cycles)

    runs = await interleave(
        [("api", api), ("core", core), ("mini_async", mini_async), ("mini_sync", mini_sync)],
        sizes.reps,
    )
    return [
        Figure(
            "1",
            "queue ops, public async API (VirtualClock), send+recv+delete x10",
            median(runs["api"]),
            "msg/s",
            "hand-written, async",
            median(runs["mini_async"]),
            "higher",
            samples=runs["api"],
            baseline_samples=runs["mini_async"],
        ),
        Figure(
            "1",
            "queue ops, core QueueMachine, send+recv+delete x10",
            median(runs["core"]),
            "msg/s",
            "hand-written, sync",
            median(runs["mini_sync"]),
            "higher",
            samples=runs["core"],
            baseline_samples=runs["mini_sync"],
        ),
    ]


# ------------------------------------------------------------------ 4. depth


class DepthQueue:
    """A core queue holding ``depth`` visible and ``depth`` in-flight messages."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.ids = SwitchableIds()
        self.machine = core_queue(self.ids, visibility_timeout=43_200)
        send, receive = self.machine.send, self.machine.receive
        for _ in range(depth):
            send(BODY, now=NOW)
        for _ in range(-(-depth // 10)):
            receive(now=NOW, max_messages=10)
        for _ in range(depth):
            send(BODY, now=NOW)
        self.ids.fast = False
        stats = self.machine.counts(now=NOW)
        assert stats.visible == depth, stats
        assert stats.in_flight == depth, stats

    def round(self, k: int, parts: int = 4) -> dict[str, float]:
        """Time ``k`` operations of each kind; seconds per operation, by kind.

        The ``k`` operations run as ``parts`` slices, each timed on its own, and the
        fastest slice counts: a slice of ~50 operations lasts well under a
        millisecond, so one that another process's time slice did not land in is
        nearly always there, while a cost that grows with depth shows in every slice.
        """
        machine = self.machine
        send, receive = machine.send, machine.receive
        delete, change = machine.delete, machine.change_visibility
        perf = time.perf_counter
        size = max(1, k // parts)
        slices = [size] * parts
        best: dict[str, float] = {}

        def keep(kind: str, seconds: float, count: int) -> None:
            per_op = seconds / count
            best[kind] = min(best.get(kind, per_op), per_op)

        for n in slices:
            start = perf()
            for _ in range(n):
                send(BODY, now=NOW)
            keep("send", perf() - start, n)

        for n in slices:
            start = perf()
            for _ in range(n):
                [message] = receive(now=NOW, max_messages=1)
                delete(message.receipt_handle, now=NOW)
            keep("receive+delete", perf() - start, n)

        # k more messages in flight (untimed), beside the `depth` already there.
        for _ in range(size * parts):
            send(BODY, now=NOW)
        handles = [
            m.receipt_handle
            for _ in range(-(-size * parts // 10))
            for m in receive(now=NOW, max_messages=10)
        ]
        groups = [handles[i : i + size] for i in range(0, len(handles), size)]
        for group in groups:
            start = perf()
            for handle in group:
                change(handle, 600, now=NOW)
            keep("change_visibility", perf() - start, len(group))
        for group in groups:
            start = perf()
            for handle in group:
                delete(handle, now=NOW)
            keep("delete (in flight)", perf() - start, len(group))
        return best


def depth_scaling(sizes: Sizes) -> list[Figure]:
    prefill = Stopwatch()
    with prefill:
        queues = [DepthQueue(depth) for depth in sizes.depths]
    gc.collect()
    kinds = ("send", "receive+delete", "change_visibility", "delete (in flight)")
    samples: dict[tuple[int, str], list[float]] = {
        (q.depth, kind): [] for q in queues for kind in kinds
    }
    for index in range(sizes.depth_rounds):
        # Rotate which depth goes first, so none always runs on a warm cache.
        for offset in range(len(queues)):
            queue = queues[(index + offset) % len(queues)]
            for kind, seconds in queue.round(sizes.depth_chunk).items():
                samples[queue.depth, kind].append(seconds * 1e6)
    for queue in queues:
        queue.machine.check_invariants()
    smallest = sizes.depths[0]
    figures = []
    for kind in kinds:
        base = samples[smallest, kind]
        for depth in sizes.depths[1:]:
            big = depth == sizes.depths[-1]
            ours = samples[depth, kind]
            figures.append(
                Figure(
                    "4",
                    f"{kind} cost at {depth:,} visible + {depth:,} in flight (core)",
                    median(ours),
                    "us/op",
                    f"at {smallest:,}",
                    median(base),
                    "lower",
                    target="<= 1.3x" if big else "",
                    met=(median(ours) <= 1.3 * median(base)) if big else None,
                    samples=ours,
                    baseline_samples=base,
                    note=(
                        f"pre-filling {sum(sizes.depths) * 2:,} messages took "
                        f"{prefill.seconds:.1f} s"
                        if big and kind == "send"
                        else ""
                    ),
                )
            )
    del queues
    gc.collect()
    return figures


# ------------------------------------------------------------------ 5. memory


def _bodies(count: int) -> list[str]:
    """Distinct 100-byte bodies, as a real workload sends (none shared)."""
    pad = "b" * (BODY_BYTES - 10)
    return [f"{i:010d}{pad}" for i in range(count)]


def _traced_bytes(fill: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = fill()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return after - before


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory(sizes: Sizes) -> list[Figure]:
    count = sizes.memory_messages
    bodies = _bodies(count)

    def fill_ours() -> QueueMachine:
        ids = SwitchableIds()
        ids.fast = False  # UUID message ids, as a default Bus
        machine = core_queue(ids)
        send = machine.send
        for i, body in enumerate(bodies):
            send(body, now=NOW + i * 1e-4)  # a new clock reading per send
        assert machine.message_count == count
        return machine

    def fill_mini() -> MiniQueue:
        queue = MiniQueue()
        send = queue.send
        for body in bodies:
            send(body)
        return queue

    # No repetitions: allocation counts do not depend on the machine's load.
    ours = _traced_bytes(fill_ours) / count
    mini = _traced_bytes(fill_mini) / count

    gc.collect()
    rss_before = _rss_bytes()
    kept = fill_ours()
    rss_ours = (_rss_bytes() - rss_before) / count
    del kept
    gc.collect()
    return [
        Figure(
            "5",
            f"memory per queued message beyond its body, at {count:,} (tracemalloc)",
            ours,
            "B/msg",
            "hand-written queue",
            mini,
            "lower",
            target="<= 600 B",
            met=ours <= 600,
            note=(
                f"RSS delta for the same fill: {rss_ours:.0f} B/msg (approximate: freed "
                "memory of earlier phases is reused, and the RSS includes the allocator's "
                "slack)"
            ),
        )
    ]


def memory_sites(count: int, top: int = 15) -> str:
    """Where a core queue's memory per message goes: tracemalloc's top allocation lines."""
    bodies = _bodies(count)
    ids = SwitchableIds()
    ids.fast = False
    machine = core_queue(ids)
    gc.collect()
    tracemalloc.start()
    try:
        for i, body in enumerate(bodies):
            machine.send(body, now=NOW + i * 1e-4)
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    stats = snapshot.statistics("lineno")
    total = sum(stat.size for stat in stats)
    lines = [
        f"tracemalloc: live allocations after sending {count:,} messages to a core queue, "
        f"top {top} lines ({total / count:.0f} B/msg in all)",
        f"{'B/msg':>7}  {'blocks/msg':>10}  line",
    ]
    for stat in stats[:top]:
        frame = stat.traceback[0]
        source = linecache.getline(frame.filename, frame.lineno).strip()
        where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
        lines.append(
            f"{stat.size / count:7.1f}  {stat.count / count:10.2f}  {where}  {source[:70]}"
        )
    del machine
    return "\n".join(lines)


# ------------------------------------------------------------------ 6. moto


def _moto_cycles(client: Any, url: str, cycles: int) -> float:
    entries = [{"Id": str(i), "MessageBody": BODY} for i in range(10)]
    with Stopwatch() as sw:
        for _ in range(cycles):
            client.send_message_batch(QueueUrl=url, Entries=entries)
            received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if received:
                client.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(received)
                    ],
                )
    return cycles * 10 / sw.seconds


async def peer_moto(sizes: Sizes) -> list[Figure]:
    try:
        moto: Any = importlib.import_module("moto")
        boto3: Any = importlib.import_module("boto3")
    except ImportError:
        return [
            Figure(
                "6",
                f"queue ops vs moto, backlog {backlog:,}",
                float("nan"),
                "msg/s",
                "moto",
                float("nan"),
                "higher",
                target=">= 1000x" if backlog == 1_000 else "",
                note="skipped: moto/boto3 not installed (pip install moto boto3)",
            )
            for backlog in sizes.moto_backlogs
        ]
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    figures = []
    with moto.mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        async with Bus(clock=VirtualClock()) as bus:
            setup = Stopwatch()
            with setup:
                urls: dict[int, str] = {}
                ours: dict[int, Queue] = {}
                for backlog in sizes.moto_backlogs:
                    url = client.create_queue(QueueName=f"b{backlog}")["QueueUrl"]
                    for _ in range(backlog // 10):
                        client.send_message_batch(
                            QueueUrl=url,
                            Entries=[{"Id": str(i), "MessageBody": BODY} for i in range(10)],
                        )
                    urls[backlog] = url
                    ours[backlog] = await api_queue(bus, f"b{backlog}", backlog)
            for backlog, moto_cycles in zip(sizes.moto_backlogs, sizes.moto_cycles, strict=True):
                url, queue = urls[backlog], ours[backlog]

                async def run_ours(queue: Queue = queue) -> float:
                    return await api_cycles(queue, sizes.queue_cycles)

                async def run_moto(url: str = url, cycles: int = moto_cycles) -> float:
                    return _moto_cycles(client, url, cycles)

                runs = await interleave([("ours", run_ours), ("moto", run_moto)], sizes.moto_reps)
                ratio = median(runs["ours"]) / median(runs["moto"])
                big = backlog == 1_000
                figures.append(
                    Figure(
                        "6",
                        f"queue ops vs moto, backlog {backlog:,} (public API vs boto3+mock_aws)",
                        median(runs["ours"]),
                        "msg/s",
                        "moto",
                        median(runs["moto"]),
                        "higher",
                        target=">= 1000x" if big else "",
                        met=ratio >= 1000 if big else None,
                        samples=runs["ours"],
                        baseline_samples=runs["moto"],
                        note=(
                            f"moto {importlib.import_module('moto').__version__}; pre-filling "
                            f"both backlogs took {setup.seconds:.1f} s"
                            if big
                            else ""
                        ),
                    )
                )
    return figures


# ------------------------------------------------------------------ profiling


async def profile_operations(sizes: Sizes) -> None:
    async with Bus(clock=VirtualClock()) as bus:
        await api_cycles(await api_queue(bus, "ops", 100), sizes.queue_cycles * 5)


def profile_depth(sizes: Sizes) -> DepthQueue:
    """Build the biggest depth queue (returned, so the caller can profile rounds)."""
    return DepthQueue(sizes.depths[-1])
