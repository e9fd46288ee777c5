"""The standard SQS queue machine and the broker around it, rule by rule of the spec.

Every rule of ``aws-semantics.md`` sections 1, 2.1-2.3 and 7 that applies to a
standard queue has a test here. Each refused call is also checked to have changed
nothing: the counts stay the same, or the message is still there to receive.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from eventbus._core._attributes import MessageAttributeValue
from eventbus._core._batch import (
    ChangeVisibilityBatchEntry,
    DeleteBatchEntry,
    SendBatchEntry,
)
from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._events import MessageDeadLettered, QueuePurged
from eventbus._core._ids import CountingIds
from eventbus._core._message import QueueStatistics, ReceivedMessage
from eventbus._core._names import queue_arn
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings, RedriveRule

REGION = "us-east-1"
T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z, the moment every test starts at."""
MIB = 1_048_576
EMPTY = QueueStatistics(0, 0, 0)


@pytest.fixture
def broker() -> Broker:
    """A broker with replayable ids."""
    return Broker(region=REGION, ids=CountingIds())


@pytest.fixture
def queue(broker: Broker) -> QueueMachine:
    """A standard queue with the default attributes."""
    return broker.create_queue("orders", QueueSettings(), now=T0)


def refused(code: str, call: object, *args: object, **kwargs: object) -> EventBusError:
    """Call ``call`` and return the EventBusError it must raise with ``code``."""
    assert callable(call)
    with pytest.raises(EventBusError) as caught:
        call(*args, **kwargs)

    assert code == caught.value.code
    return caught.value


def receive_one(
    broker: Broker, queue: QueueMachine, *, now: float, visibility_timeout: int | None = None
) -> ReceivedMessage:
    """Receive exactly one message."""
    got = broker.receive(queue, now=now, visibility_timeout=visibility_timeout)

    assert 1 == len(got)
    return got[0]


def with_dlq(
    broker: Broker,
    *,
    max_receive_count: int,
    visibility_timeout: int = 30,
    dlq_retention: int = 345_600,
) -> tuple[QueueMachine, QueueMachine]:
    """A source queue whose redrive policy points at a fresh dead-letter queue."""
    dlq = broker.create_queue(
        "orders-dlq", QueueSettings(message_retention_period=dlq_retention), now=T0
    )
    source = broker.create_queue(
        "orders",
        QueueSettings(
            visibility_timeout=visibility_timeout,
            redrive_policy=RedriveRule(dlq.arn, max_receive_count),
        ),
        now=T0,
    )
    return source, dlq


# ----------------------------------------------------------------------------- send


def test_send_with_an_empty_body_is_missing_parameter(queue: QueueMachine) -> None:
    """An empty body is refused with MissingParameter and nothing is enqueued."""
    error = refused("MissingParameter", queue.send, "", now=T0)

    assert "The request must contain the parameter MessageBody." == error.message
    assert EMPTY == queue.counts(now=T0)


@pytest.mark.parametrize(
    "bad",
    ["\x00", "\x08", "\x0b", "\x13", "\x1f", "\ufffe", "\uffff", chr(0xD800), chr(0xDFFF)],
    ids=["nul", "backspace", "vtab", "0x13", "0x1f", "fffe", "ffff", "high-surrogate", "low"],
)
def test_send_with_a_character_outside_xml_chars_is_invalid_message_contents(
    queue: QueueMachine, bad: str
) -> None:
    """A body holding a character outside the XML 1.0 Char set is refused, not replaced."""
    refused("InvalidMessageContents", queue.send, f"ok{bad}ok", now=T0)

    assert EMPTY == queue.counts(now=T0)


def test_send_accepts_every_edge_of_the_allowed_character_ranges(
    broker: Broker, queue: QueueMachine
) -> None:
    """Tab, LF, CR and the ends of each allowed range are accepted and kept exactly."""
    body = "\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff"

    queue.send(body, now=T0)

    assert body == receive_one(broker, queue, now=T0).body


def test_body_exactly_at_the_maximum_size_is_accepted(broker: Broker) -> None:
    """A body of exactly MaximumMessageSize bytes is accepted."""
    queue = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)

    queue.send("x" * 1024, now=T0)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_body_one_byte_over_the_maximum_size_is_refused(broker: Broker) -> None:
    """One byte over MaximumMessageSize is InvalidParameterValue naming the limit."""
    queue = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)

    error = refused("InvalidParameterValue", queue.send, "x" * 1025, now=T0)

    assert "Message must be shorter than 1024 bytes" in error.message
    assert EMPTY == queue.counts(now=T0)


def test_body_size_is_counted_in_utf8_bytes_not_characters(broker: Broker) -> None:
    """512 two-byte characters fill a 1024-byte queue; one more byte does not fit."""
    queue = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)

    queue.send("é" * 512, now=T0)
    refused("InvalidParameterValue", queue.send, "é" * 512 + "a", now=T0)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_attribute_names_types_and_values_count_toward_the_size(broker: Broker) -> None:
    """Body + name + type + value must fit: 1014 + len('a'+'String'+'xyz') is exactly 1024."""
    queue = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)
    attributes: dict[str, object] = {"a": "xyz"}

    queue.send("x" * 1014, now=T0, message_attributes=attributes)
    refused("InvalidParameterValue", queue.send, "x" * 1015, now=T0, message_attributes=attributes)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_binary_attribute_counts_its_raw_bytes_toward_the_size(broker: Broker) -> None:
    """A Binary value counts its raw length (not base64): 1000 + 1 + 6 + 17 is 1024."""
    queue = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)

    queue.send("x" * 1000, now=T0, message_attributes={"b": b"\x00" * 17})
    refused(
        "InvalidParameterValue",
        queue.send,
        "x" * 1000,
        now=T0,
        message_attributes={"b": b"\x00" * 18},
    )

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_default_maximum_size_is_one_mebibyte(queue: QueueMachine) -> None:
    """The default limit is 1,048,576 bytes: exactly that is accepted, one more refused."""
    queue.send("x" * MIB, now=T0)
    error = refused("InvalidParameterValue", queue.send, "x" * (MIB + 1), now=T0)

    assert "1048576" in error.message
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_send_result_carries_the_md5_of_the_body(queue: QueueMachine) -> None:
    """SendMessage returns the hex MD5 of the UTF-8 body and no attribute digest without any."""
    result = queue.send("hello", now=T0)

    assert "5d41402abc4b2a76b9719d911017c592" == result.md5_of_message_body
    assert result.md5_of_message_attributes is None


