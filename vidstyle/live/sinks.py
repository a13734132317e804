"""Where live frames go: a recording, a network stream or loopback camera, a
preview window. Each is a ``Sink``; the live loop hands every stylized frame
to every sink and closes them all at the end, whatever ended the run.

Output timestamps are the wall clock: ``pts`` in ``OUTPUT_TIME_BASE`` (ms)
since the loop started, so a recording plays at the pace it was made,
dropped frames and all.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from fractions import Fraction
from typing import Protocol

import numpy as np

from vidstyle.errors import InputError, OutputError
from vidstyle.frames import Frame
from vidstyle.media.formats import OUTPUT_FORMATS, SEQUENCE_EXTENSIONS

OUTPUT_TIME_BASE = Fraction(1, 1000)  # output timestamps: milliseconds of wall clock since the start
PREVIEW_DISPLAY_SIDE = 512  # the preview window shows frames enlarged to this longer side
PREVIEW_TITLE = "vidstyle live"
KEY_WAIT_MS = 1  # cv2.waitKey: poll the keyboard without blocking
ESC_KEY = 27


class Sink(Protocol):
    """Where stylized frames go. ``output`` carries the stylized uint8 RGB
    pixels and the wall-clock pts in ``OUTPUT_TIME_BASE``; ``source`` is the
    input frame it was made from (same size).

    A sink may also have ``hold_until(end_pts)``: after a clean stop the live
    loop calls it before ``close`` with the run's end (``OUTPUT_TIME_BASE``
    ticks), for outputs that should last as long as the run (``RecordingSink``).
    """

    def write(self, output: Frame, source: Frame) -> None: ...

    def close(self) -> None: ...


class RecordingSink:
    """Records into a video file through ``media.VideoWriter`` (atomic: the
    file appears when ``close()`` finalizes it). Stopped before any frame,
    nothing is written and ``path`` is None.

    Timestamps are the wall clock since the run started (the frames' pts),
    except that the first frame recorded is shown from 0, the start (there
    is no picture before it, and it is made from the first frame captured),
    and ``hold_until`` before ``close`` holds the last one until the run
    stopped: the recording lasts as long as the run, however long the first
    frame (a cold start) took and however slowly frames came.

    Args:
        fps: the fastest rate frames can come at: the source's frame rate when
            known. It is the encoder's rate hint and the duration the muxer
            gives the last frame; a slower hint (the target rate) makes the
            last frame of a fast run outlast the others, and readers take the
            file for truncated.

    Raises OutputError for a bad destination: an image or image-sequence name
    (``check_recording_name``), else from the writer.
    """

    def __init__(
        self, path, *, width: int, height: int, fps: float, overwrite: bool = False, input_paths: Sequence[str] = ()
    ):
        from vidstyle.media import VideoWriter

        check_recording_name(os.fspath(path))
        self.path: str | None = os.fspath(path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self._last: Frame | None = None
        self._writer = VideoWriter(
            self.path,
            width=width,
            height=height,
            time_base=OUTPUT_TIME_BASE,
            fps=self.fps,
            shift_to_zero=True,
            overwrite=overwrite,
            input_paths=input_paths,
        )

    def write(self, output: Frame, source: Frame) -> None:
        if self._last is None and self._writer.frames_written == 0 and output.pts is not None:
            output = dataclasses.replace(output, pts=0)  # shown from the start of the run
        self._writer.write(output)
        self._last = output

    def hold_until(self, end_pts: int) -> None:
        """Make the recording last until ``end_pts`` (``OUTPUT_TIME_BASE``
        ticks of the live loop's clock, as the frames' pts), exactly: the
        muxer gives the last frame ``1 / fps``, so without this a run whose
        frames come slowly ends its recording long before the run ended.
        Writes the last frame again (one more frame in the file, the same
        picture) at ``end_pts - 1 / fps``, or just after the last frame when
        that is later, lasting until ``end_pts``; nothing when none was
        recorded or the last frame is not before ``end_pts - 1``."""
        last = self._last
        if last is None or last.pts is None:
            return
        pts = max(last.pts + 1, end_pts - round(1 / (self.fps * OUTPUT_TIME_BASE)))
        if pts < end_pts:
            held = dataclasses.replace(last, pts=pts, duration=end_pts - pts, time_base=OUTPUT_TIME_BASE)
            self._writer.write(held)
            self._last = None

    def close(self) -> None:
        if self._writer.frames_written:
            self._writer.close()
        else:
            self._writer.abort()
            self.path = None


class StreamSink:
    """Sends frames to a network URL or a V4L2 loopback device (``media.StreamWriter``)."""

    def __init__(self, target: str, *, width: int, height: int, fps: float, format: str | None = None):
        from vidstyle.media import StreamWriter

        self._writer = StreamWriter(target, width=width, height=height, fps=fps, format=format)

    def write(self, output: Frame, source: Frame) -> None:
        self._writer.write(output)

    def close(self) -> None:
        self._writer.close()


class PreviewWindow:
    """An OpenCV window showing the output (or input | output side by side),
    enlarged to ``PREVIEW_DISPLAY_SIDE``. ``poll()`` reads the keyboard:
    q or Esc quits, space pauses, s saves a still.

    Raises InputError when there is no display to open a window on.
    """

    KEYS = {ord("q"): "quit", ESC_KEY: "quit", ord(" "): "pause", ord("s"): "save"}

    def __init__(self, *, side_by_side: bool = False, title: str = PREVIEW_TITLE):
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise InputError("--preview needs a display (DISPLAY is not set); record with -o instead")
        import cv2

        self._cv2 = cv2
        self.side_by_side = side_by_side
        self.title = title
        self._cv2.namedWindow(self.title, self._cv2.WINDOW_AUTOSIZE)

    def write(self, output: Frame, source: Frame) -> None:
        image = np.hstack([source.image_u8, output.image_u8]) if self.side_by_side else output.image_u8
        scale = max(1.0, PREVIEW_DISPLAY_SIDE / max(output.size))
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        shown = self._cv2.resize(image, size, interpolation=self._cv2.INTER_CUBIC)
        self._cv2.imshow(self.title, self._cv2.cvtColor(shown, self._cv2.COLOR_RGB2BGR))

    def poll(self) -> str | None:
        """``quit``, ``pause``, ``save`` or None; also lets the window redraw.
        Closing the window quits."""
        key = self._cv2.waitKey(KEY_WAIT_MS)
        if self._cv2.getWindowProperty(self.title, self._cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return self.KEYS.get(key & 0xFF) if key >= 0 else None

    def close(self) -> None:
        self._cv2.destroyWindow(self.title)


def check_recording_name(dst: str) -> None:
    """OutputError (exit code 2) for ``-o`` naming an image or an image
    sequence: a live recording is a video file, whose timestamps keep the
    pace of a run that drops frames (a sequence has none)."""
    folder, name = os.path.split(dst)
    stem, ext = os.path.splitext(name)
    if "%" not in name and ext.lower() not in SEQUENCE_EXTENSIONS:
        return
    suggestion = (
        (folder.rstrip("/" + os.sep) or "live") + ".mp4" if "%" in name else os.path.join(folder, stem + ".mp4")
    )
    raise OutputError(
        f"-o {dst}: live mode records to a video file ({' '.join(OUTPUT_FORMATS)}), not to images or an image "
        f"sequence; e.g. -o {suggestion}"
    )
