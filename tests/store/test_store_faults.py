"""Host faults and the SQLite store: a full disk, the write lock held by another
program, a second owner, hostile or foreign files. A call that raised did not happen,
nothing hangs, reads keep working, and the bus recovers once the cause is gone."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from eventbus import (
    Bus,
    CountingIds,
    EventBusError,
    RedrivePolicy,
    SqliteStore,
    StoreError,
    StoreUnavailable,
    VirtualClock,
)
from eventbus._core._broker import Broker
from eventbus._core._move import EXPIRED_REASON, MAX_DURATION
from eventbus._core._settings import QueueSettings, RedriveRule
from eventbus.errors import ServiceUnavailable

T0 = 1_767_225_600.0
HERE = Path(__file__).parent


def bus_at(path: Path, start: float = T0, **options: object) -> Bus:
    """A bus on a virtual clock starting at ``start``, kept in ``path``."""
    return Bus(
        clock=VirtualClock(start),
        store=SqliteStore(path, **options),  # type: ignore[arg-type]
        ids=CountingIds(),
    )


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# ------------------------------------------------------------------ a full disk


@pytest.mark.parametrize("durability", ["process", "power"])
def test_a_full_disk_fails_the_call_which_did_not_happen(tmp_path: Path, durability: str) -> None:
    """With the disk full, a send raises StoreUnavailable (no hang, even with
    durability="power", and every call waiting for the failed commit gets the failure);
    reads work from memory; the failed sends never reach the file; the close gives up
    the lock while the disk is still full; once space is back the bus carries on."""
    db = tmp_path / "bus.db"
    done = subprocess.run(
        [sys.executable, str(HERE / "diskfull_child.py"), str(db), durability],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    sent = report["sent"]

    assert ["StoreUnavailable", "ServiceUnavailable"] == report["error"]
    assert sent == report["total_after_failure"] == report["peeked"]
    assert ["ServiceUnavailable"] * 5 == report["together"]
    assert report["closed_while_full"]
    assert sent == report["reopened_while_full"]
    assert [*range(sent), 99_999] == report["bodies"]


# ------------------------------------------------------ the write lock held elsewhere


def hold_write_lock(db: Path) -> sqlite3.Connection:
    """Another program's write transaction on the database (as an sqlite3 shell's)."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_locked_database_fails_writes_keeps_reads_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """While another program holds the write lock past busy_timeout, every write raises
    StoreUnavailable and leaves the bus as it was (memory and file), reads keep working
    even as time moves on, and writes succeed again once the lock is released."""
    db = tmp_path / "bus.db"
    async with bus_at(db, busy_timeout=0.01) as bus:
        await bus.create_queue("dlq")
        queue = await bus.create_queue(
            "q",
            visibility_timeout=10,
            redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=5),
        )
        topic = await bus.create_topic("t")
        await topic.subscribe(queue)
        await queue.send_batch(["a", "b", "c"])
        [held] = await queue.receive()
        before = await queue.statistics()

        other = hold_write_lock(db)
        failures = []
        for call in (
            lambda: queue.send("new"),
            lambda: queue.receive(max_messages=10),
            lambda: queue.delete(held.receipt_handle),
            lambda: queue.change_visibility(held.receipt_handle, 0),
            lambda: queue.purge(),
            lambda: topic.publish("fan out"),
            lambda: bus.create_queue("later"),
            lambda: bus.delete_queue("q"),
            lambda: bus.delete_topic("t"),
            lambda: queue.set_attributes(visibility_timeout=99),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                await call()
            failures.append(caught.value)
        after = await queue.statistics()
        await bus.clock.advance(11)  # type: ignore[attr-defined]
        reads_as_time_passes = (await queue.statistics()).visible
        attributes = await queue.get_attributes()
        peeked = sorted(m.body for m in await queue.peek())
        queues = sorted(q.name for q in await bus.list_queues())
        subscribed = len(await topic.subscriptions())
        other.rollback()
        other.close()
        await queue.send("after")  # the same handles work again
        [again] = await queue.receive(max_messages=1)

    assert all(
        isinstance(f, ServiceUnavailable) and f.code == "ServiceUnavailable" for f in failures
    )
    assert "did not happen" in failures[0].message
    assert before == after
    assert 3 == reads_as_time_passes
    assert "10" == attributes["VisibilityTimeout"]
    assert ["a", "b", "c"] == peeked
    assert ["dlq", "q"] == queues
    assert 1 == subscribed
    async with bus_at(db, T0 + 20) as reopened:
        queue = await reopened.get_queue("q")
        stats = await queue.statistics()
        bodies = sorted(m.body for m in await queue.peek())
        assert 1 == len(await (await reopened.get_topic("t")).subscriptions())
    assert ["a", "after", "b", "c"] == bodies
    assert (3, 1) == (stats.visible, stats.in_flight)
    assert again.body in {"a", "b", "c", "after"}


async def test_a_failed_delete_queue_leaves_the_queue_and_its_handles(tmp_path: Path) -> None:
    """A delete_queue that could not be written did not happen: the queue, its
    messages and the handles on it are all still there."""
    db = tmp_path / "bus.db"
    async with bus_at(db, busy_timeout=0.01) as bus:
        queue = await bus.create_queue("q")
        await queue.send("kept")
        other = hold_write_lock(db)
        with pytest.raises(StoreUnavailable):
            await queue.delete_queue()
        other.rollback()
        other.close()
        assert ["kept"] == [m.body for m in await queue.receive()]
        assert queue == await bus.get_queue("q")


async def test_with_group_commit_every_waiting_call_gets_the_failure(tmp_path: Path) -> None:
    """durability="power": ten sends made together share a commit that fails; each of
    them raises StoreUnavailable within the time limit, and none is in the queue."""
    db = tmp_path / "bus.db"
    async with bus_at(db, durability="power", busy_timeout=0.01) as bus:
        queue = await bus.create_queue("q")
        other = hold_write_lock(db)
        outcomes: list[str] = []

        async def send(n: int) -> None:
            try:
                await queue.send(f"m{n}")
            except StoreUnavailable as error:
                outcomes.append(error.code)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                for n in range(10):
                    group.start_soon(send, n)
        other.rollback()
        other.close()
        total = (await queue.statistics()).total

    assert ["ServiceUnavailable"] * 10 == outcomes
    assert 0 == total


async def test_a_start_message_move_task_that_failed_did_not_start(tmp_path: Path) -> None:
    """A move task whose start could not be written is not running, and a later
    start succeeds."""
    db = tmp_path / "bus.db"
    async with bus_at(db, busy_timeout=0.01) as bus:
        dlq = await bus.create_queue("dlq")
        await bus.create_queue(
            "q", redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=1)
        )
        await dlq.send("dead")
        other = hold_write_lock(db)
        with pytest.raises(StoreUnavailable):
            await dlq.start_message_move_task(destination="q")
        listed = await dlq.list_message_move_tasks()
        other.rollback()
        other.close()
        task = await dlq.start_message_move_task(destination="q")
        status = await task.wait()

    assert [] == listed
    assert ("COMPLETED", 1) == (status.status, status.approximate_number_of_messages_moved)


def test_busy_timeout_must_be_a_number_of_seconds(tmp_path: Path) -> None:
    """busy_timeout is checked at once."""
    for bad in (-1, float("nan"), "5", True, float("inf")):
        with pytest.raises(ValueError, match="busy_timeout"):
            SqliteStore(tmp_path / "bus.db", busy_timeout=bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------ one owner per file


OPENER = """
import sys, anyio
from eventbus import Bus, SqliteStore, StoreError
async def main():
    try:
        async with Bus(store=SqliteStore(sys.argv[1])):
            print("opened")
    except StoreError as error:
        print(error.message)
