"""FIFO queues in the core, rule by rule of the spec (sections 1.7-1.10, 2.3-2.4 and 3).

Creation, send rules, group ordering and blocking, deduplication, stale receipt
handles, sequence numbers, batch sends and FIFO dead-letter queues, on the
``Broker`` and ``QueueMachine`` with replayable ids and time driven by ``now``.
Where AWS leaves the order of groups open, tests check the order within each group
and that each group's messages come as one block, never the order of the groups.
Each refused call is also checked to have changed nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import pytest

from eventbus._core._batch import SendBatchEntry
from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._ids import CountingIds
from eventbus._core._message import QueueStatistics, ReceivedMessage
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings, RedriveRule
from eventbus._models import QueueConfig

REGION = "us-east-1"
T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z, the moment every test starts at."""
EMPTY = QueueStatistics(0, 0, 0)
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@pytest.fixture
def broker() -> Broker:
    """A broker with replayable ids."""
    return Broker(region=REGION, ids=CountingIds())


@pytest.fixture
def queue(broker: Broker) -> QueueMachine:
    """A FIFO queue with content-based deduplication, other attributes by default."""
    return broker.create_queue(
        "orders.fifo", QueueSettings(fifo_queue=True, content_based_deduplication=True), now=T0
    )


def refused(code: str, call: object, *args: object, **kwargs: object) -> EventBusError:
    """Call ``call`` and return the EventBusError it must raise with ``code``."""
    assert callable(call)
    with pytest.raises(EventBusError) as caught:
        call(*args, **kwargs)

    assert code == caught.value.code
    return caught.value


def send_all(queue: QueueMachine, *bodies: str, now: float = T0) -> list[str]:
    """Send ``g<N>-m<M>`` bodies to group ``g<N>``; return their message ids."""
    return [
        queue.send(body, now=now, message_group_id=body.split("-")[0]).message_id for body in bodies
    ]


def bodies(messages: Sequence[ReceivedMessage]) -> list[str]:
    """The bodies of received messages, in the order received."""
    return [m.body for m in messages]


def by_group(messages: Sequence[ReceivedMessage]) -> dict[str, list[str]]:
    """The received bodies per message group, in the order received."""
    out: dict[str, list[str]] = {}
    for message in messages:
        out.setdefault(message.attributes["MessageGroupId"], []).append(message.body)
    return out


def assert_groups_are_blocks(messages: Sequence[ReceivedMessage]) -> None:
    """Each group's messages come together: a receive takes a group's run, then the next."""
    groups = [m.attributes["MessageGroupId"] for m in messages]
    blocks = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]

    assert len(blocks) == len(set(blocks)), groups


def with_dlq(
    broker: Broker,
    *,
    max_receive_count: int,
    visibility_timeout: int = 30,
    dlq_retention: int = 345_600,
    deduplication_scope: Literal["queue", "messageGroup"] = "queue",
) -> tuple[QueueMachine, QueueMachine]:
    """A FIFO source queue whose redrive policy points at a fresh FIFO dead-letter queue."""
    dlq = broker.create_queue(
        "orders-dlq.fifo",
        QueueSettings(fifo_queue=True, message_retention_period=dlq_retention),
        now=T0,
    )
    source = broker.create_queue(
        "orders.fifo",
        QueueSettings(
            fifo_queue=True,
            content_based_deduplication=True,
            deduplication_scope=deduplication_scope,
            visibility_timeout=visibility_timeout,
            redrive_policy=RedriveRule(dlq.arn, max_receive_count),
        ),
        now=T0,
    )
    return source, dlq


# ---------------------------------------------------------------------- creation


def test_fifo_queue_name_must_end_in_fifo(broker: Broker) -> None:
    """A FIFO queue without the .fifo suffix is InvalidParameterValue; nothing is created."""
    refused(
        "InvalidParameterValue",
        broker.create_queue,
        "orders",
        QueueSettings(fifo_queue=True),
        now=T0,
    )

    assert [] == broker.list_queues()


def test_standard_queue_name_must_not_end_in_fifo(broker: Broker) -> None:
    """A standard queue named *.fifo is InvalidParameterValue; nothing is created."""
    refused("InvalidParameterValue", broker.create_queue, "orders.fifo", QueueSettings(), now=T0)

    assert [] == broker.list_queues()


def test_fifo_suffix_counts_toward_the_80_characters(broker: Broker) -> None:
    """75 characters plus .fifo is accepted, 76 plus .fifo is InvalidParameterValue."""
    settings = QueueSettings(fifo_queue=True)
    ok = broker.create_queue("x" * 75 + ".fifo", settings, now=T0)

    refused("InvalidParameterValue", broker.create_queue, "y" * 76 + ".fifo", settings, now=T0)
    assert [ok] == broker.list_queues()


def test_fifo_queue_reports_its_fifo_attributes_with_aws_defaults(queue: QueueMachine) -> None:
    """GetQueueAttributes of a FIFO queue shows FifoQueue and the FIFO attributes' defaults."""
    attributes = queue.settings.to_aws()

    assert {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "true",
        "DeduplicationScope": "queue",
        "FifoThroughputLimit": "perQueue",
    }.items() <= attributes.items()


