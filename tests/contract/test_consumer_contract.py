"""The Lambda-style consumer runs unchanged on both backends: the whole pipeline."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from eventbus import Bus, LambdaContext, RedrivePolicy

from .conftest import Harness


@asynccontextmanager
async def second_bus(harness: Harness) -> AsyncIterator[Bus]:
    """Another process's bus on AWS; the same bus locally (one process holds it all)."""
    other = harness.another_bus()
    if other is harness.bus:
        yield other
        return
    async with other:
        yield other


async def test_pipeline_with_partial_failures_ends_in_the_dead_letter_queue(
    harness: Harness,
) -> None:
    bus = harness.bus
    dlq = await bus.create_queue("orders-dlq")
    orders = await bus.create_queue(
        "orders",
        visibility_timeout=1,
        redrive_policy=RedrivePolicy(dead_letter_queue="orders-dlq", max_receive_count=2),
    )
    audit = await bus.create_queue("audit")
    topic = await bus.create_topic("order-events")
    await topic.subscribe(orders, raw_message_delivery=True)
    await topic.subscribe(audit)  # the SNS envelope
    bodies = [f"order-{n}" for n in range(5)] + ["bad"]
    for body in bodies:
        await topic.publish(body, message_attributes={"kind": "created"})

    attempts: Counter[str] = Counter()
    records: list[dict[str, Any]] = []
    audited: list[str] = []

    async def handle_orders(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() > 0
        failures = []
        for record in event["Records"]:
            records.append(record)
            attempts[record["body"]] += 1
            if record["body"] == "bad":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def handle_audit(event: dict[str, Any], context: LambdaContext) -> None:
        audited.extend(record["body"] for record in event["Records"])

    async with (
        bus.consume(orders, handle_orders, function_timeout=1, report_batch_item_failures=True),
        bus.consume(audit, handle_audit),
    ):
        await bus.run_until_idle(max_time=60)

    assert set(attempts) == set(bodies)
    assert all(attempts[body] >= 1 for body in bodies)
    assert attempts["bad"] == 2  # max_receive_count, then the queue dead-letters it
    [dead] = await dlq.receive(max_messages=10)
    assert dead.body == "bad"
    assert (await orders.statistics()).total == 0
    assert len(audited) >= len(bodies)
    assert all('"Type" : "Notification"' in b or '"Type": "Notification"' in b for b in audited)
    record = records[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == orders.arn
    assert record["awsRegion"] == bus.region
    assert record["messageAttributes"]["kind"]["stringValue"] == "created"
    assert record["attributes"]["ApproximateReceiveCount"] in {"1", "2"}


async def test_competing_consumers_share_one_queue(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    sent = [f"job-{n}" for n in range(30)]
    await queue.send_batch(sent[:10])
    await queue.send_batch(sent[10:20])
    await queue.send_batch(sent[20:])
    handled: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        handled.extend(record["body"] for record in event["Records"])

    async with second_bus(harness) as other:
        theirs = await other.get_queue("orders")
        async with bus.consume(queue, handler), other.consume(theirs, handler):
            await bus.run_until_idle(max_time=60)
    assert sorted(handled) == sorted(sent)  # each once: no failures, no expiries


async def test_a_cancelled_invocation_gives_its_messages_back_at_once(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders", visibility_timeout=600)
    await queue.send("interrupted")
    started = anyio.Event()

    async def stuck(event: dict[str, Any], context: LambdaContext) -> None:
        started.set()
        await anyio.sleep_forever()

    async with bus.consume(queue, stuck, function_timeout=600) as consumer:
        with anyio.fail_after(10):
            await started.wait()
        await consumer.stop(cancel=True)
    assert consumer.statistics().messages_deleted == 0
    [again] = await queue.receive()  # not after 600 s: released on the way out
    assert again.body == "interrupted"
    assert again.receive_count == 2
