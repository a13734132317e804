"""Text -> value parsers for command-line options (times, sizes, rates,
bitrates, lists). Each raises InputError with the bad text in its message."""

from __future__ import annotations

import math
from fractions import Fraction

from vidstyle.errors import InputError

MAX_FPS = 1000
MAX_BITRATE_TEXT = 1e12  # bits/s a bitrate's text may say; the config's own bound is lower
MIN_FPS = Fraction(1, 100)  # one frame per 100 s: the slowest time-lapse an encoder is asked for


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
        value = float(text[:-1] if scale > 1 else text) * scale
        if value > MAX_BITRATE_TEXT:  # "1e99": refused as typed, not as a 100-digit integer
            raise ValueError(text)
        return int(value)
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
    "ntsc": Fraction(30000, 1001),
    "pal": Fraction(25),
    "film": Fraction(24),
    "ntsc-film": Fraction(24000, 1001),
}


def parse_rate(text: str) -> Fraction:
    """``30``, ``12.5``, ``30000/1001`` or ``ntsc`` -> frames per second, in
    [MIN_FPS, MAX_FPS].

    Decimal NTSC rates (23.976, 29.97, 59.94, 119.88) mean the exact
    ``N*1000/1001`` rates that cameras record, not the decimal."""
    text = str(text).strip().lower()
    try:
        rate = NAMED_RATES[text] if text in NAMED_RATES else Fraction(text)
    except (ValueError, ZeroDivisionError):  # "abc", "1/0", "inf", "nan"
        raise InputError(f"not a frame rate: {text!r} (use e.g. 30, 29.97 or 30000/1001)") from None
    if not MIN_FPS <= rate <= MAX_FPS:
        raise InputError(f"frame rate must be between {MIN_FPS} and {MAX_FPS} frames per second, got {text}")
    if "." in text and rate.denominator != 1 and rate >= 1:
        ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
        if abs(ntsc - rate) < Fraction(1, 200):
            return ntsc
    return rate