@pytest.mark.parametrize(
    ("keyword", "value", "aws"),
    [
        ("content_based_deduplication", True, "ContentBasedDeduplication"),
        ("content_based_deduplication", False, "ContentBasedDeduplication"),
        ("deduplication_scope", "messageGroup", "DeduplicationScope"),
        ("deduplication_scope", "queue", "DeduplicationScope"),
        ("fifo_throughput_limit", "perMessageGroupId", "FifoThroughputLimit"),
        ("fifo_throughput_limit", "perQueue", "FifoThroughputLimit"),
    ],
)
def test_fifo_only_attribute_is_refused_on_a_standard_queue(
    keyword: str, value: object, aws: str
) -> None:
    """A FIFO-only attribute in a standard queue's config is InvalidAttributeName naming it."""
    error = refused("InvalidAttributeName", QueueConfig, **{keyword: value})

    assert aws in error.message


def test_fifo_attributes_are_accepted_on_a_fifo_queue() -> None:
    """The FIFO attributes are accepted together with fifo_queue=True."""
    config = QueueConfig(
        fifo_queue=True,
        content_based_deduplication=True,
        deduplication_scope="messageGroup",
        fifo_throughput_limit="perMessageGroupId",
    )

    assert (True, "messageGroup", "perMessageGroupId") == (
        config.content_based_deduplication,
        config.deduplication_scope,
        config.fifo_throughput_limit,
    )


def test_per_message_group_throughput_needs_message_group_scope() -> None:
    """perMessageGroupId throughput with queue-wide dedup scope is InvalidAttributeValue."""
    error = refused(
        "InvalidAttributeValue",
        QueueConfig,
        fifo_queue=True,
        fifo_throughput_limit="perMessageGroupId",
    )

    assert "FifoThroughputLimit" in error.message


def test_fifo_queue_cannot_become_standard(broker: Broker, queue: QueueMachine) -> None:
    """FifoQueue=false on an existing FIFO queue is InvalidAttributeValue; nothing changes."""
    before = queue.settings

    error = refused(
        "InvalidAttributeValue", broker.set_queue_settings, queue, QueueSettings(), now=T0 + 1
    )

    assert "Modifying queue type is not supported" in error.message
    assert before is queue.settings
    assert queue.fifo


def test_standard_queue_cannot_become_fifo(broker: Broker) -> None:
    """FifoQueue on a standard queue is InvalidAttributeName (unknown there); nothing changes."""
    standard = broker.create_queue("plain", QueueSettings(), now=T0)
    before = standard.settings

    error = refused(
        "InvalidAttributeName",
        broker.set_queue_settings,
        standard,
        QueueSettings(fifo_queue=True),
        now=T0 + 1,
    )

    assert "FifoQueue" in error.message
    assert before is standard.settings
    assert not standard.fifo


def test_dead_letter_queue_of_a_fifo_queue_must_be_fifo(broker: Broker) -> None:
    """A FIFO source with a standard DLQ is InvalidParameterValue; the source is not created."""
    dlq = broker.create_queue("dlq", QueueSettings(), now=T0)

    refused(
        "InvalidParameterValue",
        broker.create_queue,
        "orders.fifo",
        QueueSettings(fifo_queue=True, redrive_policy=RedriveRule(dlq.arn, 3)),
        now=T0,
    )

    assert [dlq] == broker.list_queues()


def test_dead_letter_queue_of_a_standard_queue_must_not_be_fifo(broker: Broker) -> None:
    """A standard source with a FIFO DLQ is InvalidParameterValue; the source is not created."""
    dlq = broker.create_queue("dlq.fifo", QueueSettings(fifo_queue=True), now=T0)

    refused(
        "InvalidParameterValue",
        broker.create_queue,
        "orders",
        QueueSettings(redrive_policy=RedriveRule(dlq.arn, 3)),
        now=T0,
    )

    assert [dlq] == broker.list_queues()


def test_standard_dead_letter_queue_cannot_be_set_later_on_a_fifo_queue(
    broker: Broker, queue: QueueMachine
) -> None:
    """Setting a standard DLQ on an existing FIFO queue is refused and changes nothing."""
    dlq = broker.create_queue("dlq", QueueSettings(), now=T0)
    before = queue.settings

    refused(
        "InvalidParameterValue",
        broker.set_queue_settings,
        queue,
        QueueSettings(
            fifo_queue=True,
            content_based_deduplication=True,
            redrive_policy=RedriveRule(dlq.arn, 3),
        ),
        now=T0,
    )

    assert before is queue.settings


# ------------------------------------------------------------------- send rules


def test_send_without_group_id_is_missing_parameter(queue: QueueMachine) -> None:
    """SendMessage to a FIFO queue without MessageGroupId is MissingParameter; nothing is sent."""
    error = refused("MissingParameter", queue.send, "body", now=T0)

    assert "MessageGroupId" in error.message
    assert EMPTY == queue.counts(now=T0)
    assert 0 == queue.counts(now=T0).sent


def test_send_without_dedup_id_needs_content_based_deduplication(broker: Broker) -> None:
    """No dedup id and no content-based deduplication is InvalidParameterValue; nothing is sent."""
    queue = broker.create_queue("plain.fifo", QueueSettings(fifo_queue=True), now=T0)

    error = refused("InvalidParameterValue", queue.send, "body", now=T0, message_group_id="g")

    assert (
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    ) in error.message
    assert EMPTY == queue.counts(now=T0)


def test_send_with_dedup_id_needs_no_content_based_deduplication(broker: Broker) -> None:
    """An explicit dedup id is enough on a queue without content-based deduplication."""
    queue = broker.create_queue("plain.fifo", QueueSettings(fifo_queue=True), now=T0)

    queue.send("body", now=T0, message_group_id="g", message_deduplication_id="d")

    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0)