anyio.run(main)
"""


def open_in_another_process(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OPENER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("name", ["same", "symlink", "hardlink"])
async def test_one_owner_per_file_whatever_its_name(tmp_path: Path, name: str) -> None:
    """The lock is on the file itself: another process opening the same database
    through its name, a symbolic link or a hard link is refused, naming our pid."""
    db = tmp_path / "bus.db"
    other_name = tmp_path / "other.db"
    async with bus_at(db):
        if name == "same":
            other_name = db
        elif name == "symlink":
            other_name.symlink_to(db)
        else:
            os.link(db, other_name)
        refused = open_in_another_process(other_name)
    assert f"is in use by another process (pid {os.getpid()})" in refused
    assert "opened" == open_in_another_process(other_name)  # free once closed


async def test_a_second_bus_in_the_same_process_is_refused_as_such(tmp_path: Path) -> None:
    """A second Bus on the same file in this process (by any name) is refused with a
    message that says so, not as "another process"."""
    db = tmp_path / "bus.db"
    link = tmp_path / "link.db"
    link.symlink_to(db)
    async with bus_at(db):
        for path in (db, link):
            with pytest.raises(StoreError) as caught:
                async with bus_at(path):
                    pass
            assert "is open already in this process, by another Bus" in caught.value.message
            assert "another process" not in caught.value.message
    async with bus_at(link) as bus:  # free again once closed
        assert [] == await bus.list_queues()


# ------------------------------------------------------------- files that are not ours


async def test_no_lock_file_is_made_or_followed(tmp_path: Path) -> None:
    """No ``<db>.lock`` beside the database: a symbolic link planted at that name is
    neither followed nor written through."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "bus.db.lock").symlink_to(victim)
    async with bus_at(tmp_path / "bus.db") as bus:
        await (await bus.create_queue("q")).send("x")
    assert "precious" == victim.read_text()
    assert {"bus.db", "bus.db.lock", "victim.txt"} == files_in(tmp_path) - {
        "bus.db-wal",
        "bus.db-shm",
    }


