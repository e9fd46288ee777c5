"""A property on both backends: whatever the calls, no message is lost, none is handed
out twice while it is in flight, and a deleted one never comes back."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Harness

operations = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(1, 4)),
        st.tuples(st.just("receive"), st.integers(1, 10)),
        st.tuples(st.just("delete"), st.integers(0, 1_000)),
        st.tuples(st.just("release"), st.integers(0, 1_000)),
    ),
    max_size=25,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=operations)
async def test_nothing_is_lost_or_handed_out_twice(
    harness: Harness, steps: list[tuple[str, int]]
) -> None:
    queue = await harness.bus.create_queue(f"p-{uuid.uuid4().hex[:12]}", visibility_timeout=600)
    sent: set[str] = set()
    deleted: set[str] = set()
    in_flight: dict[str, str] = {}  # message id -> its latest receipt handle
    for step, number in steps:
        if step == "send":
            result = await queue.send_batch([f"body-{len(sent) + n}" for n in range(number)])
            assert not result.failed
            sent.update(entry.message_id for entry in result.successful)
        elif step == "receive":
            for message in await queue.receive(max_messages=number):
                assert message.message_id in sent
                assert message.message_id not in deleted
                assert message.message_id not in in_flight  # not twice while in flight
                in_flight[message.message_id] = message.receipt_handle
        elif in_flight:
            message_id = sorted(in_flight)[number % len(in_flight)]
            handle = in_flight.pop(message_id)
            if step == "delete":
                await queue.delete(handle)
                deleted.add(message_id)
            else:
                await queue.change_visibility(handle, 0)

    stats = await queue.statistics()
    assert (stats.visible, stats.in_flight, stats.delayed) == (
        len(sent) - len(deleted) - len(in_flight),
        len(in_flight),
        0,
    )
    drained: set[str] = set()
    for _ in range(len(sent) + 1):  # SQS may answer a short poll with fewer than it has
        batch = await queue.receive(max_messages=10)
        if not batch:
            break
        drained.update(m.message_id for m in batch)
    assert drained | set(in_flight) | deleted == sent
    assert not drained & (set(in_flight) | deleted)
    await queue.delete_queue()
