"""Clips with exactly known motion, for tests and benchmarks.

Every frame is rendered by evaluating an *analytic* texture (a sum of random
plane waves plus soft-edged discs, defined at every real coordinate) at the
exact texture coordinates of its pixels. So the backward flow of every pixel,
and which pixels have no past (disoccluded, or entering the frame), are known
exactly, not estimated; only the final rounding to uint8 is approximate.
(Resampling a texture image with ``cv2.remap`` would not do: it quantizes
subpixel positions to 1/32 px.)

Velocities are the motion of the *content* as seen on screen, in pixels per
frame: content moving by ``v`` has backward flow ``-v`` (frame t at x shows
what frame t-1 showed at x - v). Flows and masks follow ``flow.py``: flow
float32 ``(H, W, 2)`` ``(dx, dy)``; mask float32 ``(H, W)``, 1 = reliable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

# The texture: plane waves with wavelengths in this range (pixels) give detail
# at every scale optical flow looks at, and no aperture problem.
WAVELENGTH_RANGE_PX = (8.0, 48.0)
NUM_WAVES = 24
NUM_DISCS = 12
DISC_RADIUS_RANGE_PX = (4.0, 14.0)
DISC_EDGE_PX = 1.0  # width of the discs' soft (anti-aliased) edge
TEXTURE_MEAN = 128.0
TEXTURE_AMPLITUDE = 90.0  # the waves' sum spans about mean +- this, before the discs


@dataclasses.dataclass(frozen=True)
class SyntheticClip:
    """Frames with ground truth.

    Attributes:
        name: short description, for tables.
        frames: uint8 ``(H, W, 3)`` RGB frames.
        backward_flows: for each t >= 1 (so ``len(frames) - 1`` of them), the
            exact float32 ``(H, W, 2)`` flow from frame t to frame t-1:
            ``frames[t](x) = frames[t-1](x + flow(x))``.
        masks: the ground-truth occlusion masks, float32 ``(H, W)``, one per
            backward flow: 1 where that equation holds (the point was visible
            in frame t-1), 0 where it is disoccluded, entered the frame, or
            (at a cut) has no past at all.
        cut_indices: frames that start a new shot (their flow is 0, mask 0).
    """

    name: str
    frames: list[np.ndarray]
    backward_flows: list[np.ndarray]
    masks: list[np.ndarray]
    cut_indices: tuple[int, ...] = ()


class AnalyticTexture:
    """A smooth random colour texture defined at every real coordinate.

    A sum of ``NUM_WAVES`` random plane waves (each with its own colour) plus
    ``NUM_DISCS`` discs with a 1 px soft edge, scattered over ``extent``.

    Args:
        extent: ``(x0, y0, x1, y1)``, the texture region the clip will show
            (where the discs are placed).
        seed: random seed; different seeds give unrelated textures and colours.
    """

    def __init__(self, extent: tuple[float, float, float, float], *, seed: int = 0):
        rng = np.random.default_rng(seed)
        wavelengths = rng.uniform(*WAVELENGTH_RANGE_PX, NUM_WAVES)
        angles = rng.uniform(0, np.pi, NUM_WAVES)
        self._wave_vectors = np.stack([np.cos(angles), np.sin(angles)], axis=-1) * (2 * np.pi / wavelengths[:, None])
        self._phases = rng.uniform(0, 2 * np.pi, NUM_WAVES)
        colors = rng.normal(size=(NUM_WAVES, 3))
        self._wave_colors = colors * TEXTURE_AMPLITUDE / np.sqrt(NUM_WAVES / 2)
        self._mean = TEXTURE_MEAN + rng.uniform(-40, 40, 3)  # each seed its own tint
        x0, y0, x1, y1 = extent
        self._disc_centers = rng.uniform((x0, y0), (x1, y1), size=(NUM_DISCS, 2))
        self._disc_radii = rng.uniform(*DISC_RADIUS_RANGE_PX, NUM_DISCS)
        self._disc_colors = rng.uniform(0, 255, size=(NUM_DISCS, 3))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Colours at ``points`` float64 ``(H, W, 2)`` (x, y): float64 ``(H, W, 3)``, 0..255."""
        image = np.broadcast_to(self._mean, points.shape[:-1] + (3,)).copy()
        for k, phase, color in zip(self._wave_vectors, self._phases, self._wave_colors):
            image += np.sin(points @ k + phase)[..., None] * color
        for center, radius, color in zip(self._disc_centers, self._disc_radii, self._disc_colors):
            distance = np.hypot(points[..., 0] - center[0], points[..., 1] - center[1])
            alpha = np.clip((radius - distance) / DISC_EDGE_PX + 0.5, 0.0, 1.0)[..., None]
            image = image * (1 - alpha) + color * alpha
        return np.clip(image, 0, 255)


def pixel_grid(width: int, height: int) -> np.ndarray:
    """Pixel coordinates, float64 ``(H, W, 2)`` of (x, y)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([xs, ys], axis=-1)


def inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """1 where ``points`` (``(H, W, 2)``) lie in a ``width`` x ``height`` frame
    (the range bilinear sampling covers, ``[0, W-1] x [0, H-1]``), float32."""
    x, y = points[..., 0], points[..., 1]
    return ((x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)).astype(np.float32)


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _affine_clip(
    name: str, width: int, height: int, num_frames: int, view_at: Callable[[int], np.ndarray], *, seed: int
) -> SyntheticClip:
    """Frame t shows ``texture(A_t x)`` for 2x3 affine maps ``A_t`` (frame pixel
    -> texture point). The point shown at x in frame t was at
    ``A_{t-1}^-1 A_t x`` in frame t-1, which gives the backward flow."""
    grid = pixel_grid(width, height)
    corners = np.concatenate(
        [_apply(view_at(t), np.array([[0, 0], [width, 0], [0, height], [width, height]])) for t in range(num_frames)]
    )
    texture = AnalyticTexture((*corners.min(axis=0), *corners.max(axis=0)), seed=seed)
    frames, flows, masks = [], [], []
    for t in range(num_frames):
        points = _apply(view_at(t), grid)
        frames.append(_to_u8(texture(points)))
        if t:
            before = _apply(_invert(view_at(t - 1)), points)
            flows.append((before - grid).astype(np.float32))
            masks.append(inside(before, width, height))
    return SyntheticClip(name, frames, flows, masks)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """2x3 affine ``matrix`` applied to ``(..., 2)`` points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def _invert(matrix: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -linear @ matrix[:, 2:]], axis=1)


