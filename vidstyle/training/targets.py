"""The content targets of training frames: VGG19 activations of the
unstylized frames at the content layers, computed once per frame.

Every step's content term compares the network's output with its input
frame's own activations. With whole frames (the default) the same 70-160
frames come back every few steps, and their activations cost one VGG19
forward pass each (a quarter of a pair step at 256x144 on a CPU), so they
are kept, up to ``CACHE_BYTES``; a frame past the budget, or a crop (whose
window rarely repeats), is computed each time.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vidstyle.training.data import FramePair

CACHE_BYTES = 512 * 2**20  # ~430 frames at 256x144, ~70 at 640x360 (relu4_2: 512 channels at 1/8 size)
FRAMES = ("previous", "current")


class ContentTargets:
    """Content-layer activations of the frames of ``pairs``, by pair and frame.

    Args:
        pairs: the training pairs; frames shared by two pairs (t is the
            current frame of one and the previous frame of the next) are
            computed once.
        features: image float ``(B, 3, H, W)`` in [0, 1] -> activations by layer
            (the judge's VGG19).
        layers: the content layers to keep.
        budget_bytes: what the kept activations may hold.
    """

    def __init__(self, pairs: Sequence[FramePair], features, layers: Sequence[str], *, budget_bytes: int = CACHE_BYTES):
        self.pairs = pairs
        self.features = features
        self.layers = tuple(layers)
        self.budget_bytes = budget_bytes
        self.held_bytes = 0
        self.computed = 0  # forward passes made, cached or not (for tests and summaries)
        self._kept: dict[int, dict[str, torch.Tensor]] = {}

    def __call__(self, images: torch.Tensor, batch: dict, which: Sequence[str]) -> dict[str, torch.Tensor]:
        """Targets for ``images`` ``(len(which) * B, 3, h, w)``: the frames
        named by ``which`` (``"previous"``/``"current"``) of the ``B`` crops of
        ``batch`` (``data.sample_batch``'s ``index``), in that order,
        concatenated along the batch like ``images``."""
        crops = len(batch["index"])
        parts: list[dict[str, torch.Tensor]] = []
        for slot, name in enumerate(which):
            for b in range(crops):
                image = images[slot * crops + b : slot * crops + b + 1]
                frame = getattr(self.pairs[int(batch["index"][b])], f"{name}_u8")
                key = id(frame) if tuple(image.shape[-2:]) == frame.shape[:2] else None  # a crop: not kept
                parts.append(self._get(image, key))
        return {layer: torch.cat([p[layer] for p in parts]) for layer in self.layers}

    def _get(self, image: torch.Tensor, key: int | None) -> dict[str, torch.Tensor]:
        if key is not None and key in self._kept:
            return self._kept[key]
        with torch.no_grad():
            targets = {k: v for k, v in self.features(image).items() if k in self.layers}
        self.computed += 1
        size = sum(t.numel() * t.element_size() for t in targets.values())
        if key is not None and self.held_bytes + size <= self.budget_bytes:
            self._kept[key] = targets
            self.held_bytes += size
        return targets
