"""Fix a bug, then redrive: a buggy handler fills the DLQ, a fixed one drains it.

A consumer with a bug fails on every order, so after three receives each order is
moved to the dead-letter queue. Once the handler is fixed, a message move task sends
the dead letters back to their source queue, where the fixed handler processes them.
"""

from __future__ import annotations

import json
from typing import Any

import anyio

from eventbus import Bus, LambdaContext, RedrivePolicy, VirtualClock


async def main() -> dict[str, int]:
    """Run the story; return the queue sizes at each step."""
    clock = VirtualClock()
    processed: list[int] = []

    def buggy(event: dict[str, Any], context: LambdaContext) -> None:
        raise KeyError("customer")  # the bug: every order fails

    def fixed(event: dict[str, Any], context: LambdaContext) -> None:
        processed.extend(json.loads(record["body"])["id"] for record in event["Records"])

    async with Bus(clock=clock) as bus:
        dlq = await bus.create_queue("orders-dlq")
        orders = await bus.create_queue(
            "orders",
            visibility_timeout=30,
            redrive_policy=RedrivePolicy(dead_letter_queue=dlq.arn, max_receive_count=3),
        )
        for order_id in range(5):
            await orders.send(json.dumps({"id": order_id}))

        async with bus.consume(orders, buggy):
            await bus.run_until_idle()
        in_dlq = (await dlq.statistics()).visible
        print(f"with the bug: {in_dlq} orders in {dlq.name}")
        for message in await dlq.peek():
            print(f"  {message.body} after {message.receive_count} receives")

        async with bus.consume(orders, fixed):
            task = await dlq.start_message_move_task(max_number_of_messages_per_second=10)
            await bus.run_until_idle()
            await task.wait()
            await bus.run_until_idle()
        status = task.status()
        print(
            f"redrive {status.status}: moved {status.approximate_number_of_messages_moved} "
            f"of {status.approximate_number_of_messages_to_move}; processed {sorted(processed)}"
        )
        return {
            "dead_lettered": in_dlq,
            "moved": status.approximate_number_of_messages_moved,
            "processed": len(processed),
            "left_in_dlq": (await dlq.statistics()).total,
            "left_in_orders": (await orders.statistics()).total,
        }


if __name__ == "__main__":
    anyio.run(main)
