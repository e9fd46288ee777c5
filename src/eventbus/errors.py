"""Every error class, one per AWS error code; all derive from ``EventBusError``.

Catch ``EventBusError`` and look at ``.code``, or catch a class from here::

    from eventbus.errors import QueueDoesNotExist

Every class here names this module as its home, so a traceback shows
``eventbus.errors.QueueDoesNotExist``, where it can be imported from.

``eventbus.StoreUnavailable`` (a commit the SQLite store could not make) is a
:class:`ServiceUnavailable`, as AWS's answer to a transient failure is, and a
:class:`StoreError`.
"""

from ._core._errors import AccessDenied as AccessDenied
from ._core._errors import BatchEntryIdsNotDistinct as BatchEntryIdsNotDistinct
from ._core._errors import BatchRequestTooLong as BatchRequestTooLong
from ._core._errors import EmptyBatchRequest as EmptyBatchRequest
from ._core._errors import EventBusError as EventBusError
from ._core._errors import InvalidAttributeName as InvalidAttributeName
from ._core._errors import InvalidAttributeValue as InvalidAttributeValue
from ._core._errors import InvalidBatchEntryId as InvalidBatchEntryId
from ._core._errors import InvalidMessageContents as InvalidMessageContents
from ._core._errors import InvalidParameter as InvalidParameter
from ._core._errors import InvalidParameterValue as InvalidParameterValue
from ._core._errors import InvalidParameterValueException as InvalidParameterValueException
from ._core._errors import MissingParameter as MissingParameter
from ._core._errors import NotFound as NotFound
from ._core._errors import OverLimit as OverLimit
from ._core._errors import ParameterValueInvalid as ParameterValueInvalid
from ._core._errors import PurgeQueueInProgress as PurgeQueueInProgress
from ._core._errors import QueueAlreadyExists as QueueAlreadyExists
from ._core._errors import QueueDeletedRecently as QueueDeletedRecently
from ._core._errors import QueueDoesNotExist as QueueDoesNotExist
from ._core._errors import ReceiptHandleIsInvalid as ReceiptHandleIsInvalid
from ._core._errors import ResourceNotFound as ResourceNotFound
from ._core._errors import ResourceNotFoundException as ResourceNotFoundException
from ._core._errors import ServiceUnavailable as ServiceUnavailable
from ._core._errors import TagLimitExceeded as TagLimitExceeded
from ._core._errors import TooManyEntriesInBatchRequest as TooManyEntriesInBatchRequest
from ._core._errors import UnsupportedOperation as UnsupportedOperation
from ._runtime._backend import BusClosed as BusClosed
from ._runtime._bus import NotIdle as NotIdle
from ._store._sqlite import StoreError as StoreError

__all__ = [
    "AccessDenied",
    "BatchEntryIdsNotDistinct",
    "BatchRequestTooLong",
    "BusClosed",
    "EmptyBatchRequest",
    "EventBusError",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidBatchEntryId",
    "InvalidMessageContents",
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "MissingParameter",
    "NotFound",
    "NotIdle",
    "OverLimit",
    "ParameterValueInvalid",
    "PurgeQueueInProgress",
    "QueueAlreadyExists",
    "QueueDeletedRecently",
    "QueueDoesNotExist",
    "ReceiptHandleIsInvalid",
    "ResourceNotFound",
    "ResourceNotFoundException",
    "ServiceUnavailable",
    "StoreError",
    "TagLimitExceeded",
    "TooManyEntriesInBatchRequest",
    "UnsupportedOperation",
]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
