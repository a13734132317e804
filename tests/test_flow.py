"""Optical flow, warping, Ruder et al.'s reliability mask, the motion stage and
its background thread, on synthetic clips whose motion is known exactly."""

import threading
import time

import cv2
import numpy as np
import pytest

from vidstyle.config import FLOW_METHODS, StyleConfig
from vidstyle.frames import Frame
from vidstyle.motion.estimate import Motion, with_motion
from vidstyle.motion.flow import (
    FlowEstimator,
    consistency_mask,
    is_scene_cut,
    long_term_weights,
    photometric_mask,
    warp,
)
from vidstyle.motion.warmstart import WarmStartPolicy, warm_start
from vidstyle.synthetic import occlusion_clip, rotating_zooming_clip, scene_cut_clip, translating_clip
from vidstyle.threads import prefetch

WIDTH, HEIGHT = 96, 64
INTERIOR = (slice(8, -8), slice(8, -8))


@pytest.fixture(scope="module")
def translating():
    return translating_clip(WIDTH, HEIGHT, 6, velocity=(0.7, 0.3))


@pytest.fixture(scope="module")
def occluding():
    return occlusion_clip(WIDTH, HEIGHT, 5, object_size=24, seed=3)


def as_frames(images):
    return [Frame(image_u8=image, pts=i, time_base=None, index=i) for i, image in enumerate(images)]


def flow_error_px(estimated, truth):
    return np.linalg.norm(estimated - truth, axis=-1)[INTERIOR]


# -- warp ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_warp_by_an_integer_flow_is_an_exact_shift(translating, dtype):
    image = translating.frames[0].astype(dtype)
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0  # out[y, x] = image[y - 2, x + 3]
    shifted = warp(image, flow)
    assert shifted.shape == image.shape and shifted.dtype == image.dtype
    assert np.array_equal(shifted[2:, :-3], image[:-2, 3:])
    gray = image[..., 0]
    assert np.array_equal(warp(gray, flow)[2:, :-3], gray[:-2, 3:])
    single_channel = image[..., :1]
    assert warp(single_channel, flow).shape == single_channel.shape


def test_warp_by_a_subpixel_flow_matches_the_analytic_shift():
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)

    def smooth(x, y):
        return np.sin(2 * np.pi * x / 23) + np.cos(2 * np.pi * (0.6 * x + y) / 17)

    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0], flow[..., 1] = 0.37, -0.81
    warped = warp(smooth(xs, ys).astype(np.float32), flow)
    expected = smooth(xs + 0.37, ys - 0.81)
    assert np.abs(warped - expected)[INTERIOR].max() < 0.05  # of a range of 4 (bicubic, 1/32 px remap tables)


def test_bicubic_warp_of_a_clip_by_its_true_flow_is_sharper_than_bilinear(translating):
    previous, current = (f.astype(np.float32) for f in translating.frames[:2])
    flow, reliable = translating.backward_flows[0], translating.masks[0] > 0
    cubic = np.abs(warp(previous, flow) - current)[reliable].mean()
    linear = np.abs(warp(previous, flow, interpolation="linear") - current)[reliable].mean()
    assert cubic < 2.5  # grey levels (uint8 rounding and the texture's finest detail)
    assert cubic < 0.9 * linear


