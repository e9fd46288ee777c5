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

A commit that fails (a full disk, a read-only mount, the write lock held by another
program past ``busy_timeout``) raises :class:`StoreUnavailable`, and the store puts
the state the failed transaction would have changed back as the file holds it
(:meth:`SqliteStore.rollback`): a call that raised did not happen.

One owner per database: the store takes an exclusive ``flock`` on the database file
itself, so the lock follows the file (its inode) whatever name, symbolic link or hard
link opens it, and no lock file is made beside it. On Linux ``flock`` locks and the
POSIX ``fcntl`` locks SQLite takes on the same file are independent, so the two do not
interfere; the store needs a local file system (WAL needs one anyway). A second
``Bus`` on the same file in the same process is refused before the lock is tried.
The schema carries a version (``PRAGMA user_version``) and an application id, so a
file that is not an eventbus database, or one written by a newer version, is refused
unchanged; migrations from older versions go in ``_MIGRATIONS``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import errno
import json
import os
import sqlite3
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from .._core._attributes import MessageAttributeValue
from .._core._broker import Broker
from .._core._changes import Changes
from .._core._errors import EventBusError, ServiceUnavailable, bounded_repr
from .._core._message import MessageState, StoredMessage
from .._core._move import MoveTaskRecord
from .._core._queue import QueueMachine
from .._core._settings import QueueSettings, RedriveAllowRule, RedriveRule, TopicSettings
from .._core._topic import SubscriptionRecord, compile_policy

APPLICATION_ID: Final = 0x45425553  # "EBUS"
_LIVE: Final = frozenset({MessageState.DELAYED, MessageState.VISIBLE, MessageState.IN_FLIGHT})
SCHEMA_VERSION: Final = 3

