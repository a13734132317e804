"""Video in and out with PyAV: probing, decoding to RGB frames, encoding and
muxing with the source's audio. The only module that imports ``av``.

Timestamps are carried, never recomputed: each Frame keeps the source's
``pts`` and ``time_base`` and the writer hands them to the encoder in the same
time base, so variable frame rates and 30000/1001 come out as they went in.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np

from .errors import CorruptInputError, InputError, OutputError
from .frames import Frame

STILL_IMAGE_CODECS = {"png", "mjpeg", "bmp", "tiff", "webp", "jpeg2000", "gif_still", "ppm", "pgm", "qoi"}
STILL_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe", "ppm_pipe", "qoi_pipe"}
AUDIO_LOOKAHEAD_S = 0.5  # mux audio up to this far ahead of the last video frame
GIF_TIME_BASE = Fraction(1, 100)
TRUNCATION_SLACK_FRAMES = 3  # a video may end this much before its announced duration...
TRUNCATION_SLACK_S = 0.25  # ...or this many seconds, whichever is more


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    """How a file extension is written."""

    video_codec: str
    pix_fmt: str
    audio_codec: str | None  # re-encode audio with this when it cannot be copied; None: no audio
    copyable_audio: frozenset[str] | None  # audio codecs the container takes as they are; None: any
    options: dict


MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3"})
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    ".mp4": OutputFormat("libx264", "yuv420p", "aac", MP4_AUDIO, {"preset": "medium"}),
    ".m4v": OutputFormat("libx264", "yuv420p", "aac", MP4_AUDIO, {"preset": "medium"}),
    ".mkv": OutputFormat("libx264", "yuv420p", "aac", None, {"preset": "medium"}),
    ".mov": OutputFormat("prores_ks", "yuv422p10le", "aac", MP4_AUDIO | {"pcm_s16le", "pcm_s24le"}, {"profile": "2"}),
    ".webm": OutputFormat("libvpx-vp9", "yuv420p", "libopus", frozenset({"opus", "vorbis"}),
                          {"row-mt": "1", "deadline": "good", "cpu-used": "4"}),
    ".gif": OutputFormat("gif", "pal8", None, frozenset(), {}),
}
DEFAULT_CRF = {"libx264": 18, "libx265": 22, "libvpx-vp9": 31, "libsvtav1": 35}


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learned about a video file.

    Attributes:
        width, height: display size in pixels, after rotation.
        rotation: degrees clockwise the stored picture is turned to display upright.
        fps: average frame rate (None when the container does not say).
        time_base: seconds per pts tick of the video stream.
        num_frames: frame count from the container, or an estimate, or None.
        duration_s: duration in seconds, or None.
    """

    path: str
    width: int
    height: int
    rotation: int
    fps: Fraction | None
    time_base: Fraction
    num_frames: int | None
    duration_s: float | None
    has_audio: bool
    codec: str
    pix_fmt: str


def _open_input(path) -> av.container.InputContainer:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"input not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"expected a video file, got a directory: {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"input is empty (0 bytes): {path}")
    try:
        return av.open(path)
    except av.error.FFmpegError as err:
        raise InputError(f"not a video FFmpeg can read: {path} ({_reason(err)})") from err


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)


