"""Training data: consecutive frame pairs of clips, with the flow and the
reliability mask vidstyle already computes (``vidstyle.motion``), and random
crops of them.

Frames are decoded at the size they will be stylized at (the config's
processing size), so the network learns the texture at the scale it will
paint it. A pair is (frame t-1, frame t, backward flow of t, mask of t),
conventions of ``motion/flow.py``: ``warp(previous, backward)`` moves frame
t-1 into frame t and ``mask`` is 1 where that flow is reliable. Pairs across
a scene cut are left out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.errors import InputError
from vidstyle.frames import fit_size

MAX_PAIRS = 160  # pairs kept over all clips, evenly spaced (memory: ~2 MB per pair at 256x144... 8 MB at 640x272)
SAMPLE_CLIP = Path(__file__).resolve().parent.parent.parent / "samples" / "bbb_tail_480x270.mp4"


@dataclasses.dataclass(frozen=True)
class FramePair:
    """Two consecutive frames and the motion between them.

    Attributes:
        previous_u8, current_u8: uint8 ``(H, W, 3)`` frames t-1 and t.
        backward: float32 ``(H, W, 2)`` flow from t to t-1, in pixels.
        mask: float32 ``(H, W)``, 1 where ``backward`` is reliable.
    """

    previous_u8: np.ndarray
    current_u8: np.ndarray
    backward: np.ndarray
    mask: np.ndarray


def default_clips() -> list[str]:
    """The bundled sample clip, when no clip is given."""
    if not SAMPLE_CLIP.is_file():
        raise InputError(f"the bundled sample clip is missing ({SAMPLE_CLIP}); give a clip to train on (--on CLIP)")
    return [str(SAMPLE_CLIP)]


def processing_size(source: tuple[int, int], config: StyleConfig) -> tuple[int, int]:
    """The size frames of ``source`` = (width, height) are stylized at:
    ``config.size``, or the longer side limited to ``config.max_side``."""
    if config.size is not None:
        width, height = config.size
        return width, height
    return fit_size(*source, max_side=config.max_side)


def clip_identity(path) -> dict:
    """Path, size and modification time of a clip (checkpoints compare them);
    of an image sequence, every file's (``InputSequence.identity``)."""
    from vidstyle.media.input_sequence import find_input_sequence

    sequence = find_input_sequence(path)
    if sequence is not None:
        return sequence.identity()
    stat = os.stat(path)
    return {"path": os.path.abspath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def images_digest(images_u8: Sequence[np.ndarray]) -> str:
    """A hash of some uint8 images (the style images of a look)."""
    digest = hashlib.sha256()
    for image in images_u8:
        digest.update(str(image.shape).encode())
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def load_pairs(
    clips: Sequence,
    *,
    config: StyleConfig,
    max_pairs: int = MAX_PAIRS,
    on_note: Callable[[str], None] | None = None,
) -> list[FramePair]:
    """Consecutive frame pairs of ``clips`` at their processing size, evenly
    thinned to at most ``max_pairs``, scene cuts left out. A clip of one
    frame (no pair) among others that have pairs is left out with a note
    (``on_note``).

    Raises:
        InputError: a clip cannot be read, or the clips give no pair.
    """
    from vidstyle.media import probe, read_frames
    from vidstyle.motion.flow import FlowEstimator, consistency_mask, is_scene_cut

    estimator = FlowEstimator(config.flow)
    per_clip: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for clip in clips:
        info = probe(os.fspath(clip))
        size = processing_size((info.width, info.height), config)
        frames = [f.image_u8 for f in read_frames(os.fspath(clip), size=size)]
        per_clip.append(list(zip(frames[:-1], frames[1:])))
    total = sum(len(p) for p in per_clip)
    if total == 0:
        raise InputError(f"no consecutive frames to train on in {', '.join(map(str, clips))} (a clip needs 2 frames)")
    for clip, clip_pairs in zip(clips, per_clip, strict=True):
        if not clip_pairs and on_note is not None:
            on_note(f"{os.fspath(clip)} has fewer than 2 frames: left out of training (a clip needs 2 frames)")
    keep_every = max(1, -(-total // max_pairs))
    pairs = []
    for clip_pairs in per_clip:
        for previous, current in clip_pairs[::keep_every]:
            backward = estimator.estimate(current, previous)
            mask = consistency_mask(backward, estimator.estimate(previous, current))
            if is_scene_cut(previous, current, mask, threshold=config.scene_cut_threshold):
                continue
            pairs.append(FramePair(previous, current, backward, mask))
    if not pairs:
        raise InputError("every frame pair of the training clips is a scene cut; give a clip with continuous shots")
    return pairs


def crop_side(pairs: Sequence[FramePair], wanted: int | None) -> tuple[int, int]:
    """The crop (width, height): ``wanted`` square, limited by the smallest
    frame; None: the smallest frame whole."""
    height = min(p.current_u8.shape[0] for p in pairs)
    width = min(p.current_u8.shape[1] for p in pairs)
    if wanted is None:
        return width, height
    return min(wanted, width), min(wanted, height)


def inside_mask(backward: np.ndarray) -> np.ndarray:
    """float32 ``(h, w)``: 1 where ``backward`` ``(h, w, 2)`` lands inside the window."""
    height, width = backward.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    inside = (
        (xs + backward[..., 0] >= 0)
        & (xs + backward[..., 0] <= width - 1)
        & (ys + backward[..., 1] >= 0)
        & (ys + backward[..., 1] <= height - 1)
    )
    return inside.astype(np.float32)


def pairs_before(pairs: Sequence[FramePair], index: int, length: int) -> list[FramePair]:
    """Up to ``length`` pairs that lead without a gap into ``pairs[index]``
    (each one's current frame is the next one's previous frame), oldest first."""
    chain: list[FramePair] = []
    j = index
    while len(chain) < length and j > 0 and pairs[j - 1].current_u8 is pairs[j].previous_u8:
        j -= 1
        chain.insert(0, pairs[j])
    return chain


def sample_batch(
    pairs: Sequence[FramePair], *, batch: int, crop: tuple[int, int], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``batch`` random crops of random pairs (the same window in both frames,
    the flow and the mask). Returns ``previous``/``current`` uint8
    ``(B, h, w, 3)``, ``backward`` float32 ``(B, h, w, 2)`` and ``mask``
    float32 ``(B, h, w)``; the mask is 0 where the flow leaves the crop;
    ``index`` int64 ``(B,)``: the pairs drawn."""
    width, height = crop
    out: dict[str, list[np.ndarray]] = {"previous": [], "current": [], "backward": [], "mask": [], "index": []}
    for index in rng.integers(0, len(pairs), size=batch):
        pair = pairs[int(index)]
        frame_h, frame_w = pair.current_u8.shape[:2]
        y = int(rng.integers(0, frame_h - height + 1))
        x = int(rng.integers(0, frame_w - width + 1))
        window = (slice(y, y + height), slice(x, x + width))
        backward = pair.backward[window]
        out["previous"].append(pair.previous_u8[window])
        out["current"].append(pair.current_u8[window])
        out["backward"].append(backward)
        out["mask"].append(pair.mask[window] * inside_mask(backward))
        out["index"].append(np.asarray(index, dtype=np.int64))
    return {k: np.ascontiguousarray(np.stack(v)) for k, v in out.items()}
