"""The one clock of a running stack: wall-clock time plus an offset that tests may move forward.

Every time-based behaviour (status transitions, timestamps, Cloud Control request progress, client
token expiry) reads this clock, so ``advance(seconds)`` moves all of them together and tests of polling
code need no sleeps. The offset only grows: time never runs backwards for a client.
"""

from __future__ import annotations

import math
import time


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def millis(self) -> float:
        """Millisecond precision, as AWS reports times: what is stored is exactly what clients see."""
        return round(time.time() + self.offset, 3)

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward; returns the new offset."""
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds):
            raise ValueError(f"seconds must be a finite number, not {seconds!r}")
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += float(seconds)
        return self.offset

    def reset(self) -> None:
        self.offset = 0.0
