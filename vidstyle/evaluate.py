"""The flicker meter: warping error E_warp (Lai et al., "Learning Blind Video
Temporal Consistency", ECCV 2018, sec. 5.1), under one written convention.

For each pair of consecutive frames, the flow is measured on the *input*
(backward flow and Ruder et al.'s reliability mask); the previous stylized
frame is warped by it and compared with the current stylized frame over the
reliable pixels:

    E_warp(t) = sum_x M_t(x) |V_t(x) - warp(V_{t-1})(x)|² / sum_x M_t(x)

Doing the same with the input frames themselves gives the source's own E_warp
(noise, lighting, compression, flow errors); their ratio, the *flicker ratio*,
is 1.0 when the stylized video is as steady as its source.

Convention (``evaluate_convention.CONVENTION``, stated in full there, in
``vidstyle eval --help`` and in the --json report): DIS-medium flow on the
8-bit gray input at the measurement size; Ruder et al.'s forward-backward
test, motion-boundary test with central differences and out-of-frame test
(mask ``full``; ``occlusion`` drops the motion-boundary test); bilinear warp
of float values in [0, 1]; squared error averaged over RGB (``rgb``) or of the
BT.709 luma (``luma``); each measured pair weighs the same. A pair is skipped
as a scene cut when under 20% of it is reliable or its colours are unrelated.
Small choices here move the ratio a lot (a Sobel gradient in the boundary test
halves the input's E_warp), so every number carries its convention.

Besides the whole clip, the ratio is given over the first ``COLD_START_PAIRS``
pairs after each cold start (the first frame, each cut), over the rest, and
per shot (``FlickerReport.segments``).

A ratio against the wrong input means nothing, and two clips of the same
frame count pass every count check: so each stylized frame's *edge
agreement* with its input frame is measured too (``edge_agreement``; a
stylization keeps the shapes of its input, another clip's frames do not).

Pure numpy/OpenCV; the plot is in ``evaluate_plot``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from vidstyle.evaluate_convention import (
    CHANNELS,
    CONVENTION,
    CUT_RELIABLE_FRACTION,
    MASKS,
    METER_DECODE,
    METER_INTERPOLATION,
    METER_METHOD,
    METER_WARPS,
    luma,
    masked_mean,
    meter_masks,
    squared_errors,
)
from vidstyle.evaluate_report import COLD_START_PAIRS, FlickerReport, MeterReport, cold_start_spans
from vidstyle.motion.flow import FlowEstimator, is_scene_cut

__all__ = [
    "CHANNELS",
    "COLD_START_PAIRS",
    "CONVENTION",
    "MASKS",
    "METER_INTERPOLATION",
    "METER_WARPS",
    "FlickerReport",
    "MeterReport",
    "cold_start_spans",
    "edge_agreement",
    "evaluate_flicker",
    "evaluate_flicker_with_flows",
    "evaluate_frames",
    "evaluate_videos",
    "sharpness",
    "warping_error",
]


def warping_error(
    prev_u8: np.ndarray,
    cur_u8: np.ndarray,
    backward_flow: np.ndarray,
    mask: np.ndarray,
    *,
    channels: str = "rgb",
    warp: str = METER_INTERPOLATION,
) -> float:
    """E_warp of one pair: the mask-weighted mean of the squared difference
    (values in [0, 1]) between ``cur`` and ``prev`` warped into it (bilinearly,
    or by ``warp``, one of ``METER_WARPS``).

    Args:
        prev_u8, cur_u8: uint8 ``(H, W, 3)`` frames t-1 and t.
        backward_flow: float32 ``(H, W, 2)`` flow from t to t-1 (see flow.py).
        mask: ``(H, W)`` reliability weights in [0, 1].
        channels: ``rgb`` (squared difference averaged over the channels) or
            ``luma`` (of the BT.709 luma).

    Returns:
        The error (0 = identical after warping; at most 1), or NaN when no
        pixel has weight.
    """
    if channels not in CHANNELS:
        raise ValueError(f"unknown channels {channels!r}; choose one of {', '.join(CHANNELS)}")
    if prev_u8.shape != cur_u8.shape:
        raise ValueError(f"frames differ in shape: {prev_u8.shape} and {cur_u8.shape}")
    if mask.shape != cur_u8.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match frames {cur_u8.shape}")
    return masked_mean(squared_errors(prev_u8, cur_u8, backward_flow, interpolation=warp)[channels], mask)


def evaluate_frames(
    input_frames: Iterable[np.ndarray],
    stylized_frames: Iterable[np.ndarray],
    *,
    method: str = METER_METHOD,
    mask: str = "full",
    channels: str = "rgb",
    size: tuple[int, int] | None = None,
    cut_reliable_fraction: float = CUT_RELIABLE_FRACTION,
    warp: str = METER_INTERPOLATION,
) -> MeterReport:
    """Measure E_warp of a stylized sequence against its input, every variant at once.

    Both sequences are iterated in lockstep, holding only the previous pair
    (memory stays flat); lists work as well. The flow and masks are measured
    on the input pair and used for both (see ``evaluate_convention``).

    Args:
        input_frames, stylized_frames: uint8 ``(H, W, 3)`` RGB frames, the
            same number of each (sizes may differ).
        method: flow method (``flow.FlowEstimator``); the convention's is ``dis-medium``.
        mask: headline mask, ``full`` or ``occlusion`` (both are measured).
        channels: headline channels, ``rgb`` or ``luma`` (both are measured).
        size: ``(width, height)`` to measure at; default the stylized frames'
            size. Frames of another size are resized with INTER_AREA.
        cut_reliable_fraction: a pair with less of its pixels passing the full
            mask is a scene cut (skipped).
        warp: how the previous frame is warped, one of ``METER_WARPS``: the
            convention's bilinear (default) or ``lanczos``, which does not
            read a sharp texture carried along the flow as change.

    Returns:
        A ``MeterReport``: per-pair E_warp of input and stylized (MSE of values
        in [0, 1]) for each variant; ``.report(mask, channels).segments()``
        gives the ratios after cold starts, over the rest and per shot.

    Raises:
        ValueError: the sequences have different numbers of frames (the
            message names both counts), or an unknown mask or channels.
    """
    if mask not in MASKS:
        raise ValueError(f"unknown mask {mask!r}; choose one of {', '.join(MASKS)}")
    if channels not in CHANNELS:
        raise ValueError(f"unknown channels {channels!r}; choose one of {', '.join(CHANNELS)}")
    if warp not in METER_WARPS:
        raise ValueError(f"unknown meter warp {warp!r}; choose one of {', '.join(METER_WARPS)}")
    estimator = FlowEstimator(method)
    keys = [(m, c) for m in MASKS for c in CHANNELS]
    stylized_errors: dict[tuple[str, str], list[float]] = {key: [] for key in keys}
    input_errors: dict[tuple[str, str], list[float]] = {key: [] for key in keys}
    fractions: dict[str, list[float]] = {m: [] for m in MASKS}
    agreement: list[float] = []
    cuts: list[int] = []
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for source, stylized in _lockstep(input_frames, stylized_frames):
        size = size or (stylized.shape[1], stylized.shape[0])
        source, stylized = _fit(source, size), _fit(stylized, size)
        agreement.append(edge_agreement(source, stylized))
        if previous is not None:
            prev_source, prev_stylized = previous
            backward = estimator.estimate(source, prev_source)
            masks = meter_masks(backward, estimator.estimate(prev_source, source))
            for m in MASKS:
                fractions[m].append(float(masks[m].mean(dtype=np.float64)))
            cut = is_scene_cut(prev_source, source, masks["full"], threshold=cut_reliable_fraction)
            if cut:
                cuts.append(len(fractions["full"]) - 1)
            source_sq = squared_errors(prev_source, source, backward, interpolation=warp)
            stylized_sq = squared_errors(prev_stylized, stylized, backward, interpolation=warp)
            for m, c in keys:
                input_errors[m, c].append(math.nan if cut else masked_mean(source_sq[c], masks[m]))
                stylized_errors[m, c].append(math.nan if cut else masked_mean(stylized_sq[c], masks[m]))
        previous = (source, stylized)
    variants = {f"{m}/{c}": FlickerReport(stylized_errors[m, c], input_errors[m, c], list(cuts)) for m, c in keys}
    return MeterReport(
        variants, fractions, mask=mask, channels=channels, method=method, warp=warp, edge_agreement=agreement
    )


EDGE_AGREEMENT_WIDTH = 64  # px: the shapes a stylization keeps, not its brush strokes
EDGE_AGREEMENT_BLUR = 1.0  # Gaussian sigma in px at that width
# An input frame whose gradient magnitudes (luma in [0, 1], at that width) have a standard deviation
# under this has no shapes to keep. A one-grey-level step across a flat frame reads 1.9e-3.
EDGE_AGREEMENT_FLAT = 1e-4


def edge_agreement(source_u8: np.ndarray, stylized_u8: np.ndarray) -> float:
    """How far ``stylized_u8`` keeps the shapes of ``source_u8``: the Pearson
    correlation of their luma gradient magnitudes (Sobel), both resized to
    64 px wide (INTER_AREA) and blurred (sigma 1 px), in [-1, 1].

    A frame against itself gives 1. Medians over real clips (README "The
    right two files"): stylizations of their own input 0.58-0.68, 0.29 with
    the style weighted 100x; another clip's frames 0.05-0.07, 0.25 for the
    same shot seconds earlier (``EDGE_AGREEMENT_FLOOR`` in
    ``cli/eval.py``: 0.2). An input frame without edges (flat: its gradient
    magnitudes vary by less than ``EDGE_AGREEMENT_FLAT``) has no shapes to
    keep, whatever the stylized frame shows: NaN, undefined. A flat stylized
    frame of an input with edges keeps none of them: 0.

    Args:
        source_u8, stylized_u8: uint8 ``(H, W, 3)`` RGB frames (sizes may differ).
    """
    width = EDGE_AGREEMENT_WIDTH
    height = max(8, round(width * stylized_u8.shape[0] / stylized_u8.shape[1]))
    a, b = (_edges(image, (width, height)) for image in (source_u8, stylized_u8))
    if float(a.std(dtype=np.float64)) < EDGE_AGREEMENT_FLAT:
        return math.nan
    a, b = a - a.mean(dtype=np.float64), b - b.mean(dtype=np.float64)
    norm = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / norm if norm > 0 else 0.0


def _edges(image_u8: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Gradient magnitude of the luma of ``image_u8`` at ``size`` = (width, height), float64."""
    gray = cv2.resize(luma(image_u8).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    gray = cv2.GaussianBlur(gray, (0, 0), EDGE_AGREEMENT_BLUR)
    return np.hypot(cv2.Sobel(gray, cv2.CV_64F, 1, 0), cv2.Sobel(gray, cv2.CV_64F, 0, 1))


def evaluate_flicker(
    input_frames: Iterable[np.ndarray],
    stylized_frames: Iterable[np.ndarray],
    *,
    method: str = METER_METHOD,
    size: tuple[int, int] | None = None,
    mask: str = "full",
    channels: str = "rgb",
    warp: str = METER_INTERPOLATION,
) -> FlickerReport:
    """``evaluate_frames``' report for one variant (default full mask, RGB, the convention's warp)."""
    return evaluate_frames(
        input_frames, stylized_frames, method=method, size=size, mask=mask, channels=channels, warp=warp
    ).primary


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
    input_path,
    stylized_path,
    *,
    method: str = METER_METHOD,
    max_side: int | None = None,
    mask: str = "full",
    channels: str = "rgb",
    warp: str = METER_INTERPOLATION,
    decode: str = METER_DECODE,
    input_start_s: float | None = None,
    input_end_s: float | None = None,
    input_rate=None,
) -> MeterReport:
    """``evaluate_frames`` on two video files (decoded with PyAV at their own
    size, streamed, then resized with INTER_AREA), at the stylized video's
    size (or smaller, with ``max_side``). ``decode``: how the stylized file's
    chroma is upsampled (``media.reading.CHROMA_UPSAMPLING``: the
    convention's ``nearest``, or ``player``, interpolated as players show
    it). The input is always decoded the convention's way: its flow, mask
    and E_warp stay the same (the meter's flow moves with the input's
    decoding, and the stylizer measured its flow on the same decoding).
    ``input_start_s``/``input_end_s``: the part of the input the stylized
    file was made from (``vidstyle -ss/-t``), in source seconds.
    ``input_rate``: the frame rate an image sequence input was stylized at
    (``vidstyle --input-fps``; default 25), which those seconds count in.
    Raises InputError when the frame counts differ."""
    from vidstyle.errors import InputError
    from vidstyle.media import probe, read_frames
    from vidstyle.media.reading import CHROMA_UPSAMPLING

    if decode not in CHROMA_UPSAMPLING:
        raise ValueError(f"unknown decode {decode!r}; choose one of {', '.join(CHROMA_UPSAMPLING)}")
    stylized_info = probe(stylized_path)
    probe(input_path, rate=input_rate)
    size = measurement_size((stylized_info.width, stylized_info.height), max_side=max_side)
    # Decoded at their own size and resized here, so the resampling filter is the
    # convention's (cv2.INTER_AREA), not the decoder's.
    sources = (f.image_u8 for f in read_frames(input_path, start_s=input_start_s, end_s=input_end_s, rate=input_rate))
    stylized = (f.image_u8 for f in read_frames(stylized_path, chroma=decode))
    try:
        report = evaluate_frames(sources, stylized, method=method, size=size, mask=mask, channels=channels, warp=warp)
        return dataclasses.replace(report, decode=decode)
    except ValueError as err:
        hint = ""
        if input_start_s is None and input_end_s is None and "frame counts differ" in str(err):
            hint = " (made from part of the input? give eval its range: -ss, -t or -to)"
        raise InputError(f"{input_path} and {stylized_path} do not match: {err}{hint}") from err


def measurement_size(stylized_size: tuple[int, int], *, max_side: int | None = None) -> tuple[int, int]:
    """The ``(width, height)`` ``evaluate_videos`` measures at: the stylized
    video's size, or smaller with ``max_side`` (aspect kept, even sides)."""
    from vidstyle.frames import fit_size

    if max_side is None:
        return stylized_size
    return fit_size(*stylized_size, max_side=max_side)


def sharpness(image_u8: np.ndarray) -> float:
    """Detail of one frame: the variance of the Laplacian (``cv2.Laplacian``,
    3x3 aperture 1) of its BT.709 luma as float in [0, 1]. High for crisp
    strokes, low for blur; in [0, 1] units², so 255² times smaller than on
    8-bit gray.

    Args:
        image_u8: uint8 ``(H, W, 3)`` RGB.
    """
    if image_u8.dtype != np.uint8 or image_u8.ndim != 3 or image_u8.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB image, got {image_u8.dtype} {image_u8.shape}")
    return float(cv2.Laplacian(luma(image_u8).astype(np.float64), cv2.CV_64F).var())
