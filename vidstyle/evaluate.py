"""The flicker meter: warping error E_warp (Lai et al., "Learning Blind Video
Temporal Consistency", ECCV 2018).

For each pair of consecutive frames, the flow is measured on the *input*
(backward flow and Ruder et al.'s consistency mask); the previous stylized
frame is warped by it and compared with the current stylized frame over the
reliable pixels. Doing the same with the input frames themselves gives the
source's own E_warp (noise, lighting, compression); their ratio, the
*flicker ratio*, is 1.0 when the stylized video is as steady as its source.

Pure numpy/OpenCV; the plot is drawn with OpenCV too.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable

import cv2
import numpy as np

from .flow import FlowEstimator, consistency_mask, warp
from .frames import u8_to_float


def warping_error(prev_u8: np.ndarray, cur_u8: np.ndarray, backward_flow: np.ndarray, mask: np.ndarray) -> float:
    """Mean over reliable pixels of the squared RGB difference (values in [0, 1],
    averaged over channels) between ``cur`` and ``prev`` warped into it.

    Args:
        prev_u8, cur_u8: uint8 ``(H, W, 3)`` frames t-1 and t.
        backward_flow: ``(H, W, 2)`` flow from t to t-1.
        mask: ``(H, W)`` reliability weights in [0, 1].
    """
    warped = warp(u8_to_float(prev_u8), backward_flow, interpolation="linear")
    squared = np.mean((u8_to_float(cur_u8) - warped) ** 2, axis=-1)
    total = float(mask.sum())
    return float((squared * mask).sum() / total) if total > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class FlickerReport:
    """E_warp per consecutive pair and over the clip.

    Attributes:
        stylized, source: E_warp of each pair (index i compares frames i and i+1).
        e_warp_stylized, e_warp_input: their means.
        flicker_ratio: ``e_warp_stylized / e_warp_input``.
    """

    stylized: list[float]
    source: list[float]

    @property
    def num_pairs(self) -> int:
        return len(self.stylized)

    @property
    def e_warp_stylized(self) -> float:
        return float(np.mean(self.stylized)) if self.stylized else 0.0

    @property
    def e_warp_input(self) -> float:
        return float(np.mean(self.source)) if self.source else 0.0

    @property
    def flicker_ratio(self) -> float:
        if self.e_warp_input == 0.0:
            return 1.0 if self.e_warp_stylized == 0.0 else float("inf")
        return self.e_warp_stylized / self.e_warp_input

    def to_dict(self) -> dict:
        return {
            "pairs": self.num_pairs,
            "e_warp_stylized": self.e_warp_stylized,
            "e_warp_input": self.e_warp_input,
            "flicker_ratio": self.flicker_ratio,
            "per_frame_stylized": self.stylized,
            "per_frame_input": self.source,
        }


def evaluate_flicker(
    input_frames: Iterable[np.ndarray],
    stylized_frames: Iterable[np.ndarray],
    *,
    method: str = "dis-medium",
    size: tuple[int, int] | None = None,
) -> FlickerReport:
    """Measure E_warp of a stylized sequence against its input, frame by frame
    (memory flat). Both are uint8 ``(H, W, 3)`` RGB; they are resized to
    ``size`` (default: the stylized frames' size). ValueError if the counts differ."""
    estimator = FlowEstimator(method)
    stylized_errors, source_errors = [], []
    previous = None
    count = 0
    for source, stylized in itertools.zip_longest(input_frames, stylized_frames):
        if source is None or stylized is None:
            remaining = count + 1 + sum(1 for _ in (input_frames if source is not None else stylized_frames))
            which = ("input", "stylized") if source is not None else ("stylized", "input")
            raise ValueError(f"frame counts differ: the {which[0]} has at least {remaining} frames, "
                             f"the {which[1]} {count}")
        count += 1
        target = size or (stylized.shape[1], stylized.shape[0])
        source = _fit(source, target)
        stylized = _fit(stylized, target)
        if previous is not None:
            prev_source, prev_stylized = previous
            backward = estimator.estimate(source, prev_source)
            forward = estimator.estimate(prev_source, source)
            mask = consistency_mask(backward, forward)
            stylized_errors.append(warping_error(prev_stylized, stylized, backward, mask))
            source_errors.append(warping_error(prev_source, source, backward, mask))
        previous = (source, stylized)
    return FlickerReport(stylized=stylized_errors, source=source_errors)


def evaluate_flicker_with_flows(frames: Iterable[np.ndarray], flows: Iterable[np.ndarray],
                                masks: Iterable[np.ndarray]) -> list[float]:
    """E_warp per pair with known (ground-truth) backward flows and masks, for
    synthetic clips: ``flows[i]``/``masks[i]`` map frame i+1 back to frame i."""
    frames = iter(frames)
    previous = next(frames)
    errors = []
    for current, flow, mask in zip(frames, flows, masks):
        errors.append(warping_error(previous, current, flow, mask))
        previous = current
    return errors


def _fit(image_u8: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (image_u8.shape[1], image_u8.shape[0]) == tuple(size):
        return image_u8
    return cv2.resize(image_u8, tuple(size), interpolation=cv2.INTER_AREA)


def evaluate_videos(input_path, stylized_path, *, method: str = "dis-medium", max_side: int | None = None) -> FlickerReport:
    """``evaluate_flicker`` on two video files (decoded with PyAV, streamed).
    Raises InputError when the frame counts differ."""
    from .errors import InputError
    from .frames import fit_size
    from .io import probe, read_frames

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


PLOT_SIZE = (800, 400)
PLOT_MARGIN = 60
COLORS_BGR = {"stylized": (40, 40, 220), "input": (160, 120, 40)}


def save_plot(report: FlickerReport, path) -> None:
    """Per-frame E_warp of the stylized video and of the input as a PNG line plot."""
    from .images import save_image

    width, height = PLOT_SIZE
    m = PLOT_MARGIN
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    values = report.stylized + report.source
    top = max(values) * 1.1 if values and max(values) > 0 else 1.0
    n = max(report.num_pairs - 1, 1)

    def point(i, v):
        return (int(m + i * (width - 2 * m) / n), int(height - m - v / top * (height - 2 * m)))

    cv2.line(canvas, (m, height - m), (width - m, height - m), (0, 0, 0), 1)
    cv2.line(canvas, (m, m), (m, height - m), (0, 0, 0), 1)
    for frac in (0.0, 0.5, 1.0):
        y = int(height - m - frac * (height - 2 * m))
        cv2.putText(canvas, f"{top * frac:.4f}", (2, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    for name, series in (("stylized", report.stylized), ("input", report.source)):
        pts = np.array([point(i, v) for i, v in enumerate(series)], dtype=np.int32)
        if len(pts) > 1:
            cv2.polylines(canvas, [pts], False, COLORS_BGR[name], 2, cv2.LINE_AA)
    title = (f"E_warp per frame - flicker ratio {report.flicker_ratio:.3f} "
             f"(stylized {report.e_warp_stylized:.5f} / input {report.e_warp_input:.5f})")
    cv2.putText(canvas, title, (m, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "stylized", (width - m - 150, m + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, COLORS_BGR["stylized"], 1, cv2.LINE_AA)
    cv2.putText(canvas, "input", (width - m - 150, m + 30), cv2.FONT_HERSHEY_SIMPLEX, 0.5, COLORS_BGR["input"], 1, cv2.LINE_AA)
    cv2.putText(canvas, "frame pair", (width // 2 - 30, height - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    save_image(path, cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
