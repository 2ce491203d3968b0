"""Keeping a control loop at a fixed rate, and saying when it could not."""

from __future__ import annotations

import time


class RateKeeper:
    """Sleeps until the next tick of a ``hz`` clock; reports each period and its overrun (seconds)."""

    def __init__(self, hz: float) -> None:
        self.period = 1.0 / hz
        self.reset()

    def reset(self) -> None:
        self._last = time.perf_counter()
        self._next = self._last + self.period

    def wait(self) -> tuple[float, float]:
        """Sleep until the next tick. Returns (period since the last tick, overrun): overrun > 0 means the
        work took longer than one period and the clock restarted from now instead of bursting to catch up."""
        now = time.perf_counter()
        overrun = max(0.0, now - self._next)
        if overrun == 0.0:
            time.sleep(self._next - now)
            now = time.perf_counter()
        period, self._last = now - self._last, now
        self._next = (self._next + self.period) if overrun == 0.0 else now + self.period
        return period, overrun
