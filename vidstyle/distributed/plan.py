"""Splitting a clip into segments that workers stylize independently.

A clip is cut at its scene cuts first (a cut is a cold start anyway, so a seam
there costs nothing), then each shot longer than ``segment_frames`` is split
into near-equal segments. A segment that starts inside a shot would start
cold, a visible jump at the seam; instead it starts ``seam_frames`` earlier
(never before the previous segment's first frame), so its first kept frame
is warm-started, and its warm-up frames are cross-faded with the previous
segment's last frames (``seams``; benchmarks/scale.py measures the seams).
Its first frame starts from the shot's first painting carried along the
motion (``anchor``), for which it also reads the shot's frames before it
(``lead_pts``).

Each segment names its frames by their source timestamps (``pts``): a worker
decodes the time range around them and keeps exactly those frames, so --fps
(which drops source frames) and -ss/-t give the same frames as one machine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np

from vidstyle.frames import Frame
from vidstyle.motion.flow import HISTOGRAM_CUT_CORRELATION, histogram_correlation


@dataclasses.dataclass(frozen=True)
class Segment:
    """Frames ``first <= index < stop`` (indices of the stylized sequence),
    decoded from ``first - warmup`` on; the ``warmup`` frames are stylized to
    be cross-faded with the previous segment's last ``warmup`` frames.
    ``pts`` lists the source timestamps of every frame a worker stylizes
    (warm-up included); ``start_s``/``end_s`` is the source time range that
    holds them and no other frame it keeps. ``lead_pts``: the timestamps of
    the shot's frames before ``first - warmup``, from the shot's first frame
    on, which anchor the segment's first frame (``anchor``; empty: it starts
    cold), decoded from ``lead_start_s`` on."""

    number: int
    first: int
    stop: int
    warmup: int
    pts: tuple[int, ...]
    start_s: float | None
    end_s: float | None
    starts_shot: bool
    lead_pts: tuple[int, ...] = ()
    lead_start_s: float | None = None

    @property
    def num_frames(self) -> int:
        """Frames this segment delivers (warm-up excluded)."""
        return self.stop - self.first


@dataclasses.dataclass(frozen=True)
class ClipScan:
    """What the driver learned from one cheap decode: each stylized frame's
    ``pts`` and time in seconds, and the indices where a new shot starts."""

    pts: list[int]
    times_s: list[float]
    cuts: list[int]


def scan_frames(frames: Iterable[Frame], *, min_correlation: float = HISTOGRAM_CUT_CORRELATION) -> ClipScan:
    """Timestamps and scene cuts of ``frames`` (the frames a run stylizes, at
    the processing size). A cut is the colour-histogram test of
    ``motion.estimate.CutPolicy``; the flow-reliability test still runs inside
    each segment, in the same code as a single-machine run."""
    pts: list[int] = []
    times: list[float] = []
    cuts: list[int] = []
    previous: np.ndarray | None = None
    for frame in frames:
        if frame.pts is None or frame.time_s is None:
            raise ValueError(f"frame {frame.index} has no timestamp")
        if previous is not None and histogram_correlation(previous, frame.image_u8) < min_correlation:
            cuts.append(len(pts))
        pts.append(int(frame.pts))
        times.append(frame.time_s)
        previous = frame.image_u8
    return ClipScan(pts=pts, times_s=times, cuts=cuts)


def plan_segments(
    scan: ClipScan,
    *,
    segment_frames: int,
    seam_frames: int,
    start_s: float | None = None,
    end_s: float | None = None,
    workers: int = 1,
    anchor_lead: int = 0,
) -> list[Segment]:
    """Segments covering every frame of ``scan`` once, in order.

    Args:
        segment_frames: shots longer than this are split into
            ``ceil(len / segment_frames)`` near-equal segments.
        seam_frames: warm-up frames before a segment that starts inside a shot.
        start_s, end_s: the run's source range (-ss/-t), used as the outer
            bounds of the first and last segments.
        workers: the segments that run at once (``balanced_pieces``).
        anchor_lead: a segment that starts inside a shot at most this many
            frames after the shot's first frame is anchored to it
            (``Segment.lead_pts``); 0: none is.
    """
    count = len(scan.pts)
    bounds = [0, *sorted(c for c in set(scan.cuts) if 0 < c < count), count]
    shots = list(zip(bounds[:-1], bounds[1:]))
    lengths = [stop - start for start, stop in shots]
    pieces = balanced_pieces(
        lengths, [max(1, math.ceil(n / segment_frames)) for n in lengths], workers=workers, seam_frames=seam_frames
    )
    segments: list[Segment] = []
    for (shot_start, shot_stop), shot_pieces in zip(shots, pieces):
        edges = [shot_start + round(i * (shot_stop - shot_start) / shot_pieces) for i in range(shot_pieces + 1)]
        for previous, first, stop in zip([shot_start, *edges[:-2]], edges[:-1], edges[1:]):
            warmup = min(seam_frames, first - previous)  # within the previous segment of this shot
            decode_first = first - warmup
            anchored = first != shot_start and 0 < decode_first - shot_start <= anchor_lead
            shot_start_s = start_s if shot_start == 0 else _between(scan.times_s, shot_start)
            segments.append(
                Segment(
                    number=len(segments),
                    first=first,
                    stop=stop,
                    warmup=warmup,
                    pts=tuple(scan.pts[decode_first:stop]),
                    start_s=start_s if decode_first == 0 else _between(scan.times_s, decode_first),
                    end_s=end_s if stop == count else _between(scan.times_s, stop),
                    starts_shot=first == shot_start,
                    lead_pts=tuple(scan.pts[shot_start:decode_first]) if anchored else (),
                    lead_start_s=shot_start_s if anchored else None,
                )
            )
    return segments


def balanced_pieces(lengths: Sequence[int], pieces: Sequence[int], *, workers: int, seam_frames: int) -> list[int]:
    """``pieces`` per shot of ``lengths`` frames, with shots split further so
    that the segments fill whole waves of ``workers``: 3 equal segments on 2
    workers take 2 rounds, one worker idle in the second (1.5x at best), 4
    take 2 full rounds (2x). Only when that adds fewer than ``workers``
    segments, each from the shot with the longest segments and only while
    they stay longer than ``2 * seam_frames`` (an extra seam costs a cold
    start and ``seam_frames`` warm-up frames)."""
    pieces = list(pieces)
    total = sum(pieces)
    if workers <= 1 or total % workers == 0:
        return pieces
    for _ in range(workers - total % workers):
        longest = max(range(len(lengths)), key=lambda i: lengths[i] / pieces[i])
        if lengths[longest] / (pieces[longest] + 1) <= 2 * seam_frames:
            break
        pieces[longest] += 1
    return pieces


def _between(times_s: Sequence[float], index: int) -> float:
    """A time strictly between frame ``index - 1`` and frame ``index``: a
    range boundary that no rounding can put on the wrong side of either."""
    return (times_s[index - 1] + times_s[index]) / 2
