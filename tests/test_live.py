"""Live mode on a real lavfi source: frames are dropped, never queued; the
recording plays with wall-clock timestamps; Ctrl-C/SIGTERM end cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

from conftest import ROOT, STYLE_PATH
from vidstyle.cli.main import main
from vidstyle.config import StyleConfig
from vidstyle.errors import InputError
from vidstyle.media import probe, read_frames
from vidstyle.live.loop import (IterationBudget, LatestFrame, LiveOptions, MotionTracker, RecordingSink, StreamSink,
                           run_live)
from vidstyle.media import open_source, parse_source
from vidstyle.engines.base import FrameResult

SOURCE_FPS = 30
LAVFI = f"lavfi:testsrc2=size=160x120:rate={SOURCE_FPS}"
TINY = StyleConfig(max_side=64, optimizer="adam", iters_first=4, iters_later=3, num_threads=1)


class SlowStylizer:
    """Stands in for the optimizer: takes ``seconds`` per frame, returns the
    content inverted, and records the largest mailbox it ever saw."""

    def __init__(self, seconds: float, config: StyleConfig = TINY):
        self.seconds = seconds
        self.config = config
        self.calls = 0

    def stylize(self, content_u8, *, init=None, temporal=None, max_iters, min_iters=0, on_iteration=None):
        self.calls += 1
        time.sleep(self.seconds)
        return FrameResult(image_u8=255 - content_u8, num_iters=max_iters, converged=False, losses={},
                           seconds=self.seconds)


def lavfi_frames(max_side: int | None = 64):
    return open_source(LAVFI).frames(max_side=max_side)


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


def test_motion_tracker_warm_starts_between_processed_frames():
    frames = [f.image_u8 for _, f in zip(range(4), lavfi_frames())]
    tracker = MotionTracker(TINY)
    assert tracker.prepare(frames[0]) == (None, None, False)  # nothing before: cold
    tracker.remember(frames[0], 255 - frames[0])
    init, target, cut = tracker.prepare(frames[3])  # frames 1 and 2 were "dropped"
    assert not cut and init.shape == (48, 64, 3) and init.dtype == np.float32
    assert target.warped.shape == (1, 48, 64, 3) and target.weights.shape == (1, 48, 64)
    tracker.remember(frames[3], frames[3])
    black = np.zeros_like(frames[0])
    assert tracker.prepare(black)[2]  # another shot: cold start, history forgotten
    assert not tracker.history


def test_slow_stylizer_drops_frames_instead_of_queueing():
    duration_s = 2.5
    stylizer = SlowStylizer(0.25, TINY.replace(temporal=False, warm_start=False))  # no flow arrays in the peak
    list(zip(range(3), lavfi_frames(max_side=None)))  # warm up lazy imports before measuring memory
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        summary = run_live(lavfi_frames(max_side=None), stylizer,
                           options=LiveOptions(target_fps=4, duration_s=duration_s))
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
    from vidstyle.pipeline.video import load_styles
    from vidstyle.engines.optimize import Stylizer

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    stylizer = Stylizer(load_styles(STYLE_PATH), config=TINY)
    dst = tmp_path / "live.mp4"
    size = (64, 48)
    sinks = [RecordingSink(dst, width=size[0], height=size[1], fps=8),
             StreamSink(f"udp://127.0.0.1:{port}", width=size[0], height=size[1], fps=8)]
    duration_s = 3.0
    started = time.monotonic()
    summary = run_live(lavfi_frames(), stylizer, options=LiveOptions(target_fps=8, duration_s=duration_s), sinks=sinks)
    wall_s = time.monotonic() - started
    assert summary.recording == str(dst) and summary.frames_stylized >= 3
    assert summary.latency_median_s is not None and summary.latency_p90_s >= summary.latency_median_s
    times = [f.time_s for f in read_frames(dst)]
    assert len(times) == summary.frames_stylized
    assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:]))
    assert 0.4 * duration_s <= times[-1] <= wall_s
    assert (probe(dst).width, probe(dst).height) == size
    packet = receiver.recv(65536)
    assert packet[0] == 0x47  # MPEG-TS sync byte


# ------------------------------------------------------------------------------- CLI


def _live_process(tmp_path, *extra):
    dst = tmp_path / "out.mp4"
    command = [sys.executable, "-m", "vidstyle", "live", LAVFI, "--style", str(STYLE_PATH), "-o", str(dst),
               "--max-side", "64", "--threads", "1", *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
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
    assert summary["frames_stylized"] >= 2 and len(frames) == summary["frames_stylized"]
    assert summary["frames_in"] == summary["frames_stylized"] + summary["frames_dropped"]
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


@pytest.mark.parametrize("source", ["lavfi:nosuchfilter=size=64x48", "/dev/video99", "nonsense-source",
                                    "rtsp://127.0.0.1:1/stream"])
def test_bad_source_is_one_line_and_exit_code_2(capsys, source):
    code = main(["live", source, "--style", str(STYLE_PATH), "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "live source" in err or "video device" in err, err


def test_bad_live_options_are_usage_errors(capsys):
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--target-fps", "0"]) == 2
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--target-fps", "5", "--max-latency", "1"]) == 2
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--side-by-side"]) == 2
    assert main(["live", LAVFI, "--style", str(STYLE_PATH), "--stream-out", "ftp://x/y"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 4


def test_parse_source_kinds(tmp_path):
    assert parse_source("lavfi:testsrc2").paced and parse_source("lavfi:testsrc2").format == "lavfi"
    url = parse_source("rtsp://cam.local/stream")
    assert url.kind == "url" and not url.paced and url.options["rtsp_transport"] == "tcp"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    assert parse_source(str(clip)).kind == "file"
    with pytest.raises(InputError, match="no such video device"):
        parse_source("/dev/video99")