def translating_clip(
    width: int = 128,
    height: int = 72,
    num_frames: int = 12,
    *,
    velocity: tuple[float, float] = (0.7, 0.3),
    seed: int = 0,
) -> SyntheticClip:
    """A texture sliding by ``velocity`` px per frame (subpixel); backward flow
    ``-velocity`` everywhere, mask 0 on the strip entering the frame."""
    vx, vy = velocity
    return _affine_clip(
        "translation",
        width,
        height,
        num_frames,
        lambda t: np.array([[1.0, 0.0, -vx * t], [0.0, 1.0, -vy * t]]),
        seed=seed,
    )


def rotating_zooming_clip(
    width: int = 128,
    height: int = 72,
    num_frames: int = 12,
    *,
    degrees_per_frame: float = 0.8,
    zoom_per_frame: float = 1.01,
    seed: int = 1,
) -> SyntheticClip:
    """The content rotates by ``degrees_per_frame`` and grows by
    ``zoom_per_frame`` per frame about the frame centre."""
    center = np.array([(width - 1) / 2, (height - 1) / 2])

    def view(t):
        angle = np.deg2rad(degrees_per_frame * t)
        scale = zoom_per_frame**-t  # texture units per pixel: zooming in shows less texture
        rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return np.concatenate([rotation, (center - rotation @ center)[:, None]], axis=1)

    return _affine_clip("rotation+zoom", width, height, num_frames, view, seed=seed)


def occlusion_clip(
    width: int = 128,
    height: int = 72,
    num_frames: int = 12,
    *,
    background_velocity: tuple[float, float] = (-0.5, 0.0),
    object_velocity: tuple[float, float] = (2.5, 0.6),
    object_size: int = 28,
    seed: int = 2,
) -> SyntheticClip:
    """A textured square (``object_size`` px) moves over a sliding background:
    the background it uncovers has no past (mask 0), and so does what enters
    the frame.

    The square covers the points ``corner(t) <= p < corner(t) + object_size``
    (pixel centres tested, so its edges are hard).
    """
    grid = pixel_grid(width, height)
    bg_velocity, obj_velocity = np.array(background_velocity), np.array(object_velocity)
    start = np.array([width * 0.15, height * 0.2])
    travel = np.abs(bg_velocity) * num_frames
    background = AnalyticTexture((-travel[0], -travel[1], width + travel[0], height + travel[1]), seed=seed)
    sprite = AnalyticTexture((0, 0, object_size, object_size), seed=seed + 1000)

    def corner(t: int) -> np.ndarray:
        return start + obj_velocity * t

    def on_object(t: int, points: np.ndarray) -> np.ndarray:
        rel = points - corner(t)
        return np.all((rel >= 0) & (rel < object_size), axis=-1)

    frames, flows, masks = [], [], []
    for t in range(num_frames):
        covered = on_object(t, grid)
        image = np.where(covered[..., None], sprite(grid - corner(t)), background(grid - bg_velocity * t))
        frames.append(_to_u8(image))
        if t:
            before = np.where(covered[..., None], grid - obj_velocity, grid - bg_velocity)
            visible = inside(before, width, height).astype(bool)
            visible &= covered | ~on_object(t - 1, before)  # background that was behind the square
            flows.append((before - grid).astype(np.float32))
            masks.append(visible.astype(np.float32))
    return SyntheticClip("occlusion", frames, flows, masks)


def scene_cut_clip(
    width: int = 128,
    height: int = 72,
    num_frames: int = 8,
    *,
    cut_at: int | None = None,
    velocity: tuple[float, float] = (0.7, 0.3),
    seed: int = 3,
) -> SyntheticClip:
    """Two unrelated shots, each a translating texture; frame ``cut_at``
    (default: the middle) starts the second. At the cut the flow is 0 and the
    mask 0 (no pixel has a past)."""
    cut_at = num_frames // 2 if cut_at is None else cut_at
    if not 0 < cut_at < num_frames:
        raise ValueError(f"cut_at must be in 1..{num_frames - 1}, got {cut_at}")
    first = translating_clip(width, height, cut_at, velocity=velocity, seed=seed)
    second = translating_clip(width, height, num_frames - cut_at, velocity=velocity, seed=seed + 1)
    no_flow = np.zeros((height, width, 2), np.float32)
    no_past = np.zeros((height, width), np.float32)
    return SyntheticClip(
        "scene cut",
        first.frames + second.frames,
        first.backward_flows + [no_flow] + second.backward_flows,
        first.masks + [no_past] + second.masks,
        cut_indices=(cut_at,),
    )


def all_clips(width: int = 128, height: int = 72, num_frames: int = 12) -> list[SyntheticClip]:
    """The three continuous-motion clips at one size (translation,
    rotation + zoom, occlusion), for benchmarks."""
    return [
        translating_clip(width, height, num_frames),
        rotating_zooming_clip(width, height, num_frames),
        occlusion_clip(width, height, num_frames),
    ]