@pytest.mark.parametrize(
    "value",
    ["", "x" * 129, "a b", "tab\t", "new\nline", "é", "\x7f", 7],
    ids=["empty", "129", "space", "tab", "newline", "accent", "del", "int"],
)
@pytest.mark.parametrize("parameter", ["message_group_id", "message_deduplication_id"])
def test_malformed_group_or_dedup_id_is_refused(
    queue: QueueMachine, parameter: str, value: object
) -> None:
    """A group or dedup id outside 1-128 alphanumeric/punctuation is InvalidParameterValue."""
    kwargs: dict[str, object] = {"message_group_id": "g", parameter: value}

    error = refused("InvalidParameterValue", queue.send, "body", now=T0, **kwargs)

    aws_name = "MessageGroupId" if parameter == "message_group_id" else "MessageDeduplicationId"
    assert aws_name in error.message
    assert EMPTY == queue.counts(now=T0)


@pytest.mark.parametrize(
    "value", ["x" * 128, "a", PUNCTUATION, "Az09"], ids=["128", "one", "punctuation", "alnum"]
)
@pytest.mark.parametrize("parameter", ["message_group_id", "message_deduplication_id"])
def test_wellformed_group_and_dedup_ids_are_accepted(
    queue: QueueMachine, parameter: str, value: str
) -> None:
    """Group and dedup ids of 1-128 alphanumerics and punctuation are accepted and echoed."""
    group = value if parameter == "message_group_id" else "g"
    dedup = value if parameter == "message_deduplication_id" else None

    queue.send("body", now=T0, message_group_id=group, message_deduplication_id=dedup)

    [message] = queue.receive(now=T0)
    aws_name = "MessageGroupId" if parameter == "message_group_id" else "MessageDeduplicationId"
    assert value == message.attributes[aws_name]


@pytest.mark.parametrize("delay", [1, 2, 900])
def test_per_message_delay_is_refused(queue: QueueMachine, delay: int) -> None:
    """A positive per-message DelaySeconds on a FIFO queue is InvalidParameterValue."""
    error = refused(
        "InvalidParameterValue", queue.send, "b", now=T0, message_group_id="g", delay_seconds=delay
    )

    assert (
        f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request include "
        "parameter that is not valid for this queue type."
    ) == error.message
    assert EMPTY == queue.counts(now=T0)


@pytest.mark.parametrize("delay", [0, None])
def test_zero_per_message_delay_is_accepted_and_the_queue_delay_applies(
    broker: Broker, delay: int | None
) -> None:
    """DelaySeconds=0 (or none) is accepted on FIFO and the queue's own delay still applies."""
    queue = broker.create_queue(
        "slow.fifo",
        QueueSettings(fifo_queue=True, content_based_deduplication=True, delay_seconds=30),
        now=T0,
    )

    queue.send("b", now=T0, message_group_id="g", delay_seconds=delay)

    assert QueueStatistics(0, 0, 1) == queue.counts(now=T0 + 29)
    assert [] == queue.receive(now=T0 + 29)
    assert ["b"] == bodies(queue.receive(now=T0 + 30))


@pytest.mark.parametrize(("new_delay", "visible_at"), [(20, 20), (0, 10), (120, 120)])
def test_queue_delay_change_is_retroactive_for_delayed_messages(
    broker: Broker, new_delay: int, visible_at: int
) -> None:
    """On FIFO a new queue delay applies to messages still delayed, counted from their send."""
    settings = QueueSettings(fifo_queue=True, content_based_deduplication=True, delay_seconds=60)
    queue = broker.create_queue("slow.fifo", settings, now=T0)
    queue.send("b", now=T0, message_group_id="g")

    broker.set_queue_settings(
        queue,
        QueueSettings(fifo_queue=True, content_based_deduplication=True, delay_seconds=new_delay),
        now=T0 + 10,
    )

    if visible_at > 10:
        assert QueueStatistics(0, 0, 1) == queue.counts(now=T0 + visible_at - 1)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + visible_at)
    assert ["b"] == bodies(queue.receive(now=T0 + visible_at))


def test_queue_delay_change_keeps_group_order(broker: Broker) -> None:
    """Delayed messages released early by a shorter delay still come in send order."""
    settings = QueueSettings(fifo_queue=True, content_based_deduplication=True, delay_seconds=60)
    queue = broker.create_queue("slow.fifo", settings, now=T0)
    send_all(queue, "g1-a", now=T0)
    send_all(queue, "g1-b", now=T0 + 5)

    broker.set_queue_settings(
        queue,
        QueueSettings(fifo_queue=True, content_based_deduplication=True, delay_seconds=0),
        now=T0 + 10,
    )

    assert ["g1-a", "g1-b"] == bodies(queue.receive(now=T0 + 10, max_messages=10))


def test_queue_delay_increase_does_not_hide_visible_messages(broker: Broker) -> None:
    """A longer queue delay does not touch messages that are already visible."""
    queue = broker.create_queue(
        "q.fifo", QueueSettings(fifo_queue=True, content_based_deduplication=True), now=T0
    )
    send_all(queue, "g1-a", now=T0)

    broker.set_queue_settings(
        queue,
        QueueSettings(fifo_queue=True, content_based_deduplication=True, delay_seconds=60),
        now=T0 + 1,
    )
    send_all(queue, "g1-b", now=T0 + 1)

    assert QueueStatistics(1, 0, 1) == queue.counts(now=T0 + 1)


