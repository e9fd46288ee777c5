"""FIFO through the Bus: FIFO topics to FIFO and standard queues, fair queues, the consumer.

Spec sections 4.2, 4.4 and 4.6 (FIFO topics, their envelope, subscriptions) and 5
(Lambda with FIFO queues): a failed message holds back the rest of its group, the
group is retried in order, and with random failures each group's successful
handlings happen in send order.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbus import (
    Bus,
    CountingIds,
    EventBusError,
    LambdaContext,
    Queue,
    RedrivePolicy,
    VirtualClock,
)

FIFO_ENVELOPE_KEYS = [
    "Type",
    "MessageId",
    "SequenceNumber",
    "TopicArn",
    "Message",
    "Timestamp",
    "UnsubscribeURL",
]
SIGNATURE_KEYS = {"Signature", "SignatureVersion", "SigningCertURL"}


async def fifo_queue(bus: Bus, name: str = "orders.fifo", **attributes: Any) -> Queue:
    """A FIFO queue."""
    return await bus.create_queue(name, fifo_queue=True, **attributes)


async def drain(queue: Queue) -> list[Any]:
    """Receive and delete until the queue is empty; the messages in the order received."""
    out: list[Any] = []
    while got := await queue.receive(max_messages=10):
        for message in got:
            await queue.delete(message.receipt_handle)
        out += got
    return out


async def refused(awaitable: Any) -> EventBusError:
    """Await ``awaitable`` and return the EventBusError it raises."""
    with pytest.raises(EventBusError) as caught:
        await awaitable
    return caught.value


def group_of(record: dict[str, Any]) -> str:
    """The message group of a Lambda record."""
    return str(record["attributes"]["MessageGroupId"])


# ------------------------------------------------------------ topic -> queue


async def test_fifo_topic_to_fifo_queue_carries_group_and_dedup_ids(bus: Bus) -> None:
    """A FIFO topic delivers to a FIFO queue with the publish's group and dedup ids."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    queue = await fifo_queue(bus)
    await topic.subscribe(queue)

    published = await topic.publish("hello", message_group_id="g1", message_deduplication_id="d1")

    [message] = await queue.receive()
    assert ("g1", "d1") == (
        message.attributes["MessageGroupId"],
        message.attributes["MessageDeduplicationId"],
    )
    assert message.attributes["SequenceNumber"].isdigit()
    envelope = json.loads(message.body)
    assert (published.message_id, "hello") == (envelope["MessageId"], envelope["Message"])


async def test_fifo_topic_envelope_has_a_sequence_number_and_no_signature(bus: Bus) -> None:
    """Recorded: a FIFO topic's envelope adds SequenceNumber and drops the signature fields."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True, content_based_deduplication=True)
    queue = await fifo_queue(bus)
    await topic.subscribe(queue)

    published = await topic.publish("hello", message_group_id="g1")

    [message] = await queue.receive()
    envelope = json.loads(message.body)
    assert FIFO_ENVELOPE_KEYS == list(envelope)
    assert set() == SIGNATURE_KEYS & set(envelope)
    assert published.sequence_number is not None
    assert published.sequence_number == envelope["SequenceNumber"]
    assert topic.arn == envelope["TopicArn"]


async def test_standard_topic_envelope_keeps_its_signature(bus: Bus) -> None:
    """For contrast: a standard topic's envelope is signed and has no SequenceNumber."""
    topic = await bus.create_topic("events")
    queue = await bus.create_queue("plain")
    await topic.subscribe(queue)

    published = await topic.publish("hello")

    [message] = await queue.receive()
    envelope = json.loads(message.body)
    assert SIGNATURE_KEYS <= set(envelope)
    assert "SequenceNumber" not in envelope
    assert None is published.sequence_number


async def test_content_based_dedup_id_is_the_sha256_of_the_published_message(bus: Bus) -> None:
    """Recorded: content-based dedup on a FIFO topic gives the queue sha256(message) as dedup id."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True, content_based_deduplication=True)
    queue = await fifo_queue(bus)
    await topic.subscribe(queue)

    await topic.publish("Test", message_group_id="g1")

    [message] = await queue.receive()
    assert hashlib.sha256(b"Test").hexdigest() == message.attributes["MessageDeduplicationId"]
    assert message.attributes["MessageDeduplicationId"].startswith("532eaabd95")


async def test_raw_delivery_from_a_fifo_topic_carries_the_ids(bus: Bus) -> None:
    """Raw delivery to a FIFO queue: the bare message, with group and dedup ids."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    queue = await fifo_queue(bus)
    await topic.subscribe(queue, raw_message_delivery=True)

    await topic.publish("bare", message_group_id="g1", message_deduplication_id="d1")

    [message] = await queue.receive()
    assert ("bare", "g1", "d1") == (
        message.body,
        message.attributes["MessageGroupId"],
        message.attributes["MessageDeduplicationId"],
    )