def test_each_send_gets_a_new_message_id(queue: QueueMachine) -> None:
    """Two identical sends are two messages with distinct ids."""
    first = queue.send("same", now=T0)
    second = queue.send("same", now=T0)

    assert first.message_id != second.message_id
    assert QueueStatistics(2, 0, 0) == queue.counts(now=T0)


def test_per_message_delay_hides_the_message_until_it_ends(
    broker: Broker, queue: QueueMachine
) -> None:
    """DelaySeconds=10 counts as delayed and is not receivable until 10 s later."""
    queue.send("later", now=T0, delay_seconds=10)

    assert QueueStatistics(0, 0, 1) == queue.counts(now=T0 + 9.999)
    assert [] == broker.receive(queue, now=T0 + 9.999)
    assert "later" == receive_one(broker, queue, now=T0 + 10).body


@pytest.mark.parametrize("delay", [0, 900])
def test_per_message_delay_accepts_both_ends_of_0_to_900(queue: QueueMachine, delay: int) -> None:
    """DelaySeconds 0 and 900 are both valid."""
    queue.send("x", now=T0, delay_seconds=delay)

    assert 1 == queue.counts(now=T0).total


@pytest.mark.parametrize("delay", [-1, 901, True, 1.5])
def test_per_message_delay_outside_0_to_900_is_refused(queue: QueueMachine, delay: object) -> None:
    """DelaySeconds outside 0-900 (or not an integer) is InvalidParameterValue; nothing sent."""
    refused("InvalidParameterValue", queue.send, "x", now=T0, delay_seconds=delay)

    assert EMPTY == queue.counts(now=T0)


def test_queue_delay_applies_when_the_message_gives_none(broker: Broker) -> None:
    """A queue's DelaySeconds delays messages sent without their own delay."""
    queue = broker.create_queue("slow", QueueSettings(delay_seconds=5), now=T0)

    queue.send("x", now=T0)

    assert QueueStatistics(0, 0, 1) == queue.counts(now=T0 + 4)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 5)


def test_per_message_delay_zero_overrides_the_queue_delay(broker: Broker) -> None:
    """DelaySeconds=0 on the message makes it visible at once despite the queue's delay."""
    queue = broker.create_queue("slow", QueueSettings(delay_seconds=5), now=T0)

    queue.send("x", now=T0, delay_seconds=0)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_changing_the_queue_delay_is_not_retroactive(broker: Broker) -> None:
    """On a standard queue a new DelaySeconds affects only messages sent afterwards."""
    queue = broker.create_queue("slow", QueueSettings(delay_seconds=60), now=T0)
    queue.send("old", now=T0)

    broker.set_queue_settings(queue, QueueSettings(delay_seconds=0), now=T0 + 1)
    queue.send("new", now=T0 + 1)

    assert QueueStatistics(1, 0, 1) == queue.counts(now=T0 + 59)
    assert QueueStatistics(2, 0, 0) == queue.counts(now=T0 + 60)


def test_message_group_id_is_accepted_and_returned_on_a_standard_queue(
    broker: Broker, queue: QueueMachine
) -> None:
    """A standard (fair) queue keeps MessageGroupId and returns it as a system attribute."""
    queue.send("x", now=T0, message_group_id="tenant-1")

    got = receive_one(broker, queue, now=T0)

    assert "tenant-1" == got.attributes["MessageGroupId"]


def test_message_without_group_id_has_no_group_attribute(
    broker: Broker, queue: QueueMachine
) -> None:
    """Without a group id there is no MessageGroupId system attribute."""
    queue.send("x", now=T0)

    assert "MessageGroupId" not in receive_one(broker, queue, now=T0).attributes


@pytest.mark.parametrize("group", ["", "has space", "x" * 129, "é"])
def test_malformed_message_group_id_is_refused(queue: QueueMachine, group: str) -> None:
    """A group id must be 1-128 alphanumeric or punctuation characters."""
    refused("InvalidParameterValue", queue.send, "x", now=T0, message_group_id=group)

    assert EMPTY == queue.counts(now=T0)


def test_deduplication_id_is_refused_on_a_standard_queue(queue: QueueMachine) -> None:
    """MessageDeduplicationId is not valid for a standard queue; nothing is sent."""
    refused("InvalidParameterValue", queue.send, "x", now=T0, message_deduplication_id="d-1")

    assert EMPTY == queue.counts(now=T0)


# -------------------------------------------------------------------------- receive


@pytest.mark.parametrize("max_messages", [0, 11, -1, True])
def test_max_number_of_messages_outside_1_to_10_is_refused(
    broker: Broker, queue: QueueMachine, max_messages: object
) -> None:
    """MaxNumberOfMessages must be 1-10; a refused receive leaves the message untouched."""
    queue.send("x", now=T0)

    error = refused(
        "InvalidParameterValue", broker.receive, queue, now=T0, max_messages=max_messages
    )

    assert "Must be between 1 and 10, if provided." in error.message
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)
    assert 1 == receive_one(broker, queue, now=T0).receive_count


def test_receive_returns_at_most_max_number_of_messages(
    broker: Broker, queue: QueueMachine
) -> None:
    """Fifteen visible messages and MaxNumberOfMessages=10 give ten, then five."""
    for i in range(15):
        queue.send(f"m{i}", now=T0)

    first = broker.receive(queue, now=T0, max_messages=10)
    second = broker.receive(queue, now=T0, max_messages=10)

    assert (10, 5) == (len(first), len(second))
    assert 15 == len({m.message_id for m in first + second})


def test_receive_from_an_empty_queue_returns_nothing(broker: Broker, queue: QueueMachine) -> None:
    """Nothing visible, nothing returned."""
    assert [] == broker.receive(queue, now=T0, max_messages=10)


