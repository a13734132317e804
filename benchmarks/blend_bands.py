"""The network's blend split into two bands: does carrying the texture keep the look?

    .venv/bin/python benchmarks/blend_bands.py --texture 1 --shapes 0.5 [engines.py options]

An experiment on ``engines.network.blend_with_warm_start`` (``--net-blend``),
which averages the network's frame with the flow-warped previous output and
washes the strokes out. Here each image is split at a Gaussian of ``--sigma``
pixels into shapes (the low band) and texture (the rest); over the reliable
pixels the texture is taken from the warped previous output with weight
``--texture`` (1: carried, not averaged) and the shapes with weight
``--shapes``. The blend is swapped in for this process only, then
``benchmarks/engines.py`` runs with the remaining options (its ``net blend``
row is this blend; pass ``--blend 1`` so that the engine asks for the warm
start); see that script for the columns.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import engines  # noqa: E402  (benchmarks/engines.py)

import vidstyle.engines.network as network  # noqa: E402
from vidstyle.frames import WarmStart  # noqa: E402


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(1, C, H, W)`` blurred by a separable Gaussian of ``sigma`` pixels, edges replicated."""
    radius = max(1, int(3 * sigma + 0.5))
    taps = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    out = F.pad(image, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def banded_blend(texture: float, shapes: float, sigma: float):
    """A replacement for ``network.blend_with_warm_start`` with the two bands' weights."""

    def blend(image: torch.Tensor, warm: WarmStart | None, weight: float) -> torch.Tensor:
        if warm is None or warm.temporal is None or weight <= 0:
            return image
        carried = torch.from_numpy(np.ascontiguousarray(warm.init)).to(image.device, image.dtype)
        carried = carried.permute(2, 0, 1)[None].clamp(0, 1)
        mask = torch.from_numpy(np.ascontiguousarray(warm.temporal.weights[0])).to(image.device, image.dtype)
        mask = mask.clamp(0, 1)[None, None]
        new_low, carried_low = gaussian_blur(image, sigma), gaussian_blur(carried, sigma)
        low = new_low + (carried_low - new_low) * (shapes * mask)
        new_high, carried_high = image - new_low, carried - carried_low
        high = new_high + (carried_high - new_high) * (texture * mask)
        return (low + high).clamp(0, 1)

    return blend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texture", type=float, default=1.0, help="weight of the carried texture (0..1)")
    parser.add_argument("--shapes", type=float, default=0.5, help="weight of the carried shapes (0..1)")
    parser.add_argument("--sigma", type=float, default=2.0, help="band split: Gaussian sigma in pixels")
    args, rest = parser.parse_known_args()
    network.blend_with_warm_start = banded_blend(args.texture, args.shapes, args.sigma)
    print(f"banded blend: texture {args.texture:g}, shapes {args.shapes:g}, sigma {args.sigma:g} px", flush=True)
    sys.argv = [os.path.join(HERE, "engines.py"), *rest]
    engines.main()


if __name__ == "__main__":
    main()
