"""The Bus: queues and topics by name, URL and ARN, attributes, publish, subscriptions."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from eventbus import (
    Bus,
    EventBusError,
    MessageAttributeValue,
    Queue,
    RedrivePolicy,
    VirtualClock,
)

REGION = "us-east-1"
ACCOUNT = "000000000000"

DEFAULT_ATTRIBUTES = {
    "VisibilityTimeout": "30",
    "DelaySeconds": "0",
    "MessageRetentionPeriod": "345600",
    "MaximumMessageSize": "1048576",
    "ReceiveMessageWaitTimeSeconds": "0",
}

QUEUE_ATTRIBUTE_KEYS = {
    *DEFAULT_ATTRIBUTES,
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "SqsManagedSseEnabled",
}

# keyword, AWS name, lowest allowed, highest allowed
INT_ATTRIBUTES = [
    ("visibility_timeout", "VisibilityTimeout", 0, 43_200),
    ("delay_seconds", "DelaySeconds", 0, 900),
    ("message_retention_period", "MessageRetentionPeriod", 60, 1_209_600),
    ("maximum_message_size", "MaximumMessageSize", 1_024, 1_048_576),
    ("receive_message_wait_time_seconds", "ReceiveMessageWaitTimeSeconds", 0, 20),
]


async def names(bus: Bus) -> list[str]:
    """The names of every queue of the bus."""
    return [q.name for q in await bus.list_queues()]


async def refused(call: Any) -> EventBusError:
    """Await a call that must raise EventBusError and return the error."""
    with pytest.raises(EventBusError) as caught:
        await call
    return caught.value


# ------------------------------------------------------------------ queues


async def test_create_queue_gives_name_url_and_arn(bus: Bus) -> None:
    """A created queue's handle carries its name, AWS-format URL and ARN."""
    queue = await bus.create_queue("orders")

    assert queue.name == "orders"
    assert queue.url == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders"
    assert queue.arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"


async def test_region_appears_in_url_and_arn(clock: VirtualClock) -> None:
    """A bus in another region puts that region in queue URLs and ARNs and topic ARNs."""
    async with Bus(clock=clock, region="eu-west-1") as bus:
        queue = await bus.create_queue("q")
        topic = await bus.create_topic("t")

    assert queue.url == f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/q"
    assert queue.arn == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:q"
    assert topic.arn == f"arn:aws:sns:eu-west-1:{ACCOUNT}:t"


async def test_get_queue_by_name_url_and_arn(bus: Bus) -> None:
    """get_queue finds the same queue by its name, its URL and its ARN."""
    queue = await bus.create_queue("orders")

    by_name = await bus.get_queue("orders")
    by_url = await bus.get_queue(queue.url)
    by_arn = await bus.get_queue(queue.arn)

    assert by_name == by_url == by_arn == queue
    assert by_arn.url == queue.url


async def test_handles_share_the_queue(bus: Bus) -> None:
    """A message sent through one handle is received through another of the same queue."""
    queue = await bus.create_queue("orders")
    other = await bus.get_queue(queue.arn)

    await queue.send("shared")
    [message] = await other.receive()

    assert message.body == "shared"


@pytest.mark.parametrize(
    "reference",
    [
        "missing",
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/missing",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:missing",
    ],
)
async def test_get_missing_queue_raises_queue_does_not_exist(bus: Bus, reference: str) -> None:
    """get_queue of an unknown name, URL or ARN raises QueueDoesNotExist."""
    await bus.create_queue("present")

    error = await refused(bus.get_queue(reference))

    assert error.code == "QueueDoesNotExist"
    assert "does not exist" in error.message
    assert await names(bus) == ["present"]


async def test_queue_names_are_case_sensitive(bus: Bus) -> None:
    """Orders and orders are two different queues."""
    upper = await bus.create_queue("Orders")
    lower = await bus.create_queue("orders")

    assert upper != lower
    assert await names(bus) == ["Orders", "orders"]
    error = await refused(bus.get_queue("ORDERS"))
    assert error.code == "QueueDoesNotExist"


async def test_list_queues_sorted_and_by_prefix(bus: Bus) -> None:
    """list_queues returns every queue by name; a prefix narrows the list."""
    for name in ["beta", "alpha-2", "alpha-1"]:
        await bus.create_queue(name)

    assert await names(bus) == ["alpha-1", "alpha-2", "beta"]
    assert [q.name for q in await bus.list_queues("alpha")] == ["alpha-1", "alpha-2"]
    assert await bus.list_queues("gamma") == []


