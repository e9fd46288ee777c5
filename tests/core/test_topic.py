"""SNS standard topics: names, subscriptions, publish validation, the envelope and raw delivery.

Filter policies are tested in the ``test_filter_policy_*`` modules; every
subscription here has none.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from eventbus._core._attributes import MessageAttributeValue, md5_of_attributes
from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._events import DeliveryFailed
from eventbus._core._ids import CountingIds
from eventbus._core._message import QueueStatistics, ReceivedMessage
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings, TopicSettings
from eventbus._core._topic import TopicMachine

REGION = "us-east-1"
T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z."""
LIMIT = 262_144
V = MessageAttributeValue
ENVELOPE_KEYS = [
    "Type",
    "MessageId",
    "TopicArn",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
    "UnsubscribeURL",
]


@pytest.fixture
def broker() -> Broker:
    """A broker with replayable ids."""
    return Broker(region=REGION, ids=CountingIds())


@pytest.fixture
def topic(broker: Broker) -> TopicMachine:
    """A standard topic with default attributes."""
    return broker.create_topic("events", TopicSettings())


@pytest.fixture
def queue(broker: Broker) -> QueueMachine:
    """A standard queue."""
    return broker.create_queue("inbox", QueueSettings(), now=T0)


def refused(code: str, call: object, *args: object, **kwargs: object) -> EventBusError:
    """Call ``call`` and return the EventBusError it must raise with ``code``."""
    assert callable(call)
    with pytest.raises(EventBusError) as caught:
        call(*args, **kwargs)

    assert code == caught.value.code
    return caught.value


def receive_one(broker: Broker, queue: QueueMachine) -> ReceivedMessage:
    """Receive exactly one message."""
    got = broker.receive(queue, now=T0, max_messages=10)

    assert 1 == len(got)
    return got[0]


def envelope_of(broker: Broker, queue: QueueMachine) -> dict[str, Any]:
    """Receive one message and parse its body as the SNS JSON envelope."""
    document = json.loads(receive_one(broker, queue).body)

    assert isinstance(document, dict)
    return document


# ---------------------------------------------------------------------- topics


@pytest.mark.parametrize("name", ["t", "x" * 256, "Az09-_", "events"])
def test_valid_topic_names_are_accepted(broker: Broker, name: str) -> None:
    """1-256 characters of letters, digits, '-' and '_'."""
    topic = broker.create_topic(name, TopicSettings())

    assert f"arn:aws:sns:{REGION}:000000000000:{name}" == topic.arn
    assert topic is broker.topic(name)


@pytest.mark.parametrize(
    "name",
    ["", "x" * 257, "a.b", "events.fifo", "a b", "é", "a/b", "a:b"],
    ids=["empty", "257", "dot", "fifo-suffix", "space", "accent", "slash", "colon"],
)
def test_invalid_topic_names_are_refused(broker: Broker, name: str) -> None:
    """Bad length, characters or a .fifo suffix on a standard topic: InvalidParameter."""
    error = refused("InvalidParameter", broker.create_topic, name, TopicSettings())

    assert error.message.startswith("Invalid parameter: Topic Name")
    assert [] == broker.list_topics()


