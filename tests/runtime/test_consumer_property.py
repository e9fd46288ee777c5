"""Property: through the consumer, whatever the handler does, nothing is lost.

Random per-attempt outcomes (succeed, raise, time out, report as a partial failure),
random batch sizes, batching windows and concurrency; after ``run_until_idle`` every
published message was handled successfully or sits in the DLQ with its receive
count, and none is lost or stuck in flight.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import anyio
from hypothesis import given
from hypothesis import strategies as st

from eventbus import Bus, CountingIds, RedrivePolicy, VirtualClock

OUTCOMES = st.sampled_from(["ok", "ok", "raise", "timeout", "partial"])


@given(
    plans=st.lists(st.lists(OUTCOMES, min_size=1, max_size=4), min_size=1, max_size=30),
    batch_size=st.integers(1, 10),
    window=st.sampled_from([0, 0, 1, 5]),
    max_concurrency=st.sampled_from([None, 2, 3]),
    max_receive_count=st.integers(1, 4),
    partial=st.booleans(),
)
def test_every_message_is_handled_or_dead_lettered(
    plans: list[list[str]],
    batch_size: int,
    window: int,
    max_concurrency: int | None,
    max_receive_count: int,
    partial: bool,
) -> None:
    """Each message ends handled exactly once or in the DLQ after max_receive_count tries."""
    handled: Counter[int] = Counter()
    attempts: Counter[int] = Counter()

    async def main() -> tuple[list[tuple[int, int]], int]:
        clock = VirtualClock()
        async with Bus(clock=clock, ids=CountingIds()) as bus:
            await bus.create_queue("dlq", message_retention_period=1_209_600)
            queue = await bus.create_queue(
                "work",
                visibility_timeout=10,
                redrive_policy=RedrivePolicy(
                    dead_letter_queue="dlq", max_receive_count=max_receive_count
                ),
            )
            topic = await bus.create_topic("events")
            await topic.subscribe(queue, raw_message_delivery=True)

            async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
                failures = []
                outcome_of_batch = "ok"
                for record in event["Records"]:
                    number = json.loads(record["body"])["n"]
                    plan = plans[number]
                    outcome = plan[attempts[number] % len(plan)]
                    attempts[number] += 1
                    if outcome in ("raise", "timeout"):
                        outcome_of_batch = outcome
                    elif outcome == "partial" and partial:
                        failures.append({"itemIdentifier": record["messageId"]})
                if outcome_of_batch == "raise":
                    raise RuntimeError("handler failed")
                if outcome_of_batch == "timeout":
                    await clock.sleep(5)
                for record in event["Records"]:
                    if {"itemIdentifier": record["messageId"]} not in failures:
                        handled[json.loads(record["body"])["n"]] += 1
                return {"batchItemFailures": failures}

            for number in range(len(plans)):
                await topic.publish(json.dumps({"n": number}))
            async with bus.consume(
                queue,
                handler,
                batch_size=batch_size,
                maximum_batching_window=window,
                max_concurrency=max_concurrency,
                function_timeout=3,
                report_batch_item_failures=partial,
            ):
                await bus.run_until_idle(max_time=100_000)
            dlq = await bus.get_queue("dlq")
            dead = []
            while batch := await dlq.receive(max_messages=10):
                dead += [
                    (json.loads(m.body)["n"], int(m.attributes["ApproximateReceiveCount"]))
                    for m in batch
                ]
            return dead, (await queue.statistics()).total

    dead, left_in_queue = anyio.run(main)

    dead_numbers = [number for number, _ in dead]
    assert 0 == left_in_queue
    assert set() == set(handled) & set(dead_numbers)
    assert sorted(set(handled) | set(dead_numbers)) == list(range(len(plans)))
    assert all(count == 1 for count in handled.values())
    assert len(dead_numbers) == len(set(dead_numbers))
    # Moved after max_receive_count receives; receiving from the DLQ counted once more.
    assert {max_receive_count + 1} >= {count for _, count in dead}
