"""Dead-letter operations: move tasks (redrive), RedriveAllowPolicy, peek, SNS
subscription dead-letter queues."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import pytest

from eventbus import (
    Bus,
    EventBusError,
    MoveTask,
    Queue,
    RedriveAllowPolicy,
    RedrivePolicy,
    VirtualClock,
)


async def refused(call: Awaitable[Any]) -> EventBusError:
    """Await a call that must raise EventBusError and return the error."""
    with pytest.raises(EventBusError) as caught:
        await call
    return caught.value


async def dead_letters(bus: Bus, clock: VirtualClock, count: int) -> tuple[Queue, Queue]:
    """A source queue and its DLQ holding ``count`` dead-lettered messages."""
    dlq = await bus.create_queue("dlq", message_retention_period=1_209_600)
    source = await bus.create_queue(
        "source",
        visibility_timeout=10,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=1),
    )
    for n in range(count):
        await source.send(f"m{n}", message_attributes={"n": n})
    while (await source.statistics()).total:
        await source.receive(max_messages=10)
        await clock.advance(11)
    assert count == (await dlq.statistics()).visible
    return source, dlq


# --------------------------------------------------------------------------- move tasks


async def test_redrive_returns_messages_to_their_source_as_new_messages(
    bus: Bus, clock: VirtualClock
) -> None:
    """A move task without destination sends each message back to its source queue as
    a new message: new id, receive count from zero, attributes kept."""
    source, dlq = await dead_letters(bus, clock, 3)
    old_ids = {m.message_id for m in await dlq.peek()}

    task = await dlq.start_message_move_task()
    status = await task.wait()

    assert ("COMPLETED", 3, 3) == (
        status.status,
        status.approximate_number_of_messages_moved,
        status.approximate_number_of_messages_to_move,
    )
    assert 0 == (await dlq.statistics()).total
    back = await source.receive(max_messages=10)
    assert ["m0", "m1", "m2"] == sorted(m.body for m in back)
    assert set() == old_ids & {m.message_id for m in back}
    assert {"1"} == {m.attributes["ApproximateReceiveCount"] for m in back}
    assert all("DeadLetterQueueSourceArn" not in m.attributes for m in back)
    assert {"0", "1", "2"} == {m.message_attributes["n"].string_value for m in back}


async def test_redrive_to_a_given_destination(bus: Bus, clock: VirtualClock) -> None:
    """With a destination, every message goes there instead of to its source."""
    source, dlq = await dead_letters(bus, clock, 2)
    elsewhere = await bus.create_queue("elsewhere")

    await (await dlq.start_message_move_task(destination=elsewhere)).wait()

    assert (0, 2) == ((await source.statistics()).total, (await elsewhere.statistics()).total)


async def test_rate_limit_paces_the_move_on_the_bus_clock(bus: Bus, clock: VirtualClock) -> None:
    """At 10 messages per second, 30 dead letters take 3 seconds of bus time."""
    source, dlq = await dead_letters(bus, clock, 30)
    task = await dlq.start_message_move_task(max_number_of_messages_per_second=10)

    await clock.advance(0)
    moved_at_start = task.status().approximate_number_of_messages_moved
    await clock.advance(1)
    moved_after_one_second = task.status().approximate_number_of_messages_moved
    await clock.advance(2)

    assert (10, 20) == (moved_at_start, moved_after_one_second)
    assert "COMPLETED" == task.status().status
    assert 30 == (await source.statistics()).visible


async def test_only_one_task_per_source_at_a_time(bus: Bus, clock: VirtualClock) -> None:
    """A second task while one runs is refused; the first goes on."""
    _, dlq = await dead_letters(bus, clock, 30)
    first = await dlq.start_message_move_task(max_number_of_messages_per_second=1)

    error = await refused(dlq.start_message_move_task())

    assert "InvalidParameterValue" == error.code
    assert "Only one active task" in error.message
    assert "RUNNING" == first.status().status


async def test_a_queue_that_is_no_dlq_cannot_be_redriven(bus: Bus) -> None:
    """Starting a task on a queue that is no queue's DLQ is refused."""
    queue = await bus.create_queue("plain")

    error = await refused(queue.start_message_move_task())

    assert ("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.") == (
        error.code,
        error.message,
    )
    assert [] == await queue.list_message_move_tasks()


