"""The source's audio in the output, every audio track of it: copied packet
by packet when the output container takes its codec, else decoded, cut to
the sample and re-encoded (in a channel layout the encoder takes: libopus
refuses 5.1(side) and 2.1, for instance); trimmed to the same range as the
video so a clip stays in sync, and muxed only as far as the video written so
far (an interrupted run's partial file ends its audio with its video).

Why this module is long: the copied and the re-encoded paths share the
range, timing and interleaving rules of ``AudioPassthrough``, and the
channel-layout choice (``encoder_layout``) serves only the re-encoding.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Iterator
from fractions import Fraction
from typing import cast

import av
import numpy as np

from vidstyle.media.formats import OPUS_RATES, OutputFormat
from vidstyle.media.timestamps import DTS_TIMED_FORMATS

DEFAULT_SAMPLE_RATE = 48000  # re-encoding a source that does not say its rate (or one the encoder refuses)
# Layouts a re-encoded track falls back to when the encoder refuses the
# source's: the Vorbis-order ones, which libopus takes.
FALLBACK_LAYOUTS = ("mono", "stereo", "3.0", "quad", "5.0", "5.1", "6.1", "7.1")
# Encoders that open with more layouts than players read back: the AAC
# encoder writes 5.1(side), 6.1, 7.1(wide)... with a PCE, which decoders,
# FFmpeg's included, read as unnamed channels ("6 channels"). Only these
# standard channel configurations are written; others go to the nearest.
PORTABLE_LAYOUTS = {"aac": ("mono", "stereo", "3.0", "2.1", "4.0", "quad", "5.0", "5.1", "7.1")}
# Where a channel goes in a layout that lacks it (FFmpeg's resampler mixes it so).
NEAR_CHANNELS = {
    "SL": ("BL",),
    "SR": ("BR",),
    "BL": ("SL",),
    "BR": ("SR",),
    "BC": ("BL", "BR", "SL", "SR"),
    "FLC": ("FL",),
    "FRC": ("FR",),
    "DL": ("FL",),
    "DR": ("FR",),
}
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


@dataclasses.dataclass
class AudioTrack:
    """One source audio stream and its output stream.

    Attributes:
        in_stream, out_stream: the source's stream and the output's.
        copy: packets are copied as they are (else decoded and re-encoded).
        done: nothing more of it goes to the output (its range has ended).
        flushed: its encoder has been drained.
    """

    in_stream: av.audio.stream.AudioStream
    out_stream: av.audio.stream.AudioStream
    copy: bool
    done: bool = False
    flushed: bool = False


class AudioPassthrough:
    """Moves the source's audio streams, all of them (a screen recording's
    microphone and desktop tracks both), into the output as video is
    written: packets copied when the container takes the codec, else
    decoded, cut to the sample and re-encoded.

    Copied packets are whole: every packet that overlaps the range
    ``[origin_s, end_s)`` is kept, even one longer than the range (an AAC
    packet is 1024 samples, 21-23 ms), and the container is told the exact
    range: the first packet starts before 0 (MP4/MOV skip that part by an
    edit list, as FFmpeg's demuxer does; other containers have no edit list
    and start at the first packet muxed, so there a packet straddling the
    start is left out: up to one packet of audio, the video starting at 0)
    and the last one's duration ends at ``end_s`` (the stream's duration;
    decoders that ignore it play the rest of that packet, at most one packet
    past the video's end).

    Re-encoded tracks keep their channel layout when the encoder takes it,
    else get the nearest one it takes (``encoder_layout``); the encoder is
    opened here, so a refusal comes before any frame is stylized.

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
        try:
            return cls(source, container, fmt, end_s=end_s)
        except BaseException:
            source.close()
            raise

    def __init__(self, source, container, fmt: OutputFormat, *, end_s: float | None):
        self.source = source
        self.container = container
        # MP4/MOV skip the part of a first packet before 0 by an edit list; other
        # containers would start the whole file at that packet, the video late.
        self.edit_lists = container.format.name in DTS_TIMED_FORMATS
        self.end_s = end_s
        self.origin_s = 0.0
        self.tracks: list[AudioTrack] = []
        for number, in_stream in enumerate(source.streams.audio):
            if number and not _usable_extra_track(in_stream):
                continue  # no codec FFmpeg knows, or no channels: not worth failing the first track for
            copy = fmt.copyable_audio is None or in_stream.codec_context.name in fmt.copyable_audio
            if copy:
                out_stream = container.add_stream_from_template(in_stream)
            else:
                out_stream = _encoder_stream(container, fmt, in_stream)
            self.tracks.append(AudioTrack(in_stream, out_stream, copy))
        self._by_index = {track.in_stream.index: track for track in self.tracks}
        self.packets: Iterator[av.Packet] | None = None
        self.pending: av.Packet | None = None
        self.last_read_s = 0.0
        self.done = False
        self.closed = False

    def start(self, origin_s: float) -> None:
        """Begin at source time ``origin_s`` (seconds), which becomes output time 0."""
        self.origin_s = origin_s
        if origin_s > 0:
            try:
                self.source.seek(int(max(0.0, origin_s - 1.0) * av.time_base), backward=True)
            except av.error.FFmpegError:
                pass  # unseekable: demux from the start and skip
        self.packets = self.source.demux(*(track.in_stream for track in self.tracks))

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
                continue
            track = self._by_index.get(packet.stream.index)
            if track is None or track.done or packet.size == 0:
                continue  # a demuxer flush packet, or a track whose range has ended
            if packet_span_s(packet)[1] - self.origin_s > output_s + TIME_EPSILON_S:
                self.pending = packet
                return
            if track.copy:
                self._copy(track, packet)
            else:
                self._reencode(track, packet)
            self.done = all(track.done for track in self.tracks)
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

    def _copy(self, track: AudioTrack, packet) -> None:
        """Remux ``packet`` when it overlaps [origin_s, end_s), shifted to the
        output's time; a packet reaching past ``end_s`` is given the duration
        that ends it there."""
        start_s, end_s = packet_span_s(packet)
        if self.end_s is not None and start_s >= self.end_s - TIME_EPSILON_S:
            track.done = True
            return
        if self.origin_s > 0 and start_s < self.origin_s - TIME_EPSILON_S:
            if end_s <= self.origin_s + TIME_EPSILON_S or not self.edit_lists:
                return  # before the range (or straddling it, without edit lists); untrimmed copies keep everything
        if self.end_s is not None and end_s > self.end_s + TIME_EPSILON_S:
            packet.duration = max(1, round((self.end_s - start_s) / float(packet.time_base)))
        shift = round(Fraction(self.origin_s) / packet.time_base)
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = track.out_stream
        self.container.mux(packet)

    def _reencode(self, track: AudioTrack, packet) -> None:
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
                    track.done = True
                continue
            self.container.mux(track.out_stream.encode(cut))

    def _flush(self) -> None:
        """Drain the audio encoders once the source is exhausted."""
        for track in self.tracks:
            if not track.copy and not track.flushed:
                track.flushed = True
                self.container.mux(track.out_stream.encode(None))
            track.flushed = True
        self.close()

    def close(self) -> None:
        """Release the source file; a second call does nothing."""
        if not self.closed:
            self.closed = True
            self.source.close()


