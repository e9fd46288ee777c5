"""Create-or-get, queue-type, high-throughput, SSE and subscription attributes as AWS
answers them, on both backends.

The AWS behaviour each case follows is recorded in LocalStack's AWS-validated
snapshots (tests/aws/services/sqs/test_sqs.snapshot.json and
tests/aws/services/sns/test_sns.snapshot.json): the test named in each docstring.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import anyio
import pytest

from eventbus import EventBusError, LambdaContext, RedrivePolicy

from .conftest import Harness


async def refused(call: Awaitable[object]) -> EventBusError:
    with pytest.raises(EventBusError) as caught:
        await call
    return caught.value


# ------------------------------------------------------------------ create-or-get


async def test_create_queue_without_attributes_returns_the_existing_queue(
    harness: Harness,
) -> None:
    """SQS compares only the attributes a CreateQueue gives
    (test_create_queue_with_different_attributes_raises_exception)."""
    bus = harness.bus
    queue = await bus.create_queue("orders", visibility_timeout=45, delay_seconds=1)

    assert await bus.create_queue("orders") == queue
    assert await bus.create_queue("orders", delay_seconds=1) == queue
    error = await refused(bus.create_queue("orders", delay_seconds=2))

    assert error.code == "QueueAlreadyExists"
    if harness.kind == "local":  # moto's text is "The specified queue already exists."
        assert error.message == (
            "A queue already exists with the same name and a different value for attribute "
            "DelaySeconds"
        )
    assert (await queue.get_attributes())["DelaySeconds"] == "1"


async def test_create_queue_compares_with_the_attributes_as_set_since(harness: Harness) -> None:
    """After SetQueueAttributes, a create with the new value returns the queue and one
    with the old value is refused (test_create_queue_with_different_attributes_raises_exception)."""
    bus = harness.bus
    queue = await bus.create_queue("orders", delay_seconds=1)
    await queue.set_attributes(delay_seconds=2)

    assert await bus.create_queue("orders", delay_seconds=2) == queue
    error = await refused(bus.create_queue("orders", delay_seconds=1))
    assert error.code == "QueueAlreadyExists"


async def test_create_fifo_queue_with_different_content_based_deduplication_is_refused(
    harness: Harness,
) -> None:
    """test_create_fifo_queue_with_different_attributes_raises_error."""
    bus = harness.bus
    queue = await bus.create_queue("orders.fifo", fifo_queue=True, content_based_deduplication=True)
    assert await bus.create_queue("orders.fifo", fifo_queue=True) == queue

    error = await refused(
        bus.create_queue("orders.fifo", fifo_queue=True, content_based_deduplication=False)
    )

    assert error.code == "QueueAlreadyExists"
    if harness.kind == "local":  # moto's text is "The specified queue already exists."
        assert error.message.endswith("different value for attribute ContentBasedDeduplication")


async def test_create_topic_without_attributes_returns_the_existing_topic(
    harness: Harness,
) -> None:
    """SNS compares only the attributes a CreateTopic gives; FifoTopic false matches a
    standard topic (test_create_topic_different_attrs)."""
    bus = harness.bus
    topic = await bus.create_topic("events", display_name="Value1")

    assert await bus.create_topic("events") == topic
    assert await bus.create_topic("events", display_name="Value1") == topic
    assert await bus.create_topic("events", fifo_topic=False) == topic


async def test_create_topic_with_a_different_attribute_given_is_refused(
    harness: Harness,
) -> None:
    """test_create_topic_different_attrs: AWS's text; the topic keeps its attributes."""
    harness.moto_departs("moto's CreateTopic returns the topic whatever the attributes")
    bus = harness.bus
    topic = await bus.create_topic("events", display_name="Value1")

    error = await refused(bus.create_topic("events", display_name="Value2"))

    assert error.code == "InvalidParameter"
    assert error.message == (
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    )
    assert (await topic.get_attributes())["DisplayName"] == "Value1"


async def test_subscribe_again_without_attributes_returns_the_existing_subscription(
    harness: Harness,
) -> None:
    """Subscribe again with no attributes, the same ones or a default one returns the
    subscription; a different one is refused (test_subscribe_idempotency)."""
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(queue, raw_message_delivery=True)

    assert await topic.subscribe(queue) == subscription
    assert await topic.subscribe(queue, raw_message_delivery=True) == subscription
    again = await topic.subscribe(
        queue, raw_message_delivery=True, filter_policy_scope="MessageAttributes"
    )
    assert again == subscription
    assert again.raw_message_delivery


