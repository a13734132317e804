"""The live loop: the newest frame, warm-started from the frames actually
processed, stylized within its time budget, handed to the sinks.

    capture thread (capture.py):  source -> LatestFrame mailbox
    this loop:  take the newest -> processing size -> motion relative to the
                previous *processed* frames (motion.MotionEstimator) -> warm
                start (motion.WarmStarter) -> engine.stylize(content, warm,
                max_iters=what the budget allows) -> output size -> sinks

The loop talks to the engine only through the ``engines.Engine`` protocol.

Departure from the file pipeline (Ruder et al. 2016 cold-start a frame the
flow explains badly): live frames are far apart, the dropped frames lie
between them, so fast motion often leaves less than
``config.scene_cut_threshold`` of a frame reliable (testsrc2 at 30 fps: 18%
after 10 frames). Cold-starting then would cost every frame a full restart.
So live mode cuts on colour only (``LIVE_CUT_POLICY``: hue-saturation
histograms unrelated means another shot: cold start, history forgotten), and
a mostly unreliable frame is warm-started with the content frame where the
flow is unreliable (``content_fill_below=scene_cut_threshold``: the few live
iterations could not repaint stale texture there) while the temporal loss,
masked, holds the rest.

A run's duration (``LiveOptions.duration_s``) is a hard end: frames are
budgeted no further than it, a frame still being stylized when it comes is
abandoned at the engine's next iteration, and nothing comes out stamped at or
after it. The one exception is the first frame, always finished (a recording
shows it from the start; without it there is nothing to show).

Why this module is long: the run's options, its three events and the loop
that produces them are one unit (the summary's invariants follow the loop's
counters); split apart they would have to share the loop's private state.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine, FrameResult, IterationDone
from vidstyle.errors import InputError, VidstyleError
from vidstyle.frames import Frame, WarmStart
from vidstyle.live.budget import COLD_BUDGET_FACTOR, IterationBudget, IterationClock
from vidstyle.live.capture import Captured, CaptureThread, LatestFrame
from vidstyle.live.sinks import OUTPUT_TIME_BASE, PreviewWindow, RecordingSink, Sink
from vidstyle.media.images import preserve_colors, resize, save_image
from vidstyle.motion.estimate import CutPolicy, MotionEstimator
from vidstyle.motion.warmstart import WarmStarter, WarmStartPolicy

DEFAULT_TARGET_FPS = 2.0  # when neither target_fps nor max_latency_s is given: the best trade-off in benchmarks/live.py
LIVE_CUT_POLICY = CutPolicy(min_reliable_fraction=None)  # cut on colour only (see the module docstring)
POLL_S = 0.05  # how often the loop looks at stop requests and preview keys while waiting for a frame
STATUS_INTERVAL_S = 1.0  # status events at most this often
LATENCY_SAMPLES = 20_000  # latency statistics over at most this many recent frames


# ------------------------------------------------------------------------------ events


@dataclasses.dataclass(frozen=True)
class LiveStatus:
    """Reported every ``STATUS_INTERVAL_S`` while running.

    Attributes:
        elapsed_s: seconds since the loop started.
        frames_in, frames_stylized, frames_dropped: counts so far.
        output_fps: stylized frames per second since the previous status.
        latency_s: capture-to-output latency of the last frame, seconds.
        num_iters: iterations spent on the last frame.
        paused: the preview's pause key is on.
    """

    elapsed_s: float
    frames_in: int
    frames_stylized: int
    frames_dropped: int
    output_fps: float
    latency_s: float | None
    num_iters: int | None
    paused: bool


@dataclasses.dataclass(frozen=True)
class StillSaved:
    """The preview's s key saved the current output as ``path``."""

    path: str


LiveEvent = LiveStatus | StillSaved


