"""The clocks: VirtualClock moves time only when told to, SystemClock reads the wall clock."""

from __future__ import annotations

import math
import time

import anyio
import pytest

from eventbus import SystemClock, VirtualClock
from eventbus._runtime._clock import DEFAULT_VIRTUAL_START, Signal


async def test_virtual_clock_starts_at_2026_by_default() -> None:
    """A new VirtualClock reads 2026-01-01T00:00:00Z, or the start it is given."""
    assert VirtualClock().now() == DEFAULT_VIRTUAL_START == 1_767_225_600.0
    assert VirtualClock(start=100).now() == 100.0


async def test_time_stands_still_until_advanced(clock: VirtualClock) -> None:
    """Without advance, awaiting does not move virtual time."""
    start = clock.now()

    await anyio.lowlevel.checkpoint()
    await clock.wait_settled()

    assert clock.now() == start


async def test_advance_fires_timers_in_deadline_order(clock: VirtualClock) -> None:
    """Timers registered out of order fire in deadline order, each at its own time."""
    start = clock.now()
    fired: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        fired.append((name, clock.now() - start))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "c", 3)
        tg.start_soon(sleeper, "a", 1)
        tg.start_soon(sleeper, "b", 2)
        await clock.advance(10)

    assert fired == [("a", 1), ("b", 2), ("c", 3)]
    assert clock.now() == start + 10


async def test_timers_with_equal_deadlines_fire_together(clock: VirtualClock) -> None:
    """Two timers due at the same moment both fire when that moment is reached."""
    start = clock.now()
    fired: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(4)
        fired.append(clock.now() - start)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        tg.start_soon(sleeper)
        await clock.advance(3)
        assert fired == []
        await clock.advance(1)
        assert fired == [4, 4]


async def test_advance_lets_woken_tasks_run_before_firing_the_next(clock: VirtualClock) -> None:
    """A task that sleeps 5 then 5 again wakes at +5 and +10 within one advance(20)."""
    start = clock.now()
    woke: list[float] = []

    async def twice() -> None:
        await clock.sleep(5)
        woke.append(clock.now() - start)
        await clock.sleep(5)
        woke.append(clock.now() - start)

    async with anyio.create_task_group() as tg:
        tg.start_soon(twice)
        await clock.advance(20)

    assert woke == [5, 10]
    assert clock.now() == start + 20


async def test_chain_of_tasks_woken_by_timers_sees_exact_times(clock: VirtualClock) -> None:
    """A timer that wakes a task which starts a shorter timer fires it within the advance."""
    start = clock.now()
    seen: list[tuple[str, float]] = []
    signal = Signal()

    async def waiter() -> None:
        await clock.wait(signal)
        seen.append(("signalled", clock.now() - start))
        await clock.sleep(1)
        seen.append(("slept", clock.now() - start))

    async def notifier() -> None:
        await clock.sleep(2)
        signal.notify_all()

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        tg.start_soon(notifier)
        await clock.advance(2.5)
        assert seen == [("signalled", 2)]
        await clock.advance(1)

    assert seen == [("signalled", 2), ("slept", 3)]


async def test_advance_stops_at_its_target(clock: VirtualClock) -> None:
    """Timers due after the target stay pending; the clock reads exactly the target."""
    start = clock.now()
    fired: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(7)
        fired.append(clock.now() - start)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await clock.advance(6)
        assert fired == []
        assert clock.now() == start + 6
        assert clock.next_timer() == start + 7
        await clock.advance(1)
        assert fired == [7]

    assert clock.next_timer() is None


@pytest.mark.parametrize("seconds", [-1, -0.001, math.nan])
async def test_advance_refuses_negative_and_nan(clock: VirtualClock, seconds: float) -> None:
    """advance() with a negative or NaN duration raises ValueError and leaves time alone."""
    start = clock.now()

    with pytest.raises(ValueError, match="seconds must be >= 0"):
        await clock.advance(seconds)

    assert clock.now() == start


@pytest.mark.parametrize("seconds", [-1, math.nan])
async def test_sleep_refuses_negative_and_nan(clock: VirtualClock, seconds: float) -> None:
    """sleep() with a negative or NaN duration raises ValueError and registers no timer."""
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        await clock.sleep(seconds)

    assert clock.next_timer() is None
    assert clock.running == 0


async def test_advance_to_in_the_past_leaves_time_alone(clock: VirtualClock) -> None:
    """advance_to a moment already passed neither moves time back nor fires a timer."""
    start = clock.now()
    fired: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(1)
        fired.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await clock.wait_settled()
        await clock.advance_to(start - 100)
        assert clock.now() == start
        assert fired == []
        await clock.advance_to(start + 1)

    assert fired == [start + 1]


async def test_advance_to_nan_is_refused(clock: VirtualClock) -> None:
    """advance_to(NaN) raises ValueError instead of firing every pending timer."""
    start = clock.now()
    fired: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(1000)
        fired.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await clock.wait_settled()
        with pytest.raises(ValueError):
            await clock.advance_to(math.nan)
        assert fired == []
        assert clock.now() == start
        tg.cancel_scope.cancel()


async def test_advance_to_moves_to_the_exact_deadline(clock: VirtualClock) -> None:
    """advance_to(t) leaves the clock reading t."""
    target = clock.now() + 12.25

    await clock.advance_to(target)

    assert clock.now() == target


async def test_sleep_zero_returns_at_once(clock: VirtualClock) -> None:
    """clock.sleep(0) returns without time moving and without a timer."""
    start = clock.now()

    await clock.sleep(0)

    assert clock.now() == start
    assert clock.next_timer() is None


