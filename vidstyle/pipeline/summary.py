"""What a finished file run did, accumulated frame by frame in constant memory
(an hour of video is 100,000 frames: no per-frame event is kept)."""

from __future__ import annotations

import dataclasses
from array import array

from vidstyle.pipeline.events import FrameDone


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What a finished run did. Times in seconds."""

    output: str
    frames: int  # stylized frames (after --fps dropped what is never shown)
    resumed_frames: int  # taken from an interrupted run's work directory
    computed_frames: int  # stylized by this run (frames - resumed_frames)
    frames_written: int  # output frames (--fps repeats or drops)
    seconds: float
    seconds_per_frame: float
    first_frame_seconds: float
    steady_seconds_per_frame: float | None  # median over warm-started frames; None without any
    mean_iters: float
    processing_size: tuple[int, int]
    device: str
    engine: str
    precision: str | None = None  # what the engine computes in (fp32, bf16, fp16), when it says
    compile: dict | None = None  # --compile's counters: compiles, seconds, first frame, fallback
    device_peak_mb: float | None = None  # CUDA: torch.cuda.max_memory_allocated over the run, MiB

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class RunStats:
    """Receives every ``FrameDone`` of a run and keeps only counts, sums and
    the steady frames' seconds (8 bytes a frame, for the median)."""

    def __init__(self):
        self.frames = 0  # distinct frames (multi-pass reports a frame once per pass)
        self.resumed = 0
        self.computed_iters = 0
        self.computed_events = 0
        self.first_seconds: float | None = None
        self.steady_seconds = array("d")
        self._highest_index = -1

    def add(self, event: FrameDone) -> None:
        if event.index > self._highest_index:  # the first pass visits indices in increasing order
            self._highest_index = event.index
            self.frames += 1
            self.resumed += int(event.resumed)
        if event.resumed:
            return
        self.computed_events += 1
        self.computed_iters += event.result.num_iters
        if self.first_seconds is None:
            self.first_seconds = event.result.seconds
        if not event.cold_start:
            self.steady_seconds.append(event.result.seconds)

    def summary(
        self,
        *,
        output: str,
        seconds: float,
        size,
        device: str,
        engine: str,
        frames_written: int,
        precision: str | None = None,
        compile: dict | None = None,
        device_peak_mb: float | None = None,
    ) -> RunSummary:
        """Timing over the frames this run computed (replayed frames cost nothing)."""
        computed_frames = self.frames - self.resumed
        steady = sorted(self.steady_seconds)
        return RunSummary(
            output=output,
            frames=self.frames,
            resumed_frames=self.resumed,
            computed_frames=computed_frames,
            frames_written=frames_written,
            seconds=round(seconds, 3),
            seconds_per_frame=round(seconds / max(1, computed_frames), 3),
            first_frame_seconds=round(self.first_seconds or 0.0, 3),
            steady_seconds_per_frame=round(steady[len(steady) // 2], 3) if steady else None,
            mean_iters=round(self.computed_iters / max(1, self.computed_events), 2),
            processing_size=tuple(size),
            device=device,
            engine=engine,
            precision=precision,
            compile=compile,
            device_peak_mb=device_peak_mb,
        )
