"""The demo: the seed architecture, producer -> SNS -> SQS -> Lambda -> DLQ, in one process.

A bursty producer publishes orders to a topic, which fans them out to a
fulfilment queue and an analytics queue, each read by a Lambda-style consumer.
Fulfilment fails transiently on some orders (their first attempt only) and always
on one poison order, which SQS retries after its visibility timeout and finally
moves to the dead-letter queue. The summary is read from the bus's statistics.

    python examples/order_pipeline.py            # on the system clock, a few seconds
    python examples/order_pipeline.py --virtual  # on a virtual clock, in milliseconds
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import anyio

from eventbus import Bus, Clock, LambdaContext, RedrivePolicy, SystemClock, VirtualClock

BURSTS = 4
BURST_SIZE = 50
PAUSE_SECONDS = 0.25
POISON_ORDER = 42


def fulfil(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A Lambda handler as it would run on AWS, reporting failures per message.

    Every tenth order fails on its first attempt (a transient error); the poison
    order fails every time.
    """
    failures = []
    for record in event["Records"]:
        order = json.loads(record["body"])
        first_attempt = record["attributes"]["ApproximateReceiveCount"] == "1"
        if order["id"] == POISON_ORDER or (order["id"] % 10 == 0 and first_attempt):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


async def count(event: dict[str, Any], context: LambdaContext) -> None:
    """An async handler reading SNS envelopes (non-raw delivery); it never fails."""
    for record in event["Records"]:
        json.loads(record["body"])["Message"]


async def produce(bus: Bus, topic_name: str) -> int:
    """Publish bursts of orders with pauses between them; return how many."""
    topic = await bus.get_topic(topic_name)
    published = 0
    for burst in range(BURSTS):
        for n in range(BURST_SIZE):
            order_id = burst * BURST_SIZE + n
            await topic.publish(json.dumps({"id": order_id, "total": order_id * 3}))
            published += 1
        clock = bus.clock
        if isinstance(clock, VirtualClock):
            await clock.advance(PAUSE_SECONDS)  # on a virtual clock, the producer drives time
        else:
            await clock.sleep(PAUSE_SECONDS)
    return published


async def main(*, virtual: bool = False) -> dict[str, dict[str, int]]:
    """Run the pipeline until it is idle; print and return a summary per queue."""
    clock: Clock = VirtualClock() if virtual else SystemClock()
    started, real_start = clock.now(), time.perf_counter()
    async with Bus(clock=clock) as bus:
        dlq = await bus.create_queue("fulfilment-dlq")
        fulfilment = await bus.create_queue(
            "fulfilment",
            visibility_timeout=1,
            redrive_policy=RedrivePolicy(dead_letter_queue=dlq.arn, max_receive_count=3),
        )
        analytics = await bus.create_queue("analytics")
        topic = await bus.create_topic("orders")
        await topic.subscribe(fulfilment, raw_message_delivery=True)
        await topic.subscribe(analytics)

        async with (
            bus.consume(
                fulfilment, fulfil, function_timeout=1, report_batch_item_failures=True
            ) as fulfilment_consumer,
            bus.consume(analytics, count, batch_size=50, maximum_batching_window=0.5) as counter,
        ):
            published = await produce(bus, topic.name)
            await bus.run_until_idle()

        summary: dict[str, dict[str, int]] = {}
        for queue, consumer in (
            (fulfilment, fulfilment_consumer),
            (analytics, counter),
            (dlq, None),
        ):
            stats = await queue.statistics()
            row = {
                "delivered": stats.sent,
                "received": stats.received,
                "retried": stats.redelivered,
                "succeeded": stats.deleted,
                "dead_lettered": stats.dead_lettered,
                "left": stats.total,
            }
            if consumer is not None:
                row["invocations"] = consumer.statistics().invocations
            summary[queue.name] = row

    print(f"published {published} orders in {BURSTS} bursts to {topic.arn}")
    print(f"{'queue':<16}" + "".join(f"{key:>14}" for key in summary["fulfilment"]))
    for name, row in summary.items():
        print(f"{name:<16}" + "".join(f"{value:>14}" for value in row.values()))
    print(
        f"{'virtual' if virtual else 'system'} clock: {clock.now() - started:.2f} s of bus time, "
        f"{time.perf_counter() - real_start:.2f} s of real time"
    )
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--virtual", action="store_true", help="run on a virtual clock")
    anyio.run(lambda: main(virtual=parser.parse_args().virtual))