@dataclasses.dataclass(frozen=True)
class LiveSummary:
    """What a live run did. Times in seconds; latency is from the frame's
    arrival to the moment its stylized version was handed to every sink.

    Invariant: ``frames_in == frames_stylized + frames_dropped``;
    ``cold_starts`` (first frame, scene cuts) are among ``frames_stylized``.
    """

    source: str
    frames_in: int
    frames_stylized: int
    frames_dropped: int
    dropped_fraction: float
    latency_median_s: float | None
    latency_p90_s: float | None
    output_fps: float
    mean_iters: float
    seconds: float
    processing_size: tuple[int, int] | None
    recording: str | None
    max_mailbox_depth: int
    cold_starts: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- options


@dataclasses.dataclass(frozen=True)
class LiveOptions:
    """Real-time policy of a live run.

    Attributes:
        target_fps: budget each frame ``1 / target_fps`` seconds of processing.
        max_latency_s: instead, budget each frame what is left of this many
            seconds since its capture (wins over ``target_fps`` when both are set).
        duration_s: stop after this many seconds (None: until stopped): no
            frame is output at or after it (but the first; see the module
            docstring) and a recording lasts exactly this long.
        still_dir: where the preview's s key saves PNG stills.
    """

    target_fps: float | None = DEFAULT_TARGET_FPS
    max_latency_s: float | None = None
    duration_s: float | None = None
    still_dir: str = "."

    def __post_init__(self) -> None:
        for name in ("target_fps", "max_latency_s", "duration_s"):
            value = getattr(self, name)
            if value is None:
                continue
            # a duration may be infinite (until stopped); an infinite rate or latency is no budget
            if not (value > 0 and (name == "duration_s" or math.isfinite(value))):
                raise InputError(
                    f"{name.replace('_s', '').replace('_', '-')} must be a finite positive number, got {value}"
                )
        if self.target_fps is None and self.max_latency_s is None:
            raise InputError("live mode needs a time budget: --target-fps or --max-latency")

    def frame_budget_s(self, *, captured_s: float, now_s: float) -> float:
        """Seconds this frame may take from now until it is output."""
        if self.max_latency_s is not None:
            return self.max_latency_s - (now_s - captured_s)
        assert self.target_fps is not None  # __post_init__
        return 1.0 / self.target_fps

    @property
    def nominal_fps(self) -> float:
        """The output rate aimed at: a hint for encoders."""
        if self.max_latency_s is not None:
            return 1.0 / self.max_latency_s
        assert self.target_fps is not None  # __post_init__
        return self.target_fps


def default_num_threads(engine: str = "optimize") -> int:
    """Torch threads in live mode. The optimizer: all cores but one, which is
    left to decoding, flow and encoding (measured on 2 cores: 2 torch threads
    beside a busy capture thread made each iteration several times slower).
    The network engine (``net``): all cores; its one short pass per frame
    leaves the other threads room (measured on 2 cores, 320x240,
    benchmarks/live.py --model: 11.9 fps blended / 18.1 raw with 2 threads,
    8.6 / 9.7 with 1)."""
    cores = os.cpu_count() or 1
    return max(1, cores if engine == "net" else cores - 1)


# -------------------------------------------------------------------------------- loop


