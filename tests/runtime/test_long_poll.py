"""Long polling: receive with a wait returns as soon as a message is ready, on virtual time."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from eventbus import Bus, EventBusError, Queue, ReceivedMessage, VirtualClock


class Poll:
    """One receive call run in the background, with what it returned and when."""

    def __init__(self, clock: VirtualClock, queue: Queue, **kwargs: Any) -> None:
        self.clock = clock
        self.queue = queue
        self.kwargs = kwargs
        self.result: list[ReceivedMessage] | None = None
        self.error: EventBusError | None = None
        self.returned_at: float | None = None

    async def run(self) -> None:
        try:
            self.result = await self.queue.receive(**self.kwargs)
        except EventBusError as error:
            self.error = error
        self.returned_at = self.clock.now()

    @property
    def done(self) -> bool:
        return self.returned_at is not None


async def test_returns_at_once_when_a_message_is_ready(bus: Bus, clock: VirtualClock) -> None:
    """A long poll on a queue holding a message returns it without time moving."""
    queue = await bus.create_queue("q")
    await queue.send("ready")
    start = clock.now()

    messages = await queue.receive(wait_time_seconds=20)

    assert [m.body for m in messages] == ["ready"]
    assert clock.now() == start


async def test_returns_up_to_max_messages_at_once(bus: Bus, clock: VirtualClock) -> None:
    """A long poll with several messages ready returns up to max_messages of them."""
    queue = await bus.create_queue("q")
    for index in range(4):
        await queue.send(f"m{index}")

    messages = await queue.receive(max_messages=3, wait_time_seconds=20)

    assert sorted(m.body for m in messages) == ["m0", "m1", "m2"]
    assert (await queue.statistics()).visible == 1


async def test_wakes_on_send(bus: Bus, clock: VirtualClock) -> None:
    """A waiting long poll returns the message sent during the wait, at the send's time."""
    queue = await bus.create_queue("q")
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(3)
        assert not poll.done
        await queue.send("hello")
        await clock.wait_settled()

    assert poll.result is not None
    assert [m.body for m in poll.result] == ["hello"]
    assert poll.returned_at == start + 3


async def test_wakes_on_publish(bus: Bus, clock: VirtualClock) -> None:
    """A waiting long poll returns a message delivered by a topic publish."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue, raw_message_delivery=True)
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(4)
        assert not poll.done
        await topic.publish("published")
        await clock.wait_settled()

    assert poll.result is not None
    assert [m.body for m in poll.result] == ["published"]
    assert poll.returned_at == start + 4


async def test_filtered_out_publish_does_not_end_the_wait(bus: Bus, clock: VirtualClock) -> None:
    """A publish the filter policy drops leaves the long poll waiting to its end."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue, filter_policy={"kind": ["wanted"]})
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=10)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(2)
        await topic.publish("dropped", message_attributes={"kind": "other"})
        await clock.wait_settled()
        assert not poll.done
        await clock.advance(20)

    assert poll.result == []
    assert poll.returned_at == start + 10


async def test_wakes_on_change_visibility_zero(bus: Bus, clock: VirtualClock) -> None:
    """change_visibility(0) on an in-flight message wakes a waiting long poll at once."""
    queue = await bus.create_queue("q")
    await queue.send("again")
    [first] = await queue.receive()
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(2)
        assert not poll.done
        await queue.change_visibility(first.receipt_handle, 0)
        await clock.wait_settled()

    assert poll.result is not None
    [again] = poll.result
    assert again.message_id == first.message_id
    assert again.receive_count == 2
    assert poll.returned_at == start + 2


async def test_wakes_when_a_delay_ends(bus: Bus, clock: VirtualClock) -> None:
    """A long poll returns a delayed message exactly when its delay ends."""
    queue = await bus.create_queue("q")
    start = clock.now()
    await queue.send("later", delay_seconds=7)
    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(6)
        assert not poll.done
        await clock.advance(14)

    assert poll.result is not None
    assert [m.body for m in poll.result] == ["later"]
    assert poll.returned_at == start + 7


async def test_wakes_when_a_delayed_send_during_the_wait_ends(
    bus: Bus, clock: VirtualClock
) -> None:
    """A message sent with a delay while the poll waits is returned when its delay ends."""
    queue = await bus.create_queue("q")
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(1)
        await queue.send("later", delay_seconds=5)
        await clock.wait_settled()
        assert not poll.done
        await clock.advance(19)

    assert poll.result is not None
    assert [m.body for m in poll.result] == ["later"]
    assert poll.returned_at == start + 6


async def test_wakes_when_a_visibility_timeout_ends(bus: Bus, clock: VirtualClock) -> None:
    """A long poll returns an in-flight message again when its visibility timeout ends."""
    queue = await bus.create_queue("q", visibility_timeout=9)
    await queue.send("retry")
    start = clock.now()
    [first] = await queue.receive()
    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(8)
        assert not poll.done
        await clock.advance(12)

    assert poll.result is not None
    [again] = poll.result
    assert again.message_id == first.message_id
    assert again.receive_count == 2
    assert again.receipt_handle != first.receipt_handle
    assert poll.returned_at == start + 9


