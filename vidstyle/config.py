"""StyleConfig and ExportConfig: the one place where defaults and valid ranges live.

The Python API takes these fields as keyword-only options and the CLI derives
its flags from them. Each field carries, in ``dataclasses.field(metadata=...)``:

- ``"check"``: a ``Check``, the values it accepts. ``__post_init__`` enforces
  it, so ``StyleConfig(tv_weight=float("nan"))`` raises InputError exactly
  like ``--tv-weight nan`` does.
- ``"flags"``: the ``Flag``\\ s that set it on the command line (names, help,
  metavar, text parser, group), read by ``vidstyle.cli.options``; or
- ``"via"``: the flag of another field that also sets this one (``--iters``
  sets ``iters_first`` and ``iters_later``); or
- ``"api_only"``: why the field has no flag (a tuning knob, a library-only
  choice). Every field has exactly one of the three; a test checks it.

Weights follow the scale of the reference implementations
(jcjohnson/neural-style, manuelruder/artistic-videos): VGG sees 0..255 pixels,
content and style losses are mean squared errors, Gram matrices are divided by
C*H*W, and the temporal loss is a masked MSE over 0..255 pixels.

Why this module is long: every option of the project is declared here once,
with its check and its flag, which is the point of the module; the checking
machinery is ``checks.py`` and the text parsers ``parsing.py``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from fractions import Fraction
from typing import Any, Literal

from vidstyle.checks import (
    CRF_ANY,
    Check,
    Flag,
    bool_check,
    check_bitrate,
    check_crf,
    field_label,
    int_check,
    real_check,
    setting,
    text_check,
    validate,
)
from vidstyle.errors import InputError
from vidstyle.parsing import (
    parse_bitrate,
    parse_float,
    parse_floats,
    parse_int,
    parse_ints,
    parse_pair,
    parse_rate,
    parse_size,
    parse_time,
)

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
FLOW_METHODS = ("dis-medium", "dis-fast", "dis-ultrafast", "farneback")
# interpolations of the warp that carries the previous output along the flow (motion.flow.INTERPOLATIONS)
CARRY_WARPS = ("cubic", "lanczos", "linear")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
MIN_SIDE = 16  # VGG19 pools four times before relu5_1
MAX_SIDE = 8192  # any side of a frame, processing or output (8K UHD is 7680x4320)
MAX_STYLE_SCALE = 4.0  # the style image's longer side, times the processing size's
MAX_THREADS = 256
MAX_BITRATE = 2_000_000_000  # bits/s: 2 Gbit/s, past any encoder's use
MAX_ITERS = 100_000  # per frame (the quality preset's first frame takes 800)
MAX_TRAIN_MINUTES = 7 * 24 * 60.0  # a week
MAX_TRAIN_STEPS = 10_000_000
MAX_LONG_TERM = 64  # frames back; each offset keeps one more output frame and flow in memory
MAX_PASSES = 100
MIN_TILE = 64  # smallest tile core (engines/tiling.py): smaller ones are mostly halo

# ----------------------------------------------------------------------------- configs

TUNING = "tuning knob of the optimizer; set it from Python"


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Every option of a stylization run. Units are in the names."""

    # -- losses (Gatys et al. 2016; Ruder et al. 2016) --
    content_weight: float = setting(
        5.0, real_check(0), flags=Flag(("--content-weight",), "content loss weight", metavar="W", parse=parse_float)
    )
    style_weight: float = setting(
        100.0, real_check(0), flags=Flag(("--style-weight",), "style loss weight", metavar="W", parse=parse_float)
    )
    # per pixel, scaled to a 256x144 frame (losses.TV_REFERENCE_PIXELS): the same smoothing at every size
    tv_weight: float = setting(
        1e-3, real_check(0), flags=Flag(("--tv-weight",), "total variation weight", metavar="W", parse=parse_float)
    )
    # tuned on the sample clip at 256x144: flicker ratio 0.98 (3000: 1.10)
    temporal_weight: float = setting(
        10000.0,
        real_check(0),
        flags=Flag(("--temporal-weight",), "temporal loss weight", metavar="W", parse=parse_float),
    )
    content_layers: tuple[str, ...] = setting(CONTENT_LAYERS, text_check(length=0), api_only="VGG19 layer choice")
    style_layers: tuple[str, ...] = setting(STYLE_LAYERS, text_check(length=0), api_only="VGG19 layer choice")
    # one per style image; default equal
    style_weights: tuple[float, ...] | None = setting(
        None,
        real_check(0, optional=True, length=0),
        flags=Flag(
            ("--style-weights",), "blend weights of several --style images", metavar="W1,W2", parse=parse_floats
        ),
    )
    # style image longer side = style_scale * processing longer side
    style_scale: float = setting(
        1.0,
        real_check(0, MAX_STYLE_SCALE, above=True),
        flags=Flag(("--style-scale",), "style image size relative to the frame", metavar="S", parse=parse_float),
    )
    # None: off, unless the look (--model) was trained with it (pipeline.video.with_look_colors)
    preserve_colors: bool | None = setting(
        None,
        bool_check(optional=True),
        flags=(
            Flag(
                ("--preserve-colors",),
                "keep the video's colours (luminance-only transfer; default: off, or as the --model look was trained)",
                switch=True,
                exclusive="colors",
            ),
            Flag(
                ("--no-preserve-colors",),
                "the style's colours even with a look trained with --preserve-colors",
                switch=False,
                exclusive="colors",
                dest="no_preserve_colors",
            ),
        ),
    )

    # -- optimization --
    optimizer: Literal["lbfgs", "adam"] = setting(
        "lbfgs", text_check(*OPTIMIZERS), flags=Flag(("--optimizer",), "optimizer", parse=str)
    )
    # Adam only, on the 0..255 pixel scale; L-BFGS uses step 1 like the references
    learning_rate: float = setting(5.0, real_check(0, above=True), api_only=TUNING)
    # keeps the optimized pixels inside 0..255 (losses.range_penalty; 0: off), so
    # clamping the result costs nothing. Sample frame 20 at 256x144, cap 400: style
    # after the cold start 7,115 -> 6,652, and 20 more iterations lower it 0.8%
    # instead of 4.8% (the cold start is converged, not clamped out of its optimum)
    range_weight: float = setting(1.0, real_check(0), api_only=TUNING)
    # cap for the first frame (and after a scene cut), coarse levels included, at
    # 256x144; larger frames get a fifth more per pyramid level; why 400:
    # engines.optimize.cold_start_iters
    iters_first: int = setting(
        400,
        int_check(1, MAX_ITERS),
        flags=Flag(
            ("--iters",),
            "iteration caps: first frame (at 256 px; larger frames get more), later frames",
            metavar="FIRST,LATER",
            parse=parse_pair,
            fields=("iters_first", "iters_later"),
            dest="iters",
        ),
    )
    # warm-started frames start close to their optimum
    iters_later: int = setting(10, int_check(1, MAX_ITERS), via="--iters")
    tolerance: float = setting(
        3e-3,
        real_check(0, 1),
        flags=Flag(("--tolerance",), "stop a frame when the loss changes less than this, relative", parse=parse_float),
    )
    tolerance_window: int = setting(5, int_check(1), api_only=TUNING)  # ...over this many iterations
    min_iters_later: int = setting(5, int_check(0), api_only=TUNING)
    init: Literal["content", "noise"] = setting(
        "content",
        text_check(*INITS),
        flags=Flag(("--init",), "the first frame starts from the content or from noise", parse=str),
    )
    coarse_to_fine: bool = setting(True, bool_check(), api_only=TUNING)  # cold starts: optimize at half size first
    seed: int = setting(
        0, int_check(0, 2**32 - 1), flags=Flag(("--seed",), "random seed (noise init)", metavar="N", parse=parse_int)
    )
    engine: str = setting(
        "optimize",
        text_check(),
        flags=Flag(("--engine",), "stylization engine", parse=str, choices_from="vidstyle.engines:engine_names"),
    )
    # -- the network engine (engines/network.py, vidstyle.training) --
    model: str | None = setting(
        None,
        text_check(optional=True),
        flags=Flag(
            ("--model",),
            "a trained look (vidstyle train -o LOOK.pt): stylize with its network (sets --engine net)",
            metavar="LOOK",
            parse=str,
            also=(("engine", "net"),),
        ),
    )
    # out = net * (1 - b*mask) + warped previous output * b*mask; 0: raw network frames, no optical flow
    net_blend: float = setting(
        0.5,
        real_check(0, 1),
        flags=Flag(
            ("--net-blend",),
            "network engine: weight of the flow-warped previous output over reliable pixels",
            metavar="B",
            parse=parse_float,
        ),
    )
    # optimizer iterations on each network frame, started from it (Engines in the README)
    net_refine: int = setting(
        0,
        int_check(0, 1000),
        flags=Flag(
            ("--net-refine",),
            "network engine: optimizer iterations on each network frame, started from it and held by the"
            " temporal loss (0: none)",
            metavar="N",
            parse=parse_int,
        ),
    )
    train_minutes: float = setting(
        5.0,
        real_check(0, MAX_TRAIN_MINUTES, above=True, unit=" minutes"),
        flags=Flag(
            ("--train-minutes",),
            "network engine without --model: training budget in minutes",
            metavar="M",
            parse=parse_float,
        ),
    )
    train_steps: int | None = setting(
        None,
        int_check(1, MAX_TRAIN_STEPS, optional=True),
        flags=Flag(
            ("--train-steps",),
            "network engine without --model: training steps (default: as many as the minutes allow)",
            metavar="N",
            parse=parse_int,
        ),
    )

    # -- size (sizing.py: processing size; pipeline/detail.py: the output-size stage) --
    # None follows the device: the output size on a GPU, sizing.CPU_MAX_SIDE on a CPU
    max_side: int | None = setting(
        None,
        int_check(MIN_SIDE, MAX_SIDE, optional=True, unit=" pixels"),
        flags=Flag(
            ("--max-side",),
            "processing size: longer side in pixels (default: the output size on a GPU, 256 on a CPU)",
            metavar="N",
            parse=parse_int,
        ),
    )
    # processing size (width, height); overrides max_side
    size: tuple[int, int] | None = setting(
        None,
        int_check(MIN_SIDE, MAX_SIDE, optional=True, length=2, unit=" pixels"),
        flags=Flag(("--size",), "processing size (overrides --max-side)", metavar="WxH", parse=parse_size),
    )
    # output (width, height); None: the source's size
    output_size: tuple[int, int] | None = setting(
        None,
        int_check(MIN_SIDE, MAX_SIDE, optional=True, length=2, unit=" pixels"),
        flags=Flag(("--output-size",), "output size (default: the source's size)", metavar="WxH", parse=parse_size),
    )
    # iterations at the output size after each frame is stylized at a smaller
    # processing size (pipeline/detail.py); past 1.9 times the processing size
    # warm frames get more (sizing.detail_warm_iters), cold starts always more
    # (sizing.detail_cold_iters)
    # 3 measured steadier than 5 (flicker ratio 1.65 vs 1.95, sample clip 256 -> 480x270, 6 frames)
    detail_iters: int = setting(
        3,
        int_check(0, 1000),
        flags=Flag(
            ("--detail-iters",),
            "iterations at the output size per frame when processing is smaller, more for outputs over 1.9x "
            "the processing size; the size note says how many (0: plain resize)",
            metavar="N",
            parse=parse_int,
        ),
    )
    # core side of the tiles a frame is optimized in (engines/tiling.py); None:
    # whole frames unless sizing.choose_size finds one does not fit in memory
    tile: int | None = setting(
        None,
        int_check(MIN_TILE, optional=True, unit=" pixels"),
        flags=Flag(
            ("--tile",),
            "optimize in N-pixel tiles (rounded down to a multiple of 16) with whole-frame style "
            "statistics (default: only when a frame does not fit in memory)",
            metavar="N",
            parse=parse_int,
        ),
    )
    # context around each tile, rounded up to a multiple of 16; 80 covers
    # relu5_1's receptive field, so tiles give the untiled result
    tile_halo: int = setting(80, int_check(0, unit=" pixels"), api_only=TUNING)

    # -- temporal consistency (Ruder et al. 2016) --
    temporal: bool = setting(
        True,
        bool_check(),
        flags=Flag(  # flow-warped warm start + temporal loss
            ("--no-temporal",),
            "per-frame baseline: no flow, no warm start, no temporal loss",
            switch=False,
            also=(("warm_start", False),),
        ),
    )
    warm_start: bool = setting(True, bool_check(), via="--no-temporal")  # without `temporal`: previous output, unwarped
    flow: str = setting(
        "dis-medium",
        text_check(*FLOW_METHODS),
        label="flow method",
        flags=Flag(("--flow",), "optical flow method", parse=str),
    )
    # the warm start, the temporal loss's target and the network's blend; the detail stage has its own
    carry_warp: str = setting(
        "cubic",
        text_check(*CARRY_WARPS),
        label="carry warp",
        flags=Flag(
            ("--carry-warp",),
            "interpolation of the warp that carries the previous output along the flow (lanczos: sharper)",
            parse=str,
        ),
    )
    long_term: tuple[int, ...] = setting(
        (1,),
        int_check(1, MAX_LONG_TERM, length=0),
        label="long-term offsets",
        flags=Flag(
            ("--long-term",),
            "previous frames the temporal loss uses (the previous frame, 1, is always among them)",
            metavar="1,2,4",
            parse=parse_ints,
        ),
    )
    passes: int = setting(
        1,
        int_check(1, MAX_PASSES),
        flags=Flag(
            ("--passes",), "multi-pass: alternate forward/backward sweeps", group="video", metavar="N", parse=parse_int
        ),
    )
    # cold start when fewer than this fraction of pixels are reliable
    scene_cut_threshold: float = setting(0.5, real_check(0, 1), api_only=TUNING)

    # -- hardware --
    device: str = setting(
        "auto", text_check(), flags=Flag(("--device",), "auto | cpu | cuda | cuda:N | mps", parse=str)
    )
    weights: str = setting(
        "caffe", text_check(), flags=Flag(("--weights",), "VGG19 weights: caffe | torchvision | PATH", parse=str)
    )
    precision: str = setting(
        "auto",
        text_check("auto", "fp32", "bf16", "fp16"),
        flags=Flag(
            ("--precision",),
            "arithmetic of the VGG passes: auto (bf16 on GPUs of compute capability 8.0+, else fp32), "
            "fp32, bf16 or fp16 (with loss scaling)",
            parse=str,
        ),
    )
    num_threads: int | None = setting(
        None,
        int_check(1, MAX_THREADS, optional=True),
        flags=Flag(("--threads",), "CPU threads for torch (default: all cores)", metavar="N", parse=parse_int),
    )
    compile: bool = setting(
        False, bool_check(), flags=Flag(("--compile",), "torch.compile the VGG network (GPU, long clips)", switch=True)
    )

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes) -> StyleConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """What is read from the source and how the result is written."""

    start_s: float | None = setting(
        None,
        real_check(0, optional=True, unit=" seconds"),
        label="start",
        flags=Flag(
            ("-ss", "--start"), "start at T (seconds or HH:MM:SS)", group="video", metavar="T", parse=parse_time
        ),
    )
    end_s: float | None = setting(
        None,
        real_check(0, above=True, optional=True, unit=" seconds"),
        label="end",
        flags=(
            Flag(
                ("-t", "--duration"),
                "stylize T seconds",
                group="video",
                metavar="T",
                parse=parse_time,
                after="start_s",
                exclusive="end",
                dest="duration",
            ),
            Flag(
                ("-to", "--to"), "stop at T", group="video", metavar="T", parse=parse_time, exclusive="end", dest="to"
            ),
        ),
    )
    codec: str | None = setting(
        None,
        text_check(optional=True),
        flags=Flag(  # None: chosen from the output extension
            ("--codec",), "video codec (default by extension)", group="video", parse=str
        ),
    )
    crf: int | None = setting(
        None,
        int_check(*CRF_ANY, optional=True),
        flags=Flag(
            ("--crf",),
            "constant rate factor (quality): x264/x265 0-51, VP9/AV1 0-63",
            group="video",
            metavar="N",
            parse=parse_int,
        ),
    )
    bitrate: int | None = setting(
        None,
        int_check(1, MAX_BITRATE, optional=True),
        flags=Flag(  # bits per second
            ("--bitrate",), "target bitrate, e.g. 2M", group="video", metavar="B", parse=parse_bitrate
        ),
    )
    overwrite: bool = setting(
        False, bool_check(), flags=Flag(("-y",), "overwrite an existing output", group="main", switch=True)
    )
    resume: bool = setting(
        True,
        bool_check(),
        flags=Flag(("--no-resume",), "start over even if a work directory exists", group="video", switch=False),
    )
    keep_work: bool = setting(
        False,
        bool_check(),
        flags=Flag(("--keep-work",), "keep the work directory after success", group="video", switch=True),
    )
    work_dir: str | None = setting(
        None,
        text_check(optional=True),
        flags=Flag(
            ("--work-dir",),
            "where finished frames wait until the run succeeds (default: $VIDSTYLE_WORK_DIR, "
            "else ~/.cache/vidstyle/work); outside the output folder, so they survive its loss",
            group="video",
            metavar="DIR",
            parse=str,
        ),
    )
    # resample to this rate (30, 29.97, "30000/1001"); None: the source's timing
    fps: Fraction | None = setting(
        None,
        Check("rate", optional=True),
        flags=Flag(
            ("--fps",),
            "resample to R frames per second (30, 29.97, 30000/1001), dropping or repeating frames",
            group="video",
            metavar="R",
            parse=parse_rate,
        ),
    )
    # the timing of an image sequence input (frame i at i / rate s); None: FFmpeg's
    # image2 default, 25 (media.input_sequence); a video has its own timing
    input_fps: Fraction | None = setting(
        None,
        Check("rate", optional=True),
        flags=Flag(
            ("--input-fps",),
            "frame rate of an image sequence input (frames/%04d.png): 24, 29.97, 30000/1001 (default 25)",
            group="video",
            metavar="R",
            parse=parse_rate,
        ),
    )
    compare: bool = setting(
        False,
        bool_check(),
        flags=Flag(
            ("--compare",),
            "write the input and the stylized video side by side (input on the left)",
            group="video",
            switch=True,
        ),
    )
    # -- a Ray cluster (vidstyle.distributed; pip install 'vidstyle[ray]') --
    ray: str | None = setting(
        None,
        text_check(optional=True),
        flags=Flag(
            ("--ray",),
            "run on a Ray cluster: auto (RAY_ADDRESS, else a local runtime) or its ADDRESS (ray://head:10001)",
            group="video",
            metavar="ADDRESS",
            parse=str,
        ),
    )
    workers: int | None = setting(
        None,
        int_check(1, optional=True),
        flags=Flag(
            ("--workers",),
            "with --ray: at most N segments at once (default: one per GPU, else per CPU)",
            group="video",
            metavar="N",
            parse=parse_int,
        ),
    )
    segment_frames: int = setting(
        48,
        int_check(2),
        flags=Flag(
            ("--segment-frames",),
            "with --ray: shots longer than this are split into segments of about N frames",
            group="video",
            metavar="N",
            parse=parse_int,
        ),
    )
    # measured on the sample clip: benchmarks/scale.py, vidstyle/distributed/seams.py
    seam_frames: int = setting(
        8,
        int_check(0),
        flags=Flag(
            ("--seam-frames",),
            "with --ray: a segment that starts inside a shot starts N frames early, and the "
            "output cross-fades into it over those frames",
            group="video",
            metavar="N",
            parse=parse_int,
        ),
    )
    # measured on the sample clip: vidstyle/distributed/anchor.py
    anchor_frames: int = setting(
        480,
        int_check(0),
        flags=Flag(
            ("--anchor-frames",),
            "with --ray: a segment that starts at most N frames into its shot starts from the shot's "
            "first painting carried along the motion, not cold (0: always cold)",
            group="video",
            metavar="N",
            parse=parse_int,
        ),
    )

    def __post_init__(self) -> None:
        validate(self)
        check_bitrate(self.codec, self.bitrate)
        check_crf(self.codec, self.crf)
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise InputError(f"end ({self.end_s:g}s) must come after start ({self.start_s:g}s)")


