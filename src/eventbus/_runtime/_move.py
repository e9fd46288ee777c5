"""Message move tasks in the runtime: run them at their rate on the bus clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio.lowlevel

from .._core._move import MoveTaskRecord
from .._store._sqlite import StoreUnavailable
from ._clock import Signal
from ._log import move_log

if TYPE_CHECKING:
    from ._local import LocalBackend

STEP = 10
"""Messages moved per step (a receive of 10, as SQS's redrive does)."""

RETRY_PAUSE_MAX = 60.0
"""The longest pause (bus seconds) before a step the store could not keep is tried again."""


@dataclass(frozen=True, slots=True)
class MoveTaskStatus:
    """A move task as ``ListMessageMoveTasks`` describes it.

    Attributes:
        task_handle: the handle (None once the task is no longer running, as on AWS).
        status: ``RUNNING``, ``COMPLETED``, ``CANCELLED`` or ``FAILED``.
        source_arn: the dead-letter queue the task moves from.
        destination_arn: where it moves to; None for each message's source queue.
        max_number_of_messages_per_second: the rate limit, None for none.
        approximate_number_of_messages_moved: moved so far.
        approximate_number_of_messages_to_move: visible in the source at the start.
        failure_reason: why a FAILED task failed.
        started_timestamp: when it started, epoch milliseconds.
    """

    task_handle: str | None
    status: str
    source_arn: str
    destination_arn: str | None
    max_number_of_messages_per_second: int | None
    approximate_number_of_messages_moved: int
    approximate_number_of_messages_to_move: int
    failure_reason: str | None
    started_timestamp: int

    @classmethod
    def of(cls, record: MoveTaskRecord) -> MoveTaskStatus:
        """A snapshot of a task record."""
        return cls(
            task_handle=record.task_handle if record.running else None,
            status=record.status,
            source_arn=record.source_arn,
            destination_arn=record.destination_arn,
            max_number_of_messages_per_second=record.max_number_of_messages_per_second,
            approximate_number_of_messages_moved=record.approximate_number_of_messages_moved,
            approximate_number_of_messages_to_move=record.approximate_number_of_messages_to_move,
            failure_reason=record.failure_reason,
            started_timestamp=int(record.started_at * 1000),
        )


class MoveTask:
    """A handle on a running (or finished) message move task.

    Attributes:
        task_handle: the task's handle, for ``Bus.cancel_message_move_task``.
    """

    __slots__ = ("_done", "_local", "_record", "task_handle")

    def __init__(self, local: LocalBackend, record: MoveTaskRecord) -> None:
        self._local = local
        self._record = record
        self._done = Signal()
        self.task_handle = record.task_handle

    def __repr__(self) -> str:
        return f"<MoveTask {self._record.status} {self._record.source_arn}>"

    def status(self) -> MoveTaskStatus:
        """The task's progress now."""
        return MoveTaskStatus.of(self._record)

    async def cancel(self) -> int:
        """Stop the task; messages moved so far stay moved. Returns how many moved.

        Raises:
            EventBusError: ``InvalidParameterValue`` if the task is not running.
        """
        return await self._local.cancel_message_move_task(self.task_handle)

    async def wait(self) -> MoveTaskStatus:
        """Wait until the task has finished (completed, cancelled or failed).

        A rate-limited task waits on the bus clock: with a VirtualClock, time must
        be advanced (``clock.advance`` or ``bus.run_until_idle``) for it to finish.
        """
        while self._record.running:
            await self._local.clock.wait(self._done)
        return self.status()

    async def _run(self) -> None:
        """Move messages until the task ends, pacing to its rate on the local clock.

        A step the store could not keep did not happen (the store put it back); it
        is tried again after a pause that doubles up to a minute, while the task
        keeps its 36-hour limit.
        """
        local = self._local
        clock = local.clock
        record = self._record
        rate = record.max_number_of_messages_per_second
        step = STEP if rate is None else min(STEP, rate)
        failures = 0
        try:
            while record.running:
                started = clock.now()
                try:
                    for queue in local._broker.move_messages(record, now=started, limit=step):
                        local._notify(queue)
                    local._after()
                except StoreUnavailable as error:
                    failures += 1
                    pause = min(RETRY_PAUSE_MAX, 2.0 ** (failures - 1))
                    move_log.warning(
                        "move_task.step_failed",
                        bus_time=started,
                        source=record.source_arn,
                        reason=error.message,
                        retry_in=pause,
                    )
                    await clock.sleep_until(started + pause)
                    continue
                failures = 0
                if not record.running:
                    break
                if rate is None:
                    await anyio.lowlevel.checkpoint()
                else:
                    await clock.sleep_until(min(started + step / rate, record.deadline))
        finally:
            if record.running:  # the bus was closed: the task ends CANCELLED, in the file too
                record.finish("CANCELLED")
                changes = local._broker.changes
                if changes is not None:
                    changes.move_tasks = True
            if record.status == "FAILED" or local._broker.trace:
                log = move_log.warning if record.status == "FAILED" else move_log.debug
                log(
                    "move_task.finished",
                    bus_time=clock.now(),
                    source=record.source_arn,
                    status=record.status,
                    moved=record.approximate_number_of_messages_moved,
                    failure_reason=record.failure_reason,
                )
            self._done.notify_all()
            local._move_tasks.pop(record.task_handle, None)
