"""Quickstart: a topic fans out to two queues; a poison message ends in the DLQ.

Runs on a VirtualClock, so the 30-second visibility timeouts pass in no time.
"""

from __future__ import annotations

import json

import anyio

from eventbus import Bus, RedrivePolicy, VirtualClock


async def main() -> dict[str, int]:
    """Publish three orders, fail one of them for good, and return where they ended."""
    clock = VirtualClock()
    async with Bus(clock=clock) as bus:
        await bus.create_queue("orders-dlq")
        orders = await bus.create_queue(
            "orders",
            visibility_timeout=30,
            redrive_policy=RedrivePolicy(dead_letter_queue="orders-dlq", max_receive_count=3),
        )
        audit = await bus.create_queue("audit")
        topic = await bus.create_topic("order-events")
        await topic.subscribe(orders, raw_message_delivery=True)
        await topic.subscribe(audit)  # gets the SNS JSON envelope

        for order_id in (1, 2, 3):
            kind = "poison" if order_id == 2 else "created"
            await topic.publish(json.dumps({"id": order_id}), message_attributes={"kind": kind})

        # A worker loop: delete what it can process, leave the poison message alone.
        for _ in range(4):
            for message in await orders.receive(max_messages=10):
                if message.message_attributes["kind"].string_value == "poison":
                    print(f"order {message.body} failed (receive #{message.receive_count})")
                    continue
                print(f"order {message.body} processed")
                await orders.delete(message.receipt_handle)
            await clock.advance(31)  # the visibility timeout runs out

        dlq = await bus.get_queue("orders-dlq")
        [dead] = await dlq.receive()
        print("dead-lettered:", dead.body, "from", dead.attributes["DeadLetterQueueSourceArn"])
        [envelope, *_] = await audit.receive(max_messages=10)
        print("audit saw:", json.loads(envelope.body)["Message"])
        return {
            "orders": (await orders.statistics()).total,
            "dead_letters": int(dead.attributes["ApproximateReceiveCount"]),
            "audit": (await audit.statistics()).total,
        }


if __name__ == "__main__":
    anyio.run(main)