def test_received_message_is_hidden_for_the_queue_visibility_timeout(
    broker: Broker, queue: QueueMachine
) -> None:
    """After a receive the message is in flight for the default 30 s, then visible again."""
    queue.send("x", now=T0)
    receive_one(broker, queue, now=T0)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 29.999)
    assert [] == broker.receive(queue, now=T0 + 29.999)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 30)


def test_receive_visibility_override_applies_to_that_receive(
    broker: Broker, queue: QueueMachine
) -> None:
    """A receive's VisibilityTimeout=5 hides the message for 5 s instead of 30."""
    queue.send("x", now=T0)
    receive_one(broker, queue, now=T0, visibility_timeout=5)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 4)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 5)


def test_receive_visibility_zero_makes_the_message_visible_again_at_once(
    broker: Broker, queue: QueueMachine
) -> None:
    """VisibilityTimeout=0 on receive: the message is immediately receivable again."""
    queue.send("x", now=T0)
    receive_one(broker, queue, now=T0, visibility_timeout=0)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)
    assert 2 == receive_one(broker, queue, now=T0).receive_count


@pytest.mark.parametrize("timeout", [-1, 43_201, True])
def test_receive_visibility_override_out_of_range_is_refused(
    broker: Broker, queue: QueueMachine, timeout: object
) -> None:
    """A receive VisibilityTimeout outside 0-43200 is refused; the message stays visible."""
    queue.send("x", now=T0)

    refused("InvalidParameterValue", broker.receive, queue, now=T0, visibility_timeout=timeout)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_each_receive_mints_a_new_receipt_handle_and_counts_up(
    broker: Broker, queue: QueueMachine
) -> None:
    """Three receives give three distinct handles and receive counts 1, 2, 3."""
    queue.send("x", now=T0)

    got = [receive_one(broker, queue, now=T0 + 31 * i) for i in range(3)]

    assert 3 == len({m.receipt_handle for m in got})
    assert [1, 2, 3] == [m.receive_count for m in got]
    assert ["1", "2", "3"] == [m.attributes["ApproximateReceiveCount"] for m in got]
    assert 1 == len({m.message_id for m in got})


def test_system_attributes_carry_timestamps_in_milliseconds_and_a_sender(
    broker: Broker, queue: QueueMachine
) -> None:
    """SentTimestamp and ApproximateFirstReceiveTimestamp are epoch ms; the first is kept."""
    queue.send("x", now=T0 + 0.25)

    first = receive_one(broker, queue, now=T0 + 1.5)
    second = receive_one(broker, queue, now=T0 + 40)

    assert str(int(T0) * 1000 + 250) == first.attributes["SentTimestamp"]
    assert str(int(T0) * 1000 + 1500) == first.attributes["ApproximateFirstReceiveTimestamp"]
    assert str(int(T0) * 1000 + 250) == second.attributes["SentTimestamp"]
    assert str(int(T0) * 1000 + 1500) == second.attributes["ApproximateFirstReceiveTimestamp"]
    assert first.attributes["SenderId"]
    assert first.attributes["SenderId"] == second.attributes["SenderId"]


def test_received_message_carries_body_attributes_and_digests(
    broker: Broker, queue: QueueMachine
) -> None:
    """Receive returns the body, the attributes and the same digests SendMessage returned."""
    sent = queue.send("hello", now=T0, message_attributes={"n": 6, "s": "x", "b": b"\x01"})

    got = receive_one(broker, queue, now=T0)

    assert sent.message_id == got.message_id
    assert "hello" == got.body
    assert sent.md5_of_message_body == got.md5_of_body
    assert sent.md5_of_message_attributes == got.md5_of_message_attributes
    assert {
        "n": MessageAttributeValue("Number", string_value="6"),
        "s": MessageAttributeValue("String", string_value="x"),
        "b": MessageAttributeValue("Binary", binary_value=b"\x01"),
    } == dict(got.message_attributes)


# --------------------------------------------------------------------------- delete


def test_delete_removes_an_in_flight_message(broker: Broker, queue: QueueMachine) -> None:
    """Deleting with the handle of the current receive removes the message for good."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    queue.delete(handle, now=T0)

    assert EMPTY == queue.counts(now=T0 + 3600)
    assert [] == broker.receive(queue, now=T0 + 3600)


def test_delete_twice_with_the_same_handle_succeeds(broker: Broker, queue: QueueMachine) -> None:
    """DeleteMessage is idempotent on a standard queue: the second call succeeds too."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    queue.delete(handle, now=T0)
    queue.delete(handle, now=T0 + 1)

    assert EMPTY == queue.counts(now=T0 + 1)


def test_delete_after_the_visibility_timeout_expired_still_deletes(
    broker: Broker, queue: QueueMachine
) -> None:
    """A handle whose visibility ran out (message not re-received) still deletes it."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 31)

    queue.delete(handle, now=T0 + 31)

    assert EMPTY == queue.counts(now=T0 + 31)
    assert [] == broker.receive(queue, now=T0 + 31)


def test_delete_with_an_older_handle_after_a_new_receive_succeeds(
    broker: Broker, queue: QueueMachine
) -> None:
    """An old receipt handle is accepted by DeleteMessage (no error) after a re-receive."""
    queue.send("x", now=T0)
    old = receive_one(broker, queue, now=T0).receipt_handle
    receive_one(broker, queue, now=T0 + 31)

    queue.delete(old, now=T0 + 32)

    assert 0 == queue.counts(now=T0 + 32).visible


@pytest.mark.parametrize(
    "handle",
    ["garbage", "", base64.urlsafe_b64encode(b"a/b/c/d").decode(), "\u00e9"],
    ids=["garbage", "empty", "well-formed-foreign", "non-ascii"],
)
def test_delete_with_a_garbage_handle_is_receipt_handle_is_invalid(
    broker: Broker, queue: QueueMachine, handle: str
) -> None:
    """A handle the queue never issued is ReceiptHandleIsInvalid; the message stays in flight."""
    queue.send("x", now=T0)
    receive_one(broker, queue, now=T0)

    refused("ReceiptHandleIsInvalid", queue.delete, handle, now=T0)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0)


def test_delete_with_another_queues_handle_is_receipt_handle_is_invalid(
    broker: Broker, queue: QueueMachine
) -> None:
    """A handle issued by another queue is refused and deletes nothing on either queue."""
    other = broker.create_queue("other", QueueSettings(), now=T0)
    queue.send("x", now=T0)
    other.send("y", now=T0)
    receive_one(broker, queue, now=T0)
    foreign = receive_one(broker, other, now=T0).receipt_handle

    refused("ReceiptHandleIsInvalid", queue.delete, foreign, now=T0)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0)
    assert QueueStatistics(0, 1, 0) == other.counts(now=T0)


def test_handle_of_a_deleted_and_recreated_queue_is_invalid(broker: Broker) -> None:
    """A queue re-created under the same name does not accept the old queue's handles."""
    old = broker.create_queue("orders", QueueSettings(), now=T0)
    old.send("x", now=T0)
    handle = receive_one(broker, old, now=T0).receipt_handle
    broker.delete_queue("orders", now=T0)
    new = broker.create_queue("orders", QueueSettings(), now=T0 + 60)
    new.send("y", now=T0 + 60)

    refused("ReceiptHandleIsInvalid", new.delete, handle, now=T0 + 60)

    assert QueueStatistics(1, 0, 0) == new.counts(now=T0 + 60)


