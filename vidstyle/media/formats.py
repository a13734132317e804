"""What each output file type is: the extension -> container/codec table, the
encoder settings vidstyle chooses (and why), and the destination check of a
video file. Data and small pure functions; PyAV is not imported here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from fractions import Fraction

from vidstyle.errors import OutputError
from vidstyle.media.destination import check_destination


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    """How one file extension is written.

    Attributes:
        video_codec, pix_fmt: encoder and its pixel format.
        audio_codec: re-encode audio with this when it cannot be copied; None: no audio.
        copyable_audio: audio codecs the container takes as they are (None: any).
        options: encoder options (FFmpeg ``-opt value`` pairs).
    """

    video_codec: str
    pix_fmt: str
    audio_codec: str | None
    copyable_audio: frozenset[str] | None
    options: dict


MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3"})
# Defaults chosen with benchmarks/encoding.py: flicker ratio of stylized
# frames after encoding, decoded as players show 4:2:0, on bikes.mp4 (25
# frames 256x108; lossless frames 3.64) / the sample clip (72 frames
# 256x144; lossless 0.43). Old default, x264 yuv420p crf 14: 5.59 at 940
# kbit/s / 0.74 at 603.
#
# H.264 yuv420p High profile, the one every player takes; crf 12 with the
# chroma filter (CHROMA_DOWNSAMPLING): 5.19 at 1118 / 0.69 at 736 (crf 14:
# 5.48 at 917 / 0.73 at 593; crf 10 with the Gaussian: 4.91 at 1330 / 0.65
# at 895). 4:4:4 did not pay: yuv444p crf 12 5.39 at 1189 / 0.73 at 781, and
# few players decode it, so .mkv gets the same.
X264_OPTIONS = {"preset": "medium"}
# ProRes 4444 (10-bit 4:4:4): 4.37 / 0.70 (ProRes 422: 6.81 / 1.20). An
# editing format: 6-8 Mbit/s at these sizes is the price of no chroma loss.
PRORES_4444 = {"profile": "4"}
# VP9 profile 0 (4:2:0 plays in every browser), chroma filtered, crf 12
# (DEFAULT_CRF), about the .mp4 default's size: 5.61 at 1112 / 0.88 at 507
# (crf 31: 8.09 at 455 / 1.24 at 179); 4:4:4 (profile 1) crf 18 was no
# steadier than 4:2:0 crf 18 (6.45 vs 6.33 / 1.04 vs 1.00) at 40% more.
VP9_OPTIONS = {"row-mt": "1", "deadline": "good", "cpu-used": "4"}
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    ".mp4": OutputFormat("libx264", "yuv420p", "aac", MP4_AUDIO, X264_OPTIONS),
    ".m4v": OutputFormat("libx264", "yuv420p", "aac", MP4_AUDIO, X264_OPTIONS),
    ".mkv": OutputFormat("libx264", "yuv420p", "aac", None, X264_OPTIONS),
    ".mov": OutputFormat(
        "prores_ks", "yuv444p10le", "aac", MP4_AUDIO | {"pcm_s16le", "pcm_s24le"}, PRORES_4444
    ),  # ProRes 4444
    ".webm": OutputFormat("libvpx-vp9", "yuv420p", "libopus", frozenset({"opus", "vorbis"}), VP9_OPTIONS),
    ".gif": OutputFormat("gif", "pal8", None, frozenset(), {}),
}
# Stylized frames are dense high-frequency texture and the encoder's noise
# counts as flicker, so the quality is higher than each encoder's usual
# default (measured as above, chroma through the Gaussian; x265 crf 18 5.77
# at 656 / 0.71 at 352;
# SVT-AV1 crf 28 6.50 at 453 / 0.65 at 182, crf 35 7.41 at 300 / 0.72 at 136).
DEFAULT_CRF = {"libx264": 12, "libx265": 18, "libvpx-vp9": 12, "libsvtav1": 28}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the sample rates libopus takes
GIF_TIME_BASE = Fraction(1, 100)  # GIF stores frame delays in hundredths of a second
# Numbered image files an image sequence (out/%05d.png) can be written as.
SEQUENCE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
# Encoding converts to BT.709 limited range and tags the stream so, so that players agree.
BT709, LIMITED_RANGE = 1, 1  # FFmpeg's AVCOL_* numbers for the stream's colour tags
# RGB -> subsampled chroma (4:2:0, 4:2:2), as swscale flags. Unasked, swscale
# averages pairs of pixels horizontally and filters bilinearly vertically:
# fine colour texture moving by subpixel amounts aliases into chroma flicker.
# A tent filter over the full-resolution chroma (FULL_CHR_H_INP) holds it
# back (benchmarks/encoding.py, x264 crf 12: flicker 5.30 -> 5.19 and 0.695
# -> 0.687, files 2% smaller). swscale's GAUSS was a little steadier (5.14,
# 0.684) but smeared colour edges: mean error on FFmpeg's testsrc2 5.0 -> 8.0
# (bilinear 7.3; LANCZOS 4.0 but less steady than the default, 5.77).
CHROMA_DOWNSAMPLING = ("BILINEAR", "FULL_CHR_H_INP", "ACCURATE_RND")
# Odd sides resized to even for such formats: area for luma, chroma from full resolution.
RESIZED_DOWNSAMPLING = ("AREA", "FULL_CHR_H_INP", "ACCURATE_RND")
_SUBSAMPLED_PREFIXES = ("yuv420", "yuv422", "yuv411", "yuva420", "yuva422", "nv12", "nv21", "p010")


def is_video_path(path) -> bool:
    """True when the extension of ``path`` names a video container vidstyle writes."""
    return os.path.splitext(os.fspath(path))[1].lower() in OUTPUT_FORMATS


def check_video_destination(dst: str, *, overwrite: bool, input_paths: Sequence[str]) -> str:
    """Validate a video output path; returns its lower-case extension.

    OutputError (exit code 2) for: an unknown extension (naming the ones that
    work, and the image-sequence form for image extensions), a missing folder,
    a destination that is one of ``input_paths`` (even with ``overwrite``), a
    directory, or an existing file without ``overwrite``.
    """
    ext = os.path.splitext(dst)[1].lower()
    if ext not in OUTPUT_FORMATS:
        raise unknown_extension_error(dst)
    check_destination(dst, overwrite=overwrite, input_paths=input_paths)
    return ext


def unknown_extension_error(dst: str) -> OutputError:
    """The OutputError (exit code 2) for an output name vidstyle cannot
    write: it names the video extensions that work, and the image-sequence
    form when the extension is an image's."""
    ext = os.path.splitext(dst)[1].lower()
    hint = f" or an image sequence like out/%05d{ext}" if ext in SEQUENCE_EXTENSIONS else ""
    return OutputError(
        f"unknown output extension {ext or '(none)'!r} for {dst}; use one of {', '.join(OUTPUT_FORMATS)}{hint}"
    )


