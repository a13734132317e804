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
difference over ``K + 1`` pairs instead of one. Anchoring each segment to the
previous one's last output would remove the seam but serialize the segments
of a shot (no speed-up inside a long shot); the cross-fade keeps them
independent.
"""

from __future__ import annotations

import numpy as np


def crossfade(earlier_u8: np.ndarray, later_u8: np.ndarray, *, step: int, steps: int) -> np.ndarray:
    """Frame ``step`` (0-based) of ``steps`` overlapping frames: the earlier
    segment's pixels faded towards the later one's by ``(step + 1) / (steps + 1)``.
    Both uint8 ``(H, W, 3)``; equal inputs come back unchanged."""
    if not 0 <= step < steps:
        raise ValueError(f"step {step} outside 0..{steps - 1}")
    weight = np.float32((step + 1) / (steps + 1))
    blended = earlier_u8.astype(np.float32) * (np.float32(1) - weight) + later_u8.astype(np.float32) * weight
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
