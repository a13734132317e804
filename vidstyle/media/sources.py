"""Live video in with PyAV: cameras, network streams, lavfi test sources,
and files replayed as if they were cameras (the inputs of ``vidstyle live``).

Frames come out exactly as from ``reading.read_frames`` (one decoding path:
colour matrix, rotation): upright uint8 ``(H, W, 3)`` RGB ``Frame``s carrying
the source's ``pts`` and ``time_base``.

Sources (``open_source``):

- ``/dev/videoN``: a V4L2 camera (``--input-size``, ``--input-fps``,
  ``--input-format`` choose the mode the camera delivers);
- ``rtsp://``, ``rtmp://``, ``http(s)://``, ``udp://``, ``tcp://``, ``srt://``
  URLs, with open/read timeouts;
- ``lavfi:GRAPH``, e.g. ``lavfi:testsrc2=size=320x240:rate=30``: FFmpeg's
  synthetic sources, for tests and benchmarks;
- a video file, replayed as if it were a camera.

lavfi graphs and files decode as fast as the CPU allows, so they are *paced*:
each frame is held back until its timestamp comes due on the wall clock, as
``ffmpeg -re`` does. So is a stored clip at an ``http(s)://`` URL (a file, or
an HLS playlist that is finished): it downloads faster than real time. Cameras
and live streams pace themselves.

Nothing a source sends is thrown away here: no ``fflags=nobuffer``, which
discards the packets FFmpeg reads while it probes the stream (measured: a clip
over HTTP lost its first second or all its frames, a VP9 WebM would not
decode, a UDP stream lost its first keyframe and so its first GOP). What a
live run cannot use is dropped later, in the one-slot mailbox (``live/capture.py``).
Undecodable packets before the first picture (a stream joined between
keyframes) are skipped.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Generator, Iterator
from fractions import Fraction
from urllib.parse import urlparse

import av

from vidstyle.errors import CorruptInputError, InputError
from vidstyle.frames import Frame, fit_size
from vidstyle.media.reading import choose_video_stream, display_size, error_reason, frame_to_rgb, is_still_image

LAVFI_PREFIX = "lavfi:"
DEVICE_PREFIX = "/dev/video"
SOURCE_FORMS = "a live source is /dev/videoN, a URL (rtsp://, http(s)://, udp://...), lavfi:GRAPH or a video file"
URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")
OPEN_TIMEOUT_S = 10.0  # give up on a source that does not answer within this
READ_TIMEOUT_S = 10.0  # ...or that stops sending frames for this long
LOW_DELAY_OPTIONS = {"flags": "low_delay"}  # network sources; not fflags=nobuffer (see above)
STORED_CLIP_SCHEMES = ("http", "https")  # URLs that may be a stored clip rather than a live stream: paced if so
PLAYLIST_FORMATS = frozenset({"hls", "dash"})  # demuxers whose input size is the playlist's, not the video's
MAX_SKIPPED_PACKETS = 300  # undecodable packets skipped before the first picture (~10 s at 30 fps: a keyframe interval)
RTSP_OPTIONS = {"rtsp_transport": "tcp"}  # no lost packets, no smeared frames
MAX_PACING_SLEEP_S = 1.0  # a paced source never waits longer than this for one frame
V4L2_FORMAT = "video4linux2"  # FFmpeg's name of the V4L2 device (de)muxer
MODE_OPTIONS = ("input_size", "input_fps", "input_format")  # what a capture device is asked for (parse_source)


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """How to open one live source.

    Attributes:
        kind: ``device``, ``url``, ``lavfi`` or ``file``.
        target: what ``av.open`` gets (device path, URL, filter graph, path).
        format: FFmpeg input format, or None to let FFmpeg guess.
        options: FFmpeg options of the input (``video_size``, ``framerate``...).
        paced: frames are held back to their timestamps (lavfi, files);
            None: decided when opened (``http(s)://``: paced when it is a
            stored clip, see ``LiveSource.paced``).
    """

    kind: str
    target: str
    format: str | None
    options: dict[str, str]
    paced: bool | None


def parse_source(
    text: str,
    *,
    input_size: tuple[int, int] | None = None,
    input_fps: float | None = None,
    input_format: str | None = None,
) -> SourceSpec:
    """Classify ``text`` as a device, URL, lavfi graph or file.

    ``input_size`` (width, height), ``input_fps`` and ``input_format`` (e.g.
    ``mjpeg``) ask a camera for one of its modes; other sources ignore them
    (``ignored_mode_notes`` says so).

    Raises InputError for anything else (with the forms that are accepted).
    """
    if text.startswith(LAVFI_PREFIX):
        graph = text[len(LAVFI_PREFIX) :]
        if not graph:
            raise InputError("empty lavfi source; use e.g. lavfi:testsrc2=size=320x240:rate=30")
        return SourceSpec("lavfi", graph, "lavfi", {}, paced=True)
    if text.startswith(DEVICE_PREFIX):
        if not os.path.exists(text):
            raise InputError(f"no such video device: {text}")
        options = _device_options(input_size, input_fps, input_format)
        return SourceSpec("device", text, V4L2_FORMAT, options, paced=False)
    scheme = urlparse(text).scheme.lower()
    if scheme in URL_SCHEMES:
        options = {**LOW_DELAY_OPTIONS, **(RTSP_OPTIONS if scheme.startswith("rtsp") else {})}
        return SourceSpec("url", text, None, options, paced=None if scheme in STORED_CLIP_SCHEMES else False)
    if "://" not in text:
        if os.path.isfile(text):
            return SourceSpec("file", text, None, {}, paced=True)
        if not os.path.exists(text):
            raise InputError(f"no such file: {text} ({SOURCE_FORMS})")
    raise InputError(f"unknown live source {text!r} ({SOURCE_FORMS})")


def ignored_mode_notes(spec: SourceSpec, **modes) -> list[str]:
    """The note, in a list (empty when there is none), naming the camera modes
    asked for (``input_size``, ``input_fps``, ``input_format`` not None, as
    ``vidstyle live`` flags) that ``spec``'s source ignores: any source but a
    capture device (a lavfi graph, a file or a stream delivers its own)."""
    asked = [f"--{name.replace('_', '-')}" for name in MODE_OPTIONS if modes.get(name) is not None]
    if not asked or spec.kind == "device":
        return []
    return [f"{', '.join(asked)} apply to capture devices ({DEVICE_PREFIX}N) only; ignored for {_describe(spec)}"]


def _device_options(size: tuple[int, int] | None, fps: float | None, pixel_format: str | None) -> dict[str, str]:
    options = {}
    if size is not None:
        options["video_size"] = f"{size[0]}x{size[1]}"
    if fps is not None:
        options["framerate"] = f"{fps:g}"
    if pixel_format is not None:
        options["input_format"] = pixel_format
    return options


class LiveSource:
    """An open live source; a context manager. Iterate ``frames()`` on one
    thread only (PyAV containers are not thread-safe).

    Args:
        spec: from ``parse_source``.
        open_timeout_s, read_timeout_s: network/device timeouts in seconds.

    Attributes:
        paced: frames are held back to their timestamps: ``spec.paced``, or
            for an ``http(s)://`` URL whether it is a stored clip (a duration
            or a length known: a file, a finished HLS playlist) rather than a
            live stream.

    Raises:
        InputError: the source cannot be opened (nothing arrived within
            ``open_timeout_s``) or has no video stream.
    """

    def __init__(
        self, spec: SourceSpec, *, open_timeout_s: float = OPEN_TIMEOUT_S, read_timeout_s: float = READ_TIMEOUT_S
    ):
        self.spec = spec
        self.read_timeout_s = read_timeout_s
        self._closed = False
        try:
            self.container = av.open(
                spec.target, format=spec.format, options=dict(spec.options), timeout=(open_timeout_s, read_timeout_s)
            )
        except av.error.ExitError as err:  # the timeout's interrupt: FFmpeg says "Immediate exit requested"
            raise InputError(f"no data arrived from {_describe(spec)} in {open_timeout_s:g} s") from err
        except (av.error.FFmpegError, OSError) as err:
            raise InputError(f"cannot open live source {_describe(spec)}: {error_reason(err)}") from err
        stream = choose_video_stream(self.container)  # as for a file: not cover art or a thumbnail
        if stream is None:
            self.container.close()
            raise InputError(f"no video stream in live source {_describe(spec)}")
        self.stream = stream
        self.stream.thread_type = "AUTO"
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.nominal_fps: Fraction | None = Fraction(rate) if rate else None
        self.paced: bool = spec.paced if spec.paced is not None else _is_stored_clip(self.container)

    @property
    def name(self) -> str:
        return _describe(self.spec)

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the container; a second call does nothing."""
        if not self._closed:
            self._closed = True
            self.container.close()

    def frames(self, *, max_side: int | None = None, size: tuple[int, int] | None = None) -> Iterator[Frame]:
        """Decode frames as they arrive (paced sources: as their timestamps come due).

        The generator owns the source: exhausting or closing it (on the thread
        that iterates it) closes the container.

        Args:
            max_side: scale so the longer side is at most this many pixels
                (even sizes, aspect kept), decided on the first frame.
            size: ``(width, height)`` of the frames; overrides ``max_side``.

        Yields:
            Frames with uint8 ``(H, W, 3)`` RGB, the source's pts/time_base and
            ``index`` from 0.

        Raises:
            CorruptInputError: the source failed part-way (connection lost,
                read timeout, undecodable data) after the frames yielded.
        """
        time_base = Fraction(self.stream.time_base) if self.stream.time_base else None
        clock = _PacingClock() if self.paced else None
        frame_s = float(1 / self.nominal_fps) if self.nominal_fps else 0.0  # a frame's duration when it has none
        decoded = self._decoded()
        index = 0
        try:
            while True:
                try:
                    frame = next(decoded)
                except StopIteration:
                    return
                except av.error.ExitError as err:  # the read timeout's interrupt
                    raise CorruptInputError(
                        f"no data arrived from {self.name} for {self.read_timeout_s:g} s (after {index} frames)",
                        frame_index=index,
                    ) from err
                except (av.error.FFmpegError, OSError) as err:
                    raise CorruptInputError(
                        f"live source {self.name} failed after {index} frames: {error_reason(err)}", frame_index=index
                    ) from err
                if size is None:
                    size = fit_size(*display_size(frame), max_side=max_side)
                if clock is not None:
                    clock.wait_for(_seconds(frame.pts, time_base), _seconds(frame.duration, time_base) or frame_s)
                yield Frame(image_u8=frame_to_rgb(frame, size), pts=frame.pts, time_base=time_base, index=index)
                index += 1
        finally:
            decoded.close()
            self.close()

    def _decoded(self) -> Generator[av.VideoFrame, None, None]:
        """The stream's decoded frames. Undecodable packets before the first
        picture (a stream joined between keyframes: VP8/VP9 refuse the frames
        that refer to a keyframe they never saw) are skipped, up to
        ``MAX_SKIPPED_PACKETS``; after it they end the source. When reading
        fails (a read timeout: a stream that stopped), the frames the decoder
        still holds (its frame threads lag a few frames) come out first."""
        skipped = 0
        pictures = False
        demuxed = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demuxed)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError) as err:
                yield from self._held_frames()
                raise err
            try:
                frames = self.stream.decode(packet)
            except av.error.InvalidDataError:
                if pictures or skipped >= MAX_SKIPPED_PACKETS:
                    raise
                skipped += 1
                continue
            pictures = pictures or bool(frames)
            yield from frames

    def _held_frames(self) -> list[av.VideoFrame]:
        """Flush the decoder: the frames it holds (none if that fails too)."""
        try:
            return list(self.stream.decode(None))
        except (av.error.FFmpegError, OSError):
            return []