def needs_even_size(pix_fmt: str) -> bool:
    """Chroma subsampled horizontally or vertically (4:2:0, 4:2:2, 4:1:1):
    such an encoder needs even width and height."""
    return pix_fmt.startswith(_SUBSAMPLED_PREFIXES)


def conversion_flags(pix_fmt: str, *, resizing: bool) -> tuple[str, ...]:
    """The swscale flags (``Interpolation`` names) converting RGB frames to
    ``pix_fmt``: the chroma filter for subsampled formats (``CHROMA_DOWNSAMPLING``),
    area resizing when the size changes, else none (FFmpeg's default)."""
    if needs_even_size(pix_fmt):
        return RESIZED_DOWNSAMPLING if resizing else CHROMA_DOWNSAMPLING
    return ("AREA",) if resizing else ()


def is_rgb_pix_fmt(pix_fmt: str) -> bool:
    """RGB or palette pixels (no YUV matrix, no colour tags)."""
    return pix_fmt.startswith(("rgb", "bgr", "gbr", "pal"))


def pick_pix_fmt(fmt: OutputFormat, supported: Sequence[str], *, codec_overridden: bool) -> str:
    """The extension's pixel format, or, for an encoder chosen with ``codec``
    that does not take it, yuv420p when it can, else its first format.
    ``supported``: the encoder's pixel formats (empty: unknown, take any)."""
    wanted = fmt.pix_fmt
    if not codec_overridden or not supported or wanted in supported:
        return wanted
    return "yuv420p" if "yuv420p" in supported else supported[0]


def encoder_options(
    fmt: OutputFormat, encoder: str, *, codec_overridden: bool, crf: int | None, bitrate: int | None
) -> tuple[dict[str, str], int | None]:
    """The FFmpeg options of ``encoder`` and its bit rate (bits/s; 0: constant
    quality; None: the encoder's default).

    A ``bitrate`` wins over ``crf``; without either, encoders in DEFAULT_CRF
    get their default quality. The extension's options apply only to its own
    encoder, not to one chosen with ``codec``."""
    options = {} if codec_overridden else dict(fmt.options)
    bit_rate = None
    if bitrate:
        bit_rate = int(bitrate)
    elif crf is not None or encoder in DEFAULT_CRF:
        options["crf"] = str(crf if crf is not None else DEFAULT_CRF[encoder])
        if encoder == "libvpx-vp9":
            bit_rate = 0  # constant quality mode
    if codec_overridden and encoder == "libx264":
        options.setdefault("preset", "medium")
    if encoder == "libx265":
        options.setdefault("x265-params", "log-level=error")  # x265 prints a page of info to stderr
    return options, bit_rate
