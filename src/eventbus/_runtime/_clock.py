"""Clocks: every wait in the library goes through the bus's clock.

Two clocks share one waiting primitive, :meth:`Clock.wait` (until a
:class:`Signal` fires or a deadline passes, whichever is first), and one piece of
bookkeeping: how many of the library's tasks are *running* rather than parked in
such a wait. :class:`VirtualClock` uses that count to know when everything woken
by a timer has settled, so that it can move time on to the next timer without
polling in real time. :class:`SystemClock` keeps the same count, so idle detection
works the same on both.

The count follows one rule: code that may park enters a :meth:`Clock.busy` block
first (library tasks for their whole life, public calls for their duration);
parking decrements the count, and whoever wakes a parked waiter increments it
again, before the waiter even runs, so "nothing is running" is never claimed
while a woken task has yet to run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

#: The clocks that already count the current task as running (per task).
_COUNTED: ContextVar[tuple[Clock, ...]] = ContextVar("eventbus_counted", default=())

#: Where a VirtualClock starts by default: 2026-01-01T00:00:00Z.
DEFAULT_VIRTUAL_START = 1_767_225_600.0


class _Waiter:
    """One parked task: woken by its signal, its deadline or cancellation.

    On asyncio it parks on a bare future, which is what an anyio ``Event`` waits on
    there, without the Event, the cancel scope of ``move_on_after`` and their
    backend look-ups around it (together about five times the cost of the park);
    anyio cancellation reaches it all the same, as it cancels the task's awaited
    future. On any other backend it parks on an anyio ``Event``.
    """

    __slots__ = ("clock", "event", "future", "signalled", "woken")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.future: asyncio.Future[None] | None = None
        self.event: anyio.Event | None = None
        self.woken = False
        self.signalled: Signal | None = None
        """The signal that woke it, until it has resumed."""

    def wake(self) -> None:
        if not self.woken:
            self.woken = True
            self.clock._running += 1
            future = self.future
            if future is not None:
                if not future.done():
                    future.set_result(None)
            elif self.event is not None:
                self.event.set()

    async def park(self, delay: float) -> None:
        """Block until woken, ``delay`` seconds have passed (``math.inf``: never), or
        the task is cancelled."""
        if self.woken:
            await anyio.lowlevel.checkpoint()
            return
        loop = _asyncio_loop()
        if loop is None:
            event = self.event = anyio.Event()
            with anyio.move_on_after(delay):
                await event.wait()
            return
        future = self.future = loop.create_future()
        timer = None if delay == math.inf else loop.call_later(delay, _expire, self)
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()


def _asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop if the current task is an asyncio task, else None
    (trio, trio in guest mode on an asyncio loop: sniffio's test)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop if asyncio.current_task(loop) is not None else None


def _expire(waiter: _Waiter) -> None:
    """A parked waiter's deadline passed: count it as woken, and let it resume.

    Counted at once, as :meth:`_Waiter.wake` does, so that between the timer and
    the task's next step the clock does not look settled, and a signal does not
    count this waiter as one it woke."""
    waiter.wake()


class Signal:
    """Something tasks wait for, such as "a queue may have new visible messages".

    Unlike :class:`anyio.Event` it can fire any number of times: each
    :meth:`notify_all` wakes the tasks waiting at that moment.
    """

    __slots__ = ("_waiters", "woken")

    def __init__(self) -> None:
        self._waiters: dict[_Waiter, None] = {}
        self.woken = 0
        """Tasks this signal woke that have not resumed yet."""

    def _wake(self, waiter: _Waiter) -> None:
        if not waiter.woken:
            waiter.signalled = self
            self.woken += 1
            waiter.wake()

    def notify_all(self) -> None:
        """Wake every task waiting on this signal now."""
        if self._waiters:
            waiters, self._waiters = self._waiters, {}
            for waiter in waiters:
                self._wake(waiter)

    def notify(self, count: int = 1) -> None:
        """Wake up to ``count`` of the waiting tasks, longest waiting first.

        Tasks woken earlier that have not resumed yet count toward ``count``: a
        receiver that has yet to run will find the new messages too (and wakes the
        next one if it leaves some). A woken task that is cancelled before it could
        act passes the wake-up on, so none is lost.
        """
        count -= self.woken
        waiters = self._waiters
        while waiters and count > 0:
            waiter = next(iter(waiters))
            del waiters[waiter]
            if not waiter.woken:  # one woken by its deadline is on its way already
                self._wake(waiter)
                count -= 1


class _Busy:
    """The context manager of :meth:`Clock.busy` (a class: a generator-based one
    costs several times more, and every long poll and park enters one)."""

    __slots__ = ("_clock", "_token")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._token: Token[tuple[Clock, ...]] | None = None

    def __enter__(self) -> None:
        clock = self._clock
        counted = _COUNTED.get()
        if clock not in counted:
            self._token = _COUNTED.set((*counted, clock))
            clock._running += 1

    def __exit__(self, *exc_info: object) -> None:
        token = self._token
        if token is not None:
            self._token = None
            _COUNTED.reset(token)
            clock = self._clock
            clock._running -= 1
            clock._check_settled()


class Clock(ABC):
    """The time source and the waiting primitive of a bus.

    Times are epoch seconds (floats); durations are seconds.
    """

    def __init__(self) -> None:
        self._running = 0
        self._settled: anyio.Event | None = None

    @abstractmethod
    def now(self) -> float:
        """The current time, in epoch seconds."""

    @abstractmethod
    async def _park(self, waiter: _Waiter, deadline: float) -> None:
        """Block until ``waiter`` is woken or ``deadline`` passes."""

    def busy(self) -> _Busy:
        """Count the current task as running for the duration of the block.

        Re-entrant: a task is counted once however deeply blocks nest.
        """
        return _Busy(self)

    @contextmanager
    def outside(self) -> Iterator[None]:
        """Count the current task as parked while it waits on something outside the
        library (a call to a remote service), as if it waited on this clock.

        Does nothing for a task the clock does not count.
        """
        if self not in _COUNTED.get():
            yield
            return
        self._running -= 1
        self._check_settled()
        try:
            yield
        finally:
            self._running += 1

    def spawn(
        self,
        task_group: anyio.abc.TaskGroup,
        function: Callable[..., Awaitable[Any]],
        *args: Any,
    ) -> None:
        """Start ``function(*args)`` in ``task_group``, counted as running from now on.

        Counting starts before the task first runs, so nobody mistakes a task that
        was started but has not run yet for a parked one.
        """
        self._running += 1
        task_group.start_soon(self._run_counted, function, args)

    async def _run_counted(
        self, function: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
    ) -> None:
        _COUNTED.set((*_COUNTED.get(), self))
        try:
            await function(*args)
        finally:
            self._running -= 1
            self._check_settled()

    def _check_settled(self) -> None:
        if self._running == 0 and self._settled is not None:
            self._settled.set()
            self._settled = None

    @property
    def running(self) -> int:
        """How many of the library's tasks are running (not parked in a wait)."""
        return self._running

    async def wait(self, signal: Signal | None = None, deadline: float | None = None) -> None:
        """Park until ``signal`` fires or ``deadline`` passes, whichever is first.

        With neither a signal nor a deadline this waits until cancelled.
        """
        if deadline is not None and deadline <= self.now():
            await anyio.lowlevel.checkpoint()
            return
        with self.busy():
            await self._wait(signal, deadline)

    async def _wait(self, signal: Signal | None, deadline: float | None) -> None:
        waiter = _Waiter(self)
        if signal is not None:
            signal._waiters[waiter] = None
        self._running -= 1
        self._check_settled()
        cancelled = False
        try:
            await self._park(waiter, math.inf if deadline is None else deadline)
        except BaseException:
            cancelled = True
            raise
        finally:
            if waiter.signalled is not None:
                waiter.signalled.woken -= 1
                waiter.signalled = None
                if cancelled and signal is not None:
                    signal.notify(1)  # we were woken but cannot act: pass it on
            if not waiter.woken:  # the deadline passed, or we were cancelled
                waiter.woken = True
                self._running += 1
            if signal is not None:
                signal._waiters.pop(waiter, None)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the clock reads ``deadline`` (epoch seconds)."""
        await self.wait(None, deadline)

    _sleepers: dict[object, float] | None = None
    """The deadlines of the tasks outside the library in :meth:`sleep` (made on first use)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time.

        On a :class:`SystemClock` this is a real sleep; on a :class:`VirtualClock` the
        task parks until virtual time reaches the deadline, moved by ``advance`` or by
        ``Bus.run_until_idle``. Code of your own that sleeps this way (a producer
        sending every second, a retry loop with a backoff) runs on virtual time in a
        test: ``run_until_idle`` counts such a task as work still to do, and moves
        time on to its deadline, until it stops sleeping (see ``Bus.run_until_idle``).

        Raises:
            ValueError: ``seconds`` is negative or NaN.
        """
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, not {seconds!r}")
        deadline = self.now() + seconds
        if self in _COUNTED.get():  # the library's own task, or a handler in one
            await self.sleep_until(deadline)
            return
        sleepers = self._sleepers
        if sleepers is None:
            sleepers = self._sleepers = {}
        token = object()
        sleepers[token] = deadline
        try:
            await self.sleep_until(deadline)
        finally:
            del sleepers[token]

    def sleepers(self) -> list[float]:
        """The deadlines of the tasks outside the library sleeping in :meth:`sleep`
        now (a handler's sleeps are not among them), earliest first."""
        return sorted(self._sleepers.values()) if self._sleepers else []

    async def wait_settled(self) -> None:
        """Return once none of the library's tasks is running.

        Lets ready tasks take a step first, so a task started just before still
        reaches its first wait.
        """
        while True:
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            if self._running <= 0:
                return
            if self._settled is None:
                self._settled = anyio.Event()
            await self._settled.wait()


class SystemClock(Clock):
    """The real clock: epoch time that never jumps, and anyio for the waiting.

    It reads the wall clock once, when created, and counts on from there with the
    monotonic clock, so a step of the system time (NTP, a manual change) neither
    lengthens nor cuts short visibility timeouts, delays or long polls while the
    process runs. Timestamps can therefore drift from the wall clock by as much as
    the system time was stepped since the clock was created.
    """

    def __init__(self) -> None:
        super().__init__()
        self._origin = time.time() - time.monotonic()

    def now(self) -> float:
        """The current time, in epoch seconds."""
        return self._origin + time.monotonic()

    async def _park(self, waiter: _Waiter, deadline: float) -> None:
        delay = deadline if deadline == math.inf else max(0.0, deadline - self.now())
        await waiter.park(delay)


class VirtualClock(Clock):
    """A clock whose time moves only when told to, for tests and simulations.

    ``await clock.advance(31)`` fires every timer due within the next 31 seconds,
    in deadline order; after each it lets the tasks it woke run until they are
    parked again (or have left the library), so a test sees the state it would
    see had those seconds really passed, in no time at all.

    Do not call :meth:`advance` from inside a consumer's handler: time does not
    move while a handler runs, so it would wait for itself.

    Args:
        start: the time the clock shows at first, in epoch seconds
            (2026-01-01T00:00:00Z by default).
    """

    def __init__(self, start: float = DEFAULT_VIRTUAL_START) -> None:
        super().__init__()
        self._now = float(start)
        self._timers: list[tuple[float, int, _Waiter]] = []
        self._order = itertools.count()

    def now(self) -> float:
        """The virtual time, in epoch seconds."""
        return self._now

    async def _park(self, waiter: _Waiter, deadline: float) -> None:
        if deadline != math.inf:
            timers = self._timers
            heapq.heappush(timers, (deadline, next(self._order), waiter))
            if len(timers) > 1024 and len(timers) > 4 * self._running + 1024:
                timers[:] = [t for t in timers if not t[2].woken]
                heapq.heapify(timers)
        await waiter.park(math.inf)

    def next_timer(self) -> float | None:
        """The deadline of the earliest pending timer, or None."""
        timers = self._timers
        while timers and timers[0][2].woken:
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way.

        Raises:
            ValueError: ``seconds`` is negative or NaN.
        """
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, not {seconds!r}")
        await self.advance_to(self._now + seconds)

    async def advance_to(self, deadline: float) -> None:
        """Move time forward to ``deadline`` (epoch seconds), firing due timers.

        A deadline in the past leaves the clock where it is.

        Raises:
            ValueError: ``deadline`` is NaN.
        """
        if math.isnan(deadline):
            raise ValueError("deadline must be a number, not NaN")
        await self.wait_settled()
        while True:
            due = self.next_timer()
            if due is None or due > deadline:
                break
            self._now = max(self._now, due)
            while self._timers and self._timers[0][0] <= self._now:
                heapq.heappop(self._timers)[2].wake()
            await self.wait_settled()
        self._now = max(self._now, deadline)
        await self.wait_settled()
