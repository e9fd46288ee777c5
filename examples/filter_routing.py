"""One topic, three queues, routed by subscription filter policies.

EU orders go to one queue (matched on a message attribute), large orders to another
(matched on the JSON body), and an audit queue takes everything.
"""

from __future__ import annotations

import json

import anyio

from eventbus import Bus, VirtualClock

ORDERS = [
    {"id": "o-1", "region": "eu-west-1", "total": 40},
    {"id": "o-2", "region": "us-east-1", "total": 15},
    {"id": "o-3", "region": "eu-central-1", "total": 900},
    {"id": "o-4", "region": "ap-south-1", "total": 1200},
]


async def main() -> dict[str, list[str]]:
    """Publish the orders and return, per queue, the ids it received."""
    async with Bus(clock=VirtualClock()) as bus:
        topic = await bus.create_topic("orders")
        eu = await bus.create_queue("eu-orders")
        big = await bus.create_queue("big-orders")
        audit = await bus.create_queue("audit")
        await topic.subscribe(
            eu, raw_message_delivery=True, filter_policy={"region": [{"prefix": "eu-"}]}
        )
        await topic.subscribe(
            big,
            raw_message_delivery=True,
            filter_policy={"total": [{"numeric": [">=", 500]}]},
            filter_policy_scope="MessageBody",
        )
        await topic.subscribe(audit, raw_message_delivery=True)

        for order in ORDERS:
            await topic.publish(json.dumps(order), message_attributes={"region": order["region"]})

        routed = {}
        for queue in (eu, big, audit):
            messages = await queue.receive(max_messages=10)
            routed[queue.name] = sorted(json.loads(m.body)["id"] for m in messages)
            print(f"{queue.name:<10} got {', '.join(routed[queue.name])}")
        return routed


if __name__ == "__main__":
    anyio.run(main)
