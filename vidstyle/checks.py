"""Field metadata of the config dataclasses: the values each field accepts
(``Check``), how it appears on the command line (``Flag``), ``setting`` to
declare both, and the validation ``__post_init__`` runs. crf ranges per
encoder live here too (``check_crf``), and the encoders that take no
bit rate (``check_bitrate``)."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any, Literal

from vidstyle.errors import InputError
from vidstyle.parsing import parse_rate

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
# Encoders that ignore a bit rate: lossless ones, GIF, and ProRes, whose profile
# sets the rate (measured: the same bytes at 50 kbit/s, 50 Mbit/s and unset
# for gif, prores_ks, prores_aw, png and ffv1).
NO_BITRATE = frozenset({"prores_ks", "prores", "prores_aw", "gif", "png", "apng", "ffv1", "rawvideo", "huffyuv"})


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
        """The valid range in words: ``positive``, ``>= 0``, ``between 0 and 1``,
        ``greater than 0 and at most 10080`` (a bound the range excludes)."""
        lo, hi, unit = self.minimum, self.maximum, self.unit
        if lo is not None and hi is not None and self.exclusive_minimum:
            return f"greater than {_show(lo)} and at most {_show(hi)}{unit}"
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


def setting(
    default: Any,
    check: Check,
    *,
    flags: Flag | tuple[Flag, ...] = (),
    via: str | None = None,
    api_only: str | None = None,
    label: str | None = None,
) -> Any:
    """A config field with its check and its command-line facts (see the module doc)."""
    flags = (flags,) if isinstance(flags, Flag) else tuple(flags)
    if sum((bool(flags), via is not None, api_only is not None)) != 1:
        raise TypeError("a config field needs exactly one of flags=, via= or api_only=")
    return dataclasses.field(
        default=default, metadata={"check": check, "flags": flags, "via": via, "api_only": api_only, "label": label}
    )


def real_check(minimum=None, maximum=None, *, above=False, optional=False, length=None, unit="") -> Check:
    return Check("real", minimum, maximum, above, optional=optional, length=length, unit=unit)


def int_check(minimum=None, maximum=None, *, optional=False, length=None, unit="") -> Check:
    return Check("int", minimum, maximum, optional=optional, length=length, unit=unit)


def bool_check(*, optional=False) -> Check:
    return Check("bool", optional=optional)


def text_check(*choices: str, optional=False, length=None) -> Check:
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
    if not within(check, value):
        raise InputError(f"{label} must be {check.describe()}, got {shown}")
    return value


def within(check: Check, value: float) -> bool:
    """``value`` (a finite number) lies within ``check``'s bounds."""
    lo, hi = check.minimum, check.maximum
    too_low = lo is not None and (value <= lo if check.exclusive_minimum else value < lo)
    return not too_low and (hi is None or value <= hi)


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


def check_bitrate(codec: str | None, bitrate: int | None) -> None:
    """InputError when ``codec`` ignores a bit rate (``NO_BITRATE``), as
    ``check_crf`` refuses a crf it has no use for. ``codec`` None (not known
    yet): nothing to check; call it again once the output extension has
    picked the codec."""
    if bitrate and codec in NO_BITRATE:
        raise InputError(f"{codec} has no bitrate setting (it ignores one); leave bitrate out or pick another codec")


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
