"""The flicker meter (E_warp, Lai et al. 2018) on synthetic clips with known motion."""

import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vidstyle.errors import OutputError
from vidstyle.evaluate import (
    COLD_START_PAIRS,
    FlickerReport,
    cold_start_spans,
    edge_agreement,
    evaluate_flicker,
    evaluate_flicker_with_flows,
    warping_error,
)
from vidstyle.evaluate_plot import draw_plot, save_plot
from vidstyle.synthetic import scene_cut_clip, translating_clip

WIDTH, HEIGHT = 96, 64


@pytest.fixture(scope="module")
def clip():
    return translating_clip(WIDTH, HEIGHT, 5)


def with_noise(frames, amplitude=25):
    """Independent uniform noise on every frame: flicker."""
    return [
        np.clip(f.astype(int) + np.random.default_rng(i).integers(-amplitude, amplitude + 1, f.shape), 0, 255).astype(
            np.uint8
        )
        for i, f in enumerate(frames)
    ]


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
        "pairs": 2,
        "e_warp_stylized": pytest.approx(0.03),
        "e_warp_input": 0.01,
        "flicker_ratio": pytest.approx(3.0),
        "scene_cut_pairs": [],
        "per_pair_stylized": [0.02, 0.04],
        "per_pair_input": [0.01, 0.01],
    }
    assert FlickerReport([0.0], [0.0]).flicker_ratio == 1.0
    assert FlickerReport([0.1], [0.0]).to_dict()["flicker_ratio"] is None  # inf is not JSON
    assert FlickerReport([], []).num_pairs == 0


def test_plot_is_an_800x400_png_with_both_curves(clip, tmp_path):
    report = evaluate_flicker(clip.frames, with_noise(clip.frames))
    path = tmp_path / "flicker.png"
    save_plot(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(path))
    assert image.shape == (400, 800, 3)
    red = (image[..., 2] > 180) & (image[..., 1] < 100) & (image[..., 0] < 100)
    blue = (image[..., 0] > 140) & (image[..., 2] < 80)
    assert red.sum() > 200 and blue.sum() > 200  # the stylized and input curves
    assert [p.name for p in tmp_path.iterdir()] == ["flicker.png"]  # written atomically, no leftovers


def test_plot_has_labelled_axes_a_legend_the_ratio_and_marks_cuts_and_cold_starts():
    n, cuts = 60, [20, 41]
    stylized = [math.nan if i in cuts else 0.002 + 0.001 * (i % 3) for i in range(n)]
    source = [math.nan if i in cuts else 0.001 for i in range(n)]
    report = FlickerReport(stylized, source, cuts)
    fig = draw_plot(report)
    (ax,) = fig.axes
    assert fig.get_size_inches() * fig.dpi == pytest.approx((800, 400))
    assert "frame pair" in ax.get_xlabel() and "E_warp" in ax.get_ylabel() and "[0, 1]" in ax.get_ylabel()
    assert f"{report.flicker_ratio:.3f}" in ax.get_title()
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert [t.split(" (")[0] for t in texts] == ["stylized", "input", "scene cut", "cold start"]
    assert f"{report.e_warp_stylized:.2e}" in texts[0] and f"{report.e_warp_input:.2e}" in texts[1]
    cut_lines = [line for line in ax.lines if line.get_gid() == "scene-cut"]
    assert sorted(line.get_xdata()[0] for line in cut_lines) == cuts  # one vertical line per cut
    assert all(line.get_xdata()[0] == line.get_xdata()[1] for line in cut_lines)
    shaded = sorted((p.get_x(), p.get_x() + p.get_width()) for p in ax.patches if p.get_gid() == "cold-start")
    assert shaded == [(-0.5, 14.5), (20.5, 35.5), (41.5, 56.5)]  # from the start and after each cut
    curves = {line.get_gid(): line for line in ax.lines}
    np.testing.assert_array_equal(curves["stylized"].get_ydata(), stylized)  # NaN at the cuts: gaps
    np.testing.assert_array_equal(curves["input"].get_ydata(), source)


def test_cold_start_spans_stop_at_the_next_cut_and_the_end():
    assert COLD_START_PAIRS == 15
    assert cold_start_spans(FlickerReport([0.1] * 40, [0.1] * 40)) == [(0, 14)]
    assert cold_start_spans(FlickerReport([0.1] * 8, [0.1] * 8)) == [(0, 7)]
    assert cold_start_spans(FlickerReport([0.1] * 40, [0.1] * 40, [5, 6, 30])) == [(0, 4), (7, 21), (31, 39)]
    assert cold_start_spans(FlickerReport([0.1] * 5, [0.1] * 5, [0, 4])) == [(1, 3)]
    assert cold_start_spans(FlickerReport([], [])) == []


@pytest.mark.parametrize(
    "report",
    [
        FlickerReport([], []),
        FlickerReport([0.1], [0.05]),
        FlickerReport([0.1, math.nan, 0.2], [0.1, math.nan, 0.1], [1]),
        FlickerReport([math.nan], [math.nan], [0]),  # nothing measured
        FlickerReport([0.1, 0.2], [0.0, 0.0]),  # infinite ratio
    ],
    ids=["empty", "one-pair", "cut", "only-a-cut", "inf-ratio"],
)
def test_plot_of_edge_cases_is_still_an_800x400_png(report, tmp_path):
    path = tmp_path / "edge.png"
    save_plot(report, path)
    assert cv2.imread(str(path)).shape == (400, 800, 3)


def test_plot_failing_to_write_is_an_output_error(tmp_path):
    with pytest.raises(OutputError):
        save_plot(FlickerReport([0.1], [0.05]), tmp_path / "missing" / "flicker.png")


def test_matplotlib_is_imported_only_to_plot_and_never_pyplot(tmp_path):
    code = (
        "import sys; import vidstyle.evaluate_plot as e; assert 'matplotlib' not in sys.modules; "
        f"e.save_plot(e.FlickerReport([0.1], [0.05]), {str(tmp_path / 'p.png')!r}); "
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "MPLBACKEND": "TkAgg"}
    )  # a GUI backend configured: still headless Agg


def test_plots_drawn_in_threads_at_once_are_identical(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    report = FlickerReport([0.002, math.nan, 0.003, 0.0025], [0.001, math.nan, 0.001, 0.0012], [1])
    paths = [tmp_path / f"p{k}.png" for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda path: save_plot(report, path), paths))
    images = [cv2.imread(str(path)) for path in paths]
    assert all(np.array_equal(images[0], image) for image in images[1:])


def test_edge_agreement_is_high_for_a_frame_and_its_noisy_self_and_low_for_another_clip(clip):
    frame = clip.frames[2]
    other = translating_clip(WIDTH, HEIGHT, 5, seed=7).frames[2]
    assert edge_agreement(frame, frame) == pytest.approx(1.0)
    assert edge_agreement(frame, with_noise([frame], amplitude=40)[0]) > 0.5
    assert abs(edge_agreement(frame, other)) < 0.2
    assert edge_agreement(frame, np.full_like(frame, 128)) == 0.0  # a flat frame has no edges
