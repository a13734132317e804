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
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Literal

from vidstyle.errors import InputError

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
FLOW_METHODS = ("dis-medium", "dis-fast", "dis-ultrafast", "farneback")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
MIN_SIDE = 16  # VGG19 pools four times before relu5_1
MAX_FPS = 1000

# Constant rate factor ranges of the encoders that have one (FFmpeg's option
# ranges for 8-bit output). Codecs in NO_CRF refuse a crf; a codec in neither
# table is checked against CRF_ANY until the writer knows more.
CRF_RANGES: dict[str, tuple[int, int]] = {
    "libx264": (0, 51),
    "libx265": (0, 51),
    "libvpx-vp9": (0, 63),
    "libsvtav1": (0, 63),
    "libaom-av1": (0, 63),
}
NO_CRF = frozenset({"prores_ks", "prores", "prores_aw", "gif", "png", "mjpeg", "ffv1", "rawvideo", "huffyuv", "apng"})
CRF_ANY = (0, 63)  # the widest range above: what any crf can be before the codec is known


# ----------------------------------------------------------------------------- field metadata


@dataclasses.dataclass(frozen=True)
class Check:
    """The values a field accepts.

    kind: ``real`` (finite int or float), ``int`` (a whole number, not a
    bool), ``bool``, ``text`` (a non-empty string; ``choices`` limits it) or
    ``rate`` (a frame rate: ``parse_rate``). ``length``: None for one value,
    0 for a non-empty tuple of any length, N for exactly N values (each
    checked). ``minimum``/``maximum`` bound numbers (``exclusive_minimum``:
    strictly above). ``optional``: None is accepted.
    """

    kind: Literal["real", "int", "bool", "text", "rate"]
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    length: int | None = None
    unit: str = ""  # " pixels", " seconds": shown after the bounds

    def describe(self) -> str:
        """The valid range in words: ``positive``, ``>= 0``, ``between 0 and 1``."""
        lo, hi, unit = self.minimum, self.maximum, self.unit
        if lo is not None and hi is not None:
            return f"between {_show(lo)} and {_show(hi)}{unit}"
        if lo is not None and ((lo == 0 and self.exclusive_minimum) or (self.kind == "int" and lo == 1)):
            return "positive"
        if lo is not None:
            return f"{'>' if self.exclusive_minimum else '>='} {_show(lo)}{unit}"
        if hi is not None:
            return f"<= {_show(hi)}{unit}"
        return ""


@dataclasses.dataclass(frozen=True)
class Flag:
    """How a field appears on the command line (``vidstyle.cli.options`` builds
    the argparse option from it).

    names: the option strings (``("-ss", "--start")``).
    help: one line, without the default and the range (the CLI adds both).
    group: ``style`` (every command that stylizes: file and live), ``video``
        (the file command) or ``main`` (the file command's first lines).
    parse: text -> value (may raise InputError); None for a switch.
    switch: the value a switch stores (``--compile``: True, ``--no-temporal``: False).
    fields: the fields one value fills, in order, when it fills several
        (``--iters FIRST,LATER``); default: the field the flag is declared on.
    also: more fields set whenever the flag is given (``--no-temporal`` also
        turns off ``warm_start``).
    after: the value is an offset from this field (``-t DURATION``: end_s =
        start_s + DURATION).
    exclusive: flags with the same name here cannot be given together.
    choices_from: ``"module:function"`` returning the allowed values at parse
        time (``--engine``: the engine registry), imported only by the CLI.
    """

    names: tuple[str, ...]
    help: str
    group: Literal["style", "video", "main"] = "style"
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    switch: bool | None = None
    fields: tuple[str, ...] = ()
    also: tuple[tuple[str, Any], ...] = ()
    after: str | None = None
    exclusive: str | None = None
    choices_from: str | None = None
    dest: str | None = None  # argparse dest; default: the field's name (or the flag's for several fields)


