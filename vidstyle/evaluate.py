"""The flicker meter: warping error E_warp (Lai et al., "Learning Blind Video
Temporal Consistency", ECCV 2018, sec. 5.1).

For each pair of consecutive frames, the flow is measured on the *input*
(backward flow and Ruder et al.'s consistency mask); the previous stylized
frame is warped by it and compared with the current stylized frame over the
reliable pixels:

    E_warp(t) = sum_x M_t(x) |V_t(x) - warp(V_{t-1})(x)|² / sum_x M_t(x)

with RGB values in [0, 1] and the squared difference averaged over the three
channels. Doing the same with the input frames themselves gives the source's
own E_warp (noise, lighting, compression, flow errors); their ratio, the
*flicker ratio*, is 1.0 when the stylized video is as steady as its source.
Pairs across a scene cut (as ``flow.is_scene_cut`` sees it, the same test
that makes the stylizer cold-start) measure no flicker and are skipped.

Pure numpy/OpenCV; the plot is drawn with OpenCV too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from vidstyle.motion.flow import FlowEstimator, consistency_mask, is_scene_cut, warp
from vidstyle.frames import u8_to_float

# Lai et al. warp with bilinear sampling; the meter follows them so numbers compare.
METER_INTERPOLATION = "linear"


def warping_error(prev_u8: np.ndarray, cur_u8: np.ndarray, backward_flow: np.ndarray, mask: np.ndarray, *,
                  interpolation: str = METER_INTERPOLATION) -> float:
    """E_warp of one pair: the mask-weighted mean of the squared RGB difference
    (values in [0, 1], averaged over channels) between ``cur`` and ``prev``
    warped into it.

    Args:
        prev_u8, cur_u8: uint8 ``(H, W, 3)`` frames t-1 and t.
        backward_flow: float32 ``(H, W, 2)`` flow from t to t-1 (see flow.py).
        mask: ``(H, W)`` reliability weights in [0, 1].
        interpolation: of the warp, ``linear`` (default, as Lai et al.) or ``cubic``.

    Returns:
        The error (0 = identical after warping; at most 1), or NaN when no
        pixel has weight.
    """
    if prev_u8.shape != cur_u8.shape:
        raise ValueError(f"frames differ in shape: {prev_u8.shape} and {cur_u8.shape}")
    if mask.shape != cur_u8.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match frames {cur_u8.shape}")
    warped = warp(u8_to_float(prev_u8), backward_flow, interpolation=interpolation)
    squared = np.mean((u8_to_float(cur_u8) - warped) ** 2, axis=-1, dtype=np.float64)
    total = float(mask.sum(dtype=np.float64))
    if total <= 0:
        return math.nan
    return float((squared * mask).sum(dtype=np.float64) / total)


@dataclasses.dataclass(frozen=True)
class FlickerReport:
    """E_warp per consecutive pair and over the clip.

    Attributes:
        per_pair_stylized, per_pair_input: E_warp of each pair (index i
            compares frames i and i+1); NaN for pairs skipped at a scene cut.
        scene_cut_pairs: indices of the skipped pairs.
    """

    per_pair_stylized: list[float]
    per_pair_input: list[float]
    scene_cut_pairs: list[int] = dataclasses.field(default_factory=list)

    @property
    def num_pairs(self) -> int:
        """Consecutive pairs in the clip (frames - 1), skipped ones included."""
        return len(self.per_pair_stylized)

    @property
    def e_warp_stylized(self) -> float:
        """Mean E_warp of the stylized video over the measured pairs."""
        return _mean(self.per_pair_stylized)

    @property
    def e_warp_input(self) -> float:
        """Mean E_warp of the input video over the measured pairs."""
        return _mean(self.per_pair_input)

    @property
    def flicker_ratio(self) -> float:
        """``e_warp_stylized / e_warp_input``: 1.0 = as steady as the source
        (also when both are 0); inf when only the input is perfectly steady."""
        if self.e_warp_input == 0.0:
            return 1.0 if self.e_warp_stylized == 0.0 else math.inf
        return self.e_warp_stylized / self.e_warp_input

    def to_dict(self) -> dict:
        """A JSON-ready summary (NaN and inf become null)."""
        return {
            "pairs": self.num_pairs,
            "e_warp_stylized": _finite_or_none(self.e_warp_stylized),
            "e_warp_input": _finite_or_none(self.e_warp_input),
            "flicker_ratio": _finite_or_none(self.flicker_ratio),
            "scene_cut_pairs": list(self.scene_cut_pairs),
            "per_pair_stylized": [_finite_or_none(v) for v in self.per_pair_stylized],
            "per_pair_input": [_finite_or_none(v) for v in self.per_pair_input],
        }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) / len(finite) if finite else 0.0


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluate_flicker(
    input_frames: Iterable[np.ndarray],
    stylized_frames: Iterable[np.ndarray],
    *,
    method: str = "dis-medium",
    size: tuple[int, int] | None = None,
) -> FlickerReport:
    """Measure E_warp of a stylized sequence against its input.

    Both sequences are iterated in lockstep, holding only the previous pair
    (memory stays flat). Frames are resized to ``size``; the flow and
    consistency mask are measured on the input pair and used for both.

    Args:
        input_frames, stylized_frames: uint8 ``(H, W, 3)`` RGB frames, the
            same number of each (sizes may differ).
        method: flow method, see ``flow.FlowEstimator``.
        size: ``(width, height)`` to measure at; default the stylized frames'
            size. Frames of another size are resized with INTER_AREA.

    Raises:
        ValueError: the sequences have different numbers of frames (the
            message names both counts).
    """
    estimator = FlowEstimator(method)
    stylized_errors: list[float] = []
    input_errors: list[float] = []
    cuts: list[int] = []
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for source, stylized in _lockstep(input_frames, stylized_frames):
        size = size or (stylized.shape[1], stylized.shape[0])
        source, stylized = _fit(source, size), _fit(stylized, size)
        if previous is not None:
            prev_source, prev_stylized = previous
            backward = estimator.estimate(source, prev_source)
            mask = consistency_mask(backward, estimator.estimate(prev_source, source))
            if is_scene_cut(prev_source, source, mask):
                cuts.append(len(stylized_errors))
                stylized_errors.append(math.nan)
                input_errors.append(math.nan)
            else:
                stylized_errors.append(warping_error(prev_stylized, stylized, backward, mask))
                input_errors.append(warping_error(prev_source, source, backward, mask))
        previous = (source, stylized)
    return FlickerReport(per_pair_stylized=stylized_errors, per_pair_input=input_errors, scene_cut_pairs=cuts)


_END = object()


def _lockstep(first: Iterable, second: Iterable) -> Iterator[tuple]:
    """Pairs from two iterables; ValueError naming both counts if their lengths differ
    (the longer one is run to its end to count it)."""
    first, second = iter(first), iter(second)
    count = 0
    while True:
        a, b = next(first, _END), next(second, _END)
        if a is _END and b is _END:
            return
        if a is _END or b is _END:
            longer = second if a is _END else first
            longer_count = count + 1 + sum(1 for _ in longer)
            counts = (count, longer_count) if a is _END else (longer_count, count)
            raise ValueError(f"frame counts differ: the input has {counts[0]} frames, the stylized video {counts[1]}")
        count += 1
        yield a, b


def _fit(image_u8: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image_u8`` resized to ``size`` = (width, height) with INTER_AREA, if needed."""
    if (image_u8.shape[1], image_u8.shape[0]) == tuple(size):
        return image_u8
    return cv2.resize(image_u8, tuple(size), interpolation=cv2.INTER_AREA)