# --------------------------------------------------------------- change visibility


def test_change_visibility_zero_makes_the_message_visible_now(
    broker: Broker, queue: QueueMachine
) -> None:
    """ChangeMessageVisibility(0) ends the visibility timeout at once."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    queue.change_visibility(handle, 0, now=T0 + 1)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 1)
    assert 2 == receive_one(broker, queue, now=T0 + 1).receive_count


def test_change_visibility_counts_from_the_call_not_from_the_receive(
    broker: Broker, queue: QueueMachine
) -> None:
    """At +20 a new timeout of 15 hides the message until +35 (not +15)."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    queue.change_visibility(handle, 15, now=T0 + 20)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 34.999)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 35)


def test_change_visibility_can_shorten_the_timeout(broker: Broker, queue: QueueMachine) -> None:
    """A shorter timeout than the remaining one takes effect: visible at +10+5."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    queue.change_visibility(handle, 5, now=T0 + 10)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 15)


def test_changed_visibility_does_not_carry_over_to_the_next_receive(
    broker: Broker, queue: QueueMachine
) -> None:
    """After a change to 300 s and a re-receive, the queue's 30 s applies again."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle
    queue.change_visibility(handle, 300, now=T0)
    queue.change_visibility(handle, 0, now=T0 + 1)

    receive_one(broker, queue, now=T0 + 1)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 31)


def test_change_visibility_with_an_older_handle_after_a_newer_receive_works(
    broker: Broker, queue: QueueMachine
) -> None:
    """Visibility 0 through an older handle makes the re-received message visible."""
    queue.send("x", now=T0)
    old = receive_one(broker, queue, now=T0, visibility_timeout=0).receipt_handle
    receive_one(broker, queue, now=T0)

    queue.change_visibility(old, 0, now=T0 + 1)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 1)


def test_change_visibility_up_to_twelve_hours_after_the_receive_is_accepted(
    broker: Broker, queue: QueueMachine
) -> None:
    """At +100 a timeout of 43100 ends exactly 12 h after the receive: accepted."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0, visibility_timeout=600).receipt_handle

    queue.change_visibility(handle, 43_100, now=T0 + 100)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 43_199)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 43_200)


def test_change_visibility_past_twelve_hours_from_the_receive_is_refused(
    broker: Broker, queue: QueueMachine
) -> None:
    """At +100 a timeout of 43200 would pass the 12-hour cap: refused, timeout unchanged."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0, visibility_timeout=600).receipt_handle

    refused("InvalidParameterValue", queue.change_visibility, handle, 43_200, now=T0 + 100)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 599)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 600)


def test_extending_visibility_does_not_reset_the_twelve_hour_cap(
    broker: Broker, queue: QueueMachine
) -> None:
    """The cap counts from the receive: a second extension past it is refused."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle
    queue.change_visibility(handle, 43_190, now=T0 + 10)

    refused("InvalidParameterValue", queue.change_visibility, handle, 43_190, now=T0 + 20)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 43_200)


def test_change_visibility_of_a_deleted_message_is_invalid_parameter_value(
    broker: Broker, queue: QueueMachine
) -> None:
    """ChangeMessageVisibility on a deleted message: InvalidParameterValue."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle
    queue.delete(handle, now=T0)

    error = refused("InvalidParameterValue", queue.change_visibility, handle, 10, now=T0)

    assert "Message does not exist or is not available for visibility timeout change" in (
        error.message
    )
    assert EMPTY == queue.counts(now=T0)


@pytest.mark.parametrize("timeout", [-1, 43_201, True, 1.5])
def test_change_visibility_out_of_range_is_refused(
    broker: Broker, queue: QueueMachine, timeout: object
) -> None:
    """A timeout outside 0-43200 is InvalidParameterValue; the message stays in flight."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    refused("InvalidParameterValue", queue.change_visibility, handle, timeout, now=T0)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 29)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 30)


def test_change_visibility_with_a_garbage_handle_is_receipt_handle_is_invalid(
    broker: Broker, queue: QueueMachine
) -> None:
    """A handle the queue never issued: ReceiptHandleIsInvalid; the message stays in flight."""
    queue.send("x", now=T0)
    receive_one(broker, queue, now=T0)

    refused("ReceiptHandleIsInvalid", queue.change_visibility, "garbage", 0, now=T0)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0)


# ---------------------------------------------------------------------------- purge


def test_purge_deletes_visible_in_flight_and_delayed_messages(
    broker: Broker, queue: QueueMachine
) -> None:
    """PurgeQueue removes every message, in-flight and delayed ones included."""
    queue.send("in-flight", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle
    queue.send("visible", now=T0)
    queue.send("delayed", now=T0, delay_seconds=600)
    assert QueueStatistics(1, 1, 1) == queue.counts(now=T0)

    purged = queue.purge(now=T0)

    assert 3 == purged
    assert EMPTY == queue.counts(now=T0 + 3600)
    assert [] == broker.receive(queue, now=T0 + 3600, max_messages=10)
    refused("InvalidParameterValue", queue.change_visibility, handle, 10, now=T0 + 1)


def test_second_purge_within_60_seconds_is_purge_queue_in_progress(
    queue: QueueMachine,
) -> None:
    """A purge 59.9 s after the last one is refused and deletes nothing."""
    queue.purge(now=T0)
    queue.send("after", now=T0 + 1)

    error = refused("PurgeQueueInProgress", queue.purge, now=T0 + 59.9)

    assert "Only one PurgeQueue operation on orders is allowed every 60 seconds." == error.message
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 59.9)


def test_purge_is_allowed_again_after_60_seconds(queue: QueueMachine) -> None:
    """Sixty seconds after a purge the next purge goes through."""
    queue.purge(now=T0)
    queue.send("after", now=T0 + 1)

    assert 1 == queue.purge(now=T0 + 60)
    assert EMPTY == queue.counts(now=T0 + 60)


def test_purge_records_an_event(broker: Broker, queue: QueueMachine) -> None:
    """A purge is recorded as a QueuePurged event with the number of messages."""
    queue.send("x", now=T0)

    queue.purge(now=T0)

    assert QueuePurged("orders", 1) in broker.events


def test_purge_does_not_count_messages_that_had_already_expired(broker: Broker) -> None:
    """Messages past retention at the purge's ``now`` are expired, not purged."""
    queue = broker.create_queue("short", QueueSettings(message_retention_period=60), now=T0)
    queue.send("x", now=T0)

    purged = queue.purge(now=T0 + 100)
    stats = queue.counts(now=T0 + 100)

    assert (0, 1, 0) == (purged, stats.expired, stats.purged)


