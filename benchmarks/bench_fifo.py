"""Workload 11: FIFO queues with 1, 10 and 1,000 message groups (issue 5).

Send, receive and delete in batches of 10 on the core FIFO queue machine, with the
messages spread round-robin over the groups, at a small and a large backlog. The
cost per message must stay flat as the number of groups and the backlog grow:
every figure is a ratio to 1 group at the small backlog, measured in the same run.
"""

from __future__ import annotations

import itertools

from bench_harness import BODY, Figure, Sizes, Stopwatch, interleave, median

from eventbus._core._broker import Broker
from eventbus._core._ids import CountingIds
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings

NOW = 1_767_225_600.0
GROUPS = (1, 10, 1_000)


class FifoLoad:
    """A FIFO queue with a backlog spread over ``groups`` groups."""

    def __init__(self, groups: int, backlog: int) -> None:
        broker = Broker(region="us-east-1", ids=CountingIds())
        self.queue: QueueMachine = broker.create_queue(
            "bench.fifo", QueueSettings(fifo_queue=True), now=NOW
        )
        self.group_ids = [f"g{n}" for n in range(groups)]
        self.groups = itertools.cycle(self.group_ids)
        self.dedup = itertools.count()
        for _ in range(backlog):
            self._send()

    def _send(self) -> None:
        self.queue.send(
            BODY,
            now=NOW,
            message_group_id=next(self.groups),
            message_deduplication_id=str(next(self.dedup)),
        )

    def cycles(self, count: int) -> float:
        """Microseconds per message of ``count`` send+receive+delete cycles of 10."""
        queue = self.queue
        with Stopwatch() as sw:
            for _ in range(count):
                for _ in range(10):
                    self._send()
                for message in queue.receive(now=NOW, max_messages=10, visibility_timeout=30):
                    queue.delete(message.receipt_handle, now=NOW)
        return sw.seconds / (count * 10) * 1e6


async def fifo(sizes: Sizes) -> list[Figure]:
    """Cost per message by number of groups and backlog, against 1 group, small backlog.

    Each configuration is built on its own and measured in turns with the small
    baseline queue, then dropped, so that one large queue's memory does not weigh
    on the measurement of another.
    """
    backlogs = (100, 10_000 if sizes.quick else 100_000)
    cycles = max(20, sizes.queue_cycles // 5)
    base = FifoLoad(GROUPS[0], backlogs[0])
    figures = []
    for groups in GROUPS:
        for backlog in backlogs:
            if (groups, backlog) == (GROUPS[0], backlogs[0]):
                continue
            load = FifoLoad(groups, backlog)

            async def measured(load: FifoLoad = load) -> float:
                return load.cycles(cycles)

            async def baseline() -> float:
                return base.cycles(cycles)

            runs = await interleave([("load", measured), ("base", baseline)], sizes.reps)
            del load
            value, reference = median(runs["load"]), median(runs["base"])
            figures.append(
                Figure(
                    "11",
                    f"FIFO send+recv+delete, {groups:,} group(s), backlog {backlog:,}",
                    value,
                    "us/msg",
                    f"1 group, backlog {backlogs[0]:,}",
                    reference,
                    "lower",
                    target="<= 1.3x",
                    met=value <= 1.3 * reference,
                    samples=runs["load"],
                    baseline_samples=runs["base"],
                )
            )
    return figures
