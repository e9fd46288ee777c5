"""Scenario workloads: time travel (8) and filtering (9).

* Time travel: on a ``VirtualClock``, 100 messages published to a topic reach a
  queue (30 s visibility timeout, 4-day retention) whose consumer reports every
  message failed for its first 10 receives: 1,000 visibility-timeout expiries,
  played out by ``run_until_idle``. Then 100 bodies are sent twice to a FIFO queue
  with content-based deduplication (the second time they are dropped), the 5-minute
  deduplication window passes, and they are sent again (now accepted). Finally 100
  more messages are published and 4 days pass, so retention expires every message
  left. The figure is the wall
  time; its baseline is the virtual time the scenario spans.
* Filtering (issue 3): publishing to a topic with 100 subscriptions, each with a
  filter policy (every operator, both scopes), against publishing to the same 100
  subscriptions without policies; and the time the 100 compiled policies take to
  match one message, against the whole publish. Then the hostile messages of the
  reliability trial (a 256 KiB ``String.Array`` against 100 policies), against parsing
  that array once.
"""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from typing import Any

from bench_harness import BODY, Figure, Sizes, Stopwatch, interleave, median

from eventbus import Bus, EventBusError, Queue, Topic, VirtualClock
from eventbus._core._attributes import MessageAttributeValue, to_attribute_value
from eventbus._core._filter_policy import (
    FilterPolicy,
    FilterPolicyScope,
    PublishedMessage,
    compile_filter_policy,
)

# ------------------------------------------------------------------ 8. time travel

RETENTION = 4 * 24 * 3600
VISIBILITY = 30
FAILED_RECEIVES = 10
MESSAGES = 100
WINDOW = 300


def _fail_first_receives(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if int(record["attributes"]["ApproximateReceiveCount"]) <= FAILED_RECEIVES
        ]
    }


async def _dedup_queue(bus: Bus) -> Queue | None:
    """A FIFO queue with content-based deduplication, or None if FIFO is not supported."""
    try:
        return await bus.create_queue(
            "dedup.fifo",
            fifo_queue=True,
            content_based_deduplication=True,
            message_retention_period=RETENTION,
        )
    except EventBusError:
        return None


async def timetravel_once() -> tuple[float, float, bool]:
    """Run the scenario once; return (wall seconds, virtual seconds, FIFO dedup included)."""
    clock = VirtualClock()
    virtual_start = clock.now()
    with Stopwatch() as sw:
        async with Bus(clock=clock) as bus:
            queue = await bus.create_queue(
                "work", visibility_timeout=VISIBILITY, message_retention_period=RETENTION
            )
            topic = await bus.create_topic("events")
            await topic.subscribe(queue, raw_message_delivery=True)
            for _ in range(MESSAGES):
                await topic.publish(BODY)
            async with bus.consume(queue, _fail_first_receives, report_batch_item_failures=True):
                await bus.run_until_idle()
            stats = await queue.statistics()
            assert stats.redelivered == MESSAGES * FAILED_RECEIVES, stats
            assert stats.deleted == MESSAGES, stats

            # The 5-minute deduplication window: duplicates inside it are dropped,
            # the same bodies after it are new messages.
            fifo = await _dedup_queue(bus)
            bodies = [f"{i:03d}{BODY[3:]}" for i in range(MESSAGES)]
            if fifo is not None:
                for body in bodies + bodies:
                    await fifo.send(body, message_group_id="g")
            await clock.advance(WINDOW)
            if fifo is not None:
                for body in bodies:
                    await fifo.send(body, message_group_id="g")
                assert (await fifo.statistics()).sent == 2 * MESSAGES

            for _ in range(MESSAGES):
                await topic.publish(BODY)
            await clock.advance(RETENTION + 1)
            stats = await queue.statistics()
            assert stats.expired == MESSAGES, stats
            assert stats.total == 0, stats
            if fifo is not None:
                assert (await fifo.statistics()).expired == 2 * MESSAGES
    return sw.seconds, clock.now() - virtual_start, fifo is not None


async def timetravel(sizes: Sizes) -> list[Figure]:
    walls: list[float] = []
    spans: list[float] = []
    fifo = True
    for _ in range(sizes.timetravel_reps):
        wall, span, fifo = await timetravel_once()
        walls.append(wall)
        spans.append(span)
    window = (
        "FIFO content-based deduplication across the window"
        if fifo
        else "FIFO is not supported by this build: the window is only waited out"
    )
    return [
        Figure(
            "8",
            "time travel: 4-day retention, 1,000 visibility expiries, 5-min dedup window",
            median(walls),
            "s",
            "virtual time spanned",
            median(spans),
            "lower",
            samples=walls,
            note=(
                f"{median(spans) / median(walls):,.0f}x faster than real time; default "
                f"consumer (handler in a thread); {window}"
            ),
        )
    ]


