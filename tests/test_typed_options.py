"""The options of create_queue, set_attributes, create_topic, subscribe and consume are
typed keyword parameters: ``mypy --strict`` reports a misspelt or mistyped one in user
code, and passes correct code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

WRONG = """\
from typing import Any

from eventbus import Bus


async def handler(event: dict[str, Any], context: Any) -> None:
    return None


async def main(bus: Bus) -> None:
    queue = await bus.create_queue("q", visiblity_timeout=30)  # line 11
    await bus.create_queue("q", visibility_timeout="30")  # line 12
    await queue.set_attributes(delay_seconds="5")  # line 13
    await queue.set_attributes(deduplication_scope="group")  # line 14
    topic = await bus.create_topic("t", fifo=True)  # line 15
    await topic.subscribe(queue, raw_message_delivery="true")  # line 16
    await topic.subscribe(queue, filter_policy_scope="Body")  # line 17
    bus.consume(queue, handler, batchsize=10)  # line 18
    bus.consume(queue, handler, batch_size="10")  # line 19
    bus.consume(42, handler)  # line 20
"""

RIGHT = """\
from typing import Any

from eventbus import Bus, RedrivePolicy


async def handler(event: dict[str, Any], context: Any) -> None:
    return None


async def main(bus: Bus) -> None:
    await bus.create_queue("dlq")
    queue = await bus.create_queue(
        "q",
        visibility_timeout=30,
        redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3),
    )
    fifo = await bus.create_queue(
        "f.fifo",
        fifo_queue=True,
        deduplication_scope="messageGroup",
        fifo_throughput_limit="perMessageGroupId",
        kms_master_key_id="alias/aws/sqs",
    )
    await queue.set_attributes(delay_seconds=5, redrive_policy=None)
    await fifo.set_attributes(content_based_deduplication=True)
    topic = await bus.create_topic("t.fifo", fifo_topic=True, fifo_throughput_scope="Topic")
    await topic.subscribe(fifo, raw_message_delivery=True, filter_policy_scope="MessageBody")
    await topic.subscribe("q")
    async with bus.consume("q", handler, batch_size=10, function_timeout=3):
        pass
    async with bus.consume(queue, handler, report_batch_item_failures=True):
        pass
"""


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[int]]:
    """mypy --strict over the two snippets: the lines it reports, per file."""
    folder: Path = tmp_path_factory.mktemp("typed")
    (folder / "wrong.py").write_text(WRONG)
    (folder / "right.py").write_text(RIGHT)
    stdout, stderr, _ = api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file=",
            "--no-error-summary",
            "--hide-error-context",
            str(folder / "wrong.py"),
            str(folder / "right.py"),
        ]
    )
    assert not stderr
    lines: dict[str, set[int]] = {"wrong.py": set(), "right.py": set()}
    for match in re.finditer(r"(\w+\.py):(\d+): error:", stdout):
        lines[match[1]].add(int(match[2]))
    return lines


def test_mypy_reports_every_misspelt_or_mistyped_option(mypy_report: dict[str, set[int]]) -> None:
    """visiblity_timeout, a str timeout, a bad literal, batchsize, a non-queue: each
    line is reported."""
    assert mypy_report["wrong.py"] == set(range(11, 21))


def test_mypy_passes_correct_options(mypy_report: dict[str, set[int]]) -> None:
    assert mypy_report["right.py"] == set()
