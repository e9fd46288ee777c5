"""eventbus: the AWS SNS -> SQS -> Lambda -> DLQ pipeline in one process, on anyio.

Queues and topics behave as AWS's do (limits, defaults, error codes, the lazy
dead-letter move, visibility timeouts), time can be virtual, and the consumer runs
unchanged AWS Lambda handlers.
"""

from . import errors as errors
from ._core._attributes import MessageAttributeValue as MessageAttributeValue
from ._core._batch import BatchFailure as BatchFailure
from ._core._batch import BatchResult as BatchResult
from ._core._batch import ChangeVisibilityBatchEntry as ChangeVisibilityBatchEntry
from ._core._batch import DeleteBatchEntry as DeleteBatchEntry
from ._core._batch import PublishBatchEntry as PublishBatchEntry
from ._core._batch import PublishBatchResultEntry as PublishBatchResultEntry
from ._core._batch import SendBatchEntry as SendBatchEntry
from ._core._batch import SendBatchResultEntry as SendBatchResultEntry
from ._core._errors import EventBusError as EventBusError
from ._core._ids import CountingIds as CountingIds
from ._core._ids import IdSource as IdSource
from ._core._message import PeekedMessage as PeekedMessage
from ._core._message import QueueStatistics as QueueStatistics
from ._core._message import ReceivedMessage as ReceivedMessage
from ._core._message import SendResult as SendResult
from ._core._paging import Page as Page
from ._models import QueueConfig as QueueConfig
from ._models import RedriveAllowPolicy as RedriveAllowPolicy
from ._models import RedrivePolicy as RedrivePolicy
from ._models import TopicConfig as TopicConfig
from ._runtime._backend import Backend as Backend
from ._runtime._backend import BusClosed as BusClosed
from ._runtime._bus import Bus as Bus
from ._runtime._bus import NotIdle as NotIdle
from ._runtime._clock import Clock as Clock
from ._runtime._clock import SystemClock as SystemClock
from ._runtime._clock import VirtualClock as VirtualClock
from ._runtime._consumer import Consumer as Consumer
from ._runtime._consumer import ConsumerStatistics as ConsumerStatistics
from ._runtime._handles import PublishResult as PublishResult
from ._runtime._handles import Queue as Queue
from ._runtime._handles import Subscription as Subscription
from ._runtime._handles import Topic as Topic
from ._runtime._lambda import LambdaContext as LambdaContext
from ._runtime._move import MoveTask as MoveTask
from ._runtime._move import MoveTaskStatus as MoveTaskStatus
from ._store._memory import MemoryStore as MemoryStore
from ._store._memory import Store as Store
from ._store._sqlite import SqliteStore as SqliteStore
from ._store._sqlite import StoreError as StoreError
from ._store._sqlite import StoreUnavailable as StoreUnavailable
from ._version import __version__ as __version__

__all__ = [
    "Bus",
    "Backend",
    "Clock",
    "SystemClock",
    "VirtualClock",
    "Queue",
    "Topic",
    "Subscription",
    "Consumer",
    "ConsumerStatistics",
    "LambdaContext",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "QueueConfig",
    "TopicConfig",
    "MessageAttributeValue",
    "ReceivedMessage",
    "PeekedMessage",
    "MoveTask",
    "MoveTaskStatus",
    "SendResult",
    "PublishResult",
    "QueueStatistics",
    "SendBatchEntry",
    "SendBatchResultEntry",
    "DeleteBatchEntry",
    "ChangeVisibilityBatchEntry",
    "BatchResult",
    "BatchFailure",
    "PublishBatchEntry",
    "PublishBatchResultEntry",
    "Page",
    "Store",
    "MemoryStore",
    "SqliteStore",
    "StoreError",
    "StoreUnavailable",
    "IdSource",
    "CountingIds",
    "EventBusError",
    "NotIdle",
    "BusClosed",
    "errors",
    "__version__",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("eventbus._"):
        _obj.__module__ = "eventbus"
del _name, _obj
