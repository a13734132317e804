"""The flicker meter's convention: how one pair of frames is measured.

Written out so that an independent implementation reproduces the numbers
(``CONVENTION`` is printed by ``vidstyle eval --help`` and put in its --json
report). Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018,
sec. 5.1 (E_warp), with the reliability mask of Ruder et al., "Artistic style
transfer for videos", GCPR 2016, sec. 3.2:

- **Flow**: OpenCV DIS at ``PRESET_MEDIUM`` with its default parameters, on the
  8-bit gray (``cv2.COLOR_RGB2GRAY``) of the *input* frames at the measurement
  size. Backward flow ``w = calc(I_t, I_{t-1})``, forward flow
  ``ŵ = calc(I_{t-1}, I_t)`` (``flow.py``'s directions).
- **Mask** (``full``): a pixel x of frame t is unreliable when
  ``|w + ŵ(x+w)|² > 0.01 (|w|² + |ŵ(x+w)|²) + 0.5`` (forward-backward test,
  ŵ sampled bilinearly at x + w), or when
  ``|∇u|² + |∇v|² > 0.01 |w|² + 0.002`` (motion boundary; central differences
  ``(f(x+1) - f(x-1)) / 2`` in pixel units, one-sided at the border, as
  ``numpy.gradient``), or when x + w lies outside ``[0, W-1] x [0, H-1]``.
  ``occlusion``: the same without the motion-boundary test.
- **Decoding** (files): FFmpeg's swscale to RGB, each 4:2:0 chroma sample
  repeated over its 2x2 pixels (``vidstyle eval --decode player``: the
  stylized file's chroma interpolated, as players show it, the input's
  as before; a number of its own).
- **Warp**: bilinear ``cv2.remap`` of float32 values in [0, 1] (not uint8),
  border replicated (those pixels are masked anyway). ``vidstyle eval --warp
  lanczos`` reads the same with ``cv2.INTER_LANCZOS4``: a number of its own.
- **Error**: ``E_warp(t) = sum_x M(x) e(x) / sum_x M(x)`` with ``e`` the squared
  difference of frame t and frame t-1 warped, averaged over R, G, B in [0, 1]
  (``rgb``), or of the BT.709 luma ``Y' = 0.2126 R' + 0.7152 G' + 0.0722 B'`` of
  the same gamma-encoded values (``luma``).

The clip's E_warp is the mean over measured pairs (each pair weighs the same),
and the flicker ratio is stylized / input (see ``evaluate``).

Pure numpy/OpenCV.
"""

from __future__ import annotations

import numpy as np

from vidstyle.frames import u8_to_float
from vidstyle.motion.flow import sample_grid, warp

# The meter keeps its own copy of Ruder et al.'s thresholds (sec. 3.2) so that
# tuning the stylizer's mask (flow.py) never moves the meter.
OCCLUSION_RELATIVE = 0.01
OCCLUSION_ABSOLUTE_PX2 = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002

METER_METHOD = "dis-medium"
METER_INTERPOLATION = "linear"  # Lai et al. warp bilinearly
# The warps a meter may use: the convention's, and Lanczos-4, a near-ideal
# resampling. A bilinear warp blurs a texture sharper than the footage, and
# the meter reads that blur as change: a painting carried along the flow
# with no repainting at all reads as flicker (README, "How flicker is measured").
METER_WARPS = ("linear", "lanczos")
# How a video file's subsampled chroma becomes RGB before measuring
# (media.reading.CHROMA_UPSAMPLING): the convention repeats each chroma sample
# over its pixels, as vidstyle's reader does; "player" interpolates the
# stylized file's chroma, as players show it (the input keeps the convention's).
METER_DECODE = "nearest"
MASKS = ("full", "occlusion")
CHANNELS = ("rgb", "luma")
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float32)  # ITU-R BT.709

# A pair is a scene cut (skipped: no flicker to measure) when fewer than this
# fraction of its pixels pass the full mask, or when its colours are unrelated
# (flow.is_scene_cut's histogram test). Lower than the stylizer's 0.5: a fast
# pan with half the frame unreliable is still one shot, and skipping it would
# drop exactly the hardest pairs from the meter.
CUT_RELIABLE_FRACTION = 0.2

