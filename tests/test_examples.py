"""Every example runs in the test suite, so the docs cannot rot."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
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
    assert tested == {name for name, _ in SCRIPT_RUNS} | {"aws_backend"}


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


# Runs an example as a script, with logging as Python starts it (unconfigured), and
# records what the example prints itself: every call of print() on stdout made by the
# example's own code (not by a library that prints, as unconfigured structlog does).
PRINTS_ITS_OWN = """
import builtins, io, json, runpy, sys

own = []
real_print = builtins.print
record, path, *sys.argv[1:] = sys.argv[1:]

def print(*args, **kwargs):
    target = kwargs.pop("file", None)
    if (target is None or target is sys.stdout) and sys._getframe(1).f_code.co_filename == path:
        text = io.StringIO()
        real_print(*args, file=text, **kwargs)
        own.append(text.getvalue())
    real_print(*args, file=target, **kwargs)

builtins.print = print
sys.argv[0] = path
try:
    runpy.run_path(path, run_name="__main__")
finally:
    with open(record, "w") as file:
        json.dump(own, file)
"""


SCRIPT_RUNS = [
    ("quickstart", []),
    ("order_pipeline", ["--virtual"]),
    ("filter_routing", []),
    ("redrive", []),
]
"""Each example but aws_backend (tested below) with the arguments it is run with."""


def run_script(name: str, arguments: list[str], tmp_path: Path) -> str:
    """Run ``examples/<name>.py`` as a script with logging left unconfigured; check
    that it wrote to stdout exactly what it printed itself and nothing to stderr, and
    return that output."""
    record = tmp_path / "own.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PRINTS_ITS_OWN,
            str(record),
            str(EXAMPLES / f"{name}.py"),
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert 0 == done.returncode, done.stderr
    own = "".join(json.loads(record.read_text()))
    assert own  # every example says what it did
    assert (own, "") == (done.stdout, done.stderr)
    return own


@pytest.mark.parametrize(("name", "arguments"), SCRIPT_RUNS)
def test_an_example_writes_only_its_own_output(
    name: str, arguments: list[str], tmp_path: Path
) -> None:
    """Run as a script with logging left unconfigured, each example writes to stdout
    exactly what it prints itself, and nothing to stderr: the library prints nothing
    (its warnings, of dead-lettered messages and failed handlers, included)."""
    run_script(name, arguments, tmp_path)


def test_aws_backend_runs_the_pipeline_on_a_moto_server(tmp_path: Path) -> None:
    """The AWS example, as a script on a moto server of its own, fulfils four orders;
    SQS dead-letters the poison one after two receives; the audit queue sees every
    envelope; it writes only its own output."""
    output = run_script("aws_backend", [], tmp_path)

    lines = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
    attempts = ast.literal_eval(lines["attempts per order"])
    assert sorted(attempts) == [1, 2, 3, 4, 5]
    assert attempts[3] == 2  # max_receive_count, then SQS moves it
    assert all(attempts[order] >= 1 for order in (1, 2, 4, 5))  # at least once
    assert int(re.search(r"audit saw (\d+) envelopes", output)[1]) >= 5  # type: ignore[index]
    assert "orders [3]" == lines["dead-lettered by SQS"]