def evaluate_flicker_with_flows(stylized_frames: Iterable[np.ndarray], flows: Iterable[np.ndarray],
                                masks: Iterable[np.ndarray]) -> list[float]:
    """E_warp per pair with given (e.g. ground-truth) backward flows and masks,
    for synthetic clips (``synthetic.SyntheticClip.backward_flows`` / ``.masks``).

    ``flows[i]`` and ``masks[i]`` map frame i+1 back to frame i; returns one
    error per pair (NaN where a mask is all 0, as at a cut).
    """
    frames = iter(stylized_frames)
    previous = next(frames, None)
    errors = []
    for current, flow, mask in zip(frames, flows, masks):
        errors.append(warping_error(previous, current, flow, mask))
        previous = current
    return errors


def evaluate_videos(input_path, stylized_path, *, method: str = "dis-medium",
                    max_side: int | None = None) -> FlickerReport:
    """``evaluate_flicker`` on two video files (decoded with PyAV, streamed),
    at the stylized video's size (or smaller, with ``max_side``).
    Raises InputError when the frame counts differ."""
    from vidstyle.errors import InputError
    from vidstyle.frames import fit_size
    from vidstyle.media.io import probe, read_frames

    stylized_info = probe(stylized_path)
    probe(input_path)
    size = (stylized_info.width, stylized_info.height)
    if max_side is not None:
        size = fit_size(*size, max_side=max_side)
    sources = (f.image_u8 for f in read_frames(input_path, size=size))
    stylized = (f.image_u8 for f in read_frames(stylized_path, size=size))
    try:
        return evaluate_flicker(sources, stylized, method=method, size=size)
    except ValueError as err:
        raise InputError(f"{input_path} and {stylized_path} do not match: {err}") from err


