"""The AWS backend: a Bus's queues and topics on real SNS and SQS, over aiobotocore."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AsyncExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

from .._core._errors import (
    InvalidParameter,
    InvalidParameterValue,
    NotFound,
    QueueDoesNotExist,
    bounded_repr,
)
from .._core._names import check_queue_name, check_topic_name, queue_name_from
from .._core._paging import Page, check_max_results
from .._core._policy import check_policy
from .._core._settings import QUEUE_AWS_NAMES, TOPIC_AWS_NAMES, RedriveAllowRule, RedriveRule
from .._core._tags import check_create_tags
from .._models import QueueConfig, TopicConfig
from .._runtime._backend import CLOSED, NOT_OPEN, Backend, BusClosed
from .._runtime._clock import Clock, SystemClock
from .._runtime._handles import Queue, Subscription, Topic
from ._convert import bool_text
from ._errors import translated
from ._handles import AwsQueue, AwsTopic, sqs_subscriptions

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient


CONNECTIONS = 50
"""Connections the client for everything but receives may open (deletes, visibility
changes, sends), unless the given ``config`` says otherwise."""
RECEIVE_CONNECTIONS = 1_000
"""Connections the receiving client may open: one per long poll, as many as a
consumer's pollers can reach (opened only when needed)."""
RECEIVE_READ_TIMEOUT = 30
"""The least read timeout (seconds) of the receiving client: a 20-second long poll
must not time out on the client while SQS still holds messages for it."""


