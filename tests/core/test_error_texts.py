"""Error texts: AWS's words first, and no error message that can itself fail.

A value is quoted in an error message through a bounded repr, so an argument nested
100,000 deep, a huge int or an object whose repr raises gives the documented
EventBusError, never a RecursionError while the message is being written.
"""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import pytest

from eventbus import Bus, EventBusError, MessageAttributeValue, SendBatchEntry, VirtualClock
from eventbus._core._batch import check_entry_ids
from eventbus._core._broker import Broker
from eventbus._core._errors import InvalidParameterValue, bounded_repr, echo
from eventbus._core._ids import CountingIds
from eventbus._core._settings import QueueSettings
from eventbus._core._topic import check_raw_message_delivery, compile_policy

DEPTH = 100_000
T0 = 1_000_000.0


def deep_list(depth: int = DEPTH) -> Any:
    """``[[[...]]]``, ``depth`` levels."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def deep_tuple(depth: int = DEPTH) -> Any:
    """``(((...),),)``, ``depth`` levels (hashable, so it can be a dict key)."""
    value: tuple[Any, ...] = ()
    for _ in range(depth):
        value = (value,)
    return value


DEEP_JSON = "[" * DEPTH + "]" * DEPTH


class ReprRaises:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


# ------------------------------------------------------------------ the bounded repr


@pytest.mark.parametrize(
    "value",
    [deep_list(), deep_tuple(), {"a": deep_list()}, 10**10_000, "x" * 300_000, ReprRaises()],
    ids=["deep-list", "deep-tuple", "deep-dict", "huge-int", "long-str", "repr-raises"],
)
def test_bounded_repr_is_short_and_never_raises(value: object) -> None:
    """Whatever the value, a short text comes back."""
    text = bounded_repr(value)
    assert 0 < len(text) <= 200


def test_echo_keeps_a_str_as_aws_echoes_it() -> None:
    """AWS echoes a given string verbatim ("Invalid value [wrongvalue]")."""
    assert echo("wrongvalue") == "wrongvalue"
    assert echo(5) == "5"
    assert echo(deep_list()) == "[[[[...]]]]"


# ------------------------------------------------------------------ core sites


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda broker: broker.queue(deep_list()), "QueueDoesNotExist"),
        (lambda broker: check_entry_ids([deep_tuple()], "Entry"), "InvalidBatchEntryId"),
        (lambda broker: check_raw_message_delivery(deep_list()), "InvalidParameter"),
        (lambda broker: compile_policy({"a": ["x"]}, deep_list()), "InvalidParameter"),
        (lambda broker: compile_policy({deep_tuple(): ["x"]}, "MessageBody"), "InvalidParameter"),
        (
            lambda broker: broker.create_queue("q", QueueSettings(), now=T0).send(
                "x", now=T0, delay_seconds=deep_list()
            ),
            "InvalidParameterValue",
        ),
        (
            lambda broker: broker.create_queue("q", QueueSettings(), now=T0).send(
                "x", now=T0, message_attributes={deep_tuple(): "v"}
            ),
            "InvalidParameterValue",
        ),
        (
            lambda broker: broker.create_queue("q", QueueSettings(), now=T0).send(
                "x",
                now=T0,
                message_attributes={"n": MessageAttributeValue(cast(str, deep_list()), "1")},
            ),
            "InvalidParameterValue",
        ),
    ],
    ids=[
        "queue-reference",
        "batch-entry-id",
        "raw-message-delivery",
        "filter-policy-scope",
        "filter-policy-key",
        "delay-seconds",
        "attribute-name",
        "attribute-type",
    ],
)
def test_deeply_nested_arguments_get_the_documented_error(call: Any, code: str) -> None:
    """An argument nested 100,000 deep is refused with its error, not RecursionError."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    with pytest.raises(EventBusError) as caught:
        call(broker)
    assert caught.value.code == code