CONFIG_CLASSES = (StyleConfig, ExportConfig)
_FIELDS = {f.name: f for owner in CONFIG_CLASSES for f in dataclasses.fields(owner)}
# a mistyped keyword is told the closest name at least this similar (difflib's
# ratio): "max_sid" -> max_side (0.93), "sise" -> size (0.75); none for
# "preset" ~ "resume" (0.67)
SUGGEST_CUTOFF = 0.75


def make_configs(*, preset: str | None = None, **options) -> tuple[StyleConfig, ExportConfig]:
    """Split keyword options between StyleConfig and ExportConfig, with one
    clear error for an unknown name; paths may be ``os.PathLike``.

    As on the command line: ``preset`` (``fast``, ``balanced``, ``quality``,
    ``live``; None: the defaults) sets options that explicit ones override;
    a number, size or list may be given as the text its flag takes
    (``output_size="640x360"``, ``style_weights="0.7,0.3"``); and ``model``
    (a look file) selects the ``net`` engine, which an ``engine`` other than
    ``net`` given beside it contradicts."""
    style_fields = {f.name for f in dataclasses.fields(StyleConfig)}
    export_fields = {f.name for f in dataclasses.fields(ExportConfig)}
    unknown = sorted(set(options) - style_fields - export_fields)
    if unknown:
        named = [f"{name} (did you mean {hint}?)" if (hint := _keyword_for(name)) else name for name in unknown]
        raise InputError(f"unknown option(s): {', '.join(named)}")
    options = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in options.items()}  # model=Path(...)
    options = {k: _from_text(k, v) for k, v in options.items()}
    if options.get("model") is not None:  # as --model: the look's network paints
        engine = options.setdefault("engine", "net")
        if engine != "net":
            raise InputError(
                f"model= sets engine='net' (a look is painted by its network); engine={engine!r} contradicts it: "
                "leave engine out, or leave model out to use the optimizer"
            )
    if preset is not None:
        if not isinstance(preset, str):
            raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        options = {**preset_options(preset), **options}
    style = StyleConfig(**{k: v for k, v in options.items() if k in style_fields})
    export = ExportConfig(**{k: v for k, v in options.items() if k in export_fields})
    return style, export


