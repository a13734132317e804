"""Seam repair: how a segment that starts inside a shot joins the one before.

Measured on the sample clip (benchmarks/scale.py, 96x54, 24 frames, segments
of 8): two segments painted from different histories converge to different
textures, so a segment that starts cold inside a shot jumps at its seam, and
warm-up frames alone do not fix that (E_warp at the seam 0.0068 with 4
warm-up frames, 0.0041 with 8, against a median of 2.2e-5 inside segments):
the warm-up makes the new segment steady, not the same as the old one.

So the warm-up frames are not thrown away: over the ``K`` frames where both
segments painted the same input frames, the output cross-fades from the
earlier segment to the later one (weights ``k / (K + 1)``), which spreads the
difference over ``K + 1`` pairs instead of one. A plain pixel blend of two
unrelated textures halves their contrast mid-way (style loss of the middle
frames up to 2x, measured), so the blend keeps the brush strokes' variance:
the fine detail (the image minus a Gaussian blur) is blended and rescaled to
the weighted variance of the two details, after the histogram-preserving
blend of Heitz and Neyret (2018), with the variance measured rather than
assumed (the two paintings share the content's edges). Anchoring each
segment to the previous one's last output would remove the seam but
serialize the segments of a shot (no speed-up inside a long shot); the
cross-fade keeps them independent.

Measured (benchmarks/scale.py, same clip, 3 segments of 8, K = 8, so 16 of
the 24 frames lie in fade zones): worst pair of a seam zone E_warp 1.28e-4
(no repair: 7.95e-3; the single-machine output at the same pairs: 5.7e-5;
median pair inside segments: 1.3e-5); style loss over the clip 1.11x the
single machine's (plain blend: 1.22x; no repair: 1.09x, since each
segment's cold start costs style too); mid-fade frames still 1.5x on their
own. The share of frames in fade zones is K / --segment-frames (1/6 at the
defaults); at that share (2 segments of 12, K = 4): worst seam-zone pair
3.8e-4 (no repair 9.6e-3; inner median 2.5e-5), style loss 1.07x (no repair
1.05x).

At the default 256x144 and 200/10 iterations the fade alone was the weak
part: a cold-started segment's painting of a frame differs from the earlier
segment's by 760-920x the median pair's E_warp, mid-fade frames reached 10x
the style loss (two sharp, unrelated textures blended and rescaled are no
painting), and spreading such a jump evenly below 1.5x the median pair
needs a transition of ~40 frames (a pixel's share over ``W`` pairs is about
``D^2 / W^2``; repairs tried: README, "Measured"). Since the later segment
starts from the shot's first painting carried along the motion
(``anchor``), the two paintings of the overlapping frames differ by ~20x
instead, and these ``K`` = 8 faded frames spread that below the clip's own
pair-to-pair change (``anchor`` has the numbers).
"""

from __future__ import annotations

import cv2
import numpy as np

DETAIL_SIGMA_FRACTION = 0.02  # Gaussian sigma separating strokes from shapes, as a share of the longer side


def crossfade(earlier_u8: np.ndarray, later_u8: np.ndarray, *, step: int, steps: int) -> np.ndarray:
    """Frame ``step`` (0-based) of ``steps`` overlapping frames: the earlier
    segment's pixels faded towards the later one's by ``(step + 1) / (steps + 1)``,
    keeping the detail's variance (see the module doc). Both uint8
    ``(H, W, 3)``; equal inputs come back unchanged."""
    if not 0 <= step < steps:
        raise ValueError(f"step {step} outside 0..{steps - 1}")
    weight = (step + 1) / (steps + 1)
    earlier, later = earlier_u8.astype(np.float32), later_u8.astype(np.float32)
    sigma = max(1.0, DETAIL_SIGMA_FRACTION * max(earlier.shape[:2]))
    base_earlier = cv2.GaussianBlur(earlier, (0, 0), sigma)
    base_later = cv2.GaussianBlur(later, (0, 0), sigma)
    detail_earlier, detail_later = earlier - base_earlier, later - base_later
    detail = (1 - weight) * detail_earlier + weight * detail_later
    wanted = (1 - weight) * detail_earlier.var(axis=(0, 1)) + weight * detail_later.var(axis=(0, 1))
    have = detail.var(axis=(0, 1))
    scale = np.sqrt(np.where(have > 1e-6, wanted / np.maximum(have, 1e-6), 1.0)).astype(np.float32)
    blended = (1 - weight) * base_earlier + weight * base_later + detail * scale
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
