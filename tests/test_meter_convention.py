"""The flicker meter follows its written convention (evaluate_convention), and
checks out against clips whose motion is known exactly (synthetic.py)."""

import json
import math

import cv2
import numpy as np
import pytest
from conftest import make_clip

from vidstyle.cli import main
from vidstyle.evaluate import (
    CONVENTION,
    FlickerReport,
    MeterReport,
    evaluate_flicker,
    evaluate_frames,
    sharpness,
    warping_error,
)
from vidstyle.evaluate_convention import meter_masks
from vidstyle.media import read_frames
from vidstyle.motion.flow import FlowEstimator, consistency_mask, warp
from vidstyle.synthetic import occlusion_clip, rotating_zooming_clip, scene_cut_clip, translating_clip

WIDTH, HEIGHT = 96, 64
BORDER_PX = 8  # the interior the flow is checked on: DIS is weakest in the outer patch


def with_noise(frames, amplitude):
    """Independent uniform noise of +-``amplitude`` (8-bit levels) on every frame: flicker."""
    return [
        np.clip(f.astype(int) + np.random.default_rng(i).integers(-amplitude, amplitude + 1, f.shape), 0, 255).astype(
            np.uint8
        )
        for i, f in enumerate(frames)
    ]


def reference_pair(prev_u8, cur_u8, prev_stylized, cur_stylized, occlusion_only=False):
    """The convention written from scratch, in the most obvious way: DIS medium,
    Ruder's tests, bilinear warp of float RGB in [0, 1].
    Returns (E_warp of the input, E_warp of the stylized pair, mask)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (prev_u8, cur_u8)]
    w = dis.calc(gray[1], gray[0], None)  # backward: t -> t-1
    fw = dis.calc(gray[0], gray[1], None)
    h, wd = w.shape[:2]
    ys, xs = np.mgrid[0:h, 0:wd].astype(np.float32)
    mx, my = xs + w[..., 0], ys + w[..., 1]
    fw_at = cv2.remap(fw, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    bad = np.sum((w + fw_at) ** 2, -1) > 0.01 * (np.sum(w**2, -1) + np.sum(fw_at**2, -1)) + 0.5
    bad |= (mx < 0) | (mx > wd - 1) | (my < 0) | (my > h - 1)
    if not occlusion_only:
        uy, ux = np.gradient(w[..., 0])
        vy, vx = np.gradient(w[..., 1])
        bad |= ux**2 + uy**2 + vx**2 + vy**2 > 0.01 * np.sum(w**2, -1) + 0.002
    mask = (~bad).astype(np.float64)

    def e_warp(prev, cur):
        warped = cv2.remap(prev.astype(np.float32) / 255, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        error = np.mean((cur.astype(np.float32) / 255 - warped) ** 2, -1)
        return float((error * mask).sum() / mask.sum())

    return e_warp(prev_u8, cur_u8), e_warp(prev_stylized, cur_stylized), mask


@pytest.fixture(scope="module")
def occluding():
    return occlusion_clip(WIDTH, HEIGHT, 5)


# -- the convention, exactly ---------------------------------------------------


def test_the_meter_matches_a_from_scratch_implementation_of_its_convention(occluding):
    frames = occluding.frames
    noisy = with_noise(frames, 6)
    report = evaluate_frames(frames, noisy)
    for i in range(len(frames) - 1):
        for variant, occlusion_only in (("full/rgb", False), ("occlusion/rgb", True)):
            source, stylized, mask = reference_pair(frames[i], frames[i + 1], noisy[i], noisy[i + 1], occlusion_only)
            assert report.variants[variant].per_pair_input[i] == pytest.approx(source, rel=1e-5)
            assert report.variants[variant].per_pair_stylized[i] == pytest.approx(stylized, rel=1e-5)
            assert report.reliable_fraction[variant.split("/")[0]][i] == pytest.approx(mask.mean(), abs=1e-9)


def test_the_meters_full_mask_is_the_stylizers_consistency_mask_today(occluding):
    estimator = FlowEstimator("dis-medium")
    prev, cur = occluding.frames[1], occluding.frames[2]
    backward, forward = estimator.estimate(cur, prev), estimator.estimate(prev, cur)
    masks = meter_masks(backward, forward)
    np.testing.assert_array_equal(masks["full"], consistency_mask(backward, forward))
    assert np.all(masks["occlusion"] >= masks["full"])


def test_the_convention_is_stated_in_the_report():
    assert {"flow", "mask_full", "mask_occlusion", "warp", "channels", "size", "scene_cuts"} <= set(CONVENTION)
    assert "PRESET_MEDIUM" in CONVENTION["flow"] and "0.002" in CONVENTION["mask_full"]
    assert "bilinear" in CONVENTION["warp"]


def test_luma_is_bt709_of_the_rgb_difference(occluding):
    frame = occluding.frames[0]
    still = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    everywhere = np.ones((HEIGHT, WIDTH), np.float32)
    bluer = frame.copy()
    bluer[..., 2] = np.clip(bluer[..., 2].astype(int) + 51, 0, 255).astype(np.uint8)
    step = (bluer[..., 2].astype(np.float64) - frame[..., 2]) / 255  # 0.2 where not clipped
    assert warping_error(frame, bluer, still, everywhere) == pytest.approx(np.mean(step**2) / 3, rel=1e-5)
    assert warping_error(frame, bluer, still, everywhere, channels="luma") == pytest.approx(
        np.mean((0.0722 * step) ** 2), rel=1e-5
    )
    with pytest.raises(ValueError, match="'lab'"):
        warping_error(frame, bluer, still, everywhere, channels="lab")


# -- ground truth --------------------------------------------------------------


@pytest.mark.parametrize(
    "clip, mean_px, p95_px",
    [
        (translating_clip(WIDTH, HEIGHT, 4, velocity=(0.7, 0.3)), 0.1, 0.25),  # subpixel
        (translating_clip(WIDTH, HEIGHT, 4, velocity=(2.0, -1.0)), 0.1, 0.25),  # integer
        (rotating_zooming_clip(WIDTH, HEIGHT, 4), 0.1, 0.25),
        (occlusion_clip(WIDTH, HEIGHT, 4), 0.5, 2.0),  # DIS smooths across the square's edges
    ],
    ids=["subpixel-shift", "integer-shift", "rotation-zoom", "occlusion"],
)
def test_the_meters_flow_is_close_to_the_true_flow_on_the_interior(clip, mean_px, p95_px):
    estimator = FlowEstimator("dis-medium")
    for t in range(1, len(clip.frames)):
        error = np.linalg.norm(
            estimator.estimate(clip.frames[t], clip.frames[t - 1]) - clip.backward_flows[t - 1], axis=-1
        )
        interior = clip.masks[t - 1].astype(bool)
        interior[:BORDER_PX] = interior[-BORDER_PX:] = False
        interior[:, :BORDER_PX] = interior[:, -BORDER_PX:] = False
        assert error[interior].mean() < mean_px and np.percentile(error[interior], 95) < p95_px


def test_the_input_as_its_own_stylization_reads_exactly_one_in_every_variant(occluding):
    report = evaluate_frames(occluding.frames, occluding.frames)
    assert set(report.variants) == {"full/rgb", "full/luma", "occlusion/rgb", "occlusion/luma"}
    for variant in report.variants.values():
        assert variant.flicker_ratio == 1.0 and variant.e_warp_input > 0
        segments = variant.segments()
        assert segments["cold_start"]["flicker_ratio"] == 1.0 and segments["shots"][0]["flicker_ratio"] == 1.0


def test_the_ratio_rises_with_injected_noise():
    clip = translating_clip(WIDTH, HEIGHT, 5, velocity=(0.7, 0.3))
    for key in ("full/rgb", "occlusion/luma"):
        ratios = [
            evaluate_frames(clip.frames, with_noise(clip.frames, a)).variants[key].flicker_ratio for a in (2, 6, 15)
        ]
        assert 1.0 < ratios[0] < ratios[1] < ratios[2], (key, ratios)


def test_the_occlusion_mask_counts_more_pixels_than_the_full_mask_at_motion_boundaries(occluding):
    report = evaluate_frames(occluding.frames, occluding.frames)
    full, occlusion = report.reliable_fraction["full"], report.reliable_fraction["occlusion"]
    assert all(o > f for o, f in zip(occlusion, full)) and sum(occlusion) - sum(full) > 0.01 * len(full)
    still = translating_clip(WIDTH, HEIGHT, 3, velocity=(0.0, 0.0))  # no motion, no boundary: the same
    report = evaluate_frames(still.frames, still.frames)
    assert report.reliable_fraction["full"] == report.reliable_fraction["occlusion"]


# -- segments and reports ------------------------------------------------------


def test_segments_split_cold_starts_from_the_rest_and_per_shot():
    n, cuts = 40, [20]
    stylized = [math.nan if i in cuts else (0.004 if i < 15 or 21 <= i < 36 else 0.002) for i in range(n)]
    report = FlickerReport(stylized, [math.nan if i in cuts else 0.001 for i in range(n)], cuts)
    assert report.shots() == [(0, 19), (21, 39)]
    segments = report.segments()
    assert segments["cold_start"] == {
        "pairs": 30,
        "e_warp_stylized": pytest.approx(0.004),
        "e_warp_input": pytest.approx(0.001),
        "flicker_ratio": pytest.approx(4.0),
        "median_pair_ratio": pytest.approx(4.0),
    }
    assert segments["rest"]["pairs"] == 9 and segments["rest"]["flicker_ratio"] == pytest.approx(2.0)
    assert segments["rest"]["median_pair_ratio"] == pytest.approx(2.0)
    first, second = segments["shots"]
    assert (first["first_frame"], first["last_frame"], first["pairs"]) == (0, 20, 20)
    assert (second["first_frame"], second["last_frame"], second["pairs"]) == (21, 40, 19)
    assert first["flicker_ratio"] == pytest.approx((15 * 4 + 5 * 2) / 20)
    assert FlickerReport([], []).segments() == {
        "cold_start": {
            "pairs": 0,
            "e_warp_stylized": None,
            "e_warp_input": None,
            "flicker_ratio": None,
            "median_pair_ratio": None,
        },
        "rest": {
            "pairs": 0,
            "e_warp_stylized": None,
            "e_warp_input": None,
            "flicker_ratio": None,
            "median_pair_ratio": None,
        },
        "shots": [],
    }


def test_the_median_pair_ratio_is_not_swayed_by_how_fast_the_input_moves():
    # The same stylized change on every pair: a floor. Summed, the part whose
    # input moves fast reads 10x steadier than the near-still part; the
    # median of the pairs' own ratios reads the part as a whole.
    slow, fast = [0.001] * 5, [0.01] * 6
    report = FlickerReport([0.002] * 11, slow + fast)
    summary = report.segments(length=5)
    assert summary["cold_start"]["flicker_ratio"] == pytest.approx(2.0)
    assert summary["rest"]["flicker_ratio"] == pytest.approx(0.2)
    assert summary["shots"][0]["flicker_ratio"] == pytest.approx(0.022 / 0.065)
    assert summary["shots"][0]["median_pair_ratio"] == pytest.approx(0.2)  # 6 of the 11 pairs are fast
    still = FlickerReport([0.002, 0.0], [0.0, 0.0])  # a frozen input has no pair ratio
    assert still.segments()["cold_start"]["median_pair_ratio"] is None


def test_a_cut_starts_a_new_shot_and_a_new_cold_start():
    clip = scene_cut_clip(WIDTH, HEIGHT, 6, cut_at=3)
    report = evaluate_frames(clip.frames, with_noise(clip.frames, 10))
    assert report.scene_cut_pairs == [2] and report.primary.shots() == [(0, 1), (3, 4)]
    summary = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert summary["convention"] == CONVENTION and summary["mask"] == "full" and summary["channels"] == "rgb"
    assert [s["first_frame"] for s in summary["segments"]["shots"]] == [0, 3]
    assert summary["variants"]["occlusion/luma"]["per_pair_input"][2] is None
    assert summary["flicker_ratio"] == summary["variants"]["full/rgb"]["flicker_ratio"]


def test_the_headline_variant_is_the_one_asked_for(occluding):
    noisy = with_noise(occluding.frames, 8)
    report = evaluate_frames(occluding.frames, noisy, mask="occlusion", channels="luma")
    assert isinstance(report, MeterReport) and report.flicker_ratio == report.variants["occlusion/luma"].flicker_ratio
    assert evaluate_flicker(occluding.frames, noisy, mask="occlusion", channels="luma") == report.primary
    with pytest.raises(ValueError, match="'edges'"):
        evaluate_frames(occluding.frames, noisy, mask="edges")


def test_sharpness_is_the_laplacian_variance_of_the_luma(occluding):
    frame = occluding.frames[0]
    assert sharpness(np.full((HEIGHT, WIDTH, 3), 77, np.uint8)) == 0.0
    assert sharpness(cv2.GaussianBlur(frame, (0, 0), 2.0)) < 0.5 * sharpness(frame)
    gray = np.full((HEIGHT, WIDTH, 3), 0, np.uint8)
    gray[::2, ::2] = gray[1::2, 1::2] = 255  # a checkerboard: Laplacian +-4 in [0, 1] units
    assert sharpness(gray) == pytest.approx(16.0, rel=0.05)
    with pytest.raises(ValueError, match="float32"):
        sharpness(frame.astype(np.float32))


def carried(first_u8, backward_flows, interpolation):
    """``first_u8`` and its successive warps along the flows, rounded to uint8 per frame."""
    frames = [first_u8]
    for flow in backward_flows:
        moved = warp(frames[-1].astype(np.float32), flow, interpolation=interpolation)
        frames.append(np.clip(np.round(moved), 0, 255).astype(np.uint8))
    return frames


def test_a_sharp_texture_carried_along_the_flow_is_change_to_the_bilinear_warp_only():
    clip = translating_clip(WIDTH, HEIGHT, 6)
    noise = cv2.GaussianBlur(np.random.default_rng(5).normal(0, 1, (HEIGHT, WIDTH, 3)).astype(np.float32), (0, 0), 1.0)
    painting = np.clip(128 + 60 * noise / noise.std(), 0, 255).astype(np.uint8)  # finer strokes than the input's
    sharp, blurred = carried(painting, clip.backward_flows, "lanczos"), carried(painting, clip.backward_flows, "linear")
    lanczos = evaluate_frames(clip.frames, sharp, warp="lanczos")
    assert lanczos.warp == "lanczos" and lanczos.to_dict()["warp"] == "lanczos"
    assert lanczos.flicker_ratio < evaluate_frames(clip.frames, sharp).flicker_ratio / 3
    # The bilinear warp rewards a carry that blurs; the Lanczos warp reads the blur as change.
    assert (
        evaluate_frames(clip.frames, blurred).flicker_ratio
        < evaluate_frames(clip.frames, blurred, warp="lanczos").flicker_ratio / 3
    )
    # Change that no warp explains reads as flicker under either warp.
    assert evaluate_frames(clip.frames, with_noise(sharp, 10), warp="lanczos").flicker_ratio > 5 * lanczos.flicker_ratio
    with pytest.raises(ValueError, match="unknown meter warp"):
        evaluate_frames(clip.frames, sharp, warp="cubic")


# -- the command ---------------------------------------------------------------


def test_eval_shows_both_masks_both_channels_and_the_segments(tmp_path, capsys):
    src = make_clip(tmp_path / "in.mp4", num_frames=6)
    assert main(["eval", str(src), str(src), "--mask", "both", "--channels", "both"]) == 0
    out = capsys.readouterr().out
    assert "full   occlusion" in out and "  luma " in out and "after each cold start: 1.000" in out
    assert "shot 1 (frames 0-5):" in out
    assert main(["eval", str(src), str(src), "--json", "--mask", "occlusion"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mask"] == "occlusion" and summary["convention"]["name"] == CONVENTION["name"]
    assert set(summary["variants"]) == {"full/rgb", "full/luma", "occlusion/rgb", "occlusion/luma"}
    assert summary["warp"] == "linear"
    assert main(["eval", str(src), str(src), "--warp", "lanczos"]) == 0
    assert "warp lanczos" in capsys.readouterr().out


def test_eval_help_states_the_convention(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "PRESET_MEDIUM" in out and "0.01|w|^2 + 0.002" in out and "bilinear" in out and "BT.709" in out


def colour_stripes(width=96, height=64, num_frames=6, shift=0.5):
    """Fine colour texture (red/green stripes 10 px apart, chroma detail a 4:2:0
    file keeps) moving right by ``shift`` px a frame."""
    x = np.arange(width, dtype=np.float32)
    frames = []
    for t in range(num_frames):
        phase = np.sin((x - shift * t) * 2 * np.pi / 10) * 0.5 + 0.5
        image = np.zeros((height, width, 3), np.float32)
        image[..., 0] = 40 + 180 * phase
        image[..., 1] = 40 + 180 * (1 - phase)
        image[..., 2] = 90
        frames.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    return frames


def test_the_player_decode_interpolates_chroma_and_eval_applies_it_to_the_stylized_file_only(tmp_path, capsys):
    originals = colour_stripes()
    src = make_clip(tmp_path / "in.mp4", num_frames=6, width=96, height=64, audio=False)
    stylized = make_clip(tmp_path / "stylized.mp4", frames=originals, audio=False)
    for chroma, repeated in (("nearest", True), ("player", False)):
        decoded = next(read_frames(stylized, chroma=chroma)).image_u8
        ycc = cv2.cvtColor(decoded, cv2.COLOR_RGB2YCrCb).astype(np.float32)
        within_pairs = np.abs(ycc[:, 0::2, 1:] - ycc[:, 1::2, 1:]).mean()  # pixels 2k, 2k+1: one chroma sample
        across_pairs = np.abs(ycc[:, 1:-1:2, 1:] - ycc[:, 2::2, 1:]).mean()
        if repeated:  # each 4:2:0 chroma sample repeated over its pixels
            assert within_pairs < 0.5 < across_pairs
        else:  # interpolated: chroma changes as much within a pair as across
            assert within_pairs > 0.5 * across_pairs > 1
    with pytest.raises(ValueError, match="unknown chroma upsampling"):
        next(read_frames(stylized, chroma="bicubic"))

    reports = {}
    for decode in ("nearest", "player"):
        assert main(["eval", str(src), str(stylized), "--json", "--decode", decode]) == 0
        reports[decode] = json.loads(capsys.readouterr().out)
        assert reports[decode]["decode"] == decode
    assert reports["player"]["e_warp_input"] == reports["nearest"]["e_warp_input"]  # the input as the convention says
    assert reports["player"]["e_warp_stylized"] != reports["nearest"]["e_warp_stylized"]
    assert main(["eval", str(src), str(stylized), "--decode", "bilinear"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bilinear'" in err and len(err.strip().splitlines()) == 1