async def test_create_queue_is_idempotent_with_same_attributes(bus: Bus) -> None:
    """Creating an existing queue with the same attributes returns the same queue."""
    first = await bus.create_queue("q", visibility_timeout=45)
    await first.send("kept")

    again = await bus.create_queue("q", visibility_timeout=45)

    assert again == first
    assert (await again.statistics()).visible == 1


async def test_create_queue_with_other_attributes_is_refused(bus: Bus) -> None:
    """Creating an existing queue with a different attribute raises QueueAlreadyExists."""
    queue = await bus.create_queue("q", visibility_timeout=45)

    error = await refused(bus.create_queue("q", visibility_timeout=46))

    assert error.code == "QueueAlreadyExists"
    assert "VisibilityTimeout" in error.message
    assert (await queue.get_attributes())["VisibilityTimeout"] == "45"


@pytest.mark.parametrize("name", ["", "has space", "x" * 81, "dot.", "q.fifo", "ü"])
async def test_bad_queue_name_is_refused(bus: Bus, name: str) -> None:
    """A name outside 1-80 of A-Za-z0-9-_ (or with .fifo) raises InvalidParameterValue."""
    error = await refused(bus.create_queue(name))

    assert error.code == "InvalidParameterValue"
    assert await names(bus) == []


async def test_eighty_character_name_is_accepted(bus: Bus) -> None:
    """A name of exactly 80 allowed characters is accepted."""
    queue = await bus.create_queue("a-_9" * 20)

    assert len(queue.name) == 80


async def test_delete_queue_removes_it_and_its_messages(bus: Bus) -> None:
    """A deleted queue is gone from lookups and lists, and its handle raises."""
    queue = await bus.create_queue("q")
    await queue.send("lost")

    await bus.delete_queue("q")

    assert await names(bus) == []
    assert (await refused(bus.get_queue("q"))).code == "QueueDoesNotExist"
    assert (await refused(queue.send("x"))).code == "QueueDoesNotExist"
    assert (await refused(queue.statistics())).code == "QueueDoesNotExist"


@pytest.mark.parametrize("how", ["name", "url", "arn", "handle", "method"])
async def test_delete_queue_by_any_reference(bus: Bus, how: str) -> None:
    """delete_queue accepts a name, URL, ARN or handle; Queue.delete_queue works too."""
    queue = await bus.create_queue("q")
    await bus.create_queue("other")

    if how == "method":
        await queue.delete_queue()
    else:
        references: dict[str, Queue | str] = {
            "name": queue.name,
            "url": queue.url,
            "arn": queue.arn,
            "handle": queue,
        }
        await bus.delete_queue(references[how])

    assert await names(bus) == ["other"]


async def test_delete_missing_queue_raises(bus: Bus) -> None:
    """Deleting a queue that does not exist raises QueueDoesNotExist."""
    await bus.create_queue("other")

    error = await refused(bus.delete_queue("missing"))

    assert error.code == "QueueDoesNotExist"
    assert await names(bus) == ["other"]


async def test_recreate_within_sixty_seconds_is_refused(bus: Bus, clock: VirtualClock) -> None:
    """Re-creating a deleted queue's name before 60 s raises QueueDeletedRecently; after, works."""
    await bus.create_queue("q")
    await bus.delete_queue("q")
    await clock.advance(59)

    error = await refused(bus.create_queue("q"))

    assert error.code == "QueueDeletedRecently"
    assert await names(bus) == []
    await clock.advance(1)
    queue = await bus.create_queue("q")
    assert (await queue.statistics()).total == 0


# --------------------------------------------------------- queue attributes


async def test_get_attributes_keys_and_defaults(bus: Bus, clock: VirtualClock) -> None:
    """get_attributes returns every AWS attribute as a string, with AWS's defaults."""
    queue = await bus.create_queue("q")

    attributes = await queue.get_attributes()

    assert set(attributes) == QUEUE_ATTRIBUTE_KEYS
    assert all(isinstance(v, str) for v in attributes.values())
    assert {k: attributes[k] for k in DEFAULT_ATTRIBUTES} == DEFAULT_ATTRIBUTES
    assert attributes["QueueArn"] == queue.arn
    assert attributes["CreatedTimestamp"] == str(int(clock.now()))
    assert attributes["LastModifiedTimestamp"] == str(int(clock.now()))
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "RedrivePolicy" not in attributes


