"""Reading video files with PyAV: probing, and decoding to upright RGB frames.

Timestamps are carried, never recomputed: each Frame keeps the source's
``pts`` and ``time_base`` (a frame without one gets its position / fps).
An image sequence (``frames/%04d.png`` or its folder, ``input_sequence``)
reads as a video at ``rate`` frames per second (default 25).

Colour: decoding converts with the matrix and range the source is tagged with
(untagged: BT.709 above 576 lines, BT.601 below, as players assume).

Damage: a file that cannot be opened is an InputError (exit code 2) with one
clear line; a file that stops decoding part-way, ends well before the
duration it announces, or is truncated or rewritten while it is being read is
a CorruptInputError after the last good frame, never a raw PyAV exception.

Why this module is long: probing and decoding share the container helpers
(opening with clear errors, rotation, colour tags, the truncation and
changed-file checks); apart, each half would need the other's internals.
"""

from __future__ import annotations

import dataclasses
import math
import os
import struct
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from vidstyle.errors import CorruptInputError, InputError
from vidstyle.frames import Frame
from vidstyle.media.input_sequence import find_input_sequence, looks_like_sequence

STILL_IMAGE_CODECS = {"png", "mjpeg", "bmp", "tiff", "webp", "jpeg2000", "ppm", "pgm", "qoi", "jpegls"}
STILL_IMAGE_FORMATS = {
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "bmp_pipe",
    "tiff_pipe",
    "webp_pipe",
    "ppm_pipe",
    "pgm_pipe",
    "qoi_pipe",
    "j2k_pipe",
    "jpegls_pipe",
}
ISO_MEDIA_EXTENSIONS = {".mp4", ".m4v", ".mov", ".3gp"}
ISO_MEDIA_FORMATS = {"mov", "mp4"}  # FFmpeg's demuxer of them is "mov,mp4,m4a,3gp,3g2,mj2"
STILL_IMAGE_NAMES = {"mjpeg": "JPEG", "jpeg2000": "JPEG 2000", "jpegls": "JPEG-LS"}  # else the codec's name, upper case
TRUNCATION_SLACK_FRAMES = 3  # a video may end this many frames before its announced duration...
TRUNCATION_SLACK_S = 0.25  # ...or this many seconds, whichever is more
# How 4:2:0/4:2:2 chroma becomes RGB: "nearest" is what swscale does unasked
# (each chroma sample repeated over its 2x2 pixels), "player" interpolates it
# bilinearly as players (GPU texture filtering) show a file.
CHROMA_UPSAMPLING = ("nearest", "player")
_SWS = av.video.reformatter.Interpolation
_PLAYER_CHROMA_FLAGS = _SWS.FULL_CHR_H_INT | _SWS.ACCURATE_RND
HD_MIN_HEIGHT = 577  # untagged video taller than PAL SD is taken as BT.709, like players do


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learned about a video file.

    Attributes:
        path: the file probed.
        width, height: display size in pixels, after rotation.
        rotation: degrees clockwise (0/90/180/270) the stored picture is turned
            to display upright; ``read_frames`` applies it.
        mirrored: the display matrix also mirrors the picture (a flip or
            transpose); ``read_frames`` mirrors it left-right before turning.
        fps: average frame rate (None when the container does not say).
        time_base: seconds per pts tick of the video stream.
        num_frames: frame count from the container, or an estimate from
            duration x fps, or None.
        duration_s: duration in seconds, or None.
        has_audio: the file has at least one audio stream.
        codec, pix_fmt: FFmpeg names of the video codec and its pixel format.
        sample_aspect_ratio: the width of a pixel over its height as the
            picture is shown upright (1: square pixels; 2: a 64x36 picture
            is shown 128x36): the container's or codec's SAR, inverted for a
            quarter turn. ``width`` and ``height`` count stored pixels.
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
    mirrored: bool = False
    sample_aspect_ratio: Fraction = Fraction(1)


