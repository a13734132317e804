"""Sizes that mean what users expect (issue 10): the output has the source's
size, a smaller processing size is finished at the output size by the detail
stage, cold starts climb a pyramid, and the losses mean the same at every size."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import SAMPLE_CLIP, STYLE_PATH, make_clip, moving_frames, texture
from fakes import fake_engine  # noqa: F401 - fixture

import vidstyle
from vidstyle.config import StyleConfig
from vidstyle.engines.optimize import OptimizerEngine, cold_start_iters, pyramid_sizes
from vidstyle.frames import Frame
from vidstyle.losses import TV_REFERENCE_PIXELS, total_variation
from vidstyle.media import read_frames
from vidstyle.media.images import load_image, resize
from vidstyle.motion.estimate import Motion
from vidstyle.pipeline.detail import DetailStage, scale_flow, wants_detail
from vidstyle.pipeline.stages import stylize_pairs
from vidstyle.pipeline.video import InterruptedRun
from vidstyle.sizing import (
    CPU_MAX_SIDE,
    default_max_side,
    describe_sizes,
    detail_cold_iters,
    detail_warm_iters,
    fit_output_size,
    output_size,
    requested_size,
)

STYLE = Path(__file__).resolve().parent.parent / "samples" / "starry_night.jpg"


@pytest.fixture(scope="module")
def engine():
    return OptimizerEngine([load_image(STYLE)], config=StyleConfig(num_threads=1))


def sharpness(image_u8: np.ndarray) -> float:
    grey = cv2.cvtColor(image_u8, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def test_the_output_size_is_the_sources_unless_asked_and_processing_follows_the_device():
    source = (1280, 720)
    assert output_size(source, StyleConfig()) == source
    assert output_size(source, StyleConfig(output_size=(640, 360))) == (640, 360)
    assert default_max_side(StyleConfig(), torch.device("cpu")) == CPU_MAX_SIDE
    assert default_max_side(StyleConfig(), torch.device("cuda")) is None
    assert default_max_side(StyleConfig(max_side=512), torch.device("cuda")) == 512
    assert requested_size(source, StyleConfig(), device=torch.device("cpu")) == (256, 144)
    assert requested_size(source, StyleConfig(), device=torch.device("cuda")) == (1280, 720)
    # the processing size keeps the output's aspect ratio
    assert requested_size(source, StyleConfig(output_size=(400, 400)), device=torch.device("cpu")) == (256, 256)


def test_the_size_note_says_what_was_chosen_what_it_costs_and_how_to_change_it():
    config = StyleConfig()
    line = describe_sizes((256, 144), (1280, 720), config, device=torch.device("cpu"), detail=True)
    assert "processing at 256x144" in line and "output 1280x720 (the source's size)" in line
    assert "5 iterations per frame and 56 after each cold start" in line and "25.0x the cost" in line
    assert "--detail-iters 0" in line
    assert "--max-side" in line and "\n" not in line
    assert wants_detail((256, 144), (1280, 720), 5) and not wants_detail((256, 144), (1280, 720), 0)
    assert not wants_detail((256, 144), (258, 146), 5)  # a pixel of rounding is resized, not refined


def test_total_variation_means_the_same_at_every_size():
    pattern = torch.rand(1, 3, 144, 256, generator=torch.Generator().manual_seed(0))
    reference = total_variation(pattern)
    assert pattern.shape[-1] * pattern.shape[-2] == TV_REFERENCE_PIXELS
    tiled = pattern.repeat(1, 1, 2, 2)  # the same texture over four times the pixels
    assert float(total_variation(tiled)) == pytest.approx(float(reference), rel=0.02)


def test_cold_starts_climb_a_pyramid_of_sqrt2_steps_within_the_iteration_cap(engine):
    assert pyramid_sizes((256, 144), max_iters=200) == [(64, 36), (91, 51), (128, 72), (181, 102), (256, 144)]
    levels = pyramid_sizes((1280, 720), max_iters=200)
    assert levels[-1] == (1280, 720) and max(levels[0]) >= 64 and len(levels) == 9
    assert pyramid_sizes((64, 48), max_iters=200) == [(64, 48)]
    seen = []
    content = texture(128, 96)
    result = engine.stylize(content, max_iters=24, on_iteration=lambda event: seen.append(event))
    assert result.num_iters == len(seen) <= 24
    assert result.image_u8.shape == content.shape


def test_a_larger_frame_gets_the_same_cold_start_iterations_per_pyramid_level():
    """iters_first is the budget of a 256x144 frame's 5 levels; each further level adds a fifth."""
    assert cold_start_iters((256, 144), 200) == 200
    assert cold_start_iters((128, 72), 200) == 200  # fewer levels: never fewer iterations
    assert [cold_start_iters(size, 200) for size in [(480, 270), (1280, 720), (1920, 1080)]] == [240, 360, 400]
    for size in [(480, 270), (1280, 720), (3840, 2160)]:
        levels = len(pyramid_sizes(size, max_iters=2**31))
        assert cold_start_iters(size, 200) / levels == pytest.approx(200 / 5, abs=1)