def setting(default: Any, check: Check, *, flags: Flag | tuple[Flag, ...] = (), via: str | None = None,
            api_only: str | None = None, label: str | None = None) -> Any:
    """A config field with its check and its command-line facts (see the module doc)."""
    flags = (flags,) if isinstance(flags, Flag) else tuple(flags)
    if sum((bool(flags), via is not None, api_only is not None)) != 1:
        raise TypeError("a config field needs exactly one of flags=, via= or api_only=")
    return dataclasses.field(default=default, metadata={"check": check, "flags": flags, "via": via,
                                                        "api_only": api_only, "label": label})


def _real(minimum=None, maximum=None, *, above=False, optional=False, length=None, unit="") -> Check:
    return Check("real", minimum, maximum, above, optional=optional, length=length, unit=unit)


def _int(minimum=None, maximum=None, *, optional=False, length=None, unit="") -> Check:
    return Check("int", minimum, maximum, optional=optional, length=length, unit=unit)


def _bool(*, optional=False) -> Check:
    return Check("bool", optional=optional)


def _text(*choices: str, optional=False, length=None) -> Check:
    return Check("text", choices=choices, optional=optional, length=length)


def field_label(field: dataclasses.Field) -> str:
    """The name error messages use: ``tv-weight``, ``flow method``."""
    return field.metadata.get("label") or field.name.replace("_", "-")


def check_value(field: dataclasses.Field, value: Any) -> Any:
    """``value`` if ``field`` accepts it (tuples normalized to tuples, numpy
    integers to int, frame rates to Fraction); InputError naming the field,
    its valid range and the value otherwise."""
    check: Check = field.metadata["check"]
    label = field_label(field)
    if value is None:
        if check.optional:
            return None
        raise InputError(f"{label} must be set, got None")
    if check.length is None:
        return _check_one(label, value, check)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InputError(f"{label} must be a sequence of values, got {value!r}")
    values = tuple(value)
    if not values or (check.length and len(values) != check.length):
        wanted = f"{check.length} values" if check.length else "at least one value"
        raise InputError(f"{label} needs {wanted}, got {value!r}")
    return tuple(_check_one(label, item, check, whole=value) for item in values)


def _check_one(label: str, value: Any, check: Check, *, whole: Any = None) -> Any:
    shown = _show(value if whole is None else whole)
    if check.kind == "bool":
        if isinstance(value, bool):
            return value
        raise InputError(f"{label} must be True or False, got {shown}")
    if check.kind == "text":
        if not isinstance(value, str) or not value:
            raise InputError(f"{label} must be a non-empty string, got {shown}")
        if check.choices and value not in check.choices:
            raise InputError(f"unknown {label} {value!r}; choose one of {', '.join(check.choices)}")
        return value
    if check.kind == "rate":
        if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
            raise InputError(f"{label} must be a frame rate, got {shown}")
        return parse_rate(str(value))
    if check.kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputError(f"{label} must be a whole number, got {shown}")
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{label} must be a number, got {shown}")
    elif not math.isfinite(value):
        raise InputError(f"{label} must be a finite number, got {shown}")
    lo, hi = check.minimum, check.maximum
    too_low = lo is not None and (value <= lo if check.exclusive_minimum else value < lo)
    if too_low or (hi is not None and value > hi):
        raise InputError(f"{label} must be {check.describe()}, got {shown}")
    return value


def _show(value: Any) -> str:
    """A value in a message: 256.0 stays 256.0 (not a whole number), strings quoted."""
    return repr(value) if isinstance(value, (str, bytes, float)) else str(value)