def check_start(src, info: VideoInfo, start_s: float | None, *, doing: str = "stylize") -> None:
    """InputError (exit code 2) before any work when ``start_s`` (-ss) is at
    or past the end of ``src`` (``info``, its duration known; else a run finds
    no frame and says so). ``doing`` names the work in the message."""
    if start_s is not None and info.duration_s is not None and start_s >= info.duration_s:
        raise InputError(
            f"{os.fspath(src)}: no video frames to {doing} in the requested range: it starts at {start_s:g}s, "
            f"the video ends at {info.duration_s:g}s"
        )


def _open_input(path, rate: Fraction | None = None) -> av.container.InputContainer:
    """Open ``path`` for reading (an image sequence at ``rate``); InputError
    with one clear line when it cannot be."""
    path = os.fspath(path)
    sequence = find_input_sequence(path)
    if sequence is not None:
        return sequence.open(rate)
    if not os.path.exists(path):
        raise InputError(f"input not found: {path}")
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
    """The video stream to read, chosen as FFmpeg does (``choose_video_stream``);
    InputError with one clear line when there is none or it is unusable."""
    stream = choose_video_stream(container)
    if stream is None:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        if container.streams.video:
            kinds.append("cover art")
        found = f"found: {', '.join(kinds)}"
        cut = _cut_index(path, container)
        if cut is not None:
            raise InputError(f"{os.fspath(path)} is damaged or truncated: no video stream ({found}); {cut}")
        raise InputError(f"no video stream in {os.fspath(path)} ({found})")
    ctx = stream.codec_context
    if ctx is None or ctx.width <= 0 or ctx.height <= 0:
        if ctx is not None and container.format.name in STILL_IMAGE_FORMATS:  # FFmpeg went by the file's name
            kind = STILL_IMAGE_NAMES.get(ctx.name, ctx.name.upper())
            raise InputError(
                f"cannot read {os.fspath(path)} as a video or image: FFmpeg finds no {kind} picture in it "
                f"(not an image, or a damaged one)"
            )
        cut = _cut_index(path, container)
        if ctx is None or cut is not None:
            raise InputError(
                f"{os.fspath(path)} is damaged or truncated: its video stream has no usable picture size"
                + (f"; {cut}" if cut else " (no codec parameters)")
            )
        raise InputError(
            f"{os.fspath(path)}: the video stream has no usable picture size "
            f"(corrupt header, or larger than FFmpeg decodes)"
        )
    return stream


def decoding_identity(path) -> dict:
    """What decides the frames ``read_frames`` decodes from the video file
    ``path`` besides its pixels: the stream read (``choose_video_stream``),
    how its frames are turned upright (``_orientation``) and the colour tags
    of their RGB conversion, from the first frame. Part of a run's resume
    fingerprint: all of them live in a file's header or index, which may sit
    past the first MiB that ``pipeline.workdir.file_identity`` hashes.
    InputError as ``probe`` gives for a file without a usable video stream."""
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        identity: dict = {"stream": stream.index}
        try:
            for frame in container.decode(stream):
                mirrored, clockwise = _orientation(frame)
                turn = {"rotation": clockwise, "mirrored": mirrored}
                identity.update(turn, colorspace=int(frame.colorspace), color_range=int(frame.color_range))
                break
        except av.error.FFmpegError:
            pass  # undecodable: the run says so when it reads the frames
        return identity


def choose_video_stream(container) -> av.video.stream.VideoStream | None:
    """The video stream FFmpeg would pick in ``container`` (None: none).

    Cover art (disposition ``attached_pic``) is never picked. Among the
    others, as ``ffmpeg`` chooses: streams with codec parameters and a picture
    size first, then not a thumbnail (a still-image codec such as MJPEG/PNG
    with at most one frame known), then the default stream, then the largest
    picture, then the lowest index. Probe, decoding and everything built on
    them (resume, eval, training clips) read this one stream.
    """
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        return None

    def rank(stream) -> tuple[bool, bool, bool, bool, int, int]:
        ctx = stream.codec_context
        if ctx is None:
            return (False, False, False, False, 0, -stream.index)
        area = max(ctx.width, 0) * max(ctx.height, 0)
        thumbnail = ctx.name in STILL_IMAGE_CODECS and (stream.frames or 0) <= 1
        default = bool(stream.disposition & av.stream.Disposition.default)
        return (True, area > 0, not thumbnail, default, area, -stream.index)

    return max(streams, key=rank)