def test_dedup_id_is_refused_on_a_standard_queue(broker: Broker) -> None:
    """MessageDeduplicationId on a standard queue is InvalidParameterValue; nothing is sent."""
    standard = broker.create_queue("plain", QueueSettings(), now=T0)

    refused("InvalidParameterValue", standard.send, "b", now=T0, message_deduplication_id="d")

    assert EMPTY == standard.counts(now=T0)


def test_group_id_is_accepted_on_a_standard_queue(broker: Broker) -> None:
    """Fair queues: a standard queue keeps MessageGroupId but gives no sequence number."""
    standard = broker.create_queue("plain", QueueSettings(), now=T0)

    sent = standard.send("b", now=T0, message_group_id="tenant-1")

    [message] = standard.receive(now=T0)
    assert None is sent.sequence_number
    assert "tenant-1" == message.attributes["MessageGroupId"]
    assert "SequenceNumber" not in message.attributes
    assert "MessageDeduplicationId" not in message.attributes


# --------------------------------------------------------------------- ordering


def test_one_receive_takes_a_whole_group_first(queue: QueueMachine) -> None:
    """Recorded: g1-m1, g2-m1, g1-m2, g1-m3 -> receive(10) = g1-m1, g1-m2, g1-m3, g2-m1."""
    send_all(queue, "g1-m1", "g2-m1", "g1-m2", "g1-m3")

    got = queue.receive(now=T0, max_messages=10)

    assert ["g1-m1", "g1-m2", "g1-m3", "g2-m1"] == bodies(got)


def test_a_group_in_flight_is_blocked_and_other_groups_flow(queue: QueueMachine) -> None:
    """Recorded: receive(2) -> g1-m1, g1-m2; receive(1) -> g2-m1; g1-m3 stays blocked."""
    send_all(queue, "g1-m1", "g2-m1", "g1-m2", "g1-m3")

    first = queue.receive(now=T0, max_messages=2)
    second = queue.receive(now=T0, max_messages=1)
    third = queue.receive(now=T0, max_messages=10)

    assert (["g1-m1", "g1-m2"], ["g2-m1"], []) == (bodies(first), bodies(second), bodies(third))
    assert QueueStatistics(1, 3, 0) == queue.counts(now=T0)


def test_a_new_message_does_not_unblock_an_in_flight_group(queue: QueueMachine) -> None:
    """Recorded: a message sent to a group in flight waits; deleting the head releases it."""
    send_all(queue, "g1-m1")
    [head] = queue.receive(now=T0)
    send_all(queue, "g1-m2", now=T0 + 1)

    blocked = queue.receive(now=T0 + 1, max_messages=10)
    queue.delete(head.receipt_handle, now=T0 + 2)
    released = queue.receive(now=T0 + 2, max_messages=10)

    assert ([], ["g1-m2"]) == (bodies(blocked), bodies(released))


def test_deleting_part_of_a_received_run_keeps_the_group_blocked(queue: QueueMachine) -> None:
    """Recorded: with one of two received g1 messages still in flight, g1 stays blocked."""
    send_all(
        queue, "g1-m1", "g2-m1", "g1-m2", "g2-m2", "g1-m2", "g1-m3", "g1-m4", "g3-m1"
    )  # the second g1-m2 is a content-based duplicate
    first = queue.receive(now=T0, max_messages=2)
    assert ["g1-m1", "g1-m2"] == bodies(first)

    queue.delete(first[0].receipt_handle, now=T0)
    drained = queue.receive(now=T0, max_messages=10)

    assert {"g2": ["g2-m1", "g2-m2"], "g3": ["g3-m1"]} == by_group(drained)
    assert_groups_are_blocks(drained)


def test_deleting_the_received_run_unblocks_the_group(queue: QueueMachine) -> None:
    """Recorded: deleting every received g1 message releases the rest of g1, in order."""
    send_all(queue, "g1-m1", "g2-m1", "g1-m2", "g2-m2", "g1-m2", "g1-m3", "g1-m4", "g3-m1")
    first = queue.receive(now=T0, max_messages=2)

    for message in first:
        queue.delete(message.receipt_handle, now=T0)
    drained = queue.receive(now=T0, max_messages=10)

    assert {
        "g1": ["g1-m3", "g1-m4"],
        "g2": ["g2-m1", "g2-m2"],
        "g3": ["g3-m1"],
    } == by_group(drained)
    assert_groups_are_blocks(drained)


@pytest.mark.parametrize(("timeout", "wait"), [(0, 0), (1, 2)])
def test_a_message_made_visible_again_is_received_while_the_rest_stays_in_flight(
    queue: QueueMachine, timeout: int, wait: int
) -> None:
    """Recorded: CMV of g1-m1 (to 0, or 1 s then expiry) frees g1-m1 only; g1-m2 stays hidden."""
    send_all(queue, "g1-m1", "g1-m2", "g2-m1", "g1-m3")
    first = queue.receive(now=T0, max_messages=2)
    assert ["g1-m1", "g1-m2"] == bodies(first)

    queue.change_visibility(first[0].receipt_handle, timeout, now=T0)
    got = queue.receive(now=T0 + wait, max_messages=10)

    assert {"g1": ["g1-m1"], "g2": ["g2-m1"]} == by_group(got)
    assert QueueStatistics(1, 3, 0) == queue.counts(now=T0 + wait)


