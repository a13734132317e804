"""Frame-rate conversion (``--fps``): drop and repeat frames by timestamp.

Output frame ``n`` is shown at ``t0 + n / rate`` (``t0``: the first source
frame's time) and carries the last source frame whose time, rounded to the
nearest output frame (halves up), is ``n`` or earlier: FFmpeg's ``fps``
filter with ``round=near``. The last frame lasts one source frame. Audio is
not touched; it stays in sync because the output frames keep their place on
the source timeline.

The conversion is split around the expensive stage so that no dropped frame is
stylized and no repeated frame is stylized twice: ``select`` runs before the
stylizer, ``expand`` after it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from fractions import Fraction

from vidstyle.frames import Frame

FINE_TICKS_PER_S = 90000  # output time bases are at least this fine (MPEG's clock), so trims stay exact


def rate_time_base(rate: Fraction) -> Fraction:
    """A time base in which one frame at ``rate`` is a whole number of ticks
    and which is at least ``FINE_TICKS_PER_S`` fine: 1/90000 for 30 and
    30000/1001 fps, 1/90000 for 12.5 fps."""
    rate = Fraction(rate)
    return Fraction(1, rate.numerator * max(1, FINE_TICKS_PER_S // rate.numerator))


class FrameRateConverter:
    """Resamples a frame sequence to ``rate`` frames per second.

    Args:
        rate: output frames per second.
        source_fps: the source's average rate; times frames without ``pts``
            and the last frame's duration when there is no earlier frame.

    ``select(frames)`` yields the source frames that are shown at least once,
    re-indexed from 0; ``expand(frames)`` turns each of those (or what became
    of it, same index) into its run of output frames with timestamps on the
    new rate in ``time_base``. Use one converter for one pass over a clip.
    """

    def __init__(self, rate: Fraction, *, source_fps: Fraction | None):
        self.rate = Fraction(rate)
        self.source_fps = Fraction(source_fps) if source_fps else None
        self.time_base = rate_time_base(self.rate)
        self.t0: Fraction | None = None  # source seconds of output frame 0
        self._slots: dict[int, range] = {}  # kept index -> output frame numbers

    def select(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """Source frames -> the frames some output slot shows, indices 0, 1, ...

        Looks one frame ahead: a frame's slots are known once the next
        frame's time is."""
        next_slot, kept = 0, 0
        pending: Frame | None = None
        pending_t = previous_t = None
        for position, frame in enumerate(frames):
            t = self._time(frame, position)
            if self.t0 is None:
                self.t0 = t
            if pending is not None:
                end = max(next_slot, self._slot(t))  # the slot this frame rounds to ends the pending one's
                if end > next_slot:
                    yield self._keep(pending, kept, range(next_slot, end))
                    kept += 1
                next_slot = end
                previous_t = pending_t
            pending, pending_t = frame, t
        if pending is None or pending_t is None:
            return
        end = self._slot(pending_t + self._last_duration(pending_t, previous_t))
        end = max(end, next_slot + 1) if kept == 0 else end
        if end > next_slot:
            yield self._keep(pending, kept, range(next_slot, end))

    def expand(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """Frames from ``select`` (same indices) -> output frames, each repeated
        over its slots, ``pts`` in ``time_base``, indices counting output frames."""
        ticks_per_frame = int(1 / (self.rate * self.time_base))
        for frame in frames:
            assert self.t0 is not None, "select() runs ahead of expand()"
            origin = round(self.t0 / self.time_base)
            for n in self._slots.pop(frame.index):
                yield Frame(
                    image_u8=frame.image_u8, pts=origin + n * ticks_per_frame, time_base=self.time_base, index=n
                )

    def _slot(self, t: Fraction) -> int:
        """The output frame nearest to source time ``t`` (halves round up)."""
        assert self.t0 is not None, "set by the first frame"
        return math.floor((t - self.t0) * self.rate + Fraction(1, 2))

    def _keep(self, frame: Frame, index: int, slots: range) -> Frame:
        self._slots[index] = slots
        return Frame(image_u8=frame.image_u8, pts=frame.pts, time_base=frame.time_base, index=index)

    def _time(self, frame: Frame, position: int) -> Fraction:
        """Source seconds of ``frame`` (exact); from its position when it has no pts."""
        if frame.pts is not None and frame.time_base is not None:
            return frame.pts * Fraction(frame.time_base)
        return Fraction(position) / (self.source_fps or self.rate)

    def _last_duration(self, t: Fraction, previous_t: Fraction | None) -> Fraction:
        """How long the last source frame lasts: the average frame duration,
        else the interval before it, else one output frame."""
        if self.source_fps:
            return 1 / self.source_fps
        if previous_t is not None and t > previous_t:
            return t - previous_t
        return 1 / self.rate