def _cut_index(path, container) -> str | None:
    """For an MP4/MOV whose top-level boxes run past the end of the file (a
    copy or recording cut short): which box is cut and where, else None.
    Only for a file FFmpeg opened as ISO media (``container``'s format): a
    file of another kind under an .mp4 name has no boxes to read."""
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() not in ISO_MEDIA_EXTENSIONS or not os.path.isfile(path):
        return None
    if not ISO_MEDIA_FORMATS & set(container.format.name.split(",")):
        return None
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            position = 0
            while position + 8 <= size:
                file.seek(position)
                header = file.read(16)
                box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if box_size == 1 and len(header) == 16:  # 64-bit size follows
                    box_size = int.from_bytes(header[8:16], "big")
                if box_size == 0:  # runs to the end of the file
                    return None
                if box_size < 8:
                    return None  # not box structure: no claim
                if position + box_size > size:
                    name = kind.decode("latin-1")
                    what = "index (moov box)" if name == "moov" else f"{name!r} box"
                    return f"its {what} is cut short: the file ends at {size:,} of {position + box_size:,} bytes"
                position += box_size
    except OSError:
        return None
    return None


def _is_still_image(container, stream) -> bool:
    return container.format.name in STILL_IMAGE_FORMATS or (
        stream.frames == 1 and stream.codec_context.name in STILL_IMAGE_CODECS
    )


def is_still_image(path) -> bool:
    """True when ``path`` opens as a single picture (PNG, JPEG, ...) rather
    than a video; False for videos, image sequences and files that do not open at all."""
    if looks_like_sequence(path):
        return False
    try:
        with _open_input(path) as container:
            return _is_still_image(container, _video_stream(container, path))
    except InputError:
        return False


def probe(path, *, rate: Fraction | None = None) -> VideoInfo:
    """Inspect ``path`` without decoding more than its first frame; ``rate``:
    the frame rate of an image sequence (default 25; ignored for a video).

    Raises InputError (exit code 2) with one clear line for a missing file, a
    directory, an empty file, a file FFmpeg cannot read, a file without a
    video stream (audio only), a still image given as a video and a bad image
    sequence (``input_sequence.find_input_sequence``).
    """
    with _open_input(path, rate) as container:
        stream = _video_stream(container, path)
        ctx = stream.codec_context
        if not looks_like_sequence(path) and _is_still_image(container, stream):
            raise InputError(
                f"{os.fspath(path)} is a still image, not a video "
                f"(stylize it with an image output such as -o out.png, or vidstyle.stylize_image)"
            )
        mirrored, rotation = _stream_orientation(container, stream)
        width, height = (ctx.height, ctx.width) if rotation in (90, 270) else (ctx.width, ctx.height)
        fps = stream.average_rate or stream.guessed_rate
        duration_s = _announced_video_duration_s(stream)
        if duration_s is None and container.duration:
            duration_s = container.duration / av.time_base
        num_frames = stream.frames or (round(duration_s * fps) if duration_s and fps else None)
        sar = _sample_aspect_ratio(stream)
        return VideoInfo(
            path=os.fspath(path),
            width=width,
            height=height,
            rotation=rotation,
            mirrored=mirrored,
            fps=Fraction(fps) if fps else None,
            time_base=Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000),
            num_frames=num_frames,
            duration_s=duration_s,
            has_audio=bool(container.streams.audio),
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "unknown",
            sample_aspect_ratio=1 / sar if rotation in (90, 270) else sar,
        )