async def test_returns_empty_exactly_when_the_wait_ends(bus: Bus, clock: VirtualClock) -> None:
    """A long poll with nothing to receive returns [] at start + wait, not before."""
    queue = await bus.create_queue("q")
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=5)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(4)
        assert not poll.done
        await clock.advance(1)
        assert poll.done
        await clock.advance(10)

    assert poll.result == []
    assert poll.returned_at == start + 5


async def test_fractional_wait_ends_on_time(bus: Bus, clock: VirtualClock) -> None:
    """A wait of 2.5 seconds ends at start + 2.5."""
    queue = await bus.create_queue("q")
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=2.5)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(10)

    assert poll.result == []
    assert poll.returned_at == start + 2.5


async def test_message_arriving_after_the_wait_is_not_returned(
    bus: Bus, clock: VirtualClock
) -> None:
    """A delay ending after the wait leaves the poll empty and the message delayed."""
    queue = await bus.create_queue("q")
    start = clock.now()
    await queue.send("too late", delay_seconds=8)
    poll = Poll(clock, queue, wait_time_seconds=5)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(6)

    assert poll.result == []
    assert poll.returned_at == start + 5
    assert (await queue.statistics()).delayed == 1


async def test_uses_the_queue_wait_time_when_omitted(bus: Bus, clock: VirtualClock) -> None:
    """receive() without wait_time_seconds waits the queue's receive_message_wait_time_seconds."""
    queue = await bus.create_queue("q", receive_message_wait_time_seconds=10)
    start = clock.now()
    poll = Poll(clock, queue)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(9)
        assert not poll.done
        await clock.advance(5)

    assert poll.result == []
    assert poll.returned_at == start + 10


async def test_queue_wait_time_change_applies_to_the_next_receive(
    bus: Bus, clock: VirtualClock
) -> None:
    """After set_attributes(receive_message_wait_time_seconds=3), receive() waits 3 s."""
    queue = await bus.create_queue("q")
    await queue.set_attributes(receive_message_wait_time_seconds=3)
    start = clock.now()
    poll = Poll(clock, queue)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(10)

    assert poll.result == []
    assert poll.returned_at == start + 3


async def test_explicit_zero_overrides_the_queue_wait_time(bus: Bus, clock: VirtualClock) -> None:
    """wait_time_seconds=0 is a short poll even on a queue with a long-poll default."""
    queue = await bus.create_queue("q", receive_message_wait_time_seconds=20)
    start = clock.now()

    with anyio.fail_after(5):
        messages = await queue.receive(wait_time_seconds=0)

    assert messages == []
    assert clock.now() == start


async def test_default_short_poll_returns_at_once(bus: Bus, clock: VirtualClock) -> None:
    """receive() on a queue with the default wait time (0) returns [] without waiting."""
    queue = await bus.create_queue("q")

    with anyio.fail_after(5):
        messages = await queue.receive()

    assert messages == []


@pytest.mark.parametrize("wait", [21, -1, 20.5, -0.5])
async def test_wait_time_out_of_range_is_refused(
    bus: Bus, clock: VirtualClock, wait: float
) -> None:
    """wait_time_seconds outside 0-20 raises InvalidParameterValue and receives nothing."""
    queue = await bus.create_queue("q")
    await queue.send("untouched")

    with pytest.raises(EventBusError) as caught:
        await queue.receive(wait_time_seconds=wait)

    assert caught.value.code == "InvalidParameterValue"
    assert "WaitTimeSeconds" in caught.value.message
    assert "Must be >= 0 and <= 20" in caught.value.message
    stats = await queue.statistics()
    assert (stats.visible, stats.in_flight, stats.received) == (1, 0, 0)


async def test_wait_time_of_twenty_is_accepted(bus: Bus, clock: VirtualClock) -> None:
    """wait_time_seconds=20, the maximum, is accepted."""
    queue = await bus.create_queue("q")
    await queue.send("x")

    messages = await queue.receive(wait_time_seconds=20)

    assert len(messages) == 1


async def test_max_messages_out_of_range_is_refused_on_long_poll(
    bus: Bus, clock: VirtualClock
) -> None:
    """max_messages=11 on a long poll raises InvalidParameterValue without waiting."""
    queue = await bus.create_queue("q")
    start = clock.now()

    with anyio.fail_after(5), pytest.raises(EventBusError) as caught:
        await queue.receive(max_messages=11, wait_time_seconds=20)

    assert caught.value.code == "InvalidParameterValue"
    assert "MaxNumberOfMessages" in caught.value.message
    assert clock.now() == start


