"""What a run reports while it works: small frozen records handed to the
caller's ``on_event`` callback (the CLI renders them; the library never prints)."""

from __future__ import annotations

import dataclasses

from vidstyle.engines.base import FrameResult, IterationDone


@dataclasses.dataclass(frozen=True)
class FrameStarted:
    """Reported before a frame is stylized; ``IterationDone`` events follow."""

    index: int


@dataclasses.dataclass(frozen=True)
class FrameDone:
    """Reported after each stylized frame.

    Attributes:
        index: the frame's index in the decoded sequence.
        result: the engine's result (iterations, losses, seconds, pixels);
            a receiver that keeps events should keep only what it needs.
        cold_start: the frame started from scratch (first frame, scene cut,
            or per-frame mode) rather than from its predecessor.
        scene_cut: a scene cut was detected before this frame.
        resumed: the frame was finished by an earlier run and replayed.
    """

    index: int
    result: FrameResult
    cold_start: bool
    scene_cut: bool
    resumed: bool = False


@dataclasses.dataclass(frozen=True)
class PassStarted:
    """Reported before each refinement pass (``--passes``, from pass 2): the
    ``FrameStarted``/``FrameDone`` events of its sweep follow, at most
    ``frames`` of them (a sweep skips its first frame and scene cuts)."""

    number: int
    passes: int
    frames: int


@dataclasses.dataclass(frozen=True)
class WorkResumed:
    """Reported once before the first frame: ``frames`` finished frames were
    found in the work directory ``path`` and will not be recomputed;
    ``restart_reason`` says why an earlier run's frames were discarded."""

    frames: int
    path: str
    restart_reason: str | None


@dataclasses.dataclass(frozen=True)
class Notice:
    """Something the user should know that is not an error (the source's
    audio left out of a GIF or an image sequence, a processing size reduced
    to fit in memory). Reported before the first frame."""

    message: str


Event = FrameStarted | FrameDone | IterationDone | PassStarted | WorkResumed | Notice
