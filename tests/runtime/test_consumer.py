"""The consumer: AWS Lambda's SQS event source mapping, run on the bus clock."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from eventbus import (
    Bus,
    Consumer,
    EventBusError,
    LambdaContext,
    MessageAttributeValue,
    NotIdle,
    Queue,
    RedrivePolicy,
    SystemClock,
    VirtualClock,
)

RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfMessageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}
MAX_PAYLOAD_BYTES = 6_291_456
SYSTEM_ATTRIBUTES = {
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
}


def md5_of_attributes(attributes: dict[str, tuple[str, str | bytes]]) -> str:
    """AWS's MD5 of message attributes: sorted by name, big-endian lengths."""

    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        data_type, value = attributes[name]
        digest.update(field(name.encode()) + field(data_type.encode()))
        if isinstance(value, bytes):
            digest.update(b"\x02" + field(value))
        else:
            digest.update(b"\x01" + field(value.encode()))
    return digest.hexdigest()


class Calls:
    """What an async handler saw: the virtual time and event of each invocation."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.times: list[float] = []
        self.events: list[dict[str, Any]] = []
        self.contexts: list[LambdaContext] = []

    def record(self, event: dict[str, Any], context: LambdaContext) -> int:
        self.times.append(self.clock.now())
        self.events.append(event)
        self.contexts.append(context)
        return len(self.times)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for event in self.events for r in event["Records"]]

    def bodies(self, index: int) -> list[str]:
        return sorted(r["body"] for r in self.events[index]["Records"])

    def counts(self, index: int) -> list[str]:
        return [r["attributes"]["ApproximateReceiveCount"] for r in self.events[index]["Records"]]


async def send_all(queue: Queue, bodies: list[str]) -> list[str]:
    """Send bodies in batches of 10; return their message ids."""
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        result = await queue.send_batch(bodies[start : start + 10])
        assert not result.failed
        ids += [entry.message_id for entry in result.successful]
    return ids


def refused_option(bus: Bus, queue: Queue, **options: Any) -> EventBusError:
    """Create a consumer with a bad option; return the error."""

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        raise AssertionError("never invoked")

    with pytest.raises(EventBusError) as caught:
        bus.consume(queue, handler, **options)
    return caught.value


# ------------------------------------------------------------------ event shape


async def test_event_record_has_the_lambda_shape(bus: Bus, clock: VirtualClock) -> None:
    """A record carries exactly Lambda's keys; attributes as strings; lowerCamelCase values."""
    queue = await bus.create_queue("orders")
    sent_at = clock.now()
    sent = await queue.send(
        "book",
        message_attributes={
            "Author": "John Grisham",
            "WeeksOn": 6,
            "Cover": b"\x00\xffpng",
            "Price": MessageAttributeValue("Number.float", string_value="9.5"),
        },
    )
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    [event] = calls.events
    assert list(event) == ["Records"]
    [record] = event["Records"]
    assert set(record) == RECORD_KEYS
    assert record["messageId"] == sent.message_id
    assert isinstance(record["receiptHandle"], str)
    assert record["receiptHandle"]
    assert record["body"] == "book"
    assert set(record["attributes"]) == SYSTEM_ATTRIBUTES
    assert all(isinstance(v, str) for v in record["attributes"].values())
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SentTimestamp"] == str(int(sent_at * 1000))
    assert record["attributes"]["ApproximateFirstReceiveTimestamp"] == str(int(sent_at * 1000))
    assert record["attributes"]["SenderId"]
    assert record["messageAttributes"] == {
        "Author": {
            "stringValue": "John Grisham",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "WeeksOn": {
            "stringValue": "6",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "Cover": {
            "binaryValue": base64.b64encode(b"\x00\xffpng").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
        "Price": {
            "stringValue": "9.5",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number.float",
        },
    }
    expected_md5 = md5_of_attributes(
        {
            "Author": ("String", "John Grisham"),
            "WeeksOn": ("Number", "6"),
            "Cover": ("Binary", b"\x00\xffpng"),
            "Price": ("Number.float", "9.5"),
        }
    )
    assert record["md5OfMessageAttributes"] == expected_md5 == sent.md5_of_message_attributes
    assert record["md5OfBody"] == hashlib.md5(b"book", usedforsecurity=False).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "us-east-1"


async def test_event_without_attributes_has_no_md5_of_attributes(
    bus: Bus, clock: VirtualClock
) -> None:
    """Without message attributes, messageAttributes is {} and md5OfMessageAttributes absent."""
    queue = await bus.create_queue("q")
    await queue.send("plain")
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    [record] = calls.records
    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record
    assert set(record) == RECORD_KEYS - {"md5OfMessageAttributes"}


async def test_event_region_and_arn_follow_the_bus(clock: VirtualClock) -> None:
    """eventSourceARN and awsRegion name the bus's region."""
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with Bus(clock=clock, region="eu-central-1") as bus:
        queue = await bus.create_queue("q")
        await queue.send("x")
        async with bus.consume(queue, handler):
            await bus.run_until_idle()

    [record] = calls.records
    assert record["awsRegion"] == "eu-central-1"
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-central-1:000000000000:q"
    assert calls.contexts[0].invoked_function_arn.startswith("arn:aws:lambda:eu-central-1:")


async def test_message_via_sns_carries_the_envelope(bus: Bus, clock: VirtualClock) -> None:
    """A message published to a topic (non-raw) reaches the handler as an envelope body."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue)
    published = await topic.publish('{"id": 7}', message_attributes={"kind": "created"})
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    [record] = calls.records
    envelope = json.loads(record["body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published.message_id
    assert envelope["TopicArn"] == topic.arn
    assert json.loads(envelope["Message"]) == {"id": 7}
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "created"}}
    assert record["messageAttributes"] == {}
    assert record["messageId"] != published.message_id


async def test_message_via_sns_raw_carries_attributes(bus: Bus, clock: VirtualClock) -> None:
    """A raw delivery reaches the handler with the bare body and SQS message attributes."""
    queue = await bus.create_queue("q")
    topic = await bus.create_topic("t")
    await topic.subscribe(queue, raw_message_delivery=True)
    await topic.publish("raw body", message_attributes={"kind": "created"})
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    [record] = calls.records
    assert record["body"] == "raw body"
    assert record["messageAttributes"]["kind"]["stringValue"] == "created"
    assert record["md5OfMessageAttributes"] == md5_of_attributes({"kind": ("String", "created")})


# -------------------------------------------------------------------- context


async def test_context_fields(bus: Bus, clock: VirtualClock) -> None:
    """The context names the function, its ARN, memory, log group and a request id per call."""
    queue = await bus.create_queue("q")
    await send_all(queue, ["a", "b"])
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(
        queue, handler, batch_size=1, function_name="orders-fn", memory_limit_in_mb=512
    ):
        await bus.run_until_idle()

    first, second = calls.contexts
    assert first.function_name == "orders-fn"
    assert first.function_version == "$LATEST"
    assert first.invoked_function_arn == "arn:aws:lambda:us-east-1:000000000000:function:orders-fn"
    assert first.memory_limit_in_mb == 512
    assert first.log_group_name == "/aws/lambda/orders-fn"
    assert first.log_stream_name
    assert first.aws_request_id
    assert second.aws_request_id
    assert first.aws_request_id != second.aws_request_id


async def test_context_function_name_defaults_to_handler_name(
    bus: Bus, clock: VirtualClock
) -> None:
    """Without function_name, the context uses the handler's name and 128 MB."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    calls = Calls(clock)

    async def process_orders(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, process_orders):
        await bus.run_until_idle()

    [context] = calls.contexts
    assert context.function_name == "process_orders"
    assert context.memory_limit_in_mb == 128


async def test_remaining_time_follows_the_clock(bus: Bus, clock: VirtualClock) -> None:
    """get_remaining_time_in_millis starts at the timeout and drops 1000 after clock.sleep(1)."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    remaining: list[int] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        remaining.append(context.get_remaining_time_in_millis())
        await clock.sleep(1)
        remaining.append(context.get_remaining_time_in_millis())

    async with bus.consume(queue, handler, function_timeout=5):
        await bus.run_until_idle()

    assert remaining == [5000, 4000]


async def test_remaining_time_default_timeout_is_three_seconds(
    bus: Bus, clock: VirtualClock
) -> None:
    """With Lambda's default timeout the remaining time starts at 3000 ms."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    remaining: list[int] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        remaining.append(context.get_remaining_time_in_millis())

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert remaining == [3000]


# ------------------------------------------------------------ handler kinds


async def test_sync_handler_runs_in_a_thread(bus: Bus, clock: VirtualClock) -> None:
    """A sync handler runs in a worker thread by default, and its success deletes the batch."""
    queue = await bus.create_queue("q")
    await send_all(queue, ["a", "b"])
    loop_thread = threading.get_ident()
    threads: list[int] = []
    bodies: list[str] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        threads.append(threading.get_ident())
        bodies.extend(r["body"] for r in event["Records"])

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert sorted(bodies) == ["a", "b"]
    assert threads
    assert all(t != loop_thread for t in threads)
    assert (await queue.statistics()).total == 0


async def test_sync_handler_on_the_event_loop(bus: Bus, clock: VirtualClock) -> None:
    """With run_sync_handlers_in_thread=False a sync handler runs on the event loop thread."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        threads.append(threading.get_ident())

    async with bus.consume(queue, handler, run_sync_handlers_in_thread=False):
        await bus.run_until_idle()

    assert threads == [loop_thread]
    assert (await queue.statistics()).total == 0


async def test_sync_handler_exception_fails_the_batch(bus: Bus, clock: VirtualClock) -> None:
    """A sync handler that raises leaves its batch for the visibility timeout."""
    queue = await bus.create_queue("q", visibility_timeout=20)
    await queue.send("a")
    start = clock.now()
    times: list[float] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        times.append(clock.now())
        if len(times) == 1:
            raise ValueError("first attempt fails")

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert times == [start, start + 20]
    assert (await queue.statistics()).total == 0


async def test_callable_object_with_async_call(bus: Bus, clock: VirtualClock) -> None:
    """An object whose __call__ is async is awaited as an async handler."""
    queue = await bus.create_queue("q")
    await queue.send("a")

    class Handler:
        def __init__(self) -> None:
            self.bodies: list[str] = []

        async def __call__(self, event: dict[str, Any], context: LambdaContext) -> None:
            await anyio.lowlevel.checkpoint()
            self.bodies.extend(r["body"] for r in event["Records"])

    handler = Handler()
    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert handler.bodies == ["a"]
    assert (await queue.statistics()).total == 0


async def test_time_does_not_move_while_a_thread_handler_runs(
    bus: Bus, clock: VirtualClock
) -> None:
    """While a sync handler runs in its thread, advance waits for it instead of moving time."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    start = clock.now()
    started = threading.Event()
    release = threading.Event()
    seen: list[float] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        started.set()
        release.wait(30)
        seen.append(clock.now())

    async with bus.consume(queue, handler):
        await anyio.to_thread.run_sync(started.wait, 30)
        async with anyio.create_task_group() as tg:
            tg.start_soon(clock.advance, 100)
            for _ in range(20):
                await anyio.lowlevel.checkpoint()
            assert clock.now() == start
            release.set()
        assert clock.now() == start + 100
        await bus.run_until_idle()

    assert seen == [start]
    assert (await queue.statistics()).total == 0


async def test_time_does_not_move_while_an_async_handler_runs(
    bus: Bus, clock: VirtualClock
) -> None:
    """While an async handler awaits something other than the clock, time stands still."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    start = clock.now()
    started = anyio.Event()
    release = anyio.Event()
    seen: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        started.set()
        await release.wait()
        seen.append(clock.now())

    async with bus.consume(queue, handler):
        with anyio.fail_after(10):
            await started.wait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(clock.advance, 100)
            for _ in range(20):
                await anyio.lowlevel.checkpoint()
            assert clock.now() == start
            release.set()
        await bus.run_until_idle()

    assert seen == [start]


# --------------------------------------------------------------------- batching


async def test_batch_size_limits_each_invocation(bus: Bus, clock: VirtualClock) -> None:
    """With batch_size=3 and no window, no invocation carries more than 3 records."""
    queue = await bus.create_queue("q")
    await send_all(queue, [f"m{i}" for i in range(7)])
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler, batch_size=3):
        await bus.run_until_idle()

    assert all(1 <= len(e["Records"]) <= 3 for e in calls.events)
    assert sorted(r["body"] for r in calls.records) == [f"m{i}" for i in range(7)]
    assert calls.times == [start] * len(calls.times)


async def test_batch_size_ten_without_window(bus: Bus, clock: VirtualClock) -> None:
    """batch_size=10 needs no window; 25 messages arrive in batches of at most 10."""
    queue = await bus.create_queue("q")
    await send_all(queue, [f"m{i}" for i in range(25)])
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler, batch_size=10):
        await bus.run_until_idle()

    assert max(len(e["Records"]) for e in calls.events) == 10
    assert len(calls.records) == 25


async def test_batch_size_over_ten_needs_a_window(bus: Bus, clock: VirtualClock) -> None:
    """batch_size > 10 without a batching window raises InvalidParameterValueException."""
    queue = await bus.create_queue("q")
    await queue.send("untouched")

    error = refused_option(bus, queue, batch_size=11)

    assert error.code == "InvalidParameterValueException"
    assert "Maximum batch window in seconds must be greater than 0" in error.message
    stats = await queue.statistics()
    assert (stats.visible, stats.received) == (1, 0)


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 0},
        {"batch_size": 10_001, "maximum_batching_window": 1},
        {"maximum_batching_window": -1},
        {"maximum_batching_window": 301},
        {"max_concurrency": 1},
        {"max_concurrency": 1001},
        {"function_timeout": 0},
        {"function_timeout": 901},
        {"memory_limit_in_mb": 127},
        {"report_batch_item_failures": "yes"},
    ],
)
async def test_out_of_range_options_are_refused(
    bus: Bus, clock: VirtualClock, options: dict[str, Any]
) -> None:
    """Each consumer option outside Lambda's range raises InvalidParameterValueException."""
    queue = await bus.create_queue("q", visibility_timeout=43_200)
    await queue.send("untouched")

    error = refused_option(bus, queue, **options)

    assert error.code == "InvalidParameterValueException"
    stats = await queue.statistics()
    assert (stats.visible, stats.received) == (1, 0)


@pytest.mark.parametrize("max_concurrency", [1, 1001])
async def test_max_concurrency_out_of_range_is_refused(
    bus: Bus, clock: VirtualClock, max_concurrency: int
) -> None:
    """max_concurrency 1 and 1001 raise InvalidParameterValueException naming the setting."""
    queue = await bus.create_queue("q")

    error = refused_option(bus, queue, max_concurrency=max_concurrency)

    assert error.code == "InvalidParameterValueException"
    assert "MaximumConcurrency" in error.message


@pytest.mark.parametrize("max_concurrency", [2, 3, 1000])
async def test_max_concurrency_bounds_are_accepted(
    bus: Bus, clock: VirtualClock, max_concurrency: int
) -> None:
    """max_concurrency 2-1000 is accepted; pollers start at min(5, max_concurrency)."""
    queue = await bus.create_queue("q")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        return None

    async with bus.consume(queue, handler, max_concurrency=max_concurrency) as consumer:
        await clock.wait_settled()
        assert consumer.statistics().concurrency == min(5, max_concurrency)


async def test_function_timeout_above_visibility_timeout_is_refused(
    bus: Bus, clock: VirtualClock
) -> None:
    """function_timeout greater than the queue's visibility timeout is refused; equal is fine."""
    queue = await bus.create_queue("q", visibility_timeout=10)
    await queue.send("untouched")

    error = refused_option(bus, queue, function_timeout=11)

    assert error.code == "InvalidParameterValueException"
    assert "10" in error.message
    assert "11" in error.message
    stats = await queue.statistics()
    assert (stats.visible, stats.received) == (1, 0)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        return None

    assert isinstance(bus.consume(queue, handler, function_timeout=10), Consumer)


async def test_window_waits_then_invokes_with_what_it_has(bus: Bus, clock: VirtualClock) -> None:
    """A batching window of 5 s with 3 of 20 messages invokes once, at start + 5, with 3."""
    queue = await bus.create_queue("q")
    await send_all(queue, ["a", "b", "c"])
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler, batch_size=20, maximum_batching_window=5):
        await clock.advance(4)
        assert calls.times == []
        await bus.run_until_idle()

    assert calls.times == [start + 5]
    assert calls.bodies(0) == ["a", "b", "c"]


async def test_window_invokes_at_once_when_the_batch_is_full(bus: Bus, clock: VirtualClock) -> None:
    """With batch_size=12 and 12 messages waiting, the window does not delay the invocation."""
    queue = await bus.create_queue("q")
    bodies = [f"m{i:02}" for i in range(12)]
    await send_all(queue, bodies)
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler, batch_size=12, maximum_batching_window=30):
        await bus.run_until_idle()

    assert calls.times == [start]
    assert calls.bodies(0) == bodies


async def test_window_full_batch_then_remainder(bus: Bus, clock: VirtualClock) -> None:
    """20 messages, batch_size=15, window 5: 15 at once, the other 5 when the window ends."""
    queue = await bus.create_queue("q")
    await send_all(queue, [f"m{i:02}" for i in range(20)])
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler, batch_size=15, maximum_batching_window=5):
        await bus.run_until_idle()

    assert calls.times == [start, start + 5]
    assert [len(e["Records"]) for e in calls.events] == [15, 5]