async def test_get_attributes_counts_messages(bus: Bus) -> None:
    """The ApproximateNumberOf* attributes count visible, in-flight and delayed messages."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    await queue.send("b")
    await queue.send("c", delay_seconds=10)
    await queue.receive()

    attributes = await queue.get_attributes()

    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


async def test_create_queue_with_every_int_attribute(bus: Bus) -> None:
    """Every integer attribute keyword is stored and reported under its AWS name."""
    queue = await bus.create_queue(
        "q",
        visibility_timeout=0,
        delay_seconds=900,
        message_retention_period=60,
        maximum_message_size=1_024,
        receive_message_wait_time_seconds=20,
    )

    attributes = await queue.get_attributes()

    assert attributes["VisibilityTimeout"] == "0"
    assert attributes["DelaySeconds"] == "900"
    assert attributes["MessageRetentionPeriod"] == "60"
    assert attributes["MaximumMessageSize"] == "1024"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "20"


def _given(keyword: str, value: object) -> dict[str, Any]:
    """One attribute keyword, typed for ``**`` into ``create_queue``."""
    return {keyword: value}


@pytest.mark.parametrize(("keyword", "aws", "low", "high"), INT_ATTRIBUTES)
@pytest.mark.parametrize("side", ["below", "above"])
async def test_int_attribute_out_of_range_is_refused(
    bus: Bus, keyword: str, aws: str, low: int, high: int, side: str
) -> None:
    """An integer attribute just outside its range raises InvalidAttributeValue naming it."""
    value = low - 1 if side == "below" else high + 1

    error = await refused(bus.create_queue("q", **_given(keyword, value)))

    assert error.code == "InvalidAttributeValue"
    assert aws in error.message
    assert str(low) in error.message
    assert str(high) in error.message
    assert await names(bus) == []


@pytest.mark.parametrize(("keyword", "aws", "low", "high"), INT_ATTRIBUTES)
async def test_int_attribute_bounds_are_accepted(
    bus: Bus, keyword: str, aws: str, low: int, high: int
) -> None:
    """Both ends of an integer attribute's range are accepted."""
    low_queue = await bus.create_queue("low", **_given(keyword, low))
    high_queue = await bus.create_queue("high", **_given(keyword, high))

    assert (await low_queue.get_attributes())[aws] == str(low)
    assert (await high_queue.get_attributes())[aws] == str(high)


@pytest.mark.parametrize("value", [1.5, "30", True])
async def test_int_attribute_of_wrong_type_is_refused(bus: Bus, value: Any) -> None:
    """A float, str or bool visibility timeout (an untyped caller's) raises
    InvalidAttributeValue."""
    error = await refused(bus.create_queue("q", visibility_timeout=value))

    assert error.code == "InvalidAttributeValue"
    assert "VisibilityTimeout" in error.message
    assert await names(bus) == []


async def test_unknown_attribute_keyword_is_a_type_error(bus: Bus) -> None:
    """An unknown attribute keyword is Python's TypeError naming it (and a type
    checker's error before that); nothing is created or changed."""
    create: Any = bus.create_queue
    with pytest.raises(TypeError, match="visibility_timeot"):
        await create("q", visibility_timeot=30)
    assert await names(bus) == []
    queue = await bus.create_queue("q")
    set_attributes: Any = queue.set_attributes
    with pytest.raises(TypeError, match="bogus"):
        await set_attributes(bogus=1)
    create_topic: Any = bus.create_topic
    with pytest.raises(TypeError, match="bogus"):
        await create_topic("t", bogus=1)
    assert await bus.list_topics() == []


@pytest.mark.parametrize(
    ("keyword", "value", "aws"),
    [
        ("content_based_deduplication", True, "ContentBasedDeduplication"),
        ("content_based_deduplication", False, "ContentBasedDeduplication"),
        ("deduplication_scope", "messageGroup", "DeduplicationScope"),
        ("fifo_throughput_limit", "perQueue", "FifoThroughputLimit"),
    ],
)
async def test_fifo_only_attribute_on_standard_queue_is_refused(
    bus: Bus, keyword: str, value: object, aws: str
) -> None:
    """A FIFO-only attribute on a standard queue raises InvalidAttributeName naming it."""
    error = await refused(bus.create_queue("q", **_given(keyword, value)))

    assert error.code == "InvalidAttributeName"
    assert aws in error.message
    assert await names(bus) == []


async def test_redrive_policy_is_stored_as_aws_json(bus: Bus) -> None:
    """A redrive policy by DLQ name is reported as AWS's JSON with the DLQ's ARN."""
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q", redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=4)
    )

    policy = json.loads((await queue.get_attributes())["RedrivePolicy"])

    assert policy == {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 4}


