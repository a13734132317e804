"""Turns pipeline events into a tqdm progress bar (display only, on stderr)."""

from __future__ import annotations

import sys

from tqdm import tqdm

from vidstyle.engines.base import IterationDone
from vidstyle.pipeline.events import FrameDone, FrameStarted


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

    def on_start(self, info, size) -> None:
        if self.enabled:
            self.bar = tqdm(
                total=info.num_frames or None,
                unit=self.unit,
                file=self.file,
                dynamic_ncols=True,
                desc=f"{size[0]}x{size[1]}",
            )

    def on_event(self, event) -> None:
        if getattr(event, "restart_reason", None):
            self.write(f"starting over: {event.restart_reason}")
        elif getattr(event, "frames", 0):  # WorkResumed
            self.write(f"resuming: {event.frames} finished frames found in {event.path}")
        if self.bar is None:
            return
        if isinstance(event, FrameStarted):
            self.iteration = 0
        elif isinstance(event, IterationDone):
            self.iteration = event.iteration
            if event.iteration % 10 == 0:
                self.bar.set_postfix_str(f"iter {event.iteration} loss {event.loss:.3g}", refresh=True)
        elif isinstance(event, FrameDone) and event.resumed:
            self.bar.set_postfix_str("resumed", refresh=False)
            self.bar.update(1)
        elif isinstance(event, FrameDone):
            r = event.result
            loss = f" loss {r.losses['total']:.3g}" if "total" in r.losses else ""  # engines may report no loss
            self.bar.set_postfix_str(f"{r.num_iters} it{' (cold)' if event.cold_start else ''}{loss}", refresh=False)
            self.bar.update(1)

    def write(self, message: str) -> None:
        """A status line that does not break the bar; silent when disabled."""
        if self.enabled:
            (self.bar.write if self.bar is not None else print)(message, file=self.file)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
