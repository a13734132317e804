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

    def source_ticks(self, frame: Frame) -> int:
        """``frame``'s time in ticks of ``time_base``, before the origin is
        subtracted (frames without pts: ``frames_timed / fps``)."""
        if frame.pts is not None and frame.time_base is not None:
            return rescale_pts(frame.pts, frame.time_base, self.time_base)
        return round(self.frames_timed / self.fps / self.time_base)

    def set_origin(self, ticks: int) -> None:
        """Make source time ``ticks`` (in ``time_base``) output time 0."""
        self.origin = int(ticks)

    def next_pts(self, ticks: int) -> int:
        """The output pts of the next frame, whose source time is ``ticks``:
        minus the origin, at least 0, greater than the previous pts."""
        pts = max(0, ticks - (self.origin or 0))
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1
        self.last_pts = pts
        self.frames_timed += 1
        return pts

    def pts_for(self, frame: Frame) -> int:
        """``next_pts(source_ticks(frame))``: the output pts of ``frame``."""
        return self.next_pts(self.source_ticks(frame))
