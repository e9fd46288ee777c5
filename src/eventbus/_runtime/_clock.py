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

A consumer's handler runs inside a :meth:`Clock.handler` block, so the clock also
knows which running tasks are handlers, and how long they have run. On a
:class:`VirtualClock` a handler that waits on something outside the bus while
nothing else of the bus runs does not hold time back for ever: after
``stuck_after`` real seconds time moves on without it (toward its function
timeout). A sync handler running in a worker thread does hold time back, and one
that runs longer than its function timeout in real time makes the wait for
settling raise :class:`NotIdle`.
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

from .._core._errors import EventBusError

#: The clocks that already count the current task as running (per task).
_COUNTED: ContextVar[tuple[Clock, ...]] = ContextVar("eventbus_counted", default=())

#: The handler invocation the current task runs, if any (per task).
_HANDLER: ContextVar[HandlerRun | None] = ContextVar("eventbus_handler", default=None)

#: Where a VirtualClock starts by default: 2026-01-01T00:00:00Z.
DEFAULT_VIRTUAL_START = 1_767_225_600.0
#: How long (real seconds) a handler may wait on something outside the bus, while
#: nothing else of the bus runs, before a VirtualClock moves on without it.
DEFAULT_STUCK_AFTER = 1.0


class NotIdle(EventBusError):
    """The bus could not become idle: ``Bus.run_until_idle`` gave up.

    Raised when idleness was not reached within ``max_time``, or when nothing can
    make progress any more (a sync handler has run in its worker thread for longer
    than its function timeout, in real time, while virtual time cannot move). The
    message names what is still busy: each queue, and each running handler with how
    long it has run.
    """

    code = "NotIdle"


class HandlerRun:
    """One running handler invocation, as the clock and ``NotIdle`` see it.

    Attributes:
        function: the function name.
        queue: the name of the queue it consumes.
        request_id: the invocation's request id.
        timeout: its function timeout (seconds).
        started: when it started, on the bus clock.
        started_real: when it started, on the monotonic clock.
        in_thread: it runs in a worker thread now (a sync handler).
    """

    __slots__ = (
        "active",
        "function",
        "in_thread",
        "parked",
        "queue",
        "request_id",
        "started",
        "started_real",
        "stuck",
        "timeout",
    )

    def __init__(
        self, *, function: str, queue: str, request_id: str, timeout: float, started: float
    ) -> None:
        self.function = function
        self.queue = queue
        self.request_id = request_id
        self.timeout = timeout
        self.started = started
        self.started_real = time.monotonic()
        self.in_thread = False
        self.active = False
        self.parked = 0
        """How many of its waits on the clock are parked now."""
        self.stuck = False
        """A VirtualClock moves time on without it (until it parks on the clock)."""

    def describe(self, now: float) -> str:
        """One line: which handler, on which queue, for how long, doing what."""
        if self.parked:
            doing = "waiting on the bus clock"
        elif self.in_thread:
            doing = "running in a worker thread"
        else:
            doing = "waiting on something outside the bus"
        return (
            f"handler {self.function!r} on queue {self.queue!r} (request {self.request_id}) "
            f"has run {now - self.started:g} s of bus time "
            f"({time.monotonic() - self.started_real:.1f} s real), {doing}"
        )