def probe(path) -> VideoInfo:
    """Inspect ``path``. InputError for a missing, empty, unreadable or
    audio-only file, and for a still image given as a video."""
    with _open_input(path) as container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise InputError(f"no video stream in {path} (found: {', '.join(kinds)})")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if container.format.name in STILL_IMAGE_FORMATS or (stream.frames <= 1 and ctx.name in STILL_IMAGE_CODECS):
            raise InputError(f"{path} is a still image, not a video (use stylize_image for stills)")
        rotation = _stream_rotation(container, stream)
        width, height = ctx.width, ctx.height
        if rotation in (90, 270):
            width, height = height, width
        if width <= 0 or height <= 0:
            raise InputError(f"{path}: the video stream has no picture size (corrupt header?)")
        fps = stream.average_rate or stream.guessed_rate
        duration_s = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / av.time_base if container.duration else None)
        num_frames = stream.frames or (round(duration_s * fps) if duration_s and fps else None)
        return VideoInfo(
            path=os.fspath(path), width=width, height=height, rotation=rotation,
            fps=Fraction(fps) if fps else None, time_base=Fraction(stream.time_base or Fraction(1, 90000)),
            num_frames=num_frames, duration_s=duration_s, has_audio=bool(container.streams.audio),
            codec=ctx.name, pix_fmt=ctx.pix_fmt or "unknown",
        )


def _stream_rotation(container, stream) -> int:
    """Clockwise display rotation (0/90/180/270) from the first decoded frame's
    display matrix (stream side data is not exposed uniformly by PyAV)."""
    try:
        for frame in container.decode(stream):
            return _clockwise(frame.rotation)
    except av.error.FFmpegError:
        return 0
    return 0


def _clockwise(counterclockwise: int | float) -> int:
    return int(round(-float(counterclockwise) / 90.0)) % 4 * 90


def read_frames(
    src, *, size: tuple[int, int] | None = None, start_s: float | None = None, end_s: float | None = None
) -> Iterator[Frame]:
    """Decode the first video stream of ``src`` as upright RGB frames.

    Args:
        size: ``(width, height)`` to resize to (after rotation); None keeps the size.
        start_s, end_s: keep frames with ``start_s <= time < end_s`` (seconds).

    Yields Frames with the source's pts and time_base and indices from 0.
    Raises CorruptInputError after the last good frame when decoding fails
    part-way, or when the frames stop well before the duration the file
    announces (FFmpeg reads a truncated file quietly up to the cut).
    """
    container = _open_input(src)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base) if stream.time_base else None
        fps = stream.average_rate or stream.guessed_rate
        if start_s:
            try:
                container.seek(int(start_s * av.time_base), backward=True, any_frame=False)
            except av.error.FFmpegError:
                pass  # unseekable: decode from the start and skip
        index = 0
        last_end_s = 0.0
        decoded = container.decode(stream)
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                _check_complete(src, stream, index, last_end_s, fps)
                return
            except av.error.FFmpegError as err:
                raise CorruptInputError(
                    f"{src}: input is corrupt at frame {index} ({_reason(err)})", frame_index=index
                ) from err
            pts = frame.pts
            if pts is None and fps and time_base:
                pts = round(index / Fraction(fps) / time_base)
            seconds = float(pts * time_base) if pts is not None and time_base else None
            if start_s is not None and seconds is not None and seconds < start_s - 1e-6:
                continue
            if end_s is not None and seconds is not None and seconds >= end_s - 1e-6:
                return
            yield Frame(image_u8=_to_rgb(frame, size), pts=pts, time_base=time_base, index=index)
            index += 1
            if seconds is not None:
                last_end_s = seconds + (float(1 / fps) if fps else 0.0)