def _usable_extra_track(in_stream) -> bool:
    """A second or later audio stream is kept when FFmpeg knows its codec and channels."""
    ctx = in_stream.codec_context
    return ctx is not None and ctx.name not in (None, "", "none") and bool(ctx.channels)


def _encoder_stream(container, fmt: OutputFormat, in_stream):
    """The output stream re-encoding ``in_stream`` with ``fmt.audio_codec``, at
    a sample rate and in a channel layout the encoder takes, opened now (a
    refusal is a ValueError that says so)."""
    codec = fmt.audio_codec
    assert codec is not None, "a format without audio takes no audio track"
    in_ctx = in_stream.codec_context
    rates = av.codec.Codec(codec, "w").audio_rates or (OPUS_RATES if codec == "libopus" else None)
    rate = in_ctx.sample_rate or DEFAULT_SAMPLE_RATE
    if rates and rate not in rates:
        rate = DEFAULT_SAMPLE_RATE if DEFAULT_SAMPLE_RATE in rates else min(rates, key=lambda r: abs(r - rate))
    layout = in_ctx.layout.name if in_ctx.layout is not None and in_ctx.layout.nb_channels else "stereo"
    wanted = encoder_layout(codec, layout, rate)
    if wanted is None:
        raise ValueError(f"the {codec} encoder takes none of the channel layouts {layout} audio can be mixed to")
    stream = container.add_stream(codec, rate=rate)
    stream.layout = wanted
    stream.codec_context.open()  # now: a refusal comes before any frame is stylized, not at the first
    return stream