# ------------------------------------------------------------------------ retention


def test_message_expires_at_the_end_of_the_retention_period(broker: Broker) -> None:
    """With MessageRetentionPeriod=60 a message is there at +59.9 and gone at +60."""
    queue = broker.create_queue("short", QueueSettings(message_retention_period=60), now=T0)
    queue.send("x", now=T0)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 59.9)
    assert EMPTY == queue.counts(now=T0 + 60)
    assert [] == broker.receive(queue, now=T0 + 60)


def test_in_flight_and_delayed_messages_expire_too(broker: Broker) -> None:
    """Retention applies to in-flight and delayed messages as well."""
    queue = broker.create_queue(
        "short", QueueSettings(message_retention_period=60, visibility_timeout=600), now=T0
    )
    queue.send("flying", now=T0)
    receive_one(broker, queue, now=T0)
    queue.send("waiting", now=T0, delay_seconds=300)
    assert QueueStatistics(0, 1, 1) == queue.counts(now=T0 + 59)

    assert EMPTY == queue.counts(now=T0 + 60)


def test_retention_counts_from_the_send_not_from_the_end_of_the_delay(broker: Broker) -> None:
    """A message delayed 50 s in a 60 s queue is visible for 10 s only."""
    queue = broker.create_queue("short", QueueSettings(message_retention_period=60), now=T0)
    queue.send("x", now=T0, delay_seconds=50)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 55)
    assert EMPTY == queue.counts(now=T0 + 60)


def test_lowering_the_retention_period_expires_old_messages_at_once(
    broker: Broker, queue: QueueMachine
) -> None:
    """Setting retention to 60 s drops messages older than 60 s; younger ones stay."""
    queue.send("old", now=T0)
    queue.send("young", now=T0 + 190)

    broker.set_queue_settings(queue, QueueSettings(message_retention_period=60), now=T0 + 200)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 200)
    assert "young" == receive_one(broker, queue, now=T0 + 200).body


def test_delete_of_an_expired_message_deletes_nothing_else(broker: Broker) -> None:
    """A handle of an expired message deletes nothing and raises nothing."""
    queue = broker.create_queue("short", QueueSettings(message_retention_period=60), now=T0)
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle
    queue.send("y", now=T0 + 30)

    queue.delete(handle, now=T0 + 61)

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 61)


# --------------------------------------------------------------------------- counts


def test_counts_separate_visible_in_flight_and_delayed(broker: Broker, queue: QueueMachine) -> None:
    """ApproximateNumberOfMessages / NotVisible / Delayed count each state on its own."""
    for i in range(3):
        queue.send(f"v{i}", now=T0)
    queue.send("d", now=T0, delay_seconds=10)
    broker.receive(queue, now=T0, max_messages=2)

    assert QueueStatistics(1, 2, 1) == queue.counts(now=T0)
    assert QueueStatistics(2, 2, 0) == queue.counts(now=T0 + 10)
    assert QueueStatistics(4, 0, 0) == queue.counts(now=T0 + 30)


# ---------------------------------------------------------------------------- batch


def test_send_batch_with_no_entries_is_empty_batch_request(queue: QueueMachine) -> None:
    """Zero entries: EmptyBatchRequest."""
    refused("EmptyBatchRequest", queue.send_batch, [], now=T0)

    assert EMPTY == queue.counts(now=T0)


def test_delete_and_change_visibility_batches_with_no_entries_are_refused(
    queue: QueueMachine,
) -> None:
    """DeleteMessageBatch and ChangeMessageVisibilityBatch need an entry too."""
    refused("EmptyBatchRequest", queue.delete_batch, [], now=T0)
    refused("EmptyBatchRequest", queue.change_visibility_batch, [], now=T0)


def test_send_batch_with_eleven_entries_is_too_many_entries(queue: QueueMachine) -> None:
    """Eleven entries: TooManyEntriesInBatchRequest, and none is sent."""
    entries = [SendBatchEntry(f"e{i}", "x") for i in range(11)]

    error = refused("TooManyEntriesInBatchRequest", queue.send_batch, entries, now=T0)

    assert "You have sent 11" in error.message
    assert EMPTY == queue.counts(now=T0)


def test_send_batch_with_ten_entries_sends_all_ten(queue: QueueMachine) -> None:
    """Ten entries is the maximum and all succeed."""
    result = queue.send_batch([SendBatchEntry(f"e{i}", f"m{i}") for i in range(10)], now=T0)

    assert [f"e{i}" for i in range(10)] == [entry.id for entry in result.successful]
    assert [] == result.failed
    assert QueueStatistics(10, 0, 0) == queue.counts(now=T0)


