"""StyleConfig: the one place where defaults live.

The Python API takes these fields as keyword-only options and the CLI derives
its flags from them. Weights follow the scale of the reference implementations
(jcjohnson/neural-style, manuelruder/artistic-videos): VGG sees 0..255 pixels,
content and style losses are mean squared errors, Gram matrices are divided by
C*H*W, and the temporal loss is a masked MSE over 0..255 pixels.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Literal

from vidstyle.errors import InputError

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
    temporal_weight: float = 10000.0  # tuned on the sample clip at 256x144: flicker ratio 0.98 (3000: 1.10)
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_weights: tuple[float, ...] | None = None  # one per style image; default equal
    style_scale: float = 1.0  # style image longer side = style_scale * processing longer side
    preserve_colors: bool = False

    # -- optimization --
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    learning_rate: float = 5.0  # Adam only, on the 0..255 pixel scale; L-BFGS uses step 1 like the references
    iters_first: int = 200  # cap for the first frame (and after a scene cut), coarse level included
    iters_later: int = 10  # cap for warm-started frames: they start close to their optimum
    tolerance: float = 3e-3  # stop when the loss changes less than this, relative...
    tolerance_window: int = 5  # ...over this many iterations
    min_iters_later: int = 5
    init: Literal["content", "noise"] = "content"
    coarse_to_fine: bool = True  # cold starts: optimize at half size first
    seed: int = 0

    # -- size --
    max_side: int | None = 256  # processing size: longer side in pixels
    size: tuple[int, int] | None = None  # processing size (width, height); overrides max_side
    keep_size: bool = False  # bring stylized frames back to the source size

    # -- temporal consistency (Ruder et al. 2016) --
    temporal: bool = True  # flow-warped warm start + temporal loss
    warm_start: bool = True  # without `temporal`: start from the previous output, unwarped
    flow: str = "dis-medium"
    long_term: tuple[int, ...] = (1,)  # previous frames the temporal loss looks at
    passes: int = 1  # >1: multi-pass (alternating forward/backward sweeps)
    scene_cut_threshold: float = 0.5  # cold start when fewer than this fraction of pixels are reliable

    # -- hardware --
    device: str = "auto"
    weights: str = "caffe"  # caffe | torchvision | path to a state dict
    half: bool | None = None  # mixed precision for VGG passes; None: on for CUDA
    num_threads: int | None = None  # torch CPU threads; None: all cores
    compile: bool = False  # torch.compile the VGG module (pays off on long GPU runs)

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


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """What is read from the source and how the result is written."""

    start_s: float | None = None  # first second of the source to stylize
    end_s: float | None = None  # stop before this second of the source
    codec: str | None = None  # None: chosen from the output extension
    crf: int | None = None
    bitrate: int | None = None  # bits per second
    overwrite: bool = False  # replace an existing output (-y)
    resume: bool = True  # continue an interrupted run from its work directory
    keep_work: bool = False  # keep the work directory after success
    fps: Fraction | None = None  # resample to this rate (30, 29.97, "30000/1001"); None: the source's timing
    compare: bool = False  # write input | stylized side by side

    def __post_init__(self) -> None:
        if self.start_s is not None and self.start_s < 0:
            raise InputError(f"start must be >= 0 seconds, got {self.start_s}")
        if self.fps is not None:
            from vidstyle.media.framerate import parse_rate

            object.__setattr__(self, "fps", parse_rate(str(self.fps)))  # frozen: normalize once
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise InputError(f"end ({self.end_s}s) must come after start ({self.start_s}s)")


def make_configs(**options) -> tuple[StyleConfig, ExportConfig]:
    """Split keyword options between StyleConfig and ExportConfig, with one
    clear error for an unknown name."""
    style_fields = {f.name for f in dataclasses.fields(StyleConfig)}
    export_fields = {f.name for f in dataclasses.fields(ExportConfig)}
    unknown = sorted(set(options) - style_fields - export_fields)
    if unknown:
        raise InputError(f"unknown option(s): {', '.join(unknown)}")
    style = StyleConfig(**{k: v for k, v in options.items() if k in style_fields})
    export = ExportConfig(**{k: v for k, v in options.items() if k in export_fields})
    return style, export


# Presets set how hard the optimizer works; explicit options override them.
# "balanced" is the plain StyleConfig defaults. Measured numbers: README.
PRESET_OPTIONS: dict[str, dict] = {
    "fast": {"iters_first": 100, "iters_later": 5, "min_iters_later": 3, "tolerance": 5e-3, "flow": "dis-fast"},
    "balanced": {},
    "quality": {
        "iters_first": 400,
        "iters_later": 30,
        "tolerance": 1e-3,
        "min_iters_later": 10,
        "long_term": (1, 2, 4),
    },
}


def preset_options(name: str) -> dict:
    """The StyleConfig overrides of a preset (a fresh dict)."""
    if name not in PRESET_OPTIONS:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dict(PRESET_OPTIONS[name])
