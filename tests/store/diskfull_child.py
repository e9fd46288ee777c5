"""Run by test_store_faults.py: a bus on SQLite whose disk fills up (a file-size limit,
RLIMIT_FSIZE, stands in for a full disk), then frees up. Prints one JSON report.

Usage: python diskfull_child.py <database> <durability>
"""

from __future__ import annotations

import json
import resource
import signal
import sys

import anyio

from eventbus import Bus, EventBusError, SqliteStore, VirtualClock

PATH, DURABILITY = sys.argv[1], sys.argv[2]
PAD = "x" * 8192
T0 = 1_767_225_600.0


def body(n: int) -> str:
    return f"{n:05d}{PAD}"


async def main() -> dict[str, object]:
    report: dict[str, object] = {}
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, EFBIG
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, hard))  # "the disk is full"
    store = SqliteStore(PATH, durability=DURABILITY)  # type: ignore[arg-type]
    async with Bus(clock=VirtualClock(T0), store=store) as bus:
        queue = await bus.create_queue("q")
        sent = 0
        with anyio.fail_after(30):  # a hang fails the test instead of stopping it
            while True:
                try:
                    await queue.send(body(sent))
                except EventBusError as error:
                    report["error"] = [type(error).__name__, error.code]
                    break
                sent += 1
            report["sent"] = sent
            report["total_after_failure"] = (await queue.statistics()).total
            report["peeked"] = len(await queue.peek(max_messages=1000))

            async def one(n: int) -> str:  # calls made together all get the failure
                try:
                    await queue.send(body(n))
                except EventBusError as error:
                    return error.code
                return "sent"

            outcomes: list[str] = []

            async def run(n: int) -> None:
                outcomes.append(await one(n))

            async with anyio.create_task_group() as group:
                for n in range(90_000, 90_005):
                    group.start_soon(run, n)
            report["together"] = sorted(outcomes)
    report["closed_while_full"] = True
    # The lock went with the close: the same process opens the file again, disk still full.
    async with Bus(clock=VirtualClock(T0), store=SqliteStore(PATH)) as bus:
        report["reopened_while_full"] = (await (await bus.get_queue("q")).statistics()).total
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # "space was freed"
    async with Bus(clock=VirtualClock(T0), store=SqliteStore(PATH, durability=DURABILITY)) as bus:  # type: ignore[arg-type]
        queue = await bus.get_queue("q")
        await queue.send(body(99_999))
    async with Bus(clock=VirtualClock(T0), store=SqliteStore(PATH)) as bus:
        queue = await bus.get_queue("q")
        report["bodies"] = sorted(int(m.body[:5]) for m in await queue.peek(max_messages=100_000))
    return report


print(json.dumps(anyio.run(main)))
