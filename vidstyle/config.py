"""StyleConfig: the one place where defaults live.

The Python API takes these fields as keyword-only options and the CLI derives
its flags from them. Weights follow the scale of the reference implementations
(jcjohnson/neural-style, manuelruder/artistic-videos): VGG sees 0..255 pixels,
content and style losses are mean squared errors, Gram matrices are divided by
C*H*W, and the temporal loss is a masked MSE over 0..255 pixels.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from .errors import InputError

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
FLOW_METHODS = ("dis-medium", "dis-fast", "dis-ultrafast", "farneback")
PRESETS = ("fast", "balanced", "quality")


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Every option of a stylization run. Units are in the names."""

    # -- losses (Gatys et al. 2016; Ruder et al. 2016) --
    content_weight: float = 5.0
    style_weight: float = 100.0
    tv_weight: float = 1e-3
    temporal_weight: float = 1000.0
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_weights: tuple[float, ...] | None = None  # one per style image; default equal
    style_scale: float = 1.0  # style image longer side = style_scale * processing longer side
    preserve_colors: bool = False

    # -- optimization --
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    learning_rate: float = 0.02  # Adam only; L-BFGS uses step 1 like the references
    iters_first: int = 300  # cap for the first frame (and after a scene cut)
    iters_later: int = 60  # cap for warm-started frames
    tolerance: float = 1e-3  # stop when the loss changes less than this, relative...
    tolerance_window: int = 10  # ...over this many iterations
    min_iters_later: int = 10
    init: Literal["content", "noise"] = "content"
    seed: int = 0

    # -- size --
    max_side: int | None = 256  # processing size: longer side in pixels
    size: tuple[int, int] | None = None  # processing size (width, height); overrides max_side
    keep_size: bool = False  # bring stylized frames back to the source size

    # -- temporal consistency (Ruder et al. 2016) --
    temporal: bool = True
    flow: str = "dis-medium"
    long_term: tuple[int, ...] = (1,)  # previous frames the temporal loss looks at
    passes: int = 1  # >1: multi-pass (alternating forward/backward sweeps)
    scene_cut_threshold: float = 0.5  # cold start when fewer than this fraction of pixels are reliable

    # -- hardware --
    device: str = "auto"
    weights: str = "caffe"  # caffe | torchvision | path to a state dict
    half: bool | None = None  # mixed precision for VGG passes; None: on for CUDA
    num_threads: int | None = None  # torch CPU threads; None: all cores

    def __post_init__(self) -> None:
        positive = {
            "iters_first": self.iters_first,
            "iters_later": self.iters_later,
            "tolerance_window": self.tolerance_window,
            "passes": self.passes,
            "style_scale": self.style_scale,
        }
        for name, value in positive.items():
            if value <= 0:
                raise InputError(f"{name.replace('_', '-')} must be positive, got {value}")
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight", "tolerance"):
            if getattr(self, name) < 0:
                raise InputError(f"{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.max_side is not None and self.max_side < 16:
            raise InputError(f"max-side must be at least 16 pixels, got {self.max_side}")
        if self.flow not in FLOW_METHODS:
            raise InputError(f"unknown flow method {self.flow!r}; choose one of {', '.join(FLOW_METHODS)}")
        if self.optimizer not in ("lbfgs", "adam"):
            raise InputError(f"unknown optimizer {self.optimizer!r}; choose lbfgs or adam")
        if self.init not in ("content", "noise"):
            raise InputError(f"unknown init {self.init!r}; choose content or noise")
        if not self.long_term or any(k < 1 for k in self.long_term):
            raise InputError(f"long-term offsets must be positive frame counts, got {self.long_term}")

    def replace(self, **changes) -> "StyleConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def make_config(**options) -> StyleConfig:
    """Build a StyleConfig from keyword options, with one clear error for an unknown name."""
    known = {f.name for f in dataclasses.fields(StyleConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown option(s): {', '.join(unknown)}")
    return StyleConfig(**options)