@pytest.mark.parametrize("how", ["name", "url", "arn"])
async def test_redrive_policy_names_dlq_by_name_url_or_arn(bus: Bus, how: str) -> None:
    """A redrive policy's DLQ may be given by name, URL or ARN; all mean the same queue."""
    dlq = await bus.create_queue("dlq")
    reference = {"name": dlq.name, "url": dlq.url, "arn": dlq.arn}[how]

    queue = await bus.create_queue(
        "q", redrive_policy=RedrivePolicy(dead_letter_queue=reference, max_receive_count=2)
    )
    again = await bus.create_queue(
        "q", redrive_policy=RedrivePolicy(dead_letter_queue=dlq.arn, max_receive_count=2)
    )

    assert again == queue
    assert dlq.arn in (await queue.get_attributes())["RedrivePolicy"]


@pytest.mark.parametrize("count", [0, 1001, -1])
async def test_max_receive_count_out_of_range_is_refused(count: int) -> None:
    """RedrivePolicy with max_receive_count outside 1-1000 raises InvalidParameterValue."""
    with pytest.raises(EventBusError) as caught:
        RedrivePolicy(dead_letter_queue="dlq", max_receive_count=count)

    assert caught.value.code == "InvalidParameterValue"
    assert "maxReceiveCount" in caught.value.message


@pytest.mark.parametrize("count", [1, 1000])
async def test_max_receive_count_bounds_are_accepted(bus: Bus, count: int) -> None:
    """max_receive_count 1 and 1000 are accepted."""
    await bus.create_queue("dlq")

    queue = await bus.create_queue(
        "q", redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=count)
    )

    assert json.loads((await queue.get_attributes())["RedrivePolicy"])["maxReceiveCount"] == count


async def test_redrive_to_missing_queue_is_refused(bus: Bus) -> None:
    """A redrive policy naming a queue that does not exist raises InvalidParameterValue."""
    error = await refused(
        bus.create_queue(
            "q", redrive_policy=RedrivePolicy(dead_letter_queue="nowhere", max_receive_count=3)
        )
    )

    assert error.code == "InvalidParameterValue"
    assert "RedrivePolicy" in error.message
    assert await names(bus) == []


async def test_redrive_policy_that_is_not_a_policy_names_redrive_policy(bus: Bus) -> None:
    """A redrive_policy that is not a RedrivePolicy is refused with a message naming it."""
    untyped: Any = "not a policy"
    error = await refused(bus.create_queue("q", redrive_policy=untyped))

    assert error.code == "InvalidParameterValue"
    assert "parameter RedrivePolicy" in error.message
    assert await names(bus) == []


async def test_set_attributes_changes_and_reports(bus: Bus, clock: VirtualClock) -> None:
    """set_attributes changes the named attributes only and updates LastModifiedTimestamp."""
    queue = await bus.create_queue("q", delay_seconds=5)
    created = (await queue.get_attributes())["CreatedTimestamp"]
    await clock.advance(100)

    await queue.set_attributes(visibility_timeout=60)

    attributes = await queue.get_attributes()
    assert attributes["VisibilityTimeout"] == "60"
    assert attributes["DelaySeconds"] == "5"
    assert attributes["CreatedTimestamp"] == created
    assert attributes["LastModifiedTimestamp"] == str(int(clock.now()))


async def test_set_attributes_visibility_applies_to_next_receive(
    bus: Bus, clock: VirtualClock
) -> None:
    """A new visibility timeout hides messages received afterwards for that long."""
    queue = await bus.create_queue("q")
    await queue.set_attributes(visibility_timeout=5)
    await queue.send("m")

    await queue.receive()
    await clock.advance(4)
    assert await queue.receive() == []
    await clock.advance(1)

    assert [m.body for m in await queue.receive()] == ["m"]


async def test_set_attributes_adds_and_removes_redrive_policy(bus: Bus) -> None:
    """set_attributes(redrive_policy=...) sets a policy; redrive_policy=None removes it."""
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue("q", visibility_timeout=40)

    await queue.set_attributes(
        redrive_policy=RedrivePolicy(dead_letter_queue=dlq.arn, max_receive_count=5)
    )
    added = await queue.get_attributes()
    await queue.set_attributes(redrive_policy=None)
    removed = await queue.get_attributes()

    assert json.loads(added["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq.arn,
        "maxReceiveCount": 5,
    }
    assert "RedrivePolicy" not in removed
    assert removed["VisibilityTimeout"] == "40"


async def test_set_attributes_keeps_redrive_policy_when_not_named(bus: Bus) -> None:
    """Changing another attribute keeps the existing redrive policy."""
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q", redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3)
    )

    await queue.set_attributes(delay_seconds=2)

    policy = json.loads((await queue.get_attributes())["RedrivePolicy"])
    assert policy == {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 3}


