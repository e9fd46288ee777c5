"""Bus(enforce_queue_policies=True): SNS delivers to a queue only if its policy allows
the topic, as on AWS; tags and policies survive a reopen of the SQLite store."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from eventbus import Bus, CountingIds, EventBusError, SqliteStore, VirtualClock


@contextmanager
def capture_logs() -> Iterator[list[dict[str, Any]]]:
    """The eventbus records logged in the block, each as its fields (``event``,
    ``code``, ...) and ``log_level``."""
    logs: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logs.append({**record.__dict__, "log_level": record.levelname.lower()})

    logger = logging.getLogger("eventbus")
    keep = Keep()
    logger.addHandler(keep)
    try:
        yield logs
    finally:
        logger.removeHandler(keep)


def sns_statement(queue_arn: str, topic_arn: str, **changes: Any) -> dict[str, Any]:
    """The statement AWS's docs give for letting a topic send to a queue."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    statement.update(changes)
    return {key: value for key, value in statement.items() if value is not None}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


async def test_without_a_policy_nothing_arrives_and_a_warning_says_why() -> None:
    async with Bus(clock=VirtualClock(), enforce_queue_policies=True) as bus:
        queue = await bus.create_queue("orders")
        topic = await bus.create_topic("events")
        await topic.subscribe(queue, raw_message_delivery=True)
        with capture_logs() as logs:
            await topic.publish("lost")
        assert await queue.receive() == []
        [warning] = [e for e in logs if e["event"] == "delivery.failed"]
        assert warning["log_level"] == "warning"
        assert warning["code"] == "AccessDenied"
        assert warning["reason"].startswith("Access to the resource https://sqs.")


async def test_the_statement_aws_requires_lets_the_delivery_through() -> None:
    async with Bus(clock=VirtualClock(), enforce_queue_policies=True) as bus:
        queue = await bus.create_queue("orders")
        topic = await bus.create_topic("events")
        await queue.set_attributes(policy=policy(sns_statement(queue.arn, topic.arn)))
        await topic.subscribe(queue, raw_message_delivery=True)
        await topic.publish("arrives")
        assert [m.body for m in await queue.receive()] == ["arrives"]


async def test_without_enforcement_every_delivery_arrives() -> None:
    async with Bus(clock=VirtualClock()) as bus:
        queue = await bus.create_queue("orders")
        topic = await bus.create_topic("events")
        await topic.subscribe(queue, raw_message_delivery=True)
        await topic.publish("arrives")
        assert [m.body for m in await queue.receive()] == ["arrives"]
        assert "Policy" not in await queue.get_attributes()  # subscribe added none


