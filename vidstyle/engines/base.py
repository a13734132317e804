"""The engine seam: what turns one content frame into one stylized frame.

An engine is anything with the ``Engine`` protocol's attributes and methods.
The file pipeline, still images, live mode and multi-pass call only these;
they never look inside an engine. ``make_engine`` (``engines/__init__.py``)
builds one by name from a config; a new engine is one module plus one
registry line there.

Warm starts: the motion package turns (frame, motion, previous outputs) into
a ``frames.WarmStart``; an engine that ``wants_warm_start`` uses it (the
optimizer starts from its image and adds a temporal loss), others may ignore
it. ``warm=None`` is a cold start: the first frame or one after a scene cut.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from vidstyle.frames import WarmStart


@dataclasses.dataclass(frozen=True)
class IterationDone:
    """Reported after every iteration of an iterative engine: ``iteration``
    of at most ``budget`` (None: not stated) on an image of ``size`` =
    (width, height) pixels (None: not stated; a cold start's pyramid levels
    and the detail stage say which size they optimize)."""

    iteration: int
    loss: float
    budget: int | None = None
    size: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True)
class FrameResult:
    """One stylized frame.

    Attributes:
        image_u8: ``(H, W, 3)`` uint8 RGB stylized frame, the content's size.
        num_iters: iterations (loss evaluations) spent; 0 for a frame replayed
            from an interrupted run, 1 for a single-pass engine.
        converged: stopped by the engine's own rule rather than a cap.
        losses: weighted loss terms at the result (e.g. ``content``,
            ``style``, ``tv``, ``temporal`` and their sum ``total``); may be
            empty for engines that do not compute losses.
        seconds: wall time spent on the frame.
    """

    image_u8: np.ndarray
    num_iters: int
    converged: bool
    losses: dict[str, float]
    seconds: float


OnIteration = Callable[[IterationDone], None]


@runtime_checkable
class Engine(Protocol):
    """A stylization engine (see the module docstring).

    Attributes:
        name: the registry name (``make_engine``), recorded in run summaries.
        device: where it computes (a ``torch.device`` or its name).
        wants_warm_start: it uses a ``WarmStart``; when False the caller may
            skip optical flow altogether.
        min_iters: the fewest iterations a frame can usefully get (live mode's
            floor when the time budget is spent); 1 for single-pass engines.
    """

    name: str
    device: object
    wants_warm_start: bool
    min_iters: int

    def max_iters(self, *, cold: bool, size: tuple[int, int] | None = None) -> int:
        """The engine's own iteration cap for a cold or a warm-started frame
        of ``size`` = (width, height) (None: the cap at the engine's reference size)."""
        ...

    def stylize(
        self,
        content_u8: np.ndarray,
        warm: WarmStart | None = None,
        *,
        max_iters: int | None = None,
        on_iteration: OnIteration | None = None,
    ) -> FrameResult:
        """Stylize one frame.

        Args:
            content_u8: ``(H, W, 3)`` uint8 RGB content frame.
            warm: the warm start; None for a cold start.
            max_iters: cap instead of the engine's own (live mode's time
                budget); None keeps the engine's policy.
            on_iteration: receives an ``IterationDone`` after each iteration.
        """
        ...

    def required_bytes(self, size: tuple[int, int]) -> int:
        """Peak memory in bytes a frame of ``size`` = (width, height) needs on
        ``device``, everything included (network, runtime, working tensors)."""
        ...
