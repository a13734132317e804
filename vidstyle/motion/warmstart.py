"""The one warm starter: (frame, motion, previous outputs) -> ``WarmStart``.

Ruder et al. 2016: frame t starts from the stylized frame t-1 warped by the
backward flow (sec. 3.2, "initialization"), and its temporal loss pulls it
towards the previous outputs t-k warped likewise, weighted by the long-term
weights (sec. 3.3). Files, live mode and multi-pass all build their warm starts
here; they differ only in their ``WarmStartPolicy``.

Disoccluded pixels (where the mask says the flow is unreliable) keep what the
warp (bicubic unless ``--carry-warp`` says otherwise) samples there:
stylized texture from the flow's nearest guess, which the style and content
losses then repaint freely because the temporal loss ignores those pixels.
Filling them with the raw content frame instead leaves photo-like patches
after a few iterations, unless the frame gets very few iterations and most
of it is unreliable (live mode: ``content_fill_below``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.frames import TemporalTarget, WarmStart, u8_to_float
from vidstyle.motion.estimate import Motion
from vidstyle.motion.flow import warp


@dataclasses.dataclass(frozen=True)
class WarmStartPolicy:
    """How a frame starts from the frames before it.

    Attributes:
        follow_motion: warp the previous outputs by the flow (Ruder et al.);
            False: no flow is used.
        reuse_previous: without ``follow_motion``, start from the previous
            output as it is (no temporal loss); False: every frame cold-starts.
        temporal_target: hand the engine the warped outputs and their weights
            for a temporal loss (``temporal_weight > 0``).
        content_fill_below: when less than this share of the frame is
            reliable, fill the unreliable pixels of the start image with the
            content frame (live mode: a few iterations cannot repaint stale
            texture there); None never fills.
        keep: previous outputs kept (the farthest long-term offset).
        interpolation: the warp's (``motion.flow.warp``): ``cubic``, or
            ``lanczos``, which blurs a carried texture less at each subpixel move.
    """

    follow_motion: bool = True
    reuse_previous: bool = True
    temporal_target: bool = True
    content_fill_below: float | None = None
    keep: int = 1
    interpolation: str = "cubic"

    @classmethod
    def from_config(cls, config: StyleConfig, *, content_fill_below: float | None = None) -> WarmStartPolicy:
        """The policy a run's options ask for."""
        return cls(
            follow_motion=config.temporal,
            reuse_previous=config.temporal or config.warm_start,
            temporal_target=config.temporal and config.temporal_weight > 0,
            content_fill_below=content_fill_below,
            keep=max(config.long_term) if config.temporal else 1,
            interpolation=config.carry_warp,
        )


def warm_start(
    content_u8: np.ndarray,
    motion: Motion | None,
    outputs: Mapping[int, np.ndarray],
    policy: WarmStartPolicy,
    *,
    own: np.ndarray | None = None,
    own_weight: float = 0.0,
) -> WarmStart | None:
    """The warm start of one frame; None means a cold start.

    Args:
        content_u8: the frame, uint8 ``(H, W, 3)``.
        motion: its motion relative to earlier frames (None: none measured).
        outputs: stylized earlier frames by offset k (1 = the previous one),
            uint8 ``(H, W, 3)``, the same frames ``motion.warps`` relate to.
        own: multi-pass: this frame's result from the previous pass, float32
            ``(H, W, 3)`` in [0, 1]; the start image is then
            ``(1 - a) * own + a * warped`` with ``a = own_weight * mask``
            (Ruder et al. 2016, sec. 4.3, delta = ``own_weight``).
    """
    if 1 not in outputs:
        return None
    if not policy.follow_motion:
        return WarmStart(init=u8_to_float(outputs[1])) if policy.reuse_previous else None
    if motion is None or motion.is_scene_cut:
        return None
    warped, weights = [], []
    for offset, backward_flow, weight in motion.warps:
        if offset in outputs:
            warped.append(warp(u8_to_float(outputs[offset]), backward_flow, interpolation=policy.interpolation))
            weights.append(weight)
    if not warped or motion.warps[0][0] != 1:
        return None
    init = np.clip(warped[0], 0.0, 1.0)
    mask = weights[0][..., None]
    if own is not None:
        blend = own_weight * mask
        init = (1.0 - blend) * own + blend * init
    if policy.content_fill_below is not None and motion.reliable_fraction < policy.content_fill_below:
        init = mask * init + (1.0 - mask) * u8_to_float(content_u8)
    target = None
    if policy.temporal_target:
        target = TemporalTarget(
            warped=np.stack(warped).astype(np.float32), weights=np.stack(weights).astype(np.float32)
        )
    return WarmStart(init=init.astype(np.float32, copy=False), temporal=target)


class WarmStarter:
    """Warm starts along a sequence: keeps the last ``policy.keep`` outputs
    (flat memory) and forgets them at a scene cut.

        starter = WarmStarter(policy)
        for frame, motion in pairs:
            warm = starter.start(frame.image_u8, motion)   # None: cold start
            result = engine.stylize(frame.image_u8, warm)
            starter.remember(result.image_u8)
    """

    def __init__(self, policy: WarmStartPolicy):
        self.policy = policy
        self._outputs: dict[int, np.ndarray] = {}

    def start(self, content_u8: np.ndarray, motion: Motion | None) -> WarmStart | None:
        """The warm start of the next frame (see ``warm_start``)."""
        if motion is not None and motion.is_scene_cut:
            self._outputs.clear()
        return warm_start(content_u8, motion, self._outputs, self.policy)

    def remember(self, output_u8: np.ndarray) -> None:
        """Record the stylized uint8 ``(H, W, 3)`` output of the frame just started."""
        self._outputs = {k + 1: image for k, image in self._outputs.items() if k + 1 <= self.policy.keep}
        self._outputs[1] = output_u8

    def reset(self) -> None:
        """Forget every output: the next frame cold-starts."""
        self._outputs.clear()