async def test_a_refused_file_is_left_unchanged_with_nothing_beside_it(tmp_path: Path) -> None:
    """Junk, SQLite of another program (with tables, or empty but with its own
    application id or user version): refused, byte for byte unchanged, and no file is
    left beside it."""
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all" * 100)
    tables = tmp_path / "tables.db"
    with sqlite3.connect(tables) as con:
        con.execute("CREATE TABLE t(x)")
    foreign_id = tmp_path / "foreign-id.db"
    with sqlite3.connect(foreign_id) as con:
        con.execute("PRAGMA application_id=1234")
    foreign_version = tmp_path / "foreign-version.db"
    with sqlite3.connect(foreign_version) as con:
        con.execute("PRAGMA user_version=7")
    before = {path: path.read_bytes() for path in (junk, tables, foreign_id, foreign_version)}
    names = files_in(tmp_path)

    for path in before:
        with pytest.raises(StoreError) as caught:
            async with bus_at(path):
                pass
        assert "is not an eventbus database" in caught.value.message
        assert before[path] == path.read_bytes()
    assert names == files_in(tmp_path)


async def test_a_missing_folder_is_named_and_nothing_is_created(tmp_path: Path) -> None:
    """A database path in a folder that does not exist: a StoreError naming the path
    and the folder; no folder or file appears."""
    db = tmp_path / "missing" / "bus.db"
    with pytest.raises(StoreError) as caught:
        async with bus_at(db):
            pass
    assert str(db) in caught.value.message
    assert f"folder {str(db.parent)!r} does not exist" in caught.value.message
    assert set() == files_in(tmp_path)