def test_receive_with_visibility_zero_leaves_the_group_unblocked(queue: QueueMachine) -> None:
    """Recorded: receive(3, visibility 0) -> g1-m1, g1-m2, g2-m1; then everything comes again."""
    send_all(queue, "g1-m1", "g2-m1", "g2-m2", "g3-m1", "g1-m2")

    first = queue.receive(now=T0, max_messages=3, visibility_timeout=0)
    again = queue.receive(now=T0, max_messages=10, visibility_timeout=0)

    assert ["g1-m1", "g1-m2", "g2-m1"] == bodies(first)
    assert {
        "g1": ["g1-m1", "g1-m2"],
        "g2": ["g2-m1", "g2-m2"],
        "g3": ["g3-m1"],
    } == by_group(again)
    assert_groups_are_blocks(again)


def test_redelivery_after_the_visibility_timeout_keeps_the_order(queue: QueueMachine) -> None:
    """Recorded: after the timeout runs out, g1 comes again whole, in send order."""
    send_all(queue, "g1-m1", "g2-m1", "g1-m2", "g1-m3", "g3-m1", "g1-m4")
    assert ["g1-m1", "g1-m2"] == bodies(queue.receive(now=T0, max_messages=2))
    assert ["g2-m1"] == bodies(queue.receive(now=T0, max_messages=1))

    got = queue.receive(now=T0 + 31, max_messages=10, visibility_timeout=0)

    assert {
        "g1": ["g1-m1", "g1-m2", "g1-m3", "g1-m4"],
        "g2": ["g2-m1"],
        "g3": ["g3-m1"],
    } == by_group(got)
    assert_groups_are_blocks(got)
    assert [2, 2, 1, 1] == [
        m.receive_count for m in got if m.body in ("g1-m1", "g1-m2", "g1-m3", "g1-m4")
    ]


def test_group_is_blocked_until_the_timeout_runs_out(queue: QueueMachine) -> None:
    """A group stays blocked for exactly the visibility timeout of its head."""
    send_all(queue, "g1-m1", "g1-m2")
    queue.receive(now=T0, max_messages=1, visibility_timeout=30)

    assert [] == queue.receive(now=T0 + 29.999, max_messages=10)
    assert ["g1-m1", "g1-m2"] == bodies(queue.receive(now=T0 + 30, max_messages=10))


def test_delayed_messages_do_not_block_their_group(broker: Broker) -> None:
    """A delayed message neither holds back its group's earlier message nor other groups."""
    queue = broker.create_queue(
        "q.fifo", QueueSettings(fifo_queue=True, content_based_deduplication=True), now=T0
    )
    send_all(queue, "g1-m1", "g2-m1", now=T0)
    broker.set_queue_settings(
        queue,
        QueueSettings(fifo_queue=True, content_based_deduplication=True, delay_seconds=60),
        now=T0,
    )
    send_all(queue, "g1-m2", "g3-m1", now=T0)

    got = queue.receive(now=T0 + 1, max_messages=10)
    for message in got:
        queue.delete(message.receipt_handle, now=T0 + 1)
    later = queue.receive(now=T0 + 60, max_messages=10)

    assert {"g1": ["g1-m1"], "g2": ["g2-m1"]} == by_group(got)
    assert {"g1": ["g1-m2"], "g3": ["g3-m1"]} == by_group(later)


def test_one_receive_returns_at_most_ten_of_a_group(queue: QueueMachine) -> None:
    """A receive returns at most MaxNumberOfMessages, the oldest of the group first."""
    send_all(queue, *(f"g1-m{i:02d}" for i in range(15)))

    got = queue.receive(now=T0, max_messages=10)

    assert [f"g1-m{i:02d}" for i in range(10)] == bodies(got)


# ---------------------------------------------------------------- deduplication


def test_repeated_dedup_id_is_accepted_and_not_delivered(queue: QueueMachine) -> None:
    """A repeated dedup id within 5 minutes succeeds with the original's id and is dropped."""
    first = queue.send("a", now=T0, message_group_id="g", message_deduplication_id="d")

    again = queue.send("b", now=T0 + 10, message_group_id="g", message_deduplication_id="d")

    assert (first.message_id, first.sequence_number) == (again.message_id, again.sequence_number)
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 10)
    assert 1 == queue.counts(now=T0 + 10).sent
    assert ["a"] == bodies(queue.receive(now=T0 + 10, max_messages=10))


def test_deduplication_survives_the_delete_of_the_original(queue: QueueMachine) -> None:
    """Recorded: after the original is received and deleted, the same dedup id is still dropped."""
    queue.send("a", now=T0, message_group_id="g1", message_deduplication_id="d")
    [message] = queue.receive(now=T0)
    queue.delete(message.receipt_handle, now=T0)

    queue.send("a", now=T0 + 1, message_group_id="g2", message_deduplication_id="d")

    assert EMPTY == queue.counts(now=T0 + 1)
    assert [] == queue.receive(now=T0 + 1, max_messages=10)


def test_purge_clears_the_deduplication_cache(queue: QueueMachine) -> None:
    """Recorded: after a purge the same dedup id is delivered again."""
    queue.send("a", now=T0, message_group_id="g", message_deduplication_id="d")
    queue.purge(now=T0 + 1)

    queue.send("a", now=T0 + 2, message_group_id="g", message_deduplication_id="d")

    assert ["a"] == bodies(queue.receive(now=T0 + 2))


