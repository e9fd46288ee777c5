"""The SQLite store: what it keeps across restarts, and what it refuses."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eventbus import (
    Bus,
    CountingIds,
    EventBusError,
    RedrivePolicy,
    SqliteStore,
    StoreError,
    VirtualClock,
)
from eventbus._core._broker import Broker
from eventbus._core._settings import QueueSettings, RedriveRule


def bus_at(path: Path, start: float) -> Bus:
    """A bus on a virtual clock starting at ``start``, kept in ``path``."""
    return Bus(clock=VirtualClock(start), store=SqliteStore(path), ids=CountingIds())


T0 = 1_767_225_600.0


async def test_messages_topology_and_attributes_survive_a_restart(tmp_path: Path) -> None:
    """Queues, topics, subscriptions (with filter policy) and messages with their
    attributes are all there after closing and reopening the database."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0) as bus:
        await bus.create_queue("dlq")
        queue = await bus.create_queue(
            "orders",
            visibility_timeout=45,
            redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3),
        )
        topic = await bus.create_topic("events")
        await topic.subscribe(queue, raw_message_delivery=True, filter_policy={"k": ["v"]})
        await topic.publish("kept", message_attributes={"k": "v", "blob": b"\x00\x01"})
        await topic.publish("filtered out", message_attributes={"k": "other"})
        before = await queue.get_attributes()

    async with bus_at(db, T0 + 1) as bus:
        queue = await bus.get_queue("orders")
        [message] = await queue.receive()
        [subscription] = await (await bus.get_topic("events")).subscriptions()
        after = await queue.get_attributes()

    assert "kept" == message.body
    assert b"\x00\x01" == message.message_attributes["blob"].binary_value
    assert {"k": ["v"]} == subscription.filter_policy
    assert subscription.raw_message_delivery
    assert before["RedrivePolicy"] == after["RedrivePolicy"]
    assert "45" == after["VisibilityTimeout"]


async def test_in_flight_messages_come_back_when_their_visibility_runs_out(
    tmp_path: Path,
) -> None:
    """A message received before the restart stays hidden until its visibility timeout
    ends (on the clock, not at restart), and its old receipt handle still works."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0) as bus:
        queue = await bus.create_queue("q", visibility_timeout=30)
        await queue.send("work")
        [first] = await queue.receive()

    async with bus_at(db, T0 + 10) as bus:
        queue = await bus.get_queue("q")
        hidden = await queue.receive()
        await bus.clock.advance(20)  # type: ignore[attr-defined]
        [again] = await queue.receive()
        await queue.delete(first.receipt_handle)

    assert [] == hidden
    assert (first.message_id, 2) == (again.message_id, again.receive_count)
    async with bus_at(db, T0 + 100) as bus:
        assert 0 == (await (await bus.get_queue("q")).statistics()).total


async def test_delays_and_retention_keep_counting_across_a_restart(tmp_path: Path) -> None:
    """A delayed message keeps its delay; retention counts from the original send."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0) as bus:
        queue = await bus.create_queue("q", message_retention_period=120)
        await queue.send("delayed", delay_seconds=60)
        await queue.send("old")

    async with bus_at(db, T0 + 30) as bus:
        stats_early = await (await bus.get_queue("q")).statistics()
    async with bus_at(db, T0 + 61) as bus:
        stats_later = await (await bus.get_queue("q")).statistics()
    async with bus_at(db, T0 + 121) as bus:
        stats_expired = await (await bus.get_queue("q")).statistics()

    assert (1, 1) == (stats_early.visible, stats_early.delayed)
    assert (2, 0) == (stats_later.visible, stats_later.delayed)
    assert 0 == stats_expired.total


async def test_fifo_deduplication_and_order_survive_a_restart(tmp_path: Path) -> None:
    """The 5-minute deduplication window and the group order outlive the process."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0) as bus:
        queue = await bus.create_queue("q.fifo", fifo_queue=True, content_based_deduplication=True)
        for body in ("a", "b", "c"):
            await queue.send(body, message_group_id="g")

    async with bus_at(db, T0 + 60) as bus:
        queue = await bus.get_queue("q.fifo")
        await queue.send("a", message_group_id="g")  # within 5 minutes: deduplicated
        bodies = [m.body for m in await queue.receive(max_messages=10)]

    assert ["a", "b", "c"] == bodies


async def test_purge_and_delete_queue_are_kept(tmp_path: Path) -> None:
    """A purge and a deleted queue stay done; QueueDeletedRecently holds across restarts."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0) as bus:
        kept = await bus.create_queue("kept")
        await kept.send("x")
        await kept.purge()
        gone = await bus.create_queue("gone")
        await gone.send("y")
        await bus.delete_queue(gone)

    async with bus_at(db, T0 + 10) as bus:
        assert ["kept"] == [q.name for q in await bus.list_queues()]
        assert 0 == (await (await bus.get_queue("kept")).statistics()).total
        with pytest.raises(EventBusError) as caught:
            await bus.create_queue("gone")
        assert "QueueDeletedRecently" == caught.value.code


