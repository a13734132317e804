"""Video in and out with PyAV: probing, decoding to RGB frames, encoding and
muxing with the source's audio. The only module that imports ``av``.

Timestamps are carried, never recomputed: each Frame keeps the source's
``pts`` and ``time_base`` and the writer hands them to the encoder in the same
time base, so variable frame rates and 30000/1001 come out as they went in
(containers with a fixed timescale, Matroska/WebM 1/1000 and GIF 1/100, round
them to their tick).

Colour: decoding converts with the matrix and range the source is tagged with
(untagged: BT.709 above 576 lines, BT.601 below, as players assume); encoding
converts to BT.709 limited range and tags the stream so players agree.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np

from vidstyle.media.destination import AtomicWriter, check_destination
from vidstyle.errors import CorruptInputError, InputError, OutputError
from vidstyle.frames import Frame
from vidstyle.media.sequence import SEQUENCE_EXTENSIONS

STILL_IMAGE_CODECS = {"png", "mjpeg", "bmp", "tiff", "webp", "jpeg2000", "ppm", "pgm", "qoi", "jpegls"}
STILL_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe", "ppm_pipe",
                       "pgm_pipe", "qoi_pipe", "j2k_pipe", "jpegls_pipe"}
ISO_MEDIA_EXTENSIONS = {".mp4", ".m4v", ".mov", ".3gp"}
AUDIO_LOOKAHEAD_S = 0.5  # mux audio up to this far ahead of the last video frame
GIF_TIME_BASE = Fraction(1, 100)  # GIF stores frame delays in hundredths of a second
TRUNCATION_SLACK_FRAMES = 3  # a video may end this many frames before its announced duration...
TRUNCATION_SLACK_S = 0.25  # ...or this many seconds, whichever is more
HD_MIN_HEIGHT = 577  # untagged video taller than PAL SD is taken as BT.709, like players do


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
X264_OPTIONS = {"preset": "medium"}
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    ".mp4": OutputFormat("libx264", "yuv420p", "aac", MP4_AUDIO, X264_OPTIONS),
    ".m4v": OutputFormat("libx264", "yuv420p", "aac", MP4_AUDIO, X264_OPTIONS),
    ".mkv": OutputFormat("libx264", "yuv420p", "aac", None, X264_OPTIONS),
    ".mov": OutputFormat("prores_ks", "yuv422p10le", "aac", MP4_AUDIO | {"pcm_s16le", "pcm_s24le"},
                         {"profile": "2"}),  # ProRes 422 (standard)
    ".webm": OutputFormat("libvpx-vp9", "yuv420p", "libopus", frozenset({"opus", "vorbis"}),
                          {"row-mt": "1", "deadline": "good", "cpu-used": "4"}),
    ".gif": OutputFormat("gif", "pal8", None, frozenset(), {}),
}
# x264 at crf 14, not the usual 18: stylized frames are dense high-frequency
# texture and the encoder's noise counts as flicker (measured on the sample
# clip's stylized frames, flicker ratio: 0.42 raw, 0.85 crf 10, 0.92 crf 14,
# 1.08 crf 18; the file grows from 150 to 234 kB).
DEFAULT_CRF = {"libx264": 14, "libx265": 22, "libvpx-vp9": 31, "libsvtav1": 35}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learned about a video file.

    Attributes:
        path: the file probed.
        width, height: display size in pixels, after rotation.
        rotation: degrees clockwise (0/90/180/270) the stored picture is turned
            to display upright; ``read_frames`` applies it.
        fps: average frame rate (None when the container does not say).
        time_base: seconds per pts tick of the video stream.
        num_frames: frame count from the container, or an estimate from
            duration x fps, or None.
        duration_s: duration in seconds, or None.
        has_audio: the file has at least one audio stream.
        codec, pix_fmt: FFmpeg names of the video codec and its pixel format.
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


# --------------------------------------------------------------------------- input


def _open_input(path) -> av.container.InputContainer:
    """Open ``path`` for reading; InputError with one clear line when it cannot be."""
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
        raise InputError(f"not a video FFmpeg can read: {path} ({error_reason(err)}){_damage_hint(path)}") from err
    except OSError as err:
        raise InputError(f"cannot read {path}: {error_reason(err)}") from err


def _damage_hint(path: str) -> str:
    """A hint for the one common unreadable case: an MP4/MOV cut short before
    its index (``moov``), e.g. a recording that was interrupted."""
    if os.path.splitext(path)[1].lower() not in ISO_MEDIA_EXTENSIONS:
        return ""
    with open(path, "rb") as file:
        head = file.read(12)
    if head[4:8] == b"ftyp":
        return "; it looks like an MP4/MOV cut short before its index was written (truncated or damaged)"
    return ""


def error_reason(err: BaseException) -> str:
    """The human part of an FFmpeg/OS error (its strerror when it has one)."""
    return getattr(err, "strerror", None) or str(err)


def _video_stream(container, path) -> av.video.stream.VideoStream:
    """The first real video stream (cover art is not video); InputError when none."""
    streams = [s for s in container.streams.video
               if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        if container.streams.video:
            kinds.append("cover art")
        raise InputError(f"no video stream in {os.fspath(path)} (found: {', '.join(kinds)})")
    return streams[0]


def _is_still_image(container, stream) -> bool:
    return container.format.name in STILL_IMAGE_FORMATS or (
        stream.frames == 1 and stream.codec_context.name in STILL_IMAGE_CODECS)


def is_still_image(path) -> bool:
    """True when ``path`` opens as a single picture (PNG, JPEG, ...) rather
    than a video; False for videos and for files that do not open at all."""
    try:
        with _open_input(path) as container:
            return _is_still_image(container, _video_stream(container, path))
    except InputError:
        return False


def probe(path) -> VideoInfo:
    """Inspect ``path`` without decoding more than its first frame.

    Raises InputError (exit code 2) with one clear line for a missing file, a
    directory, an empty file, a file FFmpeg cannot read, a file without a
    video stream (audio only) and a still image given as a video.
    """
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        ctx = stream.codec_context
        if _is_still_image(container, stream):
            raise InputError(f"{os.fspath(path)} is a still image, not a video "
                             f"(stylize it with an image output such as -o out.png, or vidstyle.stylize_image)")
        rotation = _stream_rotation(container, stream)
        width, height = (ctx.height, ctx.width) if rotation in (90, 270) else (ctx.width, ctx.height)
        if width <= 0 or height <= 0:
            raise InputError(f"{os.fspath(path)}: the video stream has no usable picture size "
                             f"(corrupt header, or larger than FFmpeg decodes)")
        fps = stream.average_rate or stream.guessed_rate
        duration_s = _announced_video_duration_s(stream)
        if duration_s is None and container.duration:
            duration_s = container.duration / av.time_base
        num_frames = stream.frames or (round(duration_s * fps) if duration_s and fps else None)
        return VideoInfo(
            path=os.fspath(path), width=width, height=height, rotation=rotation,
            fps=Fraction(fps) if fps else None,
            time_base=Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000),
            num_frames=num_frames, duration_s=duration_s, has_audio=bool(container.streams.audio),
            codec=ctx.name, pix_fmt=ctx.pix_fmt or "unknown",
        )


def _stream_rotation(container, stream) -> int:
    """Clockwise display rotation (0/90/180/270) from the first decoded frame's
    display matrix (PyAV 18 exposes it per frame, not per stream)."""
    try:
        for frame in container.decode(stream):
            return _clockwise(frame.rotation)
    except av.error.FFmpegError:
        return 0
    return 0


def _clockwise(counterclockwise: int | float) -> int:
    """FFmpeg's display rotation (degrees counterclockwise, -180..180) as
    quarter turns clockwise, in degrees: 0, 90, 180 or 270."""
    return int(round(-float(counterclockwise) / 90.0)) % 4 * 90


def read_frames(
    src, *, size: tuple[int, int] | None = None, start_s: float | None = None, end_s: float | None = None
) -> Iterator[Frame]:
    """Decode the first video stream of ``src`` as upright RGB frames.

    A generator that owns its container: it is closed when the generator is
    exhausted, closed or garbage collected.

    Args:
        src: path of a video file.
        size: ``(width, height)`` in pixels of the yielded images, in display
            (upright) orientation; None keeps the display size. Shrinking uses
            an area filter, enlarging bicubic.
        start_s, end_s: keep frames with ``start_s <= time < end_s`` (seconds
            on the source's timeline); seeks to ``start_s`` first.

    Yields:
        Frames with ``image_u8`` uint8 ``(H, W, 3)`` RGB, the source's ``pts``
        and ``time_base`` (a missing pts is synthesized from the frame's
        position and the frame rate) and ``index`` counting the yielded frames
        from 0.

    Raises:
        InputError: the file cannot be opened or has no video stream.
        CorruptInputError: after the last good frame, when decoding fails
            part-way (garbage in the stream), or when the frames stop well
            before the duration the file announces (FFmpeg reads a truncated
            file quietly up to the cut). A truncated file whose header does
            not announce a duration just ends early: the caller sees fewer
            frames.
    """
    with _open_input(src) as container:
        stream = _video_stream(container, src)
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base) if stream.time_base else None
        fps = stream.average_rate or stream.guessed_rate
        if start_s:
            _seek(container, start_s)
        index = 0
        decoded_count = 0
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
                    f"{src}: input is corrupt at frame {index} ({error_reason(err)})", frame_index=index
                ) from err
            pts = frame.pts if frame.pts is not None else _synthesized_pts(decoded_count, fps, time_base)
            decoded_count += 1
            seconds = float(pts * time_base) if pts is not None and time_base else None
            if start_s is not None and seconds is not None and seconds < start_s - 1e-6:
                continue
            if end_s is not None and seconds is not None and seconds >= end_s - 1e-6:
                return
            yield Frame(image_u8=frame_to_rgb(frame, size), pts=pts, time_base=time_base, index=index)
            index += 1
            if seconds is not None:
                last_end_s = seconds + _frame_duration_s(frame, fps)


def _seek(container, start_s: float) -> None:
    """Seek to the keyframe at or before ``start_s``; unseekable inputs are
    decoded from the start (the caller skips the early frames)."""
    try:
        container.seek(int(start_s * av.time_base), backward=True, any_frame=False)
    except av.error.FFmpegError:
        pass


def _synthesized_pts(position: int, fps, time_base: Fraction | None) -> int | None:
    """pts of the ``position``-th decoded frame of a stream without timestamps."""
    if not fps or not time_base:
        return None
    return round(position / Fraction(fps) / time_base)


def _frame_duration_s(frame, fps) -> float:
    """How long ``frame`` is shown: its own duration, else 1/fps, else 0."""
    if frame.duration and frame.time_base:
        return float(frame.duration * frame.time_base)
    return float(1 / Fraction(fps)) if fps else 0.0


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


def frame_to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    """Upright uint8 ``(H, W, 3)`` RGB, at ``size`` = (width, height) if given.

    Scaling happens in the stored orientation (the target size swapped for
    quarter turns), in the same swscale call as the colour conversion.
    """
    quarter_turns = _clockwise(frame.rotation) // 90
    width, height = frame.width, frame.height
    if size is not None:
        width, height = size if quarter_turns % 2 == 0 else (size[1], size[0])
    shrinking = width <= frame.width and height <= frame.height
    rgb = frame.reformat(
        width=width, height=height, format="rgb24",
        interpolation="AREA" if shrinking else "BICUBIC",
        src_colorspace=_source_colorspace(frame),
        src_color_range=frame.color_range or None,
    )
    image = rgb.to_ndarray()
    if quarter_turns:
        image = np.rot90(image, k=-quarter_turns)  # np.rot90 turns counterclockwise
    return np.ascontiguousarray(image)


def _source_colorspace(frame) -> int | None:
    """The YUV matrix to decode ``frame`` with: its tag, else the players'
    convention (BT.709 for HD, BT.601 for SD)."""
    if frame.colorspace not in (0, 2):  # 0: RGB/identity, 2: unspecified
        return None  # the frame's own tag
    return av.video.reformatter.Colorspace.ITU709 if frame.height >= HD_MIN_HEIGHT else \
        av.video.reformatter.Colorspace.ITU601


# -------------------------------------------------------------------------- output


def _check_destination(dst: str, *, overwrite: bool, input_paths: Sequence[str]) -> str:
    """Validate the output path; returns its lower-case extension.

    OutputError (exit code 2) for: an unknown extension, a missing folder, a
    destination that is one of ``input_paths`` (even with ``overwrite``), a
    directory, or an existing file without ``overwrite``.
    """
    ext = os.path.splitext(dst)[1].lower()
    if ext not in OUTPUT_FORMATS:
        hint = f" or an image sequence like out/%05d{ext}" if ext in SEQUENCE_EXTENSIONS else ""
        raise OutputError(f"unknown output extension {ext or '(none)'!r} for {dst}; "
                          f"use one of {', '.join(OUTPUT_FORMATS)}{hint}")
    check_destination(dst, overwrite=overwrite, input_paths=input_paths)
    return ext


def partial_path(dst) -> str:
    """Where an interrupted run leaves what it wrote: ``out.mp4`` -> ``out.partial.mp4``."""
    stem, ext = os.path.splitext(os.fspath(dst))
    return f"{stem}.partial{ext}"


def _needs_even_size(pix_fmt: str) -> bool:
    """Chroma subsampled horizontally or vertically (4:2:0, 4:2:2, 4:1:1)."""
    return pix_fmt.startswith(("yuv420", "yuv422", "yuv411", "yuva420", "yuva422", "nv12", "nv21", "p010"))


class VideoWriter(AtomicWriter):
    """Encode frames into ``dst`` with the source's audio; atomic on success.

    The file is written under a temporary name beside ``dst`` (same
    extension, so the same muxer) and renamed onto ``dst`` when ``close()``
    finishes, so ``dst`` never holds a truncated video; ``close()`` then
    removes what interrupted runs to the same ``dst`` left: ``NAME.partial.EXT``
    and the temporary files of killed runs. ``abort()`` (or an exception
    inside ``with``) removes the temporary file and leaves ``dst`` as it was.

    Container and codecs follow the extension (see ``OUTPUT_FORMATS``): .mp4
    and .m4v H.264 yuv420p crf 14 + AAC, .mkv H.264 + audio copied as is,
    .mov ProRes 422 10-bit + audio copied (AAC/PCM) or AAC, .webm VP9 + Opus,
    .gif palette per frame with dithering, no audio.

    Frame times: ``pts`` are written in ``time_base`` unchanged (only
    shifted by the trim origin, see ``audio_start_s``), so VFR and NTSC rates
    read back exactly from MP4/MOV; Matroska/WebM round to 1 ms, GIF to 10 ms.
    Frames with ``pts`` None get ``frames_written / fps``.

    Args:
        dst: output path; its extension picks container and codecs.
        width, height: size of the frames given to ``write`` in pixels. For
            pixel formats with subsampled chroma (yuv420p, yuv422p) an odd
            side is resized down to the even size below it.
        time_base: seconds per tick of the frames' pts (the source's).
        fps: nominal frame rate (rate-control hint; timing of frames without pts).
        audio_from: copy the first audio stream of this file: packets as they
            are when the container takes the codec, else re-encoded.
        audio_start_s, audio_end_s: the source range written (seconds): the
            audio is cut to it (to whole packets when copied, exactly when
            re-encoded) and ``audio_start_s`` becomes time 0 of the output for
            audio and video alike, so a trimmed clip stays in sync.
        shift_to_zero: without ``audio_start_s``, start the output at the
            first frame's time (sources whose timestamps start late).
        codec, crf, bitrate: override the extension's encoder and quality
            (crf default 18 for x264; bitrate in bits/s wins over crf).
        overwrite: replace an existing ``dst``.
        input_paths: files that must never be overwritten, even with ``overwrite``.

    Raises:
        OutputError: exit code 2 for a bad destination (see
            ``_check_destination``), exit code 1 when the encoder cannot be
            set up or writing fails (encoder error, disk full).
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
        self.ext = _check_destination(self.dst, overwrite=overwrite, input_paths=input_paths)
        self.format = OUTPUT_FORMATS[self.ext]
        self.frame_size = (int(width), int(height))
        self.source_time_base = Fraction(time_base)
        self.time_base = GIF_TIME_BASE if self.ext == ".gif" else self.source_time_base
        self.fps = Fraction(fps) if fps else Fraction(25)
        self.origin_s = audio_start_s  # source time that becomes 0; None: decided by the first frame
        self.shift_to_zero = shift_to_zero
        self.frames_written = 0
        self._shift: int | None = None  # ticks subtracted from every pts
        self._last_pts: int | None = None
        self._closed = False
        self.tmp_path = self._make_tmp_file()
        self.container = None
        self.audio: _AudioPassthrough | None = None
        try:
            self.container = av.open(self.tmp_path, mode="w")
            self.video = self._add_video_stream(codec, crf, bitrate)
            self.palette = _Palettizer(*self.frame_size, self.time_base) if self.ext == ".gif" else None
            if audio_from is not None and self.format.audio_codec is not None:
                self.audio = _AudioPassthrough.open(audio_from, self.container, self.format, end_s=audio_end_s)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self.abort()
            if isinstance(err, av.codec.codec.UnknownCodecError):
                raise OutputError(f"unknown video codec {codec!r}: this FFmpeg build has no such encoder "
                                  f"(leave out --codec to use the one {self.ext} files get)") from err
            raise OutputError(f"cannot set up the encoder for {self.dst}: {error_reason(err)}", exit_code=1) from err

    def _make_tmp_file(self) -> str:
        """An empty file ``.NAME.XXXX.partial.EXT`` beside ``dst``."""
        folder, name = os.path.split(os.path.abspath(self.dst))
        try:
            fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=f".partial{self.ext}", dir=folder)
        except OSError as err:
            raise OutputError(f"cannot write in {folder}: {error_reason(err)}") from err
        os.close(fd)
        return path

    def _add_video_stream(self, codec: str | None, crf: int | None, bitrate: int | None):
        stream = self.container.add_stream(codec or self.format.video_codec, rate=self.fps)
        stream.pix_fmt = self._pick_pix_fmt(stream, overridden=codec is not None)
        width, height = self.frame_size
        if _needs_even_size(stream.pix_fmt):
            width, height = max(2, width - width % 2), max(2, height - height % 2)
        stream.width, stream.height = width, height
        stream.time_base = self.time_base  # the muxer may still impose its own (Matroska: 1/1000)
        stream.codec_context.time_base = self.time_base  # so pts reach the muxer unrounded
        if not stream.pix_fmt.startswith(("rgb", "bgr", "gbr", "pal")):
            ctx = stream.codec_context
            ctx.colorspace, ctx.color_range = 1, 1  # BT.709 matrix, limited range (see _to_yuv)
            ctx.color_primaries, ctx.color_trc = 1, 1  # BT.709
        options = {} if codec else dict(self.format.options)
        name = stream.codec_context.name
        if bitrate:
            stream.bit_rate = int(bitrate)
        elif crf is not None or name in DEFAULT_CRF:
            options["crf"] = str(crf if crf is not None else DEFAULT_CRF[name])
            if name == "libvpx-vp9":
                stream.bit_rate = 0  # constant quality mode
        if codec and name == "libx264":
            options.setdefault("preset", "medium")
        if name == "libx265":
            options.setdefault("x265-params", "log-level=error")  # x265 prints a page of info to stderr
        stream.options = options
        return stream

    def _pick_pix_fmt(self, stream, *, overridden: bool) -> str:
        """The extension's pixel format, or for an overriding codec that does
        not take it, the codec's first one."""
        wanted = self.format.pix_fmt
        formats = [f.name for f in (stream.codec_context.codec.video_formats or [])]
        if not overridden or not formats or wanted in formats:
            return wanted
        return "yuv420p" if "yuv420p" in formats else formats[0]

    @property
    def takes_audio(self) -> bool:
        """The output format can carry the source's audio (GIF cannot)."""
        return self.format.audio_codec is not None

    def write(self, frame: Frame) -> None:
        """Encode one frame; ``frame.image_u8`` is uint8 ``(height, width, 3)`` RGB.

        Raises ValueError for another shape, OutputError (exit code 1, the
        temporary file removed) when encoding or writing fails.
        """
        if self._closed:
            raise ValueError(f"{self.dst}: write() after close() or abort()")
        image = frame.image_u8
        width, height = self.frame_size
        if image.shape != (height, width, 3) or image.dtype != np.uint8:
            raise ValueError(f"expected a uint8 ({height}, {width}, 3) image for {self.dst}, "
                             f"got {image.dtype} {image.shape}")
        pts = self._pts_for(frame)
        try:
            for encodable in self._encodable_frames(image, pts):
                self.container.mux(self.video.encode(encodable))
            if self.audio is not None:
                self.audio.mux_until(float(pts * self.time_base) + AUDIO_LOOKAHEAD_S)
        except (av.error.FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"writing {self.dst} failed at frame {self.frames_written}: {error_reason(err)}",
                              exit_code=1) from err
        self.frames_written += 1

    def _encodable_frames(self, image: np.ndarray, pts: int) -> list:
        """``image`` as the encoder's frames: palettized for GIF, else converted
        to the stream's pixel format (BT.709, limited range) and size."""
        rgb = av.VideoFrame.from_ndarray(image, format="rgb24")
        rgb.pts, rgb.time_base = pts, self.time_base
        if self.palette is not None:
            return self.palette.convert(rgb)
        stream_size = (self.video.width, self.video.height)
        converted = rgb.reformat(
            width=stream_size[0], height=stream_size[1], format=self.video.pix_fmt,
            interpolation="AREA" if stream_size != self.frame_size else None,
            **(_YUV_TARGET if not self.video.pix_fmt.startswith(("rgb", "bgr", "gbr")) else {}),
        )
        converted.pts, converted.time_base = pts, self.time_base
        return [converted]

    def _pts_for(self, frame: Frame) -> int:
        """The frame's timestamp in the stream's time base (exact when the time
        bases match), minus the trim origin, strictly increasing, never negative."""
        if frame.pts is not None and frame.time_base is not None:
            source_tb = Fraction(frame.time_base)
            pts = frame.pts if source_tb == self.time_base else round(frame.pts * source_tb / self.time_base)
        else:
            pts = round(self.frames_written / self.fps / self.time_base)
        if self._shift is None:
            self._start_timeline(pts)
        pts = max(0, pts - self._shift)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing timestamps
        self._last_pts = pts
        return pts

    def _start_timeline(self, first_pts: int) -> None:
        """Fix the output origin at the first frame: ``audio_start_s`` if
        given, else the first frame's time with ``shift_to_zero``, else 0."""
        if self.origin_s is None:
            self.origin_s = float(first_pts * self.time_base) if self.shift_to_zero else 0.0
            self._shift = first_pts if self.shift_to_zero else 0
        else:
            self._shift = round(Fraction(self.origin_s) / self.time_base)
        if self.audio is not None:
            self.audio.start(self.origin_s)

    def _finish(self) -> None:
        """Flush encoders and audio, write the trailer; OutputError on failure."""
        try:
            if self.palette is not None:
                for encodable in self.palette.convert(None):
                    self.container.mux(self.video.encode(encodable))
            self.container.mux(self.video.encode(None))
            if self.audio is not None:
                self.audio.mux_until(math.inf)
                self.audio.close()
            self.container.close()
        except (av.error.FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"finishing {self.dst} failed: {error_reason(err)}", exit_code=1) from err
        self._closed = True

    def close(self) -> str:
        """Flush the encoders and move the finished file onto ``dst``; returns
        ``dst``. The partial output of an earlier interrupted run is removed:
        the complete one supersedes it. A second call does nothing."""
        if self._closed:
            return self.dst
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames were written; {self.dst} not created", exit_code=1)
        self._finish()
        self._move_to(self.dst)
        for leftover in [partial_path(self.dst), *self._stale_tmp_files()]:
            try:
                os.remove(leftover)
            except OSError:
                pass
        return self.dst

    def _stale_tmp_files(self) -> list[str]:
        """Temporary files of earlier runs to the same ``dst`` that were killed
        before they could clean up (SIGKILL, power loss)."""
        folder, name = os.path.split(os.path.abspath(self.dst))
        prefix, suffix = f".{name}.", f".partial{self.ext}"
        return [os.path.join(folder, entry) for entry in os.listdir(folder)
                if entry.startswith(prefix) and entry.endswith(suffix)]

    def close_partial(self) -> str:
        """Flush what was written into ``NAME.partial.EXT`` beside ``dst``
        (interrupted runs); returns that path."""
        partial = partial_path(self.dst)
        self._finish()
        self._move_to(partial)
        return partial

    def _move_to(self, path: str) -> None:
        try:
            os.replace(self.tmp_path, path)
        except OSError as err:
            self._discard()
            raise OutputError(f"cannot move the finished video onto {path}: {error_reason(err)}", exit_code=1) from err

    def abort(self) -> None:
        """Drop the temporary file; ``dst`` is left as it was. Safe to call twice."""
        self._closed = True
        if self.audio is not None:
            self.audio.close()
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # noqa: BLE001 - the file is being discarded anyway
                pass
        self._discard()

    def _discard(self) -> None:
        try:
            os.remove(self.tmp_path)
        except FileNotFoundError:
            pass


