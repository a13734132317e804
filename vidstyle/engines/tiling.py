"""Optimizing a frame in overlapping tiles with the style statistics of the
whole frame (issue 10, part 5: frames past the memory of one device).

The losses of ``losses.py`` are sums over feature positions: a Gram matrix is
``sum_p f_p f_p^T / (C*H*W)``, the content loss ``sum_p |f_p - t_p|^2 / (C*H*W)``.
So the image is cut into **cores** (a partition of its pixels) and each core
is run through VGG19 inside a **window**: the core plus a ``halo`` of context
on each side, clipped to the image. Of the window's activations only the
positions of the core count: at a layer of stride ``s`` (1, 2, 4, 8, 16 for
blocks 1..5), pixel rows ``[y0, y1)`` are feature rows ``[y0/s, y1/s)``, with
the image's own floor at its far edge. Every core and window boundary is a
multiple of 16 (the stride of relu5_1), so the pooling grid of a window is the
image's; when the halo also covers the receptive field of the deepest layer,
the core activations of a window equal the untiled ones and the tiled loss and
gradient are the untiled ones up to float rounding.

One evaluation of the loss and its gradient (``TiledObjective.evaluate``):

1. without gradients, every window: the whole-frame Gram matrices ``G_l`` (sum
   of the core contributions) and the content loss (sum of the core squared
   differences over the whole frame's count);
2. ``D_l = dL_style/dG_l = style_weight * 2 (G_l - A_l) / C_l^2`` (the style
   loss is ``mean((G_l - A_l)^2)`` over ``C_l x C_l``);
3. with gradients, every window again: the surrogate
   ``sum_l <D_l, G_l^core> + content_weight * content_loss^core`` (global
   normalisers), whose gradient on the window's pixels is the window's share
   of the exact gradient; the shares are added into the full-image gradient.

Only one window's activations live at a time; the image, its gradient, the
L-BFGS history and the content targets (the content layers' activations,
filled tile by tile) stay at full size. Total variation and the temporal loss
are per pixel: the caller computes them on the full image, no VGG involved.
An evaluation costs two forward passes and one backward per window (the
untiled one: one forward, one backward) plus the halos' overlap.

Receptive field: a relu5_1 activation sees 156 x 156 pixels of VGG19's input
(3x3 convolutions: 2 px in block 1, 4 in block 2, 16 in block 3, 32 in block 4
and 16 for conv5_1, plus the pools' 1+2+4+8, around 1 centre pixel), about 78
px on each side. ``DEFAULT_HALO`` = 80 covers it: tests/test_tiling.py measures
the tiled loss and gradient against the untiled ones (halo 80: the same loss,
the gradient within 2e-7 of its largest element; halo 16: 3e-2 and 8e-2).

Measured (``benchmarks/tiling.py``, CPU, one thread, fp32): 512x512 in 256 px
tiles, 10 L-BFGS iterations: final style loss within 6e-5 of the untiled run,
pixels within 8 grey levels (mean 0.05; float rounding that L-BFGS amplifies),
no seam (boundary/overall neighbour difference 1.164 vs 1.163 untiled), 2.9x
the time per iteration. 3840x2160 in 512 px tiles: estimated 12.6 GiB (9.3 of
them the 50-pair L-BFGS history) where untiled needs 36.8 GiB; one iteration
peaked at 2.8 GiB resident.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence

import torch

from vidstyle.config import MIN_TILE
from vidstyle.errors import InputError
from vidstyle.losses import PIXEL_SCALE, sum_terms

ALIGN = 16  # the stride of block 5: core and window edges are multiples of it
DEFAULT_HALO = 80  # px of context around each core; covers relu5_1's receptive field (see the docstring)

Features = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def layer_stride(name: str) -> int:
    """Pixels per feature position of VGG19 layer ``name`` (``convB_C``,
    ``reluB_C``, ``poolB``): 1 in block 1, 2 in block 2 (after ``pool1``),
    ... 16 in block 5; ``poolB`` has the stride of block B + 1."""
    block = int(name[4])
    return 2**block if name.startswith("pool") else 2 ** (block - 1)


def align_tile(tile: int) -> int:
    """``tile`` rounded down to a multiple of ``ALIGN`` (at least ``MIN_TILE``)."""
    return max(MIN_TILE, tile // ALIGN * ALIGN)


def align_halo(halo: int) -> int:
    """``halo`` rounded up to a multiple of ``ALIGN``."""
    if halo < 0:
        raise InputError(f"the tile halo must be >= 0 pixels, got {halo}")
    return math.ceil(halo / ALIGN) * ALIGN


@dataclasses.dataclass(frozen=True)
class Tile:
    """One core and its window, in pixels of the ``(H, W)`` image.

    ``core`` = ``(y0, y1, x0, x1)``: the pixels whose features this tile
    contributes (the cores partition the image); ``window`` = ``(y0, y1, x0,
    x1)``: what VGG19 sees, the core plus the halo, clipped to the image.
    """

    core: tuple[int, int, int, int]
    window: tuple[int, int, int, int]

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """The window of ``image`` ``(B, C, H, W)`` (a view)."""
        y0, y1, x0, x1 = self.window
        return image[..., y0:y1, x0:x1]

    def core_features(self, feats: torch.Tensor, *, stride: int, full: tuple[int, int]) -> torch.Tensor:
        """The core's positions of window activations ``feats`` ``(B, C, h, w)``
        of a layer of ``stride``; ``full`` = that layer's ``(H_l, W_l)`` on
        the whole image (its far edges)."""
        (cy0, cy1, cx0, cx1), (wy0, _, wx0, _) = self.core, self.window
        rows = _span(cy0, cy1, wy0, stride, full[0])
        cols = _span(cx0, cx1, wx0, stride, full[1])
        return feats[..., rows[0] : rows[1], cols[0] : cols[1]]

    def core_slice(self, *, stride: int, full: tuple[int, int]) -> tuple[slice, slice]:
        """The core's rows and columns in whole-image features of ``stride``."""
        cy0, cy1, cx0, cx1 = self.core
        rows = _span(cy0, cy1, 0, stride, full[0])
        cols = _span(cx0, cx1, 0, stride, full[1])
        return slice(*rows), slice(*cols)


