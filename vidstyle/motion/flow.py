"""Optical flow between input frames, warping, and Ruder et al.'s reliability mask.

Conventions (used by every function here and by the rest of the motion package):

- ``flow`` is float32 ``(H, W, 2)`` in pixels, ``flow[y, x] = (dx, dy)``.
- ``FlowEstimator.estimate(src, dst)`` returns the flow *from src to dst*: for
  each pixel x of ``src``, ``x + flow(x)`` is where that point is in ``dst``,
  so ``src(x) ≈ dst(x + flow(x))``.
- For frame t, the **backward flow** is ``estimate(frame_t, frame_{t-1})``:
  where each pixel of frame t was in frame t-1. The **forward flow** is
  ``estimate(frame_{t-1}, frame_t)``.
- ``warp(previous, backward)[x] = previous[x + backward(x)]`` moves frame t-1
  (or its stylized version) into frame t.
- ``mask`` is float32 ``(H, W)`` in [0, 1], 1 = the backward flow is reliable.

Numpy/OpenCV only, no torch: this runs on a background thread beside the
optimizer, and OpenCV releases the GIL in its heavy calls.
"""

from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np

from vidstyle.config import FLOW_METHODS

DIS_PRESETS = {
    "dis-ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "dis-fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "dis-medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# Farneback parameters, passed by name: OpenCV's documented example values
# with a deeper pyramid (5 levels) so motions of tens of pixels are caught.
FARNEBACK_OPTIONS: dict[str, Any] = dict(
    pyr_scale=0.5,  # each pyramid level is half the previous one
    levels=5,
    winsize=15,  # averaging window, pixels
    iterations=3,  # per pyramid level
    poly_n=5,  # neighbourhood of the polynomial expansion, pixels
    poly_sigma=1.2,  # Gaussian smoothing of that neighbourhood (1.1 for poly_n=5 .. 1.5 for 7)
    flags=0,
)

INTERPOLATIONS = {
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
}
BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT101, "constant": cv2.BORDER_CONSTANT}

# Ruder, Dosovitskiy, Brox, "Artistic style transfer for videos", GCPR 2016,
# sec. 3.2 (Short-term consistency by initialization / occlusion detection):
# thresholds of the forward-backward (disocclusion) and motion-boundary tests.
OCCLUSION_RELATIVE = 0.01
OCCLUSION_ABSOLUTE_PX2 = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002

# Optional photometric test (photometric_mask): largest mean absolute RGB
# difference, in [0, 1] units, between a frame and its warped predecessor.
PHOTOMETRIC_THRESHOLD = 0.05

# Scene cuts: besides a low reliable fraction, two frames whose hue-saturation
# histograms correlate less than this belong to different shots.
HISTOGRAM_CUT_CORRELATION = 0.3
HISTOGRAM_BINS = (16, 16)  # hue, saturation
HISTOGRAM_RANGES = [0, 180, 0, 256]  # OpenCV's 8-bit HSV: hue 0..179, saturation 0..255


class FlowEstimator:
    """Dense optical flow with one OpenCV method; the OpenCV object is built once.

    Not thread-safe (the DIS object keeps state): use one estimator per thread.

    Args:
        method: one of ``config.FLOW_METHODS``: ``dis-medium`` (default),
            ``dis-fast``, ``dis-ultrafast`` (DIS, Kroeger et al. 2016, at
            OpenCV's presets) or ``farneback`` (Farneback 2003).
    """

    def __init__(self, method: str = "dis-medium"):
        if method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {method!r}; choose one of {', '.join(FLOW_METHODS)}")
        self.method = method
        self._dis = cv2.DISOpticalFlow.create(DIS_PRESETS[method]) if method in DIS_PRESETS else None

    def estimate(self, src_u8: np.ndarray, dst_u8: np.ndarray) -> np.ndarray:
        """Flow from ``src`` to ``dst``: ``src(x) ≈ dst(x + flow(x))``.

        Args:
            src_u8, dst_u8: uint8 ``(H, W, 3)`` RGB (or ``(H, W)`` gray) frames
                of the same size.

        Returns:
            float32 ``(H, W, 2)`` flow in pixels.
        """
        if src_u8.shape[:2] != dst_u8.shape[:2]:
            raise ValueError(f"frames differ in size: {src_u8.shape} and {dst_u8.shape}")
        src, dst = _gray(src_u8), _gray(dst_u8)
        if self._dis is not None:
            flow = self._dis.calc(src, dst, None)
        else:
            flow = cv2.calcOpticalFlowFarneback(src, dst, None, **FARNEBACK_OPTIONS)
        return flow.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"FlowEstimator({self.method!r})"