CONVENTION = {
    "name": "lai-ruder/1",
    "metric": "E_warp (Lai et al. 2018): per pair, sum M*e / sum M; clip = mean over measured pairs; "
    "flicker ratio = stylized / input",
    "flow": "OpenCV DIS PRESET_MEDIUM, default parameters, on cv2 RGB2GRAY 8-bit of the input at the "
    "measurement size; backward calc(I_t, I_t-1), forward calc(I_t-1, I_t)",
    "mask_full": "unreliable if |w + fw(x+w)|^2 > 0.01(|w|^2 + |fw(x+w)|^2) + 0.5 (fw bilinear at x+w), "
    "or |grad u|^2 + |grad v|^2 > 0.01|w|^2 + 0.002 (central differences (f(x+1)-f(x-1))/2, numpy.gradient), "
    "or x+w outside [0, W-1] x [0, H-1]",
    "mask_occlusion": "mask_full without the motion-boundary test",
    "warp": "bilinear cv2.remap of float32 in [0, 1], border replicate (warp 'lanczos': cv2.INTER_LANCZOS4 instead)",
    "channels": {
        "rgb": "squared difference averaged over R, G, B in [0, 1]",
        "luma": "squared difference of BT.709 Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' in [0, 1]",
    },
    "decode": "files decoded by FFmpeg/swscale to RGB with each 4:2:0 chroma sample repeated over its 2x2 pixels "
    "(decode 'player': the stylized file's chroma interpolated, SWS_FULL_CHR_H_INT | SWS_ACCURATE_RND; the input "
    "as before), YUV matrix from the file's tag, else BT.709 from 577 lines up and BT.601 below",
    "size": "the stylized video's size (or --max-side); frames of another size are resized with cv2.INTER_AREA "
    "(shrinking) after decoding",
    "scene_cuts": f"a pair is skipped when under {CUT_RELIABLE_FRACTION:.0%} of its pixels pass mask_full or its "
    "hue-saturation histograms correlate under 0.3",
    "segments": "cold_start: the first 15 pairs after the first frame and after each cut; rest: the other "
    "measured pairs; shots: the pairs between cuts",
}


def meter_masks(backward: np.ndarray, forward: np.ndarray) -> dict[str, np.ndarray]:
    """The two masks of the convention for one pair.

    Args:
        backward, forward: float32 ``(H, W, 2)`` flows (t -> t-1 and t-1 -> t).

    Returns:
        ``{"full": ..., "occlusion": ...}``, float32 ``(H, W)`` of 0 and 1
        (1 = reliable). ``occlusion >= full`` everywhere.
    """
    if backward.ndim != 3 or backward.shape[2] != 2 or forward.shape != backward.shape:
        raise ValueError(f"expected two (H, W, 2) flows of one shape, got {backward.shape} and {forward.shape}")
    height, width = backward.shape[:2]
    map_x, map_y = sample_grid(backward)
    forward_at = warp(forward, backward, interpolation="linear", border="replicate")
    backward_sq = np.sum(backward**2, axis=-1)
    round_trip_sq = np.sum((backward + forward_at) ** 2, axis=-1)
    forward_sq = np.sum(forward_at**2, axis=-1)
    occluded = round_trip_sq > OCCLUSION_RELATIVE * (backward_sq + forward_sq) + OCCLUSION_ABSOLUTE_PX2
    outside = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    boundary = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2 > BOUNDARY_RELATIVE * backward_sq + BOUNDARY_ABSOLUTE
    occlusion = ~(occluded | outside)
    return {"full": (occlusion & ~boundary).astype(np.float32), "occlusion": occlusion.astype(np.float32)}


def squared_errors(
    prev_u8: np.ndarray, cur_u8: np.ndarray, backward: np.ndarray, *, interpolation: str = METER_INTERPOLATION
) -> dict[str, np.ndarray]:
    """Per-pixel squared warping error of one pair, for each channel choice.

    Args:
        prev_u8, cur_u8: uint8 ``(H, W, 3)`` RGB frames t-1 and t.
        backward: float32 ``(H, W, 2)`` flow from t to t-1.
        interpolation: the warp, one of ``METER_WARPS`` (the convention's: linear).

    Returns:
        ``{"rgb": ..., "luma": ...}``, float32 ``(H, W)`` in [0, 1] units².
    """
    if prev_u8.shape != cur_u8.shape:
        raise ValueError(f"frames differ in shape: {prev_u8.shape} and {cur_u8.shape}")
    if interpolation not in METER_WARPS:
        raise ValueError(f"unknown meter warp {interpolation!r}; choose one of {', '.join(METER_WARPS)}")
    warped = warp(u8_to_float(prev_u8), backward, interpolation=interpolation)
    difference = u8_to_float(cur_u8) - warped
    return {"rgb": np.mean(difference**2, axis=-1), "luma": (difference @ LUMA_WEIGHTS) ** 2}


def masked_mean(errors: np.ndarray, mask: np.ndarray) -> float:
    """``sum(mask * errors) / sum(mask)`` in float64; NaN when no pixel has weight."""
    if mask.shape != errors.shape:
        raise ValueError(f"mask {mask.shape} does not match frames {errors.shape}")
    total = float(mask.sum(dtype=np.float64))
    if total <= 0:
        return float("nan")
    return float((errors.astype(np.float64) * mask).sum(dtype=np.float64) / total)


def luma(image_u8: np.ndarray) -> np.ndarray:
    """BT.709 luma of a uint8 ``(H, W, 3)`` RGB image: float32 ``(H, W)`` in [0, 1]."""
    return u8_to_float(image_u8) @ LUMA_WEIGHTS
