"""QueueMachine.delete_many: the deletes of several receipt handles in one call.

It must do exactly what ``delete`` of each handle in turn does: the same outcome
per handle (success, or the same error) and the same queue afterwards, on
standard and FIFO queues, with current, older, expired, repeated, foreign and
malformed handles mixed.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._ids import CountingIds
from eventbus._core._queue import QueueMachine
from eventbus._core._settings import QueueSettings

T0 = 1_767_225_600.0

# One step of history: (send count, receive count, visibility timeout, seconds passed).
Step = tuple[int, int, int, int]
steps = st.lists(
    st.tuples(
        st.integers(0, 3), st.integers(0, 3), st.sampled_from([0, 5, 30]), st.integers(0, 40)
    ),
    max_size=6,
)


def _build(fifo: bool, history: list[Step]) -> tuple[QueueMachine, list[str], float]:
    """A queue after ``history``, every receipt handle it issued, and the time."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    settings = QueueSettings(fifo_queue=fifo, content_based_deduplication=fifo)
    queue = broker.create_queue("q.fifo" if fifo else "q", settings, now=T0)
    other = broker.create_queue("other", QueueSettings(), now=T0)
    other.send("x", now=T0)
    handles = [m.receipt_handle for m in other.receive(now=T0)]
    now, sent = T0, 0
    for sends, receives, timeout, passed in history:
        for _ in range(sends):
            sent += 1
            queue.send(f"m{sent}", now=now, message_group_id="g" if fifo else None)
        got = queue.receive(now=now, max_messages=max(receives, 1), visibility_timeout=timeout)
        handles += [m.receipt_handle for m in got[:receives]]
        now += passed
    return queue, handles, now


def _outcome(error: EventBusError | None) -> tuple[str, str] | None:
    return None if error is None else (error.code, error.message)


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
@given(history=steps, picks=st.lists(st.integers(0, 40), max_size=12), junk=st.booleans())
def test_delete_many_is_delete_of_each_in_turn(
    fifo: bool, history: list[Step], picks: list[int], junk: bool
) -> None:
    """Same outcomes, same queue afterwards, as deleting the handles one by one."""
    one_by_one, handles, now = _build(fifo, history)
    at_once, same_handles, _ = _build(fifo, history)
    assert handles == same_handles
    chosen = [handles[i % len(handles)] for i in picks]
    if junk:
        chosen.insert(len(chosen) // 2, "not-a-handle")

    expected: list[tuple[str, str] | None] = []
    for handle in chosen:
        try:
            one_by_one.delete(handle, now=now)
        except EventBusError as error:
            expected.append(_outcome(error))
        else:
            expected.append(None)
    got = [_outcome(e) for e in at_once.delete_many(chosen, now=now)]

    assert expected == got
    assert one_by_one.counts(now=now) == at_once.counts(now=now)
    assert one_by_one.peek(now=now) == at_once.peek(now=now)
    at_once.check_invariants()


def test_delete_many_of_nothing_changes_nothing() -> None:
    """No handles: no outcomes."""
    queue, _, now = _build(False, [(2, 1, 30, 0)])

    assert [] == queue.delete_many([], now=now)
    assert 2 == queue.counts(now=now).total


def test_handles_that_do_not_parse_apply_no_time() -> None:
    """As ``delete`` raises before applying time, so does ``delete_many`` when no
    handle parses: a message whose visibility ran out is not made visible."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    queue = broker.create_queue("q", QueueSettings(visibility_timeout=10), now=T0)
    queue.send("x", now=T0)
    queue.receive(now=T0)

    outcomes = queue.delete_many(["not-a-handle", ""], now=T0 + 60)

    assert [error.code for error in outcomes if error is not None] == [
        "ReceiptHandleIsInvalid",
        "ReceiptHandleIsInvalid",
    ]
    assert queue.visible_count == 0  # time was not applied
