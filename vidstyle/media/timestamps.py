"""Output timestamps: the one rule by which every encoder vidstyle feeds (video
files, network streams, loopback devices) gets its frames' ``pts``.

Timestamps are carried, never recomputed: a frame's ``pts`` in its
``time_base`` is rescaled to the output stream's time base (unchanged when
the two are equal, so 30000/1001 and variable frame rates come out exactly),
shifted by the output's origin (the trim start), and then kept valid for an
encoder: never negative, strictly increasing.
"""

from __future__ import annotations

from fractions import Fraction

from vidstyle.frames import Frame


def rescale_pts(pts: int, from_time_base: Fraction, to_time_base: Fraction) -> int:
    """``pts`` ticks of ``from_time_base`` as ticks of ``to_time_base``
    (seconds per tick): the same number when the time bases are equal (exact),
    else rounded to the nearest tick."""
    from_time_base = Fraction(from_time_base)
    if from_time_base == to_time_base:
        return pts
    return round(pts * from_time_base / to_time_base)


class OutputClock:
    """The pts of each frame of one output stream, in ticks of ``time_base``.

    A frame is placed at its own timestamp rescaled to ``time_base``, or, when
    it has none, at ``position / fps`` seconds (``position``: frames timed so
    far). ``origin`` ticks are subtracted from every pts (the source time that
    becomes 0, e.g. a trim start); what is left is clamped at 0 and forced to
    increase: a frame that would not advance gets the previous pts + 1 tick,
    because encoders refuse repeated or decreasing timestamps.

    Args:
        time_base: seconds per tick of the output stream.
        fps: nominal frames per second, for frames without a timestamp.

    Usage: ``clock.pts_for(frame)``; a writer that chooses the origin from the
    first frame calls ``source_ticks`` and ``set_origin`` before it.
    """

    def __init__(self, time_base: Fraction, *, fps: Fraction):
        self.time_base = Fraction(time_base)
        self.fps = Fraction(fps)
        self.origin: int | None = None  # ticks subtracted from every pts; None: not decided yet (0)
        self.frames_timed = 0
        self.last_pts: int | None = None
        self.durations = PacketDurations(self.time_base)  # the frames' durations onto the encoder's packets

    def source_ticks(self, frame: Frame) -> int:
        """``frame``'s time in ticks of ``time_base``, before the origin is
        subtracted (frames without pts: ``frames_timed / fps``)."""
        if frame.pts is not None and frame.time_base is not None:
            return rescale_pts(frame.pts, frame.time_base, self.time_base)
        return round(self.frames_timed / self.fps / self.time_base)

    def set_origin(self, ticks: int) -> None:
        """Make source time ``ticks`` (in ``time_base``) output time 0."""
        self.origin = int(ticks)

    def next_pts(self, ticks: int, *, duration_of: Frame | None = None) -> int:
        """The output pts of the next frame, whose source time is ``ticks``:
        minus the origin, at least 0, greater than the previous pts. With
        ``duration_of`` (that frame), ``durations`` learns how long it is shown."""
        pts = max(0, ticks - (self.origin or 0))
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1
        self.last_pts = pts
        self.frames_timed += 1
        if duration_of is not None:
            self.durations.note(pts, duration_of)
        return pts

    def pts_for(self, frame: Frame) -> int:
        """``next_pts(source_ticks(frame))``: the output pts of ``frame``."""
        return self.next_pts(self.source_ticks(frame))


# Muxers (ISO media) that time each sample by the next one's dts, the last by its packet's duration
DTS_TIMED_FORMATS = frozenset({"mov", "mp4", "ipod", "3gp", "3g2", "psp", "ismv", "f4v"})
MAX_PENDING_DURATIONS = 256  # frames an encoder may hold before their packets come out (lookahead: dozens)


