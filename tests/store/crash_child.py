"""A pipeline on an SQLite store that kills itself (SIGKILL) at a random moment.

Used by test_crash.py: ``python crash_child.py DB LOG SEED``. It appends ``sent <body>``
to LOG after each publish returns, ``done <body>`` before a handler reports
success, and ``deleted <body>`` after a delete from the audit queue returns, so the
test can check that nothing acknowledged was lost and nothing deleted came back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
from typing import Any

import anyio
import anyio.lowlevel

from eventbus import Bus, RedrivePolicy, SqliteStore


async def main(db: str, log_path: str, seed: int, durability: str) -> None:
    """Publish and consume until killed."""
    rng = random.Random(seed)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115, ASYNC230 - lives until the kill

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            body = record["body"]
            if rng.random() < 0.2:
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                log.write(f"done {body}\n")
        return {"batchItemFailures": failures}

    async with Bus(store=SqliteStore(db, durability=durability)) as bus:  # type: ignore[arg-type]
        await bus.create_queue("dlq")
        queue = await bus.create_queue(
            "work",
            visibility_timeout=1,
            redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=2),
        )
        topic = await bus.create_topic("events")
        await topic.subscribe(queue, raw_message_delivery=True)
        audit = await bus.create_queue("audit")
        await topic.subscribe(audit, raw_message_delivery=True)
        delay = rng.uniform(0.05, 0.5)
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
        async with bus.consume(
            queue,
            handler,
            function_timeout=1,
            report_batch_item_failures=True,
            run_sync_handlers_in_thread=False,
        ):
            n = 0
            while True:
                body = json.dumps({"seed": seed, "n": n})
                await topic.publish(body)
                log.write(f"sent {body}\n")
                for message in await audit.receive(max_messages=2):
                    log.write(f"deleting {message.body}\n")
                    await audit.delete(message.receipt_handle)
                    log.write(f"deleted {message.body}\n")
                n += 1
                if n % 20 == 0:
                    await anyio.lowlevel.checkpoint()  # let the consumer run


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