def run_live(
    frames: Iterable[Frame],
    engine: Engine,
    *,
    config: StyleConfig,
    size: tuple[int, int] | None = None,
    output_size: tuple[int, int] | None = None,
    options: LiveOptions = LiveOptions(),
    sinks: Sequence[Sink] = (),
    preview: PreviewWindow | None = None,
    on_event: Callable[[LiveEvent], None] | None = None,
    stop: threading.Event | None = None,
    source_name: str = "live",
    clock: Callable[[], float] = time.monotonic,
) -> LiveSummary:
    """Stylize a live source until it ends, ``stop`` is set, ``duration_s``
    passes, the preview quits or Ctrl-C; then finalize the sinks.

    Args:
        frames: the source (e.g. ``media.LiveSource.frames()``), iterated on
            a capture thread at its own pace and closed there.
        engine: any ``engines.Engine`` (``make_engine``).
        config: the run's options; live mode reads its temporal ones
            (``temporal``, ``warm_start``, ``flow``, ``long_term``,
            ``temporal_weight``, ``scene_cut_threshold``) and ``preserve_colors``.
        size: processing ``(width, height)`` (``sizing.choose_size``); frames
            of another size are resized when taken, so dropped frames cost
            nothing. None: frames are stylized at the size they come in.
        output_size: ``(width, height)`` the sinks get: each stylized frame
            (and the source frame beside it) resized to it (no detail stage:
            the processing-size result scaled). None: the processing size.
        options: time budget and duration.
        sinks: get every stylized frame; closed at the end (a recording is
            finalized even after Ctrl-C, its last frame held until the run
            stopped: ``Sink``'s optional ``hold_until``).
        preview: a window (also a sink) whose keys quit, pause and save stills.
        on_event: receives ``LiveStatus`` (throttled) and ``StillSaved``.
        stop: set it (from a signal handler, another thread) to end the run.
        source_name: for the summary.
        clock: monotonic seconds (injectable for tests).

    Returns the LiveSummary. Raises the source's error (CorruptInputError)
    or a sink's OutputError after every sink has been closed.
    """
    loop = _LiveLoop(
        engine,
        config=config,
        size=size,
        output_size=output_size,
        options=options,
        sinks=list(sinks) + ([preview] if preview else []),
        preview=preview,
        on_event=on_event or (lambda event: None),
        stop=stop or threading.Event(),
        clock=clock,
    )
    return loop.run(frames, source_name=source_name)