def validate(config: Any) -> None:
    """Check every field of a config dataclass against its metadata; store
    normalized values (a frozen dataclass: once, at construction)."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        checked = check_value(field, value)
        if checked is not value:
            object.__setattr__(config, field.name, checked)


def check_crf(codec: str | None, crf: int | None) -> None:
    """InputError unless ``crf`` suits ``codec`` (``CRF_RANGES``; codecs in
    ``NO_CRF`` take none). ``codec`` None (not known yet) or unknown here:
    the widest range, ``CRF_ANY``. Call it again once the output extension
    has picked the codec."""
    if crf is None:
        return
    if codec in NO_CRF:
        raise InputError(f"{codec} has no crf (constant quality) setting; leave crf out or pick another codec")
    lo, hi = CRF_RANGES.get(codec or "", CRF_ANY)
    if isinstance(crf, bool) or not isinstance(crf, numbers.Integral) or not lo <= crf <= hi:
        where = f" for {codec}" if codec in CRF_RANGES else ""
        raise InputError(f"crf must be between {lo} and {hi}{where}, got {_show(crf)}")


# ----------------------------------------------------------------------------- text parsers


def parse_time(text: str) -> float:
    """Seconds from ``SS``, ``SS.mmm``, ``MM:SS`` or ``HH:MM:SS(.mmm)`` (ffmpeg's forms)."""
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise InputError(f"not a time: {text!r} (use seconds or HH:MM:SS)") from None
    if len(parts) > 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        raise InputError(f"not a time: {text!r} (use seconds or HH:MM:SS)")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def parse_pair(text: str) -> tuple[int, int]:
    """``FIRST,LATER`` integers (one number sets both)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"expected FIRST,LATER integers, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise InputError(f"expected two integers FIRST,LATER, got {text!r}")
    return values[0], values[1]


def parse_floats(text: str) -> tuple[float, ...]:
    """``0.7,0.3`` -> (0.7, 0.3)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"expected comma-separated numbers, got {text!r}") from None


