"""Losses of neural style transfer, on the scale of the reference implementations.

Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks" (CVPR 2016): content and Gram-matrix style losses. Ruder, Dosovitskiy
& Brox, "Artistic style transfer for videos" (GCPR 2016): the temporal loss.
Normalizations follow jcjohnson/neural-style and manuelruder/artistic-videos so
that their published weights (content 5, style 100, temporal 1000, TV 1e-3)
mean the same here.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

PIXEL_SCALE = 255.0  # the references optimize images in 0..255
TV_REFERENCE_PIXELS = 256 * 144  # the size the default weights were tuned at (see total_variation)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``(B, C, C)`` of features ``(B, C, H, W)``, divided by C*H*W
    (neural-style's normalization), computed in float32."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w).float()
    return flat @ flat.transpose(1, 2) / (c * h * w)


def sum_terms(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """``sum(terms)`` typed as a tensor: the same values (``0 + t`` is ``t``),
    a 0-d float32 zero when there are no terms."""
    total: torch.Tensor | None = None
    for term in terms:
        total = term if total is None else total + term
    return torch.zeros(()) if total is None else total


def content_loss(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean squared feature difference (Gatys et al. eq. 1)."""
    return sum_terms(torch.mean((features[k].float() - t.float()) ** 2) for k, t in targets.items())


def style_loss(features: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean squared Gram difference (Gatys et al. eq. 4-5,
    equal layer weights as in neural-style). ``target_grams[k]`` is ``(1, C, C)``."""
    return sum_terms(torch.mean((gram_matrix(features[k]) - g) ** 2) for k, g in target_grams.items())


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Squared total variation of ``image`` ``(B, 3, H, W)`` in [0, 1], measured on
    the 0..255 scale: 0.5 * sum of squared neighbour differences (the energy
    whose gradient neural-style's TVLoss applies), scaled by
    ``TV_REFERENCE_PIXELS / (H * W)``.

    neural-style sums over pixels while every other term here is a mean, so
    its TV weight meant more smoothing the larger the frame (25 times more at
    1280x720 than at 256x144). Scaled this way the default weight smooths
    every size as it smooths the reference size, and is unchanged there.
    """
    x = image.float() * PIXEL_SCALE
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    per_reference = TV_REFERENCE_PIXELS / (image.shape[-1] * image.shape[-2])
    return 0.5 * per_reference * (dx.pow(2).sum() + dy.pow(2).sum())


def range_penalty(image: torch.Tensor) -> torch.Tensor:
    """How far ``image`` ``(B, 3, H, W)`` (in [0, 1] when displayable) strays
    outside [0, 1], measured like ``total_variation``: 0.5 * sum of the
    squared excess on the 0..255 scale, times ``TV_REFERENCE_PIXELS / (H * W)``.
    Zero inside the range; the optimized image is clamped to it at the end.
    """
    x = image.float() * PIXEL_SCALE
    excess = torch.relu(-x) + torch.relu(x - PIXEL_SCALE)
    per_reference = TV_REFERENCE_PIXELS / (image.shape[-1] * image.shape[-2])
    return 0.5 * per_reference * excess.pow(2).sum()


def temporal_loss(image: torch.Tensor, warped: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Ruder et al. 2016, eq. 7 (and eq. 8 for long-term): for each previous frame
    k, ``(1/D) * sum c_k * (x - w_k)^2`` on the 0..255 scale, summed over k.

    Args:
        image: ``(1, 3, H, W)`` the frame being optimized, in [0, 1].
        warped: ``(K, 3, H, W)`` previous stylized frames warped into this frame.
        weights: ``(K, 1, H, W)`` per-pixel weights c_k in [0, 1] (consistency
            masks, long-term weights already applied).
    """
    diff = (image.float() - warped) * PIXEL_SCALE
    per_frame = (weights * diff.pow(2)).mean(dim=(1, 2, 3))
    return per_frame.sum()
