"""Carry a stylized frame along the motion of later input frames, without
optimizing: the painting of frame ``a`` moved to frame ``b`` the way a
warm-started chain moves it from frame to frame (Ruder et al. 2016, sec. 3.2).

The painting is warped one step at a time by each frame's backward flow,
bicubic, clipped and rounded to uint8 as the chain's warm starts are
(``warmstart.warm_start``), because that is what a chain's frame ``b`` is made
of. Composing the flows first and warping once lands elsewhere: on the
sample clip at 256x144, frame 0's painting carried to frame 24 differed from
the chain's frame 24 by 110x the median pair's E_warp composed, 40x step by
step (``distributed/anchor.py`` has the measurement).

The reliability of the result is the product of the steps' consistency
masks (each warped into the next frame), so a pixel counts only when the
flow followed it through every step.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

from vidstyle.frames import u8_to_float
from vidstyle.motion.flow import FlowEstimator, consistency_mask, warp


def composed_reliability(
    frames_u8: Iterable[np.ndarray], *, method: str, min_fraction: float = 0.0
) -> np.ndarray | None:
    """Where the flow follows frame ``a``'s pixels into frame ``b`` through
    every step: float32 ``(H, W)`` of 0 and 1 in frame ``b``.

    Args:
        frames_u8: input frames ``a, ..., b`` (uint8 ``(H, W, 3)``, at least one).
        method: flow method (``flow.FlowEstimator``).
        min_fraction: stop early and return None once fewer pixels than this
            share are still followed (nothing worth carrying is left).
    """
    estimator = FlowEstimator(method)
    mask: np.ndarray | None = None
    for earlier, later in itertools.pairwise(frames_u8):
        backward = estimator.estimate(later, earlier)
        step = consistency_mask(backward, estimator.estimate(earlier, later))
        mask = step if mask is None else step * (warp(mask, backward, interpolation="linear") > 0.5)
        if float(mask.mean()) < min_fraction:
            return None
    if mask is None:  # one frame: a is b
        raise ValueError("composed_reliability needs at least two frames")
    return mask.astype(np.float32)


def advect(painting_u8: np.ndarray, frames_u8: Iterable[np.ndarray], *, method: str) -> np.ndarray:
    """The painting of frame ``a`` carried to frame ``b``, uint8 ``(H, W, 3)``.

    Args:
        painting_u8: the stylized frame ``a``, uint8 ``(H, W, 3)``.
        frames_u8: the input frames ``a, ..., b``, the painting's size.
        method: flow method (``flow.FlowEstimator``).
    """
    estimator = FlowEstimator(method)
    painting = painting_u8
    for earlier, later in itertools.pairwise(frames_u8):
        warped = np.clip(warp(u8_to_float(painting), estimator.estimate(later, earlier)), 0.0, 1.0)
        painting = np.round(warped * 255.0).astype(np.uint8)
    return painting
