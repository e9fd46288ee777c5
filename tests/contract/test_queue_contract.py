"""Queue calls behave the same on the local backend and on SQS (moto)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from eventbus import EventBusError, RedriveAllowPolicy, RedrivePolicy, SendBatchEntry

from .conftest import Harness


async def test_send_receive_delete_round_trip(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    sent = await queue.send(
        '{"id": 1}',
        message_attributes={"kind": "created", "amount": Decimal("12.5"), "blob": b"\x00\x01"},
    )
    [message] = await queue.receive(max_messages=10)
    assert message.message_id == sent.message_id
    assert message.body == '{"id": 1}'
    assert message.md5_of_body == sent.md5_of_message_body
    assert message.md5_of_message_attributes == sent.md5_of_message_attributes
    assert message.message_attributes["kind"].string_value == "created"
    assert message.message_attributes["amount"].data_type == "Number"
    assert message.message_attributes["amount"].string_value == "12.5"
    assert message.message_attributes["blob"].binary_value == b"\x00\x01"
    assert message.receive_count == 1
    assert message.attributes["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in message.attributes
    await queue.delete(message.receipt_handle)
    stats = await queue.statistics()
    assert (stats.visible, stats.in_flight, stats.delayed) == (0, 0, 0)


async def test_statistics_count_visible_and_in_flight(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    for body in ("a", "b", "c"):
        await queue.send(body)
    assert len(await queue.receive(max_messages=1)) == 1
    stats = await queue.statistics()
    assert (stats.visible, stats.in_flight, stats.delayed) == (2, 1, 0)


async def test_change_visibility_to_zero_returns_the_message(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    await queue.send("again")
    [first] = await queue.receive()
    assert await queue.receive() == []
    await queue.change_visibility(first.receipt_handle, 0)
    [second] = await queue.receive()
    assert second.message_id == first.message_id
    assert second.receive_count == 2
    assert second.receipt_handle != first.receipt_handle


async def test_visibility_timeout_expiry_returns_the_message(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders", visibility_timeout=1)
    await queue.send("slow")
    [first] = await queue.receive()
    await harness.elapse(1.2)
    [second] = await queue.receive()
    assert second.message_id == first.message_id
    assert second.receive_count == 2


async def test_attributes_are_set_and_read_under_their_aws_names(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders", visibility_timeout=45, delay_seconds=2)
    attributes = await queue.get_attributes()
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["DelaySeconds"] == "2"
    assert attributes["QueueArn"] == queue.arn
    await queue.set_attributes(visibility_timeout=60)
    assert (await queue.get_attributes())["VisibilityTimeout"] == "60"


async def test_a_bad_attribute_is_refused_before_anything_changes(harness: Harness) -> None:
    bus = harness.bus
    with pytest.raises(EventBusError) as caught:
        await bus.create_queue("orders", visibility_timeout=50_000)
    assert caught.value.code == "InvalidAttributeValue"
    assert "VisibilityTimeout" in caught.value.message
    assert await bus.list_queues() == []
    queue = await bus.create_queue("orders", visibility_timeout=40)
    with pytest.raises(EventBusError) as caught:
        await queue.set_attributes(delay_seconds=901)
    assert caught.value.code == "InvalidAttributeValue"
    assert (await queue.get_attributes())["DelaySeconds"] == "0"


async def test_queues_are_found_by_name_url_and_arn(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    for reference in (queue.name, queue.url, queue.arn):
        found = await bus.get_queue(reference)
        assert (found.name, found.arn, found.url) == (queue.name, queue.arn, queue.url)
    with pytest.raises(EventBusError) as caught:
        await bus.get_queue("missing")
    assert caught.value.code == "QueueDoesNotExist"


async def test_list_queues_filters_by_prefix_and_sorts(harness: Harness) -> None:
    bus = harness.bus
    for name in ("b-orders", "a-orders", "c-other"):
        await bus.create_queue(name)
    assert [q.name for q in await bus.list_queues()] == ["a-orders", "b-orders", "c-other"]
    assert [q.name for q in await bus.list_queues("c-")] == ["c-other"]


async def test_a_deleted_queue_is_gone(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    await queue.delete_queue()
    with pytest.raises(EventBusError) as caught:
        await bus.get_queue("orders")
    assert caught.value.code == "QueueDoesNotExist"


async def test_batches_report_each_entry(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    sent = await queue.send_batch(["a", SendBatchEntry("named", "b", message_attributes={"n": 1})])
    assert sorted(entry.id for entry in sent.successful) == ["0", "named"]
    assert sent.failed == []
    received = await queue.receive(max_messages=10)
    assert sorted(m.body for m in received) == ["a", "b"]
    deleted = await queue.delete_batch([m.receipt_handle for m in received])
    assert sorted(deleted.successful) == ["0", "1"]
    assert (await queue.statistics()).total == 0


async def test_a_batch_of_eleven_is_refused_whole(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    with pytest.raises(EventBusError) as caught:
        await queue.send_batch([str(n) for n in range(11)])
    assert caught.value.code == "TooManyEntriesInBatchRequest"
    assert (await queue.statistics()).total == 0


async def test_a_malformed_receipt_handle_is_refused(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    with pytest.raises(EventBusError) as caught:
        await queue.delete("not-a-receipt-handle")
    assert caught.value.code == "ReceiptHandleIsInvalid"


async def test_a_bad_message_attribute_is_refused_before_sending(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    with pytest.raises(EventBusError) as caught:
        await queue.send("x", message_attributes={"AWS.reserved": "no"})
    assert caught.value.code == "InvalidParameterValue"
    assert (await queue.statistics()).total == 0


async def test_too_many_receives_move_the_message_to_the_dead_letter_queue(
    harness: Harness,
) -> None:
    bus = harness.bus
    dlq = await bus.create_queue("orders-dlq")
    queue = await bus.create_queue(
        "orders",
        redrive_policy=RedrivePolicy(dead_letter_queue="orders-dlq", max_receive_count=1),
    )
    await queue.send("poison")
    [first] = await queue.receive()
    await queue.change_visibility(first.receipt_handle, 0)
    assert await queue.receive() == []  # the second receive moves it instead
    [moved] = await dlq.receive()
    assert moved.body == "poison"
    assert moved.message_id == first.message_id


async def test_a_redrive_policy_naming_a_missing_queue_is_refused(harness: Harness) -> None:
    with pytest.raises(EventBusError) as caught:
        await harness.bus.create_queue(
            "orders", redrive_policy=RedrivePolicy(dead_letter_queue="nope", max_receive_count=3)
        )
    assert caught.value.code == "InvalidParameterValue"


async def test_fifo_queues_deduplicate_and_keep_group_order(harness: Harness) -> None:
    queue = await harness.bus.create_queue(
        "orders.fifo", fifo_queue=True, content_based_deduplication=True
    )
    await queue.send("a", message_group_id="g")
    await queue.send("b", message_group_id="g")
    await queue.send("a", message_group_id="g")  # accepted, not delivered
    received = await queue.receive(max_messages=10)
    assert [m.body for m in received] == ["a", "b"]
    assert received[0].attributes["MessageGroupId"] == "g"


async def test_fifo_sends_are_numbered(harness: Harness) -> None:
    harness.moto_departs("SendMessage on a FIFO queue answers without a SequenceNumber")
    queue = await harness.bus.create_queue(
        "orders.fifo", fifo_queue=True, content_based_deduplication=True
    )
    first = await queue.send("a", message_group_id="g")
    second = await queue.send("b", message_group_id="g")
    assert first.sequence_number is not None
    assert second.sequence_number is not None
    assert int(second.sequence_number) > int(first.sequence_number)


async def test_purge_empties_the_queue(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    await queue.send_batch(["a", "b"])
    await queue.purge()
    assert (await queue.statistics()).total == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_messages": 11}, "MaxNumberOfMessages"),
        ({"max_messages": 0}, "MaxNumberOfMessages"),
        ({"wait_time_seconds": 21}, "WaitTimeSeconds"),
        ({"visibility_timeout": 43_201}, "VisibilityTimeout"),
    ],
)
async def test_receive_arguments_out_of_range_are_refused(
    harness: Harness, options: dict[str, int], field: str
) -> None:
    queue = await harness.bus.create_queue("orders")
    await queue.send("stays")
    with pytest.raises(EventBusError) as caught:
        await queue.receive(**options)
    assert caught.value.code == "InvalidParameterValue"
    assert field in caught.value.message
    assert (await queue.statistics()).visible == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "MissingParameter"), ("bad \x00 character", "InvalidMessageContents")],
)
async def test_a_bad_body_is_refused_before_sending(harness: Harness, body: str, code: str) -> None:
    queue = await harness.bus.create_queue("orders")
    with pytest.raises(EventBusError) as caught:
        await queue.send(body)
    assert caught.value.code == code
    assert (await queue.statistics()).total == 0


async def test_a_fractional_delay_is_refused(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    with pytest.raises(EventBusError) as caught:
        await queue.send("x", delay_seconds=1.5)  # type: ignore[arg-type]
    assert caught.value.code == "InvalidParameterValue"
    assert (await queue.statistics()).total == 0


async def test_a_redrive_allow_policy_is_kept(harness: Harness) -> None:
    harness.moto_departs("GetQueueAttributes(All) leaves RedriveAllowPolicy out")
    bus = harness.bus
    await bus.create_queue("orders")
    dlq = await bus.create_queue(
        "orders-dlq",
        redrive_allow_policy=RedriveAllowPolicy(
            redrive_permission="byQueue", source_queues=("orders",)
        ),
    )
    policy = json.loads((await dlq.get_attributes())["RedriveAllowPolicy"])
    assert policy["redrivePermission"] == "byQueue"
    assert policy["sourceQueueArns"] == [(await bus.get_queue("orders")).arn]