def test_warp_rejects_bad_arguments_naming_them():
    image = np.zeros((4, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"\(4, 6, 2\)"):
        warp(image, np.zeros((4, 6, 2), np.float32))
    with pytest.raises(ValueError, match="'area'"):
        warp(image, np.zeros((4, 5, 2), np.float32), interpolation="area")
    with pytest.raises(ValueError, match="'wrap'"):
        warp(image, np.zeros((4, 5, 2), np.float32), border="wrap")


# -- flow estimation -----------------------------------------------------------


def test_dis_flow_recovers_a_subpixel_translation_and_its_direction(translating):
    estimator = FlowEstimator("dis-medium")
    backward = estimator.estimate(translating.frames[2], translating.frames[1])
    forward = estimator.estimate(translating.frames[1], translating.frames[2])
    error = flow_error_px(backward, translating.backward_flows[1])
    assert np.median(error) < 0.1 and np.percentile(error, 90) < 0.2
    assert np.allclose(np.median(forward[INTERIOR], axis=(0, 1)), (0.7, 0.3), atol=0.1)  # forward = content motion


def test_dis_flow_recovers_rotation_and_zoom():
    clip = rotating_zooming_clip(WIDTH, HEIGHT, 3)
    backward = FlowEstimator().estimate(clip.frames[2], clip.frames[1])
    assert np.median(flow_error_px(backward, clip.backward_flows[1])) < 0.15


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_every_flow_method_recovers_the_translation(translating, method):
    backward = FlowEstimator(method).estimate(translating.frames[1], translating.frames[0])
    assert backward.shape == (HEIGHT, WIDTH, 2) and backward.dtype == np.float32
    assert np.median(flow_error_px(backward, translating.backward_flows[0])) < 0.3


def test_flow_estimator_rejects_unknown_methods_and_mismatched_frames(translating):
    with pytest.raises(ValueError, match="'raft'.*dis-medium"):
        FlowEstimator("raft")
    with pytest.raises(ValueError, match="differ in size"):
        FlowEstimator().estimate(translating.frames[0], translating.frames[1][:-2])


# -- consistency mask ----------------------------------------------------------


def occlusion_scores(clip, mask_of):
    """Per pair: share of the disoccluded strip marked unreliable, share of the
    background far (> 12 px) from the square kept reliable, share of the
    square's interior kept reliable."""
    scores = []
    for t in range(1, len(clip.frames)):
        previous, current = clip.frames[t - 1], clip.frames[t]
        mask = mask_of(previous, current)
        truth, flow = clip.masks[t - 1], clip.backward_flows[t - 1]
        on_square = np.abs(flow - flow[0, 0]).sum(axis=-1) > 0  # the background's flow is uniform
        strip = (truth == 0) & ~on_square  # background that was behind the square
        strip[:, -3:] = False  # ...not the background entering at the right edge
        near_square = cv2.dilate(on_square.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
        far = ~near_square & (truth == 1)
        far[:4], far[-4:], far[:, :4], far[:, -4:] = False, False, False, False
        inside_square = cv2.erode(on_square.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        scores.append((1 - mask[strip].mean(), mask[far].mean(), mask[inside_square].mean()))
    return np.mean(scores, axis=0)


def test_mask_marks_disoccluded_background_unreliable_and_the_rest_reliable(occluding):
    estimator = FlowEstimator()

    def mask_of(previous, current):
        return consistency_mask(estimator.estimate(current, previous), estimator.estimate(previous, current))

    uncovered, far, square = occlusion_scores(occluding, mask_of)
    assert uncovered > 0.75 and far > 0.97 and square > 0.75


def test_photometric_test_catches_more_of_the_disoccluded_strip(occluding):
    estimator = FlowEstimator()

    def mask_of(previous, current):
        backward = estimator.estimate(current, previous)
        flow_mask = consistency_mask(backward, estimator.estimate(previous, current))
        return flow_mask * photometric_mask(current, previous, backward)

    uncovered, far, square = occlusion_scores(occluding, mask_of)
    assert uncovered > 0.95 and far > 0.94 and square > 0.7


def test_pixels_whose_flow_leaves_the_frame_are_unreliable():
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = -5.0  # everything came from 5 px to the left
    mask = consistency_mask(flow, -flow)
    assert mask.dtype == np.float32 and mask.shape == (20, 30)
    assert mask[:, :5].max() == 0 and mask[:, 5:].min() == 1


def test_motion_boundaries_are_unreliable():
    flow = np.zeros((20, 30, 2), np.float32)
    flow[:, 15:, 0] = 2.0  # right half moves, left half is still
    mask = consistency_mask(flow, -flow)
    assert mask[:, 14:16].max() == 0 and mask[:, :13].min() == 1 and mask[:, 17:-2].min() == 1


def test_long_term_weights_only_cover_what_closer_frames_do_not():
    near = np.ones((4, 4), np.float32)
    near[:, :2] = 0
    far = np.ones((4, 4), np.float32)
    farther = np.ones((4, 4), np.float32)
    w1, w2, w3 = long_term_weights([near, far, farther])
    assert np.array_equal(w1, near)
    assert np.array_equal(w2[:, 2:], np.zeros((4, 2))) and np.array_equal(w2[:, :2], np.ones((4, 2)))
    assert not w3.any()


# -- scene cuts and the motion stage -------------------------------------------


def test_scene_cut_detected_at_the_cut_only():
    clip = scene_cut_clip(WIDTH, HEIGHT, 5, cut_at=3)
    estimator = FlowEstimator()
    found = []
    for t in range(1, len(clip.frames)):
        previous, current = clip.frames[t - 1], clip.frames[t]
        mask = consistency_mask(estimator.estimate(current, previous), estimator.estimate(previous, current))
        if is_scene_cut(previous, current, mask, threshold=0.5):
            found.append(t)
    assert found == list(clip.cut_indices) == [3]


def test_scene_cut_is_also_caught_by_colour_when_the_flow_looks_reliable(translating):
    everywhere = np.ones((HEIGHT, WIDTH), np.float32)
    assert not is_scene_cut(translating.frames[0], translating.frames[1], everywhere)
    assert is_scene_cut(translating.frames[0], 255 - translating.frames[1], everywhere)


def test_with_motion_gives_long_term_warps_weighted_by_what_closer_frames_miss(translating):
    motions = [m for _, m in with_motion(as_frames(translating.frames), offsets=(1, 2, 4))]
    assert motions[0] is None
    assert [[k for k, _, _ in m.warps] for m in motions[1:]] == [[1], [1, 2], [1, 2], [1, 2, 4], [1, 2, 4]]
    last = motions[-1]
    assert not last.is_scene_cut and last.reliable_fraction > 0.9
    (_, flow_1, c_1), (_, flow_2, c_2), (_, flow_4, _) = last.warps
    assert np.median(flow_error_px(flow_2, 2 * translating.backward_flows[0])) < 0.2
    assert np.median(flow_error_px(flow_4, 4 * translating.backward_flows[0])) < 0.3
    forward_1 = FlowEstimator().estimate(translating.frames[4], translating.frames[5])
    assert np.array_equal(c_1, consistency_mask(flow_1, forward_1))
    assert not c_2[c_1 == 1].any()  # offset 2 adds nothing where offset 1 is reliable


def test_with_motion_restarts_its_history_at_a_scene_cut():
    clip = scene_cut_clip(WIDTH, HEIGHT, 6, cut_at=3)
    motions = [m for _, m in with_motion(as_frames(clip.frames), offsets=(2, 1))]
    assert [m.is_scene_cut for m in motions[1:]] == [False, False, True, False, False]
    assert motions[3].warps == [] and motions[3].reliable_fraction < 0.5
    assert [k for k, _, _ in motions[4].warps] == [1]  # frame 2 is before the cut: never a reference
    assert [k for k, _, _ in motions[5].warps] == [1, 2]


def test_with_motion_always_relates_to_the_previous_frame_and_passes_frames_through(translating):
    frames = as_frames(translating.frames[:3])
    pairs = list(with_motion(frames, offsets=(2,)))
    assert [frame for frame, _ in pairs] == frames
    assert [k for k, _, _ in pairs[2][1].warps] == [1, 2]


def test_with_motion_on_worker_threads_gives_the_same_result(translating):
    frames = as_frames(translating.frames[:5])
    inline = [m for _, m in with_motion(frames, offsets=(1, 2))]
    threaded = [m for _, m in with_motion(frames, offsets=(1, 2), workers=3)]
    for a, b in zip(inline[1:], threaded[1:]):
        assert [k for k, _, _ in a.warps] == [k for k, _, _ in b.warps]
        for (_, flow_a, c_a), (_, flow_b, c_b) in zip(a.warps, b.warps):
            assert np.array_equal(flow_a, flow_b) and np.array_equal(c_a, c_b)


def test_with_motion_rejects_bad_options_before_reading_frames():
    for options in (dict(offsets=(0, 1)), dict(method="raft"), dict(workers=0)):
        with pytest.raises(ValueError):
            next(with_motion(iter([]), **options), None)


# -- the background stage ------------------------------------------------------


def test_prefetch_passes_items_through_in_order():
    assert list(prefetch(range(20), depth=3)) == list(range(20))
    assert list(prefetch([], depth=1)) == []


def test_prefetch_reraises_the_producer_exception_after_the_items_before_it():
    def producer():
        yield 1
        yield 2
        raise KeyError("decoder broke")

    received = []
    with pytest.raises(KeyError, match="decoder broke"):
        for item in prefetch(producer()):
            received.append(item)
    assert received == [1, 2]


def test_prefetch_runs_at_most_depth_items_ahead():
    produced = []

    def producer():
        for i in range(50):
            produced.append(i)
            yield i

    stream = prefetch(producer(), depth=2)
    for consumed, _item in enumerate(stream, start=1):
        time.sleep(0.005)  # let the producer run ahead as far as it may
        assert len(produced) - consumed <= 2
        if consumed == 5:
            break
    stream.close()
    time.sleep(0.05)
    assert len(produced) <= 5 + 2


def test_prefetch_stops_and_closes_the_producer_when_the_consumer_leaves():
    closed = threading.Event()

    def producer():
        try:
            yield from range(1000)
        finally:
            closed.set()

    stream = prefetch(producer(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert closed.wait(timeout=2.0)
    assert not any(t.name == "vidstyle-prefetch" and t.is_alive() for t in threading.enumerate())


def test_with_motion_can_add_the_photometric_test(occluding):
    frames = as_frames(occluding.frames[:3])
    plain = [m for _, m in with_motion(frames)][1:]
    strict = [m for _, m in with_motion(frames, photometric_threshold=0.05)][1:]
    for a, b in zip(plain, strict):
        ((_, _, c_plain),) = a.warps
        ((_, _, c_strict),) = b.warps
        assert np.all(c_strict <= c_plain) and c_strict.sum() < c_plain.sum()
        assert a.reliable_fraction == b.reliable_fraction  # the cut test sees the flow mask only


def test_the_carry_warp_option_reaches_the_warm_start_and_lanczos_keeps_more_texture():
    rng = np.random.default_rng(0)
    painted = (rng.random((HEIGHT, WIDTH, 3)) * 255).astype(np.uint8)  # fine texture: the worst case for a blur
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0], flow[..., 1] = 0.5, 0.25  # a subpixel move
    mask = np.ones((HEIGHT, WIDTH), np.float32)
    motion = Motion(warps=[(1, flow, mask)], is_scene_cut=False, reliable_fraction=1.0)
    contrast = {}
    for interpolation in ("linear", "cubic", "lanczos"):
        policy = WarmStartPolicy.from_config(StyleConfig(carry_warp=interpolation))
        assert policy.interpolation == interpolation
        start = warm_start(painted, motion, {1: painted}, policy)
        assert start is not None and start.temporal is not None
        contrast[interpolation] = float(start.init[INTERIOR].std())
    assert contrast["linear"] < contrast["cubic"] < contrast["lanczos"]