@pytest.mark.parametrize("rate", [0, 501, 2.5, True])
async def test_rate_outside_1_to_500_is_refused(bus: Bus, clock: VirtualClock, rate: Any) -> None:
    """MaxNumberOfMessagesPerSecond must be an integer from 1 to 500."""
    _, dlq = await dead_letters(bus, clock, 1)

    error = await refused(dlq.start_message_move_task(max_number_of_messages_per_second=rate))

    assert "InvalidParameterValue" == error.code
    assert "MaxNumberOfMessagesPerSecond" in error.message
    assert 1 == (await dlq.statistics()).visible


async def test_missing_or_mismatched_destination_is_refused(bus: Bus, clock: VirtualClock) -> None:
    """A destination that does not exist, or is FIFO for a standard DLQ, is refused."""
    _, dlq = await dead_letters(bus, clock, 1)
    fifo = await bus.create_queue("other.fifo", fifo_queue=True)

    missing = await refused(dlq.start_message_move_task(destination="nowhere"))
    mismatched = await refused(dlq.start_message_move_task(destination=fifo))

    assert "ResourceNotFoundException" == missing.code
    assert "InvalidParameterValue" == mismatched.code
    assert 1 == (await dlq.statistics()).visible


async def test_cancel_keeps_what_was_moved(bus: Bus, clock: VirtualClock) -> None:
    """Cancelling a task stops it; moved messages stay moved, the rest stay put."""
    source, dlq = await dead_letters(bus, clock, 30)
    task = await dlq.start_message_move_task(max_number_of_messages_per_second=10)
    await clock.advance(0)

    moved = await task.cancel()
    await clock.advance(10)

    assert 10 == moved
    assert ("CANCELLED", None) == (task.status().status, task.status().task_handle)
    assert (10, 20) == ((await source.statistics()).total, (await dlq.statistics()).total)
    error = await refused(task.cancel())
    assert "InvalidParameterValue" == error.code


async def test_cancel_with_unknown_or_malformed_handles(bus: Bus, clock: VirtualClock) -> None:
    """A malformed handle is InvalidParameterValue, an unknown one ResourceNotFoundException."""
    _, dlq = await dead_letters(bus, clock, 1)
    task = await dlq.start_message_move_task()
    await task.wait()

    malformed = await refused(bus.cancel_message_move_task("not a handle"))
    unknown = await refused(bus.cancel_message_move_task(_other_task_handle(task)))

    assert "InvalidParameterValue" == malformed.code
    assert ("ResourceNotFoundException", "Task does not exist.") == (unknown.code, unknown.message)


def _other_task_handle(task: MoveTask) -> str:
    """A well-formed handle for the same source that names no task."""
    import base64

    decoded = json.loads(base64.b64decode(task.task_handle))
    decoded["taskId"] = "no-such-task"
    return base64.b64encode(json.dumps(decoded).encode()).decode()


async def test_list_move_tasks_newest_first(bus: Bus, clock: VirtualClock) -> None:
    """ListMessageMoveTasks lists the newest first, 1 by default, up to 10."""
    source, dlq = await dead_letters(bus, clock, 1)
    first = await dlq.start_message_move_task()
    await first.wait()
    await source.receive()
    await clock.advance(11)
    await source.receive()  # dead-letters it again
    second = await dlq.start_message_move_task()
    await second.wait()

    listed = await dlq.list_message_move_tasks(max_results=10)

    assert 1 == len(await dlq.list_message_move_tasks())
    assert [second.status(), first.status()] == listed
    for bad in (0, 11):
        assert (
            "InvalidParameterValue"
            == (await refused(dlq.list_message_move_tasks(max_results=bad))).code
        )


