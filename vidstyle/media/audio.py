"""The source's audio in the output: copied packet by packet when the output
container takes its codec, else decoded, cut to the sample and re-encoded;
trimmed to the same range as the video so a clip stays in sync, and muxed
only as far as the video written so far (an interrupted run's partial file
ends its audio with its video).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from vidstyle.media.formats import OPUS_RATES, OutputFormat

DEFAULT_SAMPLE_RATE = 48000  # re-encoding a source that does not say its rate
TIME_EPSILON_S = 1e-6  # packet times that differ by less are equal (float seconds from integer ticks)


class AudioSourceError(Exception):
    """The source's audio failed part-way (damaged, or truncated or rewritten
    while it was being read); the writer reports it as a corrupt input.

    Attributes:
        time_s: source time (seconds) of the last packet read before the failure.
        reason: FFmpeg's words for it.
    """

    def __init__(self, *, time_s: float, reason: str):
        super().__init__(f"the audio is unreadable after {time_s:.2f}s ({reason})")
        self.time_s = time_s
        self.reason = reason


class AudioPassthrough:
    """Moves the source's first audio stream into the output as video is
    written: packets copied when the container takes the codec, else decoded,
    cut to the sample and re-encoded.

    Copied packets are whole: every packet that overlaps the range
    ``[origin_s, end_s)`` is kept, even one longer than the range (an AAC
    packet is 1024 samples, 21-23 ms), and the container is told the exact
    range: the first packet starts before 0 (MP4/MOV skip that part by an
    edit list, as FFmpeg's demuxer does) and the last one's duration ends at
    ``end_s`` (the stream's duration; decoders that ignore it play the rest
    of that packet, at most one packet past the video's end).

    Times: a source packet at ``t`` seconds goes to ``t - origin_s`` in the
    output, the same shift the video gets, so trimmed clips stay in sync.

    Failures reading the source raise AudioSourceError (the audio then stops
    where it failed, and the output can still be finished); failures writing
    the output raise PyAV's errors for the writer to report.
    """

    @classmethod
    def open(cls, src, container, fmt: OutputFormat, *, end_s: float | None) -> AudioPassthrough | None:
        """The passthrough of ``src``'s audio into ``container``, or None when
        ``src`` has no audio stream."""
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
            rate = in_ctx.sample_rate or DEFAULT_SAMPLE_RATE
            if fmt.audio_codec == "libopus" and rate not in OPUS_RATES:
                rate = DEFAULT_SAMPLE_RATE
            self.out_stream = container.add_stream(fmt.audio_codec, rate=rate)
            self.out_stream.layout = in_ctx.layout.name if in_ctx.layout and in_ctx.layout.nb_channels else "stereo"
        self.packets: Iterator[av.Packet] | None = None
        self.pending: av.Packet | None = None
        self.last_read_s = 0.0
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
        """Mux the audio that ends by ``output_s`` seconds of the output (the
        end of the video written so far): the audio in the file never runs
        ahead of its video; a packet that reaches past ``output_s`` waits for
        the next call. ``math.inf``: everything to the end of the range."""
        if self.packets is None:
            self.start(self.origin_s)
        while not self.done:
            packet = self.pending or self._next_packet()
            self.pending = None
            if packet is None:
                self.done = True
            elif packet.size == 0:
                continue  # demuxer flush packet
            elif packet_span_s(packet)[1] - self.origin_s > output_s + TIME_EPSILON_S:
                self.pending = packet
                return
            elif self.copy:
                self._copy(packet)
            else:
                self._reencode(packet)
        self._flush()

    def finish(self, until_s: float | None = None) -> None:
        """Mux the rest of the audio and drain the encoder: to the end of the
        range, or with ``until_s`` (output seconds: where the video of an
        interrupted run ends) no further than that, its last packet cut there
        like the range's end. Raises AudioSourceError when the source fails;
        a second call then muxes what was read and releases the source."""
        if until_s is not None:
            until_source_s = self.origin_s + until_s
            self.end_s = until_source_s if self.end_s is None else min(self.end_s, until_source_s)
        self.mux_until(math.inf)

    def _next_packet(self):
        """The next source packet, None at its end; AudioSourceError when the
        source fails (the audio stops there)."""
        assert self.packets is not None, "start() first"
        try:
            packet = next(self.packets, None)
        except (av.error.FFmpegError, OSError) as err:
            self._stop_reading()
            raise AudioSourceError(time_s=self.last_read_s, reason=getattr(err, "strerror", None) or str(err)) from err
        if packet is not None and packet.pts is not None:
            self.last_read_s = packet_time_s(packet)
        return packet

    def _stop_reading(self) -> None:
        """End the audio at what was muxed so far (the source failed)."""
        self.done, self.pending = True, None

    def _copy(self, packet) -> None:
        """Remux ``packet`` when it overlaps [origin_s, end_s), shifted to the
        output's time; a packet reaching past ``end_s`` is given the duration
        that ends it there."""
        start_s, end_s = packet_span_s(packet)
        if self.end_s is not None and start_s >= self.end_s - TIME_EPSILON_S:
            self.done = True
            return
        if self.origin_s > 0 and start_s < self.origin_s and end_s <= self.origin_s + TIME_EPSILON_S:
            return  # before the range; untrimmed copies keep everything, AAC priming packets included
        if self.end_s is not None and end_s > self.end_s + TIME_EPSILON_S:
            packet.duration = max(1, round((self.end_s - start_s) / float(packet.time_base)))
        shift = round(Fraction(self.origin_s) / packet.time_base)
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.out_stream
        self.container.mux(packet)

    def _reencode(self, packet) -> None:
        """Decode ``packet``, keep the samples in [origin_s, end_s), encode them."""
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, OSError) as err:
            self._stop_reading()
            raise AudioSourceError(time_s=self.last_read_s, reason=getattr(err, "strerror", None) or str(err)) from err
        for frame in frames:
            cut = cut_audio_frame(frame, self.origin_s, self.end_s)
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
        """Release the source file; a second call does nothing."""
        if not self.closed:
            self.closed = True
            self.source.close()


def packet_time_s(packet) -> float:
    """Presentation time of ``packet`` in seconds (0 when it has none)."""
    return float(packet.pts * packet.time_base) if packet.pts is not None else 0.0


def packet_span_s(packet) -> tuple[float, float]:
    """Start and end of ``packet`` in seconds (the end is the start when its
    duration is unknown)."""
    start_s = packet_time_s(packet)
    return start_s, start_s + float((packet.duration or 0) * packet.time_base)


def cut_audio_frame(frame, origin_s: float, end_s: float | None):
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
            samples = samples[:, first * channels : last * channels]
        cut = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format=frame.format.name, layout=frame.layout.name
        )
        cut.sample_rate = rate
        frame = cut
    frame.pts = round((start_s - origin_s) * rate) + first
    frame.time_base = Fraction(1, rate)
    return frame