@pytest.mark.parametrize("bad_id", ["", "x" * 81, "a b", "a.b", "é", "a/b"])
def test_send_batch_with_a_bad_entry_id_is_invalid_batch_entry_id(
    queue: QueueMachine, bad_id: str
) -> None:
    """Entry ids are 1-80 of [A-Za-z0-9_-]; a bad one fails the whole request."""
    entries = [SendBatchEntry("good", "x"), SendBatchEntry(bad_id, "y")]

    refused("InvalidBatchEntryId", queue.send_batch, entries, now=T0)

    assert EMPTY == queue.counts(now=T0)


def test_send_batch_accepts_an_80_character_entry_id(queue: QueueMachine) -> None:
    """An entry id of exactly 80 allowed characters is fine."""
    entry_id = "A-_9" * 20

    result = queue.send_batch([SendBatchEntry(entry_id, "x")], now=T0)

    assert [entry_id] == [entry.id for entry in result.successful]


def test_send_batch_with_duplicate_ids_is_batch_entry_ids_not_distinct(
    queue: QueueMachine,
) -> None:
    """Two entries with the same id fail the whole request; nothing is sent."""
    entries = [SendBatchEntry("same", "x"), SendBatchEntry("same", "y")]

    refused("BatchEntryIdsNotDistinct", queue.send_batch, entries, now=T0)

    assert EMPTY == queue.counts(now=T0)


def test_send_batch_over_one_mebibyte_in_total_is_batch_request_too_long(
    queue: QueueMachine,
) -> None:
    """Two valid 600 KB entries together pass 1 MiB: BatchRequestTooLong, nothing sent."""
    entries = [SendBatchEntry("a", "x" * 600_000), SendBatchEntry("b", "y" * 600_000)]

    error = refused("BatchRequestTooLong", queue.send_batch, entries, now=T0)

    assert "You have sent 1200000 bytes." in error.message
    assert EMPTY == queue.counts(now=T0)


def test_send_batch_of_exactly_one_mebibyte_is_accepted(queue: QueueMachine) -> None:
    """Entries adding up to exactly 1,048,576 bytes are accepted."""
    half = MIB // 2
    entries = [SendBatchEntry("a", "x" * half), SendBatchEntry("b", "y" * half)]

    result = queue.send_batch(entries, now=T0)

    assert 2 == len(result.successful)
    assert QueueStatistics(2, 0, 0) == queue.counts(now=T0)


def test_send_batch_reports_each_failed_entry_beside_the_successes(
    broker: Broker,
) -> None:
    """Bad entries fail with their own code; the good ones are sent."""
    queue = broker.create_queue("small", QueueSettings(maximum_message_size=1024), now=T0)
    entries = [
        SendBatchEntry("ok1", "first"),
        SendBatchEntry("empty", ""),
        SendBatchEntry("nul", "a\x00b"),
        SendBatchEntry("big", "x" * 1025),
        SendBatchEntry("delay", "x", delay_seconds=901),
        SendBatchEntry("dedup", "x", message_deduplication_id="d"),
        SendBatchEntry("ok2", "second"),
    ]

    result = queue.send_batch(entries, now=T0)

    assert ["ok1", "ok2"] == [entry.id for entry in result.successful]
    assert [
        ("empty", "MissingParameter"),
        ("nul", "InvalidMessageContents"),
        ("big", "InvalidParameterValue"),
        ("delay", "InvalidParameterValue"),
        ("dedup", "InvalidParameterValue"),
    ] == [(failure.id, failure.code) for failure in result.failed]
    assert all(failure.sender_fault for failure in result.failed)
    assert {"first", "second"} == {m.body for m in broker.receive(queue, now=T0, max_messages=10)}


def test_send_batch_successes_carry_message_ids_and_digests(
    broker: Broker, queue: QueueMachine
) -> None:
    """Each successful entry returns the message id and MD5 of the message it created."""
    result = queue.send_batch([SendBatchEntry("a", "hello")], now=T0)

    (entry,) = result.successful
    got = receive_one(broker, queue, now=T0)
    assert (got.message_id, "5d41402abc4b2a76b9719d911017c592") == (
        entry.message_id,
        entry.md5_of_message_body,
    )


def test_send_batch_entry_delays_apply_per_entry(queue: QueueMachine) -> None:
    """Each entry's DelaySeconds applies to that entry only."""
    queue.send_batch(
        [SendBatchEntry("now", "a"), SendBatchEntry("later", "b", delay_seconds=10)], now=T0
    )

    assert QueueStatistics(1, 0, 1) == queue.counts(now=T0)


def test_delete_batch_reports_a_bad_handle_beside_a_good_one(
    broker: Broker, queue: QueueMachine
) -> None:
    """A garbage handle fails its entry with ReceiptHandleIsInvalid; the other deletes."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    result = queue.delete_batch(
        [DeleteBatchEntry("good", handle), DeleteBatchEntry("bad", "garbage")], now=T0
    )

    assert ["good"] == result.successful
    assert [("bad", "ReceiptHandleIsInvalid")] == [(f.id, f.code) for f in result.failed]
    assert EMPTY == queue.counts(now=T0)


def test_delete_batch_applies_the_whole_request_rules(queue: QueueMachine) -> None:
    """Delete batches refuse 11 entries and duplicate ids like send batches."""
    eleven = [DeleteBatchEntry(f"e{i}", "h") for i in range(11)]
    twins = [DeleteBatchEntry("same", "h"), DeleteBatchEntry("same", "h")]

    refused("TooManyEntriesInBatchRequest", queue.delete_batch, eleven, now=T0)
    refused("BatchEntryIdsNotDistinct", queue.delete_batch, twins, now=T0)
    refused("InvalidBatchEntryId", queue.delete_batch, [DeleteBatchEntry("a b", "h")], now=T0)


def test_change_visibility_batch_reports_failures_beside_successes(
    broker: Broker, queue: QueueMachine
) -> None:
    """Per-entry failures: a garbage handle and an out-of-range timeout; the good one applies."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle

    result = queue.change_visibility_batch(
        [
            ChangeVisibilityBatchEntry("good", handle, 0),
            ChangeVisibilityBatchEntry("garbage", "garbage", 0),
            ChangeVisibilityBatchEntry("range", handle, 43_201),
        ],
        now=T0,
    )

    assert ["good"] == result.successful
    assert [("garbage", "ReceiptHandleIsInvalid"), ("range", "InvalidParameterValue")] == [
        (f.id, f.code) for f in result.failed
    ]
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