def encoder_layout(codec: str, layout: str, rate: int) -> str | None:
    """The channel layout to encode ``layout`` audio in with ``codec``:
    ``layout`` itself when the encoder takes it (and players read it back:
    PORTABLE_LAYOUTS), else the nearest one of those (or of FALLBACK_LAYOUTS)
    that the encoder takes: 5.1(side) -> 5.1; libopus 2.1 -> stereo, 4.0 ->
    5.0; an unnamed N-channel layout -> an N-channel one. None when the
    encoder takes none of them."""
    portable = PORTABLE_LAYOUTS.get(codec)
    if (portable is None or layout in portable) and _encoder_takes(codec, layout, rate):
        return layout
    for candidate in sorted(portable or FALLBACK_LAYOUTS, key=lambda name: -_layout_score(layout, name)):
        if _encoder_takes(codec, candidate, rate):
            return candidate
    return None


def _layout_score(layout: str, candidate: str) -> float:
    """How well ``candidate`` holds ``layout``'s channels: those it has (or a
    near one, side for back) less half a point per channel it adds; an
    unnamed layout is held best by one of as many channels. Ties go to the
    earlier candidate (sorting is stable), the one with fewer channels."""
    source = [channel.name for channel in av.AudioLayout(layout).channels]
    target = [channel.name for channel in av.AudioLayout(candidate).channels]
    free = list(target)
    held = 0
    for name in source:
        for option in (name, *NEAR_CHANNELS.get(name, ())):
            if option in free:
                free.remove(option)
                held += 1
                break
    if not held:  # no named positions (an unspecified layout): match the channel count
        return 1.0 if len(target) == len(source) else -abs(len(target) - len(source))
    return held - 0.5 * len(free)


@functools.cache
def _encoder_takes(codec: str, layout: str, rate: int) -> bool:
    """``codec``'s encoder opens with ``layout`` audio at ``rate`` Hz."""
    try:
        ctx = cast(av.AudioCodecContext, av.CodecContext.create(codec, "w"))
        ctx.sample_rate = rate
        ctx.layout = layout
        formats = ctx.codec.audio_formats
        if formats:
            ctx.format = formats[0].name
        ctx.open()
    except (av.error.FFmpegError, ValueError, TypeError):
        return False
    return True


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
    if frame.format.is_planar and frame.layout.nb_channels >= 8:
        # PyAV lists a ninth plane for 8+ planar channels, and to_ndarray()/from_ndarray() crash on it;
        # every frame, cut or not: the encoder's resampler takes the format of the first frame only
        packed = av.AudioResampler(format=frame.format.packed.name, layout=frame.layout.name, rate=rate)
        (converted,) = packed.resample(frame)
        converted.pts, converted.time_base = frame.pts, frame.time_base
        frame = converted
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