def test_a_batch_entry_over_the_maximum_size_gets_the_batch_text() -> None:
    """SendMessageBatch words a too-large entry "cannot be validated", SendMessage "are
    invalid" (both recorded from AWS in LocalStack's snapshots)."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    queue = broker.create_queue("q", QueueSettings(maximum_message_size=1024), now=T0)

    result = queue.send_batch(
        [SendBatchEntry("big", "x" * 1025), SendBatchEntry("small", "x")], now=T0
    )
    with pytest.raises(InvalidParameterValue) as single:
        queue.send("x" * 1025, now=T0)

    [failure] = result.failed
    assert (failure.id, failure.code, failure.sender_fault) == (
        "big",
        "InvalidParameterValue",
        True,
    )
    assert failure.message.startswith(
        "One or more parameters cannot be validated. Reason: Message must be shorter than "
        "1024 bytes."
    )
    assert single.value.message.startswith(
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    )
    assert [entry.id for entry in result.successful] == ["small"]


# ------------------------------------------------------------------ through the Bus


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_deep_string_array_is_refused_on_publish_and_changes_nothing() -> None:
    """A String.Array nested 100,000 deep breaks SNS's "array of scalars" rule:
    ParameterValueInvalid, nothing delivered (before: RecursionError). On SQS a
    String.Array is a String with a custom label, so a send accepts it, as AWS does."""
    async with Bus(clock=VirtualClock()) as bus:
        queue = await bus.create_queue("q")
        topic = await bus.create_topic("t")
        await topic.subscribe(queue, raw_message_delivery=True)
        array = MessageAttributeValue("String.Array", DEEP_JSON)

        with pytest.raises(EventBusError) as caught:
            await topic.publish("x", message_attributes={"a": array})
        assert caught.value.code == "ParameterValueInvalid"
        assert (await queue.statistics()).total == 0

        await queue.send("x", message_attributes={"a": array})
        assert (await queue.statistics()).total == 1


@pytest.mark.anyio
async def test_deep_json_in_a_filter_policy_or_a_task_handle_is_refused() -> None:
    """Deep JSON text is refused with the documented error, nothing changed."""
    async with Bus(clock=VirtualClock()) as bus:
        queue = await bus.create_queue("q")
        topic = await bus.create_topic("t")

        with pytest.raises(EventBusError) as policy:
            await topic.subscribe(queue, filter_policy='{"a":' + DEEP_JSON + "}")
        handle = base64.b64encode(DEEP_JSON.encode()).decode()
        with pytest.raises(EventBusError) as task:
            await bus.cancel_message_move_task(handle)

        assert policy.value.code == "InvalidParameter"
        assert "FilterPolicy: failed to parse JSON." in policy.value.message
        assert task.value.code == "InvalidParameterValue"
        assert await topic.subscriptions() == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "call",
    [
        lambda bus, queue, topic: bus.get_queue(deep_list()),
        lambda bus, queue, topic: bus.get_topic(deep_list()),
        lambda bus, queue, topic: queue.receive(max_messages=deep_list()),
        lambda bus, queue, topic: topic.subscribe(deep_list()),
        lambda bus, queue, topic: topic.subscribe(queue, raw_message_delivery=deep_list()),
        lambda bus, queue, topic: topic.subscribe(queue, filter_policy_scope=deep_list()),
        lambda bus, queue, topic: topic.publish("x", message_attributes={deep_tuple(): "v"}),
    ],
    ids=[
        "get_queue",
        "get_topic",
        "receive-max-messages",
        "subscribe-endpoint",
        "subscribe-raw",
        "subscribe-scope",
        "publish-attribute-name",
    ],
)
async def test_public_calls_with_deeply_nested_arguments_raise_event_bus_errors(call: Any) -> None:
    """Each public call refuses a 100,000-deep argument with an EventBusError."""
    async with Bus(clock=VirtualClock()) as bus:
        queue = await bus.create_queue("q")
        topic = await bus.create_topic("t")
        with pytest.raises(EventBusError):
            await call(bus, queue, topic)
        assert (await queue.statistics()).total == 0


def test_deep_json_module_constant_is_deep() -> None:
    """The test input really is nested past the interpreter's recursion limit."""
    with pytest.raises(RecursionError):
        json.loads(DEEP_JSON)
