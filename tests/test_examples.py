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
    tested = {"quickstart", "pipeline"}

    assert tested == {path.stem for path in EXAMPLES.glob("*.py")}


async def test_quickstart_dead_letters_the_poison_message() -> None:
    """The quickstart processes two orders and dead-letters the third after 3 receives."""
    result = await load("quickstart").main()

    assert result == {"orders": 0, "dead_letters": 4, "audit": 3}


async def test_pipeline_fulfils_all_but_the_poison_orders() -> None:
    """The demo pipeline fulfils 198 orders, dead-letters 2 and counts all 200."""
    result = await load("pipeline").main()

    assert result == {"fulfilled": 198, "dead_lettered": 2, "analytics": 200, "left_in_fulfilment": 0}


@pytest.mark.parametrize("name", ["quickstart", "pipeline"])
def test_example_runs_as_a_script(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``python examples/<name>.py`` runs to the end and prints its story."""
    import anyio

    anyio.run(load(name).main)

    assert "dead-lettered" in capsys.readouterr().out