def test_create_topic_again_with_the_same_attributes_returns_the_same_topic(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """CreateTopic is idempotent: the same topic, its subscriptions intact."""
    broker.subscribe(topic, queue)

    again = broker.create_topic("events", TopicSettings())

    assert topic is again
    assert 1 == len(again.subscriptions)


def test_create_topic_with_different_attributes_is_refused(
    broker: Broker, topic: TopicMachine
) -> None:
    """Same name, other attributes: InvalidParameter, and the topic keeps its attributes."""
    error = refused(
        "InvalidParameter", broker.create_topic, "events", TopicSettings(display_name="x")
    )

    assert (
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
        == error.message
    )
    assert TopicSettings() == broker.topic("events").settings


def test_unknown_topic_is_not_found(broker: Broker) -> None:
    """A name no topic has: NotFound."""
    refused("NotFound", broker.topic, "missing")


# ---------------------------------------------------------------- subscriptions


def test_subscription_to_a_queue_is_confirmed_at_once(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """An SQS subscription in the same account needs no confirmation."""
    record = broker.subscribe(topic, queue)

    attributes = record.attributes()
    expected = {
        "Endpoint": queue.arn,
        "Protocol": "sqs",
        "TopicArn": topic.arn,
        "PendingConfirmation": "false",
        "ConfirmationWasAuthenticated": "true",
        "RawMessageDelivery": "false",
    }

    assert record.arn.startswith(topic.arn + ":")
    assert expected == {key: attributes[key] for key in expected}


def test_subscribe_again_with_the_same_settings_returns_the_same_subscription(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Subscribing the same queue with the same attributes is idempotent."""
    first = broker.subscribe(topic, queue, raw_message_delivery=True)

    second = broker.subscribe(topic, queue, raw_message_delivery=True)

    assert first is second
    assert [first.arn] == list(topic.subscriptions)


def test_subscribe_again_with_different_settings_is_refused(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Another RawMessageDelivery for the same queue: InvalidParameter; the first stays."""
    first = broker.subscribe(topic, queue)

    error = refused("InvalidParameter", broker.subscribe, topic, queue, raw_message_delivery=True)

    assert error.message.endswith("Subscription already exists with different attributes")
    assert [first] == list(topic.subscriptions.values())
    assert first.raw_message_delivery is False


@pytest.mark.parametrize("raw", ["true", 1, 0.0])
def test_raw_message_delivery_must_be_a_boolean(
    broker: Broker, topic: TopicMachine, queue: QueueMachine, raw: object
) -> None:
    """RawMessageDelivery must be true or false; nothing is subscribed otherwise."""
    error = refused("InvalidParameter", broker.subscribe, topic, queue, raw_message_delivery=raw)

    assert "Must be true or false." in error.message
    assert {} == topic.subscriptions


def test_unknown_filter_policy_scope_is_refused(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """FilterPolicyScope is MessageAttributes or MessageBody."""
    refused("InvalidParameter", broker.subscribe, topic, queue, filter_policy_scope="Body")

    assert {} == topic.subscriptions


def test_two_queues_get_two_subscriptions(broker: Broker, topic: TopicMachine) -> None:
    """Each subscribed queue has its own subscription ARN."""
    first = broker.subscribe(topic, broker.create_queue("a", QueueSettings(), now=T0))
    second = broker.subscribe(topic, broker.create_queue("b", QueueSettings(), now=T0))

    assert first.arn != second.arn
    assert 2 == len(topic.subscriptions)


# ------------------------------------------------------------ publish validation


def test_publish_of_an_empty_message_is_refused(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """An empty message: InvalidParameter 'Empty message'; nothing is delivered."""
    broker.subscribe(topic, queue)

    error = refused("InvalidParameter", broker.publish, topic, "", now=T0)

    assert "Invalid parameter: Empty message" == error.message
    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)


def test_publish_of_exactly_256_kib_is_accepted(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """A message of exactly 262,144 bytes is accepted and delivered."""
    broker.subscribe(topic, queue, raw_message_delivery=True)

    broker.publish(topic, "x" * LIMIT, now=T0)

    assert LIMIT == len(receive_one(broker, queue).body)


def test_publish_one_byte_over_256_kib_is_refused(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """262,145 bytes: InvalidParameter 'Message too long'; nothing is delivered."""
    broker.subscribe(topic, queue)

    error = refused("InvalidParameter", broker.publish, topic, "x" * (LIMIT + 1), now=T0)

    assert "Message too long" in error.message
    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)


def test_publish_size_counts_utf8_bytes(broker: Broker, topic: TopicMachine) -> None:
    """131,072 two-byte characters fill the limit; one more byte is too many."""
    outcome = broker.publish(topic, "é" * (LIMIT // 2), now=T0)

    error = refused("InvalidParameter", broker.publish, topic, "é" * (LIMIT // 2) + "a", now=T0)

    assert outcome.message_id
    assert "Message too long" in error.message


def test_publish_size_includes_attribute_names_types_and_values(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """'a' + 'String' + 'xy' is 9 bytes: 262,135 bytes of message fit, 262,136 do not."""
    broker.subscribe(topic, queue)
    attributes: dict[str, object] = {"a": "xy"}

    broker.publish(topic, "x" * (LIMIT - 9), now=T0, message_attributes=attributes)
    refused(
        "InvalidParameter",
        broker.publish,
        topic,
        "x" * (LIMIT - 8),
        now=T0,
        message_attributes=attributes,
    )

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


@pytest.mark.parametrize("subject", ["s", "x" * 99, "Ünïcödé subject", "a b!"])
def test_valid_subjects_are_accepted(
    broker: Broker, topic: TopicMachine, queue: QueueMachine, subject: str
) -> None:
    """A subject of 1-99 printable characters is accepted and lands in the envelope."""
    broker.subscribe(topic, queue)

    broker.publish(topic, "m", now=T0, subject=subject)

    assert subject == envelope_of(broker, queue)["Subject"]


@pytest.mark.parametrize(
    "subject",
    ["", "x" * 100, "line\nbreak", "carriage\rreturn", "tab\there", "nul\x00", "del\x7f"],
    ids=["empty", "100", "newline", "cr", "tab", "nul", "del"],
)
def test_invalid_subjects_are_refused(
    broker: Broker, topic: TopicMachine, queue: QueueMachine, subject: str
) -> None:
    """Empty, 100+ characters, line breaks or control characters: InvalidParameter."""
    broker.subscribe(topic, queue)

    error = refused("InvalidParameter", broker.publish, topic, "m", now=T0, subject=subject)

    assert error.message.startswith("Invalid parameter: Subject")
    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)


def test_deduplication_id_is_refused_on_a_standard_topic(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """MessageDeduplicationId is not valid for a standard topic; nothing is delivered."""
    broker.subscribe(topic, queue)

    error = refused(
        "InvalidParameter", broker.publish, topic, "m", now=T0, message_deduplication_id="d"
    )

    assert "MessageDeduplicationId" in error.message
    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)


@pytest.mark.parametrize("group", ["", "has space", "x" * 129])
def test_malformed_group_id_is_refused(broker: Broker, topic: TopicMachine, group: str) -> None:
    """A group id must be 1-128 alphanumeric or punctuation characters."""
    refused("InvalidParameter", broker.publish, topic, "m", now=T0, message_group_id=group)


def test_message_with_a_lone_surrogate_is_refused(broker: Broker, topic: TopicMachine) -> None:
    """A message must be valid UTF-8, so a lone surrogate is InvalidParameter."""
    refused("InvalidParameter", broker.publish, topic, "a\ud800b", now=T0)


@pytest.mark.parametrize("text", ['["a", 1, true, null]', "[]", '["only"]', "[1.5, -2, false]"])
def test_valid_string_arrays_are_accepted(
    broker: Broker, topic: TopicMachine, queue: QueueMachine, text: str
) -> None:
    """A String.Array holds a JSON array of strings, numbers, booleans and nulls."""
    broker.subscribe(topic, queue, raw_message_delivery=True)

    broker.publish(
        topic, "m", now=T0, message_attributes={"arr": V("String.Array", string_value=text)}
    )

    assert text == receive_one(broker, queue).message_attributes["arr"].string_value


@pytest.mark.parametrize(
    "text",
    ["not json", '{"a": 1}', "[[1]]", '[{"a": 1}]', "", '"text"', "[1,"],
    ids=["text", "object", "nested-list", "nested-object", "empty", "json-string", "truncated"],
)
def test_invalid_string_arrays_are_refused(
    broker: Broker, topic: TopicMachine, queue: QueueMachine, text: str
) -> None:
    """Anything but a flat JSON array of scalars: ParameterValueInvalid; nothing delivered."""
    broker.subscribe(topic, queue)

    refused(
        "ParameterValueInvalid",
        broker.publish,
        topic,
        "m",
        now=T0,
        message_attributes={"arr": V("String.Array", string_value=text)},
    )

    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)


@pytest.mark.parametrize(
    "attributes",
    [
        {"a": V("Float", string_value="1")},
        {"a": V("String", string_value="")},
        {"a": V("Number", string_value="one")},
        {"AWS.x": V("String", string_value="v")},
        {"a": True},
    ],
    ids=["type", "empty", "number", "reserved-name", "bool"],
)
def test_invalid_publish_attributes_are_parameter_value_invalid(
    broker: Broker, topic: TopicMachine, attributes: dict[str, object]
) -> None:
    """SNS reports bad message attributes as ParameterValueInvalid."""
    refused(
        "ParameterValueInvalid", broker.publish, topic, "m", now=T0, message_attributes=attributes
    )


def test_publish_without_subscriptions_returns_an_id(broker: Broker, topic: TopicMachine) -> None:
    """A publish with no subscribers succeeds and delivers nowhere."""
    outcome = broker.publish(topic, "m", now=T0)

    assert outcome.message_id
    assert [] == outcome.delivered_to


# ---------------------------------------------------------------------- envelope


def test_envelope_has_exactly_aws_fields_in_order_without_subject_or_attributes(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Without a subject or attributes, those two keys are absent; the rest is in AWS order."""
    broker.subscribe(topic, queue)

    broker.publish(topic, "hello", now=T0)

    assert ENVELOPE_KEYS == list(envelope_of(broker, queue))


def test_envelope_has_subject_and_attributes_in_their_places_when_given(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Subject sits between TopicArn and Message; MessageAttributes comes last."""
    broker.subscribe(topic, queue)

    broker.publish(topic, "hello", now=T0, subject="Hi", message_attributes={"a": "b"})

    expected = [*ENVELOPE_KEYS[:3], "Subject", *ENVELOPE_KEYS[3:], "MessageAttributes"]
    assert expected == list(envelope_of(broker, queue))


def test_envelope_fields_carry_the_published_message(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Type, ids, ARN, message, ms timestamp, signature fields and the unsubscribe URL."""
    record = broker.subscribe(topic, queue)
    message = 'quotes " and \\ and\nnewlines and ☃'

    outcome = broker.publish(topic, message, now=T0 + 0.123, subject="Greetings ☃")
    envelope = envelope_of(broker, queue)

    assert "Notification" == envelope["Type"]
    assert outcome.message_id == envelope["MessageId"]
    assert topic.arn == envelope["TopicArn"]
    assert "Greetings ☃" == envelope["Subject"]
    assert message == envelope["Message"]
    assert "2026-01-01T00:00:00.123Z" == envelope["Timestamp"]
    assert "1" == envelope["SignatureVersion"]
    assert base64.b64decode(envelope["Signature"], validate=True)
    assert re.fullmatch(
        r"https://sns\.us-east-1\.amazonaws\.com/SimpleNotificationService-[^/]+\.pem",
        envelope["SigningCertURL"],
    )
    assert (
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + record.arn
        == envelope["UnsubscribeURL"]
    )


@pytest.mark.parametrize(
    ("now", "stamp"),
    [
        (T0, "2026-01-01T00:00:00.000Z"),
        (T0 + 0.007, "2026-01-01T00:00:00.007Z"),
        (T0 + 86_399.5, "2026-01-01T23:59:59.500Z"),
    ],
)
def test_envelope_timestamp_is_iso_utc_with_three_digit_milliseconds(
    broker: Broker, topic: TopicMachine, queue: QueueMachine, now: float, stamp: str
) -> None:
    """Timestamp is ISO-8601 UTC with zero-padded milliseconds and a Z."""
    broker.subscribe(topic, queue)

    broker.publish(topic, "m", now=now)
    got = broker.receive(queue, now=now)

    assert stamp == json.loads(got[0].body)["Timestamp"]


def test_envelope_message_attributes_are_type_value_pairs_with_base64_binary(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Each attribute is {"Type", "Value"}; Number stays a string, Binary is base64."""
    broker.subscribe(topic, queue)

    broker.publish(
        topic,
        "m",
        now=T0,
        message_attributes={
            "attr1": V("Number", string_value="99.12"),
            "bin": b"\x02\x03\x04",
            "s": "text",
            "arr": ["a", 1],
            "label": V("Binary.png", binary_value=b"\x89P"),
        },
    )
    attributes = envelope_of(broker, queue)["MessageAttributes"]

    assert {
        "attr1": {"Type": "Number", "Value": "99.12"},
        "bin": {"Type": "Binary", "Value": "AgME"},
        "s": {"Type": "String", "Value": "text"},
        "arr": {"Type": "String.Array", "Value": '["a", 1]'},
        "label": {"Type": "Binary.png", "Value": base64.b64encode(b"\x89P").decode()},
    } == attributes
    assert all(["Type", "Value"] == list(pair) for pair in attributes.values())


def test_envelope_delivery_carries_no_sqs_message_attributes(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Without raw delivery the attributes live in the body, not on the SQS message."""
    broker.subscribe(topic, queue)

    broker.publish(topic, "m", now=T0, message_attributes={"a": "b"})
    got = receive_one(broker, queue)

    assert {} == dict(got.message_attributes)
    assert got.md5_of_message_attributes is None


def test_sqs_message_id_differs_from_the_sns_message_id(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """The SQS MessageId is the queue's own; the SNS one is inside the envelope."""
    broker.subscribe(topic, queue)

    outcome = broker.publish(topic, "m", now=T0)
    got = receive_one(broker, queue)

    assert outcome.message_id == json.loads(got.body)["MessageId"]
    assert outcome.message_id != got.message_id


def test_each_subscription_gets_its_own_unsubscribe_url(
    broker: Broker, topic: TopicMachine
) -> None:
    """Two subscribed queues get the same message id but their own UnsubscribeURL."""
    first_queue = broker.create_queue("a", QueueSettings(), now=T0)
    second_queue = broker.create_queue("b", QueueSettings(), now=T0)
    first = broker.subscribe(topic, first_queue)
    second = broker.subscribe(topic, second_queue)

    outcome = broker.publish(topic, "m", now=T0)
    one = envelope_of(broker, first_queue)
    two = envelope_of(broker, second_queue)

    assert [first_queue, second_queue] == outcome.delivered_to
    assert one["MessageId"] == two["MessageId"]
    assert one["UnsubscribeURL"].endswith("SubscriptionArn=" + first.arn)
    assert two["UnsubscribeURL"].endswith("SubscriptionArn=" + second.arn)


# ------------------------------------------------------------------ raw delivery


def test_raw_delivery_body_is_the_message_exactly(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """RawMessageDelivery strips the envelope: the body is the published text."""
    broker.subscribe(topic, queue, raw_message_delivery=True)
    message = '{"not": "an envelope"}\n☃'

    broker.publish(topic, message, now=T0, subject="ignored")

    assert message == receive_one(broker, queue).body


def test_raw_delivery_turns_sns_attributes_into_sqs_attributes(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """String, Number, Binary and String.Array arrive as SQS attributes with their types."""
    broker.subscribe(topic, queue, raw_message_delivery=True)

    broker.publish(
        topic,
        "m",
        now=T0,
        message_attributes={
            "s": "text",
            "n": V("Number", string_value="99.12"),
            "b": b"\x02\x03\x04",
            "arr": ["x", 2],
        },
    )
    got = receive_one(broker, queue)

    expected = {
        "s": V("String", string_value="text"),
        "n": V("Number", string_value="99.12"),
        "b": V("Binary", binary_value=b"\x02\x03\x04"),
        "arr": V("String.Array", string_value='["x", 2]'),
    }
    assert expected == dict(got.message_attributes)
    assert md5_of_attributes(expected) == got.md5_of_message_attributes


def test_raw_delivery_with_eleven_attributes_fails_only_that_subscription(
    broker: Broker, topic: TopicMachine
) -> None:
    """Over 10 attributes cannot go raw to SQS: a DeliveryFailed; the envelope queue gets it."""
    raw_queue = broker.create_queue("raw", QueueSettings(), now=T0)
    wrapped_queue = broker.create_queue("wrapped", QueueSettings(), now=T0)
    raw = broker.subscribe(topic, raw_queue, raw_message_delivery=True)
    broker.subscribe(topic, wrapped_queue)
    attributes: dict[str, object] = {f"a{i}": "v" for i in range(11)}

    outcome = broker.publish(topic, "m", now=T0, message_attributes=attributes)

    failures = [e for e in broker.events if isinstance(e, DeliveryFailed)]
    assert [(raw.arn, outcome.message_id, "InvalidParameterValue")] == [
        (f.subscription, f.message_id, f.code) for f in failures
    ]
    assert [wrapped_queue] == outcome.delivered_to
    assert QueueStatistics(0, 0, 0) == raw_queue.counts(now=T0)
    assert 11 == len(envelope_of(broker, wrapped_queue)["MessageAttributes"])


def test_raw_deliveries_share_one_body_yet_each_reports_its_own_failure(
    broker: Broker, topic: TopicMachine
) -> None:
    """A body SQS refuses fails every raw subscription (its check is made once per
    publish); the envelope escapes the character, so that queue gets it; a small
    queue's size limit still applies to it alone."""
    first = broker.create_queue("first", QueueSettings(), now=T0)
    second = broker.create_queue("second", QueueSettings(), now=T0)
    wrapped = broker.create_queue("wrapped", QueueSettings(), now=T0)
    raw = [broker.subscribe(topic, q, raw_message_delivery=True) for q in (first, second)]
    broker.subscribe(topic, wrapped)

    outcome = broker.publish(topic, "bad\x00body", now=T0)

    failures = [e for e in broker.events if isinstance(e, DeliveryFailed)]
    assert [(r.arn, "InvalidMessageContents") for r in raw] == [
        (f.subscription, f.code) for f in failures
    ]
    assert [wrapped] == outcome.delivered_to
    assert "bad\x00body" == envelope_of(broker, wrapped)["Message"]


def test_raw_deliveries_of_one_publish_get_their_own_ids_and_the_same_digest(
    broker: Broker, topic: TopicMachine
) -> None:
    """Each queue stores its own message (own id) of the same body and MD5."""
    small = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)
    large = broker.create_queue("large", QueueSettings(), now=T0)
    for q in (small, large):
        broker.subscribe(topic, q, raw_message_delivery=True)

    outcome = broker.publish(topic, "x" * 1025, now=T0)
    broker.publish(topic, "y" * 1000, now=T0)

    assert [large] == outcome.delivered_to
    got = broker.receive(large, now=T0, max_messages=10) + broker.receive(
        small, now=T0, max_messages=10
    )
    assert ["x" * 1025, "y" * 1000, "y" * 1000] == [m.body for m in got]
    assert got[1].md5_of_body == got[2].md5_of_body
    assert got[1].message_id != got[2].message_id


def test_raw_delivery_with_ten_attributes_is_delivered(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """Exactly 10 attributes is within the SQS limit."""
    broker.subscribe(topic, queue, raw_message_delivery=True)

    broker.publish(topic, "m", now=T0, message_attributes={f"a{i}": "v" for i in range(10)})

    assert 10 == len(receive_one(broker, queue).message_attributes)
    assert [] == [e for e in broker.events if isinstance(e, DeliveryFailed)]


def test_delivery_to_a_deleted_queue_is_a_delivery_failure(
    broker: Broker, topic: TopicMachine
) -> None:
    """A subscription whose queue was deleted records DeliveryFailed; others still get it."""
    gone = broker.create_queue("gone", QueueSettings(), now=T0)
    alive = broker.create_queue("alive", QueueSettings(), now=T0)
    lost = broker.subscribe(topic, gone)
    broker.subscribe(topic, alive)
    broker.delete_queue("gone", now=T0)

    outcome = broker.publish(topic, "m", now=T0)

    failures = [e for e in broker.events if isinstance(e, DeliveryFailed)]
    assert [(topic.name, lost.arn, outcome.message_id, "QueueDoesNotExist")] == [
        (f.topic, f.subscription, f.message_id, f.code) for f in failures
    ]
    assert [alive] == outcome.delivered_to
    assert QueueStatistics(1, 0, 0) == alive.counts(now=T0)


def test_delivery_too_large_for_the_queue_is_a_delivery_failure(
    broker: Broker, topic: TopicMachine
) -> None:
    """An envelope larger than the queue's MaximumMessageSize is a client-side failure."""
    small = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)
    record = broker.subscribe(topic, small)

    outcome = broker.publish(topic, "x" * 1000, now=T0)

    assert [] == outcome.delivered_to
    assert [record.arn] == [e.subscription for e in broker.events if isinstance(e, DeliveryFailed)]
    assert QueueStatistics(0, 0, 0) == small.counts(now=T0)


@pytest.mark.parametrize("raw", [False, True], ids=["envelope", "raw"])
def test_message_group_id_is_forwarded_to_standard_queues(
    broker: Broker, topic: TopicMachine, queue: QueueMachine, raw: bool
) -> None:
    """A standard topic forwards MessageGroupId to SQS standard subscriptions."""
    broker.subscribe(topic, queue, raw_message_delivery=raw)

    broker.publish(topic, "m", now=T0, message_group_id="tenant-7")

    assert "tenant-7" == receive_one(broker, queue).attributes["MessageGroupId"]


def test_without_group_id_no_group_attribute_is_delivered(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """No MessageGroupId on publish, none on the SQS message."""
    broker.subscribe(topic, queue)

    broker.publish(topic, "m", now=T0)

    assert "MessageGroupId" not in receive_one(broker, queue).attributes


def test_unsubscribed_queue_gets_nothing(
    broker: Broker, topic: TopicMachine, queue: QueueMachine
) -> None:
    """After Unsubscribe, publishes no longer reach the queue."""
    record = broker.subscribe(topic, queue)
    broker.unsubscribe(record.arn)

    outcome = broker.publish(topic, "m", now=T0)

    assert [] == outcome.delivered_to
    assert QueueStatistics(0, 0, 0) == queue.counts(now=T0)