def parse_ints(text: str) -> tuple[int, ...]:
    """``1,2,4`` -> (1, 2, 4)."""
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"expected comma-separated integers, got {text!r}") from None


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` -> (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def parse_bitrate(text: str) -> int:
    """Bits per second from ``2M``, ``800k`` or ``500000``."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except (ValueError, OverflowError):  # "abc", "nan"; "inf"
        raise InputError(f"expected a bitrate like 2M or 800k, got {text!r}") from None


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"expected an integer, got {text!r}") from None


def parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"expected a number, got {text!r}") from None


NAMED_RATES = {
    "ntsc": Fraction(30000, 1001), "pal": Fraction(25), "film": Fraction(24), "ntsc-film": Fraction(24000, 1001),
}


def parse_rate(text: str) -> Fraction:
    """``30``, ``12.5``, ``30000/1001`` or ``ntsc`` -> frames per second, in
    (0, MAX_FPS].

    Decimal NTSC rates (23.976, 29.97, 59.94, 119.88) mean the exact
    ``N*1000/1001`` rates that cameras record, not the decimal."""
    text = str(text).strip().lower()
    try:
        rate = NAMED_RATES[text] if text in NAMED_RATES else Fraction(text)
    except (ValueError, ZeroDivisionError):  # "abc", "1/0", "inf", "nan"
        raise InputError(f"not a frame rate: {text!r} (use e.g. 30, 29.97 or 30000/1001)") from None
    if not 0 < rate <= MAX_FPS:
        raise InputError(f"frame rate must be between 0 and {MAX_FPS} frames per second, got {text}")
    if "." in text and rate.denominator != 1:
        ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
        if abs(ntsc - rate) < Fraction(1, 200):
            return ntsc
    return rate


# ----------------------------------------------------------------------------- configs

TUNING = "tuning knob of the optimizer; set it from Python"


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Every option of a stylization run. Units are in the names."""

    # -- losses (Gatys et al. 2016; Ruder et al. 2016) --
    content_weight: float = setting(5.0, _real(0), flags=Flag(("--content-weight",), "content loss weight",
                                                              metavar="W", parse=parse_float))
    style_weight: float = setting(100.0, _real(0), flags=Flag(("--style-weight",), "style loss weight",
                                                             metavar="W", parse=parse_float))
    tv_weight: float = setting(1e-3, _real(0), flags=Flag(("--tv-weight",), "total variation weight",
                                                          metavar="W", parse=parse_float))
    # tuned on the sample clip at 256x144: flicker ratio 0.98 (3000: 1.10)
    temporal_weight: float = setting(10000.0, _real(0), flags=Flag(("--temporal-weight",), "temporal loss weight",
                                                                   metavar="W", parse=parse_float))
    content_layers: tuple[str, ...] = setting(CONTENT_LAYERS, _text(length=0), api_only="VGG19 layer choice")
    style_layers: tuple[str, ...] = setting(STYLE_LAYERS, _text(length=0), api_only="VGG19 layer choice")
    # one per style image; default equal
    style_weights: tuple[float, ...] | None = setting(None, _real(0, optional=True, length=0), flags=Flag(
        ("--style-weights",), "blend weights of several --style images", metavar="W1,W2", parse=parse_floats))
    # style image longer side = style_scale * processing longer side
    style_scale: float = setting(1.0, _real(0, above=True), flags=Flag(
        ("--style-scale",), "style image size relative to the frame", metavar="S", parse=parse_float))
    preserve_colors: bool = setting(False, _bool(), flags=Flag(
        ("--preserve-colors",), "keep the video's colours (luminance-only transfer)", switch=True))

    # -- optimization --
    optimizer: Literal["lbfgs", "adam"] = setting("lbfgs", _text(*OPTIMIZERS), flags=Flag(
        ("--optimizer",), "optimizer", parse=str))
    # Adam only, on the 0..255 pixel scale; L-BFGS uses step 1 like the references
    learning_rate: float = setting(5.0, _real(0, above=True), api_only=TUNING)
    # cap for the first frame (and after a scene cut), coarse level included
    iters_first: int = setting(200, _int(1), flags=Flag(
        ("--iters",), "iteration caps: first frame, later frames", metavar="FIRST,LATER", parse=parse_pair,
        fields=("iters_first", "iters_later"), dest="iters"))
    iters_later: int = setting(10, _int(1), via="--iters")  # warm-started frames start close to their optimum
    tolerance: float = setting(3e-3, _real(0, 1), flags=Flag(
        ("--tolerance",), "stop a frame when the loss changes less than this, relative", parse=parse_float))
    tolerance_window: int = setting(5, _int(1), api_only=TUNING)  # ...over this many iterations
    min_iters_later: int = setting(5, _int(0), api_only=TUNING)
    init: Literal["content", "noise"] = setting("content", _text(*INITS), flags=Flag(
        ("--init",), "the first frame starts from the content or from noise", parse=str))
    coarse_to_fine: bool = setting(True, _bool(), api_only=TUNING)  # cold starts: optimize at half size first
    seed: int = setting(0, _int(0, 2**32 - 1), flags=Flag(("--seed",), "random seed (noise init)", metavar="N",
                                                          parse=parse_int))
    engine: str = setting("optimize", _text(), flags=Flag(
        ("--engine",), "stylization engine", parse=str, choices_from="vidstyle.engines:engine_names"))

    # -- size --
    max_side: int | None = setting(256, _int(MIN_SIDE, optional=True, unit=" pixels"), flags=Flag(
        ("--max-side",), "processing size: longer side in pixels", metavar="N", parse=parse_int))
    # processing size (width, height); overrides max_side
    size: tuple[int, int] | None = setting(None, _int(MIN_SIDE, optional=True, length=2, unit=" pixels"), flags=Flag(
        ("--size",), "processing size (overrides --max-side)", metavar="WxH", parse=parse_size))
    keep_size: bool = setting(False, _bool(), flags=Flag(
        ("--keep-size",), "bring the result back to the source size", group="video", switch=True))

    # -- temporal consistency (Ruder et al. 2016) --
    temporal: bool = setting(True, _bool(), flags=Flag(  # flow-warped warm start + temporal loss
        ("--no-temporal",), "per-frame baseline: no flow, no warm start, no temporal loss", switch=False,
        also=(("warm_start", False),)))
    warm_start: bool = setting(True, _bool(), via="--no-temporal")  # without `temporal`: previous output, unwarped
    flow: str = setting("dis-medium", _text(*FLOW_METHODS), label="flow method", flags=Flag(
        ("--flow",), "optical flow method", parse=str))
    long_term: tuple[int, ...] = setting((1,), _int(1, length=0), label="long-term offsets", flags=Flag(
        ("--long-term",), "previous frames the temporal loss uses", metavar="1,2,4", parse=parse_ints))
    passes: int = setting(1, _int(1), flags=Flag(
        ("--passes",), "multi-pass: alternate forward/backward sweeps", group="video", metavar="N", parse=parse_int))
    # cold start when fewer than this fraction of pixels are reliable
    scene_cut_threshold: float = setting(0.5, _real(0, 1), api_only=TUNING)

    # -- hardware --
    device: str = setting("auto", _text(), flags=Flag(
        ("--device",), "auto | cpu | cuda | cuda:N | mps", parse=str))
    weights: str = setting("caffe", _text(), flags=Flag(
        ("--weights",), "VGG19 weights: caffe | torchvision | PATH", parse=str))
    half: bool | None = setting(None, _bool(optional=True), api_only="mixed precision; None: on for CUDA")
    num_threads: int | None = setting(None, _int(1, optional=True), flags=Flag(
        ("--threads",), "CPU threads for torch (default: all cores)", metavar="N", parse=parse_int))
    compile: bool = setting(False, _bool(), flags=Flag(
        ("--compile",), "torch.compile the VGG network (GPU, long clips)", switch=True))

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes) -> StyleConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """What is read from the source and how the result is written."""

    start_s: float | None = setting(None, _real(0, optional=True, unit=" seconds"), label="start", flags=Flag(
        ("-ss", "--start"), "start at T (seconds or HH:MM:SS)", group="video", metavar="T", parse=parse_time))
    end_s: float | None = setting(None, _real(0, above=True, optional=True, unit=" seconds"), label="end", flags=(
        Flag(("-t", "--duration"), "stylize T seconds", group="video", metavar="T", parse=parse_time,
             after="start_s", exclusive="end", dest="duration"),
        Flag(("-to", "--to"), "stop at T", group="video", metavar="T", parse=parse_time, exclusive="end", dest="to"),
    ))
    codec: str | None = setting(None, _text(optional=True), flags=Flag(  # None: chosen from the output extension
        ("--codec",), "video codec (default by extension)", group="video", parse=str))
    crf: int | None = setting(None, _int(*CRF_ANY, optional=True), flags=Flag(
        ("--crf",), "constant rate factor (quality): x264/x265 0-51, VP9/AV1 0-63", group="video", metavar="N",
        parse=parse_int))
    bitrate: int | None = setting(None, _int(1, optional=True), flags=Flag(  # bits per second
        ("--bitrate",), "target bitrate, e.g. 2M", group="video", metavar="B", parse=parse_bitrate))
    overwrite: bool = setting(False, _bool(), flags=Flag(
        ("-y",), "overwrite an existing output", group="main", switch=True))
    resume: bool = setting(True, _bool(), flags=Flag(
        ("--no-resume",), "start over even if a work directory exists", group="video", switch=False))
    keep_work: bool = setting(False, _bool(), flags=Flag(
        ("--keep-work",), "keep the work directory after success", group="video", switch=True))
    # resample to this rate (30, 29.97, "30000/1001"); None: the source's timing
    fps: Fraction | None = setting(None, Check("rate", optional=True), flags=Flag(
        ("--fps",), "resample to R frames per second (30, 29.97, 30000/1001), dropping or repeating frames",
        group="video", metavar="R", parse=parse_rate))
    compare: bool = setting(False, _bool(), flags=Flag(
        ("--compare",), "write the input and the stylized video side by side (input on the left)", group="video",
        switch=True))

    def __post_init__(self) -> None:
        validate(self)
        check_crf(self.codec, self.crf)
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise InputError(f"end ({self.end_s:g}s) must come after start ({self.start_s:g}s)")


CONFIG_CLASSES = (StyleConfig, ExportConfig)


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


# ----------------------------------------------------------------------------- presets

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
