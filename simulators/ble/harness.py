"""Run a simulation scenario from synchronous code (tests, scripts) without an asyncio test plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from simulators.ble.world import PasskeyAgent, SimClock, SimulatedAir

T = TypeVar("T")

DEFAULT_SCENARIO_TIMEOUT = 30.0
"""Real seconds; a hung scenario (a central waiting for a value that never comes) fails instead of
blocking the test run until pytest-timeout kills the whole process."""


def run_sim(
    scenario: Callable[[SimulatedAir], Awaitable[T]],
    *,
    timeout: float = DEFAULT_SCENARIO_TIMEOUT,
    clock: SimClock | None = None,
    agent: PasskeyAgent | None = None,
) -> T:
    """Create an air inside a fresh event loop, run ``scenario(air)``, close the air and return the result.

    Exceptions raised inside the simulation are re-raised (``ExceptionGroup``) when the air closes.
    """

    async def main() -> T:
        async with SimulatedAir(clock=clock, agent=agent) as air:
            async with asyncio.timeout(timeout):
                return await scenario(air)

    return asyncio.run(main())
