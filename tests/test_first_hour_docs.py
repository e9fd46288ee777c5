"""The README's "Testing your code with eventbus" and "Logs" snippets run as written,
as a user would run them: in a process of their own."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> list[str]:
    """The python blocks of the README section titled ``title``."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match is not None, title
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def test_the_testing_section_runs_under_pytest(tmp_path: Path) -> None:
    """The test module of "Testing your code with eventbus" passes under pytest with
    nothing but its own file (no conftest, no configuration of this repository)."""
    [block] = section("Testing your code with eventbus")
    (tmp_path / "test_orders.py").write_text(block)

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_orders.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert 0 == done.returncode, done.stdout + done.stderr
    assert re.search(r"\b[36] passed", done.stdout)  # on asyncio, and on trio if installed


def test_the_logs_section_runs_and_routes_the_records(tmp_path: Path) -> None:
    """Each "Logs" block runs ahead of a bus whose handler fails: the first shows the
    warnings on stderr and routes the handlers' ones to a file; the second renders
    them as JSON with the event's name, the bus time and the fields."""
    pytest.importorskip("structlog")
    plain, structured = section("Logs")
    run = (
        "\nimport anyio\nfrom eventbus import Bus, VirtualClock\n"
        "async def main():\n"
        "    async with Bus(clock=VirtualClock()) as bus:\n"
        "        queue = await bus.create_queue('orders')\n"
        "        await queue.send('x')\n"
        "        def handler(event, context):\n"
        "            raise ValueError('boom')\n"
        "        async with bus.consume(queue, handler):\n"
        "            await bus.run_until_idle(max_time=40)\n"
        "        await queue.purge()\n"
        "try:\n"
        "    anyio.run(main)\n"
        "except BaseException:\n"
        "    pass\n"
    )
    outputs = []
    for block in (plain, structured):
        done = subprocess.run(
            [sys.executable, "-c", block + run],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        outputs.append(done.stderr)

    routed = (tmp_path / "handlers.log").read_text().splitlines()
    assert 2 == sum(line.startswith("handler.failed queue='orders'") for line in routed)
    shown = outputs[0].splitlines()
    assert 2 == sum(line.startswith("WARNING:eventbus.consumer:handler.failed") for line in shown)
    assert not any("queue.purged" in line for line in shown)  # eventbus.queue: errors only
    assert '"event": "handler.failed"' in outputs[1]
    assert '"bus_time": 1767225600.0' in outputs[1]
    assert '"queue": "orders"' in outputs[1]


def test_the_package_metadata_is_complete() -> None:
    """The metadata names the license and classifiers; the moto extra has what
    ``eventbus.testing.moto_server()`` needs; every requirement has an upper bound,
    so that pip resolves them at once."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert "MIT" == project["license"]
    assert any(c.startswith("Development Status") for c in project["classifiers"])
    extras = project["optional-dependencies"]
    names = {re.split(r"[<>=!\[;]", r)[0].strip() for r in extras["moto"]}
    assert {"moto", "flask", "flask-cors"} <= names
    for requirement in [*project["dependencies"], *(r for rs in extras.values() for r in rs)]:
        assert "<" in requirement, requirement


def test_boto3_moves_with_aiobotocore() -> None:
    """The boto3 range of the extras is the botocore range that the aiobotocore the
    test extra installs pins (each boto3 release pins its own botocore): were they
    apart, pip would walk back through every newer boto3 release."""
    from importlib.metadata import requires

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [r for r in requires("aiobotocore") or [] if r.startswith("botocore")]
    botocore_range = sorted(pin.removeprefix("botocore").split(","))
    for extra in ("moto", "test"):
        [boto3] = [r for r in project["optional-dependencies"][extra] if r.startswith("boto3")]
        assert botocore_range == sorted(boto3.removeprefix("boto3").split(","))