@pytest.mark.parametrize(
    ("changes", "allowed"),
    [
        ({}, True),
        ({"Principal": "*"}, True),
        ({"Principal": {"AWS": "*"}}, True),
        ({"Principal": {"AWS": "arn:aws:iam::111111111111:root"}}, False),
        ({"Action": "sqs:*"}, True),
        ({"Action": ["SQS:ReceiveMessage", "SQS:SendMessage"]}, True),
        ({"Action": "sqs:ReceiveMessage"}, False),
        ({"Resource": "*"}, True),
        ({"Resource": "arn:aws:sqs:us-east-1:000000000000:other"}, False),
        ({"Condition": None}, True),
        ({"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:ev*"}}}, True),
        ({"Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:0:other"}}}, False),
        ({"Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}}}, True),
        ({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, False),
        ({"Effect": "Deny"}, False),
    ],
)
async def test_which_statements_allow_a_delivery(changes: dict[str, Any], allowed: bool) -> None:
    async with Bus(clock=VirtualClock(), enforce_queue_policies=True) as bus:
        queue = await bus.create_queue("orders")
        topic = await bus.create_topic("events")
        await queue.set_attributes(policy=policy(sns_statement(queue.arn, topic.arn, **changes)))
        await topic.subscribe(queue, raw_message_delivery=True)
        await topic.publish("m")
        assert bool(await queue.receive()) is allowed


async def test_a_deny_statement_wins_over_an_allow() -> None:
    async with Bus(clock=VirtualClock(), enforce_queue_policies=True) as bus:
        queue = await bus.create_queue("orders")
        topic = await bus.create_topic("events")
        allow = sns_statement(queue.arn, topic.arn)
        deny = sns_statement(queue.arn, topic.arn, Effect="Deny", Condition=None)
        await queue.set_attributes(policy=policy(allow, deny))
        await topic.subscribe(queue, raw_message_delivery=True)
        await topic.publish("m")
        assert await queue.receive() == []


async def test_a_refused_delivery_goes_to_the_subscription_dlq_if_its_policy_allows() -> None:
    async with Bus(clock=VirtualClock(), enforce_queue_policies=True) as bus:
        queue = await bus.create_queue("orders")
        dlq = await bus.create_queue("orders-dlq")
        topic = await bus.create_topic("events")
        await topic.subscribe(queue, raw_message_delivery=True, dead_letter_queue=dlq)
        await topic.publish("first")  # the DLQ's policy does not allow the topic either
        assert await dlq.receive() == []
        await dlq.set_attributes(policy=policy(sns_statement(dlq.arn, topic.arn)))
        with capture_logs() as logs:
            await topic.publish("second")
        assert await queue.receive() == []
        assert [m.body for m in await dlq.receive()] == ["second"]
        assert [e["code"] for e in logs if e["event"] == "delivery.dead_lettered"] == [
            "AccessDenied"
        ]


async def test_enforcement_is_for_the_local_backend_only() -> None:
    from eventbus.aws import AwsBackend

    with pytest.raises(EventBusError) as caught:
        Bus(backend=AwsBackend("us-east-1"), enforce_queue_policies=True)
    assert caught.value.code == "InvalidParameterValue"
    with pytest.raises(EventBusError):
        Bus(enforce_queue_policies="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    ["not json", "[]", json.dumps({"Statement": "x"}), json.dumps({"Version": "2012-10-17"})],
)
async def test_a_bad_policy_is_refused_and_changes_nothing(bad: str) -> None:
    async with Bus(clock=VirtualClock()) as bus:
        queue = await bus.create_queue("orders")
        with pytest.raises(EventBusError) as caught:
            await queue.set_attributes(policy=bad)
        assert caught.value.code == "InvalidAttributeValue"
        assert caught.value.message.startswith("Invalid value for the parameter Policy.")
        assert "Policy" not in await queue.get_attributes()


async def test_tags_and_policies_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    async with Bus(clock=VirtualClock(), store=SqliteStore(path), ids=CountingIds()) as bus:
        queue = await bus.create_queue("orders", tags={"team": "a"})
        gone = await bus.create_queue("gone", tags={"x": "y"})
        topic = await bus.create_topic("events", tags={"env": "dev"})
        await queue.add_permission("cross", ["111111111111"], ["SendMessage"])
        await topic.untag(["env"])
        await topic.tag({"env": "prod"})
        await gone.delete_queue()
    async with Bus(clock=VirtualClock(), store=SqliteStore(path)) as bus:
        queue = await bus.get_queue("orders")
        assert await queue.list_tags() == {"team": "a"}
        assert await (await bus.get_topic("events")).list_tags() == {"env": "prod"}
        statements = json.loads((await queue.get_attributes())["Policy"])["Statement"]
        assert [s["Sid"] for s in statements] == ["cross"]
    clock = VirtualClock()
    async with Bus(clock=clock, store=SqliteStore(path)) as bus:
        await clock.advance(61)
        again = await bus.create_queue("gone")
        assert await again.list_tags() == {}  # a deleted queue's tags went with it


async def test_a_version_1_database_gains_the_tags_table(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "bus.db"
    async with Bus(clock=VirtualClock(), store=SqliteStore(path)) as bus:
        await bus.create_queue("orders")
    con = sqlite3.connect(path)
    # Back to schema 1: no tags table, no statistics column, messages keyed by id.
    con.executescript(
        "DROP TABLE tags; DROP TABLE meta; ALTER TABLE queues DROP COLUMN counters; "
        "DROP TABLE messages; CREATE TABLE messages("
        "queue TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "state TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT, md5_of_body TEXT NOT NULL, "
        "md5_of_attributes TEXT, sent_at REAL NOT NULL, enqueued_at REAL NOT NULL, "
        "available_at REAL NOT NULL, size INTEGER NOT NULL, receive_count INTEGER NOT NULL, "
        "first_received_at REAL, received_at REAL, system TEXT, group_id TEXT, "
        "visible_order INTEGER NOT NULL, PRIMARY KEY (queue, message_id)) WITHOUT ROWID; "
        "PRAGMA user_version=1;"
    )
    con.close()
    async with Bus(clock=VirtualClock(), store=SqliteStore(path)) as bus:
        queue = await bus.get_queue("orders")
        await queue.tag({"team": "a"})
    async with Bus(clock=VirtualClock(), store=SqliteStore(path)) as bus:
        assert await (await bus.get_queue("orders")).list_tags() == {"team": "a"}