def test_the_cold_start_cap_follows_the_frame_size():
    engine = OptimizerEngine([texture(64, 64)], config=StyleConfig(num_threads=1, iters_first=5, tolerance=0.0))
    assert engine.max_iters(cold=True) == 5 and engine.max_iters(cold=False) == StyleConfig().iters_later
    large = engine.stylize(texture(362, 204))  # 6 pyramid levels, one more than 256x144
    assert large.num_iters == cold_start_iters((362, 204), 5) == 6
    assert engine.stylize(texture(256, 144)).num_iters == 5


def test_a_cold_start_ends_with_a_restart_that_lowers_the_style_loss(monkeypatch):
    """The last iterations of a cold start, a fresh L-BFGS from the clamped
    result, buy a lower style loss than the same budget spent without them,
    when the pixels drifted out of range (no range penalty)."""
    from vidstyle.engines import optimize

    engine = OptimizerEngine([load_image(STYLE)], config=StyleConfig(num_threads=1, range_weight=0.0))
    content = next(iter(read_frames(str(SAMPLE_CLIP), size=(128, 72)))).image_u8  # a real frame: 12% lower

    def cold_style() -> float:
        result = engine.stylize(content, max_iters=100)
        assert result.num_iters <= 100
        return engine.measure(result.image_u8, content)["style"]

    with_restart = cold_style()
    monkeypatch.setattr(optimize, "COLD_RESTART_ITERS", 0)
    without = cold_style()
    assert with_restart < without


def test_the_range_penalty_keeps_a_cold_start_from_losing_style_to_the_clamp():
    """Held inside 0..255 while it is optimized, a cold start loses nothing
    when clamped, and ends with a lower style loss than one that drifted out
    of range and was clamped (the same budget, restart included)."""
    content = next(iter(read_frames(str(SAMPLE_CLIP), size=(128, 72)))).image_u8
    style = load_image(STYLE)

    def cold_style(range_weight: float) -> float:
        engine = OptimizerEngine([style], config=StyleConfig(num_threads=1, range_weight=range_weight))
        result = engine.stylize(content, max_iters=100)
        return engine.measure(result.image_u8, content)["style"]

    assert StyleConfig().range_weight > 0
    assert cold_style(StyleConfig().range_weight) < cold_style(0.0)


def test_the_detail_stage_paints_at_the_output_size(engine):
    """Processed at 48x32 and finished at 96x64: sharper than the upscaled result."""
    frames = [
        Frame(image_u8=image, pts=index, time_base=None, index=index)
        for index, image in enumerate(moving_frames(96, 64, 3, velocity=(2.0, 0.0)))
    ]

    def run(detail_iters: int) -> list[np.ndarray]:
        config = StyleConfig(num_threads=1, iters_first=20, iters_later=3, detail_iters=detail_iters)
        pairs = stylize_pairs(frames, engine, config=config, size=(48, 32))
        return [resize(stylized.image_u8, (96, 64)) for _, stylized in pairs]

    finished, plain = run(3), run(0)
    assert all(image.shape == (64, 96, 3) for image in finished)
    assert np.mean([sharpness(a) for a in finished]) > 1.2 * np.mean([sharpness(b) for b in plain])