def _announced_video_duration_s(stream) -> float | None:
    """The video stream's own duration: the stream header, or Matroska's DURATION tag."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return None
    return None


def _check_complete(src, stream, frames: int, last_end_s: float, fps) -> None:
    """FFmpeg stops quietly at the end of a truncated file; compare where the
    frames ended with the duration the header announced and refuse to call a
    truncated input complete."""
    announced = _announced_video_duration_s(stream)
    if announced is None or frames == 0:
        return
    slack = max(TRUNCATION_SLACK_FRAMES / float(fps) if fps else 0.0, TRUNCATION_SLACK_S)
    if last_end_s < announced - slack:
        raise CorruptInputError(
            f"{src}: input is corrupt at frame {frames}: the video stops at {last_end_s:.2f}s "
            f"but the file announces {announced:.2f}s (truncated?)",
            frame_index=frames,
        )


def _to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    """Upright uint8 ``(H, W, 3)`` RGB at ``size`` (width, height) if given."""
    quarter_turns = _clockwise(frame.rotation) // 90
    if size is not None:
        width, height = size if quarter_turns % 2 == 0 else (size[1], size[0])
        if (width, height) != (frame.width, frame.height):
            frame = frame.reformat(width=width, height=height, interpolation="AREA")
    image = frame.to_ndarray(format="rgb24")
    if quarter_turns:
        image = np.rot90(image, k=-quarter_turns)  # np.rot90 turns counterclockwise
    return np.ascontiguousarray(image)


class VideoWriter:
    """Encode frames into ``dst`` with the source's audio; atomic on success.

    The file is written under a temporary name beside ``dst`` and renamed when
    ``close()`` finishes, so ``dst`` never holds a truncated video. ``abort()``
    (or an exception inside ``with``) removes the temporary file.

    Args:
        dst: output path; its extension picks container and codecs.
        width, height: frame size in pixels (rounded down to even for yuv420p).
        time_base: time base of the frames' pts (the source's).
        fps: nominal frame rate (encoder hint; used for frames without pts).
        audio_from: copy the audio of this file (re-encoded only when the
            container cannot hold its codec).
        audio_start_s, audio_end_s: cut the audio to this range of the source.
        shift_to_zero: subtract the first frame's timestamp (for trimmed clips).
        codec, crf, bitrate: override the extension's defaults.
        overwrite: replace an existing ``dst``.
        input_paths: files that must never be overwritten.
    """

    def __init__(
        self,
        dst,
        *,
        width: int,
        height: int,
        time_base: Fraction,
        fps: Fraction | None,
        audio_from: str | None = None,
        audio_start_s: float | None = None,
        audio_end_s: float | None = None,
        shift_to_zero: bool = False,
        codec: str | None = None,
        crf: int | None = None,
        bitrate: int | None = None,
        overwrite: bool = False,
        input_paths: Sequence[str] = (),
    ):
        self.dst = os.fspath(dst)
        ext = os.path.splitext(self.dst)[1].lower()
        if ext not in OUTPUT_FORMATS:
            raise OutputError(f"unknown output extension {ext or '(none)'!r} for {self.dst}; "
                              f"use one of {', '.join(OUTPUT_FORMATS)}")
        folder = os.path.dirname(os.path.abspath(self.dst))
        if not os.path.isdir(folder):
            raise OutputError(f"output folder does not exist: {folder}")
        for path in input_paths:
            if os.path.exists(path) and os.path.exists(self.dst) and os.path.samefile(path, self.dst):
                raise OutputError(f"refusing to overwrite the input {path}; choose another output with -o")
        if os.path.exists(self.dst) and not overwrite:
            raise OutputError(f"{self.dst} exists; pass -y to overwrite it")
        self.format = OUTPUT_FORMATS[ext]
        self.ext = ext
        self.source_time_base = Fraction(time_base)
        # GIF stores delays in hundredths of a second: rebase, rounding.
        self.time_base = GIF_TIME_BASE if ext == ".gif" else self.source_time_base
        self.fps = Fraction(fps) if fps else Fraction(25)
        self.shift_to_zero = shift_to_zero
        self.frames_written = 0
        self._first_pts: int | None = None
        self._last_pts: int | None = None
        fd, self.tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(self.dst)}.", suffix=f".partial{ext}",
                                             dir=folder)
        os.close(fd)
        try:
            self.container = av.open(self.tmp_path, mode="w")
            self.video = self._add_video_stream(width, height, codec, crf, bitrate)
            self.audio = _AudioCopier.maybe(audio_from, self.container, self.format, audio_start_s, audio_end_s)
            self.palette = _Palettizer(self.video.width, self.video.height, self.time_base) if ext == ".gif" else None
        except (av.error.FFmpegError, ValueError) as err:
            self._discard()
            raise OutputError(f"cannot set up the encoder for {self.dst}: {_reason(err)}", exit_code=1) from err

    def _add_video_stream(self, width, height, codec, crf, bitrate):
        name = codec or self.format.video_codec
        stream = self.container.add_stream(name, rate=self.fps)
        if self.format.pix_fmt == "yuv420p" or stream.codec_context.name in ("libx264", "libvpx-vp9"):
            width, height = width - width % 2, height - height % 2
        stream.width, stream.height = width, height
        stream.pix_fmt = self.format.pix_fmt if not codec else (stream.codec_context.codec.video_formats[0].name
                                                                 if self.format.pix_fmt not in _pix_fmts(stream)
                                                                 else self.format.pix_fmt)
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        options = dict(self.format.options) if not codec else {}
        if bitrate:
            stream.bit_rate = int(bitrate)
        elif stream.codec_context.name in DEFAULT_CRF or crf is not None:
            options["crf"] = str(crf if crf is not None else DEFAULT_CRF.get(stream.codec_context.name, 23))
            if stream.codec_context.name == "libvpx-vp9":
                stream.bit_rate = 0  # constant quality
        stream.options = options
        return stream

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: Frame) -> None:
        """Encode one frame; ``frame.image_u8`` is ``(height, width, 3)`` (resized if not)."""
        image = frame.image_u8
        if image.shape[1] != self.video.width or image.shape[0] != self.video.height:
            from .images import resize  # cv2 resize, only for odd-size rounding

            image = resize(image, (self.video.width, self.video.height))
        pts = self._pts_for(frame)
        video_frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        video_frame.pts = pts
        video_frame.time_base = self.time_base
        try:
            for encodable in (self.palette.convert(video_frame) if self.palette else [video_frame]):
                for packet in self.video.encode(encodable):
                    self.container.mux(packet)
            if self.audio is not None:
                self.audio.mux_until(float(pts * self.time_base) + AUDIO_LOOKAHEAD_S)
        except (av.error.FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"writing {self.dst} failed at frame {self.frames_written}: {_reason(err)}",
                              exit_code=1) from err
        self.frames_written += 1

    def _pts_for(self, frame: Frame) -> int:
        """The frame's timestamp in the stream's time base (exact when the time
        bases match), shifted to start at 0 if asked, strictly increasing."""
        if frame.pts is not None and frame.time_base is not None:
            pts = frame.pts if Fraction(frame.time_base) == self.time_base else round(
                frame.pts * Fraction(frame.time_base) / self.time_base)
        else:
            pts = round(self.frames_written / self.fps / self.time_base)
        if self._first_pts is None:
            self._first_pts = pts
        if self.shift_to_zero:
            pts -= self._first_pts
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing timestamps
        self._last_pts = pts
        return pts

    def _finish(self) -> None:
        try:
            for encodable in (self.palette.convert(None) if self.palette else []):
                for packet in self.video.encode(encodable):
                    self.container.mux(packet)
            for packet in self.video.encode(None):
                self.container.mux(packet)
            if self.audio is not None:
                self.audio.mux_until(float("inf"))
            self.container.close()
        except (av.error.FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"finishing {self.dst} failed: {_reason(err)}", exit_code=1) from err

    def close(self) -> str:
        """Flush and move the finished file to ``dst``; returns ``dst``."""
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames were written; {self.dst} not created", exit_code=1)
        self._finish()
        os.replace(self.tmp_path, self.dst)
        return self.dst

    def close_partial(self) -> str:
        """Flush what was written into ``NAME.partial.EXT`` beside ``dst``
        (interrupted runs); returns that path."""
        stem, ext = os.path.splitext(self.dst)
        partial = f"{stem}.partial{ext}"
        self._finish()
        os.replace(self.tmp_path, partial)
        return partial

    def abort(self) -> None:
        """Drop the temporary file; ``dst`` is left as it was."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is being discarded anyway
            pass
        self._discard()

    def _discard(self) -> None:
        if os.path.exists(self.tmp_path):
            os.remove(self.tmp_path)