_SCHEMA: Final = """
CREATE TABLE queues(
    name TEXT PRIMARY KEY, settings TEXT NOT NULL, uid TEXT NOT NULL, seq INTEGER NOT NULL,
    last_purge REAL, created_at REAL NOT NULL, last_modified_at REAL NOT NULL,
    counters TEXT);
CREATE TABLE deleted_queues(name TEXT PRIMARY KEY, deleted_at REAL NOT NULL);
CREATE TABLE messages(
    queue TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
    body TEXT NOT NULL, attributes TEXT, md5_of_body TEXT NOT NULL,
    md5_of_attributes TEXT, sent_at REAL NOT NULL, enqueued_at REAL NOT NULL,
    available_at REAL NOT NULL, size INTEGER NOT NULL, receive_count INTEGER NOT NULL,
    first_received_at REAL, received_at REAL, system TEXT, group_id TEXT,
    visible_order INTEGER NOT NULL,
    PRIMARY KEY (queue, seq)) WITHOUT ROWID;
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
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""
# meta: settings of the bus as a whole that must outlive a process (none yet).

#: schema version -> the statements that bring a database from it to the next one.
_MIGRATIONS: Final[dict[int, str]] = {
    1: "CREATE TABLE tags(arn TEXT PRIMARY KEY, tags TEXT NOT NULL);",  # queue and topic tags
    # 3: the cumulative statistics of each queue, a table for the bus's own settings, and
    # messages keyed by arrival (queue, seq): the rows a receive or a delete touches
    # (the oldest) sit together, where random message ids scattered them.
    2: "ALTER TABLE queues ADD COLUMN counters TEXT; "
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID; "
    "ALTER TABLE messages RENAME TO messages_1; "
    + _SCHEMA[_SCHEMA.index("CREATE TABLE messages(") : _SCHEMA.index("CREATE TABLE dedup(")]
    + "INSERT INTO messages SELECT * FROM messages_1; DROP TABLE messages_1;",
}

Durability = Literal["process", "power"]

_OPEN_IN_THIS_PROCESS: dict[tuple[int, int], str] = {}
"""(device, inode) of every database a store of this process holds -> its path."""


class StoreError(EventBusError):
    """Raised when a database cannot be opened: in use, foreign, too new, or out of reach.

    Nothing was changed: not the file, not the bus.
    """

    code = "StoreError"


class StoreUnavailable(StoreError, ServiceUnavailable):
    """Raised by a call whose change could not be written to the database.

    The call did not happen: the bus's state is as it was before it (as the file
    holds it), and retrying the call once the cause is gone is safe. Reads keep
    working from memory meanwhile. The code is ``ServiceUnavailable``, what SQS and
    SNS answer (HTTP 503) for a transient failure of the service.
    """

    code = "ServiceUnavailable"
    sender_fault = False


class SqliteStore:
    """Keep the bus's queues, topics, messages and move tasks in an SQLite file.

    Args:
        path: the database file (created if missing; its folder must exist).
        durability: ``"process"`` (survives a killed process) or ``"power"``
            (survives power loss too: an fsync per commit).
        busy_timeout: seconds a commit waits for another program that holds the
            database's write lock (an ``sqlite3`` shell, a backup) before it fails
            with :class:`StoreUnavailable`. The event loop waits with it.
    """

    durable = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Durability = "process",
        busy_timeout: float = 5.0,
    ) -> None:
        if durability not in ("process", "power"):
            raise ValueError(
                f"durability must be 'process' or 'power', not {bounded_repr(durability)}"
            )
        if (
            not isinstance(busy_timeout, int | float)
            or isinstance(busy_timeout, bool)
            or not 0 <= busy_timeout < float("inf")
        ):
            raise ValueError(
                f"busy_timeout must be a number of seconds >= 0, not {bounded_repr(busy_timeout)}"
            )
        self.path = Path(path)
        self.durability = durability
        self.busy_timeout = float(busy_timeout)
        self.group_commit = durability == "power"
        self.commits = 0
        """How many transactions were committed (for tests and benchmarks)."""
        self.saved_time: float | None = None
        """The latest bus time the file's records held when it was opened."""
        self._con: sqlite3.Connection | None = None
        self._fd: int | None = None
        self._key: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, durability={self.durability!r})"

    # --------------------------------------------------------------- opening

    def open(self, broker: Broker, now: float) -> None:
        """Lock the file, check or create the schema, and load the state into ``broker``.

        Raises:
            StoreError: the database is in use (by another process, or by another
                bus of this one), the file is not an eventbus database, a newer
                version wrote it, or it cannot be opened for writing (its folder is
                missing, a read-only file system, no permission). The file is left
                as it was, and no file is left behind where there was none.
        """
        if self._con is not None or self._fd is not None:
            raise StoreError(f"{self.path} is open already: this store is in use by a bus")
        created = self._take_lock()
        try:
            self._con = self._connect()
            self.saved_time = self._saved_time()
            self._load(broker, now if self.saved_time is None else max(now, self.saved_time))
        except BaseException:
            self.close()
            if created:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    with contextlib.suppress(OSError):
                        os.unlink(f"{self.path}{suffix}")
            raise

    def _take_lock(self) -> bool:
        """Open and lock the database file; True if this call created it."""
        import fcntl

        path = self.path
        created = False
        flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
        try:
            try:
                fd = os.open(path, flags)
            except FileNotFoundError:
                # Create only a new file: a dangling symbolic link is not followed.
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
                created = True
        except FileNotFoundError:
            raise StoreError(
                f"cannot create the database {str(path)!r}: its folder "
                f"{str(path.parent)!r} does not exist"
            ) from None
        except FileExistsError:
            raise StoreError(
                f"cannot open the database {str(path)!r}: it is a symbolic link to a file "
                "that does not exist"
            ) from None
        except OSError as error:
            raise StoreError(
                f"cannot open the database {str(path)!r} for writing: {_reason(error)}"
            ) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StoreError(f"{str(path)!r} is not a regular file")
            key = (info.st_dev, info.st_ino)
            holder = _OPEN_IN_THIS_PROCESS.get(key)
            if holder is not None:
                raise StoreError(
                    f"{str(path)!r} is open already in this process, by another Bus "
                    f"(as {holder!r}); one Bus owns a database at a time: close it first, or "
                    "share that Bus"
                )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise StoreError(f"cannot lock {str(path)!r}: {_reason(error)}") from None
                owner = _flock_owner(info.st_ino)
                raise StoreError(
                    f"{str(path)!r} is in use by another process"
                    f"{'' if owner is None else f' (pid {owner})'}; one process owns a "
                    "database at a time"
                ) from None
        except BaseException:
            os.close(fd)
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        _OPEN_IN_THIS_PROCESS[key] = str(path)
        self._fd, self._key = fd, key
        return created

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        try:
            con = sqlite3.connect(path, isolation_level=None, timeout=self.busy_timeout)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the database {str(path)!r}: {error}") from None
        try:
            try:
                application_id = con.execute("PRAGMA application_id").fetchone()[0]
                version = con.execute("PRAGMA user_version").fetchone()[0]
                tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            except sqlite3.DatabaseError as error:
                raise StoreError(f"{str(path)!r} is not an eventbus database ({error})") from None
            if application_id != APPLICATION_ID and (tables or application_id or version):
                raise StoreError(
                    f"{str(path)!r} is not an eventbus database (SQLite application id "
                    f"{application_id:#x}, {tables} schema objects); it was left unchanged"
                )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{str(path)!r} has schema version {version}, newer than this eventbus "
                    f"understands ({SCHEMA_VERSION}); upgrade eventbus"
                )
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(
                    f"PRAGMA synchronous={'FULL' if self.durability == 'power' else 'NORMAL'}"
                )
                if not tables:  # executescript runs its own statements; one transaction each
                    con.executescript(
                        f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA application_id={APPLICATION_ID}; "
                        f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                    )
                while version and version < SCHEMA_VERSION:
                    con.executescript(
                        f"BEGIN IMMEDIATE; {_MIGRATIONS[version]} "
                        f"PRAGMA user_version={version + 1}; COMMIT;"
                    )
                    version += 1
            except sqlite3.Error as error:
                if con.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                raise StoreError(f"cannot write to {str(path)!r}: {error}") from None
        except BaseException:
            con.close()
            raise
        return con

    def _saved_time(self) -> float | None:
        """The latest bus time a record of the file holds (None for an empty file).

        Derived at open rather than written with every commit, which would cost each
        commit one more page: a send, a receive, a creation, a purge, a deletion of a
        queue, a move task's start, a deduplication entry (sent 5 minutes before it
        expires). A deleted message leaves no time behind, and needs none."""
        times = [
            row[0]
            for row in self._require().execute(
                "SELECT max(max(sent_at, enqueued_at, coalesce(received_at, 0))) "
                "FROM messages UNION ALL "
                "SELECT max(max(created_at, last_modified_at, coalesce(last_purge, 0))) "
                "FROM queues UNION ALL SELECT max(deleted_at) FROM deleted_queues UNION ALL "
                "SELECT max(expires_at) - 300 FROM dedup UNION ALL "
                "SELECT max(expires_at) - 300 FROM topic_dedup UNION ALL "
                "SELECT max(json_extract(record, '$.started_at')) FROM move_tasks"
            )
            if row[0] is not None
        ]
        return max(times) if times else None

    def close(self) -> None:
        """Close the database and give up the lock, whatever state they are in."""
        con, fd, key = self._con, self._fd, self._key
        self._con = self._fd = self._key = None
        try:
            if con is not None:
                with contextlib.suppress(sqlite3.Error):
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                con.close()
        finally:
            # After the connection: closing a descriptor of the file drops the POSIX
            # locks this process holds on it, so SQLite's must be gone by now.
            if key is not None:
                _OPEN_IN_THIS_PROCESS.pop(key, None)
            if fd is not None:
                os.close(fd)

    # --------------------------------------------------------------- loading

    def _load(self, broker: Broker, now: float) -> None:
        con = self._require()
        self._load_queues(broker, now, None)
        for name, deleted_at in con.execute("SELECT name, deleted_at FROM deleted_queues"):
            broker.restore_deleted_queue(name, deleted_at)
        self._load_topics(broker, now)
        self._load_move_tasks(broker)
        self._load_tags(broker, None)

    def _load_queues(self, broker: Broker, now: float, names: set[str] | None) -> None:
        """Load every queue, or those named (with their messages and deduplication)."""
        con = self._require()
        query = (
            "SELECT name, settings, uid, seq, last_purge, created_at, last_modified_at, "
            "counters FROM queues"
        )
        if names is None:
            rows = con.execute(query).fetchall()
        else:
            rows = [
                row
                for name in sorted(names)
                for row in con.execute(f"{query} WHERE name = ?", (name,))
            ]
        for name, settings, uid, seq, last_purge, created, modified, counters in rows:
            queue = broker.restore_queue(
                name,
                _settings_from(settings),
                uid=uid,
                created_at=created,
                last_modified_at=modified,
            )
            queue.restore(seq, last_purge)
            if counters is not None:
                queue.restore_counters(json.loads(counters))
            messages = [
                _message_from(row)
                for row in con.execute("SELECT * FROM messages WHERE queue = ?", (name,))
            ]
            queue.restore_messages(messages)
            for scope, dedup_id, message_id, number, expires in con.execute(
                "SELECT scope, dedup_id, message_id, sequence_number, expires_at FROM dedup "
                "WHERE queue = ? AND expires_at > ? ORDER BY expires_at",
                (name, now),
            ):
                queue.restore_dedup((scope, dedup_id), message_id, number, expires)

    def _load_topics(self, broker: Broker, now: float) -> None:
        con = self._require()
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

    def _load_move_tasks(self, broker: Broker) -> None:
        for (record,) in self._require().execute("SELECT record FROM move_tasks ORDER BY position"):
            broker.restore_move_task(MoveTaskRecord(**json.loads(record)))

    def _load_tags(self, broker: Broker, arns: set[str] | None) -> None:
        """Load the tags of every queue and topic, or of those named."""
        con = self._require()
        if arns is None:
            for arn, tags in con.execute("SELECT arn, tags FROM tags"):
                broker.tags[arn] = json.loads(tags)
            return
        for arn in arns:
            row = con.execute("SELECT tags FROM tags WHERE arn = ?", (arn,)).fetchone()
            if row is None:
                broker.tags.pop(arn, None)
            else:
                broker.tags[arn] = json.loads(row[0])

    # -------------------------------------------------------------- committing

    def commit(self, changes: Changes, broker: Broker, now: float | None = None) -> None:
        """Write ``changes`` in one transaction (then the caller clears them).

        A queue's cumulative statistics are written with its row (created, changed,
        purged, and every queue at close), not with each message: that would cost
        each commit one more page.

        Raises:
            StoreUnavailable: the transaction failed and was rolled back in the file;
                the caller puts the state back with :meth:`rollback`.
        """
        con = self._require()
        try:
            with _transaction(con):
                self._write(con, changes, broker, now)
        except sqlite3.Error as error:
            raise StoreUnavailable(
                f"the change could not be written to {str(self.path)!r} ({_sqlite_reason(error)}); "
                "the call did not happen: the bus is as it was before it. Retry once the "
                "cause is gone"
            ) from error
        self.commits += 1

    def rollback(
        self,
        changes: Changes,
        broker: Broker,
        now: float,
        *,
        dropped: Mapping[str, QueueMachine] | None = None,
    ) -> None:
        """Undo in ``broker`` what a failed commit of ``changes`` held, and forget them.

        What the changes touched (those queues, or the topics, or the move tasks) is
        loaded again from the file, into the same machines and records (``dropped``:
        the machines of queues deleted since the last commit), so handles on them
        stay valid; the rest is not touched. The cost is that of loading the touched
        queues.
        """
        queues = (
            set(changes.messages)
            | changes.queues
            | set(changes.removed_queues)
            | changes.purged
            | {entry[0] for entry in changes.dedup}
        )
        topics = changes.topology or bool(changes.topics) or bool(changes.topic_dedup)
        move_tasks = changes.move_tasks
        tags = set(changes.tags)
        changes.clear()
        fresh = Broker(region=broker.region, ids=broker.ids, trace=broker.trace, durable=True)
        # The machines loaded again must record into the bus's own lists.
        fresh.events, fresh.changes = broker.events, broker.changes
        con = self._require()
        self._load_queues(fresh, now, queues)
        for name, deleted_at in con.execute("SELECT name, deleted_at FROM deleted_queues"):
            fresh.restore_deleted_queue(name, deleted_at)
        if topics:
            self._load_topics(fresh, now)
        if move_tasks:
            self._load_move_tasks(fresh)
        broker.adopt(fresh, queues=queues, topics=topics, move_tasks=move_tasks, dropped=dropped)
        self._load_tags(broker, tags)

    def _write(
        self, con: sqlite3.Connection, changes: Changes, broker: Broker, now: float | None
    ) -> None:
        for name, deleted_at in changes.removed_queues.items():
            for table in ("queues", "messages", "dedup"):
                key = "name" if table == "queues" else "queue"
                con.execute(f"DELETE FROM {table} WHERE {key} = ?", (name,))
            con.execute("INSERT OR REPLACE INTO deleted_queues VALUES (?, ?)", (name, deleted_at))
        for name in changes.purged:
            con.execute("DELETE FROM messages WHERE queue = ?", (name,))
            con.execute("DELETE FROM dedup WHERE queue = ?", (name,))
        for name in changes.queues:
            queue = broker.queue_by_name(name)
            if queue is not None:
                uid, seq, last_purge = queue.durable_state()
                con.execute(
                    "INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        _settings_json(queue.settings),
                        uid,
                        seq,
                        last_purge,
                        queue.created_at,
                        queue.last_modified_at,
                        json.dumps(queue.durable_counters()),
                    ),
                )
                con.execute("DELETE FROM deleted_queues WHERE name = ?", (name,))
        saved = []
        gone = []
        for queue_name, pending in changes.messages.items():
            for message in pending.values():
                if message.state in _LIVE:
                    saved.append(_message_row(queue_name, message))
                else:
                    gone.append((queue_name, message.seq))
        if saved:
            con.executemany(
                f"INSERT OR REPLACE INTO messages VALUES ({', '.join('?' * 18)})", saved
            )
        if gone:
            con.executemany("DELETE FROM messages WHERE queue = ? AND seq = ?", gone)
        if changes.dedup:
            con.executemany("INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?, ?)", changes.dedup)
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
                con.execute("UPDATE topics SET sequence = ? WHERE name = ?", (topic.sequence, name))
        for arn in changes.tags:
            tags = broker.tags.get(arn)
            if tags:
                con.execute("INSERT OR REPLACE INTO tags VALUES (?, ?)", (arn, json.dumps(tags)))
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
            raise StoreError(
                f"{str(self.path)!r} is not open: use the bus as `async with Bus(store=...)`"
            )
        return self._con


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[None]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may leave the transaction open; a ROLLBACK that fails too
        # (the disk gone) leaves nothing to undo that SQLite will not undo itself.
        if con.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _sqlite_reason(error: sqlite3.Error) -> str:
    name = getattr(error, "sqlite_errorname", None)
    return f"{error}" if name is None else f"{error}, {name}"


def _flock_owner(inode: int) -> int | None:
    """The process holding a ``flock`` on the file with this inode (Linux only)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/locks", encoding="ascii") as locks:
        for line in locks:
            fields = line.split()
            if "->" in fields:  # a waiter, not the holder
                continue
            if len(fields) >= 6 and fields[1] == "FLOCK" and int(fields[5].split(":")[-1]) == inode:
                return int(fields[4])
    return None


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
