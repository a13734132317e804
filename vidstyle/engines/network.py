"""The feed-forward engine: one pass of a small trained network per frame.

The network is Johnson et al.'s image transformation network ("Perceptual
losses for real-time style transfer", ECCV 2016), slimmed down (16/32/64
channels, 3 residual blocks, ~0.28 M parameters) and with Odena et al.'s
upsample + convolution decoder instead of transposed convolutions (no
checkerboard). Instance normalization as in Ulyanov et al. (2016). A network
learns one look: ``vidstyle train`` (``vidstyle.training``) trains it with the
optimizer's own losses and saves it in a look file; the ``net`` engine of the
registry (``vidstyle.training.network_engine``) loads or trains one and
builds a ``NetworkEngine`` from it.

Temporal steadiness at inference (departs from Johnson: their network has no
notion of time): with a warm start, the network's frame is blended with the
flow-warped previous output over the pixels where the flow is reliable,
``out = net * (1 - b*m) + warped * b*m`` with ``m = warm.temporal.weights[0]``
and ``b = config.net_blend``. ``net_blend = 0`` turns it off, and then the
engine asks for no warm start (the pipeline skips optical flow), unless the
network takes a prior (``StyleNet``'s ``prior``, Ruder et al. 2018): then the
warm start's image and mask are its input, before any blend.

Refinement (``config.net_refine`` = N > 0, a ``refiner`` engine): the
(blended) network frame is the warm start of N iterations of the optimizer,
held by the same temporal target: a hybrid that pays N VGG19 passes per frame
for the optimizer's look and steadiness.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
from torch import nn

from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine, FrameResult, IterationDone, OnIteration
from vidstyle.engines.out_of_memory import describe, memory_guard
from vidstyle.features import select_device
from vidstyle.frames import WarmStart

CHANNELS = (16, 32, 64)  # encoder widths; the decoder mirrors them
RESIDUAL_BLOCKS = 3
OUTPUTS = ("tanh", "residual")
OUTPUT = "tanh"  # see StyleNet
PRIOR_CHANNELS = 7  # image, masked prior, mask (StyleNet's ``prior``)
NOISE_SEED = 0  # the fixed noise field a network with ``noise`` channels sees at inference
# The residual output's input clamp (logit(0) and logit(1) are infinite). A
# near-white pixel at 1e-3 needs the body to reach -6.9 to turn mid-grey and
# the sigmoid's slope there is 0.001: on bikes.mp4 (a white object on grey),
# 5 CPU-minutes of training left it white, 28.6x and 35.3x the optimizer's
# style loss in two seeds; at 0.05, 16.6x and 17.9x (README, "A second clip").
LOGIT_EPS = 0.05
FORMER_LOGIT_EPS = 1e-3  # looks saved before the clamp was recorded
RUNTIME_BYTES = 64 * 2**20  # torch's own working memory besides the tensors, a rough allowance
# Peak live activations per pixel during a forward pass without gradients:
# the widest full-resolution maps (16 channels, a few at once) and their
# reflection-padded copies, float32. Measured peak on CPU at 256x144 ~ 25 MB.
ACTIVATION_FLOATS_PER_PIXEL = 6 * CHANNELS[0] + 3


class ConvLayer(nn.Sequential):
    """Reflection padding + convolution (keeps the size at stride 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.ReflectionPad2d(kernel_size // 2), nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride)
        )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and a skip (He et al. 2016)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Sequential):
    """Nearest upsampling by 2 then a convolution (Odena et al. 2016)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(in_channels, out_channels, kernel_size))


class StyleNet(nn.Module):
    """The image transformation network: ``(B, 3, H, W)`` RGB in [0, 1] ->
    the stylized ``(B, 3, H, W)`` in [0, 1], any H and W (it pads odd sizes
    to a multiple of 4 and crops back).

    Args:
        channels: the three encoder widths.
        residual_blocks: how many residual blocks at the lowest resolution.
        output: ``tanh``: Johnson et al.'s ``(tanh(body) + 1) / 2``;
            ``residual``: ``sigmoid(logit(clamp(image, e, 1 - e)) + body)``
            with the last convolution initialized to zero, so an untrained
            network returns its input (clamped to [e, 1 - e]) and training
            starts from the content (the content term is already met and
            every step goes to the style).
        logit_eps: ``e`` above.
        prior: the network also takes the previous output warped into this
            frame and the mask of its reliable pixels (Ruder et al. 2018,
            "Artistic style transfer for videos and spherical images", IJCV,
            sec. 5): the input is ``image``, ``prior * mask`` and ``mask``
            (7 channels), and the residual output starts from
            ``mask * prior + (1 - mask) * image``, so an untrained body
            carries the previous strokes over reliable pixels and the trained
            one repaints where they are missing or stale. Only with the
            ``residual`` output. Without a prior (a cold start) both are zero.
        noise: this many extra input channels of standard normal noise
            (Ulyanov et al. 2016, "Texture networks"): a translation-
            equivariant network maps a flat region to a flat (or regularly
            hatched) one, and noise gives it something to paint strokes from.
            Training draws fresh noise each step; at inference the noise is one
            fixed field per frame size (``fixed_noise``), so a still shot
            gives a still painting.
    """

    def __init__(
        self,
        *,
        channels: Sequence[int] = CHANNELS,
        residual_blocks: int = RESIDUAL_BLOCKS,
        output: str = OUTPUT,
        logit_eps: float = LOGIT_EPS,
        prior: bool = False,
        noise: int = 0,
    ):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
        if prior and output != "residual":
            raise ValueError("a network with a prior needs the residual output")
        self.prior = bool(prior)
        if not 0 <= noise <= 16:
            raise ValueError(f"noise must be 0 to 16 channels, got {noise}")
        self.noise = int(noise)
        c1, c2, c3 = channels
        self.channels = tuple(int(c) for c in channels)
        self.residual_blocks = int(residual_blocks)
        self.output = output
        if not 0 < logit_eps < 0.5:
            raise ValueError(f"logit_eps must be in (0, 0.5), got {logit_eps}")
        self.logit_eps = float(logit_eps)

        def norm_relu(c: int) -> list[nn.Module]:
            return [nn.InstanceNorm2d(c, affine=True), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            ConvLayer((PRIOR_CHANNELS if prior else 3) + self.noise, c1, 9),
            *norm_relu(c1),
            ConvLayer(c1, c2, 3, stride=2),
            *norm_relu(c2),
            ConvLayer(c2, c3, 3, stride=2),
            *norm_relu(c3),
            *(ResidualBlock(c3) for _ in range(residual_blocks)),
            UpsampleConv(c3, c2),
            *norm_relu(c2),
            UpsampleConv(c2, c1),
            *norm_relu(c1),
            ConvLayer(c1, 3, 9),
        )
        if output == "residual":
            last = cast(nn.Conv2d, cast(ConvLayer, self.body[-1])[1])
            nn.init.zeros_(last.weight)
            assert last.bias is not None  # nn.Conv2d's default: with bias
            nn.init.zeros_(last.bias)

    def forward(
        self,
        image: torch.Tensor,
        prior: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``image`` ``(B, 3, H, W)`` in [0, 1]; with ``self.prior``, the warped
        previous output ``prior`` ``(B, 3, H, W)`` and its reliability
        ``mask`` ``(B, 1, H, W)`` in [0, 1] (None: a cold start; ignored
        without ``self.prior``); with ``self.noise`` channels, ``noise``
        ``(B or 1, noise, H, W)`` (None: ``fixed_noise``)."""
        height, width = image.shape[-2:]
        pad_h, pad_w = -height % 4, -width % 4
        x = base = image
        if self.prior:
            if prior is None or mask is None:
                prior = torch.zeros_like(image)
                mask = image.new_zeros((image.shape[0], 1, height, width))
            mask = mask.clamp(0, 1)
            base = mask * prior + (1 - mask) * image
            x = torch.cat([image, prior * mask, mask], dim=1)
        if self.noise:
            if noise is None:
                noise = fixed_noise(self.noise, height, width, device=image.device, dtype=image.dtype)
            x = torch.cat([x, noise.to(x.dtype).expand(x.shape[0], -1, -1, -1)], dim=1)
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
            base = nn.functional.pad(base, (0, pad_w, 0, pad_h), mode="replicate")
        if self.output == "residual":
            out = torch.sigmoid(torch.logit(base.clamp(self.logit_eps, 1 - self.logit_eps)) + self.body(x))
        else:  # Johnson et al. end in a scaled tanh; (tanh + 1) / 2 maps to [0, 1].
            out = (torch.tanh(self.body(x)) + 1.0) * 0.5
        return out[..., :height, :width]

    def architecture(self) -> dict:
        """What rebuilds this network (saved in look files)."""
        return {
            "channels": list(self.channels),
            "residual_blocks": self.residual_blocks,
            "output": self.output,
            "logit_eps": self.logit_eps,
            "prior": self.prior,
            "noise": self.noise,
        }