def _span(c0: int, c1: int, w0: int, stride: int, full: int) -> tuple[int, int]:
    """Feature indices of pixels ``[c0, c1)`` relative to a window starting at
    pixel ``w0``; the last core ends at the image's own (floored) edge."""
    start = c0 // stride
    end = min(c1 // stride, full) if c1 % ALIGN == 0 else full
    return start - w0 // stride, max(start, end) - w0 // stride


def tile_layout(size: tuple[int, int], *, tile: int, halo: int = DEFAULT_HALO) -> list[Tile]:
    """The tiles of an image of ``size`` = (width, height): cores of ``tile``
    px (rounded down to a multiple of 16; a remainder under a quarter tile
    joins its neighbour), row by row, each in a window of ``halo`` px more
    (rounded up to a multiple of 16) on every side, clipped to the image."""
    width, height = size
    tile, halo = align_tile(tile), align_halo(halo)

    def cuts(length: int) -> list[tuple[int, int]]:
        starts = list(range(0, length, tile))
        if len(starts) > 1 and length - starts[-1] < tile // 4:
            starts.pop()
        ends = starts[1:] + [length]
        return list(zip(starts, ends))

    return [
        Tile(
            core=(y0, y1, x0, x1),
            window=(max(0, y0 - halo), min(height, y1 + halo), max(0, x0 - halo), min(width, x1 + halo)),
        )
        for y0, y1 in cuts(height)
        for x0, x1 in cuts(width)
    ]


def needs_tiles(size: tuple[int, int], tile: int | None) -> bool:
    """Whether frames of ``size`` are cut into tiles of ``tile`` (None: never;
    a frame within one core is optimized whole)."""
    return tile is not None and max(size) > align_tile(tile)


def feature_size(size: tuple[int, int], stride: int) -> tuple[int, int]:
    """``(H_l, W_l)`` of a layer of ``stride`` on a ``size`` = (width, height)
    image (each pool floors)."""
    return size[1] // stride, size[0] // stride


def _core_gram(core: torch.Tensor, norm: int) -> torch.Tensor:
    """Unreduced Gram contribution ``(B, C, C)`` of core features, over ``norm``."""
    b, c = core.shape[:2]
    flat = core.reshape(b, c, -1).float()
    return flat @ flat.transpose(1, 2) / norm


def tiled_grams(
    features: Features,
    image: torch.Tensor,
    *,
    layers: Sequence[str],
    tile: int,
    halo: int = DEFAULT_HALO,
) -> dict[str, torch.Tensor]:
    """``losses.gram_matrix`` of ``layers`` of ``image`` ``(1, 3, H, W)`` in
    [0, 1], computed window by window without gradients."""
    grams, _ = _first_pass(features, image, layers=layers, tile=tile, halo=halo, content_targets=None)
    return grams


def tiled_content_targets(
    features: Features,
    image: torch.Tensor,
    *,
    layers: Sequence[str],
    tile: int,
    halo: int = DEFAULT_HALO,
) -> dict[str, torch.Tensor]:
    """The activations of ``layers`` of ``image`` ``(1, 3, H, W)``, assembled
    from the cores of the windows (no gradients; the other layers of each
    window are dropped as soon as it is done)."""
    size = (image.shape[-1], image.shape[-2])
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for tile_, feats in _windows(features, image, tile=tile, halo=halo):
            for name in layers:
                stride = layer_stride(name)
                full = feature_size(size, stride)
                if name not in out:
                    out[name] = feats[name].new_empty((image.shape[0], feats[name].shape[1], *full))
                rows, cols = tile_.core_slice(stride=stride, full=full)
                out[name][..., rows, cols] = tile_.core_features(feats[name], stride=stride, full=full)
            del feats
    return out


def _windows(
    features: Features, image: torch.Tensor, *, tile: int, halo: int
) -> Iterator[tuple[Tile, dict[str, torch.Tensor]]]:
    size = (image.shape[-1], image.shape[-2])
    for tile_ in tile_layout(size, tile=tile, halo=halo):
        yield tile_, features(tile_.crop(image))


def _first_pass(
    features: Features,
    image: torch.Tensor,
    *,
    layers: Sequence[str],
    tile: int,
    halo: int,
    content_targets: dict[str, torch.Tensor] | None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """Whole-image Grams of ``layers`` and, with ``content_targets``, the
    (unweighted) content loss, without gradients."""
    size = (image.shape[-1], image.shape[-2])
    grams: dict[str, torch.Tensor] = {}
    content: torch.Tensor | None = None
    with torch.no_grad():
        for tile_, feats in _windows(features, image, tile=tile, halo=halo):
            for name in layers:
                stride = layer_stride(name)
                full = feature_size(size, stride)
                core = tile_.core_features(feats[name], stride=stride, full=full)
                g = _core_gram(core, core.shape[1] * full[0] * full[1])
                grams[name] = grams[name] + g if name in grams else g
            for name, target in (content_targets or {}).items():
                stride = layer_stride(name)
                full = feature_size(size, stride)
                core = tile_.core_features(feats[name], stride=stride, full=full)
                rows, cols = tile_.core_slice(stride=stride, full=full)
                term = (core.float() - target[..., rows, cols].float()).pow(2).sum() / target.numel()
                content = term if content is None else content + term
            del feats
    return grams, content


class TiledObjective:
    """The weighted content and style losses of a frame and their gradient,
    evaluated window by window (see the module docstring).

    Args:
        features: the VGG19 trunk, float ``(B, 3, h, w)`` in [0, 1] -> activations.
        size: the frame's ``(width, height)``.
        style_targets: ``{layer: (1, C, C)}`` target Grams (whole style image).
        content_targets: ``{layer: (1, C, H_l, W_l)}`` (``tiled_content_targets``).
        style_weight, content_weight: the loss weights.
        tile, halo: core side and context in pixels (``tile_layout``).
    """

    def __init__(
        self,
        features: Features,
        *,
        size: tuple[int, int],
        style_targets: dict[str, torch.Tensor],
        content_targets: dict[str, torch.Tensor],
        style_weight: float,
        content_weight: float,
        tile: int,
        halo: int = DEFAULT_HALO,
    ):
        self.features = features
        self.size = size
        self.style_targets = style_targets
        self.content_targets = content_targets
        self.style_weight = style_weight
        self.content_weight = content_weight
        self.tile = tile
        self.halo = halo
        self.tiles = tile_layout(size, tile=tile, halo=halo)

    def losses(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"content", "style"}`` weighted losses of ``image`` ``(1, 3, H, W)``
        in [0, 1], without gradients."""
        grams, content = self._first_pass(image)
        return {"content": self.content_weight * content, "style": self.style_weight * self._style(grams)}

    def evaluate(self, pixels: torch.Tensor, grad: torch.Tensor, *, scale: float = 1.0) -> dict[str, torch.Tensor]:
        """The weighted content and style losses of ``pixels`` ``(1, 3, H, W)``
        on the 0..255 scale; adds ``scale`` times their gradient into ``grad``
        (same shape), window by window. Returns detached 0-d tensors."""
        pixels = pixels.detach()
        grams, content = self._first_pass(pixels / PIXEL_SCALE)
        with torch.no_grad():
            # d mean((G - A)^2) / dG = 2 (G - A) / numel(G), times the weight.
            slopes = {
                name: self.style_weight * 2.0 * (grams[name] - target) / target.numel()
                for name, target in self.style_targets.items()
            }
        for tile_ in self.tiles:
            window = tile_.crop(pixels).clone().requires_grad_(True)
            feats = self.features(window / PIXEL_SCALE)
            surrogate = self._surrogate(tile_, feats, slopes)
            del feats
            (surrogate * scale if scale != 1.0 else surrogate).backward()
            assert window.grad is not None
            tile_.crop(grad).add_(window.grad)
            del window, surrogate
        return {"content": self.content_weight * content, "style": self.style_weight * self._style(grams)}

    def _first_pass(self, image: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        grams, content = _first_pass(
            self.features,
            image,
            layers=tuple(self.style_targets),
            tile=self.tile,
            halo=self.halo,
            content_targets=self.content_targets,
        )
        zero = torch.zeros((), device=image.device)
        return grams, zero if content is None else content

    def _style(self, grams: dict[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros((), device=next(iter(grams.values())).device) if grams else torch.zeros(())
        for name, target in self.style_targets.items():
            total = total + torch.mean((grams[name] - target) ** 2)
        return total

    def _surrogate(self, tile_: Tile, feats: dict[str, torch.Tensor], slopes: dict[str, torch.Tensor]) -> torch.Tensor:
        """A function of the window whose gradient is the window's share of the
        whole frame's weighted content + style gradient."""
        terms: list[torch.Tensor] = []
        for name, slope in slopes.items():
            stride = layer_stride(name)
            full = feature_size(self.size, stride)
            core = tile_.core_features(feats[name], stride=stride, full=full)
            terms.append((slope * _core_gram(core, core.shape[1] * full[0] * full[1])).sum())
        for name, target in self.content_targets.items():
            stride = layer_stride(name)
            full = feature_size(self.size, stride)
            core = tile_.core_features(feats[name], stride=stride, full=full)
            rows, cols = tile_.core_slice(stride=stride, full=full)
            diff = core.float() - target[..., rows, cols].float()
            terms.append(self.content_weight * diff.pow(2).sum() / target.numel())
        return sum_terms(terms)
