"""The network's blend as a staggered refresh: carry strokes, repaint a slice of the frame each time.

    .venv/bin/python benchmarks/staggered_refresh.py --period 4 [engines.py options]

An experiment on ``engines.network.blend_with_warm_start`` (``--net-blend``).
Averaging the network's frame with the flow-warped previous output cancels
the strokes (the two place them differently), and carrying the previous
output whole keeps them but lets the warps soften and stretch them frame by
frame (README "Carrying the texture instead of averaging it"). Here no pixel
is averaged: over the reliable pixels the warped previous output is carried,
except in one slice of the frame, repainted with the network's frame, that
moves on every frame so that each pixel is repainted once every
``--period`` frames (at most that many frames of warping). The slices are
the level sets of a smooth random field (blobs of ``--blob`` pixels), with
edges ``--edge`` of a slice wide, where the two are cross-faded. The blend
is swapped in for this process only, then ``benchmarks/engines.py`` runs
with the remaining options (its ``net blend`` row is this blend; pass
``--blend 1`` so that the engine asks for the warm start).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import cv2  # noqa: E402
import engines  # noqa: E402  (benchmarks/engines.py)

import vidstyle.engines.network as network  # noqa: E402
from vidstyle.frames import WarmStart  # noqa: E402


def phase_field(height: int, width: int, blob: float, seed: int = 0) -> np.ndarray:
    """``(H, W)`` values in [0, 1), uniformly spread: the ranks of a random
    field blurred by a Gaussian of ``blob`` pixels."""
    noise = np.random.default_rng(seed).standard_normal((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), blob) if blob > 0 else noise
    ranks = np.empty(smooth.size, np.float64)
    ranks[np.argsort(smooth, axis=None)] = np.arange(smooth.size) / smooth.size
    return ranks.reshape(height, width)


def staggered_blend(period: int, blob: float, edge: float):
    """A replacement for ``network.blend_with_warm_start``: frame t repaints
    the pixels whose phase lies in slice t mod ``period``."""
    state = {"frame": 0, "field": None}

    def blend(image: torch.Tensor, warm: WarmStart | None, weight: float) -> torch.Tensor:
        frame = state["frame"]
        state["frame"] += 1
        if warm is None or warm.temporal is None or weight <= 0:
            return image
        height, width = image.shape[-2:]
        if state["field"] is None or state["field"].shape != (height, width):
            state["field"] = phase_field(height, width, blob)
        # Distance of each pixel's phase from the centre of this frame's slice, in slices (circular).
        centre = ((frame % period) + 0.5) / period
        distance = np.abs((state["field"] - centre + 0.5) % 1.0 - 0.5) * period
        # 1 (carry) outside the slice, 0 (repaint) inside, a linear cross-fade of width `edge` at its border.
        carry = np.clip((distance - 0.5) / max(edge, 1e-6) + 0.5, 0.0, 1.0) if edge > 0 else (distance > 0.5) * 1.0
        carry_t = torch.from_numpy(carry.astype(np.float32)).to(image.device, image.dtype)[None, None]
        carried = torch.from_numpy(np.ascontiguousarray(warm.init)).to(image.device, image.dtype)
        carried = carried.permute(2, 0, 1)[None].clamp(0, 1)
        mask = torch.from_numpy(np.ascontiguousarray(warm.temporal.weights[0])).to(image.device, image.dtype)
        mask = mask.clamp(0, 1)[None, None]
        w = carry_t * mask
        return (image + (carried - image) * w).clamp(0, 1)

    return blend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--period", type=int, default=4, help="frames between two repaints of a pixel")
    parser.add_argument("--blob", type=float, default=6.0, help="size of the slices' blobs (Gaussian sigma, px)")
    parser.add_argument("--edge", type=float, default=0.5, help="cross-fade at a slice's edge, in slices")
    args, rest = parser.parse_known_args()
    network.blend_with_warm_start = staggered_blend(args.period, args.blob, args.edge)
    print(f"staggered refresh: period {args.period}, blob {args.blob:g} px, edge {args.edge:g}", flush=True)
    sys.argv = [os.path.join(HERE, "engines.py"), *rest]
    engines.main()


if __name__ == "__main__":
    main()