def open_source(text: str, **options) -> LiveSource:
    """``parse_source(text, **options)`` then open it; see both."""
    return LiveSource(parse_source(text, **options))


def _describe(spec: SourceSpec) -> str:
    return f"lavfi:{spec.target}" if spec.kind == "lavfi" else spec.target


def _is_stored_clip(container: av.container.InputContainer) -> bool:
    """Whether an opened ``http(s)://`` input is a stored clip (played in
    real time, as a local file) rather than a live stream (which paces
    itself): it has a duration (an MP4/MKV/WebM file, an HLS playlist with
    ``#EXT-X-ENDLIST``), or the server said its length (an MPEG-TS file). A
    live stream has neither: a live playlist, a chunked or endless response."""
    if container.duration is not None:
        return True
    if container.format.name in PLAYLIST_FORMATS:
        return False  # the size known is the playlist's
    try:
        return container.size > 0  # negative (an error code) when the length is unknown
    except (av.error.FFmpegError, OSError):
        return False


def _seconds(ticks: int | None, time_base: Fraction | None) -> float | None:
    return float(ticks * time_base) if ticks is not None and time_base else None


class _PacingClock:
    """Holds frames back to real time: the first frame is due at once, later
    ones ``(t - t_first)`` seconds after it; a late frame is not delayed. A
    frame whose timestamp does not advance (none, or broken: every frame at
    0) is due when the frame before it ends (its duration later)."""

    def __init__(self):
        self._origin: tuple[float, float] | None = None  # (wall clock, media time) of the first frame
        self._previous: tuple[float, float] | None = None  # (media time, duration) of the frame before

    def wait_for(self, media_s: float | None, duration_s: float | None) -> None:
        """Sleep until the frame at ``media_s`` seconds, lasting ``duration_s``, is due."""
        if self._previous is not None and (media_s is None or media_s <= self._previous[0]):
            media_s = self._previous[0] + self._previous[1]
        media_s = media_s or 0.0
        self._previous = (media_s, duration_s or 0.0)
        now = time.monotonic()
        if self._origin is None:
            self._origin = (now, media_s)
            return
        due = self._origin[0] + media_s - self._origin[1]
        if due > now:
            time.sleep(min(due - now, MAX_PACING_SLEEP_S))


def check_live_source(source: str) -> None:
    """InputError (exit code 2) for a still image (PNG, JPEG...) given as the
    live source: it has one frame; the file command stylizes it."""
    if not os.path.isfile(source):  # a camera, a URL, lavfi:GRAPH
        return
    if is_still_image(source):
        raise InputError(
            f"{source} is a still image, not a live source (a camera, a stream or a video); "
            f"stylize it with 'vidstyle {source} --style IMAGE'"
        )