def _sample_aspect_ratio(stream) -> Fraction:
    """The stored pixels' width over their height: the container's SAR, else
    the codec's (FFmpeg's guess, as players take it); 1 when neither says."""
    sar = stream.sample_aspect_ratio
    return Fraction(sar) if sar and sar > 0 else Fraction(1)


def _stream_orientation(container, stream) -> tuple[bool, int]:
    """``(mirrored, clockwise)`` from the first decoded frame's display matrix
    (PyAV 18 exposes it per frame, not per stream); see ``_orientation``."""
    try:
        for frame in container.decode(stream):
            return _orientation(frame)
    except av.error.FFmpegError:
        return False, 0
    return False, 0


def _clockwise(counterclockwise: int | float) -> int:
    """FFmpeg's display rotation (degrees counterclockwise, -180..180) as
    quarter turns clockwise, in degrees: 0, 90, 180 or 270."""
    return int(round(-float(counterclockwise) / 90.0)) % 4 * 90


def _display_matrix(frame) -> tuple[int, ...] | None:
    """The 3x3 display matrix (16.16 fixed point, row-major) of ``frame``, or None."""
    try:
        data = frame.side_data.get(SideDataType.DISPLAYMATRIX)
    except (AttributeError, KeyError, ValueError):
        return None
    if data is None:
        return None
    raw = bytes(data)
    return struct.unpack("=9i", raw[:36]) if len(raw) >= 36 else None


def _orientation(frame) -> tuple[bool, int]:
    """How ``frame`` is turned upright, as FFmpeg's autorotate does
    (fftools/ffmpeg_filter.c): ``(mirrored, clockwise)`` = mirror left-right
    first when set, then turn ``clockwise`` degrees (0/90/180/270).

    A rotation only (the matrix's determinant > 0) reads as ``frame.rotation``;
    a flip or transpose (determinant < 0) is a mirror plus a turn, which
    ``frame.rotation`` alone would show as a plain turn. Angles that are not
    quarter turns are rounded to the nearest one.
    """
    matrix = _display_matrix(frame)
    if matrix is None:
        return False, _clockwise(frame.rotation or 0)
    m0, m1, m3, m4 = (float(matrix[i]) for i in (0, 1, 3, 4))
    scale0, scale1 = math.hypot(m0, m3), math.hypot(m1, m4)
    if scale0 == 0.0 or scale1 == 0.0:
        return False, 0  # degenerate matrix: FFmpeg leaves the picture as stored
    theta = float(math.floor(math.degrees(math.atan2(m1 / scale1, m0 / scale0)) + 0.5))
    theta -= 360.0 * math.floor(theta / 360.0 + 0.9 / 360.0)  # 0 <= theta < 360
    if abs(theta - 90.0) < 1.0:
        return (True, 270) if m3 > 0 else (False, 90)  # transpose=cclock_flip, else clock
    if abs(theta - 180.0) < 1.0:
        hflip, vflip = m0 < 0, m4 < 0
        return (hflip != vflip, 180 if vflip else 0)  # vflip = mirror + half turn
    if abs(theta - 270.0) < 1.0:
        return (True, 90) if m3 < 0 else (False, 270)  # transpose=clock_flip, else cclock
    if abs(theta) < 1.0:
        return (True, 180) if m4 < 0 else (False, 0)  # vflip
    return False, _clockwise(-theta)