# ------------------------------------------------------------------ 9. filtering

SUBSCRIPTIONS = 100
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1", "sa-east-1")
KINDS = ("order.created", "order.updated", "order.deleted", "order.refunded", "payment.settled")
CUSTOMERS = ("acme", "ACME", "globex", "initech")


def policy(index: int) -> tuple[dict[str, Any], FilterPolicyScope]:
    """Subscription ``index``'s filter policy and scope: ten templates, ten variants."""
    v = index // 10
    template = index % 10
    scope: FilterPolicyScope = "MessageAttributes"
    p: dict[str, Any]
    if template == 0:
        p = {"region": [REGIONS[v % 6], REGIONS[(v + 1) % 6]]}
    elif template == 1:
        p = {"region": [{"prefix": ("eu-", "us-", "ap-")[v % 3]}], "kind": [{"prefix": "order."}]}
    elif template == 2:
        p = {"kind": [{"suffix": (".created", ".updated", ".deleted")[v % 3]}]}
    elif template == 3:
        p = {"kind": [{"anything-but": [KINDS[v % 5], KINDS[(v + 1) % 5]]}], "customer": ["acme"]}
    elif template == 4:
        p = {
            "customer": [{"equals-ignore-case": "ACME"}],
            "region": [{"anything-but": {"prefix": "ap-"}}],
        }
    elif template == 5:
        p = {"amount": [{"numeric": [">", v * 100, "<=", v * 100 + 250]}]}
    elif template == 6:
        p = {"ip": [{"cidr": f"10.0.{v}.0/24"}]}
    elif template == 7:
        p = {"tags": ["vip", f"t{v}"], "region": [{"exists": True}], "coupon": [{"exists": False}]}
    elif template == 8:
        p = {
            "$or": [
                {"amount": [{"numeric": ["<", 10 + v]}]},
                {"kind": ["order.refunded"], "customer": ["globex"]},
            ]
        }
    else:
        scope = "MessageBody"
        p = {"order": {"status": ["paid"], "total": [{"numeric": [">=", v * 100]}]}}
    return p, scope


def messages(count: int = 64) -> list[tuple[str, dict[str, object]]]:
    """A fixed pool of (body, attributes): JSON bodies of about 100 bytes."""
    rng = random.Random(8)
    out = []
    for i in range(count):
        attributes: dict[str, object] = {
            "region": rng.choice(REGIONS),
            "kind": rng.choice(KINDS),
            "customer": rng.choice(CUSTOMERS),
            "amount": rng.randrange(0, 1000),
            "ip": f"10.0.{rng.randrange(12)}.{rng.randrange(256)}",
            "tags": rng.sample(["vip", "t1", "t2", "t3", "new", "gift"], 2),
        }
        order = {"id": i, "status": rng.choice(("paid", "open")), "total": rng.randrange(1000)}
        body = json.dumps({"order": order, "note": ""})
        body = json.dumps({"order": order, "note": "n" * max(0, 100 - len(body))})
        out.append((body, attributes))
    return out


async def _topic(bus: Bus, filtered: bool) -> Topic:
    topic = await bus.create_topic("filtered" if filtered else "plain")
    for index in range(SUBSCRIPTIONS):
        queue = await bus.create_queue(f"sub{index:03d}")
        p, scope = policy(index)
        if filtered:
            await topic.subscribe(queue, filter_policy=p, filter_policy_scope=scope)
        else:
            await topic.subscribe(queue)
    return topic


async def publish_rate(filtered: bool, publishes: int) -> tuple[float, int]:
    """Publishes/s to 100 subscriptions, and the deliveries made."""
    pool = messages()
    async with Bus(clock=VirtualClock()) as bus:
        topic = await _topic(bus, filtered)
        with Stopwatch() as sw:
            for i in range(publishes):
                body, attributes = pool[i % len(pool)]
                await topic.publish(body, message_attributes=attributes)
        delivered = 0
        for queue in await bus.list_queues("sub"):
            delivered += (await queue.statistics()).sent
    return publishes / sw.seconds, delivered


def match_seconds(publishes: int) -> float:
    """Seconds per publish that the 100 compiled policies take to match a message."""
    policies: list[FilterPolicy] = []
    for index in range(SUBSCRIPTIONS):
        p, scope = policy(index)
        compiled = compile_filter_policy(p, scope)
        assert compiled is not None
        policies.append(compiled)
    typed: list[tuple[str, dict[str, MessageAttributeValue]]] = [
        (body, {n: to_attribute_value(n, v, allow_array=True) for n, v in attributes.items()})
        for body, attributes in messages()
    ]
    perf = time.perf_counter
    start = perf()
    for i in range(publishes):
        body, attributes = typed[i % len(typed)]
        published = PublishedMessage(attributes, body)  # as a publish shares it
        for compiled in policies:
            compiled.matches_message(published)
    return (perf() - start) / publishes


