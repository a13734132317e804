"""The detail stage: frames stylized at a smaller processing size are finished
at the output size, so a 1280x720 result is painted at 1280x720, not a
256x144 painting scaled up.

Each frame at the output size is optimized for ``detail_iters`` iterations
(``sizing.detail_warm_iters``: more where the output is over 1.9 times the
processing size) by the same engine against the full-size content frame (the last level of a
multi-scale schedule, as in Gatys et al. 2017, "Controlling Perceptual
Factors in Neural Style Transfer", sec. 5). Upsampling alone has no brush
texture at the fine scale; the iterations put it there. For that texture to
stay put from frame to frame, a frame starts where Ruder et al. 2016 start
one, from the previous output-size frame warped by the flow (estimated at
the output size; a Lanczos-4 warp, ``WARP_INTERPOLATION``), plus how much the processing-size result itself changed
along the motion:

    init = W(full_{t-1}) + up(low_t - W(low_{t-1}))     where the flow is reliable
    init = up(low_t) + fine(W(full_{t-1}))               elsewhere (disocclusions)

with ``fine(X) = X - G_s(X)``, ``G_s`` a Gaussian blur of ``s`` = the output
width over the processing width (the strokes finer than the processing size),
so the output-size chain follows what the processing-size chain decides
(new content, lighting) without repainting its own texture, and the temporal
loss (eq. 7, previous frame only) holds it there. Starting every pixel
instead from ``up(low_t)`` with the warped frame's fine detail added measured 10 times
the pair-to-pair change (480x270 from 256x144, sample clip): the detail
stage moves the large structures too, and each frame undid that.
Disocclusions started from ``up(low_t)`` alone were a blur that 3 iterations
could not paint, and the next frames carried it on: over the 15 warm frames
after the first, the style loss averaged 2.24 times the first frame's (2.64
over the last four) on the bikes clip (256x109 -> 512x218, 15-18% of the
pixels disoccluded per frame); with the fine strokes lent 1.84 (2.12;
sharpness 1.09 of the first frame's, was 0.90; flicker ratio 4.08 vs 3.96;
``benchmarks/detail_warm.py``, which replays the stage's recorded inputs,
both with L-BFGS's warm first step, ``engines.optimize.WARM_FIRST_STEP_MAX``;
README, "The detail stage's warm frames").

Cold starts (the first frame, scene cuts) have nothing to carry and get
``sizing.detail_cold_iters``: 7 times the iterations, growing with
the ratio of output to processing size past 480/256. With fewer, the first
frame was a barely textured upscale and the texture built up over the
first second: at 480x270 from 256x144 with 3 times (the former factor), at
1280x720 with 7 times (bigbuckbunny: style loss 94,739 on the first frame,
24,641 six frames later; with 57 iterations 3,217 and 4,714;
``benchmarks/boil.py --output 1280x720``, README, "Full resolution"). At
such ratios 3 iterations per warm frame then let the painted texture fade
over the clip; a warm frame gets ``sizing.detail_warm_iters`` (5 at 5 times
the processing size), and the previous frame is carried by a Lanczos-4 warp
instead of a bicubic one, which blurred the finest strokes at every subpixel
move (README, "The detail stage's warm frames").

Cost per frame: ``detail_warm_iters`` VGG19 iterations at the output size, e.g.
on 2 CPU cores ~25 times one at 256x144 for 1280x720 (see README, "Sizes").
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from vidstyle.engines.base import Engine, FrameResult, OnIteration
from vidstyle.frames import TemporalTarget, WarmStart, u8_to_float
from vidstyle.media.images import resize
from vidstyle.motion.estimate import Motion
from vidstyle.motion.flow import FlowEstimator, consistency_mask, warp
from vidstyle.sizing import MIN_PROCESSING_SIDE, detail_cold_iters, detail_warm_iters

# The processing-size result's change along the motion is blurred by this
# many processing-size pixels first: its fine part is the warp's
# interpolation error of the texture, not a change of the picture.
CHANGE_BLUR_SIGMA = 1.5
# The previous output-size frame is carried along the flow by a Lanczos-4
# warp: a bicubic one blurs its finest strokes a little at every subpixel
# move, and a few iterations per frame cannot paint them back, so the texture
# faded over the clip (README, "The detail stage's warm frames").
WARP_INTERPOLATION = "lanczos"
# Below this ratio of output to processing longer side, the detail stage is
# not worth an iteration at the output size: the result is resized.
MIN_DETAIL_SCALE = 1.2


def wants_detail(size: tuple[int, int], out_size: tuple[int, int], detail_iters: int) -> bool:
    """Whether frames processed at ``size`` are finished at ``out_size``
    (both (width, height)): the output is ``MIN_DETAIL_SCALE`` times larger
    or more, VGG19 can take it (no side under ``MIN_PROCESSING_SIDE``: a
    400x2 output is resized, not painted) and ``detail_iters`` > 0."""
    return detail_iters > 0 and max(out_size) >= MIN_DETAIL_SCALE * max(size) and min(out_size) >= MIN_PROCESSING_SIDE


def scale_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float32 ``(h, w, 2)`` flow in pixels resized to ``size`` =
    (width, height), its vectors scaled with the image."""
    h, w = flow.shape[:2]
    resized = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    resized[..., 0] *= size[0] / w
    resized[..., 1] *= size[1] / h
    return resized


