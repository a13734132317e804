"""The network's instance norms with statistics smoothed across frames: does it steady the look?

    .venv/bin/python benchmarks/norm_stats.py --momentum 0.8 [engines.py options]

An experiment on the raw network's flicker (``engines/network.py``): each
instance norm normalizes a frame's features by that frame's own mean and
variance per channel, so a change anywhere in the frame moves every pixel's
normalization. Here every norm of the loaded look uses an exponential
average of those statistics across the frames it has seen (``--momentum``
of the previous average; 0: the plain network), for this process only, then
``benchmarks/engines.py`` runs with the remaining options (its network rows
use the smoothed norms; see that script for the columns).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import engines  # noqa: E402  (benchmarks/engines.py)

import vidstyle.training.look as look_module  # noqa: E402


class SmoothedNorm(nn.Module):
    """``norm`` (an affine ``InstanceNorm2d``) with its per-channel mean and
    variance averaged across calls: ``momentum`` x the previous average +
    (1 - momentum) x this frame's; a call on another shape starts over."""

    def __init__(self, norm: nn.InstanceNorm2d, momentum: float):
        super().__init__()
        self.norm, self.momentum = norm, momentum
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean((2, 3), keepdim=True)
        var = x.var((2, 3), keepdim=True, unbiased=False)
        if self.stats is not None and self.stats[0].shape == mean.shape:
            mean = self.momentum * self.stats[0] + (1 - self.momentum) * mean
            var = self.momentum * self.stats[1] + (1 - self.momentum) * var
        self.stats = (mean.detach(), var.detach())
        y = (x - mean) / torch.sqrt(var + self.norm.eps)
        return y * self.norm.weight[None, :, None, None] + self.norm.bias[None, :, None, None]


def smooth_norms(module: nn.Module, momentum: float) -> int:
    """Replace every ``InstanceNorm2d`` under ``module``; returns how many."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            setattr(module, name, SmoothedNorm(child, momentum))
            count += 1
        else:
            count += smooth_norms(child, momentum)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--momentum", type=float, default=0.8, help="weight of the previous frames' statistics")
    args, rest = parser.parse_known_args()
    load_network = look_module.network_from_payload

    def smoothed(payload, *, path="look"):
        net = load_network(payload, path=path)  # every row loads its own look: its own running statistics
        count = smooth_norms(net, args.momentum)
        print(f"{count} instance norms smoothed across frames (momentum {args.momentum:g})", flush=True)
        return net

    look_module.network_from_payload = smoothed
    sys.argv = [os.path.join(HERE, "engines.py"), *rest]
    engines.main()


if __name__ == "__main__":
    main()