async def test_batch_stays_within_the_invocation_payload_limit(
    bus: Bus, clock: VirtualClock
) -> None:
    """Ten 900 KB messages never make one invocation larger than Lambda's 6 MB payload."""
    queue = await bus.create_queue("q")
    bodies = [str(i) * 900_000 for i in range(10)]
    for body in bodies:
        await queue.send(body)
    sizes: list[int] = []
    seen: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        sizes.append(sum(len(r["body"].encode()) for r in event["Records"]))
        seen.extend(r["body"][0] for r in event["Records"])

    async with bus.consume(queue, handler, batch_size=10):
        await bus.run_until_idle()

    assert sorted(seen) == [str(i) for i in range(10)]
    assert max(sizes) <= MAX_PAYLOAD_BYTES
    assert (await queue.statistics()).total == 0


# ----------------------------------------------------------------- outcomes


async def test_success_deletes_the_batch(bus: Bus, clock: VirtualClock) -> None:
    """A handler that returns deletes every message of its batch."""
    queue = await bus.create_queue("q")
    await send_all(queue, ["a", "b", "c"])
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler) as consumer:
        await bus.run_until_idle()

    stats = await queue.statistics()
    assert (stats.total, stats.deleted, stats.received) == (0, 3, 3)
    assert consumer.statistics().messages_deleted == 3
    assert len(calls.records) == 3