_YUV_TARGET = {"dst_colorspace": "ITU709", "dst_color_range": "MPEG"}


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


class _AudioPassthrough:
    """Moves the source's first audio stream into the output as video is
    written: packets copied when the container takes the codec (cut to whole
    packets), else decoded, cut to the sample and re-encoded.

    Times: a source packet at ``t`` seconds goes to ``t - origin_s`` in the
    output, the same shift the video gets, so trimmed clips stay in sync.
    """

    @classmethod
    def open(cls, src, container, fmt: OutputFormat, *, end_s: float | None) -> "_AudioPassthrough | None":
        """The passthrough for ``src``'s audio, or None when it has none."""
        source = av.open(os.fspath(src))
        if not source.streams.audio:
            source.close()
            return None
        return cls(source, container, fmt, end_s=end_s)

    def __init__(self, source, container, fmt: OutputFormat, *, end_s: float | None):
        self.source = source
        self.container = container
        self.in_stream = source.streams.audio[0]
        self.end_s = end_s
        self.origin_s = 0.0
        in_ctx = self.in_stream.codec_context
        self.copy = fmt.copyable_audio is None or in_ctx.name in fmt.copyable_audio
        if self.copy:
            self.out_stream = container.add_stream_from_template(self.in_stream)
        else:
            rate = in_ctx.sample_rate or 48000
            if fmt.audio_codec == "libopus" and rate not in OPUS_RATES:
                rate = 48000
            self.out_stream = container.add_stream(fmt.audio_codec, rate=rate)
            self.out_stream.layout = in_ctx.layout.name if in_ctx.layout and in_ctx.layout.nb_channels else "stereo"
        self.packets = None
        self.pending = None
        self.done = False
        self.flushed = False
        self.closed = False

    def start(self, origin_s: float) -> None:
        """Begin at source time ``origin_s`` (seconds), which becomes output time 0."""
        self.origin_s = origin_s
        if origin_s > 0:
            try:
                self.source.seek(int(max(0.0, origin_s - 1.0) * av.time_base), backward=True)
            except av.error.FFmpegError:
                pass  # unseekable: demux from the start and skip
        self.packets = self.source.demux(self.in_stream)

    def mux_until(self, output_s: float) -> None:
        """Mux the audio that starts before ``output_s`` seconds of the output."""
        if self.packets is None:
            self.start(self.origin_s)
        while not self.done:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                self.done = True
            elif packet.size == 0:
                continue  # demuxer flush packet
            elif _packet_time_s(packet) - self.origin_s > output_s:
                self.pending = packet
                return
            elif self.copy:
                self._copy(packet)
            else:
                self._reencode(packet)
        self._flush()

    def _copy(self, packet) -> None:
        """Remux ``packet`` when its middle lies in [origin_s, end_s)."""
        middle_s = _packet_time_s(packet) + float((packet.duration or 0) * packet.time_base) / 2
        if self.end_s is not None and middle_s >= self.end_s:
            self.done = True
            return
        if self.origin_s > 0 and middle_s < self.origin_s:
            return  # untrimmed copies keep everything, AAC priming packets included
        shift = round(Fraction(self.origin_s) / packet.time_base)
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.out_stream
        self.container.mux(packet)

    def _reencode(self, packet) -> None:
        """Decode ``packet``, keep the samples in [origin_s, end_s), encode them."""
        for frame in packet.decode():
            cut = _cut_audio_frame(frame, self.origin_s, self.end_s)
            if cut is None:
                if self.end_s is not None and frame.time is not None and frame.time >= self.end_s:
                    self.done = True
                continue
            self.container.mux(self.out_stream.encode(cut))

    def _flush(self) -> None:
        """Drain the audio encoder once the source is exhausted."""
        if not self.copy and not self.flushed:
            self.container.mux(self.out_stream.encode(None))
        self.flushed = True
        self.close()

    def close(self) -> None:
        """Release the source file."""
        if not self.closed:
            self.closed = True
            self.source.close()