@pytest.mark.parametrize(
    ("scope", "other_group_delivered"), [("queue", False), ("messageGroup", True)]
)
def test_deduplication_scope(
    broker: Broker, scope: Literal["queue", "messageGroup"], other_group_delivered: bool
) -> None:
    """Scope queue: one dedup id per queue; messageGroup: per group (same group still drops)."""
    queue = broker.create_queue(
        "q.fifo",
        QueueSettings(fifo_queue=True, deduplication_scope=scope),
        now=T0,
    )
    queue.send("a", now=T0, message_group_id="g1", message_deduplication_id="d")

    queue.send("b", now=T0, message_group_id="g2", message_deduplication_id="d")
    queue.send("c", now=T0, message_group_id="g1", message_deduplication_id="d")

    got = by_group(queue.receive(now=T0, max_messages=10))
    expected = {"g1": ["a"], "g2": ["b"]} if other_group_delivered else {"g1": ["a"]}
    assert expected == got


def test_content_based_dedup_id_is_the_sha256_of_the_body(queue: QueueMachine) -> None:
    """Content-based deduplication uses the hex SHA-256 of the body as the dedup id."""
    queue.send("Test", now=T0, message_group_id="g")

    [message] = queue.receive(now=T0)

    assert hashlib.sha256(b"Test").hexdigest() == message.attributes["MessageDeduplicationId"]
    assert message.attributes["MessageDeduplicationId"].startswith("532eaabd95")


def test_content_based_dedup_ignores_attributes_and_group(queue: QueueMachine) -> None:
    """Same body, other attributes and another group (queue scope): a duplicate, dropped."""
    first = queue.send("same", now=T0, message_group_id="g1")

    again = queue.send("same", now=T0, message_group_id="g2", message_attributes={"A": "x"})
    other = queue.send("different", now=T0, message_group_id="g1")

    assert first.message_id == again.message_id
    assert other.message_id != first.message_id
    assert {"g1": ["same", "different"]} == by_group(queue.receive(now=T0, max_messages=10))


def test_explicit_dedup_id_overrides_content_based(queue: QueueMachine) -> None:
    """Explicit ids make equal bodies distinct; an explicit id equal to the hash collides."""
    queue.send("same", now=T0, message_group_id="g", message_deduplication_id="x")
    queue.send("same", now=T0, message_group_id="g", message_deduplication_id="y")
    queue.send("other", now=T0, message_group_id="g")
    queue.send(
        "third",
        now=T0,
        message_group_id="g",
        message_deduplication_id=hashlib.sha256(b"other").hexdigest(),
    )

    assert ["same", "same", "other"] == bodies(queue.receive(now=T0, max_messages=10))


def test_deduplication_window_is_five_minutes_from_the_first_send(queue: QueueMachine) -> None:
    """A repeat is dropped until 300 s after the first send (repeats do not extend it)."""
    first = queue.send("a", now=T0, message_group_id="g", message_deduplication_id="d")
    [message] = queue.receive(now=T0)
    queue.delete(message.receipt_handle, now=T0)

    dropped = queue.send("a", now=T0 + 299, message_group_id="g", message_deduplication_id="d")
    assert EMPTY == queue.counts(now=T0 + 299)
    accepted = queue.send("a", now=T0 + 300, message_group_id="g", message_deduplication_id="d")

    assert first.message_id == dropped.message_id
    assert accepted.message_id != first.message_id
    assert ["a"] == bodies(queue.receive(now=T0 + 300))


def test_the_window_restarts_with_the_new_message(queue: QueueMachine) -> None:
    """A message accepted after the window opens a new 5-minute window of its own."""
    queue.send("a", now=T0, message_group_id="g", message_deduplication_id="d")
    second = queue.send("a", now=T0 + 300, message_group_id="g", message_deduplication_id="d")

    third = queue.send("a", now=T0 + 599, message_group_id="g", message_deduplication_id="d")
    fourth = queue.send("a", now=T0 + 600, message_group_id="g", message_deduplication_id="d")

    assert second.message_id == third.message_id
    assert fourth.message_id != second.message_id
    assert 3 == queue.counts(now=T0 + 600).sent


# ---------------------------------------------------------- stale receipt handles


def test_delete_with_a_handle_whose_visibility_ran_out_fails(queue: QueueMachine) -> None:
    """Recorded: a FIFO delete after the timeout ran out is InvalidParameterValue; no change."""
    send_all(queue, "g1-m1")
    [message] = queue.receive(now=T0, visibility_timeout=10)

    error = refused("InvalidParameterValue", queue.delete, message.receipt_handle, now=T0 + 10)

    assert (
        f"Value {message.receipt_handle} for parameter ReceiptHandle is invalid. "
        "Reason: The receipt handle has expired."
    ) == error.message
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 10)
    [again] = queue.receive(now=T0 + 10)
    assert (message.message_id, 2) == (again.message_id, again.receive_count)


def test_change_visibility_with_a_handle_whose_visibility_ran_out_fails(
    queue: QueueMachine,
) -> None:
    """A FIFO CMV after the timeout ran out is InvalidParameterValue; the message stays visible."""
    send_all(queue, "g1-m1")
    [message] = queue.receive(now=T0, visibility_timeout=10)

    error = refused(
        "InvalidParameterValue", queue.change_visibility, message.receipt_handle, 60, now=T0 + 11
    )

    assert "The receipt handle has expired" in error.message
    assert QueueStatistics(1, 0, 0) == queue.counts(now=T0 + 11)