async def test_subscribe_again_with_a_different_attribute_given_is_refused(
    harness: Harness,
) -> None:
    """test_subscribe_idempotency: AWS's text; the subscription stays as it was."""
    harness.moto_departs("moto's Subscribe returns the subscription whatever the attributes")
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(queue, raw_message_delivery=True)

    error = await refused(
        topic.subscribe(queue, raw_message_delivery=False, filter_policy_scope="MessageBody")
    )

    assert error.code == "InvalidParameter"
    assert error.message == (
        "Invalid parameter: Attributes Reason: Subscription already exists with different "
        "attributes"
    )
    assert [s.arn for s in await topic.subscriptions()] == [subscription.arn]
    assert (await subscription.get_attributes())["RawMessageDelivery"] == "true"


# ----------------------------------------------------------- queue-type attributes


async def test_fifo_queue_false_on_a_standard_queue_is_an_unknown_attribute(
    harness: Harness,
) -> None:
    """A standard queue has no FifoQueue attribute, not even false, on create and on
    set (test_create_standard_queue_with_fifo_attribute_raises_error)."""
    bus = harness.bus
    error = await refused(bus.create_queue("orders", fifo_queue=False))
    assert (error.code, error.message) == ("InvalidAttributeName", "Unknown Attribute FifoQueue.")
    assert await bus.list_queues() == []

    queue = await bus.create_queue("orders")
    error = await refused(queue.set_attributes(fifo_queue=False))
    assert (error.code, error.message) == ("InvalidAttributeName", "Unknown Attribute FifoQueue.")


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            {"content_based_deduplication": False},
            "Unknown Attribute ContentBasedDeduplication.",
        ),
        (
            {"deduplication_scope": "queue"},
            "You can specify the DeduplicationScope only when FifoQueue is set to true.",
        ),
        (
            {"fifo_throughput_limit": "perQueue"},
            "You can specify the FifoThroughputLimit only when FifoQueue is set to true.",
        ),
    ],
)
async def test_fifo_only_attributes_on_a_standard_queue_get_aws_texts(
    harness: Harness, attributes: dict[str, Any], message: str
) -> None:
    """test_create_standard_queue_with_fifo_attribute_raises_error, on create and set."""
    bus = harness.bus
    error = await refused(bus.create_queue("orders", **attributes))
    assert (error.code, error.message) == ("InvalidAttributeName", message)

    queue = await bus.create_queue("orders")
    error = await refused(queue.set_attributes(**attributes))
    assert (error.code, error.message) == ("InvalidAttributeName", message)


# ------------------------------------------------------ FIFO high throughput, SSE


async def test_high_throughput_fifo_attributes_are_kept(harness: Harness) -> None:
    """DeduplicationScope messageGroup with FifoThroughputLimit perMessageGroupId
    (test_fifo_high_throughput_ordering); messageGroup with perQueue is allowed too
    (test_sqs_fifo_message_group_scope_no_throughput_setting)."""
    bus = harness.bus
    queue = await bus.create_queue(
        "fast.fifo",
        fifo_queue=True,
        deduplication_scope="messageGroup",
        fifo_throughput_limit="perMessageGroupId",
    )
    attributes = await queue.get_attributes()
    assert attributes["DeduplicationScope"] == "messageGroup"
    assert attributes["FifoThroughputLimit"] == "perMessageGroupId"

    await queue.set_attributes(fifo_throughput_limit="perQueue")
    assert (await queue.get_attributes())["FifoThroughputLimit"] == "perQueue"


