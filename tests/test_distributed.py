"""Ray runs (vidstyle.distributed) on a local runtime of 2 worker processes,
started once for this module: the same frames, timestamps and audio as a
single-machine run; a worker killed with SIGKILL is retried by Ray; a rerun
after an interrupted driver recomputes no finished segment; --ray without Ray
installed is one clear line. The engine is the instant inverting fake,
registered in the workers by a Ray worker set-up hook (``register_test_engines``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, moving_frames
from local_ray import ray, ray_runtime  # noqa: F401 - ray_runtime is a fixture

from vidstyle.distributed.plan import ClipScan, balanced_pieces, plan_segments
from vidstyle.distributed.seams import crossfade

RAY_OPTIONS = {"engine": "invert", "max_side": 64, "segment_frames": 8, "seam_frames": 2}


def two_shot_clip(path) -> Path:
    """A 32-frame 64x48 clip with audio: a 10-frame shot, a scene cut (other
    texture, other colours), a 22-frame shot."""
    first = moving_frames(64, 48, 10, seed=0)
    second = [
        np.clip(image.astype(np.int16) // 3 + np.array([0, 40, 160]), 0, 255).astype(np.uint8)
        for image in moving_frames(64, 48, 22, velocity=(0.0, 1.0), seed=7)
    ]
    return make_clip(path, frames=first + second)


def decoded(path) -> tuple[list[int], np.ndarray]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        return [f.pts for f in frames], np.stack([f.to_ndarray(format="rgb24") for f in frames])


def audio_samples(path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


@pytest.fixture(scope="module")
def reference(ray_runtime, tmp_path_factory):
    """The clip and its single-machine output (same engine, no Ray)."""
    from vidstyle.api import stylize_video

    folder = tmp_path_factory.mktemp("reference")
    src = two_shot_clip(folder / "in.mp4")
    single = {k: v for k, v in RAY_OPTIONS.items() if k not in ("segment_frames", "seam_frames")}
    stylize_video(src, folder / "single.mp4", style=STYLE_PATH, work_dir=str(folder / "work"), **single)
    return src, folder / "single.mp4"


# -- planning (no Ray) ---------------------------------------------------------------


def test_plan_cuts_at_scene_cuts_then_splits_long_shots_with_warm_seams():
    times = [i / 25 for i in range(32)]
    scan = ClipScan(pts=list(range(32)), times_s=times, cuts=[10])
    segments = plan_segments(scan, segment_frames=8, seam_frames=2)
    assert [(s.first, s.stop) for s in segments] == [(0, 5), (5, 10), (10, 17), (17, 25), (25, 32)]
    assert [s.warmup for s in segments] == [0, 2, 0, 2, 2]  # none across the cut, none before the clip
    assert [s.starts_shot for s in segments] == [True, False, True, False, False]
    assert segments[1].pts == tuple(range(3, 10))
    short = plan_segments(scan, segment_frames=8, seam_frames=6)
    assert [s.warmup for s in short] == [0, 5, 0, 6, 6]  # never reaching back past the previous segment's start

    assert segments[1].start_s == pytest.approx((times[2] + times[3]) / 2)  # between frames: no rounding trap
    assert segments[1].end_s == pytest.approx((times[9] + times[10]) / 2)
    assert segments[0].start_s is None and segments[-1].end_s is None


def test_plan_fills_whole_waves_of_workers():
    scan = ClipScan(pts=list(range(72)), times_s=[i / 25 for i in range(72)], cuts=[])
    assert len(plan_segments(scan, segment_frames=24, seam_frames=8)) == 3  # one worker: as asked
    balanced = plan_segments(scan, segment_frames=24, seam_frames=8, workers=2)
    assert [s.num_frames for s in balanced] == [18, 18, 18, 18]  # 3 on 2 workers would leave one idle
    assert len(plan_segments(scan, segment_frames=24, seam_frames=8, workers=3)) == 3  # already whole
    # never a segment of 2 * seam_frames or less: the extra seams would cost more than the idle worker
    assert [s.num_frames for s in plan_segments(scan, segment_frames=24, seam_frames=20, workers=2)] == [24, 24, 24]
    assert balanced_pieces([100, 10], [2, 1], workers=4, seam_frames=4) == [3, 1]  # the long shot takes it


def test_crossfade_spreads_a_seam_over_the_overlap_and_keeps_the_strokes():
    earlier, later = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 90, np.uint8)
    assert [int(crossfade(earlier, later, step=k, steps=2)[0, 0, 0]) for k in range(2)] == [30, 60]
    rng = np.random.default_rng(0)
    a, b = (rng.integers(60, 200, size=(32, 32, 3)).astype(np.uint8) for _ in range(2))
    assert np.array_equal(crossfade(a, a, step=1, steps=3), a)  # equal inputs: unchanged
    middle = crossfade(a, b, step=0, steps=1)  # half and half of two unrelated textures
    plain = (a.astype(np.float32) + b) / 2
    assert middle.astype(np.float32).std() > 1.25 * plain.std()  # a plain blend would halve the variance


# -- runs on the local runtime -------------------------------------------------------


def test_ray_run_has_the_frames_timestamps_and_audio_of_a_single_machine_run(ray_runtime, reference, tmp_path):
    from vidstyle.api import stylize_video
    from vidstyle.pipeline import Notice

    src, single = reference
    notes: list[str] = []
    summary = stylize_video(
        src,
        tmp_path / "ray.mp4",
        style=STYLE_PATH,
        ray="auto",
        work_dir=str(tmp_path / "w"),
        on_event=lambda e: notes.append(e.message) if isinstance(e, Notice) else None,
        **RAY_OPTIONS,
    )
    assert summary.segments >= 3 and any("1 scene cuts" in note for note in notes), notes
    assert summary.anchored_segments == summary.segments - 2  # every segment inside one of the 2 shots
    assert len(summary.workers) == 2 and sum(w["frames"] for w in summary.workers) == 32
    assert summary.frames == summary.frames_written == summary.computed_frames == 32
    pts_in, _ = decoded(src)
    pts_ray, frames_ray = decoded(tmp_path / "ray.mp4")
    pts_single, frames_single = decoded(single)
    assert pts_ray == pts_in == pts_single
    assert np.array_equal(frames_ray, frames_single)
    assert audio_samples(tmp_path / "ray.mp4") == audio_samples(single) > 0
    assert not os.path.exists(tmp_path / "w" / "ray-segments") or not os.listdir(tmp_path / "w")


def test_a_worker_killed_mid_segment_is_retried_and_the_job_completes(ray_runtime, reference, tmp_path):
    from vidstyle.api import stylize_video

    src, single = reference
    (ray_runtime / "armed").write_text("")
    options = {**RAY_OPTIONS, "engine": "invert-kill"}
    summary = stylize_video(
        src, tmp_path / "ray.mp4", style=STYLE_PATH, ray="auto", work_dir=str(tmp_path / "w"), **options
    )
    assert (ray_runtime / "killed").exists()  # a worker process really died mid-segment
    assert summary.frames_written == 32
    a, b = decoded(tmp_path / "ray.mp4")[1].astype(int), decoded(single)[1].astype(int)
    assert np.array_equal(a, b), [int(np.abs(x - y).max()) for x, y in zip(a, b)]


def test_a_rerun_after_an_interrupted_driver_recomputes_no_finished_segment(ray_runtime, reference, tmp_path):
    from vidstyle.api import stylize_video
    from vidstyle.pipeline import FrameDone, InterruptedRun

    src, single = reference
    dst, work = tmp_path / "ray.mp4", str(tmp_path / "w")

    def interrupt(event):  # Ctrl-C right after the first finished segment was saved
        if isinstance(event, FrameDone):
            raise KeyboardInterrupt

    with pytest.raises(InterruptedRun, match="every finished frame is kept in .*: rerun the same command"):
        stylize_video(src, dst, style=STYLE_PATH, ray="auto", work_dir=work, on_event=interrupt, **RAY_OPTIONS)
    assert not dst.exists()
    events = []
    summary = stylize_video(
        src, dst, style=STYLE_PATH, ray="auto", work_dir=work, on_event=events.append, **RAY_OPTIONS
    )
    resumed = [e.index for e in events if isinstance(e, FrameDone) and e.resumed]
    computed = [e.index for e in events if isinstance(e, FrameDone) and not e.resumed]
    assert summary.resumed_segments >= 1 and resumed
    assert not set(resumed) & set(computed) and sorted(resumed + computed) == list(range(32))
    assert summary.computed_frames == 32 - len(resumed)
    assert sum(w["frames"] for w in summary.workers) == len(computed)  # workers did only the rest
    assert np.array_equal(decoded(dst)[1], decoded(single)[1])


def test_ray_run_finishes_frames_at_the_output_size_like_a_single_machine(ray_runtime, reference, tmp_path):
    # Processing at 32 px, output at the source's 64x48: the detail stage runs
    # inside each segment (the inverting engine inverts whatever size it gets,
    # so the full-size pass shows), not a resize of 32 px frames on the driver.
    from vidstyle.api import stylize_video
    from vidstyle.pipeline import Notice

    src, _ = reference
    small = {**RAY_OPTIONS, "max_side": 32}
    single = {k: v for k, v in small.items() if k not in ("segment_frames", "seam_frames")}
    stylize_video(src, tmp_path / "single.mp4", style=STYLE_PATH, work_dir=str(tmp_path / "w1"), **single)
    notes: list[str] = []
    outputs = {}
    for name, extra in (("detail", {}), ("resized", {"detail_iters": 0})):
        outputs[name] = tmp_path / f"{name}.mp4"
        stylize_video(
            src,
            outputs[name],
            style=STYLE_PATH,
            ray="auto",
            work_dir=str(tmp_path / name),
            on_event=lambda e: notes.append(e.message) if isinstance(e, Notice) else None,
            **small,
            **extra,
        )
    assert any("processing at 32x24" in n and "finished at the output size" in n for n in notes), notes
    _, frames_single = decoded(tmp_path / "single.mp4")
    _, frames_detail = decoded(outputs["detail"])
    _, frames_resized = decoded(outputs["resized"])
    assert frames_detail.shape == frames_resized.shape == (32, 48, 64, 3)
    assert np.array_equal(frames_detail, frames_single)
    _, source = decoded(src)
    detail_error = np.abs(frames_detail.astype(int) - (255 - source.astype(int))).mean()
    resized_error = np.abs(frames_resized.astype(int) - (255 - source.astype(int))).mean()
    assert detail_error < 0.7 * resized_error, (detail_error, resized_error)  # 2.2 vs 3.9 (crf noise: ~2)


def test_ray_run_keeps_a_trim_and_a_frame_rate(ray_runtime, tmp_path):
    from vidstyle.api import stylize_video

    src = make_clip(tmp_path / "in.mp4", num_frames=40)
    trim = {"start_s": 0.2, "end_s": 1.2, "fps": 12}
    single = {k: v for k, v in RAY_OPTIONS.items() if k not in ("segment_frames", "seam_frames")}
    stylize_video(src, tmp_path / "single.mp4", style=STYLE_PATH, work_dir=str(tmp_path / "w1"), **single, **trim)
    summary = stylize_video(
        src,
        tmp_path / "ray.mp4",
        style=STYLE_PATH,
        ray="auto",
        work_dir=str(tmp_path / "w2"),
        **{**RAY_OPTIONS, "segment_frames": 4},
        **trim,
    )
    assert summary.segments >= 3
    pts_ray, frames_ray = decoded(tmp_path / "ray.mp4")
    pts_single, frames_single = decoded(tmp_path / "single.mp4")
    assert pts_ray == pts_single and np.array_equal(frames_ray, frames_single)
    assert audio_samples(tmp_path / "ray.mp4") == audio_samples(tmp_path / "single.mp4") > 0


def test_a_worker_that_cannot_read_the_input_path_decodes_the_shipped_bytes(ray_runtime, reference):
    from vidstyle.config import StyleConfig
    from vidstyle.distributed.worker import InputSource, SegmentWorker
    from vidstyle.errors import InputError
    from vidstyle.media import read_frames

    src, _ = reference
    frames = list(read_frames(src))
    scan = ClipScan(pts=[f.pts for f in frames], times_s=[f.time_s for f in frames], cuts=[10])
    segment = plan_segments(scan, segment_frames=8, seam_frames=2)[1]
    config = StyleConfig(engine="invert", max_side=64)
    elsewhere = InputSource(path="/nonexistent/in.mp4", size=src.stat().st_size)
    shipped = InputSource(path=elsewhere.path, size=elsewhere.size, data=[ray.put(src.read_bytes())])
    result = SegmentWorker(config, [], (64, 48), shipped).run(segment)
    assert result.pts == segment.pts[segment.warmup :] and segment.warmup == 2
    painted = frames[segment.first - segment.warmup : segment.stop]  # warm-up frames first
    assert np.array_equal(result.frames_u8, 255 - np.stack([f.image_u8 for f in painted]))
    with pytest.raises(InputError, match="cannot read the input /nonexistent/in.mp4: put it on storage"):
        SegmentWorker(config, [], (64, 48), elsewhere).run(segment)


# -- without Ray --------------------------------------------------------------------------


def test_ray_flag_without_ray_installed_is_one_clear_line(tmp_path, monkeypatch, capsys):
    from vidstyle.cli.main import main

    src = make_clip(tmp_path / "in.mp4", num_frames=3, audio=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    code = main([str(src), "--style", str(STYLE_PATH), "--ray", "auto", "-o", str(tmp_path / "out.mp4")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "pip install 'vidstyle[ray]'" in err and not (tmp_path / "out.mp4").exists()


def test_an_unreachable_cluster_is_one_clear_error_within_seconds():
    """``connect`` checks the address with a TCP connect before ``ray.init``,
    which would retry an unreachable one for minutes (no Ray needed here)."""
    import socket
    import time

    from vidstyle.distributed.runtime import check_reachable
    from vidstyle.errors import InputError

    with socket.socket() as listening:  # a port that answers: no error
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_reachable(f"127.0.0.1:{listening.getsockname()[1]}")
        check_reachable(f"ray://127.0.0.1:{listening.getsockname()[1]}")
    started = time.monotonic()
    for address in ("127.0.0.1:1", "ray://127.0.0.1:1"):
        with pytest.raises(InputError, match=f"cannot reach the Ray cluster at {address}: .+ray start --head") as e:
            check_reachable(address)
        assert "\n" not in str(e.value)
    assert time.monotonic() - started < 10
    with pytest.raises(InputError, match="not a Ray address"):
        check_reachable("head:port")
    check_reachable("auto-resolved-by-ray")  # no port: left to Ray