async def test_set_attributes_after_dlq_deleted_changes_other_attributes(bus: Bus) -> None:
    """With its DLQ deleted, a queue's other attributes can still be changed (as on AWS)."""
    await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q", redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3)
    )
    await bus.delete_queue("dlq")

    await queue.set_attributes(visibility_timeout=60)

    assert (await queue.get_attributes())["VisibilityTimeout"] == "60"


@pytest.mark.parametrize(
    ("attributes", "code", "fragment"),
    [
        ({"visibility_timeout": 43_201}, "InvalidAttributeValue", "VisibilityTimeout"),
        ({"delay_seconds": -1}, "InvalidAttributeValue", "DelaySeconds"),
        ({"receive_message_wait_time_seconds": 21}, "InvalidAttributeValue", "ReceiveMessage"),
        ({"content_based_deduplication": True}, "InvalidAttributeName", "ContentBased"),
        (
            {"redrive_policy": RedrivePolicy(dead_letter_queue="nowhere", max_receive_count=2)},
            "InvalidParameterValue",
            "RedrivePolicy",
        ),
        (
            {
                "visibility_timeout": 10,
                "redrive_policy": RedrivePolicy(dead_letter_queue="nowhere", max_receive_count=2),
            },
            "InvalidParameterValue",
            "RedrivePolicy",
        ),
    ],
)
async def test_rejected_set_attributes_changes_nothing(
    bus: Bus, clock: VirtualClock, attributes: dict[str, Any], code: str, fragment: str
) -> None:
    """A refused set_attributes raises with the AWS code and leaves every attribute as it was."""
    await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q",
        visibility_timeout=45,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3),
    )
    before = await queue.get_attributes()
    await clock.advance(10)

    error = await refused(queue.set_attributes(**attributes))

    assert error.code == code
    assert fragment in error.message
    assert await queue.get_attributes() == before


# -------------------------------------------------------------- statistics


async def test_statistics_counts_states_and_totals(bus: Bus, clock: VirtualClock) -> None:
    """statistics() counts visible, in-flight, delayed and the cumulative counters."""
    queue = await bus.create_queue("q", visibility_timeout=10)
    await queue.send("a")
    await queue.send("b")
    await queue.send("c", delay_seconds=5)
    [first] = await queue.receive()
    await queue.delete(first.receipt_handle)
    [second] = await queue.receive()

    stats = await queue.statistics()

    assert (stats.visible, stats.in_flight, stats.delayed, stats.total) == (0, 1, 1, 2)
    assert (stats.sent, stats.received, stats.deleted, stats.redelivered) == (3, 2, 1, 0)
    await clock.advance(10)
    again = await queue.receive(max_messages=10)
    assert sorted(m.body for m in again) == sorted([second.body, "c"])
    later = await queue.statistics()
    assert (later.in_flight, later.received, later.redelivered) == (2, 4, 1)


async def test_statistics_counts_dead_letters(bus: Bus, clock: VirtualClock) -> None:
    """A message moved to its DLQ is counted as dead-lettered and arrives there."""
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q",
        visibility_timeout=0,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=1),
    )
    await queue.send("poison")

    assert len(await queue.receive()) == 1
    assert await queue.receive() == []

    stats = await queue.statistics()
    assert (stats.total, stats.dead_lettered) == (0, 1)
    [moved] = await dlq.receive()
    assert moved.body == "poison"
    assert moved.attributes["DeadLetterQueueSourceArn"] == queue.arn
    assert moved.attributes["ApproximateReceiveCount"] == "2"


# ------------------------------------------------------------------ topics


async def test_create_get_list_delete_topics(bus: Bus) -> None:
    """Topics are created, found by name and ARN, listed by name and deleted."""
    beta = await bus.create_topic("beta")
    alpha = await bus.create_topic("alpha")

    assert alpha.arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:alpha"
    assert await bus.get_topic("alpha") == alpha
    assert await bus.get_topic(beta.arn) == beta
    assert [t.name for t in await bus.list_topics()] == ["alpha", "beta"]
    assert await bus.create_topic("alpha") == alpha

    await bus.delete_topic("alpha")
    await beta.delete()

    assert await bus.list_topics() == []
    await bus.delete_topic("alpha")  # deleting a missing topic is no error