def test_change_visibility_batch_with_eleven_entries_is_refused(
    broker: Broker, queue: QueueMachine
) -> None:
    """Eleven entries fail the whole request; no visibility changes."""
    queue.send("x", now=T0)
    handle = receive_one(broker, queue, now=T0).receipt_handle
    entries = [ChangeVisibilityBatchEntry(f"e{i}", handle, 0) for i in range(11)]

    refused("TooManyEntriesInBatchRequest", queue.change_visibility_batch, entries, now=T0)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0)


# ------------------------------------------------------------------ dead-letter queue


def test_dead_letter_move_is_lazy_and_happens_on_the_receive_past_the_limit(
    broker: Broker,
) -> None:
    """maxReceiveCount=2: two receives return it; nothing moves on expiry; the third moves it."""
    source, dlq = with_dlq(broker, max_receive_count=2)
    source.send("x", now=T0)

    assert 1 == receive_one(broker, source, now=T0).receive_count
    assert 2 == receive_one(broker, source, now=T0 + 30).receive_count
    assert QueueStatistics(1, 0, 0) == source.counts(now=T0 + 600)
    assert EMPTY == dlq.counts(now=T0 + 600)

    got = broker.receive(source, now=T0 + 600, max_messages=10)

    assert [] == got
    assert EMPTY == source.counts(now=T0 + 600)
    assert QueueStatistics(1, 0, 0) == dlq.counts(now=T0 + 600)


def test_max_receive_count_one_with_visibility_zero_matches_the_aws_recording(
    broker: Broker,
) -> None:
    """maxReceiveCount=1, VisibilityTimeout=0: #1 returns, #2 nothing, DLQ shows count 2."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=0)
    sent = source.send("x", now=T0)

    first = broker.receive(source, now=T0)
    second = broker.receive(source, now=T0)
    moved = receive_one(broker, dlq, now=T0)

    assert ([sent.message_id], []) == ([m.message_id for m in first], second)
    assert "2" == moved.attributes["ApproximateReceiveCount"]


def test_the_moving_receive_still_returns_other_messages(broker: Broker) -> None:
    """The receive that moves one message returns the others that are under the limit."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=0)
    old = source.send("old", now=T0)
    broker.receive(source, now=T0)
    fresh = source.send("fresh", now=T0)

    got = broker.receive(source, now=T0, max_messages=10)

    assert [fresh.message_id] == [m.message_id for m in got]
    assert [old.message_id] == [m.message_id for m in broker.receive(dlq, now=T0)]


def test_dead_letter_move_is_recorded_as_an_event(broker: Broker) -> None:
    """The move is recorded with the source queue, the DLQ and the receive count."""
    source, _ = with_dlq(broker, max_receive_count=1, visibility_timeout=0)
    sent = source.send("x", now=T0)
    broker.receive(source, now=T0)

    broker.receive(source, now=T0)

    assert MessageDeadLettered("orders", sent.message_id, "orders-dlq", 1) in broker.events


def test_moved_message_keeps_its_identity_and_gains_the_source_arn(broker: Broker) -> None:
    """Id, body, attributes, MD5s, timestamps, group and receive count survive the move."""
    source, dlq = with_dlq(broker, max_receive_count=2, visibility_timeout=0)
    sent = source.send(
        "payload",
        now=T0 + 0.5,
        message_attributes={"kind": "order", "n": 3, "raw": b"\x01\x02"},
        message_group_id="g-1",
    )
    first = receive_one(broker, source, now=T0 + 1)
    receive_one(broker, source, now=T0 + 2)
    broker.receive(source, now=T0 + 3)

    moved = receive_one(broker, dlq, now=T0 + 4)

    assert sent.message_id == moved.message_id
    assert "payload" == moved.body
    assert first.message_attributes == moved.message_attributes
    assert sent.md5_of_message_body == moved.md5_of_body
    assert sent.md5_of_message_attributes == moved.md5_of_message_attributes
    assert first.attributes["SentTimestamp"] == moved.attributes["SentTimestamp"]
    assert (
        first.attributes["ApproximateFirstReceiveTimestamp"]
        == moved.attributes["ApproximateFirstReceiveTimestamp"]
    )
    assert "g-1" == moved.attributes["MessageGroupId"]
    assert 3 == moved.receive_count
    assert source.arn == moved.attributes["DeadLetterQueueSourceArn"]
    assert "DeadLetterQueueSourceArn" not in first.attributes


def test_standard_dlq_keeps_the_original_enqueue_time_for_retention(broker: Broker) -> None:
    """Moved at +200 into a 300 s DLQ, the message expires at +300, not +500."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=0, dlq_retention=300)
    source.send("x", now=T0)
    broker.receive(source, now=T0)
    broker.receive(source, now=T0 + 200)

    assert QueueStatistics(1, 0, 0) == dlq.counts(now=T0 + 299)
    assert EMPTY == dlq.counts(now=T0 + 300)


def test_message_under_the_limit_is_not_moved(broker: Broker) -> None:
    """A message received fewer than maxReceiveCount times stays in the source."""
    source, dlq = with_dlq(broker, max_receive_count=3, visibility_timeout=0)
    source.send("x", now=T0)

    counts = [receive_one(broker, source, now=T0).receive_count for _ in range(3)]

    assert [1, 2, 3] == counts
    assert EMPTY == dlq.counts(now=T0)


def test_old_source_handle_does_not_delete_the_moved_message(broker: Broker) -> None:
    """After the move, the source's old handle deletes nothing in either queue."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=0)
    source.send("x", now=T0)
    handle = receive_one(broker, source, now=T0).receipt_handle
    broker.receive(source, now=T0)

    source.delete(handle, now=T0)
    refused("ReceiptHandleIsInvalid", dlq.delete, handle, now=T0)

    assert QueueStatistics(1, 0, 0) == dlq.counts(now=T0)


# ------------------------------------------------------------------- create / names


