"""Writing video files with PyAV: encode, mux with the source's audio, and
make the file appear only when it is complete.

Timestamps are carried, never recomputed (``timestamps.OutputClock``):
variable frame rates and 30000/1001 come out as they went in (containers with
a fixed timescale, Matroska/WebM 1/1000 and GIF 1/100, round them to their
tick). Colour: frames are converted to BT.709 limited range and the stream is
tagged so, so players agree.

Why this module is long: one writer owns the container from the temporary
file to the finished (or partial) file: the video encoder, the frames'
durations and the audio muxed in step with the video all finish together in
``_finish``, and split apart each would need the others' state.
"""

from __future__ import annotations

import contextlib
import functools
import io
import operator
import os
from collections.abc import Sequence
from fractions import Fraction
from typing import cast

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation
from av.video.stream import VideoStream

from vidstyle.checks import CRF_RANGES, NO_CRF, check_bitrate, check_crf
from vidstyle.errors import CorruptInputError, OutputError
from vidstyle.frames import Frame
from vidstyle.media.audio import AudioPassthrough, AudioSourceError
from vidstyle.media.destination import (
    AtomicWriter,
    OutputFolderRemoved,
    check_folder_still_there,
    discard,
    make_temp_file,
    publish,
)
from vidstyle.media.formats import (
    BT709,
    GIF_TIME_BASE,
    LIMITED_RANGE,
    OUTPUT_FORMATS,
    check_video_destination,
    conversion_flags,
    encoder_options,
    is_rgb_pix_fmt,
    needs_even_size,
    pick_pix_fmt,
)
from vidstyle.media.palette import Palettizer
from vidstyle.media.reading import error_reason
from vidstyle.media.timestamps import DTS_TIMED_FORMATS, OutputClock, rescale_pts

DEFAULT_FPS = Fraction(25)  # rate-control hint when the source does not say its rate
# Players show a GIF frame delay under 2/100 s as 1/10 s (browsers, most viewers), so a
# GIF frame lasts at least this many ticks of GIF_TIME_BASE: 50 frames per second at most.
GIF_MIN_DELAY = 2
GIF_MAX_FPS = 1 / (GIF_MIN_DELAY * GIF_TIME_BASE)
# SVT-AV1 prints its settings (some 20 "Svt[info]:" lines) on stderr each time an
# encoder opens, at its log level 3; it reads SVT_LOG then: 1 is errors only.
SVT_LOG_ENV, SVT_LOG_ERRORS = "SVT_LOG", "1"


def _interpolation(names: tuple[str, ...]) -> Interpolation | None:
    """swscale flags from their names (``formats.conversion_flags``); None: FFmpeg's default."""
    return functools.reduce(operator.or_, (Interpolation[name] for name in names)) if names else None


def partial_path(dst) -> str:
    """Where an interrupted run leaves what it wrote: ``out.mp4`` -> ``out.partial.mp4``."""
    stem, ext = os.path.splitext(os.fspath(dst))
    return f"{stem}.partial{ext}"