@pytest.mark.parametrize("reference", ["missing", f"arn:aws:sns:{REGION}:{ACCOUNT}:missing"])
async def test_get_missing_topic_raises_not_found(bus: Bus, reference: str) -> None:
    """get_topic of an unknown name or ARN raises NotFound."""
    await bus.create_topic("present")

    error = await refused(bus.get_topic(reference))

    assert error.code == "NotFound"
    assert [t.name for t in await bus.list_topics()] == ["present"]


@pytest.mark.parametrize("name", ["", "has space", "x" * 257, "t.fifo"])
async def test_bad_topic_name_is_refused(bus: Bus, name: str) -> None:
    """A bad topic name raises InvalidParameter and creates nothing."""
    error = await refused(bus.create_topic(name))

    assert error.code == "InvalidParameter"
    assert await bus.list_topics() == []


@pytest.mark.parametrize(
    "attributes",
    [{"fifo_topic": "yes"}, {"content_based_deduplication": True}, {"display_name": 5}],
)
async def test_bad_topic_attribute_is_refused(bus: Bus, attributes: dict[str, Any]) -> None:
    """An unknown or FIFO-only topic attribute raises InvalidParameter and creates nothing."""
    error = await refused(bus.create_topic("t", **attributes))

    assert error.code == "InvalidParameter"
    assert await bus.list_topics() == []


async def test_publish_to_deleted_topic_raises_not_found(bus: Bus) -> None:
    """Publishing through the handle of a deleted topic raises NotFound and delivers nothing."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue)
    await topic.delete()

    error = await refused(topic.publish("lost"))

    assert error.code == "NotFound"
    assert (await queue.statistics()).total == 0


# ------------------------------------------------------- publish and deliver


async def test_publish_delivers_envelope(bus: Bus, clock: VirtualClock) -> None:
    """Without raw delivery, the queue gets AWS's JSON envelope around the message."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(queue)

    result = await topic.publish("hello", subject="greeting")
    [message] = await queue.receive()

    envelope = json.loads(message.body)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == result.message_id
    assert envelope["MessageId"] != message.message_id
    assert envelope["TopicArn"] == topic.arn
    assert envelope["Subject"] == "greeting"
    assert envelope["Message"] == "hello"
    assert envelope["Timestamp"] == "2026-01-01T00:00:00.000Z"
    assert envelope["SignatureVersion"] == "1"
    assert envelope["Signature"]
    assert envelope["SigningCertURL"].startswith(f"https://sns.{REGION}.amazonaws.com/")
    assert envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={subscription.arn}")
    assert "MessageAttributes" not in envelope
    assert message.message_attributes == {}
    assert message.md5_of_message_attributes is None


async def test_envelope_without_subject_and_with_attributes(bus: Bus) -> None:
    """No Subject key without a subject; attributes appear as {Type, Value}, binary base64."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue)

    await topic.publish(
        "m", message_attributes={"kind": "created", "n": 99.5, "bin": b"\x02\x03\x04"}
    )
    [message] = await queue.receive()

    envelope = json.loads(message.body)
    assert "Subject" not in envelope
    assert envelope["MessageAttributes"] == {
        "kind": {"Type": "String", "Value": "created"},
        "n": {"Type": "Number", "Value": "99.5"},
        "bin": {"Type": "Binary", "Value": base64.b64encode(b"\x02\x03\x04").decode()},
    }
    assert message.message_attributes == {}


async def test_publish_raw_delivers_body_and_attributes(bus: Bus) -> None:
    """With raw delivery, the body is the message and SNS attributes become SQS attributes."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue, raw_message_delivery=True)

    await topic.publish(
        '{"id": 1}', subject="ignored", message_attributes={"kind": "created", "bin": b"\x01"}
    )
    [message] = await queue.receive()

    assert message.body == '{"id": 1}'
    assert message.message_attributes["kind"] == MessageAttributeValue(
        "String", string_value="created"
    )
    assert message.message_attributes["bin"] == MessageAttributeValue(
        "Binary", binary_value=b"\x01"
    )
    assert message.md5_of_message_attributes is not None