def _gray(image_u8: np.ndarray) -> np.ndarray:
    if image_u8.dtype != np.uint8:
        raise ValueError(f"expected a uint8 frame, got {image_u8.dtype}")
    if image_u8.ndim == 2:
        return np.ascontiguousarray(image_u8)
    if image_u8.ndim == 3 and image_u8.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(image_u8), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an (H, W, 3) RGB or (H, W) gray frame, got shape {image_u8.shape}")


@functools.lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(xs, ys)``, two read-only float32 ``(H, W)`` arrays."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates ``x + flow(x)`` as two float32 ``(H, W)``
    maps (x then y), the form ``cv2.remap`` takes."""
    _check_flow(flow)
    xs, ys = _pixel_grid(*flow.shape[:2])
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray, *, interpolation: str = "cubic", border: str = "replicate") -> np.ndarray:
    """Resample ``image`` along ``flow``: ``out[x] = image[x + flow(x)]``.

    With a backward flow of frame t this moves frame t-1 into frame t.

    Args:
        image: ``(H, W, C)`` or ``(H, W)``, float32 (any range) or uint8.
        flow: float32 ``(H, W, 2)`` in pixels.
        interpolation: ``cubic`` (default), ``lanczos`` (Lanczos-4, sharper
            still: the detail stage's), ``linear`` or ``nearest``. Bicubic
            because a bilinear warp blurs the stylized frame a little at every
            frame and the temporal loss then pins that blur (measured in the temporal benchmark, README).
            Bicubic and Lanczos can overshoot: clip the result if the range matters.
        border: samples outside the frame: ``replicate`` (default; the mask
            marks those pixels unreliable anyway), ``reflect`` or ``constant`` (0).

    Returns:
        The warped image, same shape and dtype as ``image``.
    """
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape} and flow {flow.shape} differ in size")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; choose one of {', '.join(INTERPOLATIONS)}")
    if border not in BORDERS:
        raise ValueError(f"unknown border {border!r}; choose one of {', '.join(BORDERS)}")
    map_x, map_y = sample_grid(flow)
    warped = cv2.remap(image, map_x, map_y, interpolation=INTERPOLATIONS[interpolation], borderMode=BORDERS[border])
    return warped.reshape(image.shape)  # remap drops a trailing channel axis of size 1


def consistency_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Where the backward flow of frame t can be trusted.

    Ruder et al. 2016, sec. 3.2, with w = (u, v) the backward flow (t -> t-1)
    at x and ŵ the forward flow (t-1 -> t) sampled bilinearly at x + w. A pixel
    is unreliable (0) when

    - the forward-backward check fails (x is disoccluded in frame t):
      ``|w + ŵ(x+w)|² > 0.01 (|w|² + |ŵ(x+w)|²) + 0.5``;
    - it lies on a motion boundary of the backward flow:
      ``|∇u|² + |∇v|² > 0.01 |w|² + 0.002`` (central differences);
    - or x + w falls outside frame t-1.

    Args:
        backward, forward: float32 ``(H, W, 2)`` flows of the same size.

    Returns:
        float32 ``(H, W)`` of 0 and 1.
    """
    _check_flow(backward)
    if forward.shape != backward.shape:
        raise ValueError(f"backward {backward.shape} and forward {forward.shape} flows differ in shape")
    height, width = backward.shape[:2]
    map_x, map_y = sample_grid(backward)
    forward_at = cv2.remap(forward, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    backward_sq = np.sum(backward**2, axis=-1)
    round_trip_sq = np.sum((backward + forward_at) ** 2, axis=-1)
    forward_sq = np.sum(forward_at**2, axis=-1)
    occluded = round_trip_sq > OCCLUSION_RELATIVE * (backward_sq + forward_sq) + OCCLUSION_ABSOLUTE_PX2
    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    gradient_sq = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    boundary = gradient_sq > BOUNDARY_RELATIVE * backward_sq + BOUNDARY_ABSOLUTE
    outside = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    return (~(occluded | boundary | outside)).astype(np.float32)


def photometric_mask(
    current_u8: np.ndarray, previous_u8: np.ndarray, backward: np.ndarray, *, threshold: float = PHOTOMETRIC_THRESHOLD
) -> np.ndarray:
    """Where the previous input frame, warped by the backward flow, matches the
    current one: 1 where the mean absolute RGB difference (values in [0, 1])
    is at most ``threshold``, else 0. float32 ``(H, W)``.

    Not part of Ruder et al.: an extra test, multiplied into their mask when
    ``with_motion(photometric_threshold=...)`` asks for it. DIS smooths the
    flow across motion boundaries, so the forward-backward check often passes
    in a thin disoccluded strip; the warped content there does not match.
    """
    warped = warp(previous_u8.astype(np.float32), backward, interpolation="linear")
    difference = np.abs(warped - current_u8.astype(np.float32)).mean(axis=-1) / 255.0
    return (difference <= threshold).astype(np.float32)


def long_term_weights(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Long-term weights of Ruder et al. 2016, sec. 3.3:
    ``c_long_j = max(c_j - sum_{k<j} c_k, 0)``.

    Args:
        masks: consistency masks ``(H, W)`` of frames t-k, ordered from the
            closest offset to the farthest.

    Returns:
        One float32 ``(H, W)`` weight per mask: each pixel is constrained only
        by the closest previous frame in which it was reliably visible.
    """
    weights = []
    covered = None
    for mask in masks:
        mask = mask.astype(np.float32, copy=False)
        weights.append(mask.copy() if covered is None else np.maximum(mask - covered, 0.0))
        covered = mask.copy() if covered is None else covered + mask
    return weights


def histogram_correlation(a_u8: np.ndarray, b_u8: np.ndarray) -> float:
    """Correlation (-1..1) of the hue-saturation histograms of two uint8
    ``(H, W, 3)`` RGB frames; 1 = same colour distribution."""

    def histogram(image_u8):
        hsv = cv2.cvtColor(np.ascontiguousarray(image_u8), cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, list(HISTOGRAM_BINS), HISTOGRAM_RANGES)
        return cv2.normalize(hist, hist).flatten()

    return float(cv2.compareHist(histogram(a_u8), histogram(b_u8), cv2.HISTCMP_CORREL))


def is_scene_cut(
    previous_u8: np.ndarray,
    current_u8: np.ndarray,
    mask: np.ndarray,
    *,
    threshold: float = 0.5,
    min_histogram_correlation: float = HISTOGRAM_CUT_CORRELATION,
) -> bool:
    """Whether ``current`` starts a new shot after ``previous``.

    A cut when less than ``threshold`` of the frame is reliably explained by
    the flow from the previous frame (``mask`` = ``consistency_mask`` of the
    t-1 pair), or, for robustness where flow finds spurious matches in smooth
    areas, when the colour distributions are unrelated (hue-saturation
    histogram correlation below ``min_histogram_correlation``).
    """
    if float(mask.mean()) < threshold:
        return True
    return histogram_correlation(previous_u8, current_u8) < min_histogram_correlation


def _check_flow(flow: np.ndarray) -> None:
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"expected a flow of shape (H, W, 2), got {flow.shape}")