def fixed_noise(channels: int, height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """The noise a network with noise channels sees at inference: standard
    normal ``(1, channels, height, width)``, the same for every frame of a
    size (seeded by ``NOISE_SEED``, drawn on the host so every device agrees)."""
    generator = torch.Generator().manual_seed(NOISE_SEED)
    return torch.randn((1, channels, height, width), generator=generator).to(device=device, dtype=dtype)


def blend_with_warm_start(image: torch.Tensor, warm: WarmStart | None, weight: float) -> torch.Tensor:
    """``image`` ``(1, 3, H, W)`` blended with ``warm.init`` over reliable pixels
    (``warm.temporal.weights[0]``) by ``weight`` in [0, 1] (module docstring).
    Unchanged without a warm start, a temporal target or a weight."""
    if warm is None or warm.temporal is None or weight <= 0:
        return image
    init = torch.from_numpy(np.ascontiguousarray(warm.init)).to(image.device, image.dtype).permute(2, 0, 1)
    mask = torch.from_numpy(np.ascontiguousarray(warm.temporal.weights[0])).to(image.device, image.dtype)
    if init.shape[-2:] != image.shape[-2:]:
        return image  # a warm start of another size (should not happen): ignore it rather than guess
    alpha = (weight * mask.clamp(0, 1))[None, None]
    return image * (1 - alpha) + init.clamp(0, 1)[None] * alpha


class NetworkEngine:
    """Stylizes a frame with one pass of a trained ``StyleNet`` (the
    ``Engine`` protocol of ``engines/base.py``).

    Args:
        net: the trained network (moved to ``device`` and frozen here).
        config: the run's options (``net_blend``, ``device``, ``num_threads``).
        device: a ``torch.device`` or name; None: ``config.device``.
        look: what the look file records (style, options, training summary),
            kept for run summaries; optional.
        refiner: the engine that refines each network frame for
            ``config.net_refine`` iterations (an ``OptimizerEngine`` with the
            look's style and options); None: none.

    Attributes (besides the protocol's):
        blend: ``config.net_blend``.
        takes_prior: the network takes the warm start as its input
            (``StyleNet``'s ``prior``).
        half: on CUDA the network runs in float16 (the output is float32).
    """

    name = "net"
    min_iters = 1

    def __init__(
        self,
        net: StyleNet,
        *,
        config: StyleConfig,
        device=None,
        look: dict | None = None,
        refiner: Engine | None = None,
    ):
        self.config = config
        self.device = select_device(config.device) if device is None else torch.device(device)
        if config.num_threads and self.device.type == "cpu":
            torch.set_num_threads(config.num_threads)
        self.blend = float(config.net_blend)
        self.refiner = refiner if config.net_refine > 0 else None
        self.takes_prior = net.prior
        self.wants_warm_start = self.blend > 0 or self.refiner is not None or self.takes_prior
        self.look = look or {}
        # fp16 on CUDA: instance norm and tanh are stable in half precision,
        # and the network is small enough that its weights cost nothing to cast.
        self.half = self.device.type == "cuda" and config.precision != "fp32"
        self.dtype = torch.float16 if self.half else torch.float32
        with self._memory_guard("loading the network", None):
            self.net = net.to(device=self.device, dtype=self.dtype).eval().requires_grad_(False)

    def max_iters(self, *, cold: bool, size: tuple[int, int] | None = None) -> int:
        return 1

    def required_bytes(self, size: tuple[int, int]) -> int:
        return self.estimate_required_bytes(size, config=self.config, device=self.device)

    @staticmethod
    def estimate_required_bytes(size: tuple[int, int], *, config: StyleConfig, device) -> int:
        """Peak bytes of one frame: activations of one forward pass, the
        network and the runtime's allowance (before the network is loaded)."""
        width, height = size
        padded = (width + 8) * (height + 8)  # reflection padding of the 9x9 layers
        return RUNTIME_BYTES + padded * ACTIVATION_FLOATS_PER_PIXEL * 4 + 4 * 300_000

    def stylize_batch(self, contents_u8: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The raw network outputs (no blending; a network with a prior paints
        each as a cold start) of several frames of one size, one batch: uint8
        ``(H, W, 3)`` each."""
        batch = np.stack([np.ascontiguousarray(c) for c in contents_u8])
        size = (batch.shape[2], batch.shape[1])
        with self._memory_guard("running the network", size), torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).to(self.dtype) / 255.0
            out = self.net(x).float()
            return list(_to_u8(out))

    def stylize(
        self,
        content_u8: np.ndarray,
        warm: WarmStart | None = None,
        *,
        max_iters: int | None = None,
        on_iteration: OnIteration | None = None,
    ) -> FrameResult:
        """One pass of the network, blended with the warm start, then refined
        (module docstring)."""
        started = time.perf_counter()
        size = (content_u8.shape[1], content_u8.shape[0])
        with self._memory_guard("running the network", size), torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(content_u8)).to(self.device)
            x = x.permute(2, 0, 1).unsqueeze(0).to(self.dtype) / 255.0
            prior, mask = self._prior(warm, x)
            painted = self.net(x) if prior is None else self.net(x, prior, mask)
            out = blend_with_warm_start(painted.float(), warm, self.blend)
        if self.refiner is not None:
            start = WarmStart(
                init=out[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy(), temporal=None if warm is None else warm.temporal
            )
            refined = self.refiner.stylize(
                content_u8, start, max_iters=self.config.net_refine, on_iteration=on_iteration
            )
            return dataclasses.replace(refined, num_iters=1 + refined.num_iters, seconds=time.perf_counter() - started)
        image_u8 = _to_u8(out)[0]
        if on_iteration is not None:
            on_iteration(IterationDone(iteration=1, loss=float("nan")))  # a pass computes no loss
        return FrameResult(
            image_u8=image_u8, num_iters=1, converged=True, losses={}, seconds=time.perf_counter() - started
        )

    def _prior(self, warm: WarmStart | None, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The warm start's image and its first temporal weights as the
        network's prior and mask ``(1, C, H, W)`` (StyleNet's ``prior``);
        None, None for a cold start or a network without a prior."""
        if not self.takes_prior or warm is None or warm.temporal is None:
            return None, None
        prior = torch.from_numpy(np.ascontiguousarray(warm.init)).to(x.device, x.dtype).permute(2, 0, 1)[None]
        mask = torch.from_numpy(np.ascontiguousarray(warm.temporal.weights[0])).to(x.device, x.dtype)[None, None]
        if prior.shape[-2:] != x.shape[-2:]:
            return None, None
        return prior, mask

    def _memory_guard(self, stage: str, size: tuple[int, int] | None):
        """A failed allocation inside the block becomes ``OutOfMemoryError``
        (``out_of_memory.describe``: the size, the device, what to change)."""
        return memory_guard(
            describe,
            stage=stage,
            size=size,
            frame_size=size,
            device=self.device,
            precision="fp16" if self.half else "fp32",
            dtype=self.dtype,
            compiling=False,
            required_bytes=self.required_bytes,
        )


def _to_u8(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` float in [0, 1] -> uint8 ``(B, H, W, 3)`` on the host."""
    return np.ascontiguousarray(images.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())
