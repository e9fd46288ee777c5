"""At-least-once delivery through the runtime, as a hypothesis property.

Messages are sent to a queue directly and published through topics (raw and
enveloped, with and without delays); a consumer, or a hand-written receive loop,
fails at random. Once the virtual clock has run far enough, every message sent was
either deleted after at least one successful handling or is in the dead-letter
queue: none lost, none both.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
from hypothesis import given
from hypothesis import strategies as st

from eventbus import Bus, CountingIds, LambdaContext, Queue, RedrivePolicy, VirtualClock

ROUTES = ["send", "send_delayed", "publish_raw", "publish_envelope"]
INVOCATION_OUTCOMES = ["return", "return", "return", "raise", "timeout"]


@dataclass
class Setup:
    """The pieces of one scenario: a queue with a DLQ fed directly and by two topics."""

    clock: VirtualClock
    bus: Bus
    queue: Queue
    dlq: Queue
    sent: list[str] = field(default_factory=list)


def identity(body: str) -> str:
    """The message's own text, whether it arrived raw or in an SNS envelope."""
    if body.startswith("{"):
        text = json.loads(body)["Message"]
        assert isinstance(text, str)
        return text
    return body


async def build(bus: Bus, clock: VirtualClock, visibility_timeout: int, max_receive: int) -> Setup:
    """Create the queues, topics and subscriptions of a scenario."""
    dlq = await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "work",
        visibility_timeout=visibility_timeout,
        redrive_policy=RedrivePolicy(dead_letter_queue=dlq.arn, max_receive_count=max_receive),
    )
    raw = await bus.create_topic("raw")
    await raw.subscribe(queue, raw_message_delivery=True)
    enveloped = await bus.create_topic("enveloped")
    await enveloped.subscribe(queue)
    return Setup(clock, bus, queue, dlq)


async def produce(setup: Setup, routes: list[str]) -> None:
    """Send or publish one message per route, each with a distinct text."""
    raw = await setup.bus.get_topic("raw")
    enveloped = await setup.bus.get_topic("enveloped")
    for index, route in enumerate(routes):
        text = f"m{index}"
        if route == "send":
            await setup.queue.send(text)
        elif route == "send_delayed":
            await setup.queue.send(text, delay_seconds=1 + index % 7)
        elif route == "publish_raw":
            await raw.publish(text)
        else:
            await enveloped.publish(text)
        setup.sent.append(text)


async def drain(queue: Queue) -> list[str]:
    """Receive and delete every visible message of ``queue``; return their texts."""
    texts: list[str] = []
    while batch := await queue.receive(max_messages=10):
        for message in batch:
            texts.append(identity(message.body))
            await queue.delete(message.receipt_handle)
    return texts


async def check(setup: Setup, succeeded: set[str], attempts: Counter[str], limit: int) -> None:
    """Every message was handled successfully or dead-lettered: never lost, never both."""
    stats = await setup.queue.statistics()
    assert stats.total == 0, stats
    dead = await drain(setup.dlq)
    dead_set = set(dead)
    assert len(dead) == len(dead_set), f"a message reached the DLQ twice: {dead}"
    assert not succeeded & dead_set, f"handled and dead-lettered: {succeeded & dead_set}"
    assert succeeded | dead_set == set(setup.sent), (
        f"lost: {set(setup.sent) - succeeded - dead_set}"
    )
    assert set(attempts) <= set(setup.sent)
    for text in dead_set:
        assert attempts[text] == limit, (text, attempts[text], limit)
    assert stats.deleted == len(succeeded)
    assert stats.dead_lettered == len(dead_set)


@given(
    routes=st.lists(st.sampled_from(ROUTES), min_size=1, max_size=25),
    visibility_timeout=st.integers(1, 40),
    max_receive=st.integers(1, 4),
    batch_size=st.integers(1, 10),
    data=st.data(),
)
def test_consumer_delivers_every_message_at_least_once(
    routes: list[str],
    visibility_timeout: int,
    max_receive: int,
    batch_size: int,
    data: st.DataObject,
) -> None:
    """Through a randomly failing consumer, each message is handled once OK or dead-lettered."""
    succeeded: set[str] = set()
    attempts: Counter[str] = Counter()

    async def main() -> None:
        clock = VirtualClock()
        async with Bus(clock=clock, ids=CountingIds()) as bus:
            setup = await build(bus, clock, visibility_timeout, max_receive)

            async def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
                texts = {r["messageId"]: identity(r["body"]) for r in event["Records"]}
                attempts.update(texts.values())
                outcome = data.draw(st.sampled_from(INVOCATION_OUTCOMES), label="invocation")
                if outcome == "raise":
                    raise RuntimeError("the whole batch fails")
                if outcome == "timeout":
                    await clock.sleep(2)
                failed = [
                    message_id
                    for message_id, text in texts.items()
                    if data.draw(st.booleans(), label=f"fail {text}")
                ]
                succeeded.update(t for m, t in texts.items() if m not in failed)
                return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

            async with bus.consume(
                setup.queue,
                handler,
                batch_size=batch_size,
                function_timeout=1,
                report_batch_item_failures=True,
            ):
                await produce(setup, routes)
                await bus.run_until_idle()

            await check(setup, succeeded, attempts, max_receive)

    anyio.run(main, backend="asyncio")


@given(
    routes=st.lists(st.sampled_from(ROUTES), min_size=1, max_size=25),
    visibility_timeout=st.integers(0, 30),
    max_receive=st.integers(1, 4),
    max_messages=st.integers(1, 10),
    data=st.data(),
)
def test_receive_loop_delivers_every_message_at_least_once(
    routes: list[str],
    visibility_timeout: int,
    max_receive: int,
    max_messages: int,
    data: st.DataObject,
) -> None:
    """A receive loop that randomly forgets to delete or gives messages back loses none."""
    succeeded: set[str] = set()
    attempts: Counter[str] = Counter()

    async def main() -> None:
        clock = VirtualClock()
        async with Bus(clock=clock, ids=CountingIds()) as bus:
            setup = await build(bus, clock, visibility_timeout, max_receive)
            await produce(setup, routes)
            queue = setup.queue
            limit = clock.now() + 3600
            while (await queue.statistics()).total:
                assert clock.now() < limit, "the loop did not finish"
                batch = await queue.receive(max_messages=max_messages)
                if not batch:
                    await clock.advance(1)
                    continue
                for message in batch:
                    text = identity(message.body)
                    attempts[text] += 1
                    action = data.draw(
                        st.sampled_from(["delete", "forget", "give_back"]), label=text
                    )
                    if action == "delete":
                        await queue.delete(message.receipt_handle)
                        succeeded.add(text)
                    elif action == "give_back":
                        await queue.change_visibility(message.receipt_handle, 0)
            await check(setup, succeeded, attempts, max_receive)

    anyio.run(main, backend="asyncio")