HOSTILE_SHAPES: dict[str, tuple[Any, list[Any]]] = {
    "32,000 strings vs prefix/suffix": (
        lambda i: {"a": [{"prefix": f"zz{i}"}, {"suffix": f"q{i}"}]},
        [f"s{i:06d}" for i in range(32_000)],
    ),
    "32,000 strings vs equals-ignore-case": (
        lambda i: {"a": [{"equals-ignore-case": f"Z{i}"}]},
        [f"s{i:06d}" for i in range(32_000)],
    ),
    "21,000 IPs vs cidr": (
        lambda i: {"a": [{"cidr": f"10.{i}.0.0/16"}]},
        [f"192.168.{(i // 256) % 256}.{i % 256}" for i in range(21_000)],
    ),
    "32,000 numbers vs numeric": (
        lambda i: {"a": [{"numeric": [">", i * 1000, "<", i * 1000 + 5]}]},
        list(range(0, 32_000 * 7, 7)),
    ),
    "15,000 IPs vs prefix and cidr": (
        lambda i: {"a": [{"prefix": f"zz{i}"}, {"cidr": f"10.{i}.0.0/16"}]},
        [f"192.168.{(i // 256) % 256}.{i % 256}" for i in range(15_000)],
    ),
}
"""The hostile messages of the reliability trial: one String.Array attribute of about
256 KiB against 100 filtered subscriptions (each took 1.9-6.2 s before the matcher
indexed the values)."""


def hostile_seconds(reps: int) -> tuple[float, float, str]:
    """The slowest hostile shape: (seconds to match it against its 100 policies,
    seconds to parse its array once, its name); the best of ``reps`` runs each."""
    worst = (0.0, 1.0, "")
    perf = time.perf_counter
    for name, (make, values) in HOSTILE_SHAPES.items():
        policies = [compile_filter_policy(make(i)) for i in range(SUBSCRIPTIONS)]
        text = json.dumps(values, separators=(",", ":"))
        attributes = {"a": MessageAttributeValue("String.Array", text)}
        match = parse = float("inf")
        for _ in range(reps):
            start = perf()
            published = PublishedMessage(attributes, "")
            for compiled in policies:
                assert compiled is not None
                compiled.matches_message(published)
            match = min(match, perf() - start)
            start = perf()
            json.loads(text, parse_int=Decimal, parse_float=Decimal)
            parse = min(parse, perf() - start)
        if match > worst[0]:
            worst = (match, parse, name)
    return worst


async def filtering(sizes: Sizes) -> list[Figure]:
    n = sizes.filter_publishes
    deliveries: dict[str, int] = {}

    async def filtered() -> float:
        rate, deliveries["filtered"] = await publish_rate(True, n)
        return rate

    async def plain() -> float:
        rate, deliveries["plain"] = await publish_rate(False, n)
        return rate

    async def matching() -> float:
        return 1.0 / match_seconds(n)

    runs = await interleave(
        [("filtered", filtered), ("plain", plain), ("matching", matching)], sizes.reps
    )
    publish_us = 1e6 / median(runs["filtered"])
    match_us = 1e6 / median(runs["matching"])
    per_publish = deliveries["filtered"] / n
    hostile, parse, shape = hostile_seconds(sizes.reps)
    return [
        Figure(
            "9",
            "publish to 100 filtered subscriptions (SNS envelope delivery)",
            median(runs["filtered"]),
            "pub/s",
            "same 100 subs, no policies",
            median(runs["plain"]),
            "higher",
            samples=runs["filtered"],
            baseline_samples=runs["plain"],
            note=(
                f"{per_publish:.1f} deliveries per filtered publish vs "
                f"{deliveries['plain'] / n:.0f} without policies"
            ),
        ),
        Figure(
            "9",
            "filter matching (100 compiled policies) within one filtered publish",
            match_us,
            "us",
            "whole publish",
            publish_us,
            "lower",
            note=f"filtering is {100 * match_us / publish_us:.0f} % of a publish (the ratio)",
        ),
        Figure(
            "9",
            "hostile 256 KiB message vs 100 filtered subscriptions (slowest shape)",
            hostile * 1e3,
            "ms",
            "parsing its array once",
            parse * 1e3,
            "lower",
            note=(
                f"slowest of {len(HOSTILE_SHAPES)} shapes: {shape}; the ratio is how many "
                "parses of the message matching it against 100 policies costs"
            ),
        ),
    ]


# ------------------------------------------------------------------ profiling


async def profile_filtering(sizes: Sizes) -> None:
    await publish_rate(True, sizes.filter_publishes * 3)


async def profile_timetravel(sizes: Sizes) -> None:
    await timetravel_once()