async def test_publish_fans_out_to_every_subscribed_queue(bus: Bus) -> None:
    """A publish reaches every subscribed queue once, each in its own delivery mode."""
    raw = await bus.create_queue("raw")
    wrapped = await bus.create_queue("wrapped")
    bystander = await bus.create_queue("bystander")
    topic = await bus.create_topic("t")
    await topic.subscribe(raw, raw_message_delivery=True)
    await topic.subscribe(wrapped)

    await topic.publish("fan")

    [from_raw] = await raw.receive(max_messages=10)
    [from_wrapped] = await wrapped.receive(max_messages=10)
    assert from_raw.body == "fan"
    assert json.loads(from_wrapped.body)["Message"] == "fan"
    assert (await bystander.statistics()).total == 0


async def test_subscribe_by_arn_and_again_is_idempotent(bus: Bus) -> None:
    """Subscribing by queue ARN works; subscribing again with the same settings is the same."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")

    first = await topic.subscribe(queue.arn)
    second = await topic.subscribe(queue)

    assert first == second
    assert first.endpoint == queue.arn
    assert first.topic_arn == topic.arn
    assert first.arn.startswith(topic.arn + ":")
    assert await topic.subscriptions() == [first]


async def test_subscribe_again_with_other_settings_is_refused(bus: Bus) -> None:
    """Subscribing a queue again with other settings raises InvalidParameter."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    first = await topic.subscribe(queue)

    error = await refused(topic.subscribe(queue, raw_message_delivery=True))

    assert error.code == "InvalidParameter"
    assert not first.raw_message_delivery
    assert await topic.subscriptions() == [first]


async def test_subscribe_takes_a_queue_by_name_url_or_arn(bus: Bus) -> None:
    """subscribe, like every call that takes a queue, takes its name, URL or ARN:
    each names the same subscription."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")

    by_name = await topic.subscribe("q")
    by_url = await topic.subscribe(queue.url)
    by_arn = await topic.subscribe(queue.arn)

    assert by_name == by_url == by_arn
    assert await topic.subscriptions() == [by_name]


async def test_subscribe_to_something_not_a_queue_is_refused(bus: Bus) -> None:
    """An endpoint that is neither a handle nor a str: InvalidParameter, nothing made."""
    topic = await bus.create_topic("t")
    subscribe: Any = topic.subscribe

    error = await refused(subscribe(42))

    assert error.code == "InvalidParameter"
    assert await topic.subscriptions() == []


async def test_subscribe_with_bad_filter_policy_is_refused(bus: Bus) -> None:
    """An invalid filter policy at subscribe raises InvalidParameter, no subscription."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")

    error = await refused(topic.subscribe(queue, filter_policy={"kind": "created"}))

    assert error.code == "InvalidParameter"
    assert "FilterPolicy" in error.message
    assert await topic.subscriptions() == []


async def test_subscription_attributes(bus: Bus) -> None:
    """A subscription reports its AWS attributes as strings."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(
        queue, raw_message_delivery=True, filter_policy={"kind": ["a"]}
    )

    attributes = await subscription.get_attributes()

    assert attributes["SubscriptionArn"] == subscription.arn
    assert attributes["TopicArn"] == topic.arn
    assert attributes["Endpoint"] == queue.arn
    assert attributes["Protocol"] == "sqs"
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["PendingConfirmation"] == "false"
    assert json.loads(attributes["FilterPolicy"]) == {"kind": ["a"]}
    assert attributes["FilterPolicyScope"] == "MessageAttributes"


async def test_set_filter_policy_filters_later_publishes(bus: Bus) -> None:
    """set_filter_policy makes later publishes deliver only matching messages."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(queue, raw_message_delivery=True)

    await subscription.set_filter_policy({"kind": ["created"]})
    await topic.publish("no", message_attributes={"kind": "deleted"})
    await topic.publish("none")
    await topic.publish("yes", message_attributes={"kind": "created"})

    assert subscription.filter_policy == {"kind": ["created"]}
    assert [m.body for m in await queue.receive(max_messages=10)] == ["yes"]


@pytest.mark.parametrize("removal", [None, {}])
async def test_set_filter_policy_none_or_empty_removes_it(bus: Bus, removal: Any) -> None:
    """set_filter_policy(None) or ({}) lets every message through again."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(
        queue, raw_message_delivery=True, filter_policy={"kind": ["created"]}
    )

    await subscription.set_filter_policy(removal)
    await topic.publish("any", message_attributes={"kind": "deleted"})

    assert [m.body for m in await queue.receive()] == ["any"]


async def test_set_filter_policy_with_body_scope(bus: Bus) -> None:
    """set_filter_policy(..., scope="MessageBody") filters on the JSON body."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(queue, raw_message_delivery=True)

    await subscription.set_filter_policy({"kind": ["created"]}, scope="MessageBody")
    await topic.publish('{"kind": "deleted"}')
    await topic.publish('{"kind": "created"}')

    assert subscription.filter_policy_scope == "MessageBody"
    assert [m.body for m in await queue.receive(max_messages=10)] == ['{"kind": "created"}']


