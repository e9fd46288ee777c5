"""What only the AWS backend has: its options, its refusals, errors, queue policies."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from eventbus import (
    Bus,
    BusClosed,
    CountingIds,
    EventBusError,
    NotIdle,
    SqliteStore,
    VirtualClock,
)
from eventbus.aws import AwsBackend, AwsQueue
from eventbus.aws._errors import aws_code, error_class, from_client_error
from eventbus.errors import QueueDoesNotExist

from .conftest import aws_backend, reset_moto


@pytest.fixture
async def aws_bus(moto_endpoint: str) -> AsyncIterator[Bus]:
    reset_moto(moto_endpoint)
    async with Bus(backend=aws_backend(moto_endpoint)) as bus:
        yield bus


def test_a_virtual_clock_is_refused() -> None:
    with pytest.raises(EventBusError) as caught:
        Bus(clock=VirtualClock(), backend=AwsBackend("us-east-1"))
    assert caught.value.code == "InvalidParameterValue"
    assert "VirtualClock" in caught.value.message


@pytest.mark.parametrize(
    "options",
    [{"ids": CountingIds()}, {"trace": True}, {"store": "sqlite"}],
    ids=["ids", "trace", "store"],
)
def test_local_only_options_are_refused(options: dict[str, Any], tmp_path: Path) -> None:
    if options.get("store") == "sqlite":
        options = {"store": SqliteStore(tmp_path / "bus.db")}
    with pytest.raises(EventBusError) as caught:
        Bus(backend=AwsBackend("us-east-1"), **options)
    assert caught.value.code == "InvalidParameterValue"
    assert next(iter(options)) in caught.value.message


def test_the_bus_takes_the_backends_region() -> None:
    assert Bus(backend=AwsBackend("eu-west-1")).region == "eu-west-1"
    with pytest.raises(EventBusError) as caught:
        Bus(region="us-east-1", backend=AwsBackend("eu-west-1"))
    assert "eu-west-1" in caught.value.message


def test_the_region_comes_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert AwsBackend().region == "ap-south-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(EventBusError) as caught:
        AwsBackend()
    assert caught.value.code == "InvalidParameterValue"
    assert "region" in caught.value.message


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_is_refused_on_entry() -> None:
    bus = Bus(backend=AwsBackend("us-east-1", "http://127.0.0.1:9"))
    with pytest.raises(EventBusError) as caught:
        async with bus:
            pass
    assert "asyncio" in caught.value.message


async def test_calls_outside_the_bus_are_refused(moto_endpoint: str) -> None:
    bus = Bus(backend=aws_backend(moto_endpoint))
    with pytest.raises(BusClosed, match="async with"):
        await bus.create_queue("orders")


def test_aws_error_codes_take_the_local_names() -> None:
    assert aws_code("AWS.SimpleQueueService.NonExistentQueue") == "QueueDoesNotExist"
    assert aws_code("AWS.SimpleQueueService.PurgeQueueInProgress") == "PurgeQueueInProgress"
    assert aws_code("QueueNameExists") == "QueueAlreadyExists"
    assert error_class("AWS.SimpleQueueService.NonExistentQueue") is QueueDoesNotExist
    unknown = error_class("ThrottlingException")
    assert issubclass(unknown, EventBusError)
    assert unknown.code == "ThrottlingException"
    assert error_class("ThrottlingException") is unknown


def test_a_client_error_becomes_the_event_bus_error() -> None:
    response: Any = {
        "Error": {
            "Code": "AWS.SimpleQueueService.NonExistentQueue",
            "QueryErrorCode": "QueueDoesNotExist",
            "Message": "The specified queue does not exist.",
        }
    }
    error = from_client_error(ClientError(response, "GetQueueUrl"))
    assert isinstance(error, QueueDoesNotExist)
    assert error.message == "The specified queue does not exist."


async def test_subscribing_lets_the_topic_send_to_the_queue(aws_bus: Bus) -> None:
    queue = await aws_bus.create_queue("orders")
    other = {
        "Sid": "keep-me",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sqs:ReceiveMessage",
        "Resource": queue.arn,
    }
    existing = json.dumps({"Version": "2012-10-17", "Statement": [other]})
    await aws_bus.backend.sqs.set_queue_attributes(  # type: ignore[attr-defined]
        QueueUrl=queue.url, Attributes={"Policy": existing}
    )
    topic = await aws_bus.create_topic("events")
    await topic.subscribe(queue)
    await topic.subscribe(queue)  # again: the same subscription, no second statement
    policy = json.loads((await queue.get_attributes())["Policy"])
    statements = policy["Statement"]
    assert statements[0] == other
    [allow] = statements[1:]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": topic.arn}}


async def test_local_only_calls_raise_unsupported_operation(aws_bus: Bus) -> None:
    queue = await aws_bus.create_queue("orders")
    with pytest.raises(EventBusError) as caught:
        await queue.peek()
    assert caught.value.code == "UnsupportedOperation"
    with pytest.raises(EventBusError) as caught:
        await queue.start_message_move_task()
    assert caught.value.code == "UnsupportedOperation"
    with pytest.raises(EventBusError) as caught:
        await aws_bus.cancel_message_move_task("handle")
    assert caught.value.code == "UnsupportedOperation"


async def test_a_local_queue_cannot_subscribe_to_an_aws_topic(aws_bus: Bus) -> None:
    topic = await aws_bus.create_topic("events")
    async with Bus(clock=VirtualClock()) as local:
        queue = await local.create_queue("orders")
        with pytest.raises(EventBusError) as caught:
            await topic.subscribe(queue)
    assert caught.value.code == "InvalidParameter"
    assert await topic.subscriptions() == []


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"idle_quiet_period": -1}, "idle_quiet_period"),
        ({"long_poll_seconds": 0}, "long_poll_seconds"),
        ({"long_poll_seconds": 21}, "long_poll_seconds"),
    ],
)
def test_backend_options_out_of_range_are_refused(options: dict[str, Any], name: str) -> None:
    with pytest.raises(EventBusError) as caught:
        AwsBackend("us-east-1", **options)
    assert caught.value.code == "InvalidParameterValue"
    assert name in caught.value.message


async def test_an_unreachable_service_is_service_unavailable() -> None:
    backend = AwsBackend(
        "us-east-1",
        "http://127.0.0.1:9",  # the discard port: nothing listens
        config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    async with Bus(backend=backend) as bus:
        with pytest.raises(EventBusError) as caught:
            await bus.create_queue("orders")
    assert caught.value.code == "ServiceUnavailable"
    assert not caught.value.sender_fault


async def test_a_failed_subscribe_takes_its_policy_statement_back(aws_bus: Bus) -> None:
    queue = await aws_bus.create_queue("orders")
    topic = await aws_bus.create_topic("events")
    sns: Any = aws_bus.backend.sns  # type: ignore[attr-defined]

    async def refuse(**request: Any) -> None:
        raise ClientError({"Error": {"Code": "AuthorizationError", "Message": "no"}}, "Subscribe")

    original, sns.subscribe = sns.subscribe, refuse
    try:
        with pytest.raises(EventBusError) as caught:
            await topic.subscribe(queue)
    finally:
        sns.subscribe = original
    assert caught.value.code == "AuthorizationError"
    assert "Policy" not in await queue.get_attributes()


async def test_a_stopping_consumer_gives_back_what_its_last_receive_took(
    aws_bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long poll already sent is left to finish, and what it brings is released:
    cancelled midway, SQS would keep the message hidden for 600 seconds."""
    from moto.sqs.models import SQSBackend

    queue = await aws_bus.create_queue("orders", visibility_timeout=600)
    handled: list[str] = []
    polls_open = threading.Semaphore(0)  # released by the server's thread per poll
    receive_message = SQSBackend.receive_message

    def counted(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        polls_open.release()
        return receive_message(self, *args, **kwargs)

    monkeypatch.setattr(SQSBackend, "receive_message", counted)

    def handler(event: dict[str, Any], context: Any) -> None:
        handled.extend(r["body"] for r in event["Records"])

    async with aws_bus.consume(queue, handler) as consumer:
        for _ in range(5):  # every poller's long poll has reached the server
            assert await anyio.to_thread.run_sync(polls_open.acquire, True, 10)
        await consumer.stop()
        await queue.send("late")  # arrives while those long polls are still open
    assert handled == []
    [again] = await queue.receive()
    assert again.body == "late"


async def test_a_settled_batch_stays_deleted_when_the_consumer_is_cancelled(
    aws_bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = await aws_bus.create_queue("orders", visibility_timeout=600)
    await queue.send("done")
    deleting = anyio.Event()
    go_on = anyio.Event()
    original = AwsQueue._delete_received

    async def slow_delete(self: AwsQueue, handles: Any) -> Any:
        deleting.set()
        await go_on.wait()  # the consumer is cancelled meanwhile
        return await original(self, handles)

    def handler(event: dict[str, Any], context: Any) -> None:
        pass

    monkeypatch.setattr(AwsQueue, "_delete_received", slow_delete)
    async with aws_bus.consume(queue, handler) as consumer:
        with anyio.fail_after(10):
            await deleting.wait()
        await consumer.stop(cancel=True)
        go_on.set()
    assert consumer.statistics().messages_deleted == 1
    assert (await queue.statistics()).total == 0


async def test_stopping_interrupts_a_pause_between_failed_receives(
    aws_bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only receives already sent are waited for; a poller pausing after a failure
    (here for 30 s) leaves at once."""
    from eventbus._runtime import _consumer
    from eventbus.errors import ServiceUnavailable

    queue = await aws_bus.create_queue("orders")
    failed = anyio.Event()

    async def unreachable(self: AwsQueue, **options: Any) -> Any:
        failed.set()
        raise ServiceUnavailable("no route to host")

    monkeypatch.setattr(AwsQueue, "receive", unreachable)
    monkeypatch.setattr(_consumer, "RETRY_PAUSE", 30.0)
    with anyio.fail_after(10):
        async with aws_bus.consume(queue, lambda event, context: None) as consumer:
            await failed.wait()
            await aws_bus.clock.wait_settled()
    assert consumer.statistics().concurrency == 0


async def test_run_until_idle_waits_out_the_quiet_period(
    aws_bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS's counts lag, so one idle reading is not enough: a message sent after the
    counts first read idle, within ``idle_quiet_period``, is handled before
    run_until_idle returns."""
    queue = await aws_bus.create_queue("orders")
    handled: list[str] = []
    read_idle = anyio.Event()
    sent = anyio.Event()
    read = aws_bus._busy_queues

    async def busy_queues() -> list[str]:
        busy = await read()
        if not busy and not read_idle.is_set():
            read_idle.set()
            await sent.wait()  # the message goes out before run_until_idle looks again
        return busy

    monkeypatch.setattr(aws_bus, "_busy_queues", busy_queues)

    def handler(event: dict[str, Any], context: Any) -> None:
        handled.extend(r["body"] for r in event["Records"])

    with anyio.fail_after(20):
        async with aws_bus.consume(queue, handler), anyio.create_task_group() as tg:
            tg.start_soon(aws_bus.run_until_idle)
            await read_idle.wait()
            await queue.send("during the quiet period")
            sent.set()
    assert handled == ["during the quiet period"]


async def test_not_idle_says_the_quiet_period_was_not_over(moto_endpoint: str) -> None:
    reset_moto(moto_endpoint)
    backend = AwsBackend("us-east-1", moto_endpoint, poll_interval=0.05, idle_quiet_period=5)
    async with Bus(backend=backend) as bus:
        with pytest.raises(NotIdle) as caught:
            await bus.run_until_idle(max_time=0.1)
    assert "idle_quiet_period of 5 s" in caught.value.message
