"""Every example runs in the test suite, so the docs cannot rot."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_example_has_a_test() -> None:
    """Each file in examples/ is run by a test below."""
    tested = {"quickstart", "order_pipeline", "filter_routing", "redrive", "aws_backend"}

    assert tested == {path.stem for path in EXAMPLES.glob("*.py")}


async def test_quickstart_dead_letters_the_poison_message() -> None:
    """The quickstart processes two orders and dead-letters the third after 3 receives."""
    result = await load("quickstart").main()

    assert result == {"orders": 0, "dead_letters": 4, "audit": 3}


async def test_order_pipeline_on_the_virtual_clock() -> None:
    """The demo fulfils every order but the poison one, retries the transient failures,
    dead-letters the poison order after 3 receives and counts every event."""
    summary = await load("order_pipeline").main(virtual=True)

    fulfilment = summary["fulfilment"]
    assert (200, 199, 1, 0) == (
        fulfilment["delivered"],
        fulfilment["succeeded"],
        fulfilment["dead_lettered"],
        fulfilment["left"],
    )
    # 20 orders fail once (every tenth), the poison order is received 3 times.
    assert 20 + 2 == fulfilment["retried"]
    assert {"delivered": 200, "succeeded": 200, "retried": 0, "left": 0} == {
        key: summary["analytics"][key] for key in ("delivered", "succeeded", "retried", "left")
    }
    assert 1 == summary["fulfilment-dlq"]["left"]


async def test_filter_routing_sends_each_order_where_its_policy_says() -> None:
    """One topic routes to three queues by filter policy."""
    routed = await load("filter_routing").main()

    assert {
        "eu-orders": ["o-1", "o-3"],
        "big-orders": ["o-3", "o-4"],
        "audit": ["o-1", "o-2", "o-3", "o-4"],
    } == routed


async def test_redrive_example_drains_the_dlq_after_the_fix() -> None:
    """The buggy handler dead-letters all five orders; the redrive brings them back and
    the fixed handler processes them, leaving both queues empty."""
    result = await load("redrive").main()

    assert {
        "dead_lettered": 5,
        "moved": 5,
        "processed": 5,
        "left_in_dlq": 0,
        "left_in_orders": 0,
    } == result


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiobotocore: asyncio only
async def test_aws_backend_runs_the_pipeline_on_a_moto_server() -> None:
    """The AWS example fulfils four orders; SQS dead-letters the poison one after
    two receives; the audit queue sees every envelope; it cleans up after itself."""
    from eventbus.testing import moto_server

    with moto_server() as url:
        summary = await load("aws_backend").main(url)
    attempts = summary["attempts"]
    assert sorted(attempts) == [1, 2, 3, 4, 5]
    assert attempts[3] == 2  # max_receive_count, then SQS moves it
    assert all(attempts[order] >= 1 for order in (1, 2, 4, 5))  # at least once
    assert summary["audited"] >= 5
    assert summary["dead_lettered"] == [3]
