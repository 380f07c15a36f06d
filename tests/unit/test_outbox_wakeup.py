"""The consumer loop's wait: woken by an event or a timeout, and always stoppable."""

import asyncio

import pytest

from exchange.kernel.outbox import wait_for_wakeup


async def test_a_cancellation_that_lands_as_the_event_is_set_still_stops_the_waiter():
    # asyncio.wait_for on Python 3.11 returns normally here, which left the service's shutdown waiting forever.
    wakeup = asyncio.Event()
    waiter = asyncio.create_task(wait_for_wakeup(wakeup, 10))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    wakeup.set()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_returns_when_woken():
    wakeup = asyncio.Event()
    waiter = asyncio.create_task(wait_for_wakeup(wakeup, 10))
    await asyncio.sleep(0)
    wakeup.set()
    await asyncio.wait_for(waiter, 1)
    assert waiter.done() and not waiter.cancelled()


async def test_returns_after_the_timeout_without_a_wakeup():
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_for_wakeup(asyncio.Event(), 0.05)
    assert loop.time() - started >= 0.05