async def test_exception_leaves_the_batch_for_the_visibility_timeout(
    bus: Bus, clock: VirtualClock
) -> None:
    """A raising handler deletes nothing; the batch returns after the visibility timeout."""
    queue = await bus.create_queue("q", visibility_timeout=30)
    await send_all(queue, ["a", "b", "c"])
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        if calls.record(event, context) == 1:
            raise RuntimeError("transient")

    async with bus.consume(queue, handler) as consumer:
        await clock.advance(29)
        stats = await queue.statistics()
        assert (stats.in_flight, stats.visible, stats.deleted) == (3, 0, 0)
        assert len(calls.times) == 1
        await bus.run_until_idle()

    assert calls.times == [start, start + 30]
    assert calls.bodies(0) == calls.bodies(1) == ["a", "b", "c"]
    assert calls.counts(0) == ["1", "1", "1"]
    assert calls.counts(1) == ["2", "2", "2"]
    first_handles = {r["receiptHandle"] for r in calls.events[0]["Records"]}
    second_handles = {r["receiptHandle"] for r in calls.events[1]["Records"]}
    assert not first_handles & second_handles
    totals = consumer.statistics()
    assert (totals.failures, totals.successes, totals.messages_failed) == (1, 1, 3)
    assert (await queue.statistics()).total == 0


