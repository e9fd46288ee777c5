"""A bus is used only while it is open: before and after, one clear error.

Written from a user's side: only the public API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import eventbus
from eventbus import Bus, BusClosed, EventBusError, SqliteStore, VirtualClock

MakeBus = Callable[[], Bus]


@pytest.fixture(params=["memory", "sqlite"])
def make_bus(request: pytest.FixtureRequest, tmp_path: Path) -> MakeBus:
    """A new bus on each store in turn (the SQLite one on the same file each time)."""
    if request.param == "memory":
        return lambda: Bus(clock=VirtualClock())
    return lambda: Bus(clock=VirtualClock(), store=SqliteStore(tmp_path / "bus.db"))


def handler(event: dict[str, Any], context: Any) -> None:
    """A handler that does nothing."""


def test_bus_closed_is_an_eventbus_error_in_both_homes() -> None:
    """``BusClosed`` is an ``EventBusError`` with its own code, importable from
    ``eventbus`` and ``eventbus.errors``."""
    assert eventbus.errors.BusClosed is BusClosed
    assert issubclass(BusClosed, EventBusError)
    assert "BusClosed" == BusClosed.code


@pytest.mark.parametrize(
    "call",
    [
        lambda bus: bus.create_queue("orders"),
        lambda bus: bus.get_queue("orders"),
        lambda bus: bus.delete_queue("orders"),
        lambda bus: bus.list_queues(),
        lambda bus: bus.create_topic("events"),
        lambda bus: bus.get_topic("events"),
        lambda bus: bus.delete_topic("events"),
        lambda bus: bus.list_topics(),
        lambda bus: bus.run_until_idle(),
        lambda bus: bus.cancel_message_move_task("handle"),
    ],
)
async def test_a_bus_not_entered_yet_refuses_every_call(
    make_bus: MakeBus, call: Callable[[Bus], Awaitable[Any]]
) -> None:
    """Before ``async with``, a call says to use the bus inside it."""
    bus = make_bus()

    with pytest.raises(BusClosed, match=r"not open yet: use it inside `async with Bus"):
        await call(bus)


async def test_every_call_after_close_raises_bus_closed(make_bus: MakeBus) -> None:
    """After the block, the bus and every handle from it refuse, with one message
    that says to make a new bus; the same on both stores."""
    async with make_bus() as bus:
        dlq = await bus.create_queue("orders-dlq")
        queue = await bus.create_queue("orders")
        topic = await bus.create_topic("events")
        subscription = await topic.subscribe(queue)
        await queue.send("kept")
        [message] = await queue.receive()
        consumer = bus.consume(queue, handler)

    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: bus.create_queue("more"),
        lambda: bus.get_queue("orders"),
        lambda: bus.list_queues(),
        lambda: bus.delete_queue(dlq),
        lambda: bus.create_topic("more"),
        lambda: bus.list_topics(),
        lambda: bus.run_until_idle(),
        lambda: queue.send("lost"),
        lambda: queue.send_batch(["lost"]),
        lambda: queue.receive(),
        lambda: queue.delete(message.receipt_handle),
        lambda: queue.change_visibility(message.receipt_handle, 0),
        lambda: queue.statistics(),
        lambda: queue.get_attributes(),
        lambda: queue.set_attributes(visibility_timeout=10),
        lambda: queue.purge(),
        lambda: queue.peek(),
        lambda: dlq.start_message_move_task(),
        lambda: topic.publish("lost"),
        lambda: topic.subscribe(dlq),
        lambda: topic.subscriptions(),
        lambda: topic.get_attributes(),
        lambda: subscription.get_attributes(),
        lambda: subscription.set_raw_message_delivery(True),
        lambda: subscription.unsubscribe(),
    ]
    for call in calls:
        with pytest.raises(BusClosed) as raised:
            await call()
        assert "The bus is closed" in str(raised.value)
        assert "Make a new Bus" in str(raised.value)
    with pytest.raises(BusClosed):
        bus.consume(queue, handler)
    with pytest.raises(BusClosed):  # made while open, entered after
        async with consumer:
            pass


async def test_a_closed_bus_cannot_be_entered_again(make_bus: MakeBus) -> None:
    """A bus is entered once; a new Bus (on the same file, for SQLite) is the way on."""
    bus = make_bus()
    async with bus:
        await bus.create_queue("orders")

    with pytest.raises(BusClosed, match="entered once, and this one was closed"):
        async with bus:
            pass
    async with make_bus() as again:  # a new Bus opens as usual
        assert "orders" == (await again.create_queue("orders")).name


async def test_an_open_bus_cannot_be_entered_twice(make_bus: MakeBus) -> None:
    """Entering an open bus again is refused, and the bus stays open."""
    async with make_bus() as bus:
        with pytest.raises(BusClosed, match="is open already"):
            async with bus:
                pass
        assert "orders" == (await bus.create_queue("orders")).name


async def test_both_stores_say_the_same(tmp_path: Path) -> None:
    """The memory store and the SQLite store refuse with the same error and text."""
    texts = []
    for store in (None, SqliteStore(tmp_path / "bus.db")):
        async with Bus(clock=VirtualClock(), store=store) as bus:
            queue = await bus.create_queue("orders")
        with pytest.raises(BusClosed) as raised:
            await queue.send("lost")
        texts.append(str(raised.value))

    assert texts[0] == texts[1]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiobotocore: asyncio only
async def test_the_aws_backend_says_the_same() -> None:
    """On the AWS backend too, calls before and after the block raise ``BusClosed``."""
    from eventbus.aws import AwsBackend
    from eventbus.testing import moto_server

    with moto_server() as url:
        bus = Bus(backend=AwsBackend("us-east-1", url))
        with pytest.raises(BusClosed, match="not open yet"):
            await bus.create_queue("orders")
        async with bus:
            queue = await bus.create_queue("orders")
            topic = await bus.create_topic("events")
        for call in (lambda: queue.send("lost"), lambda: topic.publish("lost")):
            with pytest.raises(BusClosed, match="The bus is closed"):
                await call()
        with pytest.raises(BusClosed):
            bus.consume(queue, handler)
        with pytest.raises(BusClosed, match="entered once"):
            async with bus:
                pass