async def test_a_read_only_file_system_is_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database cannot be opened for writing (a read-only mount; simulated, as
    the tests may run as root): a StoreError saying so, not a bare OSError."""
    real_open = os.open
    db = tmp_path / "bus.db"

    def read_only(path: object, flags: int, *args: object) -> int:
        if Path(str(path)) == db and flags & (os.O_RDWR | os.O_WRONLY):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StoreError) as caught:
        async with bus_at(db):
            pass
    assert "Read-only file system" in caught.value.message
    assert set() == files_in(tmp_path)


async def test_a_database_that_cannot_be_created_leaves_no_file(tmp_path: Path) -> None:
    """If creating the schema fails (the write lock held from the start), the new
    file the store made is removed again."""
    db = tmp_path / "bus.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")  # an empty database, locked
    with pytest.raises(StoreError):
        async with bus_at(db, busy_timeout=0.01):
            pass
    con.rollback()
    con.close()
    assert db.exists()  # it was not ours to remove
    async with bus_at(db) as bus:
        assert [] == await bus.list_queues()


# ------------------------------------------------------------------ restarts


async def test_a_clean_close_leaves_move_tasks_cancelled_in_the_file(tmp_path: Path) -> None:
    """A bus closed while a move task runs leaves it CANCELLED in the file: it does
    not resume on reopen."""
    db = tmp_path / "bus.db"
    async with bus_at(db) as bus:
        dlq = await bus.create_queue("dlq")
        await bus.create_queue(
            "q", redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=1)
        )
        await dlq.send_batch([f"m{n}" for n in range(10)])
        await dlq.start_message_move_task(destination="q", max_number_of_messages_per_second=1)
    async with bus_at(db, T0 + 100) as bus:
        dlq = await bus.get_queue("dlq")
        await bus.clock.advance(100)  # type: ignore[attr-defined]
        [status] = await dlq.list_message_move_tasks()
        left = (await dlq.statistics()).visible

    assert "CANCELLED" == status.status
    moved = status.approximate_number_of_messages_moved
    assert moved < 10 == left + moved


async def test_cumulative_statistics_survive_a_restart(tmp_path: Path) -> None:
    """sent, received, deleted, ... are where they were after closing and reopening."""
    db = tmp_path / "bus.db"
    async with bus_at(db) as bus:
        queue = await bus.create_queue("q")
        await queue.send_batch(["a", "b", "c"])
        for message in await queue.receive(max_messages=2):
            await queue.delete(message.receipt_handle)
        await queue.purge()
        before = await queue.statistics()
    async with bus_at(db) as bus:
        after = await (await bus.get_queue("q")).statistics()

    assert (3, 2, 2, 1) == (before.sent, before.received, before.deleted, before.purged)
    assert before == after


async def test_a_virtual_clock_behind_the_file_resumes_from_the_stored_time(
    tmp_path: Path,
) -> None:
    """Reopening with a VirtualClock that shows an earlier time than the file's records
    moves the clock forward to that time: in-flight messages keep their deadlines."""
    db = tmp_path / "bus.db"
    async with bus_at(db, T0 + 1000) as bus:
        queue = await bus.create_queue("q", visibility_timeout=30)
        await queue.send("x")
        await queue.receive()
    async with bus_at(db, T0) as bus:
        resumed_at = bus.clock.now()
        queue = await bus.get_queue("q")
        hidden = await queue.receive()
        await bus.clock.advance(30)  # type: ignore[attr-defined]
        [back] = await queue.receive()
    async with bus_at(db, T0 + 5000) as bus:  # a later clock is left as it is
        later = bus.clock.now()

    assert T0 + 1000 == resumed_at
    assert [] == hidden
    assert "x" == back.body
    assert T0 + 5000 == later


# ------------------------------------------------------------------ 36 hours


def test_a_move_task_stops_at_36_hours() -> None:
    """SQS gives a move task at most 36 hours: a step at that age ends it FAILED."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    dlq = broker.create_queue("dlq", QueueSettings(), now=T0)
    source = broker.create_queue("q", QueueSettings(redrive_policy=RedriveRule(dlq.arn, 1)), now=T0)
    for n in range(30):
        dlq.send(f"m{n}", now=T0)
    task = broker.start_move_task(
        dlq, now=T0, destination_arn=source.arn, max_number_of_messages_per_second=1
    )
    broker.move_messages(task, now=T0 + MAX_DURATION - 1, limit=10)
    broker.move_messages(task, now=T0 + MAX_DURATION, limit=10)

    assert 36 * 3600 == MAX_DURATION
    assert ("FAILED", EXPIRED_REASON) == (task.status, task.failure_reason)
    assert 10 == task.approximate_number_of_messages_moved


async def test_a_move_task_restored_after_36_hours_ends_failed(tmp_path: Path) -> None:
    """A task left running in the file (a crash) that is past its 36 hours when the bus
    reopens is FAILED at once, and moves nothing more."""
    db = tmp_path / "bus.db"
    store = SqliteStore(db)
    broker = Broker(region="us-east-1", ids=CountingIds(), durable=True)
    store.open(broker, T0)
    dlq = broker.create_queue("dlq", QueueSettings(), now=T0)
    source = broker.create_queue("q", QueueSettings(redrive_policy=RedriveRule(dlq.arn, 1)), now=T0)
    for n in range(5):
        dlq.send(f"m{n}", now=T0)
    broker.start_move_task(dlq, now=T0, destination_arn=source.arn)
    assert broker.changes is not None
    store.commit(broker.changes, broker, T0)
    store.close()

    async with bus_at(db, T0 + MAX_DURATION + 1) as bus:
        dlq_handle = await bus.get_queue("dlq")
        await bus.clock.advance(1)  # type: ignore[attr-defined]
        [status] = await dlq_handle.list_message_move_tasks()
        left = (await dlq_handle.statistics()).visible

    assert ("FAILED", EXPIRED_REASON) == (status.status, status.failure_reason)
    assert 5 == left


