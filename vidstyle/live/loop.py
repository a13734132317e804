"""Live mode: stylize a camera or a stream in real time (``vidstyle live``).

    capture thread: source frames -> LatestFrame mailbox (one slot: newer replaces older)
    main thread:    take newest -> flow vs. previous *processed* frame -> budgeted
                    optimization (warm start + temporal loss) -> sinks

Real-time policy. Live video drops frames, files never do: the capture thread
decodes at the source's pace and leaves only the newest frame in a one-slot
mailbox; older frames that the stylizer never took are counted as dropped,
never queued, so memory and latency stay bounded however slow the optimizer
is. Each frame gets a time budget (``1/target_fps``, or what is left of
``max_latency_s`` since its capture) which ``IterationBudget`` turns into an
iteration cap from the measured seconds per iteration (an EMA).

Temporal consistency (Ruder et al. 2016) works between the frames actually
processed: the flow is measured from the previous processed input to the
current one, however many frames were dropped between them; a large gap
simply shows as a larger motion (or a scene cut, which cold-starts).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import math
import os
import signal
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Generic, Protocol, TypeVar

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.errors import InputError, OutputError, VidstyleError
from vidstyle.motion.flow import (HISTOGRAM_CUT_CORRELATION, FlowEstimator, consistency_mask, histogram_correlation,
                   long_term_weights, warp)
from vidstyle.frames import Frame, u8_to_float
from vidstyle.engines.base import IterationDone
from vidstyle.frames import TemporalTarget

T = TypeVar("T")

DEFAULT_TARGET_FPS = 2.0  # when neither --target-fps nor --max-latency is given: the best trade-off in benchmarks/live.py
OUTPUT_TIME_BASE = Fraction(1, 1000)  # output timestamps: milliseconds of wall clock since the start
EMA_WEIGHT = 0.3  # weight of the newest measurement in the seconds-per-iteration estimates
CALIBRATION_ITERS = 4  # iterations per frame until seconds-per-iteration has been measured
# Even a frame over budget gets this many iterations. L-BFGS (no line search)
# takes a tiny first step: measured at 96 px, 12 frames of 1 or 2 L-BFGS
# iterations each left the image exactly as it started (the change rounds
# away in uint8); 3 began to paint. One Adam step already paints.
MIN_ITERS_PER_FRAME = {"adam": 1, "lbfgs": 3}
# Live defaults where the user gave no option (StyleConfig's are for files).
# Adam: at 2-3 iterations per frame it reaches a lower style loss than L-BFGS
# (measured: 12 warm-started frames at 96 px, 3 iterations each: style loss
# 3.9e5 Adam vs 5.2e5 L-BFGS; at 8 iterations L-BFGS wins). See benchmarks/live.py.
# The time budget, not an iteration cap, decides how long a live frame runs;
# the loss and stopping settings are those benchmarks/live.py measured.
LIVE_STYLE_DEFAULTS = {
    "max_side": 128,
    "optimizer": "adam",
    "iters_first": 300,
    "iters_later": 60,
    "temporal_weight": 1000.0,
    "tolerance": 1e-3,
    "tolerance_window": 10,
    "min_iters_later": 10,
}
COLD_BUDGET_FACTOR = 3.0  # a cold start (first frame, scene cut) may take this many frame budgets
POLL_S = 0.05  # how often the loop looks at stop requests and preview keys while waiting for a frame
STATUS_INTERVAL_S = 1.0  # status events at most this often
CAPTURE_JOIN_TIMEOUT_S = 2.0  # wait this long for the capture thread to stop
LATENCY_SAMPLES = 20_000  # latency statistics over at most this many recent frames
PREVIEW_DISPLAY_SIDE = 512  # the preview window shows frames enlarged to this longer side
PREVIEW_TITLE = "vidstyle live"
KEY_WAIT_MS = 1  # cv2.waitKey: poll the keyboard without blocking


# ----------------------------------------------------------------------------- mailbox


class LatestFrame(Generic[T]):
    """A one-slot mailbox between one producer and one consumer: ``put``
    replaces an item not yet taken (counted in ``dropped``), ``take`` waits
    for the newest. It never holds more than one item.

    Thread-safe. ``close()`` wakes the consumer; after it, ``take`` returns
    what is left and then None.
    """

    def __init__(self):
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._changed = threading.Condition()
        self.dropped = 0  # items replaced before anyone took them
        self.max_depth = 0  # the most items ever held at once (1 by construction; tests check it)

    def put(self, item: T) -> bool:
        """Offer ``item``; returns True when it replaced an older, untaken one."""
        with self._changed:
            replaced = self._full
            self.dropped += int(replaced)
            self._item, self._full = item, True
            self.max_depth = max(self.max_depth, 1)
            self._changed.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item, waiting up to ``timeout`` seconds; None when none came."""
        with self._changed:
            if not self._full and not self._closed:
                self._changed.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """No more items will come."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def finished(self) -> bool:
        """Closed and empty: nothing will ever be taken again."""
        with self._changed:
            return self._closed and not self._full

    def __len__(self) -> int:
        with self._changed:
            return int(self._full)


@dataclasses.dataclass(frozen=True)
class Captured:
    """A source frame and when it arrived (``time.monotonic`` seconds)."""

    frame: Frame
    captured_s: float


class CaptureThread:
    """Decodes ``frames`` on a daemon thread into a ``LatestFrame`` mailbox.

    The iterator is used on that thread only, and closed there when the
    thread ends (for ``LiveSource.frames()`` that closes the source). An
    exception from it is kept in ``error``; the mailbox is closed either way.
    """

    def __init__(self, frames: Iterable[Frame], mailbox: LatestFrame[Captured], *,
                 clock: Callable[[], float] = time.monotonic):
        self.frames_in = 0
        self.error: BaseException | None = None
        self._frames = frames
        self._mailbox = mailbox
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vidstyle-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, timeout: float = CAPTURE_JOIN_TIMEOUT_S) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` seconds (a read
        blocked on a silent network source ends at its read timeout); returns
        whether it has stopped."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        iterator = iter(self._frames)
        try:
            for frame in iterator:
                self.frames_in += 1
                self._mailbox.put(Captured(frame, self._clock()))
                if self._stop.is_set():
                    break
        except BaseException as err:  # handed to the live loop
            self.error = err
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            self._mailbox.close()


# ------------------------------------------------------------------------------ budget


class IterationBudget:
    """Turns a time budget into an iteration cap from measured speed.

    Model: a frame costs ``overhead_s + num_iters * iter_s`` (overhead: flow,
    content features, the final loss evaluation, sinks). Both terms are EMAs
    of warm-started frames; until measured, frames get ``CALIBRATION_ITERS``.

    Args:
        max_iters: cap of a warm-started frame; ``max_iters_cold`` of a cold start.
        min_iters: floor, even when the budget is already spent.
        smoothing: weight of the newest measurement (0..1].
    """

    def __init__(self, *, max_iters: int, max_iters_cold: int, min_iters: int = 1, smoothing: float = EMA_WEIGHT):
        if not 0 < smoothing <= 1:
            raise ValueError(f"smoothing must be in (0, 1], got {smoothing}")
        self.max_iters, self.max_iters_cold, self.min_iters = max_iters, max_iters_cold, min_iters
        self.smoothing = smoothing
        self.iter_s: float | None = None  # seconds per optimizer iteration
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
        first = self.iter_s is None
        self.iter_s = iter_s if first else self._blend(self.iter_s, iter_s)
        self.overhead_s = overhead_s if first else self._blend(self.overhead_s, overhead_s)

    def _blend(self, old: float, new: float) -> float:
        return (1 - self.smoothing) * old + self.smoothing * new


class _IterationClock:
    """An ``on_iteration`` callback that notes when the first and last iterations ended."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.count = 0
        self.first_s = self.last_s = 0.0

    def __call__(self, event: IterationDone) -> None:
        now = self._clock()
        if self.count == 0:
            self.first_s = now
        self.last_s = now
        self.count += 1


