"""The durable store: the bus's state in an SQLite database (the standard ``sqlite3``).

The queue and topic machines stay the only semantics; this store writes down what
they decided (:class:`~eventbus._core._changes.Changes`) in one transaction after
each operation, and reads it all back when the bus opens. Once a call that changes
state returns, the change is committed: with ``durability="process"`` (the default:
WAL journal, ``synchronous=NORMAL``) it survives the process being killed; with
``durability="power"`` (``synchronous=FULL``) it also survives losing power, at
the cost of an fsync per commit, so with it calls made at the same time share one
commit (group commit): a background task commits what they changed, and each call
returns once the commit holding its change is done. A batch call commits once.

One process owns a database at a time: the store takes an exclusive lock on
``<path>.lock`` (``fcntl.flock``, so POSIX only) and a second opener gets an error
naming the owner's process id. The schema carries a version (``PRAGMA
user_version``) and an application id, so a file that is not an eventbus database,
or one written by a newer version, is refused; migrations from older versions go in
``_MIGRATIONS``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Final, Literal

from .._core._attributes import MessageAttributeValue
from .._core._broker import Broker
from .._core._changes import Changes
from .._core._errors import EventBusError, bounded_repr
from .._core._message import MessageState, StoredMessage
from .._core._move import MoveTaskRecord
from .._core._queue import QueueMachine
from .._core._settings import QueueSettings, RedriveAllowRule, RedriveRule, TopicSettings
from .._core._topic import SubscriptionRecord, compile_policy

APPLICATION_ID: Final = 0x45425553  # "EBUS"
SCHEMA_VERSION: Final = 2

_SCHEMA: Final = """
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
CREATE TABLE tags(arn TEXT PRIMARY KEY, tags TEXT NOT NULL);
"""

#: schema version -> the statements that bring a database from it to the next one.
_MIGRATIONS: Final[dict[int, str]] = {
    1: "CREATE TABLE tags(arn TEXT PRIMARY KEY, tags TEXT NOT NULL);",  # queue and topic tags
}

Durability = Literal["process", "power"]


class StoreError(EventBusError):
    """Raised when a database cannot be used: locked, foreign, or too new."""

    code = "StoreError"


class SqliteStore:
    """Keep the bus's queues, topics, messages and move tasks in an SQLite file.

    Args:
        path: the database file (created if missing).
        durability: ``"process"`` (survives a killed process) or ``"power"``
            (survives power loss too: an fsync per commit).
    """

    durable = True

    def __init__(self, path: str | os.PathLike[str], *, durability: Durability = "process") -> None:
        if durability not in ("process", "power"):
            raise ValueError(
                f"durability must be 'process' or 'power', not {bounded_repr(durability)}"
            )
        self.path = Path(path)
        self.durability = durability
        self.group_commit = durability == "power"
        self.commits = 0
        """How many transactions were committed (for tests and benchmarks)."""
        self._con: sqlite3.Connection | None = None
        self._lock: Any = None
        self._subscriptions_written = 0

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, durability={self.durability!r})"

    # --------------------------------------------------------------- opening

    def open(self, broker: Broker, now: float) -> None:
        """Lock the file, check or create the schema, and load the state into ``broker``.

        Raises:
            StoreError: another process owns the database, the file is not an
                eventbus database, or a newer version wrote it.
        """
        if self._con is not None:
            raise StoreError(f"{self.path} is open already")
        self._take_lock()
        try:
            self._con = self._connect()
            self._load(broker, now)
        except BaseException:
            self.close()
            raise

    def _take_lock(self) -> None:
        import fcntl

        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise StoreError(
                f"{self.path} is in use by another process (pid {owner}); one process owns "
                "a database at a time."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, isolation_level=None)
            application_id = con.execute("PRAGMA application_id").fetchone()[0]
            version = con.execute("PRAGMA user_version").fetchone()[0]
            tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not an eventbus database ({error})") from None
        if tables and application_id != APPLICATION_ID:
            con.close()
            raise StoreError(f"{self.path} is not an eventbus database")
        if version > SCHEMA_VERSION:
            con.close()
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this eventbus "
                f"understands ({SCHEMA_VERSION}); upgrade eventbus"
            )
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'power' else 'NORMAL'}")
        if not tables:  # executescript runs its own statements; one transaction each
            con.executescript(
                f"BEGIN; {_SCHEMA} PRAGMA application_id={APPLICATION_ID}; "
                f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )
        while version and version < SCHEMA_VERSION:
            con.executescript(
                f"BEGIN; {_MIGRATIONS[version]} PRAGMA user_version={version + 1}; COMMIT;"
            )
            version += 1
        return con

    def close(self) -> None:
        """Close the database and give up the lock."""
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # --------------------------------------------------------------- loading

    def _load(self, broker: Broker, now: float) -> None:
        con = self._require()
        queues: dict[str, QueueMachine] = {}
        for name, settings, uid, seq, last_purge, created, modified in con.execute(
            "SELECT name, settings, uid, seq, last_purge, created_at, last_modified_at FROM queues"
        ):
            queue = broker.restore_queue(
                name,
                _settings_from(settings),
                uid=uid,
                created_at=created,
                last_modified_at=modified,
            )
            queue.restore(seq, last_purge)
            queues[name] = queue
        for name, deleted_at in con.execute("SELECT name, deleted_at FROM deleted_queues"):
            broker.restore_deleted_queue(name, deleted_at)
        stored: dict[str, list[StoredMessage]] = {name: [] for name in queues}
        for row in con.execute("SELECT * FROM messages"):
            stored[row[0]].append(_message_from(row))
        for name, messages in stored.items():
            queues[name].restore_messages(messages)
        for queue_name, scope, dedup_id, message_id, number, expires in con.execute(
            "SELECT queue, scope, dedup_id, message_id, sequence_number, expires_at FROM dedup "
            "WHERE expires_at > ? ORDER BY expires_at",
            (now,),
        ):
            queues[queue_name].restore_dedup((scope, dedup_id), message_id, number, expires)
        for name, settings, sequence in con.execute("SELECT name, settings, sequence FROM topics"):
            topic = broker.restore_topic(name, TopicSettings(**json.loads(settings)))
            dedup = con.execute(
                "SELECT dedup_id, message_id, sequence_number, expires_at FROM topic_dedup "
                "WHERE topic = ? AND expires_at > ? ORDER BY expires_at",
                (name, now),
            ).fetchall()
            topic.restore(sequence, dedup)
        for arn, topic_name, endpoint, raw, policy, scope, dlq in con.execute(
            "SELECT arn, topic, endpoint, raw, filter_policy, scope, dead_letter_target_arn "
            "FROM subscriptions ORDER BY position"
        ):
            compiled, checked_scope = compile_policy(
                None if policy is None else json.loads(policy), scope
            )
            topic_machine = broker.topic(topic_name)
            topic_machine.subscriptions[arn] = SubscriptionRecord(
                arn, topic_machine.arn, endpoint, bool(raw), compiled, checked_scope, dlq
            )
        for (record,) in con.execute("SELECT record FROM move_tasks ORDER BY position"):
            broker.restore_move_task(MoveTaskRecord(**json.loads(record)))
        for arn, tags in con.execute("SELECT arn, tags FROM tags"):
            broker.tags[arn] = json.loads(tags)

    # -------------------------------------------------------------- committing

    def commit(self, changes: Changes, broker: Broker) -> None:
        """Write ``changes`` in one transaction (then the caller clears them)."""
        con = self._require()
        self.commits += 1
        with _transaction(con):
            for name, deleted_at in changes.removed_queues.items():
                for table in ("queues", "messages", "dedup"):
                    key = "name" if table == "queues" else "queue"
                    con.execute(f"DELETE FROM {table} WHERE {key} = ?", (name,))
                con.execute(
                    "INSERT OR REPLACE INTO deleted_queues VALUES (?, ?)", (name, deleted_at)
                )
            for name in changes.purged:
                con.execute("DELETE FROM messages WHERE queue = ?", (name,))
                con.execute("DELETE FROM dedup WHERE queue = ?", (name,))
            for name in changes.queues:
                queue = broker.queue_by_name(name)
                if queue is not None:
                    uid, seq, last_purge = queue.durable_state()
                    con.execute(
                        "INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            name,
                            _settings_json(queue.settings),
                            uid,
                            seq,
                            last_purge,
                            queue.created_at,
                            queue.last_modified_at,
                        ),
                    )
                    con.execute("DELETE FROM deleted_queues WHERE name = ?", (name,))
            saved = []
            gone = []
            for queue_name, pending in changes.messages.items():
                for message_id, message in pending.items():
                    if message is None:
                        gone.append((queue_name, message_id))
                    else:
                        saved.append(_message_row(queue_name, message))
            if saved:
                con.executemany(
                    f"INSERT OR REPLACE INTO messages VALUES ({', '.join('?' * 18)})", saved
                )
            if gone:
                con.executemany("DELETE FROM messages WHERE queue = ? AND message_id = ?", gone)
            if changes.dedup:
                con.executemany(
                    "INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?, ?)", changes.dedup
                )
            if changes.topic_dedup:
                con.executemany(
                    "INSERT OR REPLACE INTO topic_dedup VALUES (?, ?, ?, ?, ?)",
                    changes.topic_dedup,
                )
            if changes.topology:
                self._write_topology(con, broker)
            else:
                for name in changes.topics:
                    topic = broker.topic(name)
                    con.execute(
                        "UPDATE topics SET sequence = ? WHERE name = ?", (topic.sequence, name)
                    )
            for arn in changes.tags:
                tags = broker.tags.get(arn)
                if tags:
                    con.execute(
                        "INSERT OR REPLACE INTO tags VALUES (?, ?)", (arn, json.dumps(tags))
                    )
                else:
                    con.execute("DELETE FROM tags WHERE arn = ?", (arn,))
            if changes.move_tasks:
                con.execute("DELETE FROM move_tasks")
                con.executemany(
                    "INSERT INTO move_tasks VALUES (?, ?)",
                    [
                        (position, json.dumps(dataclasses.asdict(task)))
                        for position, task in enumerate(broker.move_tasks())
                    ],
                )

    def _write_topology(self, con: sqlite3.Connection, broker: Broker) -> None:
        con.execute("DELETE FROM topics")
        con.execute("DELETE FROM subscriptions")
        topics = broker.list_topics()
        con.executemany(
            "INSERT INTO topics VALUES (?, ?, ?)",
            [(t.name, json.dumps(dataclasses.asdict(t.settings)), t.sequence) for t in topics],
        )
        con.executemany(
            "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    position,
                    record.arn,
                    topic.name,
                    record.endpoint,
                    int(record.raw_message_delivery),
                    None
                    if record.filter_policy is None
                    else json.dumps(record.filter_policy.source),
                    record.filter_policy_scope,
                    record.dead_letter_target_arn,
                )
                for position, (topic, record) in enumerate(
                    (topic, record) for topic in topics for record in topic.subscriptions.values()
                )
            ],
        )

    def _require(self) -> sqlite3.Connection:
        if self._con is None:
            raise StoreError(f"{self.path} is not open: use the bus as `async with Bus(store=...)`")
        return self._con


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Any:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# ------------------------------------------------------------------ conversions


def _settings_json(settings: QueueSettings) -> str:
    return json.dumps(dataclasses.asdict(settings))


def _settings_from(text: str) -> QueueSettings:
    data = json.loads(text)
    if data.get("redrive_policy") is not None:
        data["redrive_policy"] = RedriveRule(**data["redrive_policy"])
    allow = data.get("redrive_allow_policy")
    if allow is not None:
        data["redrive_allow_policy"] = RedriveAllowRule(
            allow["redrive_permission"], tuple(allow["source_queue_arns"])
        )
    return QueueSettings(**data)


def _attributes_json(message: StoredMessage) -> str | None:
    if not message.message_attributes:
        return None
    return json.dumps(
        [
            [
                name,
                value.data_type,
                value.string_value,
                None
                if value.binary_value is None
                else base64.b64encode(value.binary_value).decode(),
            ]
            for name, value in message.message_attributes.items()
        ]
    )


def _attributes_from(text: str | None) -> dict[str, MessageAttributeValue]:
    if text is None:
        return {}
    return {
        name: MessageAttributeValue(
            data_type, string, None if binary is None else base64.b64decode(binary)
        )
        for name, data_type, string, binary in json.loads(text)
    }


def _message_row(queue: str, m: StoredMessage) -> tuple[Any, ...]:
    return (
        queue,
        m.message_id,
        m.seq,
        m.state.value,
        m.body,
        _attributes_json(m),
        m.md5_of_body,
        m.md5_of_message_attributes,
        m.sent_at,
        m.enqueued_at,
        m.available_at,
        m.size,
        m.receive_count,
        m.first_received_at,
        m.received_at,
        json.dumps(m.system_attributes) if m.system_attributes else None,
        m.group_id,
        m.visible_order,
    )


def _message_from(row: tuple[Any, ...]) -> StoredMessage:
    (
        _queue,
        message_id,
        seq,
        state,
        body,
        attributes,
        md5_body,
        md5_attributes,
        sent_at,
        enqueued_at,
        available_at,
        size,
        receive_count,
        first_received_at,
        received_at,
        system,
        group_id,
        visible_order,
    ) = row
    return StoredMessage(
        message_id=message_id,
        body=body,
        message_attributes=_attributes_from(attributes),
        md5_of_body=md5_body,
        md5_of_message_attributes=md5_attributes,
        sent_at=sent_at,
        enqueued_at=enqueued_at,
        seq=seq,
        state=MessageState(state),
        available_at=available_at,
        size=size,
        receive_count=receive_count,
        first_received_at=first_received_at,
        received_at=received_at,
        system_attributes=json.loads(system) if system else {},
        group_id=group_id,
        visible_order=visible_order,
    )
