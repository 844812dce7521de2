"""`Clock.timeout`: a block bounded on the clock's own time. On FakeClock it expires when
`advance` passes its deadline, whatever the real time, so a hung await is timed out in a test
that never waits for real."""

from __future__ import annotations

import asyncio

import pytest

from liverecd.clock import FakeClock, SystemClock


async def test_a_fake_timeout_expires_when_fake_time_passes_its_deadline() -> None:
    clock = FakeClock()
    hung = asyncio.Event()  # never set: a server that never answers
    expired = asyncio.Event()

    async def wait() -> None:
        try:
            async with clock.timeout(30):
                await hung.wait()
        except TimeoutError:
            expired.set()

    task = asyncio.create_task(wait())
    await asyncio.sleep(0.05)  # real time alone never expires it
    clock.advance(29.9)
    await asyncio.sleep(0.01)
    assert not expired.is_set()
    clock.advance(0.1)
    async with asyncio.timeout(1):
        await expired.wait()
    await task


async def test_a_block_that_ends_in_time_is_left_alone_by_later_advances() -> None:
    clock = FakeClock()
    async with clock.timeout(5):
        await asyncio.sleep(0)
    clock.advance(10)  # its deadline passes after the block ended: nothing to cancel
    await asyncio.sleep(0.01)
    assert clock._deadlines == []


async def test_nested_fake_timeouts_expire_in_deadline_order() -> None:
    clock = FakeClock()
    outer_hit = False

    async def nested() -> str:
        nonlocal outer_hit
        try:
            async with clock.timeout(10):
                try:
                    async with clock.timeout(3):
                        await asyncio.Event().wait()
                except TimeoutError:
                    pass
                await asyncio.Event().wait()
        except TimeoutError:
            outer_hit = True
        return "done"

    task = asyncio.create_task(nested())
    await asyncio.sleep(0)
    clock.advance(3)
    await asyncio.sleep(0.01)
    assert not task.done()
    clock.advance(7)
    assert await asyncio.wait_for(task, 1) == "done"
    assert outer_hit


async def test_a_zero_timeout_expires_at_the_first_await() -> None:
    with pytest.raises(TimeoutError):
        async with FakeClock().timeout(0):
            await asyncio.sleep(1)


async def test_an_outside_cancel_still_cancels_a_block_under_a_fake_timeout() -> None:
    clock = FakeClock()

    async def wait() -> None:
        async with clock.timeout(30):
            await asyncio.Event().wait()

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock._deadlines == []


async def test_autojump_sleepers_pass_a_deadline_and_expire_it() -> None:
    clock = FakeClock(autojump=True)

    async def hung() -> None:
        async with clock.timeout(5):
            await asyncio.Event().wait()

    task = asyncio.create_task(hung())
    await asyncio.sleep(0)
    await clock.sleep(60)  # jumps to its own wake-up, not to the deadline, and passes it
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(task, 1)


async def test_the_system_timeout_is_asyncio_timeout_on_real_time() -> None:
    with pytest.raises(TimeoutError):
        async with SystemClock().timeout(0.01):
            await asyncio.sleep(1)
