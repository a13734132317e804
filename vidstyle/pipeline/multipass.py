"""Multi-pass refinement (Ruder et al. 2016, section 4.3).

After the first forward sweep, further passes alternate direction. In each
pass a frame starts from a blend of its own previous-pass result and its
neighbour from the current sweep warped into it, and the temporal loss pulls it
towards that warped neighbour. Information thus flows both ways in time, which
evens out the quality gap between a cold-started first frame and the rest.

Frames live in the work directory's flat stores, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vidstyle.motion.flow import FlowEstimator, consistency_mask, warp
from vidstyle.frames import u8_to_float
from vidstyle.engines.optimize import Stylizer, TemporalTarget
from vidstyle.pipeline.stages import FrameDone, FrameStarted
from vidstyle.pipeline.workdir import FrameStore

NEIGHBOUR_BLEND = 0.5  # delta in Ruder et al.: weight of the warped neighbour in the init


def refine_passes(
    outputs: FrameStore,
    inputs: FrameStore,
    stylizer: Stylizer,
    *,
    passes: int,
    on_event: Callable | None = None,
) -> None:
    """Run passes 2..``passes`` over the frames in ``outputs`` (replaced in place).

    Args:
        outputs: pass-1 stylized frames, uint8 ``(H, W, 3)`` each.
        inputs: the matching input frames at the processing size.
        stylizer: the optimizer; its config gives flow method, iteration caps
            and the scene-cut threshold.
    """
    cfg = stylizer.config
    emit = on_event or (lambda event: None)
    estimator = FlowEstimator(cfg.flow)
    count = outputs.count
    for pass_number in range(2, passes + 1):
        order = range(count - 1, -1, -1) if pass_number % 2 == 0 else range(count)
        neighbour = None  # the frame refined just before in this sweep
        for index in order:
            if neighbour is not None:
                emit(FrameStarted(index=index))
                result = _refine_frame(index, neighbour, outputs, inputs, stylizer, estimator, emit)
                if result is not None:
                    outputs.replace(index, result.image_u8)
                    emit(FrameDone(index=index, result=result, cold_start=False, scene_cut=False))
            neighbour = index


def _refine_frame(index, neighbour, outputs, inputs, stylizer, estimator, emit):
    """One frame of a sweep; None at a scene cut (nothing to carry across it)."""
    cfg = stylizer.config
    content, neighbour_content = inputs.read(index), inputs.read(neighbour)
    to_neighbour = estimator.estimate(content, neighbour_content)
    from_neighbour = estimator.estimate(neighbour_content, content)
    mask = consistency_mask(to_neighbour, from_neighbour)
    if mask.mean() < cfg.scene_cut_threshold:
        return None
    own = u8_to_float(outputs.read(index))
    warped = warp(u8_to_float(outputs.read(neighbour)), to_neighbour)
    weight = NEIGHBOUR_BLEND * mask[..., None]
    init = np.clip((1.0 - weight) * own + weight * warped, 0.0, 1.0)
    target = None
    if cfg.temporal_weight > 0:
        target = TemporalTarget(warped=warped[None].astype(np.float32), weights=mask[None].astype(np.float32))
    return stylizer.stylize(
        content, init=init, temporal=target, max_iters=cfg.iters_later, min_iters=cfg.min_iters_later,
        on_iteration=emit,
    )