def test_store_errors_are_event_bus_errors() -> None:
    """StoreUnavailable is a StoreError, a ServiceUnavailable and an EventBusError."""
    assert issubclass(StoreUnavailable, StoreError)
    assert issubclass(StoreUnavailable, ServiceUnavailable)
    assert issubclass(StoreError, EventBusError)
    assert StoreUnavailable.sender_fault is False


# ------------------------------------------------------------------ schema 1


SCHEMA_1 = """
CREATE TABLE queues(
    name TEXT PRIMARY KEY, settings TEXT NOT NULL, uid TEXT NOT NULL, seq INTEGER NOT NULL,
    last_purge REAL, created_at REAL NOT NULL, last_modified_at REAL NOT NULL);
CREATE TABLE deleted_queues(name TEXT PRIMARY KEY, deleted_at REAL NOT NULL);
CREATE TABLE messages(
    queue TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
    body TEXT NOT NULL, attributes TEXT, md5_of_body TEXT NOT NULL,
    md5_of_attributes TEXT, sent_at REAL NOT NULL, enqueued_at REAL NOT NULL,
    available_at REAL NOT NULL, size INTEGER NOT NULL, receive_count INTEGER NOT NULL,
    first_received_at REAL, received_at REAL, system TEXT, group_id TEXT,
    visible_order INTEGER NOT NULL,
    PRIMARY KEY (queue, message_id)) WITHOUT ROWID;
CREATE TABLE dedup(
    queue TEXT NOT NULL, scope TEXT NOT NULL, dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL, sequence_number TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (queue, scope, dedup_id)) WITHOUT ROWID;
CREATE TABLE topics(name TEXT PRIMARY KEY, settings TEXT NOT NULL, sequence INTEGER NOT NULL);
CREATE TABLE topic_dedup(
    topic TEXT NOT NULL, dedup_id TEXT NOT NULL, message_id TEXT NOT NULL,
    sequence_number TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (topic, dedup_id)) WITHOUT ROWID;
CREATE TABLE subscriptions(
    position INTEGER PRIMARY KEY, arn TEXT NOT NULL, topic TEXT NOT NULL,
    endpoint TEXT NOT NULL, raw INTEGER NOT NULL, filter_policy TEXT, scope TEXT NOT NULL,
    dead_letter_target_arn TEXT);
CREATE TABLE move_tasks(position INTEGER PRIMARY KEY, record TEXT NOT NULL);
"""


async def test_a_schema_1_database_is_migrated(tmp_path: Path) -> None:
    """A database written by the previous schema opens: its messages are kept, and the
    statistics start counting from there."""
    db = tmp_path / "bus.db"
    async with bus_at(db) as bus:
        queue = await bus.create_queue("q")
        await queue.send_batch(["a", "b"])
    with sqlite3.connect(db, isolation_level=None) as con:  # rewrite it as schema 1 had it
        rows = con.execute("SELECT * FROM messages").fetchall()
        queue_row = con.execute("SELECT * FROM queues").fetchone()[:7]
        for table in (
            "tags",
            "queues",
            "deleted_queues",
            "messages",
            "dedup",
            "topics",
            "topic_dedup",
            "subscriptions",
            "move_tasks",
            "meta",
        ):
            con.execute(f"DROP TABLE {table}")
        con.executescript(SCHEMA_1)
        con.execute("INSERT INTO queues VALUES (?, ?, ?, ?, ?, ?, ?)", queue_row)
        con.executemany(f"INSERT INTO messages VALUES ({', '.join('?' * 18)})", rows)
        con.execute("PRAGMA user_version=1")

    async with bus_at(db) as bus:
        queue = await bus.get_queue("q")
        bodies = sorted(m.body for m in await queue.receive(max_messages=10))
        stats = await queue.statistics()
    with sqlite3.connect(db) as con:
        version = con.execute("PRAGMA user_version").fetchone()[0]

    assert ["a", "b"] == bodies
    assert (2, 0) == (stats.received, stats.sent)
    assert 3 == version