async def test_repeated_publish_within_five_minutes_is_not_delivered_again(
    bus: Bus, clock: VirtualClock
) -> None:
    """A FIFO topic drops a repeat within 5 minutes (same message id); after 300 s it delivers."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True, content_based_deduplication=True)
    fifo = await fifo_queue(bus)
    standard = await bus.create_queue("plain")  # does not deduplicate on its own
    await topic.subscribe(fifo)
    await topic.subscribe(standard)

    first = await topic.publish("same", message_group_id="g1")
    await clock.advance(299)
    repeat = await topic.publish("same", message_group_id="g2")
    assert (first.message_id, first.sequence_number) == (repeat.message_id, repeat.sequence_number)
    assert (1, 1) == ((await fifo.statistics()).sent, (await standard.statistics()).sent)
    await clock.advance(1)
    later = await topic.publish("same", message_group_id="g1")

    assert later.message_id != first.message_id
    assert (2, 2) == ((await fifo.statistics()).sent, (await standard.statistics()).sent)


async def test_fifo_topic_sequence_numbers_increase_per_group(bus: Bus) -> None:
    """Publish results of a FIFO topic carry sequence numbers increasing within a group."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True, content_based_deduplication=True)

    results = [await topic.publish(f"m{i}", message_group_id=f"g{i % 2}") for i in range(6)]

    for group in (0, 1):
        numbers = [int(str(r.sequence_number)) for r in results[group::2]]
        assert numbers == sorted(numbers)
        assert len(set(numbers)) == len(numbers)


async def test_fifo_topic_to_standard_queue_drops_the_group_id(bus: Bus) -> None:
    """Recorded: a standard queue subscribed to a FIFO topic gets no group or dedup id."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    queue = await bus.create_queue("plain")
    await topic.subscribe(queue)

    published = await topic.publish("hello", message_group_id="g1", message_deduplication_id="d1")

    [message] = await queue.receive()
    assert "MessageGroupId" not in message.attributes
    assert "MessageDeduplicationId" not in message.attributes
    assert published.sequence_number == json.loads(message.body)["SequenceNumber"]


async def test_fifo_queue_cannot_subscribe_to_a_standard_topic(bus: Bus) -> None:
    """Recorded: subscribing a FIFO queue to a standard topic is InvalidParameter; nothing added."""
    topic = await bus.create_topic("events")
    queue = await fifo_queue(bus)

    error = await refused(topic.subscribe(queue))

    assert "InvalidParameter" == error.code
    assert "FIFO SQS Queues can not be subscribed to standard SNS topics" in error.message
    assert [] == await topic.subscriptions()


async def test_standard_topic_forwards_the_group_id_to_standard_queues(bus: Bus) -> None:
    """Fair queues: a standard topic passes MessageGroupId on to a standard queue."""
    topic = await bus.create_topic("events")
    queue = await bus.create_queue("plain")
    await topic.subscribe(queue)

    published = await topic.publish("hello", message_group_id="tenant-7")

    [message] = await queue.receive()
    assert "tenant-7" == message.attributes["MessageGroupId"]
    assert "SequenceNumber" not in message.attributes
    assert None is published.sequence_number


async def test_fifo_topic_publish_needs_a_group_id(bus: Bus) -> None:
    """Publishing to a FIFO topic without MessageGroupId is InvalidParameter; nothing delivered."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True, content_based_deduplication=True)
    queue = await fifo_queue(bus)
    await topic.subscribe(queue)

    error = await refused(topic.publish("hello"))

    assert "InvalidParameter" == error.code
    assert "MessageGroupId" in error.message
    assert 0 == (await queue.statistics()).sent


async def test_fifo_topic_publish_needs_a_dedup_id_without_content_based(bus: Bus) -> None:
    """No dedup id and no content-based dedup on a FIFO topic is InvalidParameter."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    queue = await fifo_queue(bus)
    await topic.subscribe(queue)

    error = await refused(topic.publish("hello", message_group_id="g1"))

    assert "InvalidParameter" == error.code
    assert "ContentBasedDeduplication" in error.message
    assert 0 == (await queue.statistics()).sent


async def test_fifo_subscription_needs_a_fifo_dead_letter_queue(bus: Bus) -> None:
    """A FIFO topic's subscription with a standard DLQ is InvalidParameter; nothing added."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    queue = await fifo_queue(bus)
    standard_dlq = await bus.create_queue("sub-dlq")

    error = await refused(topic.subscribe(queue, dead_letter_queue=standard_dlq))

    assert "InvalidParameter" == error.code
    assert [] == await topic.subscriptions()


