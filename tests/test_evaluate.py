"""The flicker meter (E_warp, Lai et al. 2018) on synthetic clips with known motion."""

import json
import math

import cv2
import numpy as np
import pytest

from vidstyle.evaluate import (
    FlickerReport,
    draw_plot,
    evaluate_flicker,
    evaluate_flicker_with_flows,
    save_plot,
    warping_error,
)
from vidstyle.synthetic import scene_cut_clip, translating_clip

WIDTH, HEIGHT = 96, 64


@pytest.fixture(scope="module")
def clip():
    return translating_clip(WIDTH, HEIGHT, 5)


def with_noise(frames, amplitude=25):
    """Independent uniform noise on every frame: flicker."""
    return [np.clip(f.astype(int) + np.random.default_rng(i).integers(-amplitude, amplitude + 1, f.shape), 0, 255)
            .astype(np.uint8) for i, f in enumerate(frames)]


def test_warping_error_is_zero_for_a_still_pair_and_ignores_masked_pixels(clip):
    frame = clip.frames[0]
    still = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    everywhere = np.ones((HEIGHT, WIDTH), np.float32)
    assert warping_error(frame, frame, still, everywhere) == 0.0
    changed = frame.copy()
    changed[:, :10] = 255 - changed[:, :10]
    mask = everywhere.copy()
    mask[:, :10] = 0
    assert warping_error(frame, changed, still, mask) == 0.0
    assert warping_error(frame, changed, still, everywhere) > 0.01
    assert math.isnan(warping_error(frame, changed, still, np.zeros_like(mask)))


def test_warping_error_with_the_true_flow_is_small_and_grows_with_noise(clip):
    exact = evaluate_flicker_with_flows(clip.frames, clip.backward_flows, clip.masks)
    noisy = evaluate_flicker_with_flows(with_noise(clip.frames), clip.backward_flows, clip.masks)
    assert len(exact) == len(clip.frames) - 1
    assert max(exact) < 1e-3  # interpolation and uint8 rounding only
    assert min(noisy) > 5 * max(exact)


def test_warping_error_rejects_mismatched_shapes(clip):
    frame = clip.frames[0]
    with pytest.raises(ValueError, match="mask"):
        warping_error(frame, frame, np.zeros((HEIGHT, WIDTH, 2), np.float32), np.ones((HEIGHT, WIDTH + 1), np.float32))
    with pytest.raises(ValueError, match="differ in shape"):
        warping_error(frame, frame[:-1], np.zeros((HEIGHT, WIDTH, 2), np.float32), np.ones((HEIGHT, WIDTH), np.float32))


def test_a_clip_against_itself_has_a_flicker_ratio_of_exactly_one(clip):
    report = evaluate_flicker(iter(clip.frames), iter(clip.frames))
    assert report.num_pairs == 4 and report.scene_cut_pairs == []
    assert report.flicker_ratio == 1.0
    assert report.e_warp_input == report.e_warp_stylized > 0
    assert report.per_pair_stylized == report.per_pair_input


def test_per_frame_noise_raises_the_flicker_ratio_well_above_one(clip):
    report = evaluate_flicker(iter(clip.frames), iter(with_noise(clip.frames)))
    assert report.flicker_ratio > 3
    assert all(s > i for s, i in zip(report.per_pair_stylized, report.per_pair_input))


def test_frames_are_measured_at_the_stylized_size_or_the_one_asked_for(clip):
    half = [cv2.resize(f, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA) for f in clip.frames]
    report = evaluate_flicker(clip.frames, half)  # lists work as well as iterators
    assert report.num_pairs == 4 and report.flicker_ratio == pytest.approx(1.0, abs=1e-9)
    assert evaluate_flicker(clip.frames, clip.frames, size=(WIDTH // 2, HEIGHT // 2)).flicker_ratio == 1.0


@pytest.mark.parametrize("as_iterator", [True, False])
def test_different_frame_counts_are_refused_naming_both_counts(clip, as_iterator):
    wrap = iter if as_iterator else list
    with pytest.raises(ValueError, match="input has 5 frames, the stylized video 3"):
        evaluate_flicker(wrap(clip.frames), wrap(clip.frames[:3]))
    with pytest.raises(ValueError, match="input has 2 frames, the stylized video 5"):
        evaluate_flicker(wrap(clip.frames[:2]), wrap(clip.frames))


def test_pairs_across_a_scene_cut_are_skipped():
    cut = scene_cut_clip(WIDTH, HEIGHT, 6, cut_at=3)
    report = evaluate_flicker(cut.frames, with_noise(cut.frames))
    assert report.num_pairs == 5 and report.scene_cut_pairs == [2]
    assert math.isnan(report.per_pair_stylized[2]) and math.isfinite(report.e_warp_stylized)
    summary = report.to_dict()
    json.dumps(summary, allow_nan=False)
    assert summary["pairs"] == 5 and summary["per_pair_input"][2] is None and summary["flicker_ratio"] > 3


def test_report_summary_and_edge_cases():
    report = FlickerReport(per_pair_stylized=[0.02, 0.04], per_pair_input=[0.01, 0.01])
    assert report.to_dict() == {
        "pairs": 2, "e_warp_stylized": pytest.approx(0.03), "e_warp_input": 0.01, "flicker_ratio": pytest.approx(3.0),
        "scene_cut_pairs": [], "per_pair_stylized": [0.02, 0.04], "per_pair_input": [0.01, 0.01],
    }
    assert FlickerReport([0.0], [0.0]).flicker_ratio == 1.0
    assert FlickerReport([0.1], [0.0]).to_dict()["flicker_ratio"] is None  # inf is not JSON
    assert FlickerReport([], []).num_pairs == 0


def test_plot_is_an_800x400_png_with_both_curves(clip, tmp_path):
    report = evaluate_flicker(clip.frames, with_noise(clip.frames))
    path = tmp_path / "flicker.png"
    save_plot(report, path)
    image = cv2.imread(str(path))
    assert image.shape == (400, 800, 3)
    red = (image[..., 2] > 180) & (image[..., 1] < 100) & (image[..., 0] < 100)
    blue = (image[..., 0] > 140) & (image[..., 2] < 80)
    assert red.sum() > 200 and blue.sum() > 200  # the stylized and input curves
    with_cut = FlickerReport([0.1, math.nan, 0.2], [0.1, math.nan, 0.1], [1])
    for odd in (FlickerReport([], []), FlickerReport([0.1], [0.05]), with_cut):
        assert draw_plot(odd).shape == (400, 800, 3)