# -- the plot ------------------------------------------------------------------

PLOT_SIZE = (800, 400)  # width, height in pixels
PLOT_MARGINS = (70, 50, 20, 50)  # left, top, right, bottom
PLOT_Y_TICKS = 5
PLOT_X_TICKS = 10
FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_BGR = (30, 30, 30)
GRID_BGR = (225, 225, 225)
SERIES_BGR = {"stylized": (40, 40, 220), "input": (170, 110, 30)}  # red, blue
SMALL_TEXT, LARGE_TEXT = 0.4, 0.5  # font scales


def save_plot(report: FlickerReport, path) -> None:
    """Write a PNG line plot (800x400) of E_warp per frame pair: the stylized
    video and the input, with a legend and the flicker ratio in the title."""
    from vidstyle.media.images import save_image

    canvas = draw_plot(report)
    save_image(path, cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))


def draw_plot(report: FlickerReport) -> np.ndarray:
    """The plot of ``save_plot`` as a BGR uint8 ``(400, 800, 3)`` image."""
    width, height = PLOT_SIZE
    left, top, right, bottom = PLOT_MARGINS
    x0, x1, y0, y1 = left, width - right, height - bottom, top  # plot area; y0 is the bottom
    canvas = np.full((height, width, 3), 255, np.uint8)
    finite = [v for v in report.per_pair_stylized + report.per_pair_input if math.isfinite(v)]
    y_max = max(finite) * 1.1 if finite and max(finite) > 0 else 1.0
    last = max(report.num_pairs - 1, 1)

    def to_px(i: int, value: float) -> tuple[int, int]:
        return round(x0 + i * (x1 - x0) / last), round(y0 - value / y_max * (y0 - y1))

    for k in range(PLOT_Y_TICKS + 1):  # horizontal grid and y labels
        value = y_max * k / PLOT_Y_TICKS
        y = to_px(0, value)[1]
        cv2.line(canvas, (x0, y), (x1, y), GRID_BGR, 1)
        _text(canvas, f"{value:.2e}", (4, y + 4), SMALL_TEXT)
    for i in sorted({round(last * k / PLOT_X_TICKS) for k in range(PLOT_X_TICKS + 1)}):  # x labels
        x = to_px(i, 0)[0]
        cv2.line(canvas, (x, y0), (x, y0 + 4), TEXT_BGR, 1)
        _text(canvas, str(i), (x - 6, y0 + 18), SMALL_TEXT)
    cv2.rectangle(canvas, (x0, y1), (x1, y0), TEXT_BGR, 1)
    for i in report.scene_cut_pairs:  # skipped pairs: a wide grey bar
        x = to_px(i, 0)[0]
        cv2.line(canvas, (x, y1), (x, y0), GRID_BGR, 3)
    for name, series in (("input", report.per_pair_input), ("stylized", report.per_pair_stylized)):
        _polyline(canvas, [to_px(i, v) if math.isfinite(v) else None for i, v in enumerate(series)], SERIES_BGR[name])
    _text(canvas, f"E_warp per frame pair - flicker ratio {report.flicker_ratio:.3f} "
                  f"(stylized {report.e_warp_stylized:.2e} / input {report.e_warp_input:.2e})", (x0, 30), LARGE_TEXT)
    _text(canvas, "frame pair (t-1, t)", ((x0 + x1) // 2 - 60, height - 12), SMALL_TEXT)
    for row, name in enumerate(("stylized", "input")):  # legend, top right inside the plot
        y = y1 + 18 + 20 * row
        cv2.line(canvas, (x1 - 120, y - 4), (x1 - 95, y - 4), SERIES_BGR[name], 2, cv2.LINE_AA)
        _text(canvas, name, (x1 - 88, y), SMALL_TEXT)
    return canvas


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    cv2.putText(canvas, text, origin, FONT, scale, TEXT_BGR, 1, cv2.LINE_AA)


def _polyline(canvas: np.ndarray, points: list[tuple[int, int] | None], color: tuple[int, int, int]) -> None:
    """Connect consecutive points; None breaks the line; isolated points get a dot."""
    runs, run = [], []
    for point in points + [None]:
        if point is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append(point)
    for run in runs:
        if len(run) == 1:
            cv2.circle(canvas, run[0], 3, color, -1, cv2.LINE_AA)
        else:
            cv2.polylines(canvas, [np.array(run, np.int32)], False, color, 2, cv2.LINE_AA)
