"""The demo pipeline: producer -> SNS topic -> SQS queues -> Lambda handlers -> DLQ.

The seed architecture, in one process: a topic fans each order event out to two
queues; a fulfilment handler (a Lambda handler with partial batch responses)
fails on poison messages, which SQS retries after the visibility timeout and
finally moves to a dead-letter queue; an analytics handler counts everything.
Time is virtual, so minutes of retries take milliseconds.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio

from eventbus import Bus, LambdaContext, RedrivePolicy, VirtualClock

ORDERS = 200
POISON = {17, 123}


async def main(orders: int = ORDERS) -> dict[str, int]:
    """Run the pipeline until it is idle; return what ended where."""
    started = time.perf_counter()
    clock = VirtualClock()
    virtual_start = clock.now()
    fulfilled: set[int] = set()
    analytics: list[str] = []

    def fulfil(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """A Lambda handler as it would run on AWS: report failures per message."""
        failures = []
        for record in event["Records"]:
            order = json.loads(record["body"])
            if order["id"] in POISON:
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                fulfilled.add(order["id"])
        return {"batchItemFailures": failures}

    async def count(event: dict[str, Any], context: LambdaContext) -> None:
        """An async handler reading SNS envelopes (non-raw delivery)."""
        for record in event["Records"]:
            analytics.append(json.loads(record["body"])["MessageId"])

    async with Bus(clock=clock) as bus:
        dlq = await bus.create_queue("fulfilment-dlq")
        fulfilment = await bus.create_queue(
            "fulfilment",
            visibility_timeout=30,
            redrive_policy=RedrivePolicy(dead_letter_queue=dlq.arn, max_receive_count=3),
        )
        stats_queue = await bus.create_queue("analytics")
        topic = await bus.create_topic("orders")
        await topic.subscribe(fulfilment, raw_message_delivery=True)
        await topic.subscribe(stats_queue)

        for order_id in range(orders):
            await topic.publish(json.dumps({"id": order_id, "total": order_id * 3}))
        print(f"published {orders} order events to {topic.arn}")

        async with (
            bus.consume(
                fulfilment, fulfil, batch_size=10, report_batch_item_failures=True
            ) as fulfilment_consumer,
            bus.consume(stats_queue, count, batch_size=50, maximum_batching_window=1),
        ):
            await bus.run_until_idle()
            stats = fulfilment_consumer.statistics()

        dead = await dlq.receive(max_messages=10)
        print(
            f"fulfilment: {len(fulfilled)} orders fulfilled in {stats.invocations} invocations, "
            f"{stats.messages_failed} failed attempts"
        )
        for message in dead:
            # Receiving it from the DLQ counted once more (the count is not reset).
            receives = int(message.attributes["ApproximateReceiveCount"]) - 1
            print(f"  dead-lettered order {json.loads(message.body)['id']} after {receives} receives")
        print(f"analytics: {len(analytics)} events counted")
        print(
            f"virtual time passed: {clock.now() - virtual_start:.0f} s; "
            f"real time: {time.perf_counter() - started:.3f} s"
        )
        return {
            "fulfilled": len(fulfilled),
            "dead_lettered": len(dead),
            "analytics": len(analytics),
            "left_in_fulfilment": (await fulfilment.statistics()).total,
        }


if __name__ == "__main__":
    anyio.run(main)