def _packet_time_s(packet) -> float:
    return float(packet.pts * packet.time_base) if packet.pts is not None else 0.0


def _cut_audio_frame(frame, origin_s: float, end_s: float | None):
    """The part of a decoded audio frame inside ``[origin_s, end_s)`` source
    seconds, re-timed to the output (pts in 1/sample_rate from ``origin_s``),
    or None when nothing of it is inside."""
    rate = frame.sample_rate
    start_s = float(frame.pts * frame.time_base) if frame.pts is not None else None
    if start_s is None:
        frame.pts = None
        return frame
    first = max(0, math.ceil((origin_s - start_s) * rate - 1e-6))
    last = frame.samples if end_s is None else min(frame.samples, math.ceil((end_s - start_s) * rate - 1e-6))
    if last <= first:
        return None
    if (first, last) != (0, frame.samples):
        samples = frame.to_ndarray()
        if frame.format.is_planar:
            samples = samples[:, first:last]
        else:
            channels = frame.layout.nb_channels
            samples = samples[:, first * channels:last * channels]
        cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=frame.format.name,
                                         layout=frame.layout.name)
        cut.sample_rate = rate
        frame = cut
    frame.pts = round((start_s - origin_s) * rate) + first
    frame.time_base = Fraction(1, rate)
    return frame