async def test_concurrent_long_pollers_get_distinct_messages(bus: Bus, clock: VirtualClock) -> None:
    """Three waiting pollers and a batch of three sends: each gets a different message."""
    queue = await bus.create_queue("q")
    polls = [Poll(clock, queue, wait_time_seconds=20) for _ in range(3)]

    async with anyio.create_task_group() as tg:
        for poll in polls:
            tg.start_soon(poll.run)
        await clock.advance(1)
        result = await queue.send_batch(["a", "b", "c"])
        assert len(result.successful) == 3
        await clock.wait_settled()

    got = [m for poll in polls for m in (poll.result or [])]
    assert sorted(m.body for m in got) == ["a", "b", "c"]
    assert len({m.message_id for m in got}) == 3
    assert all(len(poll.result or []) == 1 for poll in polls)
    assert (await queue.statistics()).in_flight == 3


async def test_one_message_wakes_one_winner_others_keep_waiting(
    bus: Bus, clock: VirtualClock
) -> None:
    """Of two waiting pollers, one gets the message; the other waits on to its end."""
    queue = await bus.create_queue("q")
    start = clock.now()
    polls = [Poll(clock, queue, wait_time_seconds=10), Poll(clock, queue, wait_time_seconds=10)]

    async with anyio.create_task_group() as tg:
        for poll in polls:
            tg.start_soon(poll.run)
        await clock.advance(2)
        await queue.send("only")
        await clock.wait_settled()
        winners = [p for p in polls if p.done]
        assert len(winners) == 1
        await clock.advance(20)

    [winner] = winners
    [loser] = [p for p in polls if p is not winner]
    assert [m.body for m in winner.result or []] == ["only"]
    assert winner.returned_at == start + 2
    assert loser.result == []
    assert loser.returned_at == start + 10


async def test_long_poll_on_a_deleted_queue_raises(bus: Bus, clock: VirtualClock) -> None:
    """Deleting a queue while a long poll waits on it makes the poll raise QueueDoesNotExist."""
    queue = await bus.create_queue("q")
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(3)
        assert not poll.done
        await bus.delete_queue("q")
        await clock.wait_settled()

    assert poll.error is not None
    assert poll.error.code == "QueueDoesNotExist"
    assert poll.returned_at == start + 3


async def test_receive_on_a_deleted_queue_raises(bus: Bus, clock: VirtualClock) -> None:
    """A receive through the handle of a deleted queue raises QueueDoesNotExist at once."""
    queue = await bus.create_queue("q")
    await queue.delete_queue()

    with pytest.raises(EventBusError) as caught:
        await queue.receive(wait_time_seconds=20)

    assert caught.value.code == "QueueDoesNotExist"


async def test_long_poll_visibility_timeout_applies(bus: Bus, clock: VirtualClock) -> None:
    """A long poll's visibility_timeout hides the messages it returns for that long."""
    queue = await bus.create_queue("q")
    start = clock.now()
    poll = Poll(clock, queue, wait_time_seconds=20, visibility_timeout=4)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(1)
        await queue.send("brief")
        await clock.wait_settled()

    assert poll.result is not None
    assert len(poll.result) == 1
    await clock.advance(3.5)
    assert await queue.receive() == []
    await clock.advance(0.5)
    [again] = await queue.receive()
    assert again.body == "brief"
    assert clock.now() == start + 5


async def test_cancelled_long_poll_takes_nothing(bus: Bus, clock: VirtualClock) -> None:
    """A long poll cancelled while waiting leaves the queue untouched and the clock idle."""
    queue = await bus.create_queue("q")

    poll = Poll(clock, queue, wait_time_seconds=20)

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll.run)
        await clock.advance(1)
        tg.cancel_scope.cancel()

    assert not poll.done
    assert clock.running == 0
    await queue.send("after")
    stats = await queue.statistics()
    assert (stats.visible, stats.received) == (1, 0)


async def test_a_burst_wakes_one_long_poller_that_takes_it_all(
    bus: Bus, clock: VirtualClock
) -> None:
    """Ten sends in a row wake one of several parked long polls, which gets all ten;
    the others wake at the end of their wait with nothing."""
    queue = await bus.create_queue("q")
    results: list[int] = []

    async def poll() -> None:
        results.append(len(await queue.receive(max_messages=10, wait_time_seconds=20)))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(poll)
        await clock.wait_settled()
        for n in range(10):
            await queue.send(f"m{n}")
        await clock.wait_settled()
        taken_at_once = sorted(results)
        await clock.advance(20)

    assert [10] == taken_at_once
    assert [0, 0, 10] == sorted(results)


async def test_a_poller_that_leaves_messages_wakes_the_next(bus: Bus, clock: VirtualClock) -> None:
    """Long polls taking one message each pass the wake-up on until all are taken."""
    queue = await bus.create_queue("q")
    bodies: list[str] = []

    async def poll() -> None:
        bodies.extend(m.body for m in await queue.receive(max_messages=1, wait_time_seconds=20))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(poll)
        await clock.wait_settled()
        for n in range(3):
            await queue.send(f"m{n}")
        await clock.wait_settled()
        at_once = sorted(bodies)
        group.cancel_scope.cancel()

    assert ["m0", "m1", "m2"] == at_once
    assert 0 == clock.now() - 1_767_225_600.0