async def test_timeout_fails_the_batch(bus: Bus, clock: VirtualClock) -> None:
    """A handler sleeping past function_timeout is stopped; its batch is retried later."""
    queue = await bus.create_queue("q", visibility_timeout=30)
    await queue.send("slow")
    start = clock.now()
    calls = Calls(clock)
    finished: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        if calls.record(event, context) == 1:
            await clock.sleep(3 + 1)
        finished.append(clock.now())

    async with bus.consume(queue, handler, function_timeout=3) as consumer:
        await clock.advance(3)
        assert consumer.statistics().failures == 1
        assert consumer.statistics().in_flight_batches == 0
        await bus.run_until_idle()

    assert calls.times == [start, start + 30]
    assert finished == [start + 30]
    assert calls.counts(1) == ["2"]
    assert (consumer.statistics().failures, consumer.statistics().successes) == (1, 1)
    assert (await queue.statistics()).total == 0


async def test_handler_within_timeout_succeeds(bus: Bus, clock: VirtualClock) -> None:
    """A handler that sleeps just under function_timeout succeeds."""
    queue = await bus.create_queue("q")
    await queue.send("a")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        await clock.sleep(2.5)

    async with bus.consume(queue, handler, function_timeout=3) as consumer:
        await bus.run_until_idle()

    assert (consumer.statistics().successes, consumer.statistics().failures) == (1, 0)
    assert (await queue.statistics()).total == 0


