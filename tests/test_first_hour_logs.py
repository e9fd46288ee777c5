"""Logs go where the application says: standard ``logging`` under ``eventbus``.

Written from a user's side: only the public API and the ``logging`` module.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from eventbus import Bus, LambdaContext, RedrivePolicy, VirtualClock

START = 1_767_225_600.0  # a VirtualClock's default start


async def dead_letter_a_poison_message(
    bodies: tuple[str, ...] = ("poison",), *, trace: bool = False
) -> VirtualClock:
    """Every body fails its handler three times and is dead-lettered."""
    clock = VirtualClock()
    async with Bus(clock=clock, trace=trace) as bus:
        await bus.create_queue("orders-dlq")
        orders = await bus.create_queue(
            "orders",
            redrive_policy=RedrivePolicy(dead_letter_queue="orders-dlq", max_receive_count=3),
        )
        for body in bodies:
            await orders.send(body)

        def handler(event: dict[str, Any], context: LambdaContext) -> None:
            raise ValueError("cannot ship")

        async with bus.consume(orders, handler, batch_size=1):
            await bus.run_until_idle()
    return clock


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the ``eventbus`` tree, DEBUG and up."""
    caught: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record)

    logger = logging.getLogger("eventbus")
    keep = Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    try:
        yield caught
    finally:
        logger.removeHandler(keep)
        logger.setLevel(logging.NOTSET)


def events(records: list[logging.LogRecord], name: str) -> list[logging.LogRecord]:
    return [r for r in records if getattr(r, "event", None) == name]


def test_unconfigured_logging_prints_nothing() -> None:
    """With logging left as Python starts it, a run full of warnings (failed handlers,
    a dead-lettered message) and of trace events writes nothing to stdout or stderr."""
    script = (
        "import anyio, sys\n"
        f"sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})\n"
        "from test_first_hour_logs import dead_letter_a_poison_message as run\n"
        "anyio.run(lambda: run(trace=True))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    assert ("", "") == (done.stdout, done.stderr)


async def test_records_reach_the_eventbus_logger_tree(records: list[logging.LogRecord]) -> None:
    """Each event is a record of a child of ``eventbus``, named by what it is about,
    whose message reads ``event key=value`` and whose extra fields carry the event's
    name, the bus time and the event's fields."""
    await dead_letter_a_poison_message(trace=True)

    [dead] = events(records, "message.dead_lettered")
    assert (dead.name, dead.levelno) == ("eventbus.queue", logging.WARNING)
    assert dead.getMessage().startswith("message.dead_lettered queue='orders' message_id=")
    assert ("orders", "orders-dlq", 3) == (
        dead.__dict__["queue"],
        dead.__dict__["dead_letter_queue"],
        dead.__dict__["receive_count"],
    )
    assert {"eventbus.consumer"} == {r.name for r in events(records, "handler.failed")}
    assert {logging.DEBUG} == {r.levelno for r in events(records, "message.sent")}


async def test_bus_time_beside_wall_time(records: list[logging.LogRecord]) -> None:
    """``bus_time`` is the bus clock's time (virtual here: 30 s visibility timeouts
    apart); the record's own ``created`` stays the wall time."""
    before = time.time()
    await dead_letter_a_poison_message()

    failures = events(records, "handler.failed")
    assert [START, START + 30, START + 60] == [r.__dict__["bus_time"] for r in failures]
    assert all(before <= r.created <= time.time() for r in failures)


async def test_a_failing_handler_logs_its_traceback_once_per_message(
    records: list[logging.LogRecord],
) -> None:
    """Three failures of each of two messages: six ``handler.failed`` lines, each
    naming the error, and a traceback only with the first failure of each message."""
    await dead_letter_a_poison_message(("first", "second"))

    failures = events(records, "handler.failed")
    assert 6 == len(failures)
    assert {"ValueError: cannot ship"} == {r.__dict__["error"] for r in failures}
    with_traceback = [r for r in failures if r.exc_info is not None]
    assert 2 == len(with_traceback)
    assert all(isinstance(r.exc_info[1], ValueError) for r in with_traceback if r.exc_info)
    assert 4 == sum(1 for r in failures if r.exc_info is None)


async def test_set_level_silences_the_library(records: list[logging.LogRecord]) -> None:
    """``logging.getLogger("eventbus").setLevel(ERROR)`` leaves no warning."""
    logging.getLogger("eventbus").setLevel(logging.ERROR)

    await dead_letter_a_poison_message(trace=True)

    assert [] == records


async def test_logging_disable_silences_the_library(records: list[logging.LogRecord]) -> None:
    """``logging.disable`` reaches the library's records too."""
    logging.disable(logging.CRITICAL)
    try:
        await dead_letter_a_poison_message(trace=True)
    finally:
        logging.disable(logging.NOTSET)

    assert [] == records


async def test_one_branch_of_the_tree_can_be_routed_alone() -> None:
    """A handler on ``eventbus.consumer`` gets the handlers' failures, and not the
    queues' events."""
    stream = io.StringIO()
    route = logging.StreamHandler(stream)
    consumer = logging.getLogger("eventbus.consumer")
    consumer.addHandler(route)
    try:
        await dead_letter_a_poison_message()
    finally:
        consumer.removeHandler(route)

    lines = stream.getvalue().splitlines()
    assert 3 == sum(line.startswith("handler.failed queue='orders'") for line in lines)
    assert not any("message.dead_lettered" in line for line in lines)


async def test_structlog_users_get_the_structured_fields() -> None:
    """Through structlog's ProcessorFormatter with ExtraAdder (structlog's documented
    way to format other libraries' records), each event arrives as a dict whose
    ``event`` is the event's name, with the bus time and every field."""
    structlog = pytest.importorskip("structlog")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.ExtraAdder(),
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logger = logging.getLogger("eventbus")
    logger.addHandler(handler)
    try:
        await dead_letter_a_poison_message()
    finally:
        logger.removeHandler(handler)

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    [dead] = [e for e in entries if e["event"] == "message.dead_lettered"]
    assert {
        "event": "message.dead_lettered",
        "bus_time": START + 90,
        "queue": "orders",
        "dead_letter_queue": "orders-dlq",
        "receive_count": 3,
        "level": "warning",
        "logger": "eventbus.queue",
    } == {key: value for key, value in dead.items() if key != "message_id"}
    first_failure = next(e for e in entries if e["event"] == "handler.failed")
    assert "ValueError: cannot ship" in first_failure["exception"]
