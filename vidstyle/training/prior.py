"""The prior of a pair step when a look trains a network with a prior
(``engines.network.StyleNet``'s ``prior``; Ruder et al. 2018, "Artistic style
transfer for videos and spherical images", IJCV, sec. 5): the network's own
output for the previous frame, painted as at inference and warped as the
warm start warps it. ``loop._prior_losses`` trains on it. Also the
differentiable warp both use (``warp_images``)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vidstyle.engines.network import StyleNet
from vidstyle.training.data import inside_mask, pairs_before


def chained_prior(net: StyleNet, batch: dict, b: int, pairs, chain: int) -> torch.Tensor:
    """The prior ``(1, 3, h, w)`` of crop ``b`` of a pair step: the network's
    output for the previous frame, warped bicubically into the current one
    and rounded to 8 bits, as the file pipeline hands it over.

    The previous frame is painted as at inference, at the end of a chain of
    up to ``chain`` earlier frames of its clip (``data.pairs_before``), each
    painted given the one before, warped by its flow and masked by its mask.
    For crops (no flow between earlier crops) the previous frame is
    repainted ``chain`` times with its own output as the prior instead."""
    previous = batch["previous"][b : b + 1]
    device = previous.device
    whole = tuple(previous.shape[-2:]) == pairs[0].current_u8.shape[:2]
    before = pairs_before(pairs, int(batch["index"][b]), chain) if whole else []
    if before:
        painted = _quantized(net(_image(before[0].previous_u8, device)))
        for pair in before:
            backward = torch.from_numpy(pair.backward).to(device)[None]
            mask = torch.from_numpy(pair.mask * inside_mask(pair.backward)).to(device)[None, None]
            warped = _quantized(warp_images(painted, backward, mode="bicubic").clamp(0, 1))
            painted = _quantized(net(_image(pair.current_u8, device), warped, mask))
    else:
        painted = _quantized(net(previous))
        everywhere = previous.new_ones((1, 1, *previous.shape[-2:]))
        for _ in range(chain):
            painted = _quantized(net(previous, painted, everywhere))
    return _quantized(warp_images(painted, batch["backward"][b : b + 1], mode="bicubic").clamp(0, 1))


def _image(frame_u8: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(frame_u8).to(device).permute(2, 0, 1)[None].float() / 255.0


def _quantized(image: torch.Tensor) -> torch.Tensor:
    """Rounded to 8 bits, as the pipeline keeps its outputs."""
    return (image * 255).round() / 255


def warp_images(images: torch.Tensor, backward: torch.Tensor, *, mode: str = "bilinear") -> torch.Tensor:
    """``images`` ``(B, C, H, W)`` resampled along ``backward`` ``(B, H, W, 2)``
    pixels: ``out[x] = images[x + backward(x)]`` (``motion.flow.warp`` in
    torch, differentiable; ``mode`` is grid_sample's: ``bicubic`` is the
    warm start's interpolation)."""
    _, _, height, width = images.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=images.device, dtype=images.dtype),
        torch.arange(width, device=images.device, dtype=images.dtype),
        indexing="ij",
    )
    grid_x = (xs + backward[..., 0]) * (2.0 / max(width - 1, 1)) - 1.0
    grid_y = (ys + backward[..., 1]) * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack((grid_x, grid_y), dim=-1)
    return F.grid_sample(images, grid, mode=mode, padding_mode="border", align_corners=True)
