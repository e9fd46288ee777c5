"""Message move tasks: redriving a dead-letter queue back to its sources.

As on SQS, a task receives messages from the dead-letter queue, sends each to its
destination (the queue it was dead-lettered from, or a destination given at the
start) and deletes it from the dead-letter queue; a moved message is therefore a
new message there: new id, new enqueue time, receive count from zero. The core
moves messages when told to (:meth:`MoveTaskRecord` steps, driven by the broker);
the runtime paces the steps to the task's rate on the bus clock.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Final, Literal

from ._errors import InvalidParameterValue, ResourceNotFoundException, echo

MAX_RATE: Final = 500
"""The most messages per second a task may be limited to."""

MAX_DURATION: Final = 36 * 60 * 60
"""How long a task may run, in seconds: SQS gives a message move task at most 36 hours
(the SQS Developer Guide's dead-letter queue redrive page, in the versions archived
when redrive tasks came out; the spec notes, section 2.5)."""

EXPIRED_REASON: Final = "The task reached the maximum duration of 36 hours."
"""The ``FailureReason`` of a task stopped at :data:`MAX_DURATION`. AWS documents the
limit, not the status or reason it leaves; a task that ends with messages not moved is
reported as SQS reports other unfinished tasks: ``FAILED``, with this reason."""

MoveTaskStatusName = Literal["RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"]


@dataclass(slots=True, eq=False)
class MoveTaskRecord:
    """One message move task and its progress."""

    task_handle: str
    source_arn: str
    destination_arn: str | None
    max_number_of_messages_per_second: int | None
    started_at: float
    approximate_number_of_messages_to_move: int
    status: MoveTaskStatusName = "RUNNING"
    approximate_number_of_messages_moved: int = 0
    failure_reason: str | None = None

    @property
    def remaining(self) -> int:
        """Messages still to move."""
        return (
            self.approximate_number_of_messages_to_move - self.approximate_number_of_messages_moved
        )

    @property
    def running(self) -> bool:
        """True while the task may still move messages."""
        return self.status == "RUNNING"

    @property
    def deadline(self) -> float:
        """When the task stops if it has not finished: :data:`MAX_DURATION` after its start."""
        return self.started_at + MAX_DURATION

    def expire(self, now: float) -> bool:
        """End a running task that has reached :data:`MAX_DURATION` as ``FAILED``.

        Returns:
            True if the task ended now.
        """
        if self.running and now >= self.deadline:
            self.finish("FAILED", EXPIRED_REASON)
            return True
        return False

    def finish(self, status: MoveTaskStatusName, failure_reason: str | None = None) -> None:
        """End the task (a task ends once)."""
        if self.running:
            self.status = status
            self.failure_reason = failure_reason


def make_task_handle(task_id: str, source_arn: str) -> str:
    """An opaque handle naming a task (base64 JSON, as AWS's are)."""
    raw = json.dumps({"taskId": task_id, "sourceArn": source_arn}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def parse_task_handle(handle: object) -> str:
    """The source ARN inside a task handle.

    Raises:
        InvalidParameterValue: the handle is not one this library makes.
    """
    invalid = InvalidParameterValue("Value for parameter TaskHandle is invalid.")
    if not isinstance(handle, str):
        raise invalid
    try:
        decoded = json.loads(base64.b64decode(handle.encode("ascii"), validate=True))
        source, task_id = decoded["sourceArn"], decoded["taskId"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, RecursionError):
        raise invalid from None
    if not isinstance(source, str) or not isinstance(task_id, str):
        raise invalid
    return source


def check_rate(rate: object) -> int | None:
    """Validate ``MaxNumberOfMessagesPerSecond`` (1-500, or None for no limit)."""
    if rate is None:
        return None
    if not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= MAX_RATE:
        raise InvalidParameterValue(
            f"Value {echo(rate)} for parameter MaxNumberOfMessagesPerSecond is invalid. "
            f"Reason: Must be between 1 and {MAX_RATE}."
        )
    return rate


def task_not_found() -> ResourceNotFoundException:
    """The error for a well-formed handle that names no task."""
    return ResourceNotFoundException("Task does not exist.")