def test_an_older_handle_after_a_newer_receive_has_expired(queue: QueueMachine) -> None:
    """After a message is received again, its older handle fails for delete and CMV."""
    send_all(queue, "g1-m1")
    [old] = queue.receive(now=T0, visibility_timeout=10)
    [new] = queue.receive(now=T0 + 10, visibility_timeout=30)

    delete_error = refused("InvalidParameterValue", queue.delete, old.receipt_handle, now=T0 + 11)
    change_error = refused(
        "InvalidParameterValue", queue.change_visibility, old.receipt_handle, 0, now=T0 + 11
    )

    assert "The receipt handle has expired" in delete_error.message
    assert "The receipt handle has expired" in change_error.message
    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 11)
    assert queue.delete(new.receipt_handle, now=T0 + 11)
    assert EMPTY == queue.counts(now=T0 + 11)


def test_latest_handle_of_a_message_in_flight_works(queue: QueueMachine) -> None:
    """The latest handle extends, then deletes, a message still in flight."""
    send_all(queue, "g1-m1")
    [message] = queue.receive(now=T0, visibility_timeout=10)

    queue.change_visibility(message.receipt_handle, 60, now=T0 + 9)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0 + 60)
    assert queue.delete(message.receipt_handle, now=T0 + 60)
    assert EMPTY == queue.counts(now=T0 + 60)


def test_garbage_handle_is_receipt_handle_is_invalid(queue: QueueMachine) -> None:
    """A handle this queue never issued is ReceiptHandleIsInvalid, on FIFO as on standard."""
    send_all(queue, "g1-m1")
    queue.receive(now=T0)

    refused("ReceiptHandleIsInvalid", queue.delete, "garbage", now=T0)

    assert QueueStatistics(0, 1, 0) == queue.counts(now=T0)


# ------------------------------------------------------------- sequence numbers


def test_sequence_numbers_increase_per_group_and_are_reported(queue: QueueMachine) -> None:
    """Each send returns a sequence number; it increases per group and comes back on receive."""
    sent = {
        body: queue.send(body, now=T0, message_group_id=body.split("-")[0])
        for body in ("g1-m1", "g2-m1", "g1-m2", "g2-m2", "g1-m3")
    }

    received = queue.receive(now=T0, max_messages=10)

    numbers = {body: result.sequence_number for body, result in sent.items()}
    assert all(n is not None and n.isdigit() for n in numbers.values())
    for group in ("g1", "g2"):
        ours = [int(str(n)) for body, n in numbers.items() if body.startswith(group)]
        assert ours == sorted(ours)
        assert len(ours) == len(set(ours))
    assert {m.body: m.attributes["SequenceNumber"] for m in received} == numbers


def test_received_fifo_message_has_its_system_attributes(queue: QueueMachine) -> None:
    """Recorded: a FIFO message carries its group id, dedup id and sequence number."""
    sent = queue.send(
        "body", now=T0, message_group_id="group-1", message_deduplication_id="dedup-1"
    )

    [message] = queue.receive(now=T0)

    assert {
        "MessageGroupId": "group-1",
        "MessageDeduplicationId": "dedup-1",
        "SequenceNumber": sent.sequence_number,
        "ApproximateReceiveCount": "1",
    }.items() <= message.attributes.items()


# -------------------------------------------------------------------- batch send


def test_batch_without_a_group_id_fails_as_a_whole(queue: QueueMachine) -> None:
    """SendMessageBatch with an entry lacking MessageGroupId fails whole (InvalidParameterValue)."""
    entries = [
        SendBatchEntry("ok", "a", message_group_id="g"),
        SendBatchEntry("missing", "b"),
    ]

    error = refused("InvalidParameterValue", queue.send_batch, entries, now=T0)

    assert "MessageGroupId" in error.message
    assert EMPTY == queue.counts(now=T0)
    assert 0 == queue.counts(now=T0).sent


def test_batch_without_dedup_id_fails_as_a_whole(broker: Broker) -> None:
    """Without content-based deduplication, an entry lacking a dedup id fails the whole batch."""
    queue = broker.create_queue("plain.fifo", QueueSettings(fifo_queue=True), now=T0)
    entries = [
        SendBatchEntry("ok", "a", message_group_id="g", message_deduplication_id="d"),
        SendBatchEntry("missing", "b", message_group_id="g"),
    ]

    error = refused("InvalidParameterValue", queue.send_batch, entries, now=T0)

    assert "ContentBasedDeduplication" in error.message
    assert EMPTY == queue.counts(now=T0)


def test_batch_is_enqueued_in_the_order_given(queue: QueueMachine) -> None:
    """Messages of one batch are enqueued in order, with increasing sequence numbers."""
    entries = [SendBatchEntry(f"e{i}", f"m{i}", message_group_id="g") for i in range(10)]

    result = queue.send_batch(entries, now=T0)

    numbers = [int(str(e.sequence_number)) for e in result.successful]
    assert [e.id for e in entries] == [e.id for e in result.successful]
    assert numbers == sorted(numbers)
    assert [f"m{i}" for i in range(10)] == bodies(queue.receive(now=T0, max_messages=10))


def test_batch_deduplicates_entry_by_entry(queue: QueueMachine) -> None:
    """A repeated dedup id inside one batch succeeds with the first entry's id and is dropped."""
    entries = [
        SendBatchEntry("a", "first", message_group_id="g", message_deduplication_id="d"),
        SendBatchEntry("b", "second", message_group_id="g", message_deduplication_id="d"),
        SendBatchEntry("c", "first", message_group_id="g"),
        SendBatchEntry("d", "first", message_group_id="g"),
    ]

    result = queue.send_batch(entries, now=T0)

    ids = {e.id: e.message_id for e in result.successful}
    assert [] == result.failed
    assert ids["a"] == ids["b"]
    assert ids["c"] == ids["d"] != ids["a"]
    assert ["first", "first"] == bodies(queue.receive(now=T0, max_messages=10))