async def test_a_source_deleted_midway_fails_the_task(bus: Bus, clock: VirtualClock) -> None:
    """If the source queue goes away during the move, the task fails and the messages
    not yet moved stay in the DLQ."""
    source, dlq = await dead_letters(bus, clock, 30)
    task = await dlq.start_message_move_task(max_number_of_messages_per_second=10)
    await clock.advance(0)
    await bus.delete_queue(source)

    await clock.advance(1)
    status = task.status()

    assert ("FAILED", "AWS.SimpleQueueService.NonExistentQueue", 10) == (
        status.status,
        status.failure_reason,
        status.approximate_number_of_messages_moved,
    )
    assert 20 == (await dlq.statistics()).visible


async def test_fifo_redrive_keeps_groups_and_order(bus: Bus, clock: VirtualClock) -> None:
    """A FIFO DLQ redrives to its FIFO source keeping each message's group, in order."""
    dlq = await bus.create_queue("dlq.fifo", fifo_queue=True)
    source = await bus.create_queue(
        "source.fifo",
        fifo_queue=True,
        visibility_timeout=10,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq.fifo", max_receive_count=1),
    )
    for n in range(4):
        await source.send(f"m{n}", message_group_id="g", message_deduplication_id=f"d{n}")
    for _ in range(5):
        await source.receive(max_messages=10)
        await clock.advance(11)
    assert 4 == (await dlq.statistics()).visible

    await (await dlq.start_message_move_task()).wait()
    back = await source.receive(max_messages=10)

    assert ["m0", "m1", "m2", "m3"] == [m.body for m in back]
    assert {"g"} == {m.attributes["MessageGroupId"] for m in back}


# -------------------------------------------------------------- RedriveAllowPolicy


async def test_deny_all_refuses_every_source(bus: Bus) -> None:
    """A DLQ with denyAll cannot be named in any redrive policy; nothing is created."""
    await bus.create_queue(
        "dlq", redrive_allow_policy=RedriveAllowPolicy(redrive_permission="denyAll")
    )

    error = await refused(
        bus.create_queue(
            "source", redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3)
        )
    )

    assert "InvalidParameterValue" == error.code
    assert "RedriveAllowPolicy" in error.message
    assert ["dlq"] == [q.name for q in await bus.list_queues()]