async def test_undeliverable_fifo_message_reaches_the_fifo_subscription_dlq(bus: Bus) -> None:
    """A FIFO delivery the queue refuses lands in the FIFO subscription DLQ with its ids."""
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    queue = await fifo_queue(bus, maximum_message_size=1024)
    dlq = await fifo_queue(bus, "sub-dlq.fifo")
    await topic.subscribe(queue, raw_message_delivery=True, dead_letter_queue=dlq)

    await topic.publish("x" * 2000, message_group_id="g1", message_deduplication_id="d1")

    [message] = await dlq.receive()
    assert ("g1", "d1") == (
        message.attributes["MessageGroupId"],
        message.attributes["MessageDeduplicationId"],
    )
    assert 0 == (await queue.statistics()).sent


# ----------------------------------------------------------- queue attributes


async def test_bus_refuses_turning_a_fifo_queue_standard(bus: Bus) -> None:
    """set_attributes(fifo_queue=False) on a FIFO queue is InvalidAttributeValue; no change."""
    queue = await fifo_queue(bus, content_based_deduplication=True)
    before = await queue.get_attributes()

    error = await refused(queue.set_attributes(fifo_queue=False))

    assert "InvalidAttributeValue" == error.code
    assert before == await queue.get_attributes()


async def test_content_based_deduplication_can_be_switched_off(bus: Bus) -> None:
    """Recorded: ContentBasedDeduplication can change on a FIFO queue; then a dedup id is needed."""
    queue = await fifo_queue(bus, content_based_deduplication=True)
    await queue.send("a", message_group_id="g1")

    await queue.set_attributes(content_based_deduplication=False, visibility_timeout=60)

    attributes = await queue.get_attributes()
    assert {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "false",
        "DeduplicationScope": "queue",
        "FifoThroughputLimit": "perQueue",
        "VisibilityTimeout": "60",
    }.items() <= attributes.items()
    error = await refused(queue.send("b", message_group_id="g1"))
    assert "InvalidParameterValue" == error.code
    assert 1 == (await queue.statistics()).sent


async def test_bus_refuses_turning_a_standard_queue_fifo(bus: Bus) -> None:
    """set_attributes(fifo_queue=True) on a standard queue is InvalidAttributeName; no change."""
    queue = await bus.create_queue("plain")
    before = await queue.get_attributes()

    error = await refused(queue.set_attributes(fifo_queue=True))

    assert "InvalidAttributeName" == error.code
    assert before == await queue.get_attributes()


async def test_bus_refuses_a_fifo_queue_without_the_suffix(bus: Bus) -> None:
    """create_queue with fifo_queue=True and no .fifo suffix is InvalidParameterValue."""
    error = await refused(bus.create_queue("orders", fifo_queue=True))

    assert "InvalidParameterValue" == error.code
    assert [] == await bus.list_queues()


async def test_bus_refuses_a_standard_dead_letter_queue_for_a_fifo_queue(bus: Bus) -> None:
    """A FIFO queue whose redrive policy names a standard DLQ is refused and not created."""
    await bus.create_queue("dlq")

    error = await refused(
        fifo_queue(bus, redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3))
    )

    assert "InvalidParameterValue" == error.code
    assert ["dlq"] == [q.name for q in await bus.list_queues()]


# ------------------------------------------------------------------ consumer


async def test_consumer_batch_size_over_ten_is_refused_on_fifo(bus: Bus) -> None:
    """BatchSize 11 on a FIFO queue is InvalidParameterValueException (even with a window)."""
    queue = await fifo_queue(bus)
    standard = await bus.create_queue("plain")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        raise AssertionError("never invoked")

    with pytest.raises(EventBusError) as caught:
        bus.consume(queue, handler, batch_size=11, maximum_batching_window=1)

    assert "InvalidParameterValueException" == caught.value.code
    assert 10 == bus.consume(queue, handler, batch_size=10).batch_size
    assert 11 == bus.consume(standard, handler, batch_size=11, maximum_batching_window=1).batch_size