def test_create_queue_again_with_the_same_attributes_returns_the_same_queue(
    broker: Broker, queue: QueueMachine
) -> None:
    """CreateQueue is idempotent for identical attributes."""
    queue.send("x", now=T0)

    again = broker.create_queue("orders", QueueSettings(), now=T0 + 5)

    assert queue is again
    assert QueueStatistics(1, 0, 0) == again.counts(now=T0 + 5)


@pytest.mark.parametrize(
    ("settings", "attribute"),
    [
        (QueueSettings(visibility_timeout=31), "VisibilityTimeout"),
        (QueueSettings(delay_seconds=1), "DelaySeconds"),
        (QueueSettings(message_retention_period=60), "MessageRetentionPeriod"),
        (QueueSettings(maximum_message_size=1024), "MaximumMessageSize"),
        (QueueSettings(receive_message_wait_time_seconds=20), "ReceiveMessageWaitTimeSeconds"),
    ],
)
def test_create_queue_with_a_different_attribute_is_queue_already_exists(
    broker: Broker, queue: QueueMachine, settings: QueueSettings, attribute: str
) -> None:
    """A second create with a different value fails naming the attribute; nothing changes."""
    error = refused("QueueAlreadyExists", broker.create_queue, "orders", settings, now=T0)

    assert (
        "A queue already exists with the same name and a different value for attribute "
        f"{attribute}" == error.message
    )
    assert QueueSettings() == broker.queue("orders").settings


def test_create_queue_with_a_different_redrive_policy_names_redrive_policy(
    broker: Broker, queue: QueueMachine
) -> None:
    """A different RedrivePolicy is a conflict naming RedrivePolicy."""
    dlq = broker.create_queue("dlq", QueueSettings(), now=T0)
    settings = QueueSettings(redrive_policy=RedriveRule(dlq.arn, 3))

    error = refused("QueueAlreadyExists", broker.create_queue, "orders", settings, now=T0)

    assert error.message.endswith("attribute RedrivePolicy")
    assert broker.queue("orders").settings.redrive_policy is None


def test_recreating_a_queue_within_60_seconds_is_queue_deleted_recently(broker: Broker) -> None:
    """A name deleted 59.9 s ago cannot be used yet; no queue appears."""
    broker.create_queue("orders", QueueSettings(), now=T0)
    broker.delete_queue("orders", now=T0)

    refused("QueueDeletedRecently", broker.create_queue, "orders", QueueSettings(), now=T0 + 59.9)

    assert [] == broker.list_queues()


def test_recreating_a_queue_after_60_seconds_gives_an_empty_queue(broker: Broker) -> None:
    """Sixty seconds after DeleteQueue the name is free; the new queue starts empty."""
    old = broker.create_queue("orders", QueueSettings(), now=T0)
    old.send("x", now=T0)
    broker.delete_queue("orders", now=T0)

    new = broker.create_queue("orders", QueueSettings(), now=T0 + 60)

    assert old is not new
    assert EMPTY == new.counts(now=T0 + 60)


def test_deleted_queue_no_longer_exists(broker: Broker, queue: QueueMachine) -> None:
    """After DeleteQueue the name, URL and ARN give QueueDoesNotExist."""
    broker.delete_queue("orders", now=T0)

    refused("QueueDoesNotExist", broker.queue, "orders")
    refused("QueueDoesNotExist", broker.queue, queue_arn(REGION, "orders"))


@pytest.mark.parametrize("name", ["q", "x" * 80, "Az09-_", "UPPER", "lower"])
def test_valid_queue_names_are_accepted(broker: Broker, name: str) -> None:
    """Names of 1-80 characters of A-Z, a-z, 0-9, '-' and '_' are accepted."""
    queue = broker.create_queue(name, QueueSettings(), now=T0)

    assert name == queue.name
    assert queue is broker.queue(name)


def test_queue_names_are_case_sensitive(broker: Broker) -> None:
    """'Orders' and 'orders' are two queues."""
    upper = broker.create_queue("Orders", QueueSettings(), now=T0)
    lower = broker.create_queue("orders", QueueSettings(), now=T0)

    assert upper is not lower


@pytest.mark.parametrize(
    "name",
    ["", "x" * 81, "a.b", "a b", "ü", "a/b", "orders.fifo", "a:b"],
    ids=["empty", "81", "dot", "space", "umlaut", "slash", "fifo-suffix", "colon"],
)
def test_invalid_queue_names_are_refused(broker: Broker, name: str) -> None:
    """Bad length, characters or a .fifo suffix on a standard queue: InvalidParameterValue."""
    refused("InvalidParameterValue", broker.create_queue, name, QueueSettings(), now=T0)

    assert [] == broker.list_queues()


def test_redrive_target_must_exist(broker: Broker) -> None:
    """A redrive policy naming a missing queue is refused; the source is not created."""
    missing = queue_arn(REGION, "nowhere")
    settings = QueueSettings(redrive_policy=RedriveRule(missing, 3))

    error = refused("InvalidParameterValue", broker.create_queue, "orders", settings, now=T0)

    assert "RedrivePolicy" in error.message
    assert [] == broker.list_queues()


def test_redrive_target_in_another_region_does_not_count_as_existing(broker: Broker) -> None:
    """A queue of the same name in another region's ARN is not the DLQ."""
    broker.create_queue("dlq", QueueSettings(), now=T0)
    settings = QueueSettings(redrive_policy=RedriveRule(queue_arn("eu-west-1", "dlq"), 3))

    refused("InvalidParameterValue", broker.create_queue, "orders", settings, now=T0)

    assert ["dlq"] == [q.name for q in broker.list_queues()]


def test_queue_arn_is_in_aws_format(queue: QueueMachine) -> None:
    """The ARN is arn:aws:sqs:<region>:<account>:<name>."""
    assert "arn:aws:sqs:us-east-1:000000000000:orders" == queue.arn


def test_md5_of_the_body_is_over_utf8(broker: Broker, queue: QueueMachine) -> None:
    """MD5OfBody is the MD5 of the UTF-8 encoded body."""
    body = "naïve ☃ \U0001f600"
    queue.send(body, now=T0)

    expected = hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()

    assert expected == receive_one(broker, queue, now=T0).md5_of_body
