"""Topic and subscription calls behave the same on the local backend and on SNS (moto)."""

from __future__ import annotations

import hashlib
import json

import pytest

from eventbus import EventBusError

from .conftest import Harness


async def test_raw_delivery_carries_the_message_and_its_attributes(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("order-events")
    await topic.subscribe(queue, raw_message_delivery=True)
    published = await topic.publish('{"id": 1}', message_attributes={"kind": "created"})
    [message] = await queue.receive(max_messages=10)
    assert message.body == '{"id": 1}'
    assert message.message_attributes["kind"].string_value == "created"
    assert published.message_id


async def test_envelope_delivery_wraps_the_message(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("order-events")
    await topic.subscribe(queue)
    published = await topic.publish(
        "hello", subject="greeting", message_attributes={"kind": "created"}
    )
    [message] = await queue.receive(max_messages=10)
    envelope = json.loads(message.body)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published.message_id
    assert envelope["TopicArn"] == topic.arn
    assert envelope["Message"] == "hello"
    assert envelope["Subject"] == "greeting"
    assert envelope["MessageAttributes"]["kind"] == {"Type": "String", "Value": "created"}
    assert message.message_attributes == {}


async def test_a_publish_fans_out_to_every_subscribed_queue(harness: Harness) -> None:
    bus = harness.bus
    first = await bus.create_queue("first")
    second = await bus.create_queue("second")
    topic = await bus.create_topic("events")
    await topic.subscribe(first, raw_message_delivery=True)
    await topic.subscribe(second.arn, raw_message_delivery=True)
    await topic.publish("both")
    assert [m.body for m in await first.receive()] == ["both"]
    assert [m.body for m in await second.receive()] == ["both"]


async def test_filter_policies_pick_the_messages(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(
        queue, raw_message_delivery=True, filter_policy={"kind": ["created"]}
    )
    assert subscription.filter_policy == {"kind": ["created"]}
    await topic.publish("yes", message_attributes={"kind": "created"})
    await topic.publish("no", message_attributes={"kind": "deleted"})
    await topic.publish("no attributes")
    await subscription.set_filter_policy({"kind": ["deleted"]})
    await topic.publish("now yes", message_attributes={"kind": "deleted"})
    received = await queue.receive(max_messages=10)
    assert sorted(m.body for m in received) == ["now yes", "yes"]


async def test_body_filter_policies_read_the_json_body(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(
        queue,
        raw_message_delivery=True,
        filter_policy={"total": [{"numeric": [">", 100]}]},
        filter_policy_scope="MessageBody",
    )
    await topic.publish('{"total": 150}')
    await topic.publish('{"total": 50}')
    assert [m.body for m in await queue.receive(max_messages=10)] == ['{"total": 150}']


async def test_a_bad_filter_policy_is_refused_and_nothing_subscribes(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    with pytest.raises(EventBusError) as caught:
        await topic.subscribe(queue, filter_policy={"kind": [{"prefix": 1}]})
    assert caught.value.code == "InvalidParameter"
    assert await topic.subscriptions() == []


async def test_subscription_attributes_and_unsubscribe(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(queue, raw_message_delivery=True)
    attributes = await subscription.get_attributes()
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["Endpoint"] == queue.arn
    assert attributes["TopicArn"] == topic.arn
    [listed] = await topic.subscriptions()
    assert listed.arn == subscription.arn
    assert listed.endpoint == queue.arn
    await subscription.set_raw_message_delivery(False)
    assert not subscription.raw_message_delivery
    await subscription.unsubscribe()
    await subscription.unsubscribe()  # again: no error
    await topic.publish("nobody listens")
    assert await queue.receive() == []


async def test_topics_are_found_by_name_and_arn(harness: Harness) -> None:
    bus = harness.bus
    topic = await bus.create_topic("events")
    assert (await bus.get_topic("events")).arn == topic.arn
    assert (await bus.get_topic(topic.arn)).name == "events"
    assert [t.name for t in await bus.list_topics()] == ["events"]
    with pytest.raises(EventBusError) as caught:
        await bus.get_topic("missing")
    assert caught.value.code == "NotFound"
    await topic.delete()
    assert await bus.list_topics() == []


async def test_a_bad_message_attribute_is_refused_before_publishing(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    with pytest.raises(EventBusError) as caught:
        await topic.publish("x", message_attributes={"n": MessageAttributeNumber("not a number")})
    assert caught.value.code == "ParameterValueInvalid"
    assert await queue.receive() == []


def MessageAttributeNumber(text: str) -> object:
    from eventbus import MessageAttributeValue

    return MessageAttributeValue("Number", string_value=text)


async def test_fifo_topics_deliver_to_fifo_queues_in_group_order(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders.fifo", fifo_queue=True)
    topic = await bus.create_topic("events.fifo", fifo_topic=True, content_based_deduplication=True)
    await topic.subscribe(queue, raw_message_delivery=True)
    for body in ("1", "2", "3"):
        await topic.publish(body, message_group_id="g", message_deduplication_id=f"d{body}")
    received = await queue.receive(max_messages=10)
    assert [m.body for m in received] == ["1", "2", "3"]
    assert {m.attributes["MessageGroupId"] for m in received} == {"g"}


async def test_a_fifo_topic_passes_its_content_based_deduplication_id_on(
    harness: Harness,
) -> None:
    harness.moto_departs("moto does not pass the topic's content-based id to the queue")
    bus = harness.bus
    queue = await bus.create_queue("orders.fifo", fifo_queue=True)
    topic = await bus.create_topic("events.fifo", fifo_topic=True, content_based_deduplication=True)
    await topic.subscribe(queue, raw_message_delivery=True)
    await topic.publish("once", message_group_id="g")
    [message] = await queue.receive(max_messages=10)
    expected = hashlib.sha256(b"once").hexdigest()
    assert message.attributes["MessageDeduplicationId"] == expected


async def test_a_fifo_queue_cannot_subscribe_to_a_standard_topic(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders.fifo", fifo_queue=True)
    topic = await bus.create_topic("events")
    with pytest.raises(EventBusError) as caught:
        await topic.subscribe(queue)
    assert caught.value.code == "InvalidParameter"


async def test_an_empty_message_is_refused_before_publishing(harness: Harness) -> None:
    topic = await harness.bus.create_topic("events")
    with pytest.raises(EventBusError) as caught:
        await topic.publish("")
    assert caught.value.code == "InvalidParameter"


async def test_deleting_a_missing_topic_is_no_error(harness: Harness) -> None:
    await harness.bus.delete_topic("never-made")
    assert await harness.bus.list_topics() == []


async def test_the_filter_scope_moves_to_the_body_with_a_nested_policy(
    harness: Harness,
) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(
        queue, raw_message_delivery=True, filter_policy={"kind": ["created"]}
    )
    await subscription.set_filter_policy({"order": {"kind": ["created"]}}, scope="MessageBody")
    assert subscription.filter_policy_scope == "MessageBody"
    await topic.publish('{"order": {"kind": "created"}}')
    await topic.publish('{"order": {"kind": "deleted"}}', message_attributes={"kind": "created"})
    received = await queue.receive(max_messages=10)
    assert [m.body for m in received] == ['{"order": {"kind": "created"}}']


async def test_the_filter_scope_moves_back_to_the_attributes(harness: Harness) -> None:
    harness.moto_departs(
        "moto keeps matching by the scope the policy was set under, not the new one"
    )
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(
        queue,
        raw_message_delivery=True,
        filter_policy={"order": {"kind": ["created"]}},
        filter_policy_scope="MessageBody",
    )
    await subscription.set_filter_policy({"kind": ["deleted"]}, scope="MessageAttributes")
    assert subscription.filter_policy == {"kind": ["deleted"]}
    assert subscription.filter_policy_scope == "MessageAttributes"
    await topic.publish("by attribute", message_attributes={"kind": "deleted"})
    await topic.publish('{"order": {"kind": "created"}}')
    assert [m.body for m in await queue.receive(max_messages=10)] == ["by attribute"]


async def test_a_subscription_dead_letter_queue_is_set_and_removed(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    dlq = await bus.create_queue("orders-sub-dlq")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(queue, dead_letter_queue=dlq)
    assert subscription.dead_letter_queue_arn == dlq.arn
    redrive = json.loads((await subscription.get_attributes())["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq.arn}
    await subscription.set_dead_letter_queue(None)
    assert subscription.dead_letter_queue_arn is None
    fifo_dlq = await bus.create_queue("other.fifo", fifo_queue=True)
    with pytest.raises(EventBusError) as caught:
        await subscription.set_dead_letter_queue(fifo_dlq)
    assert caught.value.code == "InvalidParameter"
    assert subscription.dead_letter_queue_arn is None
