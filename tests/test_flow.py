"""Optical flow, warping and Ruder et al.'s reliability mask on clips with known motion."""

import numpy as np

from conftest import moving_frames, texture
from vidstyle.flow import (
    FlowEstimator,
    consistency_mask,
    is_scene_cut,
    long_term_weights,
    warp,
    with_motion,
)
from vidstyle.frames import Frame


def test_warping_by_a_known_flow_reproduces_the_shifted_image():
    image = texture(80, 60).astype(np.float32) / 255
    flow = np.zeros((60, 80, 2), np.float32)
    flow[..., 0] = 3.0  # out[x] = image[x + 3]
    shifted = warp(image, flow)
    assert np.abs(shifted[:, :-3] - image[:, 3:]).max() < 1e-5
    flow[..., 0], flow[..., 1] = 0.5, -0.25  # subpixel: compare with frames rendered at that offset
    frames = moving_frames(80, 60, 2, velocity=(0.5, -0.25))
    warped = warp(frames[0].astype(np.float32), flow)
    interior = (slice(4, -4), slice(4, -4))
    assert np.abs(warped[interior] - frames[1][interior].astype(np.float32)).mean() < 1.5


def test_dis_flow_recovers_a_subpixel_translation():
    frames = moving_frames(96, 64, 2, velocity=(1.5, 0.5))
    backward = FlowEstimator("dis-medium").estimate(frames[1], frames[0])
    interior = backward[8:-8, 8:-8]
    assert np.abs(np.median(interior[..., 0]) - 1.5) < 0.2
    assert np.abs(np.median(interior[..., 1]) - 0.5) < 0.2


def occluding_square_clip():
    """A static background with a textured square moving 4 px right per frame."""
    background = texture(96, 64, seed=1)
    square = texture(24, 24, seed=2)
    frames = []
    for x0 in (20, 24):
        frame = background.copy()
        frame[20:44, x0:x0 + 24] = square
        frames.append(frame)
    return frames


def test_mask_marks_disoccluded_pixels_unreliable_and_static_background_reliable():
    previous, current = occluding_square_clip()
    estimator = FlowEstimator("dis-medium")
    mask = consistency_mask(estimator.estimate(current, previous), estimator.estimate(previous, current))
    # columns 20..23 were under the square in the previous frame and are uncovered now
    uncovered = mask[24:40, 20:24]
    static = np.concatenate([mask[:12, :].ravel(), mask[52:, :].ravel()])
    assert uncovered.mean() < 0.3
    assert static.mean() > 0.95


def test_pixels_whose_flow_leaves_the_frame_are_unreliable():
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = -5.0  # everything came from 5 px to the left
    mask = consistency_mask(flow, -flow)
    assert mask[:, :5].max() == 0 and mask[:, 6:].min() == 1


def test_long_term_weights_only_cover_what_closer_frames_do_not():
    near = np.ones((4, 4), np.float32)
    near[:, :2] = 0
    far = np.ones((4, 4), np.float32)
    w1, w2 = long_term_weights([near, far])
    assert np.array_equal(w1, near)
    assert np.array_equal(w2[:, 2:], np.zeros((4, 2))) and np.array_equal(w2[:, :2], np.ones((4, 2)))


def test_scene_cut_detected_between_unrelated_shots_only():
    a = texture(64, 48, seed=3)
    b = (255 - texture(64, 48, seed=4) // 2)
    estimator = FlowEstimator()
    cut_mask = consistency_mask(estimator.estimate(b, a), estimator.estimate(a, b))
    assert is_scene_cut(a, b, cut_mask, threshold=0.5)
    frames = moving_frames(64, 48, 2)
    mask = consistency_mask(estimator.estimate(frames[1], frames[0]), estimator.estimate(frames[0], frames[1]))
    assert not is_scene_cut(frames[0], frames[1], mask, threshold=0.5)


def test_with_motion_pairs_frames_with_long_term_warps_and_resets_at_cuts():
    frames = moving_frames(64, 48, 5)
    frames.append(255 - texture(64, 48, seed=9))  # a cut before frame 5
    stream = [Frame(image_u8=f, pts=i, time_base=None, index=i) for i, f in enumerate(frames)]
    motions = [m for _, m in with_motion(stream, offsets=(1, 2, 4))]
    assert motions[0] is None
    assert [k for k, _, _ in motions[1].warps] == [1]
    assert [k for k, _, _ in motions[4].warps] == [1, 2, 4]
    assert motions[4].reliable_fraction > 0.8 and not motions[4].is_scene_cut
    assert motions[5].is_scene_cut and motions[5].warps == []