class _Waiter:
    """One parked task: woken by its signal, its deadline or cancellation.

    On asyncio it parks on a bare future, which is what an anyio ``Event`` waits on
    there, without the Event, the cancel scope of ``move_on_after`` and their
    backend look-ups around it (together about five times the cost of the park);
    anyio cancellation reaches it all the same, as it cancels the task's awaited
    future. On any other backend it parks on an anyio ``Event``.
    """

    __slots__ = ("clock", "event", "future", "handler", "signalled", "woken")

    def __init__(self, clock: Clock, handler: HandlerRun | None = None) -> None:
        self.clock = clock
        self.handler = handler
        self.future: asyncio.Future[None] | None = None
        self.event: anyio.Event | None = None
        self.woken = False
        self.signalled: Signal | None = None
        """The signal that woke it, until it has resumed."""

    def count_running(self) -> None:
        """Count the parked task as running again (it is woken, or leaves)."""
        self.woken = True
        clock = self.clock
        clock._running += 1
        handler = self.handler
        if handler is not None:
            handler.parked -= 1
            if handler.parked == 0 and handler.active:
                clock._handlers_running += 1

    def wake(self) -> None:
        if not self.woken:
            self.count_running()
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
        self._handlers_running = 0
        """Running tasks that run a handler (and are not parked on the clock)."""
        self._handlers: dict[HandlerRun, None] = {}
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
    def handler(self, run: HandlerRun) -> Iterator[None]:
        """Mark the current task as running the handler invocation ``run``.

        The task must already be counted (it is one of the library's tasks). Start
        any helper task of the invocation (its timeout watchdog) before entering, so
        that it does not count as part of the handler.
        """
        run.active = True
        self._handlers[run] = None
        self._handlers_running += 1
        token = _HANDLER.set(run)
        self._check_settled()
        try:
            yield
        finally:
            _HANDLER.reset(token)
            run.active = False
            del self._handlers[run]
            if run.parked == 0:
                self._handlers_running -= 1

    def _refuse_inside_handler(self, call: str) -> None:
        """Refuse a call that would wait for the handler making it."""
        run = _HANDLER.get()
        if run is not None and run.active and run in self._handlers:
            raise RuntimeError(
                f"{call} was called from inside handler {run.function!r} (queue "
                f"{run.queue!r}): virtual time does not move while a handler runs, so "
                "it would wait for itself. Call it from the test's own task; inside a "
                "handler, await clock.sleep(seconds) to let time pass."
            )

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
        """Wake whoever waits for settling: nothing runs now but handlers, if any."""
        if self._settled is not None and self._running <= self._handlers_running:
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
        handler = _HANDLER.get()
        if handler is not None and handler.active and handler in self._handlers:
            waiter = _Waiter(self, handler)
            handler.stuck = False
            handler.parked += 1
            if handler.parked == 1:
                self._handlers_running -= 1
        else:
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
                waiter.count_running()
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
            await self._settled_event().wait()

    def _settled_event(self) -> anyio.Event:
        """An event set the next time a task parks while nothing runs but handlers."""
        if self._settled is None:
            self._settled = anyio.Event()
        return self._settled


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

    Time does not move while a consumer's handler runs, with one exception: a
    handler that waits on something outside the bus (an event nobody sets, a
    network call) while nothing else of the bus runs. Lambda would stop it at its
    function timeout, so once it has waited ``stuck_after`` real seconds time moves
    on without it, as if it were parked, and its function timeout fires in virtual
    time. A sync handler in a worker thread is running: time waits for it, and if it
    runs longer than its function timeout in real time, settling (``advance``,
    ``run_until_idle``) raises :class:`NotIdle` naming it. Calling :meth:`advance`
    (or ``run_until_idle``) from inside a handler is refused with a RuntimeError:
    it would wait for itself.

    Args:
        start: the time the clock shows at first, in epoch seconds
            (2026-01-01T00:00:00Z by default).
        stuck_after: how long (real seconds, > 0) a handler may wait on something
            outside the bus, while nothing else of the bus runs, before time moves
            on without it; 1 second by default. A handler that awaits real I/O
            taking longer than this may then time out in virtual time.

    Raises:
        ValueError: ``stuck_after`` is not a positive number.
    """

    def __init__(
        self, start: float = DEFAULT_VIRTUAL_START, *, stuck_after: float = DEFAULT_STUCK_AFTER
    ) -> None:
        super().__init__()
        if (
            not isinstance(stuck_after, int | float)
            or isinstance(stuck_after, bool)
            or not 0 < stuck_after < math.inf
        ):
            raise ValueError(
                f"stuck_after must be a positive number of seconds, not {stuck_after!r}"
            )
        self.stuck_after = float(stuck_after)
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
            RuntimeError: called from inside a handler.
            NotIdle: a sync handler has run in its worker thread for longer than its
                function timeout, in real time, so time cannot move.
        """
        if math.isnan(deadline):
            raise ValueError("deadline must be a number, not NaN")
        self._refuse_inside_handler("VirtualClock.advance()")
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

    async def wait_settled(self) -> None:
        """Return once none of the library's tasks is running, or the only ones
        running are handlers stuck on something outside the bus.

        A handler counts as stuck once it has waited outside the bus for
        ``stuck_after`` real seconds while nothing else of the bus ran; it stays
        stuck until it parks on the clock.

        Raises:
            NotIdle: a sync handler has run in its worker thread for longer than its
                function timeout, in real time (time cannot move under it).
        """
        while True:
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            if self._running <= 0:
                return
            if self._running > self._handlers_running:  # more than handlers run
                await self._settled_event().wait()
                continue
            running = [run for run in self._handlers if not run.parked]
            threads = [run for run in running if run.in_thread]
            if threads:  # wait for them, at least stuck_after, at most their timeout
                overdue = min(threads, key=lambda run: run.started_real + run.timeout)
                left = overdue.started_real + overdue.timeout - time.monotonic()
                patience = max(left, self.stuck_after)
            elif all(run.stuck for run in running):
                return
            else:
                patience = self.stuck_after
            with anyio.move_on_after(patience) as scope:
                await self._settled_event().wait()
            if not scope.cancelled_caught:
                continue  # something changed: look again
            if threads:
                if overdue.active and not overdue.parked and overdue.in_thread:
                    raise NotIdle(
                        f"Virtual time cannot move: {overdue.describe(self._now)}, past its "
                        f"function timeout of {overdue.timeout:g} s (a thread cannot be "
                        "stopped, and time does not move under a running handler)."
                    )
                continue
            for run in running:
                if run.active and not run.parked:
                    run.stuck = True
