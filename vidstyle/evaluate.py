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

Pure numpy/OpenCV; the plot is in ``evaluate_plot``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from vidstyle.frames import u8_to_float
from vidstyle.motion.flow import FlowEstimator, consistency_mask, is_scene_cut, warp

# Lai et al. warp with bilinear sampling; the meter follows them so numbers compare.
METER_INTERPOLATION = "linear"


def warping_error(
    prev_u8: np.ndarray,
    cur_u8: np.ndarray,
    backward_flow: np.ndarray,
    mask: np.ndarray,
    *,
    interpolation: str = METER_INTERPOLATION,
) -> float:
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


def evaluate_flicker_with_flows(
    stylized_frames: Iterable[np.ndarray], flows: Iterable[np.ndarray], masks: Iterable[np.ndarray]
) -> list[float]:
    """E_warp per pair with given (e.g. ground-truth) backward flows and masks,
    for synthetic clips (``synthetic.SyntheticClip.backward_flows`` / ``.masks``).

    ``flows[i]`` and ``masks[i]`` map frame i+1 back to frame i; returns one
    error per pair (NaN where a mask is all 0, as at a cut).
    """
    frames = iter(stylized_frames)
    previous = next(frames, None)
    errors: list[float] = []
    if previous is None:
        return errors
    for current, flow, mask in zip(frames, flows, masks):
        errors.append(warping_error(previous, current, flow, mask))
        previous = current
    return errors


def evaluate_videos(
    input_path, stylized_path, *, method: str = "dis-medium", max_side: int | None = None
) -> FlickerReport:
    """``evaluate_flicker`` on two video files (decoded with PyAV, streamed),
    at the stylized video's size (or smaller, with ``max_side``).
    Raises InputError when the frame counts differ."""
    from vidstyle.errors import InputError
    from vidstyle.frames import fit_size
    from vidstyle.media import probe, read_frames

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


# Pairs counted as the start of a shot: the first ones after the first frame and after each cut.
COLD_START_PAIRS = 15


def cold_start_spans(report: FlickerReport, length: int = COLD_START_PAIRS) -> list[tuple[int, int]]:
    """The pairs just after a cold start, as ``(first, last)`` pair indices
    (inclusive): up to ``length`` pairs from the first one and from the one
    after each scene cut, ending before the next cut and at the last pair."""
    cuts = sorted(set(report.scene_cut_pairs))
    spans = []
    for first in [0] + [c + 1 for c in cuts]:
        following = [c for c in cuts if c >= first]
        last = min(first + length, following[0] if following else report.num_pairs) - 1
        if last >= first:
            spans.append((first, last))
    return spans
