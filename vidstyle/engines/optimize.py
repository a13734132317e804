"""The optimizing engine: Gatys et al. losses, Ruder et al.'s temporal loss
and warm start, minimized per frame with L-BFGS (or Adam).

``OptimizerEngine`` holds the frozen VGG19 and the style targets (computed once
per processing size) and turns one content frame into one stylized frame. It
owns its iteration policy: cold starts (``warm=None``) get ``iters_first``
iterations at 256 px and more at larger sizes (``cold_start_iters``), solved
coarse-to-fine; warm-started frames get ``iters_later``
with at least ``min_iters_later`` before the convergence test may stop them.
Its memory model is ``engines/optimize_memory.py``. With ``config.tile`` a
frame larger than a tile is optimized in tiles with the whole frame's style
statistics (``engines/tiling.py``, built by ``_tiled_objective``): the same
loss and gradient, one tile's activations at a time.

On a GPU (issue 14, "the CUDA path as a GPU user will meet it"):

- precision is decided once per device (``engines/precision.py``); reduced
  precision runs a frozen bf16/fp16 copy of VGG19, never autocast; Gram
  matrices, losses, the image and the L-BFGS history stay float32.
- running out of memory anywhere (network upload, style targets, content
  pass, optimization, compilation) raises ``errors.OutOfMemoryError``, which
  names the size and what to change; nothing swallows it.
- ``--compile`` compiles only the graph that repeats, the full-size forward
  and backward of the optimization loop (one graph per processing size), and
  tries it once on a copy of the first input of each new shape, where a
  failure can still fall back to the eager network, for good, with one
  warning. Style targets, content passes, final losses and the coarse level
  of cold starts run eagerly: they run a few times per frame or only on cold
  starts, and compiling them would put several more compiles on the first
  frame. ``compile_stats`` counts compiles and their cost.
- L-BFGS keeps its scalars on the device (``engines/lbfgs.py``): the only
  host read per iteration is the loss, for the stopping rule.
- uploads go through pinned memory, asynchronously; uint8 frames are
  converted to float on the device (a quarter of the bytes to move).

Why this module is long: the compile fallback, the out-of-memory guard and
the precision glue all act on the optimization loop's own state (the
networks, the frame being served, the compiled shapes), so they live beside
it; the error text itself is ``out_of_memory.py``, the memory model
``optimize_memory.py``, the L-BFGS step ``lbfgs.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from vidstyle.config import StyleConfig
from vidstyle.engines.base import FrameResult, IterationDone, OnIteration
from vidstyle.engines.lbfgs import DeviceLBFGS
from vidstyle.engines.out_of_memory import describe, is_out_of_memory
from vidstyle.engines.precision import (
    LossScaler,
    channels_last,
    choose_precision,
    precision_name,
    requested_precision,
)
from vidstyle.engines.tiling import TiledObjective, needs_tiles, tiled_content_targets, tiled_grams
from vidstyle.errors import InputError, OutOfMemoryError, VidstyleError
from vidstyle.features import VGG19Features, select_device
from vidstyle.frames import TemporalTarget, WarmStart
from vidstyle.losses import (
    PIXEL_SCALE,
    content_loss,
    gram_matrix,
    range_penalty,
    style_loss,
    sum_terms,
    temporal_loss,
    total_variation,
)
from vidstyle.media.images import resize, resize_longer_side

# Cold-start pyramid (``pyramid_sizes``): levels a factor sqrt(2) apart in
# side (half the pixels), as multi-scale image tools step, down to a longer
# side of PYRAMID_MIN_SIDE pixels.
PYRAMID_STEP = 2**0.5
PYRAMID_MIN_SIDE = 64
MIN_LEVEL_ITERS = 8  # a level with fewer iterations than this is not worth its switch
REFERENCE_SIZE = (256, 144)  # the size the iteration defaults were tuned at (``cold_start_iters``)
# A cold start ends with this many iterations of a fresh L-BFGS from its own
# clamped result (``_cold_start``).
COLD_RESTART_ITERS = 10
# L-BFGS here takes step 1 without a line search (as neural-style does) and
# now and then overshoots: measured on the sample's frame 20 at 256x144, the
# first iterations of the full-size level of a 400-iteration cold start threw
# pixels far outside 0..255, where VGG's ReLUs go dead; the loss jumped from
# 4.2e6 to 2.6e7 and stayed there (flat, so the stopping rule took it for
# converged), and the frame kept 1.7x the style loss of a cold start that did
# not overshoot (with a flat loss, L-BFGS's next steps can also divide by
# zero: NaN). A loss above this multiple of the best one seen in the run, or
# not finite, restarts the optimizer from the pixels of that best loss.
DIVERGED_FACTOR = 2.0
LBFGS_HISTORY_SIZE = 50  # curvature pairs L-BFGS keeps (memory: 2 x this many images, see optimize_memory.py)
# The fewest iterations that change a frame. L-BFGS (no line search) takes a
# tiny first step: measured at 96 px, 12 frames of 1 or 2 L-BFGS iterations
# each left the image exactly as it started (the change rounds away in
# uint8); 3 began to paint. One Adam step already paints.
MIN_USEFUL_ITERS = {"adam": 1, "lbfgs": 3}
# DeviceLBFGS (engines/lbfgs.py) instead of torch.optim.LBFGS: the same
# iterates (bitwise equal on CPU over 12 iterations, tests/test_gpu_lbfgs.py)
# without torch's per-step host reads, which on a GPU stall the queue up to
# 100 times per iteration. On CPU, where a host read costs nothing, it is no
# slower: 128x96, 1 thread, 5 alternating runs of 20 iterations, medians
# 4.21 vs 4.01 iterations/s (ratio 1.05, within the noise), same final loss.
LBFGS_ON_DEVICE = True
# L-BFGS's first step under reduced precision: move the pixel with the largest
# gradient by this much (0..255 scale) instead of torch's t = min(1, 1/|g|_1),
# which moves the whole image by 1 in L1 (~3e-5 per value at 128x96). bf16's
# 8-bit mantissa cannot see a step that small (the input alone is quantized
# to 0.5..1 grey levels): the first curvature pair is noise or zero, the second
# step becomes -g and the loss jumps. Measured on CPU (bf16 convolutions like
# cuDNN's: float32 accumulation, bf16 outputs), sample frame at 128x96, five
# warm-started frames of 10 iterations after a 60-iteration fp32 first frame:
# torch's rule spiked the loss to 4e9..5e12 inside every frame (from ~7e6) and
# ended 2-5% above fp32; a first step of 1 grey level never rose above the
# starting loss and ended 1-2% below fp32 (5.68e6 vs 5.79e6 at the fifth
# frame). float32 keeps torch's rule on the CPU: it is smooth there, and the
# iterates then match torch.optim.LBFGS. Not on CUDA (``first_step_max``).
FIRST_STEP_MAX = {"bf16": 1.0, "fp16": 1.0}
# A warm-started frame gets that first step in every precision, the CPU's
# float32 included: it has few iterations (10, 3 in the detail stage) and
# torch's step, 1 in L1 over the whole image (3e-6 grey levels per value at
# 512x218), spends one of them on nothing; the second step, built on that
# invisible curvature pair, then overshot often enough that the frame kept
# its starting image (detail stage, bikes clip 256x109 -> 512x218, 15 warm
# frames of 3 iterations: in the first diagnosis 3 of them unchanged; style
# loss 2.89 times the first frame's, with this rule 2.24, flicker ratio 3.96
# vs 3.80: ``benchmarks/detail_warm.py``, variants ``no-fill`` and
# ``torch-step+no-fill``). The processing-size
# chain barely moves (24 frames at 256 px, 10 iterations, with WARM_MAX_STEP:
# sample flicker 0.814 vs 0.801, style loss -1%; bikes 3.55 vs 3.36, style
# loss -5%; ``benchmarks/warm_step.py``).
WARM_FIRST_STEP_MAX = 1.0
# ...and no pixel of a warm-started frame moves by more than this (0..255) in
# one L-BFGS step: after that small first step the curvature estimate can be
# far too large (a blurred warm start at 96x64: the second step took the loss
# from 1.7e8 to 2e15 and the frame kept its start). On the recorded frames
# above the bound never bound (the same results to the pixel).
WARM_MAX_STEP: float | None = 32.0


@dataclasses.dataclass
class CompileStats:
    """What ``--compile`` did, for run summaries (``engine.compile_stats``).

    Attributes:
        requested: ``config.compile``.
        active: the compiled network is (still) in use.
        compiles: graphs compiled (one per new input shape of the optimization loop).
        compile_seconds: wall time of those first calls (compilation plus one
            forward and backward pass each).
        first_frame_seconds: wall time of the engine's first frame (every
            engine records it; with --compile it carries the compiles).
        fallback: why the eager network took over, or None.
    """

    requested: bool = False
    active: bool = False
    compiles: int = 0
    compile_seconds: float = 0.0
    first_frame_seconds: float | None = None
    fallback: str | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class OptimizerEngine:
    """Optimizes frames towards the content of each frame and the style of the
    given images (the ``Engine`` protocol of ``engines/base.py``).

    Args:
        styles_u8: one or more ``(H, W, 3)`` uint8 RGB style images.
        config: the run's options (weights, layers, optimizer, device,
            precision...).
        device: a ``torch.device`` or name; None: ``config.device``.
        features: a ready VGG19 trunk to use instead of loading one (it must
            return every content and style layer); lets several engines
            share one network, and the speed benchmark pass an untruncated one.

    Attributes (besides the protocol's):
        precision: ``fp32``, ``bf16`` or ``fp16``, what the VGG passes run in.
        vgg: the float32 network (shared when given); under reduced precision
            it stays where it was and a frozen copy in that dtype runs instead.
        compile_stats: a ``CompileStats``.
    """

    name = "optimize"
    wants_warm_start = True
    can_tile = True  # config.tile: engines/tiling.py (engines.tiled_memory_estimate)

    def __init__(
        self,
        styles_u8: Sequence[np.ndarray],
        *,
        config: StyleConfig,
        device=None,
        features: VGG19Features | None = None,
    ):
        if not styles_u8:
            raise InputError("at least one style image is required")
        blend = config.style_weights or tuple(1.0 for _ in styles_u8)
        if len(blend) != len(styles_u8):
            raise InputError(f"got {len(styles_u8)} style images but {len(blend)} style weights")
        if sum(blend) <= 0 or min(blend) < 0:
            raise InputError(f"style weights must be >= 0 with a positive sum, got {blend}")
        self.config = config
        self.device = select_device(config.device) if device is None else torch.device(device)
        self.dtype = choose_precision(requested_precision(config), self.device)
        self.precision = precision_name(self.dtype)
        self.min_iters = MIN_USEFUL_ITERS.get(config.optimizer, 1)
        # None keeps torch's default, one thread per core. Measured on 2 cores
        # (256x144): 2 threads 0.30 s per iteration, 1 thread 0.55; but beside
        # another busy thread 2 threads take 2.44 s and 1 thread 0.57. The
        # file pipeline's flow thread is busy for a few hundredths of a second
        # per frame, so all cores pays there; live mode, whose capture and flow
        # run all the time, asks for one core less (live.default_num_threads).
        if config.num_threads and self.device.type == "cpu":
            torch.set_num_threads(config.num_threads)
        self._serving: tuple[int, int] | None = None
        self.styles_u8 = list(styles_u8)
        self.style_blend = [w / sum(blend) for w in blend]
        layers = tuple(dict.fromkeys(config.content_layers + config.style_layers))
        if features is None:
            features = VGG19Features(layers, weights=config.weights)
        elif missing := [name for name in layers if name not in features.layers]:
            raise InputError(f"the given VGG19 network does not return the layer(s) {missing}")
        with self._memory_guard("loading the VGG19 network", None):
            if self.dtype == torch.float32:
                self.vgg = features.to(self.device)
                net = self.vgg
            else:
                # The float32 network stays where it is (the host, normally):
                # only the frozen copy occupies the device.
                self.vgg = features
                net = features.cast_copy(self.dtype, device=self.device)
            if channels_last(self.device, self.dtype):
                net = net.to(memory_format=torch.channels_last)
            if self.device.type == "cuda":
                # Fixed shapes (one processing size per run): let cuDNN time its
                # convolution algorithms once per shape and keep the fastest.
                torch.backends.cudnn.benchmark = True
        self._net = net
        self._scaler = LossScaler() if self.dtype == torch.float16 else None
        self.compile_stats = CompileStats(requested=bool(config.compile))
        self._compiled: Callable | None = None
        self._compiled_keys: set[tuple] = set()
        if config.compile:
            try:
                # dynamic=False: one static graph per processing size; cuDNN
                # picks its kernels per shape anyway.
                self._compiled = torch.compile(net, dynamic=False)
                self.compile_stats.active = True
            except Exception as err:
                if is_out_of_memory(err):
                    raise self._out_of_memory(err, "compiling the network (torch.compile)", None) from err
                self._give_up_compile(err)
        self._style_grams: dict[tuple[int, int], dict[str, torch.Tensor]] = {}

    # -- tensors ------------------------------------------------------------

    def _upload(self, array: np.ndarray) -> torch.Tensor:
        """A host array on the device, as it is (dtype and layout). On CUDA
        through pinned memory, asynchronously: the copy overlaps the host's
        next steps; the caching host allocator keeps the pinned buffer alive
        until the copy has finished."""
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def to_tensor(self, image: np.ndarray) -> torch.Tensor:
        """``(H, W, 3)`` uint8 or float in [0, 1] -> ``(1, 3, H, W)`` float32 on the device."""
        tensor = self._upload(image)  # uint8 travels as uint8: a quarter of the bytes
        tensor = tensor.float() / 255.0 if image.dtype == np.uint8 else tensor.float()
        # Contiguous NCHW: L-BFGS flattens gradients; channels_last is applied
        # inside features() instead.
        return tensor.permute(2, 0, 1).unsqueeze(0).contiguous()

    @staticmethod
    def to_u8(image: torch.Tensor) -> np.ndarray:
        """``(1, 3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 on the host."""
        array = image.detach()[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
        return np.ascontiguousarray(array)

    def features(self, image: torch.Tensor, *, compiled: bool = False) -> dict[str, torch.Tensor]:
        """VGG activations of ``image`` float32 ``(B, 3, H, W)``, in the
        engine's precision (the losses compute in float32 from them).
        ``compiled``: use the compiled network, if ``--compile`` and it works
        (the optimization loop asks for it)."""
        if channels_last(self.device, self.dtype):
            image = image.contiguous(memory_format=torch.channels_last)
        if compiled and self._compiled is not None:
            return self._run_compiled(image)
        return self._net(image)

    def _run_compiled(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The compiled network. torch.compile compiles lazily, at the first
        call of each new input shape, and the backward graph at the first
        backward, which would come inside the optimizer's step, beyond any
        fallback. So each new (shape, strides, dtype, grad) is tried once here,
        forward and backward on a detached copy, and any failure but running
        out of memory switches to the eager network for good."""
        wants_grad = torch.is_grad_enabled() and image.requires_grad
        key = (tuple(image.shape), image.stride(), image.dtype, wants_grad)
        size = (image.shape[-1], image.shape[-2])
        compiled = self._compiled
        assert compiled is not None  # features() calls this only while --compile is active
        try:
            if key not in self._compiled_keys:
                started = time.perf_counter()
                with self._memory_guard("compiling the network (torch.compile)", size):
                    probe = image.detach().requires_grad_(wants_grad)
                    feats = compiled(probe)
                    if wants_grad:
                        sum(f.float().sum() for f in feats.values()).backward()
                    del feats, probe
                self._compiled_keys.add(key)
                self.compile_stats.compiles += 1
                self.compile_stats.compile_seconds += time.perf_counter() - started
            return compiled(image)
        except VidstyleError:
            raise  # out of memory, reported by the guard: never a compile problem
        except Exception as err:
            if is_out_of_memory(err):
                raise  # the stage's guard reports it
            self._give_up_compile(err)
            return self._net(image)

    def _give_up_compile(self, err: Exception) -> None:
        """Run eagerly from now on; say why, once."""
        text = str(err).strip()
        reason = f"{type(err).__name__}: {text.splitlines()[0][:200]}" if text else type(err).__name__
        warnings.warn(
            f"torch.compile failed ({reason}); running the VGG network without it", RuntimeWarning, stacklevel=3
        )
        self._compiled = None
        self.compile_stats.active = False
        self.compile_stats.fallback = reason

    # -- running out of memory ----------------------------------------------

    @contextlib.contextmanager
    def _memory_guard(
        self, stage: str, size: tuple[int, int] | None, frame_size: tuple[int, int] | None = None
    ) -> Iterator[None]:
        """Turn a failed allocation inside the block into ``OutOfMemoryError``."""
        try:
            yield
        except VidstyleError:
            raise
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            raise self._out_of_memory(err, stage, size, frame_size) from err

    def _out_of_memory(
        self, err: BaseException, stage: str, size: tuple[int, int] | None, frame_size: tuple[int, int] | None = None
    ) -> OutOfMemoryError:
        """The error a user sees (``out_of_memory.describe``)."""
        return describe(
            err,
            stage=stage,
            size=size,
            frame_size=frame_size or self._serving or size,
            device=self.device,
            precision=self.precision,
            dtype=self.dtype,
            compiling=bool(self.config.compile),
            required_bytes=self.required_bytes,
        )

    def style_grams(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Blended target Gram matrices for frames of ``size`` = (width, height);
        computed once per size. Each style image is scaled so its longer side is
        ``style_scale`` times the frame's longer side; with ``config.tile``, a
        style image larger than a tile is measured tile by tile (the same
        Grams, one tile's activations at a time)."""
        if size not in self._style_grams:
            longer = max(16, round(self.config.style_scale * max(size)))
            grams: dict[str, torch.Tensor] = {}
            with self._memory_guard("computing the style targets", size), torch.no_grad():
                for style_u8, weight in zip(self.styles_u8, self.style_blend):
                    style = self.to_tensor(resize_longer_side(style_u8, longer))
                    for layer, gram in self._grams(style).items():
                        g = gram * weight
                        grams[layer] = grams[layer] + g if layer in grams else g
                    del style
            self._style_grams[size] = grams
        return self._style_grams[size]

    def _grams(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gram matrices of the style layers of ``image`` ``(1, 3, H, W)``
        (call without gradients); window by window when it is larger than a
        ``config.tile`` tile."""
        cfg = self.config
        if cfg.tile is not None and needs_tiles((image.shape[-1], image.shape[-2]), cfg.tile):
            return tiled_grams(self.features, image, layers=cfg.style_layers, tile=cfg.tile, halo=cfg.tile_halo)
        feats = self.features(image)
        return {layer: gram_matrix(feats[layer]) for layer in cfg.style_layers}

    def _tiled_objective(self, content: torch.Tensor, style_targets: dict[str, torch.Tensor]) -> TiledObjective | None:
        """The content and style losses of frames like ``content`` ``(1, 3, H,
        W)`` evaluated in tiles (``engines/tiling.py``), with its content
        targets computed tile by tile; None when the frame is optimized whole
        (no ``config.tile``, or the frame fits in one tile)."""
        cfg = self.config
        size = (content.shape[-1], content.shape[-2])
        if cfg.tile is None or not needs_tiles(size, cfg.tile):
            return None
        targets = tiled_content_targets(
            self.features, content, layers=cfg.content_layers, tile=cfg.tile, halo=cfg.tile_halo
        )
        return TiledObjective(
            self.features,
            size=size,
            style_targets=style_targets,
            content_targets=targets,
            style_weight=cfg.style_weight,
            content_weight=cfg.content_weight,
            tile=cfg.tile,
            halo=cfg.tile_halo,
        )

    # -- optimization -------------------------------------------------------

    def max_iters(self, *, cold: bool, size: tuple[int, int] | None = None) -> int:
        """``iters_later`` for a warm start; for a cold start ``iters_first``,
        or with the frame's ``size`` its share per pyramid level for every
        level (``cold_start_iters``)."""
        if not cold:
            return self.config.iters_later
        if size is None or not self.config.coarse_to_fine:
            return self.config.iters_first
        return cold_start_iters(size, self.config.iters_first)

    def required_bytes(self, size: tuple[int, int]) -> int:
        """Peak memory of one frame at ``size`` (see ``optimize_memory``)."""
        return self.estimate_required_bytes(size, config=self.config, device=self.device)

    @staticmethod
    def estimate_required_bytes(size: tuple[int, int], *, config: StyleConfig, device) -> int:
        """``required_bytes`` before an engine is built (``engines.memory_estimate``)."""
        from vidstyle.engines.optimize_memory import required_bytes

        return required_bytes(size, config=config, device=select_device(config.device) if device is None else device)

    def stylize(
        self,
        content_u8: np.ndarray,
        warm: WarmStart | None = None,
        *,
        max_iters: int | None = None,
        on_iteration: OnIteration | None = None,
    ) -> FrameResult:
        """Optimize one frame (see ``Engine.stylize``): a cold start from the
        content (or noise), coarse-to-fine, or a warm start from ``warm.init``
        held by the temporal loss towards ``warm.temporal``.

        Raises:
            OutOfMemoryError: the device ran out of memory (any stage).
        """
        cold = warm is None
        size = (content_u8.shape[1], content_u8.shape[0])
        cap = self.max_iters(cold=cold, size=size) if max_iters is None else max_iters
        self._serving = size  # the size error messages name
        try:
            if cold and self.config.coarse_to_fine:
                result = self._cold_start(content_u8, max_iters=cap, on_iteration=on_iteration)
            else:
                result = self._optimize(
                    content_u8,
                    init=None if warm is None else warm.init,
                    temporal=None if warm is None else warm.temporal,
                    max_iters=cap,
                    min_iters=0 if cold else self.config.min_iters_later,
                    on_iteration=on_iteration,
                    warm=not cold,
                )
        finally:
            self._serving = None
        if self.compile_stats.first_frame_seconds is None:
            self.compile_stats.first_frame_seconds = result.seconds
        return result

    def _cold_start(self, content_u8: np.ndarray, *, max_iters: int, on_iteration: OnIteration | None) -> FrameResult:
        """A cold start solved over the scales of ``pyramid_sizes``, smallest
        first, each level starting from the previous one's result upsampled
        (as multi-scale image tools do): the large structures settle where an
        iteration is cheap, the full size only adds detail, and the frame ends
        far closer to its optimum than one level could bring it with the same
        budget, so the warm-started frames after it do not keep converging.

        Then ``COLD_RESTART_ITERS`` more iterations at the full size with a
        fresh L-BFGS, from the clamped result: the iterates of a long L-BFGS
        run drift out of 0..255 (2% of the values at 256x144, up to -57 and
        326), the clamp then costs the style loss a third, and a fresh start
        from the clamped image recovers it at once (measured on the sample's
        first frame at 256x144: style loss 12,755 after the 200 iterations,
        8,430 after 10 more restarted, 8,400 on the following warm-started
        frames; 10 more iterations straight on instead: no better). Without
        it the following frames, each a fresh L-BFGS, keep converging for a
        second: the cold start's boil. With the range penalty
        (``config.range_weight``, on by default) the pixels stay in range and
        the clamp costs little; the restart then only adds 10 iterations.

        Budget rule: every level but the last may use up to
        ``max_iters // levels`` iterations and stops at the tolerance; the
        last level gets what the others and the restart leave. ``max_iters``
        caps everything together; ``num_iters`` of the result counts it all.
        """
        size = (content_u8.shape[1], content_u8.shape[0])
        restart = COLD_RESTART_ITERS if max_iters >= 2 * COLD_RESTART_ITERS else 0
        levels = pyramid_sizes(size, max_iters=max_iters - restart)
        started = time.perf_counter()
        used = 0
        init: np.ndarray | None = None
        result: FrameResult | None = None
        for number, level in enumerate(levels, start=1):
            last = number == len(levels)
            budget = max(1, max_iters - restart - used) if last else (max_iters - restart) // len(levels)
            result = self._optimize(
                content_u8 if last else resize(content_u8, level),
                init=init,
                temporal=None,
                max_iters=budget,
                on_iteration=on_iteration,
                frame_size=None if last else size,
            )
            used += result.num_iters
            init = result.image_u8
        assert result is not None  # pyramid_sizes returns at least the size itself
        converged = result.converged  # the restart runs its iterations whatever the tolerance says
        if restart:
            result = self._optimize(
                content_u8, init=init, temporal=None, max_iters=restart, min_iters=restart, on_iteration=on_iteration
            )
            used += result.num_iters
        return dataclasses.replace(result, num_iters=used, converged=converged, seconds=time.perf_counter() - started)

    def _optimize(
        self,
        content_u8: np.ndarray,
        *,
        init: np.ndarray | None,
        temporal: TemporalTarget | None,
        max_iters: int,
        min_iters: int = 0,
        on_iteration: Callable[[IterationDone], None] | None = None,
        frame_size: tuple[int, int] | None = None,
        warm: bool = False,
    ) -> FrameResult:
        """Optimize one frame.

        Args:
            content_u8: ``(H, W, 3)`` uint8 RGB content frame.
            init: starting image ``(H, W, 3)`` (uint8, or float in [0, 1]);
                None starts from the content (or noise with ``init="noise"``).
            temporal: warped previous outputs and weights for the temporal loss.
            max_iters: iteration cap; ``min_iters``: no convergence stop before.
            frame_size: set on the coarse level: the size of the frame it serves
                (error messages name it; the coarse level runs eagerly).
            warm: a warm-started frame (L-BFGS's first step: ``first_step_max``).
        """
        cfg = self.config
        started = time.perf_counter()
        size = (content_u8.shape[1], content_u8.shape[0])
        coarse_level = frame_size is not None
        frame_size = frame_size or size
        style_targets = self.style_grams(size)
        with self._memory_guard("computing the content features", size, frame_size):
            content = self.to_tensor(content_u8)
            objective = self._tiled_objective(content, style_targets)
            content_targets: dict[str, torch.Tensor] = {}
            with torch.no_grad():
                # Keep only the content layers: the other activations of this pass
                # (relu1_1 alone is 64 floats per pixel) would stay alive for the
                # whole optimization.
                if objective is None:
                    content_targets = {k: v for k, v in self.features(content).items() if k in cfg.content_layers}
            # The optimized variable lives on the 0..255 scale, as in the references:
            # on [0, 1] float32 L-BFGS's curvature estimates break down (measured:
            # the loss diverges at the third iteration).
            pixels = (self._initial_image(content_u8, init) * PIXEL_SCALE).requires_grad_(True)
            warped: torch.Tensor | None = None
            weights: torch.Tensor | None = None
            if temporal is not None and cfg.temporal_weight > 0:
                warped = self._upload(temporal.warped).permute(0, 3, 1, 2).float()
                weights = self._upload(temporal.weights).unsqueeze(1).float()
        # The graph that repeats (see the module docstring); tiles have several
        # shapes and run eagerly.
        use_compiled = not coarse_level and objective is None

        def pixel_losses(x: torch.Tensor) -> dict[str, torch.Tensor]:
            """The terms computed on the pixels, without VGG."""
            terms = {"tv": cfg.tv_weight * total_variation(x)}
            if cfg.range_weight > 0:
                terms["range"] = cfg.range_weight * range_penalty(x)
            if warped is not None and weights is not None:  # set together
                terms["temporal"] = cfg.temporal_weight * temporal_loss(x, warped, weights)
            return terms

        def weighted_losses(x: torch.Tensor, *, compiled: bool = False) -> dict[str, torch.Tensor]:
            if objective is not None:  # without gradients: evaluate() differentiates tiles
                return {**objective.losses(x), **pixel_losses(x)}
            feats = self.features(x, compiled=compiled)
            return {
                "content": cfg.content_weight * content_loss(feats, content_targets),
                "style": cfg.style_weight * style_loss(feats, style_targets),
                **pixel_losses(x),
            }

        def evaluate(scale: float | None) -> torch.Tensor:
            """The total loss; sets ``pixels.grad`` to its gradient (times
            ``scale``, the fp16 loss scale, when given)."""
            pixels.grad = None
            if objective is None:
                loss = sum_terms(weighted_losses(pixels / PIXEL_SCALE, compiled=use_compiled).values())
                (loss if scale is None else loss * scale).backward()
                return loss
            # Tiles: the per-pixel terms on the whole image, then content and
            # style window by window, each adding its share of the gradient.
            pixels.grad = torch.zeros_like(pixels)
            per_pixel = pixel_losses(pixels / PIXEL_SCALE)
            total = sum_terms(per_pixel.values())
            if total.requires_grad:
                (total if scale is None else total * scale).backward()
            terms = objective.evaluate(pixels, pixels.grad, scale=1.0 if scale is None else scale)
            return sum_terms([*terms.values(), *(term.detach() for term in per_pixel.values())])

        optimizer = self._make_optimizer(pixels, warm=warm)
        scaler = self._scaler
        history: list[float] = []

        def closure() -> torch.Tensor:
            while True:
                # evaluate() sets pixels.grad = None first: what
                # optimizer.zero_grad(set_to_none=True) does for its one parameter,
                # without keeping the optimizer (deleted below) in scope.
                if scaler is None:
                    return evaluate(None)
                # fp16: scale the loss so small gradients inside the network
                # survive; a non-finite gradient means the scale overflowed it:
                # evaluate again at half the scale rather than feed it to L-BFGS.
                loss = evaluate(scaler.scale)
                grad = pixels.grad
                assert grad is not None  # pixels is a leaf the loss depends on (through TV at least)
                if bool(torch.isfinite(grad).all()):
                    grad.div_(scaler.scale)
                    return loss
                if not scaler.backoff():
                    raise VidstyleError(
                        f"float16 overflowed in the VGG network at {size[0]}x{size[1]} even without loss scaling "
                        "(activations beyond 65504); use --precision fp32 or bf16"
                    )

        converged = False
        best_loss = float("inf")
        best_pixels = pixels.detach().clone()
        window_from = 0  # the stopping rule looks at the history from here (after a restart)
        with self._memory_guard("optimizing", size, frame_size):
            for iteration in range(1, max_iters + 1):
                evaluated = pixels.detach().clone()  # step() returns the loss at the pixels it starts from
                loss = optimizer.step(closure)
                # The one host read per iteration (the stopping rule and the
                # events need the loss): DeviceLBFGS keeps everything else on
                # the device, and so does Adam.
                history.append(float(loss.detach()))
                if on_iteration is not None:
                    on_iteration(IterationDone(iteration=iteration, loss=history[-1], budget=max_iters, size=size))
                if history[-1] <= best_loss:
                    best_loss, best_pixels = history[-1], evaluated
                elif diverged(history[-1], best_loss):
                    with torch.no_grad():
                        pixels.copy_(best_pixels)
                    optimizer = self._make_optimizer(pixels, warm=warm)
                    window_from = len(history)
                    continue
                since = len(history) - window_from
                if iteration >= min_iters and since > cfg.tolerance_window and self._has_converged(history):
                    converged = True
                    break
            del optimizer
        with self._memory_guard("computing the final losses", size, frame_size), torch.no_grad():
            image = pixels.clamp(0, PIXEL_SCALE) / PIXEL_SCALE
            final = {k: float(v) for k, v in weighted_losses(image).items()}
            if diverged(sum(final.values()), best_loss):  # the last step overshot: keep the best iterate
                image = best_pixels.clamp(0, PIXEL_SCALE) / PIXEL_SCALE
                final = {k: float(v) for k, v in weighted_losses(image).items()}
            image_u8 = self.to_u8(image)
        final["total"] = sum(final.values())
        return FrameResult(
            image_u8=image_u8,
            num_iters=len(history),
            converged=converged,
            losses=final,
            seconds=time.perf_counter() - started,
        )

    def measure(self, image_u8: np.ndarray, content_u8: np.ndarray) -> dict[str, float]:
        """Unweighted style and content losses of a finished frame, for
        benchmarks and quality checks (same scale for every configuration;
        computed in the engine's precision)."""
        size = (content_u8.shape[1], content_u8.shape[0])
        grams = self.style_grams(size)
        with self._memory_guard("measuring losses", size), torch.no_grad():
            feats = self.features(self.to_tensor(image_u8))
            content_feats = self.features(self.to_tensor(content_u8))
            targets = {k: content_feats[k] for k in self.config.content_layers}
            return {
                "style": float(style_loss(feats, grams)),
                "content": float(content_loss(feats, targets)),
            }

    def _initial_image(self, content_u8: np.ndarray, init: np.ndarray | None) -> torch.Tensor:
        if init is not None:
            if init.shape[:2] != content_u8.shape[:2]:
                init = resize(
                    init if init.dtype == np.uint8 else (init * 255).round().astype(np.uint8),
                    (content_u8.shape[1], content_u8.shape[0]),
                )
            return self.to_tensor(init).clone()
        if self.config.init == "noise":
            rng = np.random.default_rng(self.config.seed)
            noise = rng.uniform(0.0, 1.0, size=content_u8.shape).astype(np.float32)
            return self.to_tensor(noise)
        return self.to_tensor(content_u8).clone()

    def _make_optimizer(self, pixels: torch.Tensor, *, warm: bool = False):
        if self.config.optimizer == "adam":
            return torch.optim.Adam([pixels], lr=self.config.learning_rate)
        # One L-BFGS iteration per step() so the stopping rule sees every loss;
        # the curvature history persists across steps. Step size 1 and no line
        # search, as in neural-style.
        if LBFGS_ON_DEVICE:
            return DeviceLBFGS(
                pixels,
                lr=1.0,
                history_size=LBFGS_HISTORY_SIZE,
                first_step_max=first_step_max(self.precision, self.device, warm=warm),
                max_step=WARM_MAX_STEP if warm else None,
            )
        return torch.optim.LBFGS(
            [pixels],
            lr=1.0,
            max_iter=1,
            history_size=LBFGS_HISTORY_SIZE,
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )

    def _has_converged(self, history: list[float]) -> bool:
        """Relative loss change over the last ``tolerance_window`` iterations
        below ``tolerance`` (the references: 1e-4 over 50 iterations)."""
        window = self.config.tolerance_window
        before, now = history[-window - 1], history[-1]
        return abs(before - now) <= self.config.tolerance * max(abs(now), 1e-12)


def first_step_max(precision: str, device: torch.device, *, warm: bool = False) -> float | None:
    """L-BFGS's first step rule (``FIRST_STEP_MAX``; None: torch's); a
    ``warm``-started frame always gets ``WARM_FIRST_STEP_MAX``.

    float32 on CUDA gets the reduced-precision rule too while cuDNN may run
    float32 convolutions in TF32 (PyTorch's default, Ampere and newer): TF32's
    10-bit mantissa cannot see torch's first step either. Measured on an H200
    (``benchmarks/gpu_smoke.py``, 30 iterations of a cold start at 256x144):
    fp32 with torch's rule overshot at 10 of them and ended at its first loss
    (before the restart guard: 3.8e11, from 1.0e8), while bf16 with this rule
    reached 5.2e6; a run two sessions earlier had passed, cuDNN's algorithm
    choice (``cudnn.benchmark``) deciding whether TF32 was used.
    """
    if warm:
        return WARM_FIRST_STEP_MAX
    if precision == "fp32" and device.type == "cuda" and torch.backends.cudnn.allow_tf32:
        return FIRST_STEP_MAX["bf16"]
    return FIRST_STEP_MAX.get(precision)


def diverged(loss: float, best_loss: float) -> bool:
    """Whether an iteration's loss says L-BFGS overshot (``DIVERGED_FACTOR``)."""
    return not math.isfinite(loss) or loss > DIVERGED_FACTOR * best_loss


def cold_start_iters(size: tuple[int, int], iters_first: int) -> int:
    """The iteration cap of a cold start at ``size`` = (width, height):
    ``iters_first`` covers the pyramid of a 256x144 frame (``REFERENCE_SIZE``,
    where the defaults were tuned: 5 levels); every level a larger frame has
    beyond those adds the same share, ``iters_first / 5``. With the default
    400: 480 at 480x270 (6 levels), 720 at 1280x720 (9), 800 at 1920x1080,
    960 at 3840x2160; smaller frames keep 400.

    Why: each level of the pyramid needs about the same number of iterations
    to settle its scale, and a fixed total spread over more levels left the
    large ones short. Measured at 480x270 (sample frame 0, starry_night, fp32):
    with a cap of 200 the frame's style loss fell another 18% over 60 more
    iterations (the boil of the frames after a cold start), with this rule's
    240 11%, as at 256x144 with 200 (``benchmarks/cold_start.py``).

    Why 400: the warm frames after a cold start keep converging until they
    reach what a long warm chain holds; a cold start that stops short of it
    boils. On the sample at 256x144 (``benchmarks/boil.py``, pairs 20-35):
    with 200 the chain from frame 0 read 0.748 and a cold start at frame 20
    1.055, its style loss 23% above the chain's; with 400, 0.579 and 0.584,
    3% above (and the whole chain steadier). The cold start costs 1.8x as
    long (44 s -> 78 s on 2 CPU threads). A level has half the pixels of the
    one above it, so a pyramid costs about twice its last level whatever its
    depth: about ``2 * iters_first / 5 + COLD_RESTART_ITERS`` full-size
    iterations at every size (170 with the default).
    """
    reference = len(pyramid_sizes(REFERENCE_SIZE, max_iters=2**31))
    levels = len(pyramid_sizes(size, max_iters=2**31))
    return max(iters_first, round(iters_first * levels / reference))


def pyramid_sizes(size: tuple[int, int], *, max_iters: int) -> list[tuple[int, int]]:
    """The levels of a cold start for frames of ``size`` = (width, height),
    smallest first, ``size`` last: sides divided by ``PYRAMID_STEP`` per level
    while the longer side stays at least ``PYRAMID_MIN_SIDE`` and every level
    can have ``MIN_LEVEL_ITERS`` of the ``max_iters``. 256x144 -> 64x36,
    91x51, 128x72, 181x102, 256x144; 1280x720 -> 9 levels from 80x45."""
    width, height = size
    levels = [size]
    scale = 1.0
    while True:
        scale /= PYRAMID_STEP
        level = (round(width * scale), round(height * scale))
        if max(level) < PYRAMID_MIN_SIDE or (len(levels) + 1) * MIN_LEVEL_ITERS > max_iters:
            break
        levels.append(level)
    return levels[::-1]
