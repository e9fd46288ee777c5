"""Crash tests: a pipeline on an SQLite store is killed with SIGKILL at random
moments, again and again; after each restart nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from eventbus import Bus, SqliteStore

CHILD = Path(__file__).with_name("crash_child.py")
RUNS = int(os.environ.get("EVENTBUS_CRASH_RUNS", "4"))


async def surviving_bodies(db: Path) -> tuple[list[str], list[str], list[str]]:
    """The bodies in the work queue, the DLQ and the audit queue, read after a crash."""
    async with Bus(store=SqliteStore(db)) as bus:
        queues = [await bus.get_queue(name) for name in ("work", "dlq", "audit")]
        found = [await queue.peek(max_messages=1_000_000) for queue in queues]
    work, dead, audit = ([m.body for m in messages] for messages in found)
    return work, dead, audit


@pytest.mark.parametrize("durability", ["process", "power"])
def test_nothing_acknowledged_is_lost_across_kills(tmp_path: Path, durability: str) -> None:
    """After each SIGKILL, every message whose publish returned is still in the work
    queue, in the DLQ, or was handled successfully, none is in two places, and no
    message whose delete returned is back."""
    db = tmp_path / "bus.db"
    log = tmp_path / "log.txt"
    kills = 0
    for seed in range(RUNS):
        child = subprocess.run(
            [sys.executable, str(CHILD), str(db), str(log), str(seed), durability],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert -signal.SIGKILL == child.returncode, child.stderr.decode()[-2000:]
        kills += 1

        work, dead, audit = anyio.run(surviving_bodies, db)
        lines = log.read_text().splitlines()
        sent = {line[5:] for line in lines if line.startswith("sent ")}
        done = {line[5:] for line in lines if line.startswith("done ")}
        deleted = {line[8:] for line in lines if line.startswith("deleted ")}
        deleting = {line[9:] for line in lines if line.startswith("deleting ")}

        assert set() == set(audit) & deleted
        # A kill between the delete and its log line leaves "deleting" alone.
        assert set() == sent - set(audit) - deleting

        lost = sent - set(work) - set(dead) - done
        assert set() == lost
        assert len(work) == len(set(work))
        assert set() == set(work) & set(dead)
        assert sent, "the child published nothing before it was killed"

    assert RUNS == kills