class DetailStage:
    """Finishes a sequence of processing-size results at ``out_size``, in order.

    Args:
        engine: the run's engine (its style targets are computed once more,
            at the output size).
        out_size: ``(width, height)`` of the output.
        iters: ``--detail-iters``: warm frames get ``sizing.detail_warm_iters`` of
            it, cold starts ``sizing.detail_cold_iters`` (7 times as many; both
            grow where the output is over 1.9 times the processing size).
        temporal: carry texture along the flow and add the temporal loss
            (False: every frame starts from its upsampled result alone).
        interpolation: how the previous output-size frame is warped
            (``flow.warp``; default ``WARP_INTERPOLATION``).
        lend_fine_detail: disoccluded pixels start from the upsampled result
            plus the warped frame's fine strokes (False: the upsampled result
            alone, the former rule; ``benchmarks/detail_warm.py`` compares them).
    """

    def __init__(
        self,
        engine: Engine,
        out_size: tuple[int, int],
        *,
        iters: int,
        temporal: bool = True,
        flow: str | None = "dis-medium",
        lend_fine_detail: bool = True,
        interpolation: str | None = None,
    ):
        self.engine = engine
        self.lend_fine_detail = lend_fine_detail
        self.interpolation = interpolation or WARP_INTERPOLATION
        self.out_size = out_size
        self.iters = iters
        self.temporal = temporal
        self._flow = FlowEstimator(flow) if flow is not None else None
        self._previous_content: np.ndarray | None = None
        self._previous: np.ndarray | None = None  # output-size result of the previous frame
        self._previous_low: np.ndarray | None = None  # its processing-size result

    def finish(
        self,
        content_u8: np.ndarray,
        low: FrameResult,
        motion: Motion | None,
        *,
        on_iteration: OnIteration | None = None,
    ) -> FrameResult:
        """The output-size frame of ``content_u8`` (uint8 ``(H, W, 3)`` at
        ``out_size``), whose processing-size result is ``low`` and whose motion
        (at the processing size, None for a first frame) is ``motion``.
        Returns the engine's result with ``num_iters`` and ``seconds`` of both
        stages added together."""
        warm, iters = self._warm_start(low.image_u8, motion, content_u8)
        result = self.engine.stylize(content_u8, warm, max_iters=iters, on_iteration=on_iteration)
        self._previous, self._previous_low = result.image_u8, low.image_u8
        self._previous_content = content_u8
        return dataclasses.replace(
            result, num_iters=low.num_iters + result.num_iters, seconds=low.seconds + result.seconds
        )

    def remember(self, output_u8: np.ndarray, low_u8: np.ndarray, content_u8: np.ndarray | None = None) -> None:
        """A frame finished elsewhere (replayed from the work directory): its
        output-size result, its processing-size one and its input at the output size."""
        self._previous, self._previous_low = output_u8, low_u8
        self._previous_content = content_u8

    def _warm_start(self, low_u8: np.ndarray, motion: Motion | None, content_u8: np.ndarray) -> tuple[WarmStart, int]:
        up = u8_to_float(resize(low_u8, self.out_size))
        size = (low_u8.shape[1], low_u8.shape[0])  # the processing size
        cold = (
            not self.temporal
            or self._previous is None
            or self._previous_low is None
            or motion is None
            or motion.is_scene_cut
            or not motion.warps
            or motion.warps[0][0] != 1
        )
        if cold:
            return WarmStart(init=up), detail_cold_iters(self.iters, size, self.out_size, temporal=self.temporal)
        assert self._previous is not None and self._previous_low is not None and motion is not None  # not cold
        _, backward_flow, mask_low = motion.warps[0]
        if self._flow is not None and self._previous_content is not None:
            # The texture is output-size fine: so must its flow be (the
            # processing-size flow scaled up misplaces it by subpixels).
            flow = self._flow.estimate(content_u8, self._previous_content)
            mask = consistency_mask(flow, self._flow.estimate(self._previous_content, content_u8))[..., None]
        else:
            flow = scale_flow(backward_flow, self.out_size)
            mask = cv2.resize(mask_low, self.out_size, interpolation=cv2.INTER_LINEAR).astype(np.float32)[..., None]
        warped = np.clip(warp(u8_to_float(self._previous), flow, interpolation=self.interpolation), 0.0, 1.0)
        change = u8_to_float(low_u8) - warp(u8_to_float(self._previous_low), backward_flow)
        change = cv2.GaussianBlur(change, (0, 0), CHANGE_BLUR_SIGMA)
        followed = warped + cv2.resize(change, self.out_size, interpolation=cv2.INTER_LINEAR)
        # Disoccluded pixels: the upsampled painting has no texture finer than
        # the processing size; lend it the warped frame's (the occluder's
        # strokes, the right statistics in the wrong place), so the few
        # iterations start from a textured image instead of a blur.
        disoccluded = up
        if self.lend_fine_detail:
            scale = self.out_size[0] / low_u8.shape[1]
            disoccluded = up + (warped - cv2.GaussianBlur(warped, (0, 0), scale))
        init = np.clip(mask * followed + (1.0 - mask) * disoccluded, 0.0, 1.0).astype(np.float32)
        target = TemporalTarget(warped=warped[None].astype(np.float32), weights=mask[None, ..., 0])
        return WarmStart(init=init, temporal=target), detail_warm_iters(self.iters, size, self.out_size)
