"""Live video out with PyAV: network streams (RTMP, UDP, TCP, SRT) and V4L2
loopback devices (a virtual camera), encoded as frames come."""

from __future__ import annotations

from fractions import Fraction
from typing import cast
from urllib.parse import urlparse

import av
from av.video.stream import VideoStream

from vidstyle.errors import OutputError
from vidstyle.frames import Frame
from vidstyle.media.reading import error_reason
from vidstyle.media.sources import DEVICE_PREFIX, V4L2_FORMAT
from vidstyle.media.timestamps import OutputClock

# H.264 tuned for latency; the wall clock gives the timestamps in ms.
STREAM_TIME_BASE = Fraction(1, 1000)
STREAM_FORMATS = {"rtmp": "flv", "rtmps": "flv", "udp": "mpegts", "tcp": "mpegts", "srt": "mpegts"}
STREAM_CODEC = "libx264"
STREAM_CODEC_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}
STREAM_KEYFRAME_INTERVAL_S = 2  # a viewer joining late waits at most this long for a picture
V4L2_OUT_CODEC, V4L2_OUT_PIX_FMT = "rawvideo", "yuv420p"  # what v4l2loopback consumers expect


class StreamWriter:
    """Encodes frames to a network URL or a V4L2 output device as they come.

    Unlike ``VideoWriter`` nothing is renamed at the end: a stream has no
    file to finish, so it is not a ``FrameWriter``. Timestamps: ``frame.pts``
    in ``frame.time_base`` (the live loop's wall clock) rescaled to
    milliseconds and kept strictly increasing by the same ``OutputClock`` as
    video files; a frame without pts is placed at ``position / fps``.

    Args:
        target: ``rtmp://``, ``udp://``, ``tcp://``, ``srt://`` URL, a
            ``/dev/videoN`` loopback device, or a file path (with ``format``).
        width, height: size of the frames given to ``write`` (even for H.264).
        fps: nominal frame rate (rate-control hint and keyframe interval).
        format: FFmpeg muxer; None picks it from the target (flv for RTMP,
            mpegts for udp/tcp/srt, the V4L2 device for /dev/video*).

    Raises:
        OutputError: exit code 2 when the target cannot be opened (unknown
            scheme, refused connection, missing device), 1 when a write fails.
    """

    def __init__(self, target: str, *, width: int, height: int, fps: float, format: str | None = None):
        self.target = target
        self.is_device = target.startswith(DEVICE_PREFIX)
        self.format = format or _output_format(target, is_device=self.is_device)
        self.frame_size = (int(width), int(height))
        rate = Fraction(fps).limit_denominator(1001)
        self.clock = OutputClock(STREAM_TIME_BASE, fps=rate)
        self._closed = False
        try:
            self.container = av.open(target, mode="w", format=self.format)
        except (av.error.FFmpegError, OSError) as err:
            raise OutputError(f"cannot open stream output {target}: {error_reason(err)}") from err
        try:
            self.video = self._add_stream(rate, fps)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self.container.close()
            raise OutputError(f"cannot set up the encoder for {target}: {error_reason(err)}") from err

    def _add_stream(self, rate: Fraction, fps: float) -> VideoStream:
        if self.is_device:
            stream = cast(VideoStream, self.container.add_stream(V4L2_OUT_CODEC, rate=rate))
            stream.pix_fmt = V4L2_OUT_PIX_FMT
        else:
            stream = cast(VideoStream, self.container.add_stream(STREAM_CODEC, rate=rate))
            stream.pix_fmt = "yuv420p"
            stream.options = dict(STREAM_CODEC_OPTIONS)
            stream.codec_context.gop_size = max(1, round(fps * STREAM_KEYFRAME_INTERVAL_S))
        stream.width, stream.height = self.frame_size
        stream.time_base = STREAM_TIME_BASE
        stream.codec_context.time_base = STREAM_TIME_BASE
        return stream

    def write(self, frame: Frame) -> None:
        """Encode and send one frame (uint8 ``(height, width, 3)`` RGB)."""
        if self._closed:
            raise ValueError(f"{self.target}: write() after close()")
        width, height = self.frame_size
        if frame.image_u8.shape != (height, width, 3):
            raise ValueError(f"expected a ({height}, {width}, 3) image for {self.target}, got {frame.image_u8.shape}")
        video_frame = av.VideoFrame.from_ndarray(frame.image_u8, format="rgb24").reformat(format=self.video.pix_fmt)
        video_frame.pts, video_frame.time_base = self.clock.pts_for(frame), STREAM_TIME_BASE
        try:
            self.container.mux(self.video.encode(video_frame))
        except (av.error.FFmpegError, OSError) as err:
            self.close()
            raise OutputError(f"sending to {self.target} failed: {error_reason(err)}", exit_code=1) from err

    def close(self) -> None:
        """Flush the encoder and close the connection; errors are ignored
        (the peer may be gone already). A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self.container.mux(self.video.encode(None))
        except (av.error.FFmpegError, OSError):
            pass
        finally:
            try:
                self.container.close()
            except (av.error.FFmpegError, OSError):
                pass


def _output_format(target: str, *, is_device: bool) -> str:
    """The FFmpeg muxer for ``target``; OutputError (exit code 2) for a scheme
    vidstyle cannot stream to."""
    if is_device:
        return V4L2_FORMAT
    scheme = urlparse(target).scheme.lower()
    if scheme not in STREAM_FORMATS:
        raise OutputError(
            f"unsupported stream output {target!r}: use one of "
            f"{', '.join(s + '://' for s in STREAM_FORMATS)} or a /dev/videoN loopback device"
        )
    return STREAM_FORMATS[scheme]