async def test_per_message_group_throughput_needs_message_group_deduplication(
    harness: Harness,
) -> None:
    """The SQS API reference: "The perMessageGroupId value is allowed only when the
    value for DeduplicationScope is messageGroup", on create and on set (then checked
    against the scope the queue has)."""
    bus = harness.bus
    error = await refused(
        bus.create_queue(
            "fast.fifo",
            fifo_queue=True,
            deduplication_scope="queue",
            fifo_throughput_limit="perMessageGroupId",
        )
    )
    assert error.code == "InvalidAttributeValue"
    assert "perMessageGroupId value is allowed only when" in error.message
    assert await bus.list_queues() == []

    queue = await bus.create_queue("fast.fifo", fifo_queue=True)
    error = await refused(queue.set_attributes(fifo_throughput_limit="perMessageGroupId"))
    assert error.code == "InvalidAttributeValue"
    assert (await queue.get_attributes())["FifoThroughputLimit"] == "perQueue"


async def test_sse_sqs_is_on_by_default_and_kms_attributes_are_absent(harness: Harness) -> None:
    """test_set_queue_attributes_default_values: SqsManagedSseEnabled true, no KMS
    attributes."""
    queue = await harness.bus.create_queue("orders")
    attributes = await queue.get_attributes()

    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "KmsMasterKeyId" not in attributes
    assert "KmsDataKeyReusePeriodSeconds" not in attributes


async def test_a_kms_key_replaces_sse_sqs_and_is_returned(harness: Harness) -> None:
    """test_set_queue_attributes_default_values: a KMS key turns SSE-SQS off; an empty
    key removes it again (and SSE-SQS stays off)."""
    harness.moto_departs("moto leaves SqsManagedSseEnabled as it was when a KMS key is set")
    queue = await harness.bus.create_queue("orders")
    await queue.set_attributes(
        kms_master_key_id="testKeyId", kms_data_key_reuse_period_seconds=6000
    )
    attributes = await queue.get_attributes()
    assert attributes["KmsMasterKeyId"] == "testKeyId"
    assert attributes["KmsDataKeyReusePeriodSeconds"] == "6000"
    assert attributes["SqsManagedSseEnabled"] == "false"

    await queue.set_attributes(kms_master_key_id="")
    attributes = await queue.get_attributes()
    assert "KmsMasterKeyId" not in attributes
    assert attributes["SqsManagedSseEnabled"] == "false"


async def test_kms_and_sse_sqs_together_are_refused(harness: Harness) -> None:
    """test_sse_kms_and_sqs_are_mutually_exclusive: AWS's text, nothing changes."""
    queue = await harness.bus.create_queue("orders")
    error = await refused(
        queue.set_attributes(kms_master_key_id="testKeyId", sqs_managed_sse_enabled=True)
    )

    assert error.code == "InvalidAttributeName"
    assert error.message == (
        "You can use one type of server-side encryption (SSE) at one time. You can either "
        "enable KMS SSE or SQS SSE."
    )
    assert "KmsMasterKeyId" not in await queue.get_attributes()


@pytest.mark.parametrize("seconds", [59, 86_401])
async def test_kms_data_key_reuse_period_outside_60_to_86400_is_refused(
    harness: Harness, seconds: int
) -> None:
    error = await refused(
        harness.bus.create_queue("orders", kms_data_key_reuse_period_seconds=seconds)
    )

    assert error.code == "InvalidAttributeValue"
    assert "KmsDataKeyReusePeriodSeconds" in error.message
    assert "from 60 to 86400" in error.message


async def test_fifo_throughput_scope_is_kept_on_a_fifo_topic(harness: Harness) -> None:
    """SNS FifoThroughputScope (SetTopicAttributes in the SNS API reference)."""
    harness.moto_departs("moto does not return FifoThroughputScope")
    bus = harness.bus
    topic = await bus.create_topic(
        "events.fifo", fifo_topic=True, fifo_throughput_scope="MessageGroup"
    )

    assert (await topic.get_attributes())["FifoThroughputScope"] == "MessageGroup"
    again = await bus.create_topic(
        "events.fifo", fifo_topic=True, fifo_throughput_scope="MessageGroup"
    )
    assert again == topic


async def test_fifo_throughput_scope_on_a_standard_topic_is_refused(harness: Harness) -> None:
    bus = harness.bus
    error = await refused(bus.create_topic("events", fifo_throughput_scope="MessageGroup"))

    assert error.code == "InvalidParameter"
    assert "FifoThroughputScope" in error.message
    assert await bus.list_topics() == []


