"""The time budget: how many engine iterations fit in the seconds a frame may take.

Each live frame gets a time budget (``LiveOptions.frame_budget_s``);
``IterationBudget`` turns it into an iteration cap from the measured speed of
the engine, and ``IterationClock`` (the engine's ``on_iteration`` callback)
measures that speed. The engine's own limits bound the cap: its
``max_iters(cold=...)`` above, its ``min_iters`` below (the fewest iterations
that change a frame at all, given even when the budget is already spent).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from vidstyle.engines.base import IterationDone

EMA_WEIGHT = 0.3  # weight of the newest measurement in the seconds-per-iteration estimates
CALIBRATION_ITERS = 4  # iterations per frame until seconds-per-iteration has been measured
COLD_BUDGET_FACTOR = 3.0  # a cold start (first frame, scene cut) may take this many frame budgets


class IterationBudget:
    """Turns a time budget into an iteration cap from measured speed.

    Model: a frame costs ``overhead_s + num_iters * iter_s`` (overhead: flow,
    content features, the final loss evaluation, sinks). Both terms are EMAs
    of warm-started frames; until measured, frames get ``CALIBRATION_ITERS``.

    Args:
        max_iters: cap of a warm-started frame (``engine.max_iters(cold=False)``);
            ``max_iters_cold`` of a cold start (``engine.max_iters(cold=True)``).
        min_iters: floor, even when the budget is already spent (``engine.min_iters``).
        smoothing: weight of the newest measurement (0..1].
    """

    def __init__(self, *, max_iters: int, max_iters_cold: int, min_iters: int = 1, smoothing: float = EMA_WEIGHT):
        if not 0 < smoothing <= 1:
            raise ValueError(f"smoothing must be in (0, 1], got {smoothing}")
        if min_iters < 0 or max_iters < 1 or max_iters_cold < 1:
            raise ValueError(
                f"iteration limits must be positive, got max_iters={max_iters}, "
                f"max_iters_cold={max_iters_cold}, min_iters={min_iters}"
            )
        self.max_iters, self.max_iters_cold, self.min_iters = max_iters, max_iters_cold, min_iters
        self.smoothing = smoothing
        self.iter_s: float | None = None  # seconds per engine iteration
        self.overhead_s = 0.0  # seconds per frame outside the iterations

    def iters_for(self, budget_s: float, *, cold: bool = False) -> int:
        """Iterations that fit in ``budget_s`` seconds for the whole frame."""
        cap = self.max_iters_cold if cold else self.max_iters
        if self.iter_s is None:
            return max(self.min_iters, min(CALIBRATION_ITERS, cap))
        fit = math.floor((budget_s - self.overhead_s) / self.iter_s)
        return max(self.min_iters, min(fit, cap))

    def update(self, *, num_iters: int, iterations_s: float, frame_s: float) -> None:
        """Learn from a warm-started frame: ``num_iters`` iterations took
        ``iterations_s`` seconds from the first iteration's end to the last's
        (so ``num_iters - 1`` iterations), the whole frame ``frame_s``."""
        if num_iters < 2:
            return
        iter_s = iterations_s / (num_iters - 1)
        overhead_s = max(0.0, frame_s - num_iters * iter_s)
        if self.iter_s is None:
            self.iter_s, self.overhead_s = iter_s, overhead_s
        else:
            self.iter_s = self._blend(self.iter_s, iter_s)
            self.overhead_s = self._blend(self.overhead_s, overhead_s)

    def _blend(self, old: float, new: float) -> float:
        return (1 - self.smoothing) * old + self.smoothing * new


class IterationClock:
    """An ``on_iteration`` callback that notes when the first and last
    iterations of one frame ended (feed it to ``IterationBudget.update``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.count = 0
        self.first_s = self.last_s = 0.0

    def __call__(self, event: IterationDone) -> None:
        now = self._clock()
        if self.count == 0:
            self.first_s = now
        self.last_s = now
        self.count += 1

    @property
    def iterations_s(self) -> float:
        """Seconds from the first iteration's end to the last's."""
        return self.last_s - self.first_s
