"""Optical flow between input frames, warping, and the reliability mask.

Conventions: ``flow`` is float32 ``(H, W, 2)`` in pixels, ``flow[y, x] = (dx, dy)``
such that ``src(x) ≈ dst(x + flow(x))`` for ``estimate(src, dst)``. For frame t,
the *backward* flow ``estimate(frame_t, frame_{t-1})`` says where each pixel of
frame t was in frame t-1, and ``warp(previous, backward)`` moves the previous
frame into frame t. ``mask`` is float32 ``(H, W)`` in [0, 1], 1 = reliable.

This module is numpy/OpenCV only (no torch): it runs on a background thread
beside the optimizer.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from .frames import Frame

DIS_PRESETS = {
    "dis-ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "dis-fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "dis-medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# Farneback parameters (OpenCV's documented example values, a finer pyramid).
FARNEBACK = dict(pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)

# Ruder et al. 2016, section 3.1: thresholds of the occlusion and motion-boundary tests.
OCCLUSION_RELATIVE = 0.01
OCCLUSION_ABSOLUTE = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002
# Below this colour-histogram correlation two frames belong to different shots.
HISTOGRAM_CUT_CORRELATION = 0.3
HISTOGRAM_BINS = (16, 16)  # hue, saturation


class FlowEstimator:
    """Dense optical flow with one OpenCV method, built once.

    Args:
        method: ``dis-medium`` (default), ``dis-fast``, ``dis-ultrafast`` or ``farneback``.
    """

    def __init__(self, method: str = "dis-medium"):
        if method not in (*DIS_PRESETS, "farneback"):
            raise ValueError(f"unknown flow method {method!r}")
        self.method = method
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[method]) if method in DIS_PRESETS else None

    def estimate(self, src_u8: np.ndarray, dst_u8: np.ndarray) -> np.ndarray:
        """Flow ``(H, W, 2)`` from ``src`` to ``dst`` (both uint8 ``(H, W, 3)`` RGB):
        ``src(x) ≈ dst(x + flow(x))``."""
        src = cv2.cvtColor(src_u8, cv2.COLOR_RGB2GRAY)
        dst = cv2.cvtColor(dst_u8, cv2.COLOR_RGB2GRAY)
        if self._dis is not None:
            flow = self._dis.calc(src, dst, None)
        else:
            flow = cv2.calcOpticalFlowFarneback(src, dst, None, **FARNEBACK)
        return flow.astype(np.float32, copy=False)


def sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates ``x + flow(x)`` as two float32 ``(H, W)`` maps."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray, *, interpolation: str = "cubic") -> np.ndarray:
    """``out[x] = image[x + flow(x)]`` for an ``(H, W, C)`` or ``(H, W)`` image.

    Bicubic by default: a bilinear warp blurs the stylized frame a little at
    every frame and the temporal loss then pins that blur (DESIGN.md). Samples
    outside the frame replicate the border; the mask marks them unreliable.
    """
    map_x, map_y = sample_grid(flow)
    mode = {"cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
    return cv2.remap(image, map_x, map_y, interpolation=mode, borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Where the backward flow of frame t can be trusted (Ruder et al. 2016, sec. 3.1).

    A pixel x is unreliable (0) when
    - the forward-backward check fails (disocclusion):
      ``|w + ŵ(x+w)|² > 0.01 (|w|² + |ŵ(x+w)|²) + 0.5``,
    - it lies on a motion boundary: ``|∇u|² + |∇v|² > 0.01 |w|² + 0.002``,
    - or ``x + w`` leaves the frame,
    where w = (u, v) is the backward flow (t -> t-1) and ŵ the forward flow
    (t-1 -> t) sampled at x + w. Returns float32 ``(H, W)`` of 0 and 1.
    """
    h, w = backward.shape[:2]
    map_x, map_y = sample_grid(backward)
    forward_at = cv2.remap(forward, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    round_trip = np.sum((backward + forward_at) ** 2, axis=-1)
    magnitudes = np.sum(backward**2, axis=-1) + np.sum(forward_at**2, axis=-1)
    occluded = round_trip > OCCLUSION_RELATIVE * magnitudes + OCCLUSION_ABSOLUTE
    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    gradient = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    boundary = gradient > BOUNDARY_RELATIVE * np.sum(backward**2, axis=-1) + BOUNDARY_ABSOLUTE
    outside = (map_x < 0) | (map_x > w - 1) | (map_y < 0) | (map_y > h - 1)
    return (~(occluded | boundary | outside)).astype(np.float32)


def long_term_weights(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Ruder et al. 2016, eq. 8: ``c_long_j = max(c_j - sum_{k<j} c_k, 0)`` for
    masks ordered from the closest previous frame to the farthest, so a pixel
    is constrained by the closest frame in which it was visible."""
    weights, covered = [], np.zeros_like(masks[0]) if masks else None
    for mask in masks:
        weights.append(np.maximum(mask - covered, 0.0).astype(np.float32))
        covered = covered + mask
    return weights


def histogram_correlation(a_u8: np.ndarray, b_u8: np.ndarray) -> float:
    """Correlation (-1..1) of the hue-saturation histograms of two RGB frames."""

    def hist(image):
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        h = cv2.calcHist([hsv], [0, 1], None, list(HISTOGRAM_BINS), [0, 180, 0, 256])
        return cv2.normalize(h, h).flatten()

    return float(cv2.compareHist(hist(a_u8), hist(b_u8), cv2.HISTCMP_CORREL))


def is_scene_cut(previous_u8: np.ndarray, current_u8: np.ndarray, mask: np.ndarray, *, threshold: float) -> bool:
    """A cut when too little of the frame is reliably explained by the flow from
    the previous frame, or the colours changed wholesale."""
    if float(mask.mean()) < threshold:
        return True
    return histogram_correlation(previous_u8, current_u8) < HISTOGRAM_CUT_CORRELATION


@dataclasses.dataclass(frozen=True)
class Motion:
    """What the temporal stage needs for frame t.

    Attributes:
        warps: ``(k, backward_flow, weight)`` for each previous frame t-k still
            in the current shot, closest first; ``weight`` is the long-term
            weight (just the consistency mask for the closest frame).
        is_scene_cut: frame t starts a new shot; ``warps`` is empty then.
        reliable_fraction: share of frame t's pixels whose t-1 flow is reliable.
    """

    warps: list[tuple[int, np.ndarray, np.ndarray]]
    is_scene_cut: bool
    reliable_fraction: float


def with_motion(
    frames: Iterable[Frame],
    *,
    method: str = "dis-medium",
    offsets: tuple[int, ...] = (1,),
    scene_cut_threshold: float = 0.5,
) -> Iterator[tuple[Frame, Motion | None]]:
    """Pair each input frame with its motion relative to earlier frames.

    The first frame gets None. Holds only the last ``max(offsets)`` frames. Run
    it under ``threads.prefetch`` to overlap with stylization.
    """
    estimator = FlowEstimator(method)
    offsets = tuple(sorted(set(offsets)))
    history: deque[Frame] = deque(maxlen=max(offsets))  # history[-k] is frame t-k
    for frame in frames:
        if not history:
            history.append(frame)
            yield frame, None
            continue
        warps, masks = [], []
        for k in offsets:
            if k > len(history):
                break
            earlier = history[-k].image_u8
            backward = estimator.estimate(frame.image_u8, earlier)
            forward = estimator.estimate(earlier, frame.image_u8)
            warps.append((k, backward))
            masks.append(consistency_mask(backward, forward))
        reliable = float(masks[0].mean())
        cut = is_scene_cut(history[-1].image_u8, frame.image_u8, masks[0], threshold=scene_cut_threshold)
        if cut:
            history.clear()
            motion = Motion(warps=[], is_scene_cut=True, reliable_fraction=reliable)
        else:
            weights = long_term_weights(masks)
            motion = Motion(
                warps=[(k, flow, weight) for (k, flow), weight in zip(warps, weights)],
                is_scene_cut=False,
                reliable_fraction=reliable,
            )
        history.append(frame)
        yield frame, motion