@pytest.mark.parametrize(
    ("policy", "scope"),
    [({"kind": "created"}, None), ({"kind": []}, None), ({"kind": ["b"]}, "Nowhere")],
)
async def test_rejected_filter_policy_leaves_subscription_alone(
    bus: Bus, policy: Any, scope: str | None
) -> None:
    """A bad filter policy or scope raises InvalidParameter; the old policy still applies."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(
        queue, raw_message_delivery=True, filter_policy={"kind": ["a"]}
    )

    error = await refused(subscription.set_filter_policy(policy, scope=scope))

    assert error.code == "InvalidParameter"
    assert subscription.filter_policy == {"kind": ["a"]}
    assert subscription.filter_policy_scope == "MessageAttributes"
    await topic.publish("a", message_attributes={"kind": "a"})
    await topic.publish("b", message_attributes={"kind": "b"})
    assert [m.body for m in await queue.receive(max_messages=10)] == ["a"]


async def test_set_raw_message_delivery_switches_mode(bus: Bus) -> None:
    """set_raw_message_delivery switches later deliveries between raw and envelope."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(queue)

    await subscription.set_raw_message_delivery(True)
    await topic.publish("raw")
    await subscription.set_raw_message_delivery(False)
    await topic.publish("wrapped")

    raw, wrapped = sorted(
        (m.body for m in await queue.receive(max_messages=10)), key=lambda b: b.startswith("{")
    )
    assert raw == "raw"
    assert json.loads(wrapped)["Message"] == "wrapped"
    assert not subscription.raw_message_delivery


@pytest.mark.parametrize("value", ["true", 1, None])
async def test_set_raw_message_delivery_needs_a_bool(bus: Bus, value: Any) -> None:
    """A non-bool raw delivery setting raises InvalidParameter and changes nothing."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(queue)

    error = await refused(subscription.set_raw_message_delivery(value))

    assert error.code == "InvalidParameter"
    assert "RawMessageDelivery" in error.message
    assert not subscription.raw_message_delivery
    assert (await subscription.get_attributes())["RawMessageDelivery"] == "false"


async def test_unsubscribe_stops_delivery(bus: Bus) -> None:
    """After unsubscribe, publishes no longer reach the queue; unsubscribing again is fine."""
    queue = await bus.create_queue("q")
    other = await bus.create_queue("other")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(queue)
    await topic.subscribe(other, raw_message_delivery=True)

    await subscription.unsubscribe()
    await subscription.unsubscribe()
    await topic.publish("after")

    assert (await queue.statistics()).total == 0
    assert [m.body for m in await other.receive()] == ["after"]
    assert [s.endpoint for s in await topic.subscriptions()] == [other.arn]


async def test_subscription_of_deleted_topic_raises_not_found(bus: Bus) -> None:
    """Changing a subscription whose topic was deleted raises NotFound."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    subscription = await topic.subscribe(queue)
    await topic.delete()

    error = await refused(subscription.set_raw_message_delivery(True))

    assert error.code == "NotFound"
    assert not subscription.raw_message_delivery


async def test_publish_to_deleted_queue_skips_it(bus: Bus) -> None:
    """A subscription whose queue was deleted gets nothing; other queues still do."""
    gone = await bus.create_queue("gone")
    kept = await bus.create_queue("kept")
    topic = await bus.create_topic("t")
    await topic.subscribe(gone)
    await topic.subscribe(kept, raw_message_delivery=True)
    await bus.delete_queue(gone)

    result = await topic.publish("still")

    assert result.message_id
    assert [m.body for m in await kept.receive()] == ["still"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"message": ""}, "InvalidParameter"),
        ({"message": "m", "subject": ""}, "InvalidParameter"),
        ({"message": "m", "message_deduplication_id": "d"}, "InvalidParameter"),
    ],
)
async def test_rejected_publish_delivers_nothing(
    bus: Bus, kwargs: dict[str, Any], code: str
) -> None:
    """An invalid publish raises InvalidParameter and no queue receives anything."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue)

    error = await refused(topic.publish(**kwargs))

    assert error.code == code
    assert (await queue.statistics()).sent == 0