async def test_a_batch_may_hold_several_groups_each_in_order(bus: Bus) -> None:
    """One invocation gets messages of several groups, each group in send order."""
    queue = await fifo_queue(bus, content_based_deduplication=True)
    for body in ["g1-m1", "g2-m1", "g1-m2", "g2-m2", "g1-m3"]:
        await queue.send(body, message_group_id=body[:2])
    events: list[dict[str, Any]] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        events.append(event)

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    [event] = events
    per_group: dict[str, list[str]] = {}
    for record in event["Records"]:
        per_group.setdefault(group_of(record), []).append(record["body"])
    assert {"g1": ["g1-m1", "g1-m2", "g1-m3"], "g2": ["g2-m1", "g2-m2"]} == per_group
    assert (await queue.statistics()).total == 0


@pytest.mark.parametrize("listed", ["failed-only", "failed-and-rest"])
async def test_a_failed_message_holds_back_the_rest_of_its_group(
    bus: Bus, clock: VirtualClock, listed: str
) -> None:
    """Messages after a failed one in its group are kept (listed or not), retried in order."""
    queue = await fifo_queue(bus, content_based_deduplication=True, visibility_timeout=30)
    ids = {}
    for body in ["g1-m1", "g2-m1", "g1-m2", "g2-m2", "g1-m3"]:
        ids[body] = (await queue.send(body, message_group_id=body[:2])).message_id
    start = clock.now()
    calls: list[tuple[float, list[str], list[str]]] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
        records = event["Records"]
        calls.append(
            (
                clock.now(),
                [r["body"] for r in records],
                [r["attributes"]["ApproximateReceiveCount"] for r in records],
            )
        )
        if len(calls) > 1:
            return None
        failed = [ids["g1-m2"]] + ([ids["g1-m3"]] if listed == "failed-and-rest" else [])
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    async with bus.consume(queue, handler, report_batch_item_failures=True):
        await clock.advance(29)
        stats = await queue.statistics()
        assert (stats.visible, stats.in_flight, stats.deleted) == (0, 2, 3)
        assert 1 == len(calls)
        await bus.run_until_idle()

    assert 2 == len(calls)
    assert (start + 30, ["g1-m2", "g1-m3"], ["2", "2"]) == calls[1]
    assert (await queue.statistics()).total == 0


async def test_a_raising_handler_retries_every_group_in_order(
    bus: Bus, clock: VirtualClock
) -> None:
    """A raising handler deletes nothing; after the timeout every group comes again in order."""
    queue = await fifo_queue(bus, content_based_deduplication=True, visibility_timeout=30)
    for body in ["g1-m1", "g2-m1", "g1-m2"]:
        await queue.send(body, message_group_id=body[:2])
    start = clock.now()
    calls: list[tuple[float, list[str]]] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.append((clock.now(), [r["body"] for r in event["Records"]]))
        if len(calls) == 1:
            raise RuntimeError("transient")

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert [
        (start, ["g1-m1", "g1-m2", "g2-m1"]),
        (start + 30, ["g1-m1", "g1-m2", "g2-m1"]),
    ] == calls


async def test_new_messages_of_a_failing_group_wait_for_its_retries(
    bus: Bus, clock: VirtualClock
) -> None:
    """Messages sent to a group while its batch is being retried come only after the retry."""
    queue = await fifo_queue(bus, content_based_deduplication=True, visibility_timeout=30)
    await queue.send("g1-m1", message_group_id="g1")
    bodies: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        [record] = event["Records"]
        bodies.append(record["body"])
        if bodies == ["g1-m1"]:
            raise RuntimeError("transient")

    async with bus.consume(queue, handler, batch_size=1):
        await clock.advance(1)
        await queue.send("g1-m2", message_group_id="g1")
        await queue.send("g2-m1", message_group_id="g2")
        await clock.advance(1)
        assert ["g1-m1", "g2-m1"] == bodies
        await bus.run_until_idle()

    assert ["g1-m1", "g2-m1", "g1-m1", "g1-m2"] == bodies


async def test_payload_limit_does_not_reorder_a_group(bus: Bus) -> None:
    """A message left out of a full (6 MB) batch holds back the later messages of its group."""
    queue = await fifo_queue(bus, content_based_deduplication=True)
    big = 1_040_000  # six such records fit in 6 MB, a seventh does not
    for number in range(7):
        await queue.send(f"{number:02d}" + "x" * big, message_group_id="g1")
    await queue.send("07", message_group_id="g1")  # small: would still fit after the 7th
    order: list[int] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        order.extend(int(record["body"][:2]) for record in event["Records"])

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert list(range(8)) == order
    assert 0 == (await queue.statistics()).total


