"""Run eventbus's benchmark suite and print a table of figures against their baselines.

    python benchmarks/run.py                  # the full suite (a few minutes)
    python benchmarks/run.py --quick          # a short run (about a minute)
    python benchmarks/run.py --json out.json  # also write the figures as JSON
    python benchmarks/run.py --markdown benchmarks/RESULTS.md  # and/or as Markdown
    python benchmarks/run.py --only 2,7       # some workloads only
    python benchmarks/run.py --profile pipeline   # cProfile one workload (top 15 tottime)

See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import platform
import pstats
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

# Run as a script: make the sibling modules and the source tree importable.
_HERE = Path(__file__).resolve().parent
for _path in (_HERE, _HERE.parent / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_fifo  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_queue  # noqa: E402
import bench_scenarios  # noqa: E402
import bench_store  # noqa: E402
from bench_harness import Figure, Sizes, markdown, table, write_json  # noqa: E402

import eventbus  # noqa: E402

Workload = Callable[[Sizes], Coroutine[Any, Any, list[Figure]]]


async def _depth(sizes: Sizes) -> list[Figure]:
    return bench_queue.depth_scaling(sizes)


async def _memory(sizes: Sizes) -> list[Figure]:
    return bench_queue.memory(sizes)


WORKLOADS: dict[str, tuple[str, Workload]] = {
    "1": ("queue operations", bench_queue.operations),
    "2": ("pipeline throughput", bench_pipeline.pipeline),
    "4": ("depth scaling", _depth),
    "5": ("memory", _memory),
    "6": ("peer: moto", bench_queue.peer_moto),
    "7": ("latency", bench_pipeline.latency),
    "8": ("time travel", bench_scenarios.timetravel),
    "9": ("filtering", bench_scenarios.filtering),
    "10": ("SQLite store", bench_store.store),
    "11": ("FIFO groups", bench_fifo.fifo),
}
"""Workload 3, the hand-written baseline, runs inside 1, 2 and 7."""


async def _profile_depth(sizes: Sizes) -> None:
    queue = bench_queue.profile_depth(sizes)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(sizes.depth_rounds):
        queue.round(sizes.depth_chunk)
    profiler.disable()
    _print_profile(profiler, f"depth {queue.depth:,} (rounds only, pre-fill excluded)")


async def _pipeline_loop(sizes: Sizes) -> None:
    await bench_pipeline.profile_pipeline(sizes, in_thread=False)


async def _pipeline_thread(sizes: Sizes) -> None:
    await bench_pipeline.profile_pipeline(sizes, in_thread=True)


async def _latency_loop(sizes: Sizes) -> None:
    await bench_pipeline.profile_latency(sizes, in_thread=False)


async def _latency_thread(sizes: Sizes) -> None:
    await bench_pipeline.profile_latency(sizes, in_thread=True)


PROFILES: dict[str, Callable[[Sizes], Coroutine[Any, Any, None]]] = {
    "queue-ops": bench_queue.profile_operations,
    "pipeline": _pipeline_loop,
    "pipeline-thread": _pipeline_thread,
    "latency": _latency_loop,
    "latency-thread": _latency_thread,
    "timetravel": bench_scenarios.profile_timetravel,
    "filtering": bench_scenarios.profile_filtering,
}
"""Workloads ``--profile`` can run under cProfile ("depth" and "memory" are apart)."""
SPECIAL_PROFILES = ("depth", "memory")


def _print_profile(profiler: cProfile.Profile, title: str, top: int = 15) -> None:
    print(f"cProfile of {title}: top {top} functions by tottime")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)


def _profile(name: str, sizes: Sizes) -> None:
    if name == "depth":
        asyncio.run(_profile_depth(sizes))
        return
    if name == "memory":
        print(bench_queue.memory_sites(100_000))
        return
    target = PROFILES[name]
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(target(sizes))
    profiler.disable()
    _print_profile(profiler, name)


def _quiet_logging() -> None:
    """Drop eventbus's warnings (the time-travel scenario expires messages on purpose)."""
    logging.getLogger("eventbus").setLevel(logging.ERROR)


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpus": os.cpu_count(),
        "eventbus": eventbus.__version__,
        "commit": _commit(),
        "load_average_1min": _load(),
    }


def _load() -> float | None:
    """The 1-minute load average: other work on the machine makes figures noisier."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _commit() -> str:
    """The checked-out commit, with ``+dirty`` if ``src/`` has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=_HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=_HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    parser.add_argument(
        "--markdown", metavar="PATH", help="write the figures as a Markdown table to PATH"
    )
    parser.add_argument(
        "--only", metavar="N,N", help=f"workloads to run, of {','.join(WORKLOADS)} (default all)"
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        choices=[*PROFILES, *SPECIAL_PROFILES],
        help=(
            f"cProfile one workload instead: {', '.join([*PROFILES, *SPECIAL_PROFILES])} "
            "(memory: tracemalloc's top allocation lines)"
        ),
    )
    args = parser.parse_args(argv)
    sizes = Sizes.short() if args.quick else Sizes.full()
    _quiet_logging()
    if args.profile:
        _profile(args.profile, sizes)
        return 0
    chosen = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [key for key in chosen if key not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {list(WORKLOADS)}")

    info = machine()
    print(
        f"eventbus {info['eventbus']} benchmarks ({'quick' if sizes.quick else 'full'}) on "
        f"Python {info['python']}, {info['cpus']} CPUs, {info['processor']}, "
        f"commit {info['commit']}, load average {info['load_average_1min']}"
    )
    figures: list[Figure] = []
    durations: dict[str, float] = {}
    started = time.perf_counter()
    for key in chosen:
        title, workload = WORKLOADS[key]
        print(f"  [{key}] {title} ...", end="", flush=True)
        begin = time.perf_counter()
        figures.extend(asyncio.run(workload(sizes)))
        durations[key] = time.perf_counter() - begin
        print(f" {durations[key]:.1f} s", flush=True)
    total = time.perf_counter() - started
    print()
    print(table(figures))
    print(f"\nTotal: {total:.0f} s")
    meta = {
        **info,
        "mode": "quick" if sizes.quick else "full",
        "load_average_1min_at_end": _load(),
        "seconds": total,
        "workload_seconds": durations,
    }
    if args.json:
        write_json(args.json, figures, meta)
        print(f"Wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(markdown(figures, meta))
        print(f"Wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
