"""The seam between the pipeline and the files it writes: the ``FrameWriter``
protocol every file output satisfies, and ``open_writer``, which picks the
writer an output name asks for from a table.

A new kind of output is one class that satisfies ``FrameWriter`` plus one
row in ``WRITERS``; the pipeline does not change.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Protocol, runtime_checkable

from vidstyle.errors import OutputError
from vidstyle.frames import Frame
from vidstyle.media.formats import is_video_path, unknown_extension_error
from vidstyle.media.sequence import ImageSequenceWriter, is_sequence_pattern
from vidstyle.media.video_writer import VideoWriter


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
    )
    for kind in WRITERS:
        if kind.accepts(dst):
            return kind.open(dst, options)
    raise unknown_extension_error(dst)