def _from_text(name: str, value: Any) -> Any:
    """``value``, or what the field's flag makes of it when it is the text
    the flag takes (``"640x360"`` for ``output_size``); text fields, and
    fields whose flag fills several fields or adds to another, are left to
    the field's check."""
    if not isinstance(value, str):
        return value
    field = _FIELDS[name]
    if field.metadata["check"].kind not in ("int", "real"):
        return value
    for flag in field.metadata.get("flags", ()):
        if flag.parse is not None and flag.parse is not str and not flag.fields and not flag.after:
            try:
                return flag.parse(value)
            except InputError as err:
                raise InputError(f"{name}: {err} (or pass the value itself)") from None
    return value


# ----------------------------------------------------------------------------- presets

# Presets set how hard the optimizer works; explicit options override them.
# "balanced" is the plain StyleConfig defaults. Measured numbers: README.
PRESET_OPTIONS: dict[str, dict] = {
    # Half the iterations of a warm frame; the cold start and the flow as
    # balanced: a 100-iteration cold start (the former fast) left the whole
    # chain with 1.8x balanced's style loss, DIS-fast flow and tolerance 5e-3
    # flickered more (README, "Presets").
    "fast": {"iters_later": 5, "min_iters_later": 3},
    "balanced": {},
    "quality": {
        "iters_first": 800,
        "iters_later": 30,
        "tolerance": 1e-3,
        "min_iters_later": 10,
        "long_term": (1, 2, 4),
    },
    # `vidstyle live`: a time budget, not an iteration cap, decides how long a
    # frame runs. Adam: at 2-3 iterations per frame it reaches a lower style
    # loss than L-BFGS (measured: 12 warm-started frames at 96 px, 3 iterations
    # each: style loss 3.9e5 Adam vs 5.2e5 L-BFGS; at 8 iterations L-BFGS
    # wins). Loss and stopping settings: those benchmarks/live.py measured.
    "live": {
        "max_side": 128,
        "optimizer": "adam",
        "iters_first": 300,
        "iters_later": 60,
        "temporal_weight": 1000.0,
        "tolerance": 1e-3,
        "tolerance_window": 10,
        "min_iters_later": 10,
    },
}
PRESETS = tuple(PRESET_OPTIONS)


