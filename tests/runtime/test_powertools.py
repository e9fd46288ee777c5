"""Handlers written with Powertools for AWS Lambda run unchanged, and our events parse
with its models."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.envelopes import SnsSqsEnvelope
from aws_lambda_powertools.utilities.parser.models import SqsModel
from pydantic import BaseModel

from eventbus import Bus, MessageAttributeValue, RedrivePolicy, VirtualClock


class Order(BaseModel):
    """The payload of the test messages."""

    id: int


async def test_events_parse_with_the_powertools_sqs_model(bus: Bus) -> None:
    """Every event the consumer sends validates against Powertools' SqsModel, attributes
    of every type included."""
    queue = await bus.create_queue("orders")
    await queue.send(
        '{"id": 1}',
        message_attributes={
            "text": "hello",
            "count": 3,
            "blob": b"\x00\x01",
            "custom": MessageAttributeValue("Number.float", string_value="1.5"),
        },
    )
    await queue.send('{"id": 2}', message_group_id="group-a")
    parsed: list[SqsModel] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        parsed.append(SqsModel.model_validate(event))

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    records = [record for model in parsed for record in model.Records]
    assert [1, 2] == [json.loads(str(r.body))["id"] for r in records]
    first = records[0]
    assert "hello" == first.messageAttributes["text"].stringValue
    assert "AAE=" == first.messageAttributes["blob"].binaryValue
    assert "Number.float" == first.messageAttributes["custom"].dataType
    assert "group-a" == records[1].attributes.MessageGroupId
    assert queue.arn == first.eventSourceARN


async def test_sns_envelopes_unwrap_with_snssqsenvelope(bus: Bus) -> None:
    """A message published through a topic (non-raw) unwraps with SnsSqsEnvelope."""
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("order-events")
    await topic.subscribe(queue)
    await topic.publish('{"id": 7}', subject="new order", message_attributes={"kind": "created"})
    orders: list[Order] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        # Powertools' parse() overloads confuse mypy when an envelope is given.
        parsed: Any = parse(event=event, model=Order, envelope=SnsSqsEnvelope)
        orders.extend(parsed)

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert [Order(id=7)] == orders


async def test_batch_processor_partial_failures_are_retried_then_dead_lettered(
    clock: VirtualClock, bus: Bus
) -> None:
    """A Powertools BatchProcessor handler reports its failures; the failed record is
    retried after the visibility timeout and reaches the DLQ, the others are deleted."""
    dlq = await bus.create_queue("orders-dlq")
    queue = await bus.create_queue(
        "orders",
        visibility_timeout=30,
        redrive_policy=RedrivePolicy(dead_letter_queue="orders-dlq", max_receive_count=2),
    )
    for order_id in range(5):
        await queue.send(json.dumps({"id": order_id}))
    processor = BatchProcessor(event_type=EventType.SQS)
    handled: list[int] = []

    def record_handler(record: SQSRecord) -> None:
        order = json.loads(record.body)
        if order["id"] == 3:
            raise ValueError("cannot fulfil order 3")
        handled.append(order["id"])

    def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    async with bus.consume(
        queue, lambda_handler, batch_size=10, report_batch_item_failures=True
    ) as consumer:
        await bus.run_until_idle()

    assert [0, 1, 2, 4] == sorted(handled)
    assert 0 == (await queue.statistics()).total
    [dead] = await dlq.receive()
    assert {"id": 3} == json.loads(dead.body)
    assert 2 == consumer.statistics().messages_failed