class _Palettizer:
    """RGB -> palettized frames for GIF with a palette computed per frame
    (FFmpeg's palettegen/paletteuse, Sierra dithering): far better than a
    fixed palette, and it streams (no second pass over the clip)."""

    def __init__(self, width: int, height: int, time_base: Fraction):
        graph = av.filter.Graph()
        source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=time_base)
        split = graph.add("split")
        generate = graph.add("palettegen", "stats_mode=single:max_colors=256")
        apply = graph.add("paletteuse", "new=1:dither=sierra2_4a")
        sink = graph.add("buffersink")
        source.link_to(split)
        split.link_to(generate, 0, 0)
        split.link_to(apply, 1, 0)
        generate.link_to(apply, 0, 1)
        apply.link_to(sink)
        graph.configure()
        self.graph = graph

    def convert(self, frame) -> list:
        """Push an RGB frame (None at the end) and return the pal8 frames ready."""
        self.graph.push(frame)
        ready = []
        while True:
            try:
                ready.append(self.graph.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return ready


def _pix_fmts(stream) -> set[str]:
    formats = stream.codec_context.codec.video_formats or []
    return {f.name for f in formats}


class _AudioCopier:
    """Moves the source's audio into the output as video is written: packets
    copied when the container takes the codec, else decoded and re-encoded."""

    @classmethod
    def maybe(cls, src, container, fmt: OutputFormat, start_s, end_s) -> "_AudioCopier | None":
        if src is None or fmt.audio_codec is None:
            return None
        source = av.open(src)
        if not source.streams.audio:
            source.close()
            return None
        return cls(source, container, fmt, start_s, end_s)

    def __init__(self, source, container, fmt: OutputFormat, start_s, end_s):
        self.source = source
        self.in_stream = source.streams.audio[0]
        self.start_s = start_s or 0.0
        self.end_s = end_s
        codec = self.in_stream.codec_context.name
        self.copy = fmt.copyable_audio is None or codec in fmt.copyable_audio
        if self.copy:
            self.out_stream = container.add_stream_from_template(self.in_stream)
        else:
            rate = self.in_stream.codec_context.sample_rate or 48000
            if fmt.audio_codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
                rate = 48000
            self.out_stream = container.add_stream(fmt.audio_codec, rate=rate)
            self.out_stream.layout = self.in_stream.codec_context.layout.name if self.in_stream.codec_context.layout else "stereo"
        if start_s:
            try:
                source.seek(int(max(0.0, start_s - 1.0) * av.time_base), backward=True)
            except av.error.FFmpegError:
                pass
        self.packets = source.demux(self.in_stream)
        self.pending = None
        self.done = False
        self.next_pts = 0

    def mux_until(self, seconds: float) -> None:
        """Mux the audio that starts before ``seconds`` (output timeline)."""
        container = self.out_stream.container
        while not self.done:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                self.done = True
                break
            if packet.pts is None or packet.size == 0:
                if packet.size == 0:
                    continue
            t = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
            if t - self.start_s > seconds:
                self.pending = packet
                return
            if self.end_s is not None and t >= self.end_s:
                self.done = True
                break
            if t < self.start_s - 1e-6:
                continue
            if self.copy:
                shift = round(self.start_s / packet.time_base)
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = self.out_stream
                container.mux(packet)
            else:
                for frame in packet.decode():
                    frame.pts = None
                    for out in self.out_stream.encode(frame):
                        container.mux(out)
        if self.done:
            self._flush()

    def _flush(self) -> None:
        if not self.copy and self.out_stream is not None:
            for out in self.out_stream.encode(None):
                self.out_stream.container.mux(out)
            self.copy = True  # flushed once
        self.source.close()
