"""The optimizing engine: Gatys et al. losses, Ruder et al.'s temporal loss
and warm start, minimized per frame with L-BFGS (or Adam).

``OptimizerEngine`` holds the frozen VGG19 and the style targets (computed once
per processing size) and turns one content frame into one stylized frame. It
owns its iteration policy: cold starts (``warm=None``) get ``iters_first``
iterations, solved coarse-to-fine; warm-started frames get ``iters_later``
with at least ``min_iters_later`` before the convergence test may stop them.
Its memory model is ``engines/optimize_memory.py``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from vidstyle.config import StyleConfig
from vidstyle.engines.base import FrameResult, IterationDone, OnIteration
from vidstyle.errors import InputError
from vidstyle.features import VGG19Features, select_device
from vidstyle.frames import TemporalTarget, WarmStart
from vidstyle.losses import PIXEL_SCALE, content_loss, gram_matrix, style_loss, temporal_loss, total_variation
from vidstyle.media.images import resize, resize_longer_side

COARSE_MIN_SIDE = 32  # no coarse level below this many pixels
LBFGS_HISTORY_SIZE = 50  # curvature pairs L-BFGS keeps (memory: 2 x this many images, see optimize_memory.py)
# The fewest iterations that change a frame. L-BFGS (no line search) takes a
# tiny first step: measured at 96 px, 12 frames of 1 or 2 L-BFGS iterations
# each left the image exactly as it started (the change rounds away in
# uint8); 3 began to paint. One Adam step already paints.
MIN_USEFUL_ITERS = {"adam": 1, "lbfgs": 3}


class OptimizerEngine:
    """Optimizes frames towards the content of each frame and the style of the
    given images (the ``Engine`` protocol of ``engines/base.py``).

    Args:
        styles_u8: one or more ``(H, W, 3)`` uint8 RGB style images.
        config: the run's options (weights, layers, optimizer, device...).
        device: a ``torch.device`` or name; None: ``config.device``.
        features: a ready VGG19 trunk to use instead of loading one (it must
            return every content and style layer); lets several engines
            share one network, and the speed benchmark pass an untruncated one.
    """

    name = "optimize"
    wants_warm_start = True

    def __init__(self, styles_u8: Sequence[np.ndarray], *, config: StyleConfig, device=None,
                 features: VGG19Features | None = None):
        if not styles_u8:
            raise InputError("at least one style image is required")
        blend = config.style_weights or tuple(1.0 for _ in styles_u8)
        if len(blend) != len(styles_u8):
            raise InputError(f"got {len(styles_u8)} style images but {len(blend)} style weights")
        if sum(blend) <= 0 or min(blend) < 0:
            raise InputError(f"style weights must be >= 0 with a positive sum, got {blend}")
        self.config = config
        self.device = select_device(config.device) if device is None else torch.device(device)
        self.min_iters = MIN_USEFUL_ITERS.get(config.optimizer, 1)
        # None keeps torch's default, one thread per core. Measured on 2 cores
        # (256x144): 2 threads 0.30 s per iteration, 1 thread 0.55; but beside
        # another busy thread 2 threads take 2.44 s and 1 thread 0.57. The
        # file pipeline's flow thread is busy for a few hundredths of a second
        # per frame, so all cores pays there; live mode, whose capture and flow
        # run all the time, asks for one core less (live.default_num_threads).
        if config.num_threads and self.device.type == "cpu":
            torch.set_num_threads(config.num_threads)
        self.styles_u8 = list(styles_u8)
        self.style_blend = [w / sum(blend) for w in blend]
        layers = tuple(dict.fromkeys(config.content_layers + config.style_layers))
        if features is None:
            features = VGG19Features(layers, weights=config.weights)
        elif missing := [name for name in layers if name not in features.layers]:
            raise InputError(f"the given VGG19 network does not return the layer(s) {missing}")
        self.vgg = features.to(self.device)
        self.use_amp = self.device.type == "cuda" and config.half is not False
        if self.device.type == "cuda":
            self.vgg = self.vgg.to(memory_format=torch.channels_last)
        # torch.compile compiles lazily, on the first call of each new input
        # shape (and the backward graph at the first backward), so a failure
        # shows up there: _run_vgg falls back to the eager module, once.
        self._compiled: Callable | None = torch.compile(self.vgg) if config.compile else None
        self._compile_checked = False
        self._style_grams: dict[tuple[int, int], dict[str, torch.Tensor]] = {}

    # -- tensors ------------------------------------------------------------

    def to_tensor(self, image: np.ndarray) -> torch.Tensor:
        """``(H, W, 3)`` uint8 or float in [0, 1] -> ``(1, 3, H, W)`` float32 on the device."""
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        tensor = tensor.float() / 255.0 if image.dtype == np.uint8 else tensor.float()
        # Contiguous NCHW: L-BFGS flattens gradients with view(); channels_last
        # is applied inside features() instead.
        return tensor.permute(2, 0, 1).unsqueeze(0).contiguous().to(self.device)

    @staticmethod
    def to_u8(image: torch.Tensor) -> np.ndarray:
        """``(1, 3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 on the host."""
        array = image.detach()[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
        return np.ascontiguousarray(array)

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """VGG activations of ``image`` ``(B, 3, H, W)``; mixed precision on CUDA."""
        if self.device.type == "cuda":
            image = image.contiguous(memory_format=torch.channels_last)
        # Under autocast the convolutions run in bf16/fp16; the losses cast
        # the activations to float32 (gram_matrix, content_loss) and are
        # computed outside this context, so they accumulate in float32.
        if self.use_amp:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            with torch.autocast(device_type="cuda", dtype=dtype):
                return self._run_vgg(image)
        return self._run_vgg(image)

    def _run_vgg(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The compiled network when ``config.compile`` and it works, else the eager one."""
        if self._compiled is None:
            return self.vgg(image)
        try:
            feats = self._compiled(image)
            if not self._compile_checked and image.requires_grad:
                # The backward graph is compiled at the first backward, inside
                # the optimizer's closure; try it once here, on a copy, where a
                # failure can still fall back cleanly.
                probe = image.detach().requires_grad_(True)
                sum(f.float().sum() for f in self._compiled(probe).values()).backward()
                self._compile_checked = True
            return feats
        except Exception as err:  # any compiler failure: run eagerly, say so once
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            warnings.warn(f"torch.compile failed ({type(err).__name__}: {reason[:200]}); "
                          "running the VGG network without it", RuntimeWarning, stacklevel=2)
            self._compiled = None
            return self.vgg(image)

    def style_grams(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Blended target Gram matrices for frames of ``size`` = (width, height);
        computed once per size. Each style image is scaled so its longer side is
        ``style_scale`` times the frame's longer side."""
        if size not in self._style_grams:
            longer = max(16, round(self.config.style_scale * max(size)))
            grams: dict[str, torch.Tensor] = {}
            with torch.no_grad():
                for style_u8, weight in zip(self.styles_u8, self.style_blend):
                    feats = self.features(self.to_tensor(resize_longer_side(style_u8, longer)))
                    for layer in self.config.style_layers:
                        g = gram_matrix(feats[layer]) * weight
                        grams[layer] = grams[layer] + g if layer in grams else g
            self._style_grams[size] = grams
        return self._style_grams[size]

    # -- optimization -------------------------------------------------------

    def max_iters(self, *, cold: bool) -> int:
        """``iters_first`` for a cold start, ``iters_later`` for a warm one."""
        return self.config.iters_first if cold else self.config.iters_later

    def required_bytes(self, size: tuple[int, int]) -> int:
        """Peak memory of one frame at ``size`` (see ``optimize_memory``)."""
        return self.estimate_required_bytes(size, config=self.config, device=self.device)

    @staticmethod
    def estimate_required_bytes(size: tuple[int, int], *, config: StyleConfig, device) -> int:
        """``required_bytes`` before an engine is built (``engines.memory_estimate``)."""
        from vidstyle.engines.optimize_memory import required_bytes

        return required_bytes(size, config=config, device=select_device(config.device) if device is None else device)

    def stylize(self, content_u8: np.ndarray, warm: WarmStart | None = None, *, max_iters: int | None = None,
                on_iteration: OnIteration | None = None) -> FrameResult:
        """Optimize one frame (see ``Engine.stylize``): a cold start from the
        content (or noise), coarse-to-fine, or a warm start from ``warm.init``
        held by the temporal loss towards ``warm.temporal``."""
        cold = warm is None
        cap = self.max_iters(cold=cold) if max_iters is None else max_iters
        return self._optimize(content_u8, init=None if cold else warm.init,
                              temporal=None if cold else warm.temporal, max_iters=cap,
                              min_iters=0 if cold else self.config.min_iters_later, on_iteration=on_iteration)

    def _optimize(
        self,
        content_u8: np.ndarray,
        *,
        init: np.ndarray | None,
        temporal: TemporalTarget | None,
        max_iters: int,
        min_iters: int = 0,
        on_iteration: Callable[[IterationDone], None] | None = None,
    ) -> FrameResult:
        """Optimize one frame.

        Args:
            content_u8: ``(H, W, 3)`` uint8 RGB content frame.
            init: starting image ``(H, W, 3)`` (uint8, or float in [0, 1]);
                None starts from the content (or noise with ``init="noise"``).
            temporal: warped previous outputs and weights for the temporal loss.
            max_iters: iteration cap; ``min_iters``: no convergence stop before.
        """
        cfg = self.config
        started = time.perf_counter()
        size = (content_u8.shape[1], content_u8.shape[0])
        coarse_iters = 0
        cold = init is None and temporal is None
        if cold and cfg.coarse_to_fine and min(size) >= 2 * COARSE_MIN_SIDE and max_iters >= 4:
            # Coarse-to-fine cold start: up to half the budget at half size (a
            # quarter of the cost per iteration), upsample, refine with the
            # rest. max_iters caps both levels together.
            half = (size[0] // 2, size[1] // 2)
            coarse = self._optimize(resize(content_u8, half), init=None, temporal=None, max_iters=max_iters // 2,
                                    on_iteration=on_iteration)
            init = resize(coarse.image_u8, size)
            coarse_iters = coarse.num_iters
            max_iters = max(1, max_iters - coarse_iters)
        style_targets = self.style_grams(size)
        content = self.to_tensor(content_u8)
        with torch.no_grad():
            # Keep only the content layers: the other activations of this pass
            # (relu1_1 alone is 64 floats per pixel) would stay alive for the
            # whole optimization.
            content_targets = {k: v for k, v in self.features(content).items() if k in cfg.content_layers}
        # The optimized variable lives on the 0..255 scale, as in the references:
        # on [0, 1] float32 L-BFGS's curvature estimates break down (measured:
        # the loss diverges at the third iteration).
        pixels = (self._initial_image(content_u8, init) * PIXEL_SCALE).requires_grad_(True)
        warped = weights = None
        if temporal is not None and cfg.temporal_weight > 0:
            warped = torch.from_numpy(temporal.warped).permute(0, 3, 1, 2).float().to(self.device)
            weights = torch.from_numpy(temporal.weights).unsqueeze(1).float().to(self.device)

        def weighted_losses(x: torch.Tensor) -> dict[str, torch.Tensor]:
            feats = self.features(x)
            terms = {
                "content": cfg.content_weight * content_loss(feats, content_targets),
                "style": cfg.style_weight * style_loss(feats, style_targets),
                "tv": cfg.tv_weight * total_variation(x),
            }
            if warped is not None:
                terms["temporal"] = cfg.temporal_weight * temporal_loss(x, warped, weights)
            return terms

        optimizer = self._make_optimizer(pixels)
        history: list[float] = []

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = sum(weighted_losses(pixels / PIXEL_SCALE).values())
            loss.backward()
            return loss

        converged = False
        for iteration in range(1, max_iters + 1):
            loss = optimizer.step(closure)
            # Host copy of the loss for the stopping rule and the events. Free
            # with L-BFGS: its step() has already synced on this loss and on
            # its gradient and curvature tests (float(loss), ys > 1e-10, ...),
            # so this is a 4-byte read of a finished value. With Adam on a GPU
            # it is the one sync per iteration.
            history.append(float(loss.detach()))
            if on_iteration is not None:
                on_iteration(IterationDone(iteration=iteration, loss=history[-1]))
            if iteration >= max(min_iters, cfg.tolerance_window + 1) and self._has_converged(history):
                converged = True
                break
        with torch.no_grad():
            image = pixels.clamp(0, PIXEL_SCALE) / PIXEL_SCALE
            final = {k: float(v) for k, v in weighted_losses(image).items()}
        final["total"] = sum(final.values())
        return FrameResult(
            image_u8=self.to_u8(image),
            num_iters=len(history) + coarse_iters,
            converged=converged,
            losses=final,
            seconds=time.perf_counter() - started,
        )

    def measure(self, image_u8: np.ndarray, content_u8: np.ndarray) -> dict[str, float]:
        """Unweighted style and content losses of a finished frame, for
        benchmarks and quality checks (same scale for every configuration)."""
        size = (content_u8.shape[1], content_u8.shape[0])
        with torch.no_grad():
            feats = self.features(self.to_tensor(image_u8))
            content_feats = self.features(self.to_tensor(content_u8))
            targets = {k: content_feats[k] for k in self.config.content_layers}
            return {
                "style": float(style_loss(feats, self.style_grams(size))),
                "content": float(content_loss(feats, targets)),
            }

    def _initial_image(self, content_u8: np.ndarray, init: np.ndarray | None) -> torch.Tensor:
        if init is not None:
            if init.shape[:2] != content_u8.shape[:2]:
                init = resize(init if init.dtype == np.uint8 else (init * 255).round().astype(np.uint8),
                              (content_u8.shape[1], content_u8.shape[0]))
            return self.to_tensor(init).clone()
        if self.config.init == "noise":
            rng = np.random.default_rng(self.config.seed)
            noise = rng.uniform(0.0, 1.0, size=content_u8.shape).astype(np.float32)
            return self.to_tensor(noise)
        return self.to_tensor(content_u8).clone()

    def _make_optimizer(self, pixels: torch.Tensor) -> torch.optim.Optimizer:
        if self.config.optimizer == "adam":
            return torch.optim.Adam([pixels], lr=self.config.learning_rate)
        # One L-BFGS iteration per step() so the stopping rule sees every loss;
        # the curvature history persists across steps. Step size 1 and no line
        # search, as in neural-style.
        return torch.optim.LBFGS(
            [pixels], lr=1.0, max_iter=1, history_size=LBFGS_HISTORY_SIZE, tolerance_grad=0.0, tolerance_change=0.0,
        )

    def _has_converged(self, history: list[float]) -> bool:
        """Relative loss change over the last ``tolerance_window`` iterations
        below ``tolerance`` (the references: 1e-4 over 50 iterations)."""
        window = self.config.tolerance_window
        before, now = history[-window - 1], history[-1]
        return abs(before - now) <= self.config.tolerance * max(abs(now), 1e-12)