async def test_a_move_task_running_at_a_crash_resumes(tmp_path: Path) -> None:
    """A move task that was running when the process died carries on after reopening."""
    db = tmp_path / "bus.db"
    # The state a crashed process leaves: the core driven directly, committed, no close.
    store = SqliteStore(db)
    broker = Broker(region="us-east-1", ids=CountingIds(), durable=True)
    store.open(broker, T0)
    dlq = broker.create_queue("dlq", QueueSettings(), now=T0)
    source = broker.create_queue(
        "source",
        QueueSettings(visibility_timeout=0, redrive_policy=RedriveRule(dlq.arn, 1)),
        now=T0,
    )
    for n in range(30):
        source.send(f"m{n}", now=T0)
    for _ in range(4):
        broker.receive(source, now=T0, max_messages=10)
    task = broker.start_move_task(dlq, now=T0, max_number_of_messages_per_second=10)
    broker.move_messages(task, now=T0, limit=10)
    assert broker.changes is not None
    store.commit(broker.changes, broker)
    store.close()

    async with bus_at(db, T0 + 10) as reopened:
        await reopened.clock.advance(5)  # type: ignore[attr-defined]
        [status] = await (await reopened.get_queue("dlq")).list_message_move_tasks()
        back_in_source = (await (await reopened.get_queue("source")).statistics()).visible

    assert ("COMPLETED", 30) == (status.status, status.approximate_number_of_messages_moved)
    assert 30 == back_in_source


# ------------------------------------------------------------------ refusals


async def test_a_second_owner_is_refused(tmp_path: Path) -> None:
    """While one bus owns the database, opening it again is refused, saying who owns it."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0):
        with pytest.raises(StoreError) as caught:
            async with bus_at(db, T0):
                pass

    assert "is open already in this process, by another Bus" in caught.value.message
    async with bus_at(db, T0) as bus:  # free again once closed
        assert [] == await bus.list_queues()


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A file that is not SQLite, or SQLite of another application, is refused."""
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t(x)")

    for path in (junk, other):
        with pytest.raises(StoreError) as caught:
            async with bus_at(path, T0):
                pass
        assert "is not an eventbus database" in caught.value.message
    assert "not a database at all" in junk.read_text()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database written by a newer eventbus (higher schema version) is refused."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0):
        pass
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA user_version=99")

    with pytest.raises(StoreError) as caught:
        async with bus_at(db, T0):
            pass

    assert "schema version 99" in caught.value.message


def test_durability_must_be_process_or_power(tmp_path: Path) -> None:
    """Only the two documented durability modes exist."""
    with pytest.raises(ValueError, match="durability"):
        SqliteStore(tmp_path / "bus.db", durability="eventually")  # type: ignore[arg-type]


async def test_power_durability_uses_full_synchronous(tmp_path: Path) -> None:
    """durability="power" commits with synchronous=FULL and still round-trips."""
    db = tmp_path / "bus.db"
    store = SqliteStore(db, durability="power")
    async with Bus(clock=VirtualClock(T0), store=store) as bus:
        await (await bus.create_queue("q")).send("x")
        assert store._con is not None
        assert 2 == store._con.execute("PRAGMA synchronous").fetchone()[0]

    async with bus_at(db, T0) as bus:
        assert ["x"] == [m.body for m in await (await bus.get_queue("q")).receive()]


# ------------------------------------------------------------------ group commit


async def test_power_durability_shares_commits_between_concurrent_calls(tmp_path: Path) -> None:
    """With durability="power", 50 sends made at once share far fewer commits, and
    each returns only once its message is in the database."""
    import anyio

    db = tmp_path / "bus.db"
    store = SqliteStore(db, durability="power")
    seen_on_return: list[int] = []
    async with Bus(clock=VirtualClock(T0), store=store) as bus:
        queue = await bus.create_queue("q")
        before = store.commits

        async def send(n: int) -> None:
            await queue.send(f"m{n}")
            with sqlite3.connect(db) as reader:
                seen_on_return.append(
                    reader.execute(
                        "SELECT count(*) FROM messages WHERE body = ?", (f"m{n}",)
                    ).fetchone()[0]
                )

        async with anyio.create_task_group() as group:
            for n in range(50):
                group.start_soon(send, n)
        commits = store.commits - before

    assert [1] * 50 == seen_on_return
    assert commits < 10
