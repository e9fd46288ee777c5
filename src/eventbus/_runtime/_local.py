"""The local backend: one process's SNS and SQS, the core driven by the bus clock."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.abc
import anyio.lowlevel

from .._core._broker import Broker
from .._core._changes import Changes
from .._core._errors import (
    InvalidParameter,
    InvalidParameterValue,
    NotFound,
    QueueDoesNotExist,
    bounded_repr,
)
from .._core._events import MessageDeadLettered
from .._core._ids import IdSource
from .._core._names import queue_arn, queue_name_from
from .._core._paging import Page
from .._core._policy import check_policy
from .._core._queue import QueueMachine
from .._core._settings import QUEUE_INT_ATTRIBUTES, QueueSettings, RedriveAllowRule, RedriveRule
from .._core._tags import check_create_tags
from .._core._topic import TopicMachine
from .._models import QueueConfig, TopicConfig, check_queue_type_change
from .._store._memory import MemoryStore, Store
from .._store._sqlite import StoreUnavailable
from ._backend import CLOSED, NOT_OPEN, Backend, BusClosed
from ._clock import Clock, Signal, VirtualClock
from ._durable import durable
from ._handles import Queue, Subscription, Topic
from ._ids import UuidIds
from ._local_handles import LocalQueue, LocalSubscription, LocalTopic
from ._log import log_event, store_log

if TYPE_CHECKING:
    from ._move import MoveTask


class _Unavailable:
    """Stands in for the broker while the bus is not open: any use of it raises
    :class:`BusClosed`. Every call of the backend and of its handles reaches the core
    through ``LocalBackend._broker``, so this one swap guards them all, at no cost
    to the calls of an open bus."""

    __slots__ = ("_message",)

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, name: str) -> Any:
        raise BusClosed(self._message)


_NOT_OPEN_BROKER = cast(Broker, _Unavailable(NOT_OPEN))
_CLOSED_BROKER = cast(Broker, _Unavailable(CLOSED))


class _Commit:
    """One group commit: the calls whose changes it holds wait until it is ``done``."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: StoreUnavailable | None = None


