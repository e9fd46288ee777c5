"""Batch calls: the whole-request rules, and results that hold successes beside failures."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ._errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    EventBusError,
    InvalidBatchEntryId,
    InvalidParameterValue,
    TooManyEntriesInBatchRequest,
    bounded_repr,
    echo,
)

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576

_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """One entry of a batch that failed, as SQS reports it."""

    id: str
    code: str
    message: str
    sender_fault: bool = True

    @classmethod
    def from_error(cls, entry_id: str, error: EventBusError) -> BatchFailure:
        """The failure entry for ``error``."""
        return cls(entry_id, error.code, error.message, error.sender_fault)


@dataclass(frozen=True, slots=True)
class BatchResult(Generic[T]):
    """What a batch call returns: the successful and the failed entries."""

    successful: list[T] = field(default_factory=list)
    failed: list[BatchFailure] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SendBatchEntry:
    """One message of a send batch."""

    id: str
    body: str
    message_attributes: dict[str, object] | None = None
    delay_seconds: int | None = None
    message_group_id: str | None = None
    message_deduplication_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendBatchResultEntry:
    """One successful entry of a send batch."""

    id: str
    message_id: str
    md5_of_message_body: str
    md5_of_message_attributes: str | None = None
    sequence_number: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeVisibilityBatchEntry:
    """One entry of a change-visibility batch."""

    id: str
    receipt_handle: str
    visibility_timeout: int


@dataclass(frozen=True, slots=True)
class DeleteBatchEntry:
    """One entry of a delete batch."""

    id: str
    receipt_handle: str


def check_entry_ids(ids: Sequence[str], entry_kind: str) -> None:
    """Apply the whole-request rules every SQS batch call shares.

    Raises:
        EmptyBatchRequest: no entries.
        TooManyEntriesInBatchRequest: more than 10 entries.
        InvalidBatchEntryId: an id is not 1-80 characters of ``[A-Za-z0-9_-]``.
        BatchEntryIdsNotDistinct: two entries share an id.
    """
    if not ids:
        raise EmptyBatchRequest(f"There should be at least one {entry_kind} in the request.")
    if len(ids) > MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_ENTRIES}. You have sent {len(ids)}."
        )
    seen: set[str] = set()
    for entry_id in ids:
        if not isinstance(entry_id, str) or not _ENTRY_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                f"A batch entry id can only contain alphanumeric characters, hyphens and "
                f"underscores. It can be at most 80 letters long (got {bounded_repr(entry_id)})."
            )
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)


# ------------------------------------------------------------ SNS PublishBatch


@dataclass(frozen=True, slots=True)
class PublishBatchEntry:
    """One message of an SNS publish batch (the arguments of ``Topic.publish``)."""

    id: str
    message: str
    subject: str | None = None
    message_attributes: dict[str, object] | None = None
    message_group_id: str | None = None
    message_deduplication_id: str | None = None
    message_structure: str | None = None


@dataclass(frozen=True, slots=True)
class PublishBatchResultEntry:
    """One published entry of an SNS publish batch."""

    id: str
    message_id: str
    sequence_number: str | None = None


def check_publish_batch_ids(ids: Sequence[str]) -> None:
    """Apply SNS PublishBatch's whole-request rules on the entries' ids.

    The texts are AWS's (LocalStack's AWS-validated snapshots of
    ``test_publish_batch_exceptions`` and ``test_publish_batch_invalid_entry_id``);
    the empty-batch text is the description of ``EmptyBatchRequest`` in the SNS API
    reference.

    Raises:
        EmptyBatchRequest: no entries.
        TooManyEntriesInBatchRequest: more than 10 entries.
        BatchEntryIdsNotDistinct: two entries share an id.
        InvalidBatchEntryId: an id is longer than 80 characters or holds a character
            other than ``[A-Za-z0-9_-]``.
    """
    if not ids:
        raise EmptyBatchRequest("The batch request doesn't contain any entries.")
    if len(ids) > MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            "The batch request contains more entries than permissible."
        )
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id.")
    for entry_id in ids:
        if isinstance(entry_id, str) and len(entry_id) > 80:
            raise InvalidBatchEntryId(
                f"The Id of a batch entry in the batch request is too long: {entry_id}"
            )
        if not isinstance(entry_id, str) or not _ENTRY_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                "The Id of a batch entry in the batch request contains an impermissible "
                f"character: {echo(entry_id)}"
            )


def message_too_long(limit: int, size: int, *, batch: bool) -> InvalidParameterValue:
    """The error for a message over the queue's maximum message size.

    SQS words it differently for SendMessage ("One or more parameters are invalid.")
    and for an entry of SendMessageBatch ("One or more parameters cannot be
    validated."), as recorded from AWS in LocalStack's snapshots of
    ``test_send_message_with_updated_maximum_message_size`` and
    ``test_send_batch_message_size`` (2024-04-30). Our count of the bytes follows.
    """
    verdict = "cannot be validated" if batch else "are invalid"
    return InvalidParameterValue(
        f"One or more parameters {verdict}. Reason: Message must be shorter than {limit} "
        f"bytes. (Body and attributes come to {size} bytes.)"
    )
