"""What every workload shares: sizes, interleaved timing, and the figures they report.

Each figure is measured side by side with its baseline in the same process and the
same run, repetitions interleaved (the variants take turns, in a rotating order), and
the median of the repetitions is reported, with the ratio to the baseline. Nothing
here asserts anything: a missed target is reported, not raised.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

BODY_BYTES = 100
BODY = "b" * BODY_BYTES
"""The 100-byte body every workload sends (ASCII, so 100 bytes and 100 characters)."""

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Sizes:
    """How big each workload is: ``full`` for the real run, ``quick`` for a smoke run."""

    quick: bool
    reps: int
    queue_cycles: int
    """Workload 1: send/receive/delete cycles of 10 messages per repetition."""
    pipeline_publishes: int
    """Workload 2: publishes per repetition (each is delivered twice)."""
    depths: tuple[int, ...]
    depth_rounds: int
    """Workload 4: interleaved rounds; each times ``depth_chunk`` operations per kind."""
    depth_chunk: int
    memory_messages: int
    moto_backlogs: tuple[int, ...]
    moto_cycles: tuple[int, ...]
    """Workload 6: cycles of 10 messages per repetition, per backlog."""
    moto_reps: int
    latency_segments: int
    latency_segment_seconds: float
    latency_rate: float
    timetravel_reps: int
    filter_publishes: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(
            quick=False,
            reps=7,
            queue_cycles=1_000,
            pipeline_publishes=5_000,
            depths=(100, 10_000, 1_000_000),
            depth_rounds=150,
            depth_chunk=200,
            memory_messages=1_000_000,
            moto_backlogs=(100, 1_000),
            moto_cycles=(10, 3),
            moto_reps=5,
            latency_segments=3,
            latency_segment_seconds=1.0,
            latency_rate=1_000.0,
            timetravel_reps=5,
            filter_publishes=1_000,
        )

    @classmethod
    def short(cls) -> Sizes:
        return cls(
            quick=True,
            reps=3,
            queue_cycles=300,
            pipeline_publishes=1_000,
            depths=(100, 10_000, 100_000),
            depth_rounds=40,
            depth_chunk=100,
            memory_messages=100_000,
            moto_backlogs=(100, 1_000),
            moto_cycles=(3, 1),
            moto_reps=2,
            latency_segments=2,
            latency_segment_seconds=0.5,
            latency_rate=1_000.0,
            timetravel_reps=2,
            filter_publishes=500,
        )


@dataclass
class Figure:
    """One reported figure, next to its baseline.

    ``ratio`` is ``value / baseline`` (for a throughput, higher is better; for a
    cost, a latency or a size, lower is better: see ``better``).
    """

    workload: str
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    better: Better
    target: str = ""
    met: bool | None = None
    note: str = ""
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["ratio"] = self.ratio
        return out


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest-rank on the sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def settle() -> None:
    """Collect garbage before a timed repetition, so no variant pays for another's."""
    gc.collect()


async def interleave(
    variants: Sequence[tuple[str, Callable[[], Awaitable[float]]]], reps: int
) -> dict[str, list[float]]:
    """Run each variant ``reps`` times, taking turns in a rotating order.

    Each variant returns one measurement (a rate or a duration); the result maps a
    variant's name to its measurements in run order.
    """
    out: dict[str, list[float]] = {name: [] for name, _ in variants}
    count = len(variants)
    for rep in range(reps):
        for offset in range(count):
            name, run = variants[(rep + offset) % count]
            settle()
            out[name].append(await run())
    return out


def interleave_sync(
    variants: Sequence[tuple[str, Callable[[], float]]], reps: int
) -> dict[str, list[float]]:
    """:func:`interleave` for synchronous variants."""
    out: dict[str, list[float]] = {name: [] for name, _ in variants}
    count = len(variants)
    for rep in range(reps):
        for offset in range(count):
            name, run = variants[(rep + offset) % count]
            settle()
            out[name].append(run())
    return out


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    __slots__ = ("_start", "seconds")

    def __init__(self) -> None:
        self._start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


# ---------------------------------------------------------------------- output


def _number(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "n/a"
    if unit == "%":
        return f"{value:.1f} %"
    magnitude = abs(value)
    if magnitude >= 100:
        text = f"{value:,.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}"


def _ratio(figure: Figure) -> str:
    ratio = figure.ratio
    if ratio != ratio:
        return "n/a"
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    if ratio < 0.01:
        return f"{ratio:.2g}x"
    return f"{ratio:.2f}x"


def table(figures: Sequence[Figure]) -> str:
    """The figures as an aligned plain-text table."""
    header = ("#", "figure", "ours", "baseline", "ratio", "target", "")
    rows: list[tuple[str, ...]] = [header]
    for figure in figures:
        status = {True: "ok", False: "MISS", None: ""}[figure.met]
        rows.append(
            (
                figure.workload,
                figure.name,
                _number(figure.value, figure.unit),
                f"{_number(figure.baseline, figure.unit)} ({figure.baseline_name})",
                _ratio(figure),
                figure.target,
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in (2, 4) else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  [{f.workload}] {f.name}: {f.note}" for f in figures if f.note]
    if notes:
        lines.extend(["", "Notes:", *notes])
    return "\n".join(lines)


def markdown(figures: Sequence[Figure], meta: dict[str, object]) -> str:
    """The figures as a Markdown document: the machine, then one table row per figure."""
    seconds = float(str(meta.get("seconds", 0)))
    lines = [
        "# Benchmark results",
        "",
        f"`python benchmarks/run.py{'' if meta.get('mode') == 'full' else ' --quick'}`: "
        f"eventbus {meta.get('eventbus')} at commit `{meta.get('commit')}`, "
        f"{meta.get('implementation')} {meta.get('python')} on {meta.get('platform')}, "
        f"{meta.get('cpus')} CPUs ({meta.get('processor')}), load average "
        f"{meta.get('load_average_1min')} at the start and "
        f"{meta.get('load_average_1min_at_end')} at the end; {seconds:.0f} s in all.",
        "",
        "| # | Figure | Ours | Baseline | Ratio | Target | |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for f in figures:
        status = {True: "ok", False: "**MISS**", None: ""}[f.met]
        lines.append(
            f"| {f.workload} | {f.name} | {_number(f.value, f.unit)} | "
            f"{_number(f.baseline, f.unit)} ({f.baseline_name}) | {_ratio(f)} | "
            f"{f.target} | {status} |"
        )
    notes = [f"- [{f.workload}] {f.name}: {f.note}" for f in figures if f.note]
    if notes:
        lines.extend(["", "Notes:", "", *notes])
    return "\n".join(lines) + "\n"


def write_json(path: str, figures: Sequence[Figure], meta: dict[str, object]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"meta": meta, "figures": [f.to_json() for f in figures]}, handle, indent=2)
        handle.write("\n")