async def test_partial_batch_response_deletes_all_but_listed(bus: Bus, clock: VirtualClock) -> None:
    """With report_batch_item_failures, only the listed messages stay for a retry."""
    queue = await bus.create_queue("q", visibility_timeout=30)
    ids = await send_all(queue, ["a", "b", "c"])
    by_body = dict(zip(["a", "b", "c"], ids, strict=True))
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
        if calls.record(event, context) == 1:
            return {"batchItemFailures": [{"itemIdentifier": by_body["b"]}]}
        return None

    async with bus.consume(queue, handler, report_batch_item_failures=True) as consumer:
        await clock.advance(1)
        stats = await queue.statistics()
        assert (stats.in_flight, stats.deleted) == (1, 2)
        await bus.run_until_idle()

    assert calls.times == [start, start + 30]
    assert calls.bodies(0) == ["a", "b", "c"]
    assert calls.bodies(1) == ["b"]
    assert calls.counts(1) == ["2"]
    totals = consumer.statistics()
    assert (totals.successes, totals.failures) == (2, 0)
    assert (totals.messages_deleted, totals.messages_failed) == (3, 1)


@pytest.mark.parametrize(
    "response",
    [
        pytest.param({"batchItemFailures": [{"itemIdentifer": "FIRST"}]}, id="item-key-typo"),
        pytest.param({"foo": "notvalid"}, id="wrong-top-key"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": ""}]}, id="empty-identifier"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": None}]}, id="none-identifier"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": "nope"}]}, id="not-in-batch"),
        pytest.param({"batchItemFailures": ["FIRST"]}, id="item-not-a-dict"),
        pytest.param({"batchItemFailures": "FIRST"}, id="list-not-a-list"),
        pytest.param([{"itemIdentifier": "FIRST"}], id="response-a-list"),
        pytest.param(42, id="response-an-int"),
    ],
)
async def test_malformed_partial_response_fails_the_whole_batch(
    bus: Bus, clock: VirtualClock, response: Any
) -> None:
    """A malformed batchItemFailures response deletes nothing; the whole batch is retried."""
    queue = await bus.create_queue("q", visibility_timeout=30)
    ids = await send_all(queue, ["a", "b"])
    start = clock.now()
    calls = Calls(clock)
    concrete = json.loads(json.dumps(response).replace("FIRST", ids[0]))

    async def handler(event: dict[str, Any], context: LambdaContext) -> Any:
        if calls.record(event, context) == 1:
            return concrete
        return None

    async with bus.consume(queue, handler, report_batch_item_failures=True) as consumer:
        await clock.advance(1)
        stats = await queue.statistics()
        assert (stats.in_flight, stats.deleted) == (2, 0)
        assert consumer.statistics().failures == 1
        await bus.run_until_idle()

    assert calls.times == [start, start + 30]
    assert calls.bodies(1) == ["a", "b"]
    assert calls.counts(1) == ["2", "2"]


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}],
    ids=["none", "empty-dict", "empty-list", "null-list"],
)
async def test_empty_partial_response_is_complete_success(
    bus: Bus, clock: VirtualClock, response: Any
) -> None:
    """None, {}, an empty or null batchItemFailures mean every message succeeded."""
    queue = await bus.create_queue("q", visibility_timeout=30)
    await send_all(queue, ["a", "b"])
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> Any:
        calls.record(event, context)
        return response

    async with bus.consume(queue, handler, report_batch_item_failures=True) as consumer:
        await bus.run_until_idle()

    assert len(calls.times) == 1
    assert (consumer.statistics().successes, consumer.statistics().failures) == (1, 0)
    stats = await queue.statistics()
    assert (stats.total, stats.deleted) == (0, 2)


async def test_partial_response_ignored_without_the_option(bus: Bus, clock: VirtualClock) -> None:
    """Without report_batch_item_failures, a batchItemFailures response is ignored."""
    queue = await bus.create_queue("q")
    ids = await send_all(queue, ["a", "b"])

    async def handler(event: dict[str, Any], context: LambdaContext) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": ids[0]}]}

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    stats = await queue.statistics()
    assert (stats.total, stats.deleted) == (0, 2)


# --------------------------------------------------------- dead letters, idleness


