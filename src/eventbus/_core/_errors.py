"""The error tree: one root, leaves named after the AWS error codes.

Every error the library raises on purpose is an :class:`EventBusError`. It
carries ``code``, the error code AWS returns for the same mistake, so code that
handles errors from the local bus handles the same errors from real AWS.
A call that raises changes no state.
"""

from __future__ import annotations

import reprlib
from typing import ClassVar

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 100
_REPR.maxother = 100


def bounded_repr(value: object) -> str:
    """``repr(value)`` for an error message, whatever the value.

    At most three levels of containers and about 100 characters per part, so a
    100,000-deep list, a 10,000-digit int or a 256 KiB string cannot make the
    message itself fail (``RecursionError``, ``ValueError``) or balloon; a value
    whose own ``repr`` raises is named by its type.
    """
    try:
        return _REPR.repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


def echo(value: object) -> str:
    """A value as AWS echoes it inside an error text: a str as it is, else bounded."""
    return value if isinstance(value, str) else bounded_repr(value)


class EventBusError(Exception):
    """Raised for every mistake the library detects on purpose.

    Attributes:
        code: the AWS error code (``QueueDoesNotExist``, ``InvalidParameterValue``...).
        message: what was wrong and what is allowed.
        sender_fault: True when the caller's input was at fault (as in AWS batch results).
    """

    code: ClassVar[str] = "InternalError"
    sender_fault: ClassVar[bool] = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class QueueDoesNotExist(EventBusError):
    """Raised when a queue name, URL or ARN names no queue."""

    code = "QueueDoesNotExist"


class QueueAlreadyExists(EventBusError):
    """Raised when a queue is created again with different attributes."""

    code = "QueueAlreadyExists"


class QueueDeletedRecently(EventBusError):
    """Raised when a queue is re-created within 60 seconds of its deletion."""

    code = "QueueDeletedRecently"


class InvalidAttributeName(EventBusError):
    """Raised when an attribute does not exist for this kind of queue."""

    code = "InvalidAttributeName"


class InvalidAttributeValue(EventBusError):
    """Raised when a queue attribute has a value outside its allowed range."""

    code = "InvalidAttributeValue"


class InvalidParameterValue(EventBusError):
    """Raised when a parameter of an SQS call is out of range or malformed."""

    code = "InvalidParameterValue"


class MissingParameter(EventBusError):
    """Raised when a required parameter (a message body, a group id) is missing."""

    code = "MissingParameter"


class InvalidMessageContents(EventBusError):
    """Raised when a message holds characters SQS does not allow."""

    code = "InvalidMessageContents"


class ReceiptHandleIsInvalid(EventBusError):
    """Raised when a receipt handle was not issued by this queue."""

    code = "ReceiptHandleIsInvalid"


class EmptyBatchRequest(EventBusError):
    """Raised when a batch call has no entries."""

    code = "EmptyBatchRequest"


class TooManyEntriesInBatchRequest(EventBusError):
    """Raised when a batch call has more than 10 entries."""

    code = "TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(EventBusError):
    """Raised when two entries of a batch share an id."""

    code = "BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(EventBusError):
    """Raised when a batch entry id is not 1-80 of ``[A-Za-z0-9_-]``."""

    code = "InvalidBatchEntryId"


class BatchRequestTooLong(EventBusError):
    """Raised when the entries of a batch add up to more than the size limit."""

    code = "BatchRequestTooLong"


class PurgeQueueInProgress(EventBusError):
    """Raised when a queue is purged again within 60 seconds."""

    code = "PurgeQueueInProgress"


class InvalidParameter(EventBusError):
    """Raised when a parameter of an SNS call (topic, publish, subscription) is invalid."""

    code = "InvalidParameter"


class ParameterValueInvalid(EventBusError):
    """Raised when an SNS message attribute has a bad name, type or value."""

    code = "ParameterValueInvalid"


class NotFound(EventBusError):
    """Raised when a topic or subscription does not exist."""

    code = "NotFound"


class ResourceNotFoundException(EventBusError):
    """Raised when a task or resource named by a handle does not exist."""

    code = "ResourceNotFoundException"


class InvalidParameterValueException(EventBusError):
    """Raised when a consumer (Lambda event source mapping) option is invalid."""

    code = "InvalidParameterValueException"


class UnsupportedOperation(EventBusError):
    """Raised for an operation the queue's backend does not offer."""

    code = "UnsupportedOperation"


class ServiceUnavailable(EventBusError):
    """Raised when a remote service could not be reached or answered with a transient
    failure (a timeout, a dropped connection); the call may be tried again."""

    code = "ServiceUnavailable"
    sender_fault = False


# ------------------------------------------------- tags, policies and listing


class TagLimitExceeded(EventBusError):
    """Raised when a topic would have more than 50 tags."""

    code = "TagLimitExceeded"


class ResourceNotFound(EventBusError):
    """Raised when SNS tags are asked of a topic that does not exist."""

    code = "ResourceNotFound"


class OverLimit(EventBusError):
    """Raised when a call would break an SQS limit (seven actions per permission)."""

    code = "OverLimit"


class AccessDenied(EventBusError):
    """Raised (and recorded for a delivery) when a queue's access policy does not let
    a topic send to it."""

    code = "AccessDenied"
