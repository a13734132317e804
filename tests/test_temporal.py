"""Temporal consistency: flicker falls with the temporal method, cuts cold-start,
the meter reads 1 on a clip against itself."""

import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, moving_frames, texture

from vidstyle.config import StyleConfig
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.evaluate import evaluate_flicker, evaluate_flicker_with_flows, evaluate_videos
from vidstyle.frames import Frame
from vidstyle.media.images import load_image
from vidstyle.pipeline.events import FrameDone
from vidstyle.pipeline.stages import stylize_pairs

VELOCITY = (1.5, 0.5)  # px per frame; frame_t(x) = frame_{t-1}(x + v)


def stylize(frames, **options):
    config = StyleConfig(**options)
    engine = OptimizerEngine([load_image(STYLE_PATH)], config=config)
    events = []
    stream = [Frame(image_u8=f, pts=i, time_base=None, index=i) for i, f in enumerate(frames)]
    outputs = [s.image_u8 for _, s in stylize_pairs(stream, engine, config=config, on_event=events.append)]
    return outputs, [e for e in events if isinstance(e, FrameDone)]


@pytest.fixture(scope="module")
def translating():
    return moving_frames(64, 48, 6, velocity=VELOCITY)


def test_temporal_loss_lowers_warping_error_by_a_large_factor(translating):
    exact_flow = np.broadcast_to(np.float32(VELOCITY), (48, 64, 2)).copy()
    mask = np.ones((48, 64), np.float32)
    mask[:, -3:] = 0  # content entering from the right edge has no past
    mask[-2:, :] = 0
    flows, masks = [exact_flow] * 5, [mask] * 5
    per_frame, _ = stylize(translating, temporal=False, warm_start=False, iters_first=40)
    temporal, done = stylize(translating, iters_first=40, iters_later=15, tolerance=0.0)
    e_per_frame = np.mean(evaluate_flicker_with_flows(per_frame, flows, masks))
    e_temporal = np.mean(evaluate_flicker_with_flows(temporal, flows, masks))
    assert e_temporal < e_per_frame / 5
    assert [e.cold_start for e in done] == [True] + [False] * 5


def test_scene_cut_triggers_a_cold_start():
    frames = moving_frames(64, 48, 3) + [255 - texture(64, 48, seed=7)] + moving_frames(64, 48, 2, seed=7)
    _, done = stylize(frames, iters_first=5, iters_later=3)
    assert [e.cold_start for e in done] == [True, False, False, True, True, False]
    assert done[3].scene_cut


def test_flicker_ratio_of_a_clip_against_itself_is_one(tmp_path):
    frames = moving_frames(64, 48, 6)
    report = evaluate_flicker(iter(frames), iter(frames))
    assert report.num_pairs == 5 and report.flicker_ratio == pytest.approx(1.0, abs=1e-12)
    noisy = [
        np.clip(f.astype(int) + np.random.default_rng(i).integers(-25, 26, f.shape), 0, 255).astype(np.uint8)
        for i, f in enumerate(frames)
    ]
    assert evaluate_flicker(iter(frames), iter(noisy)).flicker_ratio > 3
    clip = make_clip(tmp_path / "clip.mp4")
    assert evaluate_videos(clip, clip).flicker_ratio == pytest.approx(1.0, abs=1e-12)


def test_meter_refuses_clips_of_different_length():
    frames = moving_frames(32, 32, 4)
    with pytest.raises(ValueError, match="frame counts differ"):
        evaluate_flicker(iter(frames), iter(frames[:3]))