async def test_poison_messages_end_in_the_dlq(bus: Bus, clock: VirtualClock) -> None:
    """Messages failing max_receive_count times move to the DLQ with their ids and counts."""
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q",
        visibility_timeout=30,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3),
    )
    ids = await send_all(queue, ["p1", "p2"])
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)
        raise RuntimeError("poison")

    async with bus.consume(queue, handler) as consumer:
        await bus.run_until_idle()

    assert calls.times == [start, start + 30, start + 60]
    assert [calls.counts(i) for i in range(3)] == [["1", "1"], ["2", "2"], ["3", "3"]]
    assert consumer.statistics().failures == 3
    source = await queue.statistics()
    assert (source.total, source.dead_lettered) == (0, 2)
    moved = await dlq.receive(max_messages=10)
    assert sorted(m.message_id for m in moved) == sorted(ids)
    assert sorted(m.body for m in moved) == ["p1", "p2"]
    assert all(m.attributes["DeadLetterQueueSourceArn"] == queue.arn for m in moved)
    assert all(m.attributes["ApproximateReceiveCount"] == "4" for m in moved)


async def test_run_until_idle_raises_not_idle_for_a_poison_message(
    bus: Bus, clock: VirtualClock
) -> None:
    """Without a DLQ a poison message keeps the bus busy: NotIdle after max_time."""
    queue = await bus.create_queue("q", visibility_timeout=10)
    await queue.send("poison")
    start = clock.now()
    attempts: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        attempts.append(clock.now())
        raise RuntimeError("poison")

    async with bus.consume(queue, handler):
        with pytest.raises(NotIdle) as caught:
            await bus.run_until_idle(max_time=100)

    assert isinstance(caught.value, EventBusError)
    assert caught.value.code == "NotIdle"
    assert "100" in caught.value.message
    assert clock.now() == start + 100
    assert attempts[:3] == [start, start + 10, start + 20]
    assert len(attempts) >= 10
    assert (await queue.statistics()).total == 1


async def test_run_until_idle_returns_at_once_when_idle(bus: Bus, clock: VirtualClock) -> None:
    """With nothing to do, run_until_idle returns without moving time."""
    queue = await bus.create_queue("q")
    start = clock.now()

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        return None

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert clock.now() == start


async def test_run_until_idle_waits_for_delayed_messages(bus: Bus, clock: VirtualClock) -> None:
    """A delayed message keeps the bus busy until it is delivered and handled."""
    queue = await bus.create_queue("q")
    await queue.send("later", delay_seconds=45)
    start = clock.now()
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler):
        await bus.run_until_idle()

    assert calls.times == [start + 45]
    assert (await queue.statistics()).total == 0


async def test_dlq_consumer_gets_dead_letters_in_the_same_run(
    bus: Bus, clock: VirtualClock
) -> None:
    """A consumer of the DLQ handles a dead-lettered message within the same run_until_idle."""
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q",
        visibility_timeout=10,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=2),
    )
    await queue.send("poison")
    start = clock.now()
    dead = Calls(clock)

    async def failing(event: dict[str, Any], context: LambdaContext) -> None:
        raise RuntimeError("poison")

    async def collect(event: dict[str, Any], context: LambdaContext) -> None:
        dead.record(event, context)

    async with bus.consume(queue, failing), bus.consume(dlq, collect):
        await bus.run_until_idle()

    assert dead.times == [start + 20]
    [record] = dead.records
    assert record["body"] == "poison"
    assert record["eventSourceARN"] == dlq.arn
    assert (await dlq.statistics()).total == 0


async def test_run_until_idle_on_the_system_clock() -> None:
    """On the system clock, run_until_idle returns as soon as the handlers are done."""
    handled: list[str] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        handled.extend(r["body"] for r in event["Records"])

    async with Bus() as bus:
        queue = await bus.create_queue("q")
        await send_all(queue, ["a", "b", "c"])
        with anyio.fail_after(10):
            async with bus.consume(queue, handler, batch_size=1):
                await bus.run_until_idle()
        stats = await queue.statistics()

    assert sorted(handled) == ["a", "b", "c"]
    assert (stats.total, stats.deleted) == (0, 3)


async def test_statistics_counts(bus: Bus, clock: VirtualClock) -> None:
    """statistics() counts invocations, successes, failures and messages deleted and failed."""
    queue = await bus.create_queue("q", visibility_timeout=10)
    await send_all(queue, ["ok1", "ok2", "bad"])
    failed_once: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        [record] = event["Records"]
        if record["body"] == "bad" and not failed_once:
            failed_once.append(record["body"])
            raise RuntimeError("once")

    async with bus.consume(queue, handler, batch_size=1) as consumer:
        assert consumer.statistics().invocations == 0
        await bus.run_until_idle()
        stats = consumer.statistics()

    assert stats.invocations == 4
    assert stats.successes == 3
    assert stats.failures == 1
    assert stats.in_flight_batches == 0
    assert stats.messages_deleted == 3
    assert stats.messages_failed == 1
    assert stats.concurrency == 5


# ---------------------------------------------------------------------- stopping


