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

from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine
from vidstyle.frames import u8_to_float
from vidstyle.motion.estimate import CutPolicy, MotionEstimator
from vidstyle.motion.warmstart import WarmStartPolicy, warm_start
from vidstyle.pipeline.events import FrameDone, FrameStarted, PassStarted
from vidstyle.pipeline.workdir import FrameStore

NEIGHBOUR_BLEND = 0.5  # delta in Ruder et al.: weight of the warped neighbour in the init


def refine_passes(
    outputs: FrameStore,
    inputs: FrameStore,
    engine: Engine,
    *,
    config: StyleConfig,
    passes: int,
    on_event: Callable | None = None,
) -> None:
    """Run passes 2..``passes`` over the frames in ``outputs`` (replaced in place).

    Args:
        outputs: pass-1 stylized frames, uint8 ``(H, W, 3)`` each.
        inputs: the matching input frames at the processing size.
        engine: stylizes each refined frame from its warm start.
        config: flow method and the scene-cut threshold; the warm-start policy.
    """
    emit = on_event or (lambda event: None)
    estimator = MotionEstimator(method=config.flow, cut=CutPolicy(min_reliable_fraction=config.scene_cut_threshold))
    policy = WarmStartPolicy.from_config(config)
    outputs.flush()
    inputs.flush()
    count = outputs.count
    for pass_number in range(2, passes + 1):
        emit(PassStarted(number=pass_number, passes=passes, frames=max(0, count - 1)))
        order = range(count - 1, -1, -1) if pass_number % 2 == 0 else range(count)
        neighbour = None  # the frame refined just before in this sweep
        for index in order:
            if neighbour is not None:
                content = inputs.read(index)
                motion = estimator.between(content, inputs.read(neighbour))
                warm = warm_start(
                    content,
                    motion,
                    {1: outputs.read(neighbour)},
                    policy,
                    own=u8_to_float(outputs.read(index)),
                    own_weight=NEIGHBOUR_BLEND,
                )
                if warm is not None:  # None at a scene cut: nothing to carry across it
                    emit(FrameStarted(index=index))
                    result = engine.stylize(content, warm, on_iteration=emit)
                    outputs.replace(index, result.image_u8)
                    emit(FrameDone(index=index, result=result, cold_start=False, scene_cut=False))
            neighbour = index