class AwsBackend(Backend):
    """Queues and topics on real SNS and SQS (or anything that speaks their APIs).

    ``Bus(backend=AwsBackend(...))`` offers the same handles and calls as the local
    bus; the consumer runs unchanged on it, and any number of processes may consume
    one queue (SQS shares the work among them).

    Credentials come from the usual AWS configuration chain (environment, shared
    files, instance or container roles); nothing is stored here.

    Args:
        region_name: the region; the configured default region when omitted.
        endpoint_url: another endpoint for both services (a moto server,
            LocalStack); AWS's own when omitted.
        session: an ``aiobotocore`` session to make the clients with (a profile,
            say); a new default session when omitted.
        config: an ``AioConfig`` for the clients (retries, timeouts, pool size). Receives
            get a client of their own, with room for 1000 long polls at once.
        poll_interval: how often (seconds) ``Bus.run_until_idle`` reads the
            queues' counts again while waiting.
        idle_quiet_period: how long (seconds) those counts must read idle before
            ``run_until_idle`` returns (SQS's approximate counts can lag behind).
        long_poll_seconds: how long (1-20 s) a consumer's receives wait. A consumer
            that stops lets the receives it has sent finish (a receive cancelled
            midway would leave what SQS took hidden until its visibility timeout),
            so stopping takes up to this long; shorter costs more requests.

    Raises:
        EventBusError: ``InvalidParameterValue`` if no region is given or configured,
            or for an option out of range.

    Limitations: time is the services' own, so only a ``SystemClock`` can drive it;
    counts are SQS's approximate ones; ``peek`` and message move tasks are not
    offered; it runs on asyncio only (aiobotocore is built on aiohttp).
    """

    def __init__(
        self,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        *,
        session: AioSession | None = None,
        config: AioConfig | None = None,
        poll_interval: float = 1.0,
        idle_quiet_period: float = 10.0,
        long_poll_seconds: int = 20,
    ) -> None:
        self._session = session if session is not None else get_session()
        region = region_name or self._session.get_config_variable("region")
        if not region:
            raise InvalidParameterValue(
                "AwsBackend needs a region: pass region_name= or configure one "
                "(AWS_DEFAULT_REGION, or the profile's region)."
            )
        self.region = str(region)
        self.endpoint_url = endpoint_url
        self._config = config
        if not poll_interval > 0:
            raise InvalidParameterValue(
                f"poll_interval must be > 0, not {bounded_repr(poll_interval)}."
            )
        self.poll_interval = float(poll_interval)
        if not idle_quiet_period >= 0:
            raise InvalidParameterValue(
                f"idle_quiet_period must be >= 0, not {bounded_repr(idle_quiet_period)}."
            )
        self.idle_quiet_period = float(idle_quiet_period)
        if (
            not isinstance(long_poll_seconds, int)
            or isinstance(long_poll_seconds, bool)
            or not 1 <= long_poll_seconds <= 20
        ):
            raise InvalidParameterValue(
                "long_poll_seconds must be an integer from 1 to 20, not "
                f"{bounded_repr(long_poll_seconds)}."
            )
        self.long_poll_seconds = long_poll_seconds
        self._clock: Clock = SystemClock()
        self._stack: AsyncExitStack | None = None
        self._sqs: SQSClient | None = None
        self._receiver: SQSClient | None = None
        self._sns: SNSClient | None = None
        self._unavailable = NOT_OPEN
        """Why the clients are missing when they are."""

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"<AwsBackend {self.region} {where}>"

    def bind(self, clock: Clock) -> None:
        """Refuse any clock but the system's: real services keep their own time."""
        if type(clock) is not SystemClock:
            raise InvalidParameterValue(
                f"AwsBackend runs on real time only: a {type(clock).__name__} cannot move "
                "the clocks of SNS and SQS. Use the local backend for virtual time."
            )
        self._clock = clock

    @contextmanager
    def call(self) -> Iterator[None]:
        """Around every AWS call: its errors become EventBusErrors, and the task
        counts as waiting (not running) for the bus's idleness bookkeeping."""
        with self._clock.outside(), translated():
            yield

    async def wait_for_change(self, clock: Clock, until: float) -> None:
        """Wait ``poll_interval`` (SQS announces no changes), or until ``until``."""
        await clock.sleep_until(min(until, clock.now() + self.poll_interval))

    async def open(self) -> None:
        """Make the SQS and SNS clients."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise InvalidParameterValue(
                "AwsBackend needs asyncio (aiobotocore is built on aiohttp), not trio."
            ) from None
        config = AioConfig(max_pool_connections=CONNECTIONS)
        if self._config is not None:
            config = config.merge(self._config)
        receive_timeout = max(getattr(config, "read_timeout", 0) or 0, RECEIVE_READ_TIMEOUT)
        receive_config = config.merge(
            AioConfig(max_pool_connections=RECEIVE_CONNECTIONS, read_timeout=receive_timeout)
        )
        create = self._session.create_client
        region, endpoint = self.region, self.endpoint_url
        async with AsyncExitStack() as stack:  # closes what was made if a step fails
            self._sqs = await stack.enter_async_context(
                create("sqs", region_name=region, endpoint_url=endpoint, config=config)
            )
            self._receiver = await stack.enter_async_context(
                create("sqs", region_name=region, endpoint_url=endpoint, config=receive_config)
            )
            self._sns = await stack.enter_async_context(
                create("sns", region_name=region, endpoint_url=endpoint, config=config)
            )
            self._stack = stack.pop_all()

    async def close(self) -> None:
        """Close the clients."""
        stack, self._stack = self._stack, None
        self._sqs = self._receiver = self._sns = None
        self._unavailable = CLOSED
        if stack is not None:
            await stack.aclose()

    @property
    def clock(self) -> Clock:
        """The bus's clock."""
        return self._clock

    @property
    def sqs(self) -> SQSClient:
        """The SQS client (while the bus is open)."""
        return _opened(self._sqs, self._unavailable)

    @property
    def receiver(self) -> SQSClient:
        """The SQS client for receives only: long polls hold a connection each for
        up to 20 seconds, and must not starve deletes and visibility changes."""
        return _opened(self._receiver, self._unavailable)

    @property
    def sns(self) -> SNSClient:
        """The SNS client (while the bus is open)."""
        return _opened(self._sns, self._unavailable)

    # ------------------------------------------------------------------ queues

    async def create_queue(
        self, /, name: str, *, tags: Mapping[str, str] | None = None, **attributes: Any
    ) -> AwsQueue:
        """Create a queue (CreateQueue) with the attributes and tags given, and only
        those, so that SQS returns an existing queue unless an attribute differs."""
        config = QueueConfig(**attributes)
        check_queue_name(name, fifo=config.fifo_queue)
        given_tags = check_create_tags(tags, resource=name, sns=False)
        given = {key for key, value in attributes.items() if value is not None}
        aws = await self._queue_attributes(config, given)
        request: dict[str, Any] = {"QueueName": name, "Attributes": aws}
        if given_tags:
            request["tags"] = given_tags
        with self.call():
            response = await self.sqs.create_queue(**request)
        return await self._adopt(response["QueueUrl"])

    async def get_queue(self, name: str) -> AwsQueue:
        """The queue with this name, URL or ARN (of this or another account)."""
        return await self._adopt(await self._queue_url(name))

    async def delete_queue(self, queue: Queue | str) -> None:
        """Delete a queue (DeleteQueue)."""
        url = queue.url if isinstance(queue, Queue) else await self._queue_url(queue)
        with self.call():
            await self.sqs.delete_queue(QueueUrl=url)

    async def list_queues(self, prefix: str = "") -> list[Queue]:
        """Every queue whose name starts with ``prefix``, sorted by name.

        One ListQueues page per 1000 queues, and one GetQueueAttributes per queue.
        """
        urls: list[str] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 1000}
            if token:
                request["NextToken"] = token
            with self.call():
                page = await self.sqs.list_queues(**request)
            urls.extend(page.get("QueueUrls", []))
            token = page.get("NextToken")
            if not token:
                break
        return sorted(await self._adopt_all(urls), key=lambda q: q.name)

    async def _adopt_all(self, urls: Iterable[str]) -> list[Queue]:
        """Handles on the queues of these URLs (one GetQueueAttributes each)."""
        queues: list[Queue] = []
        for url in urls:
            try:
                queues.append(await self._adopt(url))
            except QueueDoesNotExist:  # ListQueues may still name a queue just deleted
                continue
        return queues

    async def _queue_url(self, reference: str) -> str:
        if "://" in reference:
            return reference
        request: dict[str, str] = {"QueueName": queue_name_from(reference)}
        if reference.startswith("arn:"):
            request["QueueOwnerAWSAccountId"] = reference.split(":")[4]
        with self.call():
            response = await self.sqs.get_queue_url(**request)
        return response["QueueUrl"]

    async def _adopt(self, url: str) -> AwsQueue:
        with self.call():
            response = await self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout"]
            )
        attributes = response.get("Attributes", {})
        return AwsQueue(
            self,
            url=url,
            arn=attributes["QueueArn"],
            visibility_timeout=int(attributes.get("VisibilityTimeout", "30")),
        )

    async def _queue_arn(self, reference: str) -> str:
        if reference.startswith("arn:"):
            return reference
        return (await self.get_queue(reference)).arn

    async def _queue_attributes(self, config: QueueConfig, given: set[str]) -> dict[str, str]:
        """The attributes given, checked by the local rules, as AWS's strings."""
        out: dict[str, str] = {}
        for key in given:
            if key not in QUEUE_AWS_NAMES:
                continue  # QueueConfig refused unknown names already
            value = getattr(config, key)
            if key == "redrive_policy":
                out["RedrivePolicy"] = "" if value is None else await self._redrive(value)
            elif key == "redrive_allow_policy":
                out["RedriveAllowPolicy"] = (
                    ""
                    if value is None
                    else RedriveAllowRule(
                        value.redrive_permission,
                        tuple([await self._queue_arn(q) for q in value.source_queues]),
                    ).to_json()
                )
            elif key == "policy":
                out["Policy"] = check_policy(value) or ""
            elif key == "fifo_queue":
                if value:
                    out["FifoQueue"] = "true"
            elif isinstance(value, bool):
                out[QUEUE_AWS_NAMES[key]] = bool_text(value)
            else:
                out[QUEUE_AWS_NAMES[key]] = str(value)
        return out

    async def _redrive(self, policy: Any) -> str:
        try:
            arn = await self._queue_arn(policy.dead_letter_queue)
        except QueueDoesNotExist:
            raise InvalidParameterValue(
                f"Value {bounded_repr(policy.dead_letter_queue)} for parameter RedrivePolicy is "
                "invalid. Reason: Dead letter target does not exist."
            ) from None
        return RedriveRule(arn, policy.max_receive_count).to_json()

    # ------------------------------------------------------------------ topics

    async def create_topic(
        self, /, name: str, *, tags: Mapping[str, str] | None = None, **attributes: Any
    ) -> AwsTopic:
        """Create a topic (CreateTopic) with the attributes and tags given, and only
        those, so that SNS returns an existing topic unless an attribute differs."""
        config = TopicConfig(**attributes)
        check_topic_name(name, fifo=config.fifo_topic)
        given_tags = check_create_tags(tags, resource=name, sns=True)
        aws: dict[str, str] = {}
        for key in attributes:
            value = getattr(config, key)
            aws[TOPIC_AWS_NAMES[key]] = bool_text(value) if isinstance(value, bool) else value
        request: dict[str, Any] = {"Name": name, "Attributes": aws}
        if given_tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in given_tags.items()]
        with self.call():
            response = await self.sns.create_topic(**request)
        return AwsTopic(self, response["TopicArn"])

    async def get_topic(self, name: str) -> AwsTopic:
        """The topic with this name or ARN.

        Raises:
            EventBusError: ``NotFound``.
        """
        arn = name if name.startswith("arn:") else await self._topic_arn(name)
        with self.call():
            await self.sns.get_topic_attributes(TopicArn=arn)
        return AwsTopic(self, arn)

    async def delete_topic(self, topic: Topic | str) -> None:
        """Delete a topic and its subscriptions (a missing topic is no error)."""
        if isinstance(topic, Topic):
            arn = topic.arn
        elif topic.startswith("arn:"):
            arn = topic
        else:
            try:
                arn = await self._topic_arn(topic)
            except NotFound:
                return
        with self.call():
            await self.sns.delete_topic(TopicArn=arn)

    async def list_topics(self) -> list[Topic]:
        """Every topic of the account and region, sorted by name."""
        arns: list[str] = []
        token: str | None = None
        while True:
            with self.call():
                page = await (
                    self.sns.list_topics(NextToken=token) if token else self.sns.list_topics()
                )
            arns.extend(t["TopicArn"] for t in page.get("Topics", []) if "TopicArn" in t)
            token = page.get("NextToken")
            if not token:
                break
        topics: list[Topic] = [AwsTopic(self, arn) for arn in arns]
        return sorted(topics, key=lambda t: t.name)

    # ------------------------------------------------------------------ paging

    async def list_queues_page(
        self,
        prefix: str = "",
        *,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[Queue]:
        """One ListQueues call, then GetQueueAttributes of each queue (SQS's order)."""
        request: dict[str, Any] = {"QueueNamePrefix": prefix}
        if max_results is not None:
            request["MaxResults"] = check_max_results(max_results)
        if next_token is not None:
            request["NextToken"] = next_token
        with self.call():
            page = await self.sqs.list_queues(**request)
        return Page(await self._adopt_all(page.get("QueueUrls", [])), page.get("NextToken"))

    async def list_topics_page(self, *, next_token: str | None = None) -> Page[Topic]:
        """One ListTopics call (SNS's order)."""
        with self.call():
            page = await (
                self.sns.list_topics(NextToken=next_token)
                if next_token is not None
                else self.sns.list_topics()
            )
        topics: list[Topic] = [
            AwsTopic(self, t["TopicArn"]) for t in page.get("Topics", []) if "TopicArn" in t
        ]
        return Page(topics, page.get("NextToken"))

    async def list_subscriptions_page(self, *, next_token: str | None = None) -> Page[Subscription]:
        """One ListSubscriptions call (its SQS subscriptions), then each one's attributes."""
        with self.call():
            page = await (
                self.sns.list_subscriptions(NextToken=next_token)
                if next_token is not None
                else self.sns.list_subscriptions()
            )
        listed = await sqs_subscriptions(self, page.get("Subscriptions", []))
        return Page(listed, page.get("NextToken"))

    async def _topic_arn(self, name: str) -> str:
        """The ARN a topic of this account and region with this name has.

        SNS has no lookup by name: the account comes from a topic listing.
        """
        for topic in await self.list_topics():
            if topic.name == name:
                return topic.arn
        raise NotFound(f"Topic does not exist: {bounded_repr(name)}.")

    async def _queue_of(self, queue: Queue | str) -> AwsQueue:
        """The AWS queue a handle, name, URL or ARN stands for.

        Raises:
            EventBusError: ``InvalidParameter`` for another backend's handle,
                ``QueueDoesNotExist``.
        """
        if isinstance(queue, AwsQueue):
            return queue
        if isinstance(queue, Queue):
            raise InvalidParameter(
                f"{bounded_repr(queue)} belongs to another backend than this topic's."
            )
        return await self.get_queue(queue)


C = TypeVar("C")


def _opened(client: C | None, unavailable: str) -> C:
    """A client of the backend, which exists only while the bus is open.

    Raises:
        BusClosed: the bus is not open (``unavailable`` says why).
    """
    if client is None:
        raise BusClosed(unavailable)
    return client
