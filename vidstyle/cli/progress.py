"""Turns pipeline and training events into tqdm progress bars (display only, on stderr)."""

from __future__ import annotations

import math
import sys
import time

from tqdm import tqdm

from vidstyle.engines.base import IterationDone
from vidstyle.pipeline.events import FrameDone, FrameStarted, PassStarted, WorkResumed

SLOW_ITERATION_S = 1.0  # iterations slower than this update the bar each time, with their duration


class ProgressReporter:
    """A progress bar over frames with ETA, showing per-frame iterations and loss.

    Pass ``on_start`` and ``on_event`` to ``stylize_video``; call ``close()`` at the end.
    """

    def __init__(self, *, enabled: bool = True, file=None, unit: str = "frame"):
        self.enabled = enabled
        self.file = file or sys.stderr
        self.unit = unit
        self.bar: tqdm | None = None
        self.iteration = 0
        self.size: tuple[int, int] = (0, 0)
        self.iteration_clock = self.postfix_clock = time.monotonic()  # the last iteration's end, the last postfix
        self.training = TrainingBar(enabled=enabled, file=self.file)  # the net engine training before the frames

    def on_start(self, info, size) -> None:
        self.size = size
        self._open(info.num_frames or None, f"{size[0]}x{size[1]}")

    def _open(self, total: int | None, desc: str) -> None:
        if self.enabled:
            self.bar = tqdm(total=total, unit=self.unit, file=self.file, dynamic_ncols=True, desc=desc)

    def on_event(self, event) -> None:
        if type(event).__module__.startswith("vidstyle.training"):
            self.training.on_event(event)
            return
        if isinstance(event, WorkResumed) and event.restart_reason:
            self.write(f"starting over: {event.restart_reason}")
        elif isinstance(event, WorkResumed) and event.frames:
            self.write(f"resuming: {event.frames} finished frames found in {event.path}")
        if isinstance(event, PassStarted) and self.bar is not None:  # a bar per pass, with its own total and ETA
            self.bar.close()
            self._open(event.frames, f"pass {event.number}/{event.passes} {self.size[0]}x{self.size[1]}")
        if self.bar is None:
            return
        if isinstance(event, FrameStarted):
            self.iteration = 0
            self.iteration_clock = time.monotonic()
        elif isinstance(event, IterationDone):
            self.iteration = event.iteration
            now = time.monotonic()
            seconds, self.iteration_clock = now - self.iteration_clock, now
            if event.iteration % 10 == 0 or now - self.postfix_clock >= SLOW_ITERATION_S:
                self.postfix_clock = now
                self.bar.set_postfix_str(_iteration_text(event, seconds), refresh=True)
        elif isinstance(event, FrameDone) and event.resumed:
            self.bar.set_postfix_str("resumed", refresh=False)
            self.bar.update(1)
        elif isinstance(event, FrameDone):
            r = event.result
            self.bar.set_postfix_str(_frame_text(r, event.cold_start), refresh=False)
            self.bar.update(1)

    def write(self, message: str) -> None:
        """A status line that does not break the bar; silent when disabled."""
        if self.enabled:
            (self.bar.write if self.bar is not None else print)(message, file=self.file)

    def close(self) -> None:
        self.training.close()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _iteration_text(event: IterationDone, seconds: float) -> str:
    """``iter 12/168 3840x2160 250 s/it loss 1.2e+07``: the budget, the size
    and the time per iteration where the engine states them and it is slow."""
    text = f"iter {event.iteration}" + (f"/{event.budget}" if event.budget else "")
    if event.size is not None:
        text += f" {event.size[0]}x{event.size[1]}"
    if seconds >= SLOW_ITERATION_S:
        text += f" {seconds:.3g} s/it"
    return f"{text} loss {event.loss:.3g}" if math.isfinite(event.loss) else text


def _frame_text(result, cold_start: bool) -> str:
    """``12 it (cold) loss 3.4e+04`` for an optimized frame; ``1 pass`` for a
    network's frame, which computes no loss (``2 passes``: also painted at the
    output size by the detail stage)."""
    cold = " (cold)" if cold_start else ""
    if "total" not in result.losses:
        return f"{result.num_iters} pass{'es' if result.num_iters != 1 else ''}{cold}"
    return f"{result.num_iters} it{cold} loss {result.losses['total']:.3g}"


class TrainingBar:
    """Training events -> a tqdm bar over steps (or over the time budget), with loss and ETA."""

    def __init__(self, *, enabled: bool = True, file=None):
        self.enabled = enabled
        self.file = file or sys.stderr
        self.bar = None
        self.by_time = False

    def on_event(self, event) -> None:
        from vidstyle.training import CheckpointSaved, StepDone, TrainingDone, TrainingNote, TrainingStarted

        if not self.enabled:
            return
        if isinstance(event, TrainingNote):
            print(f"note: {event.message}", file=self.file)
        elif isinstance(event, TrainingStarted):
            from tqdm import tqdm

            if event.restart_reason:
                print(f"starting over: {event.restart_reason}", file=self.file)
            elif event.step:
                print(f"resuming from step {event.step} ({event.elapsed_s / 60:.1f} min done)", file=self.file)
            self.by_time = event.steps is None and event.budget_s is not None
            total = round(event.budget_s) if self.by_time and event.budget_s is not None else event.steps
            self.bar = tqdm(
                total=total,
                initial=round(event.elapsed_s) if self.by_time else event.step,
                unit="s" if self.by_time else "step",
                file=self.file,
                dynamic_ncols=True,
                desc=f"training {event.size[0]}x{event.size[1]} on {event.pairs} pairs",
            )
        elif isinstance(event, StepDone) and self.bar is not None:
            eta = f" eta {event.eta_s / 60:.1f} min" if event.eta_s is not None else ""
            self.bar.set_postfix_str(f"step {event.step} loss {event.loss:.4g}{eta}", refresh=False)
            if self.by_time:
                self.bar.update(max(0, min(self.bar.total, round(event.elapsed_s)) - self.bar.n))
            else:
                self.bar.update(1)
        elif isinstance(event, CheckpointSaved) and self.bar is not None:
            self.bar.set_description_str(f"training (checkpoint at step {event.step})", refresh=False)
        elif isinstance(event, TrainingDone):
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
