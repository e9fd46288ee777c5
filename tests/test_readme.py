"""The README's quickstart runs as written, and its two set-up commands stay first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_setup_commands() -> None:
    """The first code block holds exactly the demo command and the test command."""
    first = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first is not None

    assert [
        "pip install . && python examples/order_pipeline.py",
        "pip install -e '.[test]' && python -m pytest",
    ] == first.group(1).strip().splitlines()


def test_readme_quickstart_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The quickstart block runs and prints what its comments promise."""
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None

    exec(compile(block.group(1), "README.md", "exec"), {"__name__": "readme"})

    assert capsys.readouterr().out.splitlines() == ['{"id": 1} 1', '{"id": 2}']