class _LiveLoop:
    """The state of one live run (see ``run_live``)."""

    def __init__(
        self,
        engine: Engine,
        *,
        config: StyleConfig,
        size,
        output_size,
        options: LiveOptions,
        sinks,
        preview,
        on_event,
        stop,
        clock,
    ):
        self.engine, self.config, self.target_size = engine, config, size
        self.output_size = tuple(output_size) if output_size is not None else None
        self.options, self.sinks, self.preview = options, sinks, preview
        self.emit, self.stop, self.clock = on_event, stop, clock
        # Warm starts exist only for engines that use them; flow only when they follow motion.
        self.starter = (
            WarmStarter(WarmStartPolicy.from_config(config, content_fill_below=config.scene_cut_threshold))
            if engine.wants_warm_start
            else None
        )
        self.motion = (
            MotionEstimator(method=config.flow, offsets=config.long_term, cut=LIVE_CUT_POLICY)
            if engine.wants_warm_start and config.temporal
            else None
        )
        self.budget = IterationBudget(
            max_iters=engine.max_iters(cold=False),
            max_iters_cold=engine.max_iters(cold=True),
            min_iters=engine.min_iters,
        )
        self.mailbox: LatestFrame[Captured] = LatestFrame()
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.first_output_s: float | None = None
        self.last_output_s: float | None = None
        self.total_iters = 0
        self.taken = self.stylized = self.cold_starts = 0
        self.paused = False
        self.last_output: Frame | None = None
        self.last_status = (0.0, 0)  # (time, frames stylized) of the previous status event
        self.last_result: FrameResult | None = None
        self.size: tuple[int, int] | None = None
        self.started_s = 0.0
        self.end_s: float | None = None  # the clock's time when duration_s is up; None: no duration

    @property
    def end_ticks(self) -> int | None:
        """``duration_s`` in output ticks; None: no duration."""
        duration = self.options.duration_s
        return round(duration / OUTPUT_TIME_BASE) if duration is not None and math.isfinite(duration) else None

    def run(self, frames: Iterable[Frame], *, source_name: str) -> LiveSummary:
        capture = CaptureThread(frames, self.mailbox, clock=self.clock)
        self.started_s = self.clock()
        if self.options.duration_s is not None and math.isfinite(self.options.duration_s):
            self.end_s = self.started_s + self.options.duration_s
        self.last_status = (self.started_s, 0)
        capture.start()
        error: BaseException | None = None
        try:
            self._loop()
        except KeyboardInterrupt:
            pass  # Ctrl-C is a stop request like any other: the sinks are finalized below
        except VidstyleError as err:
            error = err
        finally:
            end_pts = self._end_pts() if error is None else None
            capture.stop()
            leftover = int(self.mailbox.take(timeout=0) is not None)
            close_error = self._close_sinks(hold_until=end_pts)
            if self.motion is not None:
                self.motion.close()
        error = error or capture.error or close_error
        if error is not None:
            raise error
        return self._summary(source_name, capture.frames_in, self.mailbox.dropped + leftover)

    def _loop(self) -> None:
        while not self._should_stop():
            self._handle(self.preview.poll() if self.preview else None)
            captured = self.mailbox.take(timeout=POLL_S)
            if captured is None:
                if self.mailbox.finished:
                    return
            else:
                self.taken += 1  # while paused, taken and dropped
                if not self.paused:
                    self._process(captured)
            self._report(force=False)

    def _should_stop(self) -> bool:
        return self.stop.is_set() or (self.end_s is not None and self.clock() >= self.end_s)

    def _handle(self, command: str | None) -> None:
        if command == "quit":
            self.stop.set()
        elif command == "pause":
            self.paused = not self.paused
            self._report(force=True)
        elif command == "save" and self.last_output is not None:
            self.emit(StillSaved(self._save_still(self.last_output)))

    def _process(self, captured: Captured) -> None:
        """Stylize one frame within its budget and hand it to the sinks; a
        frame the end of the run (``duration_s``) overtakes is abandoned
        (counted as dropped), except the first."""
        started_s = self.clock()
        source = self._at_processing_size(captured.frame)
        content = source.image_u8
        self.size = source.size
        warm = self._warm_start(content)
        cold = warm is None and self.engine.wants_warm_start  # an engine without warm starts has no cold ones
        budget_s = self.options.frame_budget_s(captured_s=captured.captured_s, now_s=started_s)
        budget_s *= COLD_BUDGET_FACTOR if cold else 1.0
        if self.end_s is not None:
            budget_s = min(budget_s, self.end_s - started_s)  # done by the end of the run
        max_iters = self.budget.iters_for(budget_s, cold=cold)
        timer = IterationClock(self.clock)
        bounded = self.end_s is not None and self.stylized > 0  # the first frame is always finished
        try:
            result = self.engine.stylize(
                content, warm, max_iters=max_iters, on_iteration=self._until_end(timer) if bounded else timer
            )
        except _RunEnded:
            return
        output = self._output_frame(result.image_u8, content)
        end_ticks = self.end_ticks
        if bounded and end_ticks is not None and output.pts is not None and output.pts >= end_ticks:
            return  # finished after the end (after its last iteration): not shown
        if self.starter is not None:
            self.starter.remember(result.image_u8)
        shown = source
        if self.output_size is not None:  # no detail stage live: the result scaled
            output = output.with_image(resize(output.image_u8, self.output_size))
            shown = self._at_size(captured.frame, self.output_size)
        for sink in self.sinks:
            sink.write(output, shown)
        finished_s = self.clock()
        if not cold:
            self.budget.update(num_iters=timer.count, iterations_s=timer.iterations_s, frame_s=finished_s - started_s)
        self.latencies.append(finished_s - captured.captured_s)
        self.first_output_s = self.first_output_s if self.first_output_s is not None else finished_s
        self.last_output_s = finished_s
        self.total_iters += result.num_iters
        self.stylized += 1
        self.cold_starts += int(cold)
        self.last_output, self.last_result = output, result

    def _until_end(self, timer: IterationClock) -> Callable[[IterationDone], None]:
        """``timer``, then ``_RunEnded`` from inside the engine once the run's end has come."""
        end_s = self.end_s
        assert end_s is not None  # only for runs with a duration

        def on_iteration(event: IterationDone) -> None:
            timer(event)
            if self.clock() >= end_s:
                raise _RunEnded

        return on_iteration

    def _at_processing_size(self, frame: Frame) -> Frame:
        return frame if self.target_size is None else self._at_size(frame, self.target_size)

    @staticmethod
    def _at_size(frame: Frame, size) -> Frame:
        if frame.size == tuple(size):
            return frame
        return frame.with_image(resize(frame.image_u8, size))

    def _end_pts(self) -> int:
        """When the run stopped, in output ticks since the start: now, or the
        end of ``duration_s`` when the loop noticed it late."""
        now = round((self.clock() - self.started_s) / OUTPUT_TIME_BASE)
        end_ticks = self.end_ticks
        return now if end_ticks is None else min(now, end_ticks)

    def _warm_start(self, content_u8: np.ndarray) -> WarmStart | None:
        """How ``content_u8`` starts from the frames processed before it (None: cold)."""
        if self.starter is None:
            return None
        motion = self.motion.observe(content_u8) if self.motion is not None else None
        return self.starter.start(content_u8, motion)

    def _output_frame(self, image_u8: np.ndarray, content_u8: np.ndarray) -> Frame:
        """The stylized frame stamped with the wall clock (ms since the start)."""
        if self.config.preserve_colors:
            image_u8 = preserve_colors(image_u8, content_u8)
        pts = round((self.clock() - self.started_s) / OUTPUT_TIME_BASE)
        return Frame(image_u8=np.ascontiguousarray(image_u8), pts=pts, time_base=OUTPUT_TIME_BASE, index=self.stylized)

    def _save_still(self, output: Frame) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(self.options.still_dir, f"vidstyle-live-{stamp}-{output.index:05d}.png")
        save_image(path, output.image_u8)
        return path

    def _report(self, *, force: bool) -> None:
        now = self.clock()
        last_s, last_count = self.last_status
        if not force and now - last_s < STATUS_INTERVAL_S:
            return
        self.last_status = (now, self.stylized)
        self.emit(
            LiveStatus(
                elapsed_s=now - self.started_s,
                frames_in=self.taken + self.mailbox.dropped + len(self.mailbox),
                frames_stylized=self.stylized,
                frames_dropped=self.mailbox.dropped + self.taken - self.stylized,
                output_fps=(self.stylized - last_count) / max(now - last_s, 1e-9),
                latency_s=self.latencies[-1] if self.latencies else None,
                num_iters=self.last_result.num_iters if self.last_result else None,
                paused=self.paused,
            )
        )

    def _close_sinks(self, *, hold_until: int | None = None) -> BaseException | None:
        """Close every sink; returns the first error (the others still close).
        ``hold_until`` (output ticks; None after an error): recordings hold
        their last frame until then, so they last as long as the run."""
        first_error = None
        for sink in self.sinks:
            hold = getattr(sink, "hold_until", None)  # optional (Sink): recordings have it
            if hold_until is not None and hold is not None:
                try:
                    hold(hold_until)
                except VidstyleError as err:
                    first_error = first_error or err
            try:
                sink.close()
            except VidstyleError as err:
                first_error = first_error or err
        return first_error

    def _summary(self, source_name: str, frames_in: int, dropped_in_mailbox: int) -> LiveSummary:
        dropped = dropped_in_mailbox + self.taken - self.stylized
        latencies = sorted(self.latencies)
        span_s = 0.0
        if self.first_output_s is not None and self.last_output_s is not None:
            span_s = self.last_output_s - self.first_output_s
        recording = next((s.path for s in self.sinks if isinstance(s, RecordingSink)), None)
        return LiveSummary(
            source=source_name,
            frames_in=frames_in,
            frames_stylized=self.stylized,
            frames_dropped=dropped,
            dropped_fraction=round(dropped / frames_in, 4) if frames_in else 0.0,
            latency_median_s=round(statistics.median(latencies), 4) if latencies else None,
            latency_p90_s=round(_percentile(latencies, 0.9), 4) if latencies else None,
            output_fps=round((self.stylized - 1) / span_s, 3) if span_s > 0 else 0.0,
            mean_iters=round(self.total_iters / self.stylized, 2) if self.stylized else 0.0,
            seconds=round(self.clock() - self.started_s, 3),
            processing_size=self.size or (tuple(self.target_size) if self.target_size else None),
            recording=recording,
            max_mailbox_depth=self.mailbox.max_depth,
            cold_starts=self.cold_starts,
        )


class _RunEnded(Exception):
    """Raised from the engine's ``on_iteration`` callback when the run's
    duration is up: the frame being stylized would come out after the end."""


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]