async def test_a_topic_kms_key_is_returned(harness: Harness) -> None:
    topic = await harness.bus.create_topic("events", kms_master_key_id="alias/aws/sns")

    assert (await topic.get_attributes())["KmsMasterKeyId"] == "alias/aws/sns"


# --------------------------------------------------------------- FIFO topics, DLQs


async def test_a_standard_queue_subscription_to_a_fifo_topic_takes_a_standard_dlq(
    harness: Harness,
) -> None:
    """test_validations_for_fifo: the FIFO-DLQ rule is for FIFO subscriptions only."""
    bus = harness.bus
    queue = await bus.create_queue("orders")
    dlq = await bus.create_queue("orders-dlq")
    topic = await bus.create_topic("events.fifo", fifo_topic=True)

    subscription = await topic.subscribe(queue, dead_letter_queue=dlq)
    assert subscription.dead_letter_queue_arn == dlq.arn
    await subscription.set_dead_letter_queue(None)
    await subscription.set_dead_letter_queue(dlq)
    assert subscription.dead_letter_queue_arn == dlq.arn


async def test_a_fifo_subscription_to_a_fifo_topic_needs_a_fifo_dlq(harness: Harness) -> None:
    """test_validations_for_fifo: AWS's text."""
    bus = harness.bus
    queue = await bus.create_queue("orders.fifo", fifo_queue=True)
    dlq = await bus.create_queue("orders-dlq")
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    subscription = await topic.subscribe(queue)

    error = await refused(subscription.set_dead_letter_queue(dlq))

    assert error.code == "InvalidParameter"
    assert error.message == (
        "Invalid parameter: RedrivePolicy: must use a FIFO queue as DLQ for a FIFO "
        "Subscription to a FIFO Topic."
    )
    assert subscription.dead_letter_queue_arn is None
    error = await refused(topic.subscribe(queue, dead_letter_queue=dlq))
    assert error.message.endswith("a FIFO Subscription to a FIFO Topic.")


# ---------------------------------------------------------- subscription attributes


async def test_filter_policy_scope_is_listed_only_once_a_filter_policy_is_set(
    harness: Harness,
) -> None:
    """test_subscribe_attributes lists no FilterPolicyScope without a filter policy."""
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    subscription = await topic.subscribe(queue)
    assert "FilterPolicyScope" not in await subscription.get_attributes()

    await subscription.set_filter_policy({"kind": ["created"]})
    attributes = await subscription.get_attributes()

    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    assert json.loads(attributes["FilterPolicy"]) == {"kind": ["created"]}


# ------------------------------------------------------------ queues by reference


async def test_consume_takes_a_queue_by_name(harness: Harness) -> None:
    """consume, like every call that takes a queue, takes its name (URL, ARN)."""
    bus = harness.bus
    queue = await bus.create_queue("orders", visibility_timeout=5)
    await queue.send("hello")
    bodies: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        bodies.extend(record["body"] for record in event["Records"])

    async with bus.consume("orders", handler) as consumer:
        assert consumer.queue == queue
        with anyio.fail_after(30):
            await bus.run_until_idle()

    assert bodies == ["hello"]


async def test_consume_checks_the_visibility_of_a_queue_named_when_entered(
    harness: Harness,
) -> None:
    """The function timeout may not exceed the visibility timeout of a queue given by
    name either; the check comes when the consumer is entered."""
    bus = harness.bus
    await bus.create_queue("orders", visibility_timeout=2)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        return None

    consumer = bus.consume("orders", handler, function_timeout=3)
    with pytest.raises(EventBusError) as caught:
        async with consumer:
            pass
    assert caught.value.code == "InvalidParameterValueException"


async def test_a_redrive_policy_is_kept_when_not_given_and_removed_by_none(
    harness: Harness,
) -> None:
    """set_attributes leaves what it is not given alone; redrive_policy=None removes."""
    bus = harness.bus
    await bus.create_queue("orders-dlq")
    queue = await bus.create_queue(
        "orders", redrive_policy=RedrivePolicy(dead_letter_queue="orders-dlq", max_receive_count=3)
    )
    await queue.set_attributes(visibility_timeout=60)
    assert "RedrivePolicy" in await queue.get_attributes()

    await queue.set_attributes(redrive_policy=None)

    assert "RedrivePolicy" not in await queue.get_attributes()