class PacketDurations:
    """Each frame shown for its own duration, the last one included.

    Encoders give every packet one frame period (1/fps), so a frame held
    longer (a GIF's last frame, a variable frame rate) would be cut short at
    the end of the file. Here each packet gets the duration of its frame
    (Matroska, WebM, GIF and ProRes MOV store it per packet), and the last
    packet in decode order the duration that ends the stream where the last
    frame ends: MP4/MOV (``DTS_TIMED_FORMATS``) time every other sample by
    the next one's dts, and show the stream from its first pts for (last dts
    - first dts) plus the last sample's duration (the first dts is below the
    first pts by the reordering delay of B-frames; the first pts is not 0
    where the video starts after the audio).

    Decode times: an encoder's ``dts`` are kept unless they cannot be true
    (``_repair_dts``): x265 given fewer frames than its B-frame delay + 1
    (a 1- or 2-frame clip) derives them from a delay it never measured, and
    gives dts such as -94,657,007,708,776 for pts 0, which the MP4 muxer
    refuses ("Not yet implemented in FFmpeg, patches welcome").

    Usage: ``note(pts, frame)`` per frame written (``OutputClock.next_pts``),
    ``timed(...)`` on what the encoder returns (the last one is held back),
    ``last()`` after the encoder is flushed.
    """

    def __init__(self, time_base: Fraction):
        self.time_base = Fraction(time_base)
        self.durations: dict[int, int] = {}
        self.end: int | None = None  # ticks where the last frame noted ends; None: not known
        self.first_dts: int | None = None
        self.first_pts: int | None = None  # the first frame's: where the stream's samples start showing
        self.last_noted: int | None = None  # the pts of the last frame noted
        self.last_dts: int | None = None  # the dts of the last packet timed
        self.held = None

    def note(self, pts: int, frame: Frame) -> None:
        """``frame``, at output ``pts``, is shown for its own duration (when it has one)."""
        if self.first_pts is None:
            self.first_pts = pts
        self.last_noted = pts
        duration = None
        if frame.duration is not None and frame.time_base is not None:
            duration = rescale_pts(frame.duration, frame.time_base, self.time_base)
        if duration is not None and duration > 0:
            self.durations[pts] = duration
            self.end = pts + duration
            if len(self.durations) > MAX_PENDING_DURATIONS:  # a packet that never came: keep memory flat
                del self.durations[min(self.durations)]
        else:
            self.end = None

    def timed(self, packets) -> list:
        """``packets`` with their frames' durations, to mux now: all but the
        last packet seen so far, which waits for the next call or ``last()``."""
        ready: list = []
        packets = list(packets)
        self._repair_dts(packets)
        for packet in packets:
            tb = Fraction(packet.time_base) if packet.time_base else self.time_base
            if self.first_dts is None and packet.dts is not None:
                self.first_dts = rescale_pts(packet.dts, tb, self.time_base)
            if packet.pts is not None:
                duration = self.durations.pop(rescale_pts(packet.pts, tb, self.time_base), None)
                if duration is not None:
                    packet.duration = rescale_pts(duration, self.time_base, tb)
            if self.held is not None:
                ready.append(self.held)
            self.held = packet
        return ready

    def extend_last(self, end: int | None) -> None:
        """The last frame noted is shown until ``end`` (ticks; None: its own
        end is kept), in place of a later frame left out (a GIF frame too
        close to it): a packet of it not yet timed, or held, lasts until then."""
        if end is None or self.last_noted is None or end <= self.last_noted:
            return
        self.end = end
        if self.last_noted in self.durations:
            self.durations[self.last_noted] = end - self.last_noted
        elif self.held is not None and self.held.pts is not None:
            tb = Fraction(self.held.time_base) if self.held.time_base else self.time_base
            if rescale_pts(self.held.pts, tb, self.time_base) == self.last_noted:
                self.held.duration = rescale_pts(end - self.last_noted, self.time_base, tb)

    def _repair_dts(self, packets: list) -> None:
        """Replace the dts of one encoder output (``packets``, decode order)
        when they cannot be true: missing, above their pts, not increasing,
        or further below the first frame's pts than the frames noted so far
        span (a reordering delay is measured on frames the encoder has seen).
        The replacement is the usual one: the packets' pts in increasing
        order, less the smallest delay that keeps each dts at or below its
        pts (0, dts = pts, when the packets come in presentation order)."""
        times = []
        for packet in packets:
            if packet.pts is None:
                return  # nothing to rebuild the decode times from
            tb = Fraction(packet.time_base) if packet.time_base else self.time_base
            dts = None if packet.dts is None else rescale_pts(packet.dts, tb, self.time_base)
            times.append((rescale_pts(packet.pts, tb, self.time_base), dts, tb))
        if not times:
            return
        first, last = self.first_pts or 0, self.last_noted or 0
        lowest = first - (last - first)
        previous = self.last_dts
        plausible = True
        for pts, dts, _ in times:
            if dts is None or dts > pts or dts < lowest or (previous is not None and dts <= previous):
                plausible = False
                break
            previous = dts
        if not plausible:
            ordered = sorted(pts for pts, _, _ in times)
            delay = max(0, *(shown - pts for shown, (pts, _, _) in zip(ordered, times)))
            repaired = [shown - delay for shown in ordered]
            if self.last_dts is None or repaired[0] > self.last_dts:
                for packet, dts, (_, _, tb) in zip(packets, repaired, times):
                    packet.dts = rescale_pts(dts, self.time_base, tb)
                self.last_dts = repaired[-1]
                return
        self.last_dts = times[-1][1] if times[-1][1] is not None else self.last_dts

    def last(self, *, dts_timed: bool) -> list:
        """The held packet; in a container that times samples by their dts
        (``dts_timed``: MP4, MOV), lasting until the last frame's end (when known)."""
        packet, self.held = self.held, None
        if packet is None:
            return []
        if dts_timed and self.end is not None and packet.dts is not None:
            # The stream shows from its first pts for (last dts - first dts) + the last sample's duration.
            tb = Fraction(packet.time_base) if packet.time_base else self.time_base
            dts = rescale_pts(packet.dts, tb, self.time_base) - (self.first_dts or 0) + (self.first_pts or 0)
            packet.duration = max(packet.duration or 0, rescale_pts(self.end - dts, self.time_base, tb))
        return [packet]
