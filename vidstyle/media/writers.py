"""The seam between the pipeline and the files it writes: the ``FrameWriter``
protocol every file output satisfies, and ``open_writer``, which picks the
writer an output name asks for from a table.

A new kind of output is one class that satisfies ``FrameWriter`` plus one
row in ``WRITERS``; the pipeline does not change.

What an output can and cannot keep of its source is decided here too, before
any work: the shape of its pixels (``output_sample_aspect_ratio``,
``pixel_aspect_note``) and, for a GIF, its frame rate (``check_output_rate``,
``output_rate_note``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Protocol, runtime_checkable

import av

from vidstyle.errors import OutputError
from vidstyle.frames import Frame
from vidstyle.media.formats import OUTPUT_FORMATS, is_video_path, unknown_extension_error
from vidstyle.media.reading import VideoInfo
from vidstyle.media.sequence import ImageSequenceWriter, is_sequence_pattern
from vidstyle.media.video_writer import GIF_MAX_FPS, VideoWriter


@runtime_checkable
class FrameWriter(Protocol):
    """A file output that takes finished frames one at a time and appears
    only when complete.

    Lifecycle: construct (the destination is checked before any work, see
    ``open_writer``), ``write`` each frame in order, then exactly one of:

    - ``close()``: the run finished; the output appears at ``dst``;
    - ``close_partial()``: the run was interrupted (Ctrl-C, a corrupt input);
      what was written appears under a clearly partial name;
    - ``abort()``: the run failed; nothing appears and ``dst`` is left as it was.

    A writer is also a context manager: leaving the ``with`` block normally
    closes it, leaving it by an exception (or a failing ``close()``) aborts it.

    Attributes:
        dst: the output path or pattern, as given.
        frames_written: frames taken by ``write`` so far.
        takes_audio: the output can carry the source's audio (a video
            container other than GIF); False: the audio is left out.
        stored_size: ``(width, height)`` the output stores, which may be a
            pixel less than the frames' on a side (4:2:0 video needs even sides).
    """

    dst: str

    @property
    def frames_written(self) -> int: ...

    @property
    def takes_audio(self) -> bool: ...

    @property
    def stored_size(self) -> tuple[int, int]: ...

    def write(self, frame: Frame) -> None:
        """Add one frame: ``frame.image_u8`` uint8 ``(height, width, 3)`` RGB
        at the writer's size; ``frame.pts``/``frame.time_base`` time it where
        the output has a timeline.

        Raises ValueError for another shape or after the writer was closed;
        OutputError (exit code 1, the temporary output removed) when writing
        fails: disk full, encoder error, the output folder deleted
        (``OutputFolderRemoved``); CorruptInputError when the source that a
        writer reads beside the frames (a video's audio) fails part-way,
        after which ``close_partial()`` still keeps what was written.
        """
        ...

    def close(self) -> str:
        """Finish the output and move it into place; returns where it is
        (``dst``). Leftovers of earlier interrupted runs to the same ``dst``
        (partial outputs, temporary files of killed runs) are removed. A
        second call does nothing.

        Raises OutputError when no frame was written or finishing fails."""
        ...

    def close_partial(self) -> str | None:
        """Finish what was written under a partial name beside ``dst``
        (``out.partial.mp4``, ``out/%05d.partial.png``) and return that name;
        None, leaving nothing behind, when no frame was written."""
        ...

    def abort(self) -> None:
        """Remove the temporary output; ``dst`` is left as it was. Safe to
        call more than once, and after ``close()``."""
        ...

    def __enter__(self) -> FrameWriter: ...

    def __exit__(self, exc_type, exc, tb) -> None: ...


@dataclasses.dataclass(frozen=True)
class WriterOptions:
    """Everything ``open_writer`` was asked for; each opener takes what its
    kind of output uses and refuses options it cannot honour. Sizes in pixels,
    times in seconds, ``bitrate`` in bits per second; see ``open_writer``."""

    width: int
    height: int
    time_base: Fraction | None
    fps: Fraction | None
    audio_from: str | None
    audio_start_s: float | None
    audio_end_s: float | None
    codec: str | None
    crf: int | None
    bitrate: int | None
    overwrite: bool
    input_paths: Sequence[str]
    sample_aspect_ratio: Fraction | None = None


@dataclasses.dataclass(frozen=True)
class WriterKind:
    """One row of the writer table.

    Attributes:
        name: what the writer writes, for messages ("image sequence").
        accepts: does an output path ask for this writer.
        open: ``open(dst, options) -> FrameWriter``.
    """

    name: str
    accepts: Callable[[str], bool]
    open: Callable[[str, WriterOptions], FrameWriter]


def _open_image_sequence(dst: str, options: WriterOptions) -> FrameWriter:
    if options.codec or options.crf is not None or options.bitrate:
        raise OutputError("--codec, --crf and --bitrate apply to video files, not to image sequences")
    return ImageSequenceWriter(
        dst, width=options.width, height=options.height, overwrite=options.overwrite, input_paths=options.input_paths
    )


def _open_video_file(dst: str, options: WriterOptions) -> FrameWriter:
    if options.time_base is None:
        raise ValueError(f"a video file needs the frames' time_base: {dst}")
    return VideoWriter(
        dst,
        width=options.width,
        height=options.height,
        time_base=options.time_base,
        fps=options.fps,
        audio_from=options.audio_from,
        audio_start_s=options.audio_start_s,
        audio_end_s=options.audio_end_s,
        codec=options.codec,
        crf=options.crf,
        bitrate=options.bitrate,
        overwrite=options.overwrite,
        input_paths=options.input_paths,
        sample_aspect_ratio=options.sample_aspect_ratio,
    )


# First match wins: a numbered pattern (out/%05d.png) is an image sequence
# whatever its extension; otherwise the extension must name a video container.
WRITERS: tuple[WriterKind, ...] = (
    WriterKind("image sequence", is_sequence_pattern, _open_image_sequence),
    WriterKind("video file", is_video_path, _open_video_file),
)


def open_writer(
    dst,
    *,
    width: int,
    height: int,
    time_base: Fraction | None = None,
    fps: Fraction | None = None,
    audio_from: str | None = None,
    audio_start_s: float | None = None,
    audio_end_s: float | None = None,
    codec: str | None = None,
    crf: int | None = None,
    bitrate: int | None = None,
    overwrite: bool = False,
    input_paths: Sequence[str] = (),
    sample_aspect_ratio: Fraction | None = None,
) -> FrameWriter:
    """The writer the output name asks for (the first row of ``WRITERS`` that
    accepts it): an image sequence for a numbered pattern (``out/%05d.png``),
    else a video file whose extension picks the container (``.mp4``, ``.m4v``,
    ``.mkv``, ``.mov``, ``.webm``, ``.gif``).

    Args:
        dst: output path or pattern.
        width, height: size in pixels of the frames that will be written.
        time_base: seconds per tick of the frames' pts (video files).
        fps: nominal frame rate (video files; frames without pts).
        audio_from: a file whose first audio stream goes along, where the
            output can carry audio (see ``FrameWriter.takes_audio``).
        audio_start_s, audio_end_s: the source range written, in seconds.
        codec, crf, bitrate: encoder overrides (video files only; an image
            sequence refuses them).
        overwrite: replace an existing output.
        input_paths: files never to be overwritten, even with ``overwrite``.
        sample_aspect_ratio: the frames' pixels are shown this much wider
            than tall (``output_sample_aspect_ratio``); a video file other
            than GIF marks it, a GIF or an image sequence cannot
            (``pixel_aspect_note`` says so).

    Raises:
        OutputError: exit code 2, before any work, for a name no writer takes
            (an unknown extension), options the chosen writer cannot honour,
            or a bad destination (missing folder, exists without
            ``overwrite``, one of ``input_paths``); exit code 1 when the
            encoder cannot be set up.
    """
    dst = os.fspath(dst)
    options = WriterOptions(
        width=width,
        height=height,
        time_base=time_base,
        fps=fps,
        audio_from=audio_from,
        audio_start_s=audio_start_s,
        audio_end_s=audio_end_s,
        codec=codec,
        crf=crf,
        bitrate=bitrate,
        overwrite=overwrite,
        input_paths=tuple(map(os.fspath, input_paths)),
        sample_aspect_ratio=sample_aspect_ratio,
    )
    for kind in WRITERS:
        if kind.accepts(dst):
            return kind.open(dst, options)
    raise unknown_extension_error(dst)


# Containers with a field of their own for the pixels' shape that vidstyle can
# set (MP4/MOV's pasp box), and codecs that carry it in the bitstream (H.264 and
# HEVC VUI, MPEG-4): Matroska/WebM read it from the stream's own field, which
# PyAV does not expose, so there only these codecs keep it (measured:
# VP9 in .webm/.mkv and ProRes in .mkv come out square).
PIXEL_ASPECT_CONTAINERS = frozenset({".mp4", ".m4v", ".mov"})
PIXEL_ASPECT_CODECS = frozenset({"h264", "hevc", "mpeg4"})


def marks_pixel_aspect(dst, codec: str | None = None) -> bool:
    """The output ``dst``, written with ``codec`` (None: its extension's
    encoder), can say its pixels are not square."""
    dst = os.fspath(dst)
    if is_sequence_pattern(dst) or not is_video_path(dst):
        return False
    ext = os.path.splitext(dst)[1].lower()
    if ext in PIXEL_ASPECT_CONTAINERS:
        return True
    try:
        family = av.codec.Codec(codec or OUTPUT_FORMATS[ext].video_codec, "w").canonical_name
    except (av.codec.codec.UnknownCodecError, ValueError, KeyError):
        return False
    return family in PIXEL_ASPECT_CODECS


def output_sample_aspect_ratio(
    source_sar: Fraction, source_size: tuple[int, int], out_size: tuple[int, int]
) -> Fraction:
    """The sample aspect ratio (pixel width over height) that shows frames of
    ``out_size`` = (width, height) as the source, ``source_size`` pixels of
    ``source_sar``, is shown: the source's own at its size, else adjusted for
    the change of shape (as FFmpeg's scale filter does), so that an
    ``--output-size`` of the source's displayed shape (128x36 for 64x36 at
    2:1) has square pixels. A square-pixel source gives 1: an output size of
    another shape stretches its picture, as asked."""
    source_sar = Fraction(source_sar)
    if source_sar == 1:
        return Fraction(1)
    (width, height), (out_width, out_height) = source_size, out_size
    return (source_sar * width * out_height / (height * out_width)).limit_denominator(65535)


def _ratio(value: Fraction) -> str:
    return f"{value.numerator}:{value.denominator}"


def _shown_size(size: tuple[int, int], sar: Fraction) -> tuple[int, int]:
    """``size`` = (width, height) of pixels ``sar`` wide as a player shows it
    (wider pixels widen the picture, narrower ones make it taller)."""
    width, height = size
    return (round(width * sar), height) if sar >= 1 else (width, round(height / sar))


def pixel_aspect_note(
    src,
    dst,
    *,
    source_sar: Fraction,
    source_size: tuple[int, int],
    out_size: tuple[int, int],
    codec: str | None = None,
) -> str | None:
    """The note for a source with non-square pixels (None for square ones, or
    an output of square pixels): whether ``dst`` keeps them (a video file
    marks them: it shows as the source does) or cannot (a GIF, an image
    sequence: it shows squeezed), and what that does to the strokes, which
    are painted on the stored pixels."""
    sar = output_sample_aspect_ratio(source_sar, source_size, out_size)
    if sar == 1:
        return None
    dst = os.fspath(dst)
    src_name, dst_name = os.path.basename(os.fspath(src)), dst if is_sequence_pattern(dst) else os.path.basename(dst)
    shown = _shown_size(source_size, Fraction(source_sar))
    head = (
        f"{src_name} has non-square pixels (SAR {_ratio(Fraction(source_sar))}: its "
        f"{source_size[0]}x{source_size[1]} pixels are shown as {shown[0]}x{shown[1]})"
    )
    if not marks_pixel_aspect(dst, codec):
        kind = "an image sequence" if is_sequence_pattern(dst) else f"a {os.path.splitext(dst_name)[1]} file"
        if codec is not None and not is_sequence_pattern(dst):
            kind += f" of {codec} video"
        square = _shown_size(out_size, sar)
        return (
            f"{head}; {kind} cannot mark non-square pixels, so {dst_name} shows "
            f"{'squeezed' if sar > 1 else 'stretched'} at {out_size[0]}x{out_size[1]} "
            f"(--output-size {square[0]}x{square[1]} writes square pixels that show as the source does)"
        )
    stretch = f"{float(sar):.3g}x wide" if sar > 1 else f"{float(1 / sar):.3g}x tall"
    return (
        f"{head}; {dst_name} keeps them (SAR {_ratio(sar)}) and shows as the source does; the style's strokes "
        f"are painted on the stored pixels, so they come out stretched {stretch}"
    )


def _is_gif(dst: str) -> bool:
    """``dst`` names a GIF file (not an image sequence)."""
    return not is_sequence_pattern(dst) and os.path.splitext(dst)[1].lower() == ".gif"


def check_output_rate(dst, fps: Fraction | None) -> None:
    """OutputError (exit code 2), before any work, for an ``--fps`` a GIF
    cannot show: above ``GIF_MAX_FPS`` (GIF frame delays are whole hundredths
    of a second, and players show delays under 2/100 s as 1/10 s, so the
    clip would play slower than its source)."""
    dst = os.fspath(dst)
    if fps is None or not _is_gif(dst):
        return
    if Fraction(fps) > GIF_MAX_FPS:
        raise OutputError(
            f"--fps {float(fps):g}: a .gif file shows at most {GIF_MAX_FPS} frames per second (its frame delays "
            "are whole hundredths of a second, and players show delays under 2/100 s as 1/10 s); "
            f"use --fps {GIF_MAX_FPS} or less"
        )


def output_rate_note(src, dst, fps: Fraction | None) -> str | None:
    """The note for a GIF ``dst`` from a source shown at ``fps`` (its rate,
    or ``--fps``) above ``GIF_MAX_FPS``: frames closer than 1/50 s to the
    one before are left out (``VideoWriter``), the duration stays; else None."""
    dst = os.fspath(dst)
    if fps is None or not _is_gif(dst):
        return None
    if Fraction(fps) <= GIF_MAX_FPS:
        return None
    return (
        f"{os.path.basename(os.fspath(src))} runs at {float(fps):.4g} fps and a .gif file shows at most "
        f"{GIF_MAX_FPS}: frames less than 1/{GIF_MAX_FPS} s after the one before are left out of "
        f"{os.path.basename(dst)}, which keeps the source's duration (--fps {GIF_MAX_FPS} stylizes only "
        "the frames shown)"
    )


def output_notes(
    src, dst, *, info: VideoInfo, out_size: tuple[int, int], fps: Fraction | None, codec: str | None = None
) -> list[str]:
    """The notes about what ``dst`` keeps of the source ``info`` (``src``),
    written at ``out_size`` with ``codec`` (``--codec``) and shown at ``fps``
    frames per second (``--fps``, else the source's): non-square pixels
    (``pixel_aspect_note``) and a GIF's frame rate (``output_rate_note``)."""
    notes = [
        pixel_aspect_note(
            src,
            dst,
            source_sar=info.sample_aspect_ratio,
            source_size=(info.width, info.height),
            out_size=out_size,
            codec=codec,
        ),
        output_rate_note(src, dst, fps),
    ]
    return [note for note in notes if note is not None]
