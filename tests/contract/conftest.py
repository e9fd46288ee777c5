"""The contract suite: the same scenarios on the local backend and on the AWS backend.

The AWS backend talks to a moto server started on 127.0.0.1 for the session
(reset before each test). Both run on asyncio only: aiobotocore is built on
aiohttp. The local backend runs on a VirtualClock; the AWS backend on real time,
since SNS and SQS keep their own (the few waits below are about a second, and are
the reason this suite keeps visibility timeouts at 1 second).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import anyio
import pytest
from aiobotocore.config import AioConfig

from eventbus import Bus, CountingIds, VirtualClock
from eventbus.aws import AwsBackend


@pytest.fixture
def anyio_backend() -> str:
    """aiobotocore runs on asyncio only."""
    return "asyncio"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server for the whole session."""
    from eventbus.testing import moto_server

    with moto_server() as url:
        yield url


@dataclass
class Harness:
    """A bus on one backend, and how to let time pass on it."""

    kind: str
    bus: Bus
    endpoint: str | None = None

    async def elapse(self, seconds: float) -> None:
        """Let ``seconds`` pass: virtual ones locally, real ones on AWS."""
        clock = self.bus.clock
        if isinstance(clock, VirtualClock):
            await clock.advance(seconds)
        else:
            await anyio.sleep(seconds)

    def moto_departs(self, why: str) -> None:
        """Skip this case on the AWS backend, because moto does not do what AWS does.

        ``EVENTBUS_CHECK_MOTO_DEPARTURES=1`` runs them anyway, to see whether a new
        moto still departs.
        """
        if self.kind == "aws" and not os.environ.get("EVENTBUS_CHECK_MOTO_DEPARTURES"):
            pytest.skip(f"moto departs from AWS here: {why}")

    def another_bus(self) -> Bus:
        """A second bus on the same queues and topics (another process, on AWS)."""
        if self.kind == "local":
            return self.bus
        return Bus(backend=aws_backend(self.endpoint))


def reset_moto(endpoint: str) -> None:
    """Forget every queue and topic the moto server holds."""
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10):
        pass


def aws_backend(endpoint: str | None) -> AwsBackend:
    """An AwsBackend on the moto server, without retries (failures show at once)."""
    return AwsBackend(
        "us-east-1",
        endpoint,
        config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
        poll_interval=0.05,
        idle_quiet_period=0.2,  # moto's counts are exact and its deliveries immediate
        long_poll_seconds=1,  # consumers stop after their last receive: keep it short
    )


@pytest.fixture(params=["local", "aws"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The bus under test, on each backend in turn."""
    if request.param == "local":
        async with Bus(clock=VirtualClock(), ids=CountingIds()) as bus:
            yield Harness("local", bus)
        return
    endpoint: str = request.getfixturevalue("moto_endpoint")
    reset_moto(endpoint)
    async with Bus(backend=aws_backend(endpoint)) as bus:
        yield Harness("aws", bus, endpoint)