def test_scaled_flow_moves_with_the_image():
    flow = np.zeros((48, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0
    big = scale_flow(flow, (128, 96))
    assert big.shape == (96, 128, 2)
    assert np.allclose(big[..., 0], 4.0) and np.allclose(big[..., 1], -2.0)


def test_a_still_stage_without_motion_is_a_cold_start_with_more_iterations(engine):
    stage = DetailStage(engine, (96, 64), iters=2)
    low = engine.stylize(texture(48, 32), max_iters=5)
    result = stage.finish(texture(96, 64), low, None)
    assert result.image_u8.shape == (64, 96, 3) and result.num_iters > low.num_iters


def test_the_output_size_cold_start_grows_with_the_output_to_processing_ratio(engine):
    """A cold start five times the processing size per side starts from a far
    blurrier upscale than one twice its size: it gets proportionally more
    iterations (with few, the warm frames build the texture up for seconds)."""
    low = np.zeros((24, 32, 3), np.uint8)
    near = DetailStage(engine, (64, 48), iters=3)._warm_start(low, None, texture(64, 48))[1]
    far = DetailStage(engine, (160, 120), iters=3)._warm_start(low, None, texture(160, 120))[1]
    assert near == detail_cold_iters(3, (32, 24), (64, 48)) >= 7 * 3
    assert far == detail_cold_iters(3, (32, 24), (160, 120)) > 2 * near
    # the factor's reference: 256 px processing, 480 px output
    assert detail_cold_iters(3, (256, 144), (480, 270)) == 21
    assert DetailStage(engine, (160, 120), iters=3, temporal=False)._warm_start(low, None, texture(160, 120))[1] == 3


def test_warm_frames_at_the_output_size_get_more_iterations_far_above_the_processing_size(engine):
    """Five times the processing size per side, the few iterations of a warm
    frame cannot hold the painted texture: warm frames get more there (by the
    root of the ratio, each costing its square), ``iters`` up to 480/256."""
    low = np.zeros((24, 32, 3), np.uint8)
    motion = Motion(
        warps=[(1, np.zeros((24, 32, 2), np.float32), np.ones((24, 32), np.float32))],
        is_scene_cut=False,
        reliable_fraction=1.0,
    )
    counts = []
    for out_size in ((64, 48), (160, 120)):
        stage = DetailStage(engine, out_size, iters=3, flow=None)
        stage.remember(texture(*out_size), low, texture(*out_size))
        counts.append(stage._warm_start(low, motion, texture(*out_size))[1])
    assert counts == [3, detail_warm_iters(3, (32, 24), (160, 120))] and counts[1] == 5
    assert [detail_warm_iters(3, (256, 144), size) for size in ((480, 270), (1280, 720), (1920, 1080))] == [3, 5, 6]


def test_the_first_frame_at_the_output_size_is_painted_not_an_upscale(engine):
    """The detail stage's cold start paints the output size: its style loss
    falls well below the upscaled processing-size result's."""
    content = texture(128, 96)
    low = engine.stylize(resize(content, (64, 48)), max_iters=20)
    up = resize(low.image_u8, (128, 96))
    finished = DetailStage(engine, (128, 96), iters=2).finish(content, low, None)
    assert engine.measure(finished.image_u8, content)["style"] < 0.5 * engine.measure(up, content)["style"]


def test_disoccluded_pixels_at_the_output_size_start_textured_not_blurred(engine):
    """Where the flow is unreliable the output-size frame cannot carry its
    previous strokes; it starts from the upsampled painting with the warped
    frame's fine strokes lent, not from a blur that a few iterations cannot
    paint. Reliable pixels start from the previous frame warped."""
    stage = DetailStage(engine, (96, 64), iters=2, flow=None)
    previous = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)  # fine strokes
    smooth_low = cv2.GaussianBlur(texture(48, 32, seed=2), (0, 0), 2.0)
    stage.remember(previous, smooth_low, texture(96, 64))
    mask = np.ones((32, 48), np.float32)
    mask[:, :24] = 0.0  # the left half disoccluded
    motion = Motion(warps=[(1, np.zeros((32, 48, 2), np.float32), mask)], is_scene_cut=False, reliable_fraction=0.5)
    warm, iters = stage._warm_start(smooth_low, motion, texture(96, 64))
    assert warm.temporal is not None and iters == 2
    init_u8 = (warm.init * 255).round().astype(np.uint8)
    up = resize(smooth_low, (96, 64))
    left = np.s_[:, 4:44]  # away from the mask's edge, resized bilinearly
    assert sharpness(init_u8[left]) > 5 * sharpness(up[left])
    assert np.abs(init_u8[:, 56:].astype(int) - previous[:, 56:]).mean() < 3  # reliable: the warped frame
    former = DetailStage(engine, (96, 64), iters=2, flow=None, lend_fine_detail=False)
    former.remember(previous, smooth_low, texture(96, 64))
    former_u8 = (former._warm_start(smooth_low, motion, texture(96, 64))[0].init * 255).round().astype(np.uint8)
    assert np.abs(former_u8[left].astype(int) - up[left]).max() <= 1  # the former rule: the blur itself


def test_an_interrupted_run_with_the_detail_stage_resumes_where_it_stopped(tmp_path, fake_engine):
    """Both stores (output-size frames, processing-size results) come back:
    the rerun computes only the unfinished frames, and writes what an
    uninterrupted run writes."""
    src = make_clip(tmp_path / "in.mp4", width=96, height=64, num_frames=6, audio=False)
    vidstyle.stylize_video(src, tmp_path / "whole" / "%03d.png", style=STYLE_PATH, max_side=48)
    assert fake_engine.calls == 12 and fake_engine.sizes[:2] == [(48, 32), (96, 64)]

    def interrupt(call: int) -> None:
        if call == 7:  # frame 4 at the processing size
            raise KeyboardInterrupt

    fake_engine.calls, fake_engine.on_call = 0, interrupt
    with pytest.raises(InterruptedRun):
        vidstyle.stylize_video(src, tmp_path / "cut" / "%03d.png", style=STYLE_PATH, max_side=48)
    fake_engine.calls, fake_engine.on_call = 0, None
    summary = vidstyle.stylize_video(src, tmp_path / "cut" / "%03d.png", style=STYLE_PATH, max_side=48, overwrite=True)
    assert fake_engine.calls == 6 and summary.resumed_frames == 3
    for name in sorted(p.name for p in (tmp_path / "whole").iterdir()):
        assert np.array_equal(load_image(tmp_path / "whole" / name), load_image(tmp_path / "cut" / name))


def test_the_detail_stage_tiles_or_steps_aside_when_the_output_size_does_not_fit():
    def untiled(size):
        return size[0] * size[1] * 1000

    def tiled(size, tile):
        return size[0] * size[1] * 10 + tile * tile * 1000

    config = StyleConfig()
    same, line = fit_output_size(
        (1920, 1080), config, required_bytes=untiled, tiled_bytes=tiled, device="cpu", available=10**13
    )
    assert same == config and line is None
    tiles, line = fit_output_size(
        (1920, 1080), config, required_bytes=untiled, tiled_bytes=tiled, device="cpu", available=10**9
    )
    assert tiles.tile is not None and tiles.tile < 1080 and "finishing at 1920x1080 in" in line
    off, line = fit_output_size(
        (1920, 1080), config, required_bytes=untiled, tiled_bytes=tiled, device="cpu", available=10**7
    )
    assert off.detail_iters == 0 and "no detail stage at 1920x1080" in line and "--output-size" in line
