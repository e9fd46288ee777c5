"""Message attribute rules and texts, the same on the local backend and on the AWS backend.

The AWS backend checks attributes by the core's rules before calling AWS, so a bad
attribute gets the same error, with AWS's text, from both.
"""

from __future__ import annotations

import pytest

from eventbus import EventBusError, MessageAttributeValue

from .conftest import Harness


async def test_attribute_names_may_hold_letters_outside_ascii(harness: Harness) -> None:
    """AWS accepted ``attr.1øßä`` on SendMessage (LocalStack, AWS-validated)."""
    harness.moto_departs("moto refuses attribute names outside A-Z a-z 0-9 _ - .")
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    await queue.send("sent", message_attributes={"attr.1øßä": "Valida"})
    await topic.publish("published", message_attributes={"attr.1øßä": "Valida"})
    received = await queue.receive(max_messages=10)
    assert sorted(m.body for m in received) == ["published", "sent"]
    for message in received:
        assert message.message_attributes["attr.1øßä"].string_value == "Valida"


async def test_custom_type_labels_may_hold_any_characters(harness: Harness) -> None:
    """AWS accepted the type ``String.  prefixed.`` on Publish (LocalStack, AWS-validated)."""
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    value = MessageAttributeValue("String.  prefixed.", string_value="prefixed-1")
    await topic.publish("x", message_attributes={"attr1": value})
    [message] = await queue.receive()
    assert message.message_attributes["attr1"].data_type == "String.  prefixed."


@pytest.mark.parametrize(
    ("attributes", "text"),
    [
        (
            {"attr1": MessageAttributeValue("String.", string_value="prefixed-1")},
            "The message attribute 'attr1' has an invalid message attribute type, the set of "
            "supported type prefixes is Binary, Number, and String.",
        ),
        (
            {"attr1": MessageAttributeValue("String", string_value="")},
            "The message attribute 'attr1' must contain non-empty message attribute value for "
            "message attribute type 'String'.",
        ),
        (
            {"a..bc": "123"},
            "Message attribute name can not have successive '.' character.",
        ),
    ],
    ids=["empty-label", "empty-string", "double-dot"],
)
async def test_publish_refuses_bad_attributes_with_sns_texts(
    harness: Harness, attributes: dict[str, object], text: str
) -> None:
    """SNS's texts (not SQS's), recorded from AWS in LocalStack's snapshots; nothing sent."""
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    with pytest.raises(EventBusError) as caught:
        await topic.publish("test message", message_attributes=attributes)
    assert caught.value.code == "ParameterValueInvalid"
    assert caught.value.message.startswith(text)
    assert await queue.receive() == []


async def test_send_refuses_an_empty_string_attribute_with_the_sqs_text(harness: Harness) -> None:
    """SQS's text, recorded from AWS (LocalStack, AWS-validated); nothing sent."""
    queue = await harness.bus.create_queue("orders")
    with pytest.raises(EventBusError) as caught:
        await queue.send("test", message_attributes={"ErrorDetails": ""})
    assert caught.value.code == "InvalidParameterValue"
    assert caught.value.message == (
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
    )
    assert await queue.receive() == []
