"""Live mode on a real lavfi source: frames are dropped, never queued; the
recording plays with wall-clock timestamps; Ctrl-C/SIGTERM end cleanly; the
loop talks to any ``Engine`` (the inverting fake runs it end to end) and warm
starts through the shared motion package."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import types
from fractions import Fraction

import cv2
import numpy as np
import pytest
from conftest import ROOT, STYLE_PATH
from fakes import InvertingEngine, fake_engine  # noqa: F401 - fixture

from vidstyle import engines
from vidstyle.cli.main import main
from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine, FrameResult, IterationDone
from vidstyle.errors import InputError
from vidstyle.frames import Frame, u8_to_float
from vidstyle.live import IterationBudget, LatestFrame, LiveOptions, PreviewWindow, RecordingSink, StreamSink, run_live
from vidstyle.media import LiveSource, load_image, open_source, parse_source, probe, read_frames
from vidstyle.sizing import available_bytes

SOURCE_FPS = 30
LAVFI = f"lavfi:testsrc2=size=160x120:rate={SOURCE_FPS}"
TINY = StyleConfig(max_side=64, optimizer="adam", iters_first=4, iters_later=3, num_threads=1)


class SlowEngine:
    """An ``Engine`` standing in for the optimizer: each frame takes
    ``seconds`` (spread over the iterations it is given, reported to
    ``on_iteration``) and comes out inverted. Records what it was given."""

    name = "slow"
    device = "cpu"
    wants_warm_start = True
    min_iters = 1

    def __init__(
        self,
        seconds: float = 0.0,
        *,
        max_iters: int = 4,
        max_iters_cold: int = 8,
        min_iters: int = 1,
        wants_warm_start: bool = True,
    ):
        self.seconds = seconds
        self._caps = {False: max_iters, True: max_iters_cold}
        self.min_iters = min_iters
        self.wants_warm_start = wants_warm_start
        self.calls = 0
        self.warm_starts = []  # the WarmStart (or None) of each call
        self.iters_given = []  # max_iters of each call

    def max_iters(self, *, cold: bool) -> int:
        return self._caps[cold]

    def required_bytes(self, size) -> int:
        return 3 * size[0] * size[1]

    def stylize(self, content_u8, warm=None, *, max_iters=None, on_iteration=None):
        self.calls += 1
        self.warm_starts.append(warm)
        num_iters = max_iters if max_iters is not None else self.max_iters(cold=warm is None)
        self.iters_given.append(num_iters)
        for i in range(num_iters):
            time.sleep(self.seconds / num_iters)
            if on_iteration is not None:
                on_iteration(IterationDone(iteration=i + 1, loss=0.0))
        return FrameResult(
            image_u8=255 - content_u8, num_iters=num_iters, converged=False, losses={}, seconds=self.seconds
        )


def lavfi_frames(max_side: int | None = 64):
    return open_source(LAVFI).frames(max_side=max_side)


def handed_over(images, engine: SlowEngine):
    """Frames of ``images``, each given only after the engine took the one
    before it: the loop processes every one (nothing is dropped)."""
    for index, image in enumerate(images):
        while engine.calls < index:
            time.sleep(0.002)
        yield Frame(image_u8=image, pts=index, time_base=Fraction(1, SOURCE_FPS), index=index)


def unpaced_lavfi(graph: str, count: int) -> list[np.ndarray]:
    """The first ``count`` frames of a lavfi source, as fast as they decode."""
    source = LiveSource(dataclasses.replace(parse_source(graph), paced=False))
    frames = source.frames()
    try:
        return [frame.image_u8 for _, frame in zip(range(count), frames)]
    finally:
        frames.close()
        source.close()


# ------------------------------------------------------------------ policy and parts


def test_mailbox_keeps_only_the_newest_item():
    box = LatestFrame()
    assert [box.put(i) for i in range(5)] == [False, True, True, True, True]
    assert len(box) == 1 and box.dropped == 4 and box.max_depth == 1
    assert box.take(timeout=0) == 4 and box.take(timeout=0) is None
    box.close()
    assert box.finished and box.take(timeout=1) is None


def test_budget_turns_seconds_into_iterations():
    budget = IterationBudget(max_iters=50, max_iters_cold=100, min_iters=1)
    assert budget.iters_for(0.2) == 4  # not yet measured: calibration count
    budget.update(num_iters=11, iterations_s=0.10, frame_s=0.15)  # 10 ms/iter, 40 ms overhead
    assert budget.iter_s == pytest.approx(0.01) and budget.overhead_s == pytest.approx(0.04)
    assert budget.iters_for(0.2) == 16
    assert budget.iters_for(0.01) == 1  # over budget: the floor
    assert budget.iters_for(10.0) == 50 and budget.iters_for(10.0, cold=True) == 100
    budget.update(num_iters=11, iterations_s=0.20, frame_s=0.25)  # slower now: the EMA follows
    assert 0.01 < budget.iter_s < 0.02


@pytest.mark.parametrize(
    "target_fps, expected",
    [(0.1, [4, 4, 6, 6, 6]), (1000, [4, 4, 2, 2, 2])],
    ids=["ample budget: the engine's cap", "spent budget: the engine's floor"],
)
def test_the_budget_is_bounded_by_the_engine(target_fps, expected):
    engine = SlowEngine(0.005, max_iters=6, max_iters_cold=9, min_iters=2)
    images = [np.full((48, 64, 3), 128, np.uint8)] * 5  # no motion, no cut: one cold start
    summary = run_live(handed_over(images, engine), engine, config=TINY, options=LiveOptions(target_fps=target_fps))
    # cold first frame and the first warm one: calibration (4); then what the measured speed allows
    assert engine.iters_given == expected
    assert summary.frames_stylized == 5 and summary.cold_starts == 1


def test_warm_starts_between_processed_frames_through_the_motion_package():
    frames = unpaced_lavfi("lavfi:testsrc2=size=64x48:rate=30", 13)
    black = np.zeros_like(frames[0])
    images = [frames[0], frames[3], frames[12], black, black]  # 1, 2, 4..11 were "dropped"
    engine = SlowEngine()
    summary = run_live(
        handed_over(images, engine), engine, config=TINY.replace(long_term=(1, 2)), options=LiveOptions(target_fps=30)
    )
    first, second, third, cut, after_cut = engine.warm_starts
    assert first is None  # nothing before: cold
    assert second.init.shape == (48, 64, 3) and second.init.dtype == np.float32
    assert second.temporal.warped.shape == (1, 48, 64, 3) and second.temporal.weights.shape == (1, 48, 64)
    # 9 frames apart most of the flow is unreliable: live mode still warm-starts
    # (colour-only cuts) with the long-term target of frames t-1 and t-2
    assert third is not None and third.temporal.warped.shape == (2, 48, 64, 3)
    assert cut is None  # another shot (colours unrelated): cold start, history forgotten
    assert after_cut is not None and after_cut.temporal.warped.shape[0] == 1
    assert summary.cold_starts == 2 and summary.frames_stylized == 5


def test_no_flow_without_temporal_or_for_an_engine_that_takes_no_warm_start(monkeypatch):
    def no_flow(*args, **kwargs):
        raise AssertionError("optical flow was set up")

    monkeypatch.setattr("vidstyle.live.loop.MotionEstimator", no_flow)
    images = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8) for i in range(3)]
    engine = SlowEngine()
    run_live(handed_over(images, engine), engine, config=TINY.replace(temporal=False))
    first, second, third = engine.warm_starts
    assert first is None and second.temporal is None and third.temporal is None
    assert np.array_equal(second.init, u8_to_float(255 - images[0]))  # the previous output as it is

    no_warm = SlowEngine(wants_warm_start=False)
    summary = run_live(handed_over(images, no_warm), no_warm, config=TINY)
    assert no_warm.warm_starts == [None] * 3 and summary.cold_starts == 0


def test_slow_engine_drops_frames_instead_of_queueing():
    duration_s = 2.5
    engine = SlowEngine(0.25)
    assert isinstance(engine, Engine)
    config = TINY.replace(temporal=False, warm_start=False)  # no flow arrays in the peak
    list(zip(range(3), lavfi_frames(max_side=None)))  # warm up lazy imports before measuring memory
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        summary = run_live(
            lavfi_frames(max_side=None), engine, config=config, options=LiveOptions(target_fps=4, duration_s=duration_s)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.max_mailbox_depth == 1
    assert summary.frames_dropped > summary.frames_stylized > 0
    assert summary.frames_in == summary.frames_stylized + summary.frames_dropped
    expected = SOURCE_FPS * duration_s
    assert 0.6 * expected <= summary.frames_in <= 1.25 * expected, summary
    frame_bytes = 120 * 160 * 3
    # Queued frames would cost frames_in * frame_bytes (> 3 MB); the loop holds a handful.
    assert peak - baseline < 16 * frame_bytes, (peak - baseline, summary)


def test_records_a_playable_file_with_wall_clock_timestamps_and_streams_udp(tmp_path):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    engine = engines.make_engine(TINY, [load_image(STYLE_PATH)])  # the real optimizer
    dst = tmp_path / "live.mp4"
    size = (64, 48)
    engine.stylize(np.zeros((size[1], size[0], 3), np.uint8))  # one-off costs (style Grams at this size) before timing
    sinks = [
        RecordingSink(dst, width=size[0], height=size[1], fps=8),
        StreamSink(f"udp://127.0.0.1:{port}", width=size[0], height=size[1], fps=8),
    ]
    duration_s = 3.0
    started = time.monotonic()
    summary = run_live(
        lavfi_frames(max_side=None),
        engine,
        config=TINY,
        size=size,
        options=LiveOptions(target_fps=8, duration_s=duration_s),
        sinks=sinks,
    )
    wall_s = time.monotonic() - started
    assert summary.recording == str(dst) and summary.frames_stylized >= 3
    assert summary.processing_size == size  # the 160x120 source, resized as frames are taken
    assert summary.latency_median_s is not None and summary.latency_p90_s >= summary.latency_median_s
    times = [f.time_s for f in read_frames(dst)]
    assert len(times) - summary.frames_stylized in (0, 1)  # 1: the last frame held until the end
    assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:]))
    assert 0.4 * duration_s <= times[-1] <= wall_s
    assert (probe(dst).width, probe(dst).height) == size
    packet = receiver.recv(65536)
    assert packet[0] == 0x47  # MPEG-TS sync byte


class ColdSlowEngine(SlowEngine):
    """Inverts instantly, except the first frame (a cold start), which takes ``cold_s``."""

    def __init__(self, cold_s: float):
        super().__init__()
        self.cold_s = cold_s

    def stylize(self, content_u8, warm=None, *, max_iters=None, on_iteration=None):
        if self.calls == 0:
            time.sleep(self.cold_s)
        return super().stylize(content_u8, warm, max_iters=max_iters, on_iteration=on_iteration)


def test_the_recording_lasts_as_long_as_the_run(tmp_path):
    # A slow cold start, then frames slower (4 fps) than the rate hint (30 fps):
    # the recording used to start at the first output (0.8 s in) and end 1/30 s
    # after the last frame (~1.75 s): about 1 s of a 1.9 s run.
    engine = ColdSlowEngine(0.8)
    dst = tmp_path / "live.mp4"
    duration_s = 1.9
    started = time.monotonic()
    summary = run_live(
        open_source("lavfi:testsrc2=size=64x48:rate=4").frames(),
        engine,
        config=TINY,
        options=LiveOptions(target_fps=30, duration_s=duration_s),
        sinks=[RecordingSink(dst, width=64, height=48, fps=30)],
    )
    wall_s = time.monotonic() - started
    frames = list(read_frames(dst))
    assert summary.frames_stylized >= 2 and len(frames) == summary.frames_stylized + 1  # the last one again
    assert frames[0].time_s == 0.0  # the first frame is shown from the start
    assert np.abs(frames[-1].image_u8.astype(int) - frames[-2].image_u8.astype(int)).mean() < 2  # held
    assert 0.95 * duration_s <= probe(dst).duration_s <= wall_s


def test_sinks_get_frames_at_the_output_size_and_the_preview_shows_both_side_by_side(tmp_path, monkeypatch):
    shown = []
    fake_cv2 = types.SimpleNamespace(
        WINDOW_AUTOSIZE=cv2.WINDOW_AUTOSIZE,
        INTER_CUBIC=cv2.INTER_CUBIC,
        COLOR_RGB2BGR=cv2.COLOR_RGB2BGR,
        WND_PROP_VISIBLE=cv2.WND_PROP_VISIBLE,
        resize=cv2.resize,
        cvtColor=cv2.cvtColor,
        namedWindow=lambda title, flags: None,
        imshow=lambda title, image: shown.append(image.shape),
        waitKey=lambda ms: -1,
        getWindowProperty=lambda title, prop: 1.0,
        destroyWindow=lambda title: None,
    )
    monkeypatch.setitem(sys.modules, "cv2", fake_cv2)
    monkeypatch.setenv("DISPLAY", ":99")

    class Collect:
        def __init__(self):
            self.sizes = []

        def write(self, output, source):
            self.sizes.append((output.size, source.size))

        def close(self):
            pass

    collect = Collect()
    engine = SlowEngine()
    images = unpaced_lavfi("lavfi:testsrc2=size=160x120:rate=30", 3)
    summary = run_live(
        handed_over(images, engine),
        engine,
        config=TINY,
        size=(48, 36),
        output_size=(96, 72),
        sinks=[collect],
        preview=PreviewWindow(side_by_side=True),
    )
    assert summary.processing_size == (48, 36) and summary.frames_stylized == 3
    assert collect.sizes == [((96, 72), (96, 72))] * 3  # the stylized frame and its source, scaled
    scale = 512 / 96  # PREVIEW_DISPLAY_SIDE over the output's longer side
    assert shown == [(round(72 * scale), round(2 * 96 * scale), 3)] * 3  # input | output, same size


# ------------------------------------------------------------------------------- CLI


def _live_process(tmp_path, *extra):
    dst = tmp_path / "out.mp4"
    command = [
        sys.executable,
        "-m",
        "vidstyle",
        "live",
        LAVFI,
        "--style",
        str(STYLE_PATH),
        "-o",
        str(dst),
        "--max-side",
        "64",
        "--threads",
        "1",
        *extra,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return process, dst


def _wait_for_stylized_frames(process, count: int, *, timeout_s: float = 60.0) -> list[str]:
    """Read status lines until one reports ``count`` stylized frames."""
    lines: list[str] = []
    reached = threading.Event()

    def read():
        for line in process.stderr:
            lines.append(line)
            if " stylized " in line and int(line.split(" stylized ")[1].split()[0]) >= count:
                reached.set()

    threading.Thread(target=read, daemon=True).start()
    assert reached.wait(timeout_s), "".join(lines)
    return lines


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_ends_cleanly_with_a_playable_recording(tmp_path, signum):
    process, dst = _live_process(tmp_path, "--json")
    try:
        _wait_for_stylized_frames(process, 2)
        process.send_signal(signum)
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    summary = json.loads(out)
    frames = list(read_frames(dst))
    assert summary["frames_stylized"] >= 2 and len(frames) - summary["frames_stylized"] in (0, 1)  # held last
    assert summary["frames_in"] == summary["frames_stylized"] + summary["frames_dropped"]
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


def test_a_registered_engine_runs_live_end_to_end(tmp_path, capsys, fake_engine):
    graph = "lavfi:testsrc2=size=96x64:rate=30"
    dst = tmp_path / "live.mp4"
    code = main(
        ["live", graph, "--style", str(STYLE_PATH), "--engine", "invert", "-o", str(dst), "-t", "2", "--json", "-q"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["frames_in"] == summary["frames_stylized"] + summary["frames_dropped"]
    # 1: a frame that came out at or after the end of -t is not output (counted as dropped)
    assert fake_engine.calls - summary["frames_stylized"] in (0, 1) and summary["frames_stylized"] >= 5
    assert summary["recording"] == str(dst)
    assert summary["processing_size"] == [96, 64] and summary["cold_starts"] >= 1
    assert fake_engine.warm_starts[0] is False and any(fake_engine.warm_starts[1:])
    recorded = [f.image_u8.astype(int) for f in read_frames(dst)]
    assert len(recorded) - summary["frames_stylized"] in (0, 1)  # 1: the last frame held until the end
    sources = [image.astype(int) for image in unpaced_lavfi(graph, summary["frames_in"] + SOURCE_FPS)]
    matched = []
    for output in recorded:  # each recorded frame is the negative of some source frame, through x264
        errors = [np.abs((255 - source) - output).mean() for source in sources]
        best = int(np.argmin(errors))
        assert errors[best] < 8, (errors[best], best)
        assert np.abs(sources[best] - output).mean() > 40  # not the source itself
        matched.append(best)
    assert len(set(matched)) > len(matched) // 2  # distinct frames: the run moved along the source


class HungryEngine(InvertingEngine):
    """The inverting fake with a memory model (``engines.memory_estimate``)
    in which a 96x64 frame needs twice the memory available."""

    @staticmethod
    def estimate_required_bytes(size, *, config, device) -> int:
        return size[0] * size[1] * 2 * available_bytes(device) // (96 * 64)


def test_the_live_command_shrinks_what_does_not_fit_in_memory_and_says_so(tmp_path, capsys, fake_engine):
    engines.register_engine("hungry", HungryEngine)
    try:
        code = main(
            [
                "live",
                "lavfi:testsrc2=size=96x64:rate=30",
                "--style",
                str(STYLE_PATH),
                "--engine",
                "hungry",
                "--device",
                "cpu",
                "-o",
                str(tmp_path / "live.mp4"),
                "-t",
                "1",
                "--json",
            ]
        )
    finally:
        engines.unregister_engine("hungry")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    width, height = summary["processing_size"]
    assert width < 96 and height < 64 and summary["frames_stylized"] >= 1
    assert f"note: processing at {width}x{height} instead of 96x64" in captured.err
    assert "output 96x64 (the source's size) (resized)" in captured.err
    assert (probe(tmp_path / "live.mp4").width, probe(tmp_path / "live.mp4").height) == (96, 64)  # scaled up


@pytest.mark.parametrize(
    "source", ["lavfi:nosuchfilter=size=64x48", "/dev/video99", "nonsense-source", "rtsp://127.0.0.1:1/stream"]
)
def test_bad_source_is_one_line_and_exit_code_2(capsys, source):
    code = main(["live", source, "--style", str(STYLE_PATH), "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "live source" in err or "video device" in err, err


def test_too_small_a_source_is_refused_by_the_size_policy(capsys):
    code = main(["live", "lavfi:testsrc2=size=64x8:rate=30", "--style", str(STYLE_PATH), "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "too small" in err and "64x8" in err, err


def test_bad_live_options_are_usage_errors(capsys):
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--target-fps", "0"]) == 2
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--target-fps", "5", "--max-latency", "1"]) == 2
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--side-by-side"]) == 2
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--stream-out", "ftp://x/y"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 4


@pytest.mark.parametrize(
    "option, value",
    [
        ("--input-fps", "nan"),
        ("--input-fps", "-5"),
        ("--input-fps", "inf"),
        ("--input-fps", "0"),
        ("--input-fps", "241"),
        ("--target-fps", "inf"),
        ("--target-fps", "nan"),
        ("--target-fps", "1e9"),
        ("--target-fps", "-1"),
        ("--max-latency", "inf"),
        ("--max-latency", "nan"),
        ("--max-latency", "61"),
        ("--max-latency", "0"),
    ],
)
def test_live_rates_and_latency_must_be_finite_and_bounded(capsys, fake_engine, option, value):
    argv = ["live", LAVFI, "--style", str(STYLE_PATH), "--engine", "invert", "-t", "1", "-q", option, value]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and fake_engine.calls == 0, err
    assert len(err.strip().splitlines()) == 1 and option in err and value in err, err


@pytest.mark.parametrize("field", ["target_fps", "max_latency_s"])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0, 0.0])
def test_live_options_need_a_finite_positive_budget(field, value):
    with pytest.raises(InputError, match="must be a finite positive number"):
        LiveOptions(**{field: value})
    assert LiveOptions(duration_s=float("inf")).duration_s == float("inf")  # until stopped


def test_live_help_says_the_bounds_and_the_output_size(capsys):
    with pytest.raises(SystemExit):
        main(["live", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "camera frame rate to ask for (greater than 0 and at most 240 frames per second)" in text
    assert "between 0.01 and 240 frames per second" in text and "between 0.01 and 60 seconds" in text
    assert "scaled up, with no detail stage" in text


def test_live_records_at_the_output_size_and_says_so(tmp_path, capsys, fake_engine):
    graph = "lavfi:testsrc2=size=96x64:rate=30"
    cases = [([], (48, 32), (96, 64)), (["--output-size", "121x91"], (48, 36), (120, 90))]  # even sides: 4:2:0
    for extra, processing, written in cases:
        dst = tmp_path / f"live{written[0]}.mp4"
        argv = ["live", graph, "--style", str(STYLE_PATH), "--engine", "invert", "--max-side", "48"]
        fake_engine.sizes = []
        code = main([*argv, "-o", str(dst), "-t", "1", "--json", *extra])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert json.loads(captured.out)["processing_size"] == list(processing)
        assert set(fake_engine.sizes) == {processing}
        assert (probe(dst).width, probe(dst).height) == written
        line = f"note: processing at {processing[0]}x{processing[1]} (--max-side), output {written[0]}x{written[1]}"
        assert line in captured.err and "(resized)" in captured.err


def test_live_help_shows_the_live_preset(capsys):
    with pytest.raises(SystemExit):
        main(["live", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default live: max-side 128, optimizer adam" in text


def test_parse_source_kinds(tmp_path):
    assert parse_source("lavfi:testsrc2").paced and parse_source("lavfi:testsrc2").format == "lavfi"
    url = parse_source("rtsp://cam.local/stream")
    assert url.kind == "url" and not url.paced and url.options["rtsp_transport"] == "tcp"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    assert parse_source(str(clip)).kind == "file"
    with pytest.raises(InputError, match="no such video device"):
        parse_source("/dev/video99")


def test_live_threads_leave_a_core_to_capture_for_the_optimizer_but_not_for_the_network(monkeypatch):
    from vidstyle.live import default_num_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert default_num_threads() == 3 and default_num_threads("optimize") == 3
    assert default_num_threads("net") == 4  # one short pass per frame (measured: 11.9 vs 8.6 fps on 2 cores)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert default_num_threads() == 1 and default_num_threads("net") == 1
