"""QueueMachine.deliver's fast path (a plain message to a standard queue) is send().

A topic's delivery of a message without attributes or ids skips the general
preparation; the queue must end up exactly as a ``send`` of the same body leaves
it: the same records, the same receives, the same errors, durable changes alike.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbus._core._changes import Changes
from eventbus._core._errors import EventBusError
from eventbus._core._ids import CountingIds
from eventbus._core._queue import CheckedBody, QueueMachine
from eventbus._core._settings import QueueSettings

T0 = 1_767_225_600.0
ARN = "arn:aws:sqs:us-east-1:000000000000:q"


def machine(settings: QueueSettings, durable: bool) -> QueueMachine:
    return QueueMachine(
        "q",
        ARN,
        settings,
        ids=CountingIds(),
        events=[],
        trace=True,
        created_at=T0,
        changes=Changes() if durable else None,
    )


def state(queue: QueueMachine, now: float) -> object:
    """Everything observable about a queue (records, counts, a receive of all)."""
    records = [
        (m.message_id, m.body, m.md5_of_body, m.sent_at, m.state, m.available_at, m.size, m.seq)
        for m in queue._messages.values()
    ]
    peeked = queue.peek(now=now, max_messages=100)
    counts = queue.counts(now=now)
    counts_all = (counts, counts.sent, counts.received)
    received = queue.receive(now=now + 1000, max_messages=10)
    return records, peeked, counts_all, [(m.message_id, m.body) for m in received]


@pytest.mark.parametrize("durable", [False, True])
@given(
    bodies=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=8),
    delay=st.sampled_from([0, 5]),
    maximum=st.sampled_from([1024, 1_048_576]),
    trace=st.booleans(),
)
def test_deliver_is_send(
    durable: bool, bodies: list[str], delay: int, maximum: int, trace: bool
) -> None:
    settings = QueueSettings(delay_seconds=delay, maximum_message_size=maximum)
    sent, delivered = machine(settings, durable), machine(settings, durable)
    sent.trace = delivered.trace = trace
    for step, body in enumerate(bodies):
        now = T0 + step
        try:
            checked = CheckedBody(body * 30)
        except EventBusError:
            continue
        outcomes: list[object] = []
        for queue in (sent, delivered):
            try:
                if queue is sent:
                    queue.send(checked.body, now=now)
                else:
                    queue.deliver(checked, now=now)
            except EventBusError as error:
                outcomes.append((error.code, error.message))
            else:
                outcomes.append(None)
        assert outcomes[0] == outcomes[1]
    now = T0 + len(bodies) + 10
    assert sent._events == delivered._events
    if durable:
        assert sent.changes is not None
        assert delivered.changes is not None
        assert sent.changes.queues == delivered.changes.queues
        assert {q: list(m) for q, m in sent.changes.messages.items()} == {
            q: list(m) for q, m in delivered.changes.messages.items()
        }
    assert state(sent, now) == state(delivered, now)
    sent.check_invariants()
    delivered.check_invariants()
