"""Anchored seams: a segment that starts inside a shot starts from the shot's
first painting, carried along the motion to its first frame.

Two segments of one shot painted from different histories converge to
different textures. Started cold, a later segment's first frame differs from
the chain's painting of the same frame by 750-940x the median pair's E_warp
inside a segment (numbers below), and no cross-fade of 8-40 frames hides
that (``seams``).

Every segment of a shot can see the shot's first frame, and its cold start is
deterministic (same code, options and device: bitwise equal on the CPU with a
fixed thread count), so a later segment paints that frame again, carries the
painting to its own first frame step by step through the flow of the frames
in between (``motion.advect``), and optimizes it there for
``ANCHORED_START_FACTOR * iters_later`` iterations, held by the temporal loss
over the pixels the flow followed all the way. It then starts its warm-up
frames from where the earlier segment's chain would be, give or take the
chain's own drift (each of its frames is re-optimized).

Measured with ``benchmarks/seam_anchor.py`` (default options, 256x144, a
segment starting at frame 20 beside the single-machine chain from frame 0,
cross-faded over 8 frames; D^2 = mean squared RGB difference of the two
paintings of one frame, values in [0, 1], as a multiple of the chain's
median pair E_warp, 3.8e-5 on the sample's first 29 frames):

- sample clip (95% of the pixels followed from frame 0): cold start 751x,
  worst seam-zone pair 14.5x the median, style loss of the frames from 20 on
  4.23x the chain's; anchored 12x (11x eight frames later: each chain keeps
  its own small drift), worst pair 0.60x (the chain's own worst pair there:
  0.56x), style 1.028x.
- A prototype of the same steps (before this module; medians over 33
  frames) found frame 0's painting warped once by the composed flow 110x
  from the chain's, carried step by step 39x, after 40 iterations 19x (10
  iterations: 32x, style 1.04x); on Big Buck Bunny from 3.4 s (a panning
  shot, 84% followed; ``--clip out/clips/bigbuckbunny.mp4@3.4``): anchored
  14x, worst pair 1.96x (the chain's own: 2.00x), style 1.002x; cold 940x,
  18.8x, 3.07x.

A pixel's share of a seam spread over ``W`` pairs is about ``D^2 / W^2``, so
12-19x over 9 pairs adds 0.15-0.25x the median: invisible, where a cold
start needed ~40 frames of transition.

Costs, per segment that starts inside a shot: the shot's first frame's cold
start (what a cold-started segment paid already), the flow of each frame
between the shot's start and the segment's (three flows a frame: two to
decide, one to carry), and ``ANCHORED_START_FACTOR * iters_later`` iterations. When fewer
than ``ANCHOR_MIN_RELIABLE`` of the pixels can be followed (a moving camera
far into a long shot) or the segment starts more than ``--anchor-frames``
(default 480, 20 s at 24 fps) frames into its shot, it starts cold as before
(``plan`` and ``anchored_start``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine
from vidstyle.frames import TemporalTarget, WarmStart, u8_to_float
from vidstyle.motion.advect import advect, composed_reliability
from vidstyle.pipeline.stages import FirstStart

ANCHOR_MIN_RELIABLE = 0.5  # share of pixels followed from the shot's start; below it a segment starts cold
ANCHORED_START_FACTOR = 4  # the anchored first frame gets this many times iters_later (40 at the defaults)


def anchored_start(engine: Engine, config: StyleConfig, lead: Callable[[], Iterable[np.ndarray]]) -> FirstStart | None:
    """How a segment's first frame starts from its shot's first painting, or
    None (start cold) when too little of the frame can be followed.

    Args:
        engine: the segment's engine (the same options and device as the one
            that paints the shot's first frame in an earlier segment).
        config: the run's options (``flow``, ``iters_later``).
        lead: returns a fresh iterable of the input frames from the shot's
            first frame to the segment's first frame, both included, at the
            processing size, uint8 ``(H, W, 3)``; it is read twice.
    """
    reliable = composed_reliability(lead(), method=config.flow, min_fraction=ANCHOR_MIN_RELIABLE)
    if reliable is None:
        return None
    frames = iter(lead())
    shot_first = next(frames)
    painting = engine.stylize(shot_first, None).image_u8  # the shot's first frame, as the earlier segment paints it
    carried = u8_to_float(advect(painting, itertools.chain([shot_first], frames), method=config.flow))
    warm = WarmStart(init=carried, temporal=TemporalTarget(warped=carried[None], weights=reliable[None]))
    return FirstStart(warm=warm, max_iters=ANCHORED_START_FACTOR * config.iters_later)