class VideoWriter(AtomicWriter):
    """Encode frames into ``dst`` with the source's audio; atomic on success.
    A ``FrameWriter`` (see ``media.writers``).

    The file is written under a temporary name beside ``dst`` (same
    extension, so the same muxer) and renamed onto ``dst`` when ``close()``
    finishes, so ``dst`` never holds a truncated video; ``close()`` then
    removes what interrupted runs to the same ``dst`` left: ``NAME.partial.EXT``
    and the temporary files of killed runs. ``abort()`` (or an exception
    inside ``with``) removes the temporary file and leaves ``dst`` as it was.
    The finished file gets the permissions a plain write would give it
    (``destination.publish``).

    Container and codecs follow the extension (see ``formats.OUTPUT_FORMATS``):
    .mp4 and .m4v H.264 yuv420p crf 12 + AAC, .mkv H.264 + audio copied as is,
    .mov ProRes 4444 10-bit + audio copied (AAC/PCM) or AAC, .webm VP9
    yuv420p crf 12 + Opus, .gif palette per frame with dithering, no audio.
    Subsampled chroma is filtered from full resolution before it is
    subsampled (``formats.CHROMA_DOWNSAMPLING``), so fine colour texture
    does not alias into flicker.

    Frame times: ``pts`` are written in ``time_base`` unchanged (only
    shifted by the trim origin, see ``audio_start_s``), so VFR and NTSC rates
    read back exactly from MP4/MOV; Matroska/WebM round to 1 ms, GIF to 10 ms.
    Frames with ``pts`` None get ``frames_written / fps``. A GIF shows each
    frame at least ``GIF_MIN_DELAY`` hundredths of a second: a frame less
    than that after the one before (sources above 50 fps) is left out, the
    one before lasting until it ends, so the clip keeps its duration.

    Args:
        dst: output path; its extension picks container and codecs.
        width, height: size of the frames given to ``write`` in pixels. For
            pixel formats with subsampled chroma (yuv420p, yuv422p) an odd
            side is resized down to the even size below it.
        time_base: seconds per tick of the frames' pts (the source's).
        fps: nominal frame rate (rate-control hint; timing of frames without
            pts); None: 25.
        audio_from: copy the first audio stream of this file: packets as they
            are when the container takes the codec, else re-encoded.
        audio_start_s, audio_end_s: the source range written (seconds): the
            audio is cut to it (to whole packets when copied, the container
            told the exact range; exactly when re-encoded) and muxed no
            further than the video written; ``audio_start_s`` becomes time 0
            of the output for audio and video alike, so a trimmed clip stays
            in sync.
        shift_to_zero: without ``audio_start_s``, start the output at the
            first frame's time (sources whose timestamps start late).
        codec, crf, bitrate: override the extension's encoder and quality
            (crf default 12 for x264, see ``formats.DEFAULT_CRF``; bitrate in
            bits/s wins over crf).
        overwrite: replace an existing ``dst``.
        input_paths: files that must never be overwritten, even with ``overwrite``.
        sample_aspect_ratio: the width of the frames' pixels over their
            height as they should be shown (a source's non-square pixels,
            ``output_sample_aspect_ratio``); marked in the stream (codec and
            container) so that players show them so. None or 1: square. A
            GIF cannot mark it.

    Raises:
        OutputError: exit code 2 for a bad destination (see
            ``formats.check_video_destination``) or a ``codec`` the container
            cannot hold (``check_container_takes``; the muxer's header is also
            tried in memory, ``_check_muxer_takes``), exit code 1 when the
            encoder cannot be set up or writing fails (encoder error, disk full);
            ``OutputFolderRemoved`` (exit code 1) when the output's folder is
            deleted mid-run.
        InputError: a ``crf`` or ``bitrate`` the encoder has no use for
            (``checks.check_crf``, ``checks.check_bitrate``).
        CorruptInputError: from ``write``/``close`` when ``audio_from``
            becomes unreadable part-way; the frames written so far can still
            be kept with ``close_partial()``.
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
        sample_aspect_ratio: Fraction | None = None,
    ):
        self.dst = os.fspath(dst)
        self.ext = check_video_destination(self.dst, overwrite=overwrite, input_paths=input_paths)
        self.folder = os.path.dirname(os.path.abspath(self.dst))
        self.format = OUTPUT_FORMATS[self.ext]
        check_bitrate(codec or self.format.video_codec, bitrate)  # the codec is known now: does it take one
        if not bitrate:
            check_crf(codec or self.format.video_codec, crf)  # the codec is known now: its own crf range
        self.frame_size = (int(width), int(height))
        self.time_base = GIF_TIME_BASE if self.ext == ".gif" else Fraction(time_base)
        self.fps = Fraction(fps) if fps else DEFAULT_FPS
        self.origin_s = audio_start_s  # source time that becomes 0; None: decided by the first frame
        self.shift_to_zero = shift_to_zero
        self.audio_from = os.fspath(audio_from) if audio_from is not None else None
        self.frames_written = 0
        self.clock = OutputClock(self.time_base, fps=self.fps)
        # "open": takes frames; "finished": the temporary file is complete; "done": moved into place or aborted
        self._state = "open"
        check_video_encoder(codec, self.ext)
        self.tmp_path = make_temp_file(self.dst, suffix=f".partial{self.ext}")
        self.audio: AudioPassthrough | None = None
        try:
            self.container = av.open(self.tmp_path, mode="w")
        except (av.error.FFmpegError, OSError) as err:
            discard(self.tmp_path)
            raise OutputError(f"cannot write {self.tmp_path}: {error_reason(err)}", exit_code=1) from err
        try:
            check_container_takes(self.container, codec, self.ext)
            self.video = self._add_video_stream(self.container, codec, crf, bitrate)
            if sample_aspect_ratio is not None and sample_aspect_ratio != 1 and self.ext != ".gif":
                _mark_sample_aspect_ratio(self.video, Fraction(sample_aspect_ratio))
            self.video.codec_context.open()  # now: settings it refuses fail before any frame is stylized
            if codec is not None:  # the extension's own encoder is known to work
                self._check_muxer_takes(codec, crf, bitrate)
            self.stored_size = (self.video.width, self.video.height)  # even sides for 4:2:0
            self.palette = Palettizer(*self.frame_size, self.time_base) if self.ext == ".gif" else None
            if self.audio_from is not None and self.format.audio_codec is not None:
                self.audio = AudioPassthrough.open(self.audio_from, self.container, self.format, end_s=audio_end_s)
        except OutputError:
            self.abort()
            raise
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self.abort()
            if isinstance(err, av.codec.codec.UnknownCodecError):
                raise OutputError(
                    f"unknown video codec {codec!r}: this FFmpeg build has no such encoder "
                    f"(leave out --codec to use the one {self.ext} files get)"
                ) from err
            raise OutputError(f"cannot set up the encoder for {self.dst}: {error_reason(err)}", exit_code=1) from err

    def _add_video_stream(
        self,
        container: av.container.OutputContainer,
        codec: str | None,
        crf: int | None,
        bitrate: int | None,
        *,
        size: tuple[int, int] | None = None,
    ) -> VideoStream:
        """The video stream in ``container``, its encoder set up (not opened)
        for frames of ``size`` (default the writer's)."""
        stream = cast(VideoStream, container.add_stream(codec or self.format.video_codec, rate=self.fps))
        if stream.codec_context.name == "libsvtav1":
            os.environ.setdefault(SVT_LOG_ENV, SVT_LOG_ERRORS)  # read when the encoder opens; the user's own wins
        supported = [f.name for f in (stream.codec_context.codec.video_formats or [])]
        stream.pix_fmt = pick_pix_fmt(self.format, supported, codec_overridden=codec is not None)
        width, height = size or self.frame_size
        if needs_even_size(stream.pix_fmt):
            width, height = max(2, width - width % 2), max(2, height - height % 2)
        stream.width, stream.height = width, height
        stream.time_base = self.time_base  # the muxer may still impose its own (Matroska: 1/1000)
        stream.codec_context.time_base = self.time_base  # so pts reach the muxer unrounded
        if not is_rgb_pix_fmt(stream.pix_fmt):
            ctx = stream.codec_context
            ctx.colorspace, ctx.color_range = BT709, LIMITED_RANGE  # what _encodable_frames converts to
            ctx.color_primaries, ctx.color_trc = BT709, BT709
        options, bit_rate = encoder_options(
            self.format, stream.codec_context.name, codec_overridden=codec is not None, crf=crf, bitrate=bitrate
        )
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        stream.options = {**options}
        return stream

    def _check_muxer_takes(self, codec: str, crf: int | None, bitrate: int | None) -> None:
        """OutputError (exit code 2) when FFmpeg's muxer refuses to write the
        header of this file for the video stream: the muxer's codec list
        (``check_container_takes``) says yes to some codecs that the muxer
        refuses only then (``--codec libvpx-vp9 -o out.mov``: "vp09 only
        supported in MP4"), which would otherwise fail at the first frame,
        after the engine's set-up. The header is written into memory for a
        64x64 stream set up as this one (encoder, pixel format, time base,
        options), once per run with ``--codec``: 1-3 ms, about 10 for x265 and
        SVT-AV1 (which prints its banner again). An encoder that does not open
        at that size says nothing about the muxer: the real stream opened."""
        name = self.container.format.name
        trial = av.open(io.BytesIO(), mode="w", format=name)
        try:
            try:
                stream = self._add_video_stream(trial, codec, crf, bitrate, size=(64, 64))
                stream.codec_context.open()
            except (av.error.FFmpegError, OSError, ValueError):
                return
            try:
                trial.start_encoding()
            except (av.error.FFmpegError, OSError) as err:
                refused = stream.codec_context.codec.id  # every encoder of this codec is refused alike
                takes = {other for other in trial.supported_codecs if not _encodes(other, refused)}
                why = f"FFmpeg's {name} muxer refuses it: {error_reason(err)}"
                raise _cannot_hold_error(codec, self.ext, takes, why=why) from err
        finally:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                trial.close()  # the trailer of a file without frames, which some muxers (GIF) refuse

    @property
    def takes_audio(self) -> bool:
        """The output format can carry the source's audio (GIF cannot)."""
        return self.format.audio_codec is not None

    def write(self, frame: Frame) -> None:
        """Encode one frame; ``frame.image_u8`` is uint8 ``(height, width, 3)`` RGB.

        Raises ValueError for another shape, OutputError (exit code 1, the
        temporary file removed) when encoding or writing fails or the output
        folder has been deleted, CorruptInputError when the source's audio
        fails (the frame is written; ``close_partial()`` keeps the frames).
        """
        if self._state != "open":
            raise ValueError(f"{self.dst}: write() after close() or abort()")
        image = frame.image_u8
        width, height = self.frame_size
        if image.shape != (height, width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"expected a uint8 ({height}, {width}, 3) image for {self.dst}, got {image.dtype} {image.shape}"
            )
        self._check_folder()
        if self.palette is not None and self._too_soon_for_gif(frame):
            self.frames_written += 1  # taken: the frame before it is shown in its place
            return
        pts = self._pts_for(frame)
        number = self.frames_written
        try:
            for encodable in self._encodable_frames(image, pts):
                self.container.mux(self.clock.durations.timed(self.video.encode(encodable)))
            self.frames_written += 1
            if self.audio is not None:
                self.audio.mux_until(self._video_end_s())  # never ahead of the video: a partial file ends with it
        except AudioSourceError as err:
            raise self._corrupt_audio(err) from err
        except (av.error.FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"writing {self.dst} failed at frame {number}: {error_reason(err)}", exit_code=1) from err

    def _check_folder(self) -> None:
        """Abort and raise OutputFolderRemoved when the output's folder is gone
        (writes into a deleted folder's open file would succeed silently)."""
        try:
            check_folder_still_there(self.folder, dst=self.dst, frames_written=self.frames_written)
        except OutputFolderRemoved:
            self.abort()
            raise

    def _corrupt_audio(self, err: AudioSourceError) -> CorruptInputError:
        return CorruptInputError(
            f"{self.audio_from}: input is corrupt at frame {self.frames_written}: {err}",
            frame_index=self.frames_written,
        )

    def _encodable_frames(self, image: np.ndarray, pts: int) -> list:
        """``image`` as the encoder's frames: palettized for GIF, else converted
        to the stream's pixel format (BT.709, limited range) and size."""
        rgb = av.VideoFrame.from_ndarray(image, format="rgb24")
        rgb.pts, rgb.time_base = pts, self.time_base
        if self.palette is not None:
            return self.palette.convert(rgb)
        stream_size = (self.video.width, self.video.height)
        pix_fmt = str(self.video.pix_fmt)
        yuv = not is_rgb_pix_fmt(pix_fmt)
        converted = rgb.reformat(
            width=stream_size[0],
            height=stream_size[1],
            format=pix_fmt,
            interpolation=_interpolation(conversion_flags(pix_fmt, resizing=stream_size != self.frame_size)),
            dst_colorspace=Colorspace.ITU709 if yuv else None,  # BT.709, limited range, as the stream is tagged
            dst_color_range=ColorRange.MPEG if yuv else None,
        )
        converted.pts, converted.time_base = pts, self.time_base
        return [converted]

    def _too_soon_for_gif(self, frame: Frame) -> bool:
        """True when ``frame`` would follow the frame before it by less than
        ``GIF_MIN_DELAY``: it is left out, and the frame before lasts until
        it ends (its own duration, else one frame period), so that the
        file's duration stays the source's."""
        last = self.clock.last_pts
        if last is None:
            return False
        pts = max(0, self.clock.source_ticks(frame) - (self.clock.origin or 0))
        if pts >= last + GIF_MIN_DELAY:
            return False
        self.clock.frames_timed += 1  # a frame without pts after it is timed as if this one had been
        duration = None
        if frame.duration is not None and frame.time_base is not None:
            duration = rescale_pts(frame.duration, frame.time_base, self.time_base)
        if not duration or duration <= 0:
            duration = round(1 / self.fps / self.time_base)
        self.clock.durations.extend_last(pts + duration)
        return True

    def _pts_for(self, frame: Frame) -> int:
        """The frame's pts in the stream's time base (see ``OutputClock``); the
        first frame fixes the output origin."""
        ticks = self.clock.source_ticks(frame)
        if self.clock.origin is None:
            self._start_timeline(ticks)
        return self.clock.next_pts(ticks, duration_of=frame)

    def _video_end_s(self) -> float:
        """Output seconds where the last frame written ends: its own duration,
        else one frame period (``fps``) after its pts."""
        end = self.clock.durations.end
        if end is not None:
            return float(end * self.time_base)
        return float((self.clock.last_pts or 0) * self.time_base + 1 / self.fps)

    def _start_timeline(self, first_ticks: int) -> None:
        """Fix the output origin at the first frame: ``audio_start_s`` if
        given, else the first frame's time with ``shift_to_zero``, else 0."""
        if self.origin_s is None:
            self.origin_s = float(first_ticks * self.time_base) if self.shift_to_zero else 0.0
            self.clock.set_origin(first_ticks if self.shift_to_zero else 0)
        else:
            self.clock.set_origin(round(Fraction(self.origin_s) / self.time_base))
        if self.audio is not None:
            self.audio.start(self.origin_s)

    def _finish(self, *, partial: bool = False) -> None:
        """Flush encoders and audio, write the trailer: the temporary file is
        then a complete video. The audio goes to the end of its range, or
        with ``partial`` (an interrupted run) to where the last frame written
        ends. OutputError on failure (temporary file removed);
        CorruptInputError, after finishing, when the source's audio failed on
        its last stretch (the audio ends there)."""
        if self._state != "open":
            return
        audio_failure = None
        try:
            if self.palette is not None:
                for encodable in self.palette.convert(None):
                    self.container.mux(self.clock.durations.timed(self.video.encode(encodable)))
            self.container.mux(self.clock.durations.timed(self.video.encode(None)))
            self.container.mux(self.clock.durations.last(dts_timed=self.container.format.name in DTS_TIMED_FORMATS))
            if self.audio is not None:
                until_s = self._video_end_s() if partial else None
                try:
                    self.audio.finish(until_s)
                except AudioSourceError as err:
                    audio_failure = err
                    self.audio.finish(until_s)  # drains what was read and releases the source
                self.audio.close()
            self.container.close()
        except (av.error.FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"finishing {self.dst} failed: {error_reason(err)}", exit_code=1) from err
        self._state = "finished"
        if audio_failure is not None:
            raise self._corrupt_audio(audio_failure) from audio_failure

    def close(self) -> str:
        """Flush the encoders and move the finished file onto ``dst``; returns
        ``dst``. The partial output of an earlier interrupted run is removed:
        the complete one supersedes it. A second call, or a call after
        ``abort()``, does nothing.

        Raises OutputError when no frame was written or finishing fails,
        OutputFolderRemoved when the output's folder is gone."""
        if self._state == "done":  # already moved into place, or aborted
            return self.dst
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames were written; {self.dst} not created", exit_code=1)
        self._check_folder()
        self._finish()
        self._publish(self.dst)
        for leftover in [partial_path(self.dst), *self._stale_tmp_files()]:
            discard(leftover)
        return self.dst

    def close_partial(self) -> str | None:
        """Flush what was written into ``NAME.partial.EXT`` beside ``dst``
        (interrupted runs); returns that path, or None (and nothing is left)
        when no frame was written. Its audio ends where its video ends (whole
        copied packets: the last one's duration cut there), or earlier where
        the audio source failed; a failing audio source does not stop it.

        Raises OutputError when finishing fails, OutputFolderRemoved when the
        output's folder is gone."""
        if self._state == "done" or self.frames_written == 0:
            self.abort()
            return None
        self._check_folder()
        try:
            self._finish(partial=True)
        except CorruptInputError:
            pass  # finished, with the audio cut where its source failed
        partial = partial_path(self.dst)
        self._publish(partial)
        return partial

    def _publish(self, path: str) -> None:
        """Move the finished temporary file onto ``path`` (see ``destination.publish``)."""
        self._state = "done"  # moved, or removed by publish when the move fails
        publish(self.tmp_path, path, dst=self.dst, frames_written=self.frames_written)

    def _stale_tmp_files(self) -> list[str]:
        """Temporary files of earlier runs to the same ``dst`` that were killed
        before they could clean up (SIGKILL, power loss)."""
        name = os.path.basename(self.dst)
        prefix, suffix = f".{name}.", f".partial{self.ext}"
        return [
            os.path.join(self.folder, entry)
            for entry in os.listdir(self.folder)
            if entry.startswith(prefix) and entry.endswith(suffix)
        ]

    def abort(self) -> None:
        """Drop the temporary file; ``dst`` is left as it was. Safe to call twice."""
        self._state = "done"
        if self.audio is not None:
            self.audio.close()
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is being discarded anyway
            pass
        discard(self.tmp_path)


def check_video_encoder(codec: str | None, ext: str) -> None:
    """OutputError when ``codec`` is an audio encoder (``--codec libopus``); unknown ones fail later."""
    if codec is not None and codec in av.codecs_available and av.codec.Codec(codec, "w").type != "video":
        raise OutputError(f"{codec!r} is not a video encoder (leave out --codec to use the one {ext} files get)")


# Encoders FFmpeg runs on a device (NVENC, QSV, AMF, V4L2): left out of the
# list a refused --codec shows, which names what this machine can encode.
_DEVICE_ENCODER = av.codec.codec.Capabilities.hardware | av.codec.codec.Capabilities.hybrid
_LISTED_ENCODERS = 12  # a refused --codec names this many the container takes, vidstyle's known ones first


def check_container_takes(container: av.container.OutputContainer, codec: str | None, ext: str) -> None:
    """OutputError (exit code 2) when the ``container`` being written (a
    ``ext`` file) cannot hold video of ``codec`` (``--codec libx264 -o
    out.webm``), naming the video encoders it takes; None or an encoder
    FFmpeg does not have: nothing to check here (the latter fails later).
    This asks the muxer's codec list, which says yes to some codecs its
    header then refuses: ``VideoWriter`` also tries the header."""
    if codec is None or codec not in av.codecs_available:
        return
    supported = container.supported_codecs
    if not supported or codec in supported:  # empty: the muxer does not say, let FFmpeg decide
        return
    raise _cannot_hold_error(codec, ext, supported)


def _cannot_hold_error(codec: str, ext: str, supported, *, why: str | None = None) -> OutputError:
    """The OutputError for ``--codec CODEC`` in an ``ext`` file, naming
    (``_LISTED_ENCODERS`` of) the software encoders in ``supported``."""
    takes = sorted(name for name in supported if _is_software_video_encoder(name))
    known = {OUTPUT_FORMATS[ext].video_codec, *CRF_RANGES, *NO_CRF}
    takes.sort(key=lambda name: (name != OUTPUT_FORMATS[ext].video_codec, name not in known))
    more = len(takes) - _LISTED_ENCODERS
    listed = ", ".join(takes[:_LISTED_ENCODERS]) + (f" and {more} more" if more > 0 else "")
    because = f" ({why})" if why else ""
    return OutputError(f"--codec {codec}: a {ext} file cannot hold {codec} video{because}; {ext} takes {listed}")


def _encodes(name: str, codec_id: int) -> bool:
    """The encoder ``name`` writes the codec ``codec_id`` (libvpx-vp9 and vp9_vaapi both VP9)."""
    try:
        return av.codec.Codec(name, "w").id == codec_id
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False


def _is_software_video_encoder(name: str) -> bool:
    """``name`` is a video encoder's own name (not a decoder's) that runs on the CPU."""
    try:
        encoder = av.codec.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False
    return encoder.name == name and encoder.type == "video" and not encoder.capabilities & _DEVICE_ENCODER


def _mark_sample_aspect_ratio(stream: VideoStream, sar: Fraction) -> None:
    """Mark ``stream`` (not yet opened) as showing pixels ``sar`` wide per unit
    of height: the encoder's field, which goes into the bitstream where the
    codec has one (H.264 and HEVC VUI, MPEG-4) and into MP4/MOV's ``pasp``
    box. Matroska and WebM read only the stream's own field, which PyAV does
    not expose: there VP9, AV1 or ProRes video loses it
    (``writers.marks_pixel_aspect`` says which outputs keep it)."""
    stream.codec_context.sample_aspect_ratio = sar.limit_denominator(65535)