def read_frames(
    src,
    *,
    size: tuple[int, int] | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    chroma: str = "nearest",
    rate: Fraction | None = None,
) -> Iterator[Frame]:
    """Decode the video stream of ``src`` (``choose_video_stream``) as upright RGB frames.

    A generator that owns its container: it is closed when the generator is
    exhausted, closed or garbage collected.

    Args:
        src: path of a video file.
        size: ``(width, height)`` in pixels of the yielded images, in display
            (upright) orientation; None keeps the display size. Shrinking uses
            an area filter, enlarging bicubic.
        start_s, end_s: keep frames with ``start_s <= time < end_s`` (seconds
            on the source's timeline); seeks to ``start_s`` first.
        chroma: how subsampled chroma is upsampled (``CHROMA_UPSAMPLING``):
            ``nearest`` (swscale's default, what the stylizer reads) or
            ``player`` (interpolated, as a player shows the file).
        rate: frames per second of an image sequence (frame i at i / rate
            seconds; default 25); ignored for a video.

    Yields:
        Frames with ``image_u8`` uint8 ``(H, W, 3)`` RGB, the source's ``pts``
        and ``time_base`` (a missing pts is synthesized from the frame's
        position and the frame rate) and ``index`` counting the yielded frames
        from 0.

    Raises:
        InputError: the file cannot be opened or has no video stream.
        CorruptInputError: after the last good frame, when decoding fails
            part-way (garbage in the stream), when the frames stop well
            before the duration the file announces (FFmpeg reads a truncated
            file quietly up to the cut), or when the file is truncated or
            rewritten while it is being read (the message says so). A
            truncated file whose header does not announce a duration just
            ends early: the caller sees fewer frames. A file replaced by a
            rename or deleted while it is read is read to its end as it was.
    """
    if chroma not in CHROMA_UPSAMPLING:
        raise ValueError(f"unknown chroma upsampling {chroma!r}; choose one of {', '.join(CHROMA_UPSAMPLING)}")
    with _open_input(src, rate) as container:
        opened = _OpenedFile(src)
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
                _check_complete(src, stream, index, last_end_s, fps, opened)
                return
            except (av.error.FFmpegError, OSError) as err:
                raise _unreadable(src, index, error_reason(err), opened) from err
            pts = frame.pts if frame.pts is not None else _synthesized_pts(decoded_count, fps, time_base)
            decoded_count += 1
            seconds = float(pts * time_base) if pts is not None and time_base else None
            if start_s is not None and seconds is not None and seconds < start_s - 1e-6:
                continue
            if end_s is not None and seconds is not None and seconds >= end_s - 1e-6:
                return
            try:
                image_u8 = frame_to_rgb(frame, size, chroma=chroma)
            except av.error.FFmpegError as err:  # a damaged frame that decoded to nonsense
                raise _unreadable(src, index, error_reason(err), opened) from err
            duration = _duration(frame, time_base)
            if duration is not None and end_s is not None and seconds is not None and time_base:  # -t: not past the end
                duration = min(duration, max(1, round((end_s - seconds) / time_base)))
            yield Frame(image_u8=image_u8, pts=pts, time_base=time_base, index=index, duration=duration)
            index += 1
            if seconds is not None:
                last_end_s = seconds + _frame_duration_s(frame, fps)