async def test_by_queue_allows_only_the_listed_sources(bus: Bus) -> None:
    """byQueue lets the listed queues use the DLQ and refuses the others."""
    dlq = await bus.create_queue(
        "dlq",
        redrive_allow_policy=RedriveAllowPolicy(
            redrive_permission="byQueue", source_queues=("allowed",)
        ),
    )
    policy = RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3)

    allowed = await bus.create_queue("allowed", redrive_policy=policy)
    error = await refused(bus.create_queue("other", redrive_policy=policy))

    assert allowed.name == "allowed"
    assert "InvalidParameterValue" == error.code
    assert json.loads((await dlq.get_attributes())["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [allowed.arn],
    }


@pytest.mark.parametrize(
    "arguments",
    [
        {"redrive_permission": "byQueue"},
        {"redrive_permission": "allowAll", "source_queues": ("a",)},
        {"redrive_permission": "byQueue", "source_queues": tuple(f"q{n}" for n in range(11))},
        {"redrive_permission": "sometimes"},
    ],
    ids=["byQueue-without-sources", "sources-without-byQueue", "eleven-sources", "unknown"],
)
def test_bad_redrive_allow_policies_are_refused(arguments: dict[str, Any]) -> None:
    """byQueue needs 1-10 sources, the other permissions none; unknown ones are refused."""
    with pytest.raises(EventBusError) as caught:
        RedriveAllowPolicy(**arguments)

    assert "InvalidAttributeValue" == caught.value.code
    assert any(
        name in caught.value.message
        for name in ("RedriveAllowPolicy", "redrivePermission", "sourceQueueArns")
    )


# ------------------------------------------------------------------------------ peek


async def test_peek_changes_nothing(bus: Bus, clock: VirtualClock) -> None:
    """Peeking shows visible, in-flight and delayed messages without touching them."""
    queue = await bus.create_queue("q")
    await queue.send("visible")
    await queue.send("in flight")
    await queue.send("delayed", delay_seconds=60)
    await queue.receive()  # takes "visible"
    before = await queue.statistics()

    peeked = await queue.peek()

    assert [
        ("visible", "in_flight", 1),
        ("in flight", "visible", 0),
        ("delayed", "delayed", 0),
    ] == [(m.body, m.state, m.receive_count) for m in peeked]
    assert before == await queue.statistics()
    [received] = await queue.receive()
    assert ("in flight", 1) == (received.body, received.receive_count)
    assert "InvalidParameterValue" == (await refused(queue.peek(max_messages=0))).code


# --------------------------------------------------------------- subscription DLQs


async def test_undeliverable_messages_go_to_the_subscription_dlq(bus: Bus) -> None:
    """Every delivery to a deleted queue lands in the subscription's DLQ as the envelope
    it would have been, with the error attributes SNS adds."""
    topic = await bus.create_topic("t")
    queue = await bus.create_queue("endpoint")
    sub_dlq = await bus.create_queue("sub-dlq")
    subscription = await topic.subscribe(queue, dead_letter_queue=sub_dlq)
    await bus.delete_queue(queue)

    for n in range(3):
        await topic.publish(f"event {n}")

    landed = await sub_dlq.receive(max_messages=10)
    assert ["event 0", "event 1", "event 2"] == [json.loads(m.body)["Message"] for m in landed]
    assert {"QueueDoesNotExist"} == {m.message_attributes["ErrorCode"].string_value for m in landed}
    assert sub_dlq.arn == subscription.dead_letter_queue_arn
    assert {"deadLetterTargetArn": sub_dlq.arn} == json.loads(
        (await subscription.get_attributes())["RedrivePolicy"]
    )


async def test_raw_delivery_too_large_lands_raw_in_the_subscription_dlq(bus: Bus) -> None:
    """A raw message larger than the endpoint accepts lands in the DLQ, body and
    attributes as they would have been delivered."""
    topic = await bus.create_topic("t")
    small = await bus.create_queue("small", maximum_message_size=1024)
    sub_dlq = await bus.create_queue("sub-dlq")
    await topic.subscribe(small, raw_message_delivery=True, dead_letter_queue=sub_dlq)

    await topic.publish("x" * 2000, message_attributes={"kind": "big"})

    [landed] = await sub_dlq.receive()
    assert ("x" * 2000, "big") == (landed.body, landed.message_attributes["kind"].string_value)
    assert 0 == (await small.statistics()).total


async def test_subscription_dlq_must_match_the_topic_type(bus: Bus) -> None:
    """A FIFO DLQ for a standard topic's subscription is refused, and nothing subscribes."""
    topic = await bus.create_topic("t")
    queue = await bus.create_queue("q")
    fifo = await bus.create_queue("dlq.fifo", fifo_queue=True)

    error = await refused(topic.subscribe(queue, dead_letter_queue=fifo))

    assert "InvalidParameter" == error.code
    assert [] == await topic.subscriptions()


async def test_without_a_subscription_dlq_failed_deliveries_are_dropped(bus: Bus) -> None:
    """Removing the DLQ makes failed deliveries dropped again, not queued."""
    topic = await bus.create_topic("t")
    queue = await bus.create_queue("endpoint")
    sub_dlq = await bus.create_queue("sub-dlq")
    subscription = await topic.subscribe(queue, dead_letter_queue=sub_dlq)
    await subscription.set_dead_letter_queue(None)
    await bus.delete_queue(queue)

    await topic.publish("lost")

    assert 0 == (await sub_dlq.statistics()).total
    assert subscription.dead_letter_queue_arn is None
