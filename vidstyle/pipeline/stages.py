"""The temporal stage: turns (frame, motion) pairs into stylized frames, one
after another, each warm-started from its predecessor (Ruder et al. 2016).

It keeps only the few previous outputs the long-term loss needs (flat memory),
warps them into the current frame with the flow measured on the input, and
hands the ``Stylizer`` a warm start and a ``TemporalTarget``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from vidstyle.motion.flow import Motion, warp
from vidstyle.frames import Frame, u8_to_float
from vidstyle.pipeline.workdir import FrameStore
from vidstyle.engines.optimize import FrameResult, IterationDone, Stylizer, TemporalTarget


@dataclasses.dataclass(frozen=True)
class FrameDone:
    """Reported after each stylized frame.

    Attributes:
        index: the frame's index in the decoded sequence.
        result: the optimizer's result (iterations, losses, seconds).
        cold_start: the frame started from scratch (first frame, scene cut,
            or per-frame mode) rather than from its predecessor.
        scene_cut: a scene cut was detected before this frame.
        resumed: the frame was finished by an earlier run and replayed.
    """

    index: int
    result: FrameResult
    cold_start: bool
    scene_cut: bool
    resumed: bool = False  # taken from the work directory, not recomputed


@dataclasses.dataclass(frozen=True)
class FrameStarted:
    """Reported before a frame is optimized; ``iteration`` events follow."""

    index: int


Event = FrameStarted | FrameDone | IterationDone


def stylize_frames(
    pairs: Iterable[tuple[Frame, Motion | None]],
    stylizer: Stylizer,
    *,
    on_event: Callable[[Event], None] | None = None,
    store: FrameStore | None = None,
) -> Iterator[tuple[Frame, FrameResult]]:
    """Stylize a sequence of frames in order.

    Args:
        pairs: ``(frame, motion)``; ``motion`` (from ``flow.with_motion``) is None
            for the first frame or when flow is off.
        stylizer: the per-frame optimizer (its config decides warm start,
            temporal loss, iteration budgets).
        on_event: receives FrameStarted, IterationDone and FrameDone events.
        store: finished frames of an interrupted run (replayed, not
            recomputed) and where each new frame is saved as it finishes.

    Yields ``(frame, result)`` where ``frame`` carries the stylized pixels at the
    processing size and the source timestamp.
    """
    cfg = stylizer.config
    emit = on_event or (lambda event: None)
    previous: dict[int, np.ndarray] = {}
    keep = max(cfg.long_term) if cfg.temporal else 1
    for frame, motion in pairs:
        scene_cut = bool(motion is not None and motion.is_scene_cut)
        if scene_cut:
            previous.clear()
        emit(FrameStarted(index=frame.index))
        if store is not None and frame.index < store.count:
            result, cold = _replayed(store.read(frame.index)), False
        else:
            init, target = _warm_start(frame, motion, previous, cfg)
            cold = init is None
            result = stylizer.stylize(
                frame.image_u8,
                init=init,
                temporal=target,
                max_iters=cfg.iters_first if cold else cfg.iters_later,
                min_iters=0 if cold else cfg.min_iters_later,
                on_iteration=emit,
            )
            if store is not None:
                store.append(result.image_u8)
        previous = {offset + 1: image for offset, image in previous.items() if offset + 1 <= keep}
        previous[1] = result.image_u8
        emit(FrameDone(index=frame.index, result=result, cold_start=cold, scene_cut=scene_cut,
                       resumed=result.num_iters == 0))
        yield frame.with_image(result.image_u8), result


def _replayed(image_u8: np.ndarray) -> FrameResult:
    """A frame finished by an earlier, interrupted run: no iterations spent."""
    return FrameResult(image_u8=image_u8, num_iters=0, converged=True, losses={}, seconds=0.0)


def _warm_start(frame, motion, previous, cfg) -> tuple[np.ndarray | None, TemporalTarget | None]:
    """The initial image and temporal target for ``frame``; (None, None) means a
    cold start.

    Disoccluded pixels (where the mask says the flow is unreliable) keep what
    the bicubic warp samples there: stylized texture from the flow's nearest
    guess, which the style and content losses then repaint freely because the
    temporal loss ignores those pixels. Filling them with the raw content frame
    instead leaves photo-like patches after a few iterations.
    """
    if 1 not in previous:
        return None, None
    if not cfg.temporal:
        return (previous[1], None) if cfg.warm_start else (None, None)
    if motion is None:
        return None, None
    warped, weights, init = [], [], None
    for offset, backward_flow, weight in motion.warps:
        if offset not in previous:
            continue
        image = warp(u8_to_float(previous[offset]), backward_flow)
        if offset == 1:
            init = np.clip(image, 0.0, 1.0)
        warped.append(image)
        weights.append(weight)
    if init is None:
        return None, None
    if cfg.temporal_weight <= 0:
        return init, None
    return init, TemporalTarget(warped=np.stack(warped).astype(np.float32), weights=np.stack(weights).astype(np.float32))