class _OpenedFile:
    """What an input file was when it was opened, to tell a damaged file from
    one truncated or rewritten while it is being read (another program
    writing to it, a copy over it). A file replaced by a rename or deleted is
    not a change to what is read: the open file is read as it was. An image
    sequence is not watched (its folder's times change with any file in it)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            self.stat: os.stat_result | None = None if looks_like_sequence(path) else os.stat(self.path)
        except OSError:
            self.stat = None

    def change(self, *, count_growth: bool = True) -> str | None:
        """How the file was changed in place since it was opened ("truncated
        from 377,997 to 0 bytes", "rewritten"), or None. ``count_growth``:
        False ignores a file that only grew (a recording still being written)."""
        if self.stat is None:
            return None
        try:
            now = os.stat(self.path)
        except OSError:
            return None
        if (now.st_dev, now.st_ino) != (self.stat.st_dev, self.stat.st_ino):
            return None
        if now.st_size < self.stat.st_size:
            return f"truncated from {self.stat.st_size:,} to {now.st_size:,} bytes"
        if now.st_mtime_ns != self.stat.st_mtime_ns and (count_growth or now.st_size == self.stat.st_size):
            return "rewritten"
        return None


def _unreadable(src, index: int, detail: str, opened: _OpenedFile) -> CorruptInputError:
    """The CorruptInputError for an input that fails at frame ``index``: it
    names an in-place change of the file when there was one, else ``detail``."""
    change = opened.change()
    if change is not None:
        return CorruptInputError(
            f"{src}: input is unreadable from frame {index}: the file was {change} while it was being read",
            frame_index=index,
        )
    if looks_like_sequence(src):  # a frame file deleted or replaced by a damaged one mid-run
        return CorruptInputError(
            f"{src}: a file of the image sequence is unreadable near frame {index} ({detail})", frame_index=index
        )
    return CorruptInputError(f"{src}: input is corrupt at frame {index} ({detail})", frame_index=index)


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


def _duration(frame, time_base: Fraction | None) -> int | None:
    """``frame``'s own duration in ticks of ``time_base``; None when it has none."""
    if not frame.duration or frame.duration < 0 or not time_base:
        return None
    return round(frame.duration * (frame.time_base or time_base) / time_base)


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


def _check_complete(src, stream, frames: int, last_end_s: float, fps, opened: _OpenedFile) -> None:
    """FFmpeg stops quietly at the end of a truncated file: refuse to call the
    input complete when it was truncated or rewritten while being read, or
    when the frames ended well before the duration the header announced."""
    if frames == 0:
        return
    change = opened.change(count_growth=False)
    if change is not None:
        raise CorruptInputError(
            f"{src}: input is unreadable from frame {frames}: the file was {change} while it was being read",
            frame_index=frames,
        )
    announced = _announced_video_duration_s(stream)
    if announced is None:
        return
    slack = max(TRUNCATION_SLACK_FRAMES / float(fps) if fps else 0.0, TRUNCATION_SLACK_S)
    if last_end_s < announced - slack:
        raise _unreadable(
            src,
            frames,
            f"the video stops at {last_end_s:.2f}s but the file announces {announced:.2f}s: truncated?",
            opened,
        )


def display_size(frame) -> tuple[int, int]:
    """``(width, height)`` in pixels of a decoded ``frame`` once turned upright."""
    quarter_turns = _orientation(frame)[1] // 90
    return (frame.height, frame.width) if quarter_turns % 2 else (frame.width, frame.height)


def frame_to_rgb(frame, size: tuple[int, int] | None, *, chroma: str = "nearest") -> np.ndarray:
    """Upright uint8 ``(H, W, 3)`` RGB, at ``size`` = (width, height) if given,
    chroma upsampled as ``chroma`` says (``CHROMA_UPSAMPLING``); mirrored and
    turned as the display matrix says (``_orientation``).

    Scaling happens in the stored orientation (the target size swapped for
    quarter turns), in the same swscale call as the colour conversion.
    """
    mirrored, clockwise = _orientation(frame)
    quarter_turns = clockwise // 90
    width, height = frame.width, frame.height
    if size is not None:
        width, height = size if quarter_turns % 2 == 0 else (size[1], size[0])
    shrinking = width <= frame.width and height <= frame.height
    scaler = _SWS.AREA if shrinking else _SWS.BICUBIC
    rgb = frame.reformat(
        width=width,
        height=height,
        format="rgb24",
        interpolation=scaler | _PLAYER_CHROMA_FLAGS if chroma == "player" else scaler,
        src_colorspace=_source_colorspace(frame),
        src_color_range=frame.color_range or None,
    )
    image = rgb.to_ndarray()
    if mirrored:
        image = image[:, ::-1]
    if quarter_turns:
        image = np.rot90(image, k=-quarter_turns)  # np.rot90 turns counterclockwise
    return np.ascontiguousarray(image)


def _source_colorspace(frame) -> int | None:
    """The YUV matrix to decode ``frame`` with: its tag, else the players'
    convention (BT.709 for HD, BT.601 for SD)."""
    if frame.colorspace not in (0, 2):  # 0: RGB/identity, 2: unspecified
        return None  # the frame's own tag
    return (
        av.video.reformatter.Colorspace.ITU709
        if frame.height >= HD_MIN_HEIGHT
        else av.video.reformatter.Colorspace.ITU601
    )