class LocalBackend(Backend):
    """SNS topics and SQS queues in this process, with AWS's semantics.

    The default backend of a :class:`~eventbus.Bus`; its options are the Bus's
    ``region``, ``ids``, ``trace``, ``store`` and ``enforce_queue_policies``, and its
    calls are documented on the Bus.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        region: str,
        ids: IdSource | None,
        trace: bool,
        store: Store | None,
        enforce_queue_policies: bool = False,
    ) -> None:
        self.clock = clock
        self.region = region
        self._store: Store = store if store is not None else MemoryStore()
        self._core_broker = Broker(
            region=region,
            ids=ids or UuidIds(),
            trace=trace,
            durable=self._store.durable,
            enforce_queue_policies=enforce_queue_policies,
        )
        self._broker = _NOT_OPEN_BROKER
        """The broker while the bus is open; a stand-in that raises before and after."""
        self._signals: dict[QueueMachine, Signal] = {}
        self._any_change = Signal()
        self._move_tasks: dict[str, MoveTask] = {}
        self._stack: AsyncExitStack | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._commit_due = Signal()
        self._committed = Signal()
        self._next_commit = _Commit()
        self._group_commit = False
        self._dropped: dict[str, QueueMachine] = {}
        """Queues deleted since the last commit (a failed commit brings them back)."""
        self._broken: StoreUnavailable | None = None
        """Set when the state could not be loaded back after a failed commit."""

    def bind(self, clock: Clock) -> None:
        """Take the bus's clock."""
        self.clock = clock

    async def open(self) -> None:
        """Open the store (loading a durable one's state) and start background tasks.

        A :class:`VirtualClock` that shows an earlier time than the latest one a
        durable store's records hold is moved forward to that time (``advance_to``),
        so that the bus resumes where it stopped: time never runs backwards for the
        state.
        """
        self._store.open(self._core_broker, self.clock.now())
        try:
            saved = self._store.saved_time
            if (
                saved is not None
                and isinstance(self.clock, VirtualClock)
                and self.clock.now() < saved
            ):
                await self.clock.advance_to(saved)
            self._stack = AsyncExitStack()
            self._task_group = await self._stack.enter_async_context(anyio.create_task_group())
        except BaseException:
            self._store.close()
            raise
        self._broker = self._core_broker
        if self._store.group_commit:
            self._group_commit = True
            self.clock.spawn(self._task_group, self._committer)
        from ._move import MoveTask

        for record in self._broker.move_tasks():  # resume what was running at a crash
            if record.running:
                self._start_move_task(MoveTask(self, record))

    async def close(self) -> None:
        """Cancel running message move tasks, commit, and close the store.

        The store is closed (its lock given up) whatever happens; a last commit that
        fails is logged (``store.commit_failed``), not raised: what it held is what
        a reopen restores by itself (cancelled move tasks resume, time-driven
        changes happen again).
        """
        stack, group = self._stack, self._task_group
        self._stack = self._task_group = None
        if stack is None or group is None:
            return
        group.cancel_scope.cancel()
        try:
            await stack.aclose()
        finally:
            self._group_commit = False
            try:
                changes = self._core_broker.changes
                if changes is not None:  # their cumulative statistics go with their rows
                    changes.queues.update(q.name for q in self._core_broker.list_queues())
                try:
                    self._commit_pending()
                finally:
                    self._store.close()
            finally:
                self._broker = _CLOSED_BROKER

    def request_id(self) -> str:
        """A new id for a Lambda invocation, from the bus's id source."""
        return self._broker.ids.message_id()

    def next_deadline(self) -> float | None:
        """The core's next deadline (a delay, a visibility timeout, an expiry)."""
        return self._broker.next_deadline()

    async def wait_for_change(self, clock: Clock, until: float) -> None:
        """Wait for any change to the queues, or ``until``."""
        await clock.wait(self._any_change, until)

    def _commit(self) -> None:
        """Hand the durable changes made so far to the store.

        Raises:
            StoreUnavailable: the store could not keep them; the state they changed
                was put back as the store holds it (the calls did not happen).
        """
        changes = self._broker.changes
        if not changes:
            return
        assert changes is not None
        if self._broken is not None:
            raise StoreUnavailable(self._broken.message)
        try:
            self._store.commit(changes, self._broker, self.clock.now())
        except Exception as error:
            failure = (
                error
                if isinstance(error, StoreUnavailable)
                else StoreUnavailable(
                    f"the change could not be written ({type(error).__name__}: {error}); the "
                    "call did not happen: the bus is as it was before it"
                )
            )
            self._rollback(changes)
            raise failure from error
        changes.clear()
        self._dropped.clear()

    def _rollback(self, changes: Changes) -> None:
        """Put back what ``changes`` touched as the store holds it, after a failed commit."""
        broker = self._broker
        try:
            self._store.rollback(changes, broker, self.clock.now(), dropped=self._dropped)
        except Exception as error:  # the file cannot even be read: stop writing
            changes.clear()
            self._broken = StoreUnavailable(
                f"the bus could not load its state back from the store after a failed "
                f"commit ({type(error).__name__}: {error}); it now refuses every change: "
                "close it and open it again"
            )
        self._dropped.clear()
        broker.events.clear()  # what they report did not happen
        from ._move import MoveTask

        kept = {record.task_handle: record for record in broker.move_tasks()}
        for handle, task in list(self._move_tasks.items()):
            if kept.get(handle) is not task._record:  # its start did not happen
                task._record.finish("CANCELLED")
                task._done.notify_all()
        for record in kept.values():
            if record.running and record.task_handle not in self._move_tasks:
                self._start_move_task(MoveTask(self, record))
        for signal in self._signals.values():
            signal.notify_all()
        self._any_change.notify_all()

    def _commit_pending(self) -> None:
        """Commit now (on behalf of the calls waiting for the next group commit)."""
        batch, self._next_commit = self._next_commit, _Commit()
        try:
            self._commit()
        except StoreUnavailable as error:
            batch.error = error
            store_log.warning(
                "store.commit_failed",
                bus_time=self.clock.now(),
                store=repr(self._store),
                reason=error.message,
            )
        except BaseException as error:  # interrupted: the waiting calls must not succeed
            batch.error = StoreUnavailable(
                f"the commit was interrupted ({type(error).__name__}); the change may not "
                "have been written"
            )
            raise
        finally:
            batch.done = True  # every call waiting for this commit wakes, whatever happened
            self._committed.notify_all()

    async def _committer(self) -> None:
        """Group commit: commit whatever the calls made meanwhile have changed."""
        while True:
            while not self._broker.changes:
                await self.clock.wait(self._commit_due)
            await anyio.lowlevel.checkpoint()  # let calls made at the same time join
            self._commit_pending()

    async def _durable(self) -> None:
        """Return once the changes made so far are committed (group commit only).

        Raises:
            StoreUnavailable: the commit holding them failed (so they were undone).
        """
        if not self._group_commit or not self._broker.changes:
            return
        batch = self._next_commit
        while not batch.done:
            await self.clock.wait(self._committed)
        if batch.error is not None:
            raise StoreUnavailable(batch.error.message) from batch.error.__cause__

    def _start_move_task(self, task: MoveTask) -> None:
        if self._task_group is None:
            raise RuntimeError(
                "message move tasks run in the bus's background: use it as `async with Bus()`"
            )
        self._move_tasks[task.task_handle] = task
        self.clock.spawn(self._task_group, task._run)

    @durable
    async def cancel_message_move_task(self, task_handle: str) -> int:
        """Cancel a running message move task; returns how many messages it moved."""
        record = self._broker.cancel_move_task(task_handle)
        self._after()
        return record.approximate_number_of_messages_moved

    @property
    def _local(self) -> LocalBackend:
        """The backend itself (handles reach theirs by the same name)."""
        return self

    # ------------------------------------------------------------- bookkeeping

    def _signal(self, machine: QueueMachine) -> Signal:
        signal = self._signals.get(machine)
        if signal is None:
            signal = self._signals[machine] = Signal()
        return signal

    def _notify(self, machine: QueueMachine, count: int | None = None) -> None:
        """Wake long pollers of ``machine``: ``count`` of them for that many new
        messages, or all of them (for changes of any other kind)."""
        signal = self._signals.get(machine)
        if signal is not None:
            if count is None:
                signal.notify_all()
            else:
                signal.notify(count)
        self._any_change.notify_all()

    def _after(self, *, commit: bool = True) -> None:
        """Log and act on what the core recorded during the last operation.

        Args:
            commit: False for a read: what it made happen (a visibility timeout that
                ran out, a message that expired) is what the stored state makes happen
                again after a restart, so it is committed with the next change, and a
                read keeps working while the store cannot write.

        Raises:
            StoreUnavailable: (without group commit) the change could not be kept,
                and was undone.
        """
        if commit and self._broker.changes:
            if self._group_commit:
                self._commit_due.notify_all()
            else:
                self._commit()
        events = self._broker.events
        if not events:
            self._any_change.notify_all()
            return
        recorded = events[:]
        events.clear()
        now = self.clock.now()
        for event in recorded:
            if isinstance(event, MessageDeadLettered):
                with contextlib.suppress(QueueDoesNotExist):
                    self._notify(self._broker.queue(event.dead_letter_queue))
            log_event(event, now)
        self._any_change.notify_all()

    def _changed(self, machine: QueueMachine, count: int | None = None) -> None:
        self._notify(machine, count)
        self._after()

    def _queue_settings(
        self, attributes: Mapping[str, Any], *, base: QueueSettings | None = None
    ) -> QueueSettings:
        """The settings the attributes given make, on top of ``base`` (a set) or of
        the defaults (a create)."""
        merged: dict[str, Any] = {}
        if base is not None:
            check_queue_type_change(base.fifo_queue, dict(attributes))
            merged = {key: getattr(base, key) for key in QUEUE_INT_ATTRIBUTES}
            merged["kms_data_key_reuse_period_seconds"] = base.kms_data_key_reuse_period_seconds
            if base.kms_master_key_id:
                merged["kms_master_key_id"] = base.kms_master_key_id
            if base.fifo_queue:
                merged |= {
                    "fifo_queue": True,
                    "content_based_deduplication": base.content_based_deduplication,
                    "deduplication_scope": base.deduplication_scope,
                    "fifo_throughput_limit": base.fifo_throughput_limit,
                }
        merged.update(attributes)
        if base is not None and "sqs_managed_sse_enabled" not in attributes:
            sse = base.sqs_managed_sse_enabled
        else:
            sse = attributes.get("sqs_managed_sse_enabled", True)
        config = QueueConfig(**merged)
        redrive = base.redrive_policy if base is not None else None
        if "redrive_policy" in attributes:
            redrive = None
            if config.redrive_policy is not None:
                policy = config.redrive_policy
                try:
                    target = self._broker.queue(policy.dead_letter_queue)
                except QueueDoesNotExist:
                    raise InvalidParameterValue(
                        f"Value {bounded_repr(policy.dead_letter_queue)} for parameter "
                        "RedrivePolicy is "
                        "invalid. Reason: Dead letter target does not exist."
                    ) from None
                redrive = RedriveRule(target.arn, policy.max_receive_count)
        allow = base.redrive_allow_policy if base is not None else None
        if "redrive_allow_policy" in attributes:
            allow = None
            if config.redrive_allow_policy is not None:
                given = config.redrive_allow_policy
                allow = RedriveAllowRule(
                    given.redrive_permission,
                    tuple(self._queue_arn(source) for source in given.source_queues),
                )
        access_policy = base.policy if base is not None else None
        if "policy" in attributes:
            access_policy = check_policy(config.policy)
        return QueueSettings(
            policy=access_policy,
            visibility_timeout=config.visibility_timeout,
            delay_seconds=config.delay_seconds,
            message_retention_period=config.message_retention_period,
            maximum_message_size=config.maximum_message_size,
            receive_message_wait_time_seconds=config.receive_message_wait_time_seconds,
            redrive_policy=redrive,
            redrive_allow_policy=allow,
            fifo_queue=config.fifo_queue,
            content_based_deduplication=config.content_based_deduplication,
            deduplication_scope=config.deduplication_scope,
            fifo_throughput_limit=config.fifo_throughput_limit,
            kms_master_key_id=config.kms_master_key_id or None,
            kms_data_key_reuse_period_seconds=config.kms_data_key_reuse_period_seconds,
            sqs_managed_sse_enabled=sse is True and not config.kms_master_key_id,
        )

    def _queue_arn(self, reference: str) -> str:
        """The ARN a queue name, URL or ARN stands for (the queue need not exist)."""
        if reference.startswith("arn:"):
            return reference
        return queue_arn(self.region, queue_name_from(reference))

    # ------------------------------------------------------------------ queues

    @durable
    async def create_queue(
        self, /, name: str, *, tags: Mapping[str, str] | None = None, **attributes: Any
    ) -> Queue:
        """Create a queue, or return the existing one if its attributes match.

        ``tags`` tag a new queue; an existing queue is returned with its own tags.
        """
        settings = self._queue_settings(attributes)
        given_tags = check_create_tags(tags, resource=name, sns=False)
        broker = self._broker
        new = broker.queue_by_name(name) is None
        machine = broker.create_queue(
            name, settings, now=self.clock.now(), given=frozenset(attributes)
        )
        if new and given_tags:
            broker.tag(machine.arn, given_tags, resource=name, sns=False)
        self._after()
        return LocalQueue(self, machine)

    async def get_queue(self, name: str) -> Queue:
        """The queue with this name, URL or ARN."""
        return LocalQueue(self, self._broker.queue(name))

    @durable
    async def delete_queue(self, queue: Queue | str) -> None:
        """Delete a queue (a handle, name, URL or ARN) and every message in it."""
        reference = queue.name if isinstance(queue, Queue) else queue
        machine = self._broker.queue(reference)
        self._broker.delete_queue(reference, now=self.clock.now())
        if self._broker.changes is not None:
            self._dropped.setdefault(machine.name, machine)
        self._notify(machine)
        self._signals.pop(machine, None)
        self._after()

    async def list_queues(self, prefix: str = "") -> list[Queue]:
        """Every queue whose name starts with ``prefix``, sorted by name."""
        return [LocalQueue(self, m) for m in self._broker.list_queues(prefix)]

    # ------------------------------------------------------------------ topics

    @durable
    async def create_topic(
        self, /, name: str, *, tags: Mapping[str, str] | None = None, **attributes: Any
    ) -> Topic:
        """Create a topic, or return the existing one if its attributes match.

        An existing topic is returned only if every tag given is one it has (SNS:
        "Invalid parameter: Tags Reason: Topic already exists with different tags",
        LocalStack's AWS-validated snapshot of
        ``test_create_duplicate_topic_with_more_tags``).
        """
        settings = TopicConfig(**attributes).to_core()
        broker = self._broker
        given_tags = check_create_tags(tags, resource=name, sns=True)
        try:
            existing: TopicMachine | None = broker.topic(name)
        except NotFound:
            existing = None
        if existing is not None and existing.settings.same_as(settings, attributes):
            have = broker.tags.get(existing.arn, {})
            if any(have.get(key) != value for key, value in given_tags.items()):
                raise InvalidParameter(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags"
                )
        machine = broker.create_topic(name, settings, given=frozenset(attributes))
        if existing is None and given_tags:
            broker.tag(machine.arn, given_tags, resource=machine.arn, sns=True)
        self._after()
        return LocalTopic(self, machine)

    async def get_topic(self, name: str) -> Topic:
        """The topic with this name or ARN."""
        return LocalTopic(self, self._broker.topic(name))

    @durable
    async def delete_topic(self, topic: Topic | str) -> None:
        """Delete a topic and its subscriptions (a missing topic is no error)."""
        self._broker.delete_topic(topic.name if isinstance(topic, Topic) else topic)
        self._after()

    async def list_topics(self) -> list[Topic]:
        """Every topic, sorted by name."""
        return [LocalTopic(self, t) for t in self._broker.list_topics()]

    # ------------------------------------------------------------------ paging

    async def list_queues_page(
        self,
        prefix: str = "",
        *,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[Queue]:
        """One page of ListQueues, by name."""
        machines, token = self._broker.list_queues_page(
            prefix, max_results=max_results, next_token=next_token
        )
        return Page([LocalQueue(self, m) for m in machines], token)

    async def list_topics_page(self, *, next_token: str | None = None) -> Page[Topic]:
        """One page (100) of ListTopics, by name."""
        machines, token = self._broker.list_topics_page(next_token=next_token)
        return Page([LocalTopic(self, t) for t in machines], token)

    async def list_subscriptions_page(self, *, next_token: str | None = None) -> Page[Subscription]:
        """One page (100) of ListSubscriptions, by subscription ARN."""
        records, token = self._broker.list_subscriptions_page(None, next_token=next_token)
        return Page([LocalSubscription(self, r) for r in records], token)