async def test_stop_returns_unhandled_messages_at_once(bus: Bus, clock: VirtualClock) -> None:
    """Leaving the consumer returns messages held for a batching window to the queue at once."""
    queue = await bus.create_queue("q", visibility_timeout=300)
    await send_all(queue, ["a", "b", "c"])
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler, batch_size=20, maximum_batching_window=60):
        await clock.advance(1)
        stats = await queue.statistics()
        assert (stats.in_flight, stats.visible) == (3, 0)
        stopped_at = clock.now()

    assert clock.now() == stopped_at
    assert calls.times == []
    stats = await queue.statistics()
    assert (stats.visible, stats.in_flight) == (3, 0)
    again = await queue.receive(max_messages=10)
    assert sorted(m.body for m in again) == ["a", "b", "c"]
    assert all(m.receive_count == 2 for m in again)


async def test_stop_leaves_later_messages_alone(bus: Bus, clock: VirtualClock) -> None:
    """After the consumer is left, its pollers are gone: new messages stay in the queue."""
    queue = await bus.create_queue("q")
    calls = Calls(clock)

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        calls.record(event, context)

    async with bus.consume(queue, handler) as consumer:
        await clock.advance(1)

    assert consumer.statistics().concurrency == 0
    await queue.send("after")
    await clock.advance(60)
    assert calls.times == []
    assert (await queue.statistics()).visible == 1


async def test_stop_lets_a_running_invocation_finish(bus: Bus, clock: VirtualClock) -> None:
    """Leaving the consumer while a handler runs waits for it, and its success deletes."""
    queue = await bus.create_queue("q")
    await queue.send("a")
    started = anyio.Event()
    release = anyio.Event()
    finished: list[bool] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        started.set()
        await release.wait()
        finished.append(True)

    async def stop_after_release() -> None:
        for _ in range(10):
            await anyio.lowlevel.checkpoint()
        release.set()

    async with anyio.create_task_group() as tg, bus.consume(queue, handler):
        with anyio.fail_after(10):
            await started.wait()
        tg.start_soon(stop_after_release)

    assert finished == [True]
    assert (await queue.statistics()).total == 0


async def test_stop_cancels_an_invocation_past_stop_timeout(bus: Bus, clock: VirtualClock) -> None:
    """An invocation still running stop_timeout after the stop is cancelled; its batch returns."""
    queue = await bus.create_queue("q", visibility_timeout=300)
    await queue.send("a")
    start = clock.now()
    started = anyio.Event()
    finished: list[float] = []
    stopped: list[float] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        started.set()
        await clock.sleep(100)
        finished.append(clock.now())

    consumer = bus.consume(queue, handler, function_timeout=200, stop_timeout=5)
    done = anyio.Event()

    async def run() -> None:
        async with consumer:
            await started.wait()
        stopped.append(clock.now())
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(10):
            await started.wait()
            while clock.next_timer() != start + 5:
                await anyio.lowlevel.checkpoint()
        await clock.advance(4)
        assert not done.is_set()
        await clock.advance(1)
        with anyio.fail_after(10):
            await done.wait()

    assert stopped == [start + 5]
    assert finished == []
    assert consumer.statistics().failures == 0
    stats = await queue.statistics()
    assert (stats.visible, stats.in_flight, stats.deleted) == (1, 0, 0)


# ----------------------------------------------------------------------- scaling


async def test_starts_with_five_pollers(bus: Bus, clock: VirtualClock) -> None:
    """A consumer without max_concurrency starts five pollers."""
    queue = await bus.create_queue("q")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        return None

    async with bus.consume(queue, handler) as consumer:
        await clock.wait_settled()
        assert consumer.statistics().concurrency == 5


async def test_concurrency_scales_with_backlog_up_to_the_maximum(
    bus: Bus, clock: VirtualClock
) -> None:
    """With 100 waiting and blocked handlers, concurrency grows above 5 but never above 8."""
    queue = await bus.create_queue("q")
    await send_all(queue, [f"m{i:03}" for i in range(100)])
    gate = anyio.Event()
    reached = anyio.Event()
    running = 0
    peak = 0
    handled: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running >= 8:
            reached.set()
        try:
            await gate.wait()
        finally:
            running -= 1
        handled.extend(r["body"] for r in event["Records"])

    async with bus.consume(queue, handler, max_concurrency=8) as consumer:
        with anyio.fail_after(10):
            await reached.wait()
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        stats = consumer.statistics()
        assert stats.concurrency == 8
        assert stats.in_flight_batches == 8
        assert peak == 8
        assert (await queue.statistics()).in_flight == 80
        gate.set()
        await bus.run_until_idle()
        assert consumer.statistics().concurrency <= 8

    assert peak == 8
    assert sorted(handled) == [f"m{i:03}" for i in range(100)]
    assert (await queue.statistics()).total == 0


async def test_idle_pollers_scale_back_to_five(bus: Bus, clock: VirtualClock) -> None:
    """After the backlog is gone, pollers above five leave when their long poll comes back empty."""
    queue = await bus.create_queue("q")
    await send_all(queue, [f"m{i:03}" for i in range(100)])
    gate = anyio.Event()
    reached = anyio.Event()
    running = 0

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        nonlocal running
        running += 1
        if running >= 10:
            reached.set()
        try:
            await gate.wait()
        finally:
            running -= 1

    async with bus.consume(queue, handler) as consumer:
        with anyio.fail_after(10):
            await reached.wait()
        assert consumer.statistics().concurrency == 10
        gate.set()
        await bus.run_until_idle()
        await clock.advance(21)
        assert consumer.statistics().concurrency == 5


