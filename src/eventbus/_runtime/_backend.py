"""The backend seam: what a Bus needs from whatever keeps its queues and topics.

The local backend (``_local.LocalBackend``) runs the core in this process; the AWS
backend (``eventbus.aws.AwsBackend``) calls SNS and SQS. The Bus adds what both
share on top: the clock, consumers and idleness.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Mapping
from typing import Any

from .._core._errors import EventBusError, UnsupportedOperation
from .._core._paging import Page
from ._clock import Clock
from ._handles import Queue, Subscription, Topic


class BusClosed(EventBusError):
    """A :class:`~eventbus.Bus`, or a handle from it, used while the bus is not open.

    A bus is open inside its ``async with Bus(...) as bus:`` block, and only there:
    every call on it, or on a queue, topic, subscription or consumer it handed out,
    before the block or after it raises this. A bus is entered once; to go on where
    a closed bus stopped, make a new ``Bus`` (on the same SQLite file, for a durable
    one).
    """

    code = "BusClosed"


NOT_OPEN = (
    "The bus is not open yet: use it inside `async with Bus(...) as bus:`, and its "
    "queues and topics there too."
)
CLOSED = (
    "The bus is closed: its `async with` block has ended, and neither it nor its "
    "queues, topics, subscriptions and consumers can be used any more. Make a new Bus "
    "(on the same SQLite file, to go on with a durable bus's state)."
)


POLL_INTERVAL = 1.0
"""How often (seconds) a backend without change notifications is looked at again."""


class Backend(abc.ABC):
    """Where a bus's queues and topics live.

    Attributes:
        region: the region in ARNs and URLs and in Lambda events.
    """

    region: str
    idle_quiet_period: float = 0.0
    """How long (seconds) the queues must look idle before ``run_until_idle`` trusts
    it: 0 where counts are exact; longer where they lag behind (SQS)."""

    @abc.abstractmethod
    def bind(self, clock: Clock) -> None:
        """Take the bus's clock (called once, when the Bus is made).

        Raises:
            EventBusError: the backend cannot run on this clock.
        """

    @abc.abstractmethod
    async def open(self) -> None:
        """Get ready for calls (the Bus is entered)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release what ``open`` took (the Bus is left)."""

    @abc.abstractmethod
    async def create_queue(
        self, /, name: str, *, tags: Mapping[str, str] | None = None, **attributes: Any
    ) -> Queue:
        """Create a queue, or return the existing one if its attributes match."""

    @abc.abstractmethod
    async def get_queue(self, name: str) -> Queue:
        """The queue with this name, URL or ARN."""

    @abc.abstractmethod
    async def delete_queue(self, queue: Queue | str) -> None:
        """Delete a queue (a handle, name, URL or ARN)."""

    @abc.abstractmethod
    async def list_queues(self, prefix: str = "") -> list[Queue]:
        """Every queue whose name starts with ``prefix``, sorted by name."""

    @abc.abstractmethod
    async def create_topic(
        self, /, name: str, *, tags: Mapping[str, str] | None = None, **attributes: Any
    ) -> Topic:
        """Create a topic, or return the existing one if its attributes match."""

    @abc.abstractmethod
    async def get_topic(self, name: str) -> Topic:
        """The topic with this name or ARN."""

    @abc.abstractmethod
    async def delete_topic(self, topic: Topic | str) -> None:
        """Delete a topic and its subscriptions."""

    @abc.abstractmethod
    async def list_topics(self) -> list[Topic]:
        """Every topic, sorted by name."""

    # ------------------------------------------------------------------ paging

    async def list_queues_page(
        self,
        prefix: str = "",
        *,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[Queue]:
        """One page of ListQueues (see ``Bus.list_queues_page``)."""
        raise UnsupportedOperation("paged listing is not offered by this backend.")

    async def list_topics_page(self, *, next_token: str | None = None) -> Page[Topic]:
        """One page of ListTopics (see ``Bus.list_topics_page``)."""
        raise UnsupportedOperation("paged listing is not offered by this backend.")

    async def list_subscriptions_page(self, *, next_token: str | None = None) -> Page[Subscription]:
        """One page of ListSubscriptions (see ``Bus.list_subscriptions_page``)."""
        raise UnsupportedOperation("paged listing is not offered by this backend.")

    async def cancel_message_move_task(self, task_handle: str) -> int:
        """Cancel a running message move task; returns how many messages it moved."""
        raise UnsupportedOperation("message move tasks are not offered by this backend.")

    def request_id(self) -> str:
        """A new id for a Lambda invocation."""
        return str(uuid.uuid4())

    def next_deadline(self) -> float | None:
        """The next time something falls due without a call (None: unknown)."""
        return None

    async def wait_for_change(self, clock: Clock, until: float) -> None:
        """Wait until something may have changed, or ``until``, whichever is first.

        Without change notifications this looks again after ``POLL_INTERVAL``.
        """
        await clock.sleep_until(min(until, clock.now() + POLL_INTERVAL))