# ---------------------------------------------------------------------------- temporal


class MotionTracker:
    """Warm starts and temporal targets between the frames actually processed.

    Keeps the last ``max(long_term)`` processed ``(input, output)`` pairs. For
    a new input it measures backward and forward flow to each of them
    (``flow.FlowEstimator``), the consistency masks and long-term weights
    (Ruder et al. 2016, sec. 3.2-3.3), and warps the previous outputs into the
    new frame (bicubic, see ``flow.warp``).

    Departure from the file pipeline: live frames are far apart (the dropped
    frames lie between them), so fast motion often leaves less than
    ``scene_cut_threshold`` of the frame reliable (testsrc2 at 30 fps: 18% after
    10 frames). Cold-starting then would cost every frame a full restart.
    Instead only a change of shot (hue-saturation histograms unrelated,
    ``flow.histogram_correlation``) cold-starts and forgets the history; a
    mostly unreliable frame is warm-started with the content frame where the
    flow is unreliable (the few live iterations could not repaint stale
    texture there) and the temporal loss, masked, holds the rest.
    """

    def __init__(self, config: StyleConfig):
        self.config = config
        self.offsets = tuple(sorted({1, *config.long_term}))
        self.estimator = FlowEstimator(config.flow) if config.temporal else None
        self.history: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=self.offsets[-1])

    def prepare(self, content_u8: np.ndarray) -> tuple[np.ndarray | None, TemporalTarget | None, bool]:
        """``(init, temporal_target, scene_cut)`` for the uint8 ``(H, W, 3)``
        frame ``content_u8``; ``init`` None means a cold start."""
        cfg = self.config
        if not self.history:
            return None, None, False
        if not cfg.temporal:
            return (self.history[-1][1] if cfg.warm_start else None), None, False
        previous_u8 = self.history[-1][0]
        if histogram_correlation(previous_u8, content_u8) < HISTOGRAM_CUT_CORRELATION:
            self.history.clear()
            return None, None, True
        backward, forward = self._flows(content_u8, previous_u8)
        mask = consistency_mask(backward, forward)
        backwards, masks = [backward], [mask]
        for offset in self.offsets[1:]:
            if offset <= len(self.history):
                far_backward, far_forward = self._flows(content_u8, self.history[-offset][0])
                backwards.append(far_backward)
                masks.append(consistency_mask(far_backward, far_forward))
        outputs = [self.history[-k][1] for k in self.offsets[: len(backwards)]]
        warped = [warp(u8_to_float(output), flow) for output, flow in zip(outputs, backwards)]
        init = np.clip(warped[0], 0.0, 1.0)
        if float(mask.mean()) < cfg.scene_cut_threshold:
            init = mask[..., None] * init + (1.0 - mask[..., None]) * u8_to_float(content_u8)
        if cfg.temporal_weight <= 0:
            return init, None, False
        target = TemporalTarget(warped=np.stack(warped).astype(np.float32),
                                weights=np.stack(long_term_weights(masks)).astype(np.float32))
        return init, target, False

    def remember(self, content_u8: np.ndarray, output_u8: np.ndarray) -> None:
        """Record a processed frame and its stylized output."""
        self.history.append((content_u8, output_u8))

    def _flows(self, current_u8: np.ndarray, earlier_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(backward current -> earlier, forward earlier -> current), float32 ``(H, W, 2)``."""
        return self.estimator.estimate(current_u8, earlier_u8), self.estimator.estimate(earlier_u8, current_u8)


# ------------------------------------------------------------------------------- sinks


class Sink(Protocol):
    """Where stylized frames go. ``output`` carries the stylized uint8 RGB
    pixels and the wall-clock pts in ``OUTPUT_TIME_BASE``; ``source`` is the
    input frame it was made from (same size)."""

    def write(self, output: Frame, source: Frame) -> None: ...

    def close(self) -> None: ...


class RecordingSink:
    """Records into a video file through ``io.VideoWriter`` (atomic: the file
    appears when ``close()`` finalizes it). Timestamps are the wall clock,
    starting at 0 with the first frame recorded. Stopped before any frame,
    nothing is written and ``path`` is None."""

    def __init__(self, path, *, width: int, height: int, fps: float, overwrite: bool = False,
                 input_paths: Sequence[str] = ()):
        from vidstyle.media import VideoWriter

        self.path: str | None = os.fspath(path)
        self._writer = VideoWriter(self.path, width=width, height=height, time_base=OUTPUT_TIME_BASE,
                                   fps=Fraction(fps).limit_denominator(1001), shift_to_zero=True,
                                   overwrite=overwrite, input_paths=input_paths)

    def write(self, output: Frame, source: Frame) -> None:
        self._writer.write(output)

    def close(self) -> None:
        if self._writer.frames_written:
            self._writer.close()
        else:
            self._writer.abort()
            self.path = None


class StreamSink:
    """Sends frames to a network URL or a V4L2 loopback device (``streams.StreamWriter``)."""

    def __init__(self, target: str, *, width: int, height: int, fps: float, format: str | None = None):
        from vidstyle.media import StreamWriter

        self._writer = StreamWriter(target, width=width, height=height, fps=fps, format=format)

    def write(self, output: Frame, source: Frame) -> None:
        self._writer.write(output)

    def close(self) -> None:
        self._writer.close()


class PreviewWindow:
    """An OpenCV window showing the output (or input | output side by side),
    enlarged to ``PREVIEW_DISPLAY_SIDE``. ``poll()`` reads the keyboard:
    q or Esc quits, space pauses, s saves a still.

    Raises InputError when there is no display to open a window on.
    """

    KEYS = {ord("q"): "quit", 27: "quit", ord(" "): "pause", ord("s"): "save"}

    def __init__(self, *, side_by_side: bool = False, title: str = PREVIEW_TITLE):
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise InputError("--preview needs a display (DISPLAY is not set); record with -o instead")
        import cv2

        self._cv2 = cv2
        self.side_by_side = side_by_side
        self.title = title
        self._cv2.namedWindow(self.title, self._cv2.WINDOW_AUTOSIZE)

    def write(self, output: Frame, source: Frame) -> None:
        image = np.hstack([source.image_u8, output.image_u8]) if self.side_by_side else output.image_u8
        scale = max(1.0, PREVIEW_DISPLAY_SIDE / max(output.size))
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        shown = self._cv2.resize(image, size, interpolation=self._cv2.INTER_CUBIC)
        self._cv2.imshow(self.title, self._cv2.cvtColor(shown, self._cv2.COLOR_RGB2BGR))

    def poll(self) -> str | None:
        """``quit``, ``pause``, ``save`` or None; also lets the window redraw.
        Closing the window quits."""
        key = self._cv2.waitKey(KEY_WAIT_MS)
        if self._cv2.getWindowProperty(self.title, self._cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return self.KEYS.get(key & 0xFF) if key >= 0 else None

    def close(self) -> None:
        self._cv2.destroyWindow(self.title)


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


@dataclasses.dataclass(frozen=True)
class LiveSummary:
    """What a live run did. Times in seconds; latency is from the frame's
    arrival to the moment its stylized version was handed to every sink.

    Invariant: ``frames_in == frames_stylized + frames_dropped``.
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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


LiveEvent = LiveStatus | StillSaved


@dataclasses.dataclass(frozen=True)
class LiveOptions:
    """Real-time policy of a live run.

    Attributes:
        target_fps: budget each frame ``1 / target_fps`` seconds of processing.
        max_latency_s: instead, budget each frame what is left of this many
            seconds since its capture (wins over ``target_fps`` when both are set).
        duration_s: stop after this many seconds (None: until stopped).
        still_dir: where the preview's s key saves PNG stills.
    """

    target_fps: float | None = DEFAULT_TARGET_FPS
    max_latency_s: float | None = None
    duration_s: float | None = None
    still_dir: str = "."

    def __post_init__(self) -> None:
        for name in ("target_fps", "max_latency_s", "duration_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InputError(f"{name.replace('_s', '').replace('_', '-')} must be positive, got {value}")
        if self.target_fps is None and self.max_latency_s is None:
            raise InputError("live mode needs a time budget: --target-fps or --max-latency")

    def frame_budget_s(self, *, captured_s: float, now_s: float) -> float:
        """Seconds this frame may take from now until it is output."""
        if self.max_latency_s is not None:
            return self.max_latency_s - (now_s - captured_s)
        return 1.0 / self.target_fps

    @property
    def nominal_fps(self) -> float:
        """The output rate aimed at: a hint for encoders."""
        return self.target_fps if self.max_latency_s is None else 1.0 / self.max_latency_s


# -------------------------------------------------------------------------------- loop


def run_live(
    frames: Iterable[Frame],
    stylizer,
    *,
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
        frames: the source (e.g. ``streams.LiveSource.frames()``), iterated on
            a capture thread at its own pace and closed there.
        stylizer: a ``Stylizer`` (anything with its ``stylize`` and ``config``).
        options: time budget and duration.
        sinks: get every stylized frame; closed at the end (a recording is
            finalized even after Ctrl-C).
        preview: a window (also a sink) whose keys quit, pause and save stills.
        on_event: receives ``LiveStatus`` (throttled) and ``StillSaved``.
        stop: set it (from a signal handler, another thread) to end the run.
        source_name: for the summary.
        clock: monotonic seconds (injectable for tests).

    Returns the LiveSummary. Raises the source's error (CorruptInputError)
    or a sink's OutputError after every sink has been closed.
    """
    loop = _LiveLoop(stylizer, options=options, sinks=list(sinks) + ([preview] if preview else []),
                     preview=preview, on_event=on_event or (lambda event: None),
                     stop=stop or threading.Event(), clock=clock)
    return loop.run(frames, source_name=source_name)


class _LiveLoop:
    """The state of one live run (see ``run_live``)."""

    def __init__(self, stylizer, *, options, sinks, preview, on_event, stop, clock):
        cfg: StyleConfig = stylizer.config
        self.stylizer, self.options, self.sinks, self.preview = stylizer, options, sinks, preview
        self.emit, self.stop, self.clock = on_event, stop, clock
        self.tracker = MotionTracker(cfg)
        self.budget = IterationBudget(max_iters=cfg.iters_later, max_iters_cold=cfg.iters_first,
                                      min_iters=MIN_ITERS_PER_FRAME.get(cfg.optimizer, 1))
        self.mailbox: LatestFrame[Captured] = LatestFrame()
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.first_output_s: float | None = None
        self.last_output_s: float | None = None
        self.total_iters = 0
        self.taken = self.stylized = 0
        self.paused = False
        self.last_output: Frame | None = None
        self.last_status = (0.0, 0)  # (time, frames stylized) of the previous status event
        self.last_result = None
        self.size: tuple[int, int] | None = None
        self.started_s = 0.0

    def run(self, frames: Iterable[Frame], *, source_name: str) -> LiveSummary:
        capture = CaptureThread(frames, self.mailbox, clock=self.clock)
        self.started_s = self.clock()
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
            capture.stop()
            leftover = int(self.mailbox.take(timeout=0) is not None)
            close_error = self._close_sinks()
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
        duration = self.options.duration_s
        return self.stop.is_set() or (duration is not None and self.clock() - self.started_s >= duration)

    def _handle(self, command: str | None) -> None:
        if command == "quit":
            self.stop.set()
        elif command == "pause":
            self.paused = not self.paused
            self._report(force=True)
        elif command == "save" and self.last_output is not None:
            self.emit(StillSaved(self._save_still(self.last_output)))

    def _process(self, captured: Captured) -> None:
        """Stylize one frame within its budget and hand it to the sinks."""
        started_s = self.clock()
        content = captured.frame.image_u8
        self.size = captured.frame.size
        init, target, _ = self.tracker.prepare(content)
        cold = init is None
        budget_s = self.options.frame_budget_s(captured_s=captured.captured_s, now_s=started_s)
        max_iters = self.budget.iters_for(budget_s * (COLD_BUDGET_FACTOR if cold else 1.0), cold=cold)
        timer = _IterationClock(self.clock)
        result = self.stylizer.stylize(content, init=init, temporal=target, max_iters=max_iters,
                                       min_iters=0 if cold else self.stylizer.config.min_iters_later,
                                       on_iteration=timer)
        self.tracker.remember(content, result.image_u8)
        output = self._output_frame(result.image_u8, content)
        for sink in self.sinks:
            sink.write(output, captured.frame)
        finished_s = self.clock()
        if not cold:
            self.budget.update(num_iters=timer.count, iterations_s=timer.last_s - timer.first_s,
                               frame_s=finished_s - started_s)
        self.latencies.append(finished_s - captured.captured_s)
        self.first_output_s = self.first_output_s if self.first_output_s is not None else finished_s
        self.last_output_s = finished_s
        self.total_iters += result.num_iters
        self.stylized += 1
        self.last_output, self.last_result = output, result

    def _output_frame(self, image_u8: np.ndarray, content_u8: np.ndarray) -> Frame:
        """The stylized frame stamped with the wall clock (ms since the start)."""
        if self.stylizer.config.preserve_colors:
            from vidstyle.media.images import preserve_colors

            image_u8 = preserve_colors(image_u8, content_u8)
        pts = round((self.clock() - self.started_s) / OUTPUT_TIME_BASE)
        return Frame(image_u8=np.ascontiguousarray(image_u8), pts=pts, time_base=OUTPUT_TIME_BASE,
                     index=self.stylized)

    def _save_still(self, output: Frame) -> str:
        from vidstyle.media.images import save_image

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
        self.emit(LiveStatus(
            elapsed_s=now - self.started_s,
            frames_in=self.taken + self.mailbox.dropped + len(self.mailbox),
            frames_stylized=self.stylized,
            frames_dropped=self.mailbox.dropped + self.taken - self.stylized,
            output_fps=(self.stylized - last_count) / max(now - last_s, 1e-9),
            latency_s=self.latencies[-1] if self.latencies else None,
            num_iters=self.last_result.num_iters if self.last_result else None,
            paused=self.paused,
        ))

    def _close_sinks(self) -> BaseException | None:
        """Close every sink; returns the first error (the others still close)."""
        first_error = None
        for sink in self.sinks:
            try:
                sink.close()
            except VidstyleError as err:
                first_error = first_error or err
        return first_error

    def _summary(self, source_name: str, frames_in: int, dropped_in_mailbox: int) -> LiveSummary:
        dropped = dropped_in_mailbox + self.taken - self.stylized
        latencies = sorted(self.latencies)
        span_s = self.last_output_s - self.first_output_s if self.last_output_s is not None else 0.0
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
            processing_size=self.size,
            recording=recording,
            max_mailbox_depth=self.mailbox.max_depth,
        )


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


# --------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    from vidstyle.cli.main import PROG, _Parser, add_style_options, parse_size, parse_time

    parser = _Parser(
        prog=f"{PROG} live",
        description="Stylize a webcam or a stream in real time (drops frames to keep up).",
        epilog="Examples: 'vidstyle live /dev/video0 --style art.jpg --preview'; "
               "'vidstyle live lavfi:testsrc2=size=320x240:rate=30 --style art.jpg -o live.mp4 --duration 10'",
    )
    parser.add_argument("source", help="/dev/videoN, rtsp:// http(s):// udp:// URL, lavfi:GRAPH, or a video file")
    add_style_options(parser)
    g = parser.add_argument_group("input")
    g.add_argument("--input-size", type=parse_size, metavar="WxH", help="camera mode to ask for, e.g. 640x480")
    g.add_argument("--input-fps", type=float, metavar="R", help="camera frame rate to ask for")
    g.add_argument("--input-format", metavar="FMT", help="camera pixel format to ask for, e.g. mjpeg")
    g = parser.add_argument_group("real time")
    budget = g.add_mutually_exclusive_group()
    budget.add_argument("--target-fps", type=float, metavar="R",
                        help=f"output frames per second to aim for (default {DEFAULT_TARGET_FPS:g})")
    budget.add_argument("--max-latency", type=float, metavar="S", help="seconds from capture to output to aim for")
    g.add_argument("-t", "--duration", type=parse_time, metavar="T", help="stop after T seconds")
    g = parser.add_argument_group("output")
    g.add_argument("-o", "--output", metavar="FILE", help="record to a video file (.mp4, .mkv...)")
    g.add_argument("-y", dest="overwrite", action="store_true", help="overwrite an existing recording")
    g.add_argument("--preview", action="store_true", help="show a window (q quits, space pauses, s saves a still)")
    g.add_argument("--side-by-side", action="store_true", help="preview the input beside the output")
    g.add_argument("--still-dir", default=".", metavar="DIR", help="where s saves stills (default: .)")
    g.add_argument("--stream-out", metavar="URL", help="send to rtmp://... (FLV) or udp:// tcp:// srt:// (MPEG-TS)")
    g.add_argument("--stream-format", metavar="FMT", help="muxer for --stream-out (default from the URL)")
    g.add_argument("--v4l2-out", metavar="DEVICE", help="write to a v4l2loopback device (virtual camera)")
    g.add_argument("-q", "--quiet", action="store_true", help="no status line")
    g.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return parser


def main(argv: list[str]) -> int:
    """``vidstyle live ...``: returns the exit code (0 also after Ctrl-C/SIGTERM)."""
    from vidstyle.cli.main import style_options
    from vidstyle.pipeline.video import load_styles
    from vidstyle.media import open_source
    from vidstyle.engines.optimize import OptimizerEngine as Stylizer

    args = build_parser().parse_args(argv)
    if args.side_by_side and not args.preview:
        raise InputError("--side-by-side needs --preview")
    options = style_options(args)
    for name, value in LIVE_STYLE_DEFAULTS.items():
        options.setdefault(name, value)
    options.setdefault("num_threads", default_num_threads())
    config = StyleConfig(**options)
    live_options = LiveOptions(target_fps=_target_fps(args),
                               max_latency_s=args.max_latency, duration_s=args.duration, still_dir=args.still_dir)
    styles = load_styles(args.style)
    source = open_source(args.source, input_size=args.input_size, input_fps=args.input_fps,
                         input_format=args.input_format)
    stop = threading.Event()
    with _stop_on_signals(stop):
        frames = source.frames(max_side=config.max_side, size=config.size)
        try:
            stylizer = Stylizer(styles, config=config)
            first = _first_frame(frames, source.name)
            outputs = _open_outputs(args, size=first.size, fps=live_options.nominal_fps)
        except BaseException:
            frames.close()
            source.close()  # the generator may not have started
            raise
        status = _StatusLine(enabled=not args.quiet)
        try:
            summary = run_live(itertools.chain([first], frames), stylizer, options=live_options,
                               sinks=outputs.sinks, preview=outputs.preview, on_event=status,
                               stop=stop, source_name=source.name)
        finally:
            status.close()
    _print_summary(summary, as_json=args.json, quiet=args.quiet, wanted_recording=args.output)
    return 0


def _target_fps(args) -> float | None:
    """--target-fps as given; the default only when no budget was given at all."""
    if args.target_fps is not None or args.max_latency is not None:
        return args.target_fps
    return DEFAULT_TARGET_FPS


def default_num_threads() -> int:
    """Torch threads in live mode: all cores but one, which is left to
    decoding, flow and encoding (measured on 2 cores: 2 torch threads beside
    a busy capture thread made each iteration several times slower)."""
    return max(1, (os.cpu_count() or 1) - 1)


def _first_frame(frames, name: str) -> Frame:
    """The source's first frame (it decides the processing size); InputError
    when the source ends or fails before giving one."""
    try:
        return next(frames)
    except StopIteration:
        raise InputError(f"live source {name} gave no frames") from None
    except VidstyleError as err:
        raise InputError(f"live source {name} gave no frames: {err}") from err


@dataclasses.dataclass
class _Outputs:
    sinks: list
    preview: PreviewWindow | None


def _open_outputs(args, *, size: tuple[int, int], fps: float) -> _Outputs:
    """The sinks the options ask for; those opened are closed if a later one fails."""
    sinks: list = []
    preview = None
    try:
        if args.output:
            sinks.append(RecordingSink(args.output, width=size[0], height=size[1], fps=fps,
                                       overwrite=args.overwrite, input_paths=[args.source, *args.style]))
        if args.stream_out:
            sinks.append(StreamSink(args.stream_out, width=size[0], height=size[1], fps=fps, format=args.stream_format))
        if args.v4l2_out:
            if not args.v4l2_out.startswith("/dev/video") or not os.path.exists(args.v4l2_out):
                raise OutputError(f"no such video device: {args.v4l2_out} (load v4l2loopback to get one)")
            sinks.append(StreamSink(args.v4l2_out, width=size[0], height=size[1], fps=fps))
        if args.preview:
            preview = PreviewWindow(side_by_side=args.side_by_side)
    except BaseException:
        for sink in sinks:
            with contextlib.suppress(VidstyleError):
                sink.close()
        raise
    return _Outputs(sinks=sinks, preview=preview)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event):
    """While inside: SIGINT and SIGTERM set ``stop`` (the loop ends and the
    recording is finalized); a second signal raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _StatusLine:
    """Prints ``LiveStatus`` events as one status line on stderr (rewritten
    in place on a terminal, one line per update otherwise)."""

    def __init__(self, *, enabled: bool, file=None):
        self.enabled = enabled
        self.file = file or sys.stderr
        self.tty = self.file.isatty()
        self.dirty = False

    def __call__(self, event: LiveEvent) -> None:
        if not self.enabled:
            return
        if isinstance(event, StillSaved):
            self._line(f"saved {event.path}", final=True)
        elif isinstance(event, LiveStatus):
            self._line(format_status(event), final=False)

    def _line(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.file.write(f"\r\x1b[K{text}" + ("\n" if final else ""))
            self.dirty = not final
        else:
            self.file.write(text + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.dirty:
            self.file.write("\n")
            self.file.flush()
            self.dirty = False


def format_status(status: LiveStatus) -> str:
    """One status line, e.g. ``live 12.0s | in 360 | stylized 40 (3.9 fps) | dropped 320 | latency 240 ms | 9 it``."""
    latency = f"{status.latency_s * 1000:.0f} ms" if status.latency_s is not None else "-"
    iters = f"{status.num_iters} it" if status.num_iters is not None else "- it"
    paused = " | PAUSED" if status.paused else ""
    return (f"live {status.elapsed_s:.1f}s | in {status.frames_in} | stylized {status.frames_stylized} "
            f"({status.output_fps:.1f} fps) | dropped {status.frames_dropped} | latency {latency} | {iters}{paused}")


def _print_summary(summary: LiveSummary, *, as_json: bool, quiet: bool, wanted_recording: str | None) -> None:
    if as_json:
        print(json.dumps(summary.to_dict()))
        return
    if wanted_recording and summary.recording is None:
        print(f"nothing recorded: stopped before the first stylized frame ({wanted_recording} not created)",
              file=sys.stderr)
    if quiet:
        return
    ms = lambda s: f"{s * 1000:.0f} ms" if s is not None else "-"  # noqa: E731
    print(f"{summary.frames_in} frames in, {summary.frames_stylized} stylized, {summary.frames_dropped} dropped "
          f"({summary.dropped_fraction:.0%}); latency median {ms(summary.latency_median_s)}, "
          f"p90 {ms(summary.latency_p90_s)}; output {summary.output_fps:.2f} fps, "
          f"{summary.mean_iters:.1f} iterations/frame"
          + (f"; recorded {summary.recording}" if summary.recording else ""), file=sys.stderr)