async def test_queue_deleted_under_the_consumer(bus: Bus, clock: VirtualClock) -> None:
    """Deleting the consumed queue stops its pollers; run_until_idle still returns."""
    queue = await bus.create_queue("q")

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        return None

    async with bus.consume(queue, handler) as consumer:
        await clock.advance(1)
        await bus.delete_queue("q")
        await clock.wait_settled()
        assert consumer.statistics().concurrency == 0
        await bus.run_until_idle()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_handler_on_the_loop_that_returns_late_has_timed_out(kind: str) -> None:
    """It could not be stopped (it never yielded), but Lambda would have stopped it:
    its batch is not deleted."""
    clock = SystemClock()
    outcomes: list[str] = []
    slow_seen = anyio.Event()
    async with Bus(clock=clock) as bus:
        queue = await bus.create_queue("orders", visibility_timeout=30)

        def sync_slow(event: dict[str, Any], context: LambdaContext) -> None:
            body = event["Records"][0]["body"]
            outcomes.append(body)
            if body == "slow":
                clock._origin += 5  # five seconds pass inside the handler, past its 3 s
                slow_seen.set()

        async def async_slow(event: dict[str, Any], context: LambdaContext) -> None:
            sync_slow(event, context)

        slow = sync_slow if kind == "sync" else async_slow

        async with bus.consume(
            queue, slow, batch_size=1, run_sync_handlers_in_thread=False
        ) as consumer:
            await queue.send("quick")
            await queue.send("slow")
            with anyio.fail_after(10):
                await slow_seen.wait()
        stats = consumer.statistics()
        counts = await queue.statistics()
    assert outcomes == ["quick", "slow"]
    assert (stats.successes, stats.failures) == (1, 1)
    assert stats.messages_deleted == 1
    assert counts.in_flight == 1  # "slow" waits for its visibility timeout


async def test_stop_with_cancel_inside_the_block_releases_and_leaves_cleanly(bus: Bus) -> None:
    """stop(cancel=True) from inside ``async with`` cancels the running invocation,
    gives its messages back at once, and does not cancel the caller."""
    queue = await bus.create_queue("orders", visibility_timeout=600)
    await queue.send("interrupted")
    started = anyio.Event()

    async def stuck(event: dict[str, Any], context: LambdaContext) -> None:
        started.set()
        await anyio.sleep_forever()

    async with bus.consume(queue, stuck, function_timeout=600) as consumer:
        await started.wait()
        await consumer.stop(cancel=True)
    assert consumer.statistics().in_flight_batches == 0
    [again] = await queue.receive()
    assert again.receive_count == 2


async def test_pollers_survive_transient_receive_errors(
    bus: Bus, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A throttled or unreachable queue is retried after a pause; the pollers stay."""
    from eventbus._runtime._local_handles import LocalQueue
    from eventbus.errors import ServiceUnavailable

    queue = await bus.create_queue("orders")
    original = LocalQueue.receive
    failures = {"left": 12}

    async def flaky(self: LocalQueue, **options: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise ServiceUnavailable("try again")
        return await original(self, **options)

    monkeypatch.setattr(LocalQueue, "receive", flaky)
    handled: list[str] = []

    async def handler(event: dict[str, Any], context: LambdaContext) -> None:
        handled.extend(r["body"] for r in event["Records"])

    async with bus.consume(queue, handler) as consumer:
        await clock.wait_settled()
        assert consumer.statistics().concurrency == 5
        await queue.send("after the outage")
        await bus.run_until_idle(max_time=120)
        assert consumer.statistics().concurrency == 5
    assert failures["left"] == 0
    assert handled == ["after the outage"]


async def test_a_receive_left_to_finish_that_fails_after_stop_does_not_pause(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where receives are left to finish on stop (a remote queue), one that fails
    after the consumer stopped ends its poller instead of starting a retry pause
    that nobody would cancel (leaving the block would wait for it)."""
    from eventbus._runtime._local_handles import LocalQueue
    from eventbus.errors import ServiceUnavailable

    queue = await bus.create_queue("orders")
    answer = anyio.Event()
    all_waiting = anyio.Event()
    waiting = [0]

    async def failing_late(self: LocalQueue, **options: Any) -> Any:
        waiting[0] += 1
        if waiting[0] == 5:  # every poller's receive is "on the wire"
            all_waiting.set()
        await answer.wait()
        raise ServiceUnavailable("connection reset")

    monkeypatch.setattr(LocalQueue, "_receive_cancel_safe", False)
    monkeypatch.setattr(LocalQueue, "receive", failing_late)
    consumer = bus.consume(queue, lambda event, context: None)

    async def fail_the_receives_once_stopped() -> None:
        while not consumer._stopping:
            await anyio.lowlevel.checkpoint()
        answer.set()

    with anyio.fail_after(5):  # a hang guard: the bug left the exit waiting forever
        async with anyio.create_task_group() as group:
            group.start_soon(fail_the_receives_once_stopped)
            async with consumer:
                await all_waiting.wait()
    assert consumer.statistics().concurrency == 0