def preset_options(name: str) -> dict:
    """The StyleConfig overrides of a preset (a fresh dict)."""
    if name not in PRESET_OPTIONS:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dict(PRESET_OPTIONS[name])


def describe_preset(name: str) -> str:
    """A preset in words for help text: ``max-side 128, optimizer adam, ...``
    (``balanced``: ``the defaults``)."""
    fields = {f.name: f for f in dataclasses.fields(StyleConfig)}
    options = preset_options(name)
    if not options:
        return "the defaults"
    return ", ".join(f"{field_label(fields[k])} {_show_option(v)}" for k, v in options.items())


def _show_option(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_show_option(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _keyword_for(name: str) -> str | None:
    """The keyword a mistyped one most likely means: the field behind a flag
    of that name (``threads`` -> ``num_threads``, ``duration`` -> ``end_s``),
    else the closest field name."""
    fields = [f for owner in CONFIG_CLASSES for f in dataclasses.fields(owner)]
    for field in fields:
        for flag in field.metadata.get("flags", ()):
            if name in (n.lstrip("-").replace("-", "_") for n in flag.names):
                if flag.after:  # -t DURATION sets the end
                    return f"{field.name} = {flag.after} + {name}"
                return ", ".join(flag.fields) if flag.fields else field.name
    names = [f.name for f in fields] + ["preset"]
    close = difflib.get_close_matches(name, names, n=1, cutoff=SUGGEST_CUTOFF)
    return close[0] if close else None
