"""Shared fixtures: anyio backends, a virtual clock, a bus, hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, settings

from eventbus import Bus, CountingIds, VirtualClock

settings.register_profile(
    "ci",
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=1000,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)
THOROUGH_TIMEOUT = 1_800
"""Seconds a test may take under the slow ``thorough`` profile (120 otherwise)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``thorough``, property tests run ten times the examples: give them time."""
    if PROFILE == "thorough":
        for item in items:
            item.add_marker(pytest.mark.timeout(THOROUGH_TIMEOUT))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on both anyio backends."""
    return str(request.param)


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at its default start."""
    return VirtualClock()


@pytest.fixture
async def bus(clock: VirtualClock) -> AsyncIterator[Bus]:
    """A bus on the virtual clock with replayable ids."""
    async with Bus(clock=clock, ids=CountingIds()) as bus:
        yield bus
