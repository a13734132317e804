"""Anchored seams (vidstyle.distributed.anchor, vidstyle.motion.advect): a
painting carried along the motion lands where the chain's would, and a
segment that starts inside a shot from its shot's carried first painting
starts much closer to the single-machine chain than a cold start does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_CLIP, STYLE_PATH, moving_frames, texture

from vidstyle.config import StyleConfig
from vidstyle.distributed.anchor import anchored_start
from vidstyle.distributed.plan import ClipScan, plan_segments
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.media import read_frames
from vidstyle.media.images import load_image
from vidstyle.motion.advect import advect, composed_reliability
from vidstyle.pipeline.stages import stylize_pairs


def test_a_carried_painting_follows_the_motion_and_the_mask_drops_what_entered():
    frames = moving_frames(64, 48, 7, velocity=(1.0, 0.5))  # the texture moves left/up: new pixels enter right/bottom
    painting = 255 - frames[0]  # a "painting" that is a pixel-exact function of its frame
    carried = advect(painting, frames, method="dis-medium")
    reliable = composed_reliability(frames, method="dis-medium")
    assert reliable is not None and reliable.shape == (48, 64)
    assert reliable[4:-8, 4:-8].mean() > 0.95  # followed through all 6 steps
    assert reliable[:, -4:].mean() < 0.5  # entered the frame after frame 0: nothing to carry
    error = np.abs(carried.astype(int) - (255 - frames[-1]).astype(int)).mean(axis=-1)
    moved = np.abs(painting.astype(int) - (255 - frames[-1]).astype(int)).mean(axis=-1)
    inside = reliable > 0
    assert error[inside].mean() < 0.25 * moved[inside].mean(), (error[inside].mean(), moved[inside].mean())
    assert composed_reliability(frames, method="dis-medium", min_fraction=0.99) is None  # too little left: give up


def test_plan_anchors_segments_inside_a_shot_to_its_first_frame():
    scan = ClipScan(pts=list(range(100, 132)), times_s=[i / 25 for i in range(32)], cuts=[10])
    segments = plan_segments(scan, segment_frames=8, seam_frames=2, anchor_lead=12)
    assert [s.lead_pts for s in segments] == [
        (),  # starts the clip
        tuple(range(100, 103)),  # frames 0-2: its first decoded frame is 3
        (),  # starts the second shot
        tuple(range(110, 115)),  # frames 10-14 (shot 10-31, decoded from 15)
        (),  # decoded from 23: 13 frames into its shot, past anchor_lead
    ]
    assert segments[1].lead_start_s is None  # the clip's own start
    assert segments[3].lead_start_s == pytest.approx((9 / 25 + 10 / 25) / 2)
    assert all(not s.lead_pts for s in plan_segments(scan, segment_frames=8, seam_frames=2))  # off by default


def test_an_anchored_segment_starts_where_the_chain_is_and_a_cold_one_does_not():
    # 80x45 frames of the sample clip, few iterations: a segment starting at
    # frame 6 beside the chain from frame 0 (at 256x144 and the default
    # iterations: cold 920x the median pair's E_warp away, anchored 19x).
    config = StyleConfig(iters_first=60, iters_later=6, num_threads=1)
    engine = OptimizerEngine([load_image(STYLE_PATH)], config=config)
    frames = [frame for _, frame in zip(range(7), read_frames(SAMPLE_CLIP, size=(80, 45)))]
    chain = [stylized.image_u8 for _, stylized in stylize_pairs(frames, engine, config=config)]
    cold = engine.stylize(frames[6].image_u8, None).image_u8
    start = anchored_start(engine, config, lambda: [frame.image_u8 for frame in frames])
    assert start is not None and start.max_iters == 4 * config.iters_later
    ((_, anchored),) = stylize_pairs(frames[6:], engine, config=config, first_start=start)

    def distance(image_u8):
        return float(np.mean((image_u8.astype(np.float32) - chain[6].astype(np.float32)) ** 2) / 255**2)

    assert distance(anchored.image_u8) < 0.3 * distance(cold), (distance(anchored.image_u8), distance(cold))
    unrelated = [frames[0].image_u8, cv2.resize(texture(64, 36, seed=3), (80, 45))]
    assert anchored_start(engine, config, lambda: unrelated) is None  # nothing followed: the segment starts cold