# -------------------------------------------------------------- FIFO dead letters


def test_moved_message_keeps_its_identity_and_gets_the_source_arn(broker: Broker) -> None:
    """Moved to the FIFO DLQ: same id, body, group, sent time and count; source ARN added."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=10)
    sent = source.send("poison", now=T0, message_group_id="g1", message_deduplication_id="d1")
    [first] = broker.receive(source, now=T0)

    assert [] == broker.receive(source, now=T0 + 10)
    [moved] = broker.receive(dlq, now=T0 + 10)

    assert (sent.message_id, "poison", 2) == (moved.message_id, moved.body, moved.receive_count)
    assert {
        "MessageGroupId": "g1",
        "DeadLetterQueueSourceArn": source.arn,
        "SentTimestamp": str(int(T0 * 1000)),
        "ApproximateFirstReceiveTimestamp": first.attributes["ApproximateFirstReceiveTimestamp"],
    }.items() <= moved.attributes.items()
    assert moved.attributes["SequenceNumber"].isdigit()


def test_dead_lettered_messages_do_not_use_up_a_receive(broker: Broker) -> None:
    """Seven messages dead-lettered ahead of four visible ones in one group: a receive
    of 4 still returns the four (the moves do not count toward its 10)."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=10)
    for n in range(7):
        source.send(f"poison-{n}", now=T0, message_group_id="g1", message_deduplication_id=f"p{n}")
    assert len(broker.receive(source, now=T0, max_messages=10)) == 7
    for n in range(4):
        source.send(f"fine-{n}", now=T0, message_group_id="g1", message_deduplication_id=f"f{n}")

    got = broker.receive(source, now=T0 + 10, max_messages=4)

    assert ["fine-0", "fine-1", "fine-2", "fine-3"] == bodies(got)
    assert 7 == len(broker.receive(dlq, now=T0 + 10, max_messages=10))


def test_moved_message_dedup_id_becomes_its_message_id(broker: Broker) -> None:
    """On the move the dedup id is replaced by the message id, so sharers are not collapsed."""
    source, dlq = with_dlq(
        broker, max_receive_count=1, visibility_timeout=10, deduplication_scope="messageGroup"
    )
    ids = [
        source.send("x", now=T0, message_group_id=g, message_deduplication_id="shared").message_id
        for g in ("g1", "g2")
    ]
    broker.receive(source, now=T0, max_messages=10)

    broker.receive(source, now=T0 + 10, max_messages=10)
    moved = broker.receive(dlq, now=T0 + 10, max_messages=10)

    assert QueueStatistics(0, 0, 0) == source.counts(now=T0 + 10)
    assert sorted(ids) == sorted(m.message_id for m in moved)
    assert all(m.attributes["MessageDeduplicationId"] == m.message_id for m in moved)


def test_fifo_dead_letter_retention_counts_from_the_move(broker: Broker) -> None:
    """On a FIFO DLQ the enqueue time is reset: retention counts from the move, not the send."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=100, dlq_retention=120)
    source.send("poison", now=T0, message_group_id="g")
    broker.receive(source, now=T0)
    broker.receive(source, now=T0 + 100)  # moves it

    assert QueueStatistics(1, 0, 0) == dlq.counts(now=T0 + 150)
    assert QueueStatistics(1, 0, 0) == dlq.counts(now=T0 + 219)
    assert EMPTY == dlq.counts(now=T0 + 220)
    assert 1 == dlq.counts(now=T0 + 220).expired


def test_poison_message_does_not_block_its_group_forever(broker: Broker) -> None:
    """After the head is moved to the DLQ, the next message of its group is received."""
    source, dlq = with_dlq(broker, max_receive_count=2, visibility_timeout=10)
    send_all(source, "g1-m1", "g1-m2")

    assert ["g1-m1"] == bodies(broker.receive(source, now=T0))
    assert [] == broker.receive(source, now=T0 + 5, max_messages=10)
    assert ["g1-m1"] == bodies(broker.receive(source, now=T0 + 10))
    after = broker.receive(source, now=T0 + 20)

    assert ["g1-m2"] == bodies(after)
    assert ["g1-m1"] == bodies(broker.receive(dlq, now=T0 + 20))


def test_group_resumes_with_a_new_message_after_the_move(broker: Broker) -> None:
    """Recorded: once the only message of a group was moved, a new one to the group is received."""
    source, _ = with_dlq(broker, max_receive_count=1, visibility_timeout=10)
    send_all(source, "g1-m1")
    broker.receive(source, now=T0)
    assert [] == broker.receive(source, now=T0 + 10)

    send_all(source, "g1-m2", now=T0 + 11)

    assert ["g1-m2"] == bodies(broker.receive(source, now=T0 + 11))
    assert 1 == source.counts(now=T0 + 11).dead_lettered


def test_moves_and_receives_mix_in_one_receive_in_group_order(broker: Broker) -> None:
    """One receive moves the exhausted head and returns the rest of the group, in order."""
    source, dlq = with_dlq(broker, max_receive_count=1, visibility_timeout=10)
    send_all(source, "g1-m1")
    broker.receive(source, now=T0)
    send_all(source, "g1-m2", "g1-m3", now=T0 + 1)

    got = broker.receive(source, now=T0 + 10, max_messages=10)

    assert ["g1-m2", "g1-m3"] == bodies(got)
    assert ["g1-m1"] == bodies(broker.receive(dlq, now=T0 + 10))
    source.check_invariants()
    dlq.check_invariants()