async def test_sleep_until_wakes_at_the_deadline(clock: VirtualClock) -> None:
    """sleep_until(t) returns when the clock reaches t, not before."""
    start = clock.now()
    woke: list[float] = []

    async def sleeper() -> None:
        await clock.sleep_until(start + 8)
        woke.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await clock.advance(7.5)
        assert woke == []
        await clock.advance(0.5)

    assert woke == [start + 8]


async def test_wait_returns_on_signal_before_deadline(clock: VirtualClock) -> None:
    """clock.wait(signal, deadline) returns when the signal fires, without time moving."""
    start = clock.now()
    signal = Signal()
    returned: list[float] = []

    async def waiter() -> None:
        await clock.wait(signal, start + 30)
        returned.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await clock.wait_settled()
        assert returned == []
        signal.notify_all()
        await clock.wait_settled()
        assert returned == [start]


async def test_wait_returns_at_deadline_without_signal(clock: VirtualClock) -> None:
    """clock.wait(signal, deadline) returns at the deadline if the signal never fires."""
    start = clock.now()
    signal = Signal()
    returned: list[float] = []

    async def waiter() -> None:
        await clock.wait(signal, start + 30)
        returned.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await clock.advance(29)
        assert returned == []
        await clock.advance(100)

    assert returned == [start + 30]


async def test_signal_wakes_only_current_waiters(clock: VirtualClock) -> None:
    """notify_all wakes the tasks waiting at that moment; a later waiter waits on."""
    signal = Signal()
    woken: list[str] = []

    async def waiter(name: str) -> None:
        await clock.wait(signal)
        woken.append(name)

    signal.notify_all()  # nobody waits: nothing to remember
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, "first")
        await clock.wait_settled()
        assert woken == []
        signal.notify_all()
        await clock.wait_settled()
        assert woken == ["first"]
        tg.start_soon(waiter, "second")
        await clock.wait_settled()
        assert woken == ["first"]
        signal.notify_all()
        await clock.wait_settled()

    assert woken == ["first", "second"]


async def test_cancelled_waiter_leaves_no_running_count(clock: VirtualClock) -> None:
    """Cancelling a task parked in a clock wait leaves the running count at zero."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(clock.sleep, 50)
        await clock.wait_settled()
        assert clock.running == 0
        tg.cancel_scope.cancel()

    assert clock.running == 0
    assert clock.next_timer() is None
    await clock.advance(100)  # must not wait for the cancelled task


async def test_wait_settled_waits_for_woken_tasks(clock: VirtualClock) -> None:
    """After advance returns, every task it woke has reached its next wait."""
    steps: list[int] = []

    async def stepper() -> None:
        for step in range(3):
            await clock.sleep(1)
            steps.append(step)

    async with anyio.create_task_group() as tg:
        tg.start_soon(stepper)
        await clock.advance(1)
        assert steps == [0]
        assert clock.running == 0
        await clock.advance(2)

    assert steps == [0, 1, 2]


async def test_system_clock_now_reads_the_wall_clock() -> None:
    """SystemClock.now() is within a second of time.time()."""
    system = SystemClock()

    assert abs(system.now() - time.time()) < 1.0


async def test_system_clock_past_deadline_returns_at_once() -> None:
    """SystemClock.wait with a deadline already passed and sleep(0) return without waiting."""
    system = SystemClock()

    with anyio.fail_after(5):
        await system.wait(None, system.now() - 10)
        await system.sleep(0)

    assert system.running == 0


async def test_system_clock_wait_returns_on_signal() -> None:
    """SystemClock.wait returns when its signal fires, long before a distant deadline."""
    system = SystemClock()
    signal = Signal()
    done = anyio.Event()

    async def waiter() -> None:
        await system.wait(signal, system.now() + 3600)
        done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await system.wait_settled()
            assert not done.is_set()
            signal.notify_all()
            await done.wait()

    assert system.running == 0


def test_system_clock_ignores_steps_of_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step of the system time after the clock was made does not move its time."""
    import time as time_module

    from eventbus import SystemClock

    clock = SystemClock()
    before = clock.now()
    real_time = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real_time() + 3600)

    after = clock.now()

    assert 0 <= after - before < 5
    assert abs(SystemClock().now() - (real_time() + 3600)) < 5


async def test_system_clock_one_notify_wakes_exactly_one_of_two_waiters() -> None:
    """notify(1) on the SystemClock wakes one parked waiter; cancelling the other
    leaves no running count and no waiter on the signal."""
    system = SystemClock()
    signal = Signal()
    woken: list[str] = []
    one_woke = anyio.Event()

    async def waiter(name: str) -> None:
        await system.wait(signal, system.now() + 3600)
        woken.append(name)
        one_woke.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, "first")
            tg.start_soon(waiter, "second")
            await system.wait_settled()
            signal.notify(1)
            await one_woke.wait()
            await system.wait_settled()
            tg.cancel_scope.cancel()

    assert len(woken) == 1  # either: trio starts tasks in no fixed order
    assert system.running == 0
    assert not signal._waiters


async def test_system_clock_cancelling_a_park_is_prompt() -> None:
    """A task parked until a distant deadline leaves at once when cancelled."""
    system = SystemClock()
    with anyio.fail_after(5):
        with anyio.move_on_after(0.01):
            await system.sleep(3600)
    assert system.running == 0


@pytest.mark.parametrize("stuck_after", [0, -1, math.inf, math.nan, "1", True])
def test_stuck_after_must_be_a_positive_number(stuck_after: object) -> None:
    with pytest.raises(ValueError, match="stuck_after"):
        VirtualClock(stuck_after=stuck_after)  # type: ignore[arg-type]


def test_stuck_after_is_one_real_second_by_default() -> None:
    assert VirtualClock().stuck_after == 1.0
    assert VirtualClock(stuck_after=0.25).stuck_after == 0.25