async def test_consumer_survives_a_fifo_delete_with_an_expired_handle(
    bus: Bus, clock: VirtualClock
) -> None:
    """A FIFO delete failing after a success (handle expired) costs the consumer no poller."""
    queue = await fifo_queue(bus, content_based_deduplication=True, visibility_timeout=30)
    await queue.send("slow", message_group_id="g1")
    counts: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        [record] = event["Records"]
        counts.append(record["attributes"]["ApproximateReceiveCount"])
        if len(counts) <= 2:
            # Shorten its own visibility and outlive it: the message is received again
            # meanwhile, so this success's delete meets an expired receipt handle.
            await queue.change_visibility(record["receiptHandle"], 1)
            await clock.sleep(2)

    async with bus.consume(queue, handler, max_concurrency=2, batch_size=1) as consumer:
        await bus.run_until_idle(max_time=600)
        pollers = consumer.statistics().concurrency

    assert ["1", "2", "3"] == counts
    assert 0 == (await queue.statistics()).total
    assert 2 == pollers


# ------------------------------------------------------------------ property

OUTCOMES = st.sampled_from(["ok", "ok", "ok", "fail", "raise"])


@given(
    messages=st.lists(
        st.tuples(st.integers(0, 2), st.lists(OUTCOMES, min_size=1, max_size=3)),
        min_size=1,
        max_size=20,
    ),
    batch_size=st.integers(1, 10),
    max_concurrency=st.sampled_from([None, 2]),
    max_receive_count=st.integers(1, 3),
    partial=st.booleans(),
    report_rest=st.booleans(),
)
def test_each_group_is_handled_in_send_order(
    messages: list[tuple[int, list[str]]],
    batch_size: int,
    max_concurrency: int | None,
    max_receive_count: int,
    partial: bool,
    report_rest: bool,
) -> None:
    """With random failures, each group's successful handlings come in send order; none lost."""
    handled: list[int] = []
    attempts: Counter[int] = Counter()

    async def main() -> tuple[list[int], int, int]:
        clock = VirtualClock()
        async with Bus(clock=clock, ids=CountingIds()) as bus:
            dlq = await fifo_queue(bus, "dlq.fifo")
            queue = await fifo_queue(
                bus,
                visibility_timeout=10,
                redrive_policy=RedrivePolicy(
                    dead_letter_queue="dlq.fifo", max_receive_count=max_receive_count
                ),
            )

            async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
                failures: list[dict[str, str]] = []
                stopped: set[str] = set()
                done: list[int] = []
                raising = False
                for record in event["Records"]:
                    number = json.loads(record["body"])["n"]
                    group = group_of(record)
                    assert f"g{messages[number][0]}" == group
                    if group in stopped:  # stop at a group's first failure, as Lambda asks
                        if report_rest:
                            failures.append({"itemIdentifier": record["messageId"]})
                        continue
                    plan = messages[number][1]
                    outcome = plan[min(attempts[number], len(plan) - 1)]
                    attempts[number] += 1
                    if outcome == "ok":
                        done.append(number)
                    elif outcome == "fail" and partial:
                        failures.append({"itemIdentifier": record["messageId"]})
                        stopped.add(group)
                    else:
                        raising = True
                if raising:
                    raise RuntimeError("handler failed")
                handled.extend(done)
                return {"batchItemFailures": failures}

            for number, (group, _) in enumerate(messages):
                await queue.send(
                    json.dumps({"n": number}),
                    message_group_id=f"g{group}",
                    message_deduplication_id=f"d{number}",
                )
            async with bus.consume(
                queue,
                handler,
                batch_size=batch_size,
                max_concurrency=max_concurrency,
                report_batch_item_failures=partial,
            ):
                await bus.run_until_idle(max_time=100_000)
            dead_count = (await dlq.statistics()).total
            dead = [json.loads(m.body)["n"] for m in await drain(dlq)]
            return dead, (await queue.statistics()).total, dead_count

    dead, left_in_queue, dead_count = anyio.run(main)

    assert 0 == left_in_queue
    assert len(dead) == dead_count
    assert len(handled) == len(set(handled)), "each message is handled successfully once"
    assert set() == set(handled) & set(dead)
    assert sorted(set(handled) | set(dead)) == list(range(len(messages))), "nothing is lost"
    for group in (0, 1, 2):
        ours = [n for n in handled if messages[n][0] == group]
        assert ours == sorted(ours), f"group g{group} handled out of send order: {ours}"
