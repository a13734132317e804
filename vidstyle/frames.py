"""The Frame record that flows through the pipeline, and image <-> tensor helpers.

Layouts: ``*_u8`` arrays are uint8 ``(H, W, 3)`` RGB; ``image`` tensors are float
``(B, 3, H, W)`` RGB in [0, 1].
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np


@dataclasses.dataclass(frozen=True)
class Frame:
    """One decoded (or stylized) video frame.

    Attributes:
        image_u8: ``(H, W, 3)`` uint8 RGB pixels, C-contiguous.
        pts: presentation timestamp in units of ``time_base`` (None when the
            container gave none).
        time_base: seconds per ``pts`` tick.
        index: position of the frame in the decoded sequence, from 0.
        duration: how long the frame is shown, in ticks of ``time_base``
            (None when the container does not say: the writer then shows
            the last frame for one frame period).
    """

    image_u8: np.ndarray
    pts: int | None
    time_base: Fraction | None
    index: int
    duration: int | None = None

    @property
    def time_s(self) -> float | None:
        """Presentation time in seconds, or None when unknown."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.image_u8.shape[1], self.image_u8.shape[0]

    def with_image(self, image_u8: np.ndarray) -> Frame:
        """The same frame (timestamp, index) carrying other pixels."""
        return dataclasses.replace(self, image_u8=np.ascontiguousarray(image_u8))


def u8_to_float(image_u8: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, 3)`` -> float32 ``(H, W, 3)`` in [0, 1]."""
    return image_u8.astype(np.float32) / 255.0


def float_to_u8(image: np.ndarray) -> np.ndarray:
    """float ``(H, W, 3)`` in [0, 1] -> uint8 ``(H, W, 3)``, rounded and clipped."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def fit_size(width: int, height: int, *, max_side: int | None, even: bool = True) -> tuple[int, int]:
    """The ``(width, height)`` that keeps the aspect ratio with the longer side at
    most ``max_side`` pixels (never upscales), rounded to even numbers when
    ``even`` (yuv420p encoders need even sizes). Never smaller than 2x2."""
    scale = 1.0
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
    return w, h


@dataclasses.dataclass(frozen=True)
class TemporalTarget:
    """What the temporal loss pulls a frame towards (Ruder et al. 2016, eq. 7).

    Attributes:
        warped: float32 ``(K, H, W, 3)`` previous stylized frames warped into
            the current frame, RGB in [0, 1].
        weights: float32 ``(K, H, W)`` per-pixel weights in [0, 1] (the
            long-term weights ``c_long``; for one frame the consistency mask).
    """

    warped: np.ndarray
    weights: np.ndarray


@dataclasses.dataclass(frozen=True)
class WarmStart:
    """How a frame starts from the frames before it, made by
    ``motion.WarmStarter`` and consumed by an engine.

    Attributes:
        init: float32 ``(H, W, 3)`` RGB in [0, 1]: the starting image (the
            previous output warped by the backward flow, or as it is).
        temporal: what the temporal loss holds the frame to; None without one.
    """

    init: np.ndarray
    temporal: TemporalTarget | None = None
