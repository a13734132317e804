"""Live mode, from a QA pass: network sources keep every frame (no
``fflags=nobuffer``), a stored clip at an http(s) URL plays in real time,
``-t T`` is a hard end (the recording lasts exactly T), and the command's
smaller messages and exit codes. Real sources only: lavfi, clips served by
``http.server`` on 127.0.0.1, a UDP stream sent by PyAV in the test."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import signal
import socket
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, moving_frames
from fakes import InvertingEngine, fake_engine  # noqa: F401 - fixture

from vidstyle import engines
from vidstyle.cli.main import main
from vidstyle.config import StyleConfig
from vidstyle.engines.base import FrameResult, IterationDone
from vidstyle.errors import CorruptInputError, InputError
from vidstyle.live import LiveOptions, RecordingSink, run_live
from vidstyle.media import LiveSource, open_source, parse_source, probe, read_frames

FPS = 25
CLIP_FRAMES = 25  # one second
TINY = StyleConfig(max_side=64, optimizer="adam", iters_first=4, iters_later=3, num_threads=1)


# ----------------------------------------------------------------------------- helpers


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class _LiveResponse(http.server.BaseHTTPRequestHandler):
    """Serves a file as a live server streams: chunked, no length announced."""

    protocol_version = "HTTP/1.1"
    folder = "."

    def do_GET(self):
        data = Path(self.folder, self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "video/MP2T")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(data), 188 * 10):
            chunk = data[start : start + 188 * 10]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serving(folder, *, live: bool = False):
    """An HTTP server on 127.0.0.1 (a free port) serving ``folder``; yields its base URL."""
    if live:
        handler = type("Live", (_LiveResponse,), {"folder": str(folder)})
    else:
        handler = functools.partial(_QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def encode(dst: str, images, *, codec: str = "libx264", gop: int = 12, format=None, options=None, pace_s=0.0) -> None:
    """Encode ``images`` at ``FPS`` with a keyframe every ``gop`` frames into
    ``dst`` (a file, a playlist, a URL), optionally ``pace_s`` apart."""
    with av.open(dst, mode="w", format=format, options=options or {}) as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height = images[0].shape[1], images[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": str(gop), **({"deadline": "realtime", "cpu-used": "8"} if "vpx" in codec else {})}
        for index, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
            time.sleep(pace_s)
        for packet in stream.encode(None):
            container.mux(packet)


def cut_before_keyframe(src: Path, dst: Path, *, skip: int) -> None:
    """Copy ``src``'s video packets but the first ``skip``: ``dst`` starts
    between keyframes, as a stream joined mid-way does."""
    with av.open(str(src)) as source, av.open(str(dst), mode="w") as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        packets = [p for p in source.demux(source.streams.video[0]) if p.dts is not None]
        for packet in packets[skip:]:
            packet.stream = stream
            out.mux(packet)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def receive_all(source: LiveSource) -> tuple[list, float, BaseException | None]:
    """Every frame of ``source``, the seconds it took, and the error that ended it (or None)."""
    started = time.monotonic()
    frames, error = [], None
    try:
        frames.extend(source.frames())
    except CorruptInputError as err:
        error = err
    return frames, time.monotonic() - started, error


# ------------------------------------------------------------ 1, 2: network sources


def _mp4_with_audio(folder: Path) -> str:
    make_clip(folder / "clip.mp4", num_frames=CLIP_FRAMES, fps=Fraction(FPS))
    return "clip.mp4"


def _vp9_webm(folder: Path) -> str:
    encode(str(folder / "clip.webm"), moving_frames(64, 48, CLIP_FRAMES), codec="libvpx-vp9")
    return "clip.webm"


def _finished_hls(folder: Path) -> str:
    options = {"hls_time": "0.5", "hls_playlist_type": "vod", "hls_segment_filename": str(folder / "seg%d.ts")}
    encode(str(folder / "index.m3u8"), moving_frames(64, 48, CLIP_FRAMES), format="hls", options=options)
    assert "#EXT-X-ENDLIST" in (folder / "index.m3u8").read_text()
    return "index.m3u8"


def _mpegts_file(folder: Path) -> str:
    encode(str(folder / "clip.ts"), moving_frames(64, 48, CLIP_FRAMES), format="mpegts")
    return "clip.ts"


@pytest.mark.parametrize(
    "make", [_mp4_with_audio, _vp9_webm, _finished_hls, _mpegts_file], ids=["mp4", "vp9-webm", "hls", "mpegts"]
)
def test_a_clip_over_http_arrives_whole_and_in_real_time(tmp_path, make):
    # With fflags=nobuffer the packets read while probing were thrown away:
    # the mp4, the WebM and the .ts gave no frames (or failed), the playlist lost a segment.
    name = make(tmp_path)
    with serving(tmp_path) as base:
        source = open_source(f"{base}/{name}")
        frames, seconds, error = receive_all(source)
        spec = parse_source(f"{base}/{name}")
    assert error is None
    assert len(frames) == CLIP_FRAMES
    first_s = float(frames[0].pts * frames[0].time_base)
    last_s = float(frames[-1].pts * frames[-1].time_base)
    assert last_s - first_s == pytest.approx((CLIP_FRAMES - 1) / FPS, abs=0.002)  # nothing missing at the start
    assert seconds >= 0.9 * (CLIP_FRAMES - 1) / FPS  # played at its own pace, not at network speed
    assert spec.paced is None and source.paced  # decided when opened: a stored clip, not a live stream


def test_a_clip_whose_timestamps_do_not_advance_is_paced_by_its_frame_durations(tmp_path):
    # QA's HLS clip had every frame at pts 0: pacing by timestamps let it through at network speed.
    _mpegts_file(tmp_path)
    with av.open(str(tmp_path / "clip.ts")) as source, av.open(str(tmp_path / "zero.ts"), "w", format="mpegts") as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.pts = packet.dts = 0
                packet.stream = stream
                out.mux(packet)
    with serving(tmp_path) as base:
        source = open_source(f"{base}/zero.ts")
        frames, seconds, error = receive_all(source)
    assert error is None and len(frames) == CLIP_FRAMES and {frame.pts for frame in frames} == {0}
    assert seconds >= 0.9 * (CLIP_FRAMES - 1) / FPS and source.paced


def test_a_live_http_stream_is_not_paced(tmp_path):
    name = _mpegts_file(tmp_path)
    with serving(tmp_path, live=True) as base:  # chunked, no length: a live stream paces itself
        source = open_source(f"{base}/{name}")
        frames, seconds, error = receive_all(source)
    assert error is None and len(frames) == CLIP_FRAMES
    assert seconds < 0.9 * (CLIP_FRAMES - 1) / FPS
    assert not source.paced


def test_a_udp_stream_keeps_its_first_keyframe(tmp_path):
    # With fflags=nobuffer the first GOP (12 of 25 frames here) was lost with the probed packets.
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}"
    opened: dict = {}

    def receive():
        source = LiveSource(parse_source(url), open_timeout_s=10, read_timeout_s=1.5)
        opened["result"] = receive_all(source)
        opened["source"] = source

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    time.sleep(0.5)  # listening
    encode(f"{url}?pkt_size=1316", moving_frames(64, 48, CLIP_FRAMES), format="mpegts", pace_s=1 / 50)
    receiver.join(20)
    frames, _, error = opened["result"]
    assert [frame.index for frame in frames] == list(range(CLIP_FRAMES))
    first = frames[0]
    assert float((frames[-1].pts - first.pts) * first.time_base) == pytest.approx((CLIP_FRAMES - 1) / FPS, abs=0.002)
    # a UDP stream has no end: it ends when nothing arrives for the read timeout
    assert isinstance(error, CorruptInputError)
    assert f"no data arrived from {url} for 1.5 s (after {CLIP_FRAMES} frames)" in str(error)
    assert opened["source"].paced is False  # a real-time stream


def test_undecodable_packets_before_the_first_keyframe_are_skipped(tmp_path):
    # VP9 refuses the frames that refer to a keyframe it never saw ("Invalid
    # data found when processing input"): that used to end the source at once.
    full = tmp_path / "full.webm"
    encode(str(full), moving_frames(64, 48, 30), codec="libvpx-vp9", gop=10)
    cut_before_keyframe(full, tmp_path / "joined.webm", skip=3)  # 7 inter frames, then keyframes at 10, 20
    with serving(tmp_path) as base:
        frames, _, error = receive_all(open_source(f"{base}/joined.webm"))
    assert error is None
    assert len(frames) == 20  # from the first keyframe on
    assert round(float(frames[0].pts * frames[0].time_base) * FPS) == 10


# ------------------------------------------------------------------ 3: -t is a hard end


class SlowStepEngine:
    """An ``Engine`` whose iterations take ``step_s`` each (it honours
    ``max_iters`` and reports every iteration), after ``overhead_s`` per
    frame; the output is the negative of the input."""

    name = "slowstep"
    device = "cpu"
    wants_warm_start = True
    min_iters = 1
    step_s = 0.3
    overhead_s = 0.0

    def __init__(self, styles_u8=(), *, config=None, device=None):
        self.calls = 0

    def max_iters(self, *, cold: bool, size=None) -> int:
        return 50

    def required_bytes(self, size) -> int:
        return 3 * size[0] * size[1]

    def stylize(self, content_u8, warm=None, *, max_iters=None, on_iteration=None):
        self.calls += 1
        time.sleep(self.overhead_s)
        num_iters = max_iters or self.max_iters(cold=warm is None)
        for i in range(num_iters):
            time.sleep(self.step_s)
            if on_iteration is not None:
                on_iteration(IterationDone(iteration=i + 1, loss=0.0))
        return FrameResult(
            image_u8=np.ascontiguousarray(255 - content_u8), num_iters=num_iters, converged=False, losses={}, seconds=0
        )


def _check_recording(dst: Path, duration_s: float) -> list[float]:
    times = [frame.time_s for frame in read_frames(dst)]
    assert times[0] == 0.0 and all(t < duration_s for t in times), times  # nothing at or after T
    assert probe(dst).duration_s == pytest.approx(duration_s, abs=0.0015)  # exactly T, the last frame held
    return times


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_the_duration_bounds_the_run_and_the_recording(tmp_path, ext):
    # 0.4 fps budgets 2.5 s a frame; the first frame (4 calibration iterations)
    # ends at 1.2 s, the second would end at 2.4 s: after T = 2.
    dst = tmp_path / f"live.{ext}"
    duration_s = 2.0
    started = time.monotonic()
    summary = run_live(
        open_source("lavfi:testsrc2=size=64x48:rate=15").frames(),
        SlowStepEngine(),
        config=TINY,
        options=LiveOptions(target_fps=0.4, duration_s=duration_s),
        sinks=[RecordingSink(dst, width=64, height=48, fps=15)],
    )
    wall_s = time.monotonic() - started
    assert wall_s < duration_s + SlowStepEngine.step_s + 0.5  # stopped at the next iteration after T
    assert summary.frames_stylized == 1 and summary.frames_in == summary.frames_stylized + summary.frames_dropped
    times = _check_recording(dst, duration_s)
    assert len(times) == 2  # the first frame, and again until the end


class SlowCliEngine(SlowStepEngine):
    step_s = 0.25
    overhead_s = 0.3


def test_live_t_records_exactly_t_seconds_from_the_command_line(tmp_path, capsys):
    # QA: -t 3 --target-fps 0.4 recorded 5.07 s (frames at 0, 2.536, 5.005).
    engines.register_engine("slowstep", SlowCliEngine)
    dst = tmp_path / "over.mkv"
    argv = ["live", "lavfi:testsrc2=size=160x120:rate=15", "--style", str(STYLE_PATH), "--engine", "slowstep"]
    started = time.monotonic()
    try:
        code = main(
            [
                *argv,
                "--max-side",
                "64",
                "--threads",
                "1",
                "-o",
                str(dst),
                "-y",
                "-t",
                "3",
                "--target-fps",
                "0.4",
                "--json",
            ]
        )
    finally:
        engines.unregister_engine("slowstep")
    wall_s = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["seconds"] < 3 + 0.5 and wall_s < 3 + 10  # near T (10 s: start-up and closing)
    times = _check_recording(dst, 3.0)
    assert len(times) == summary["frames_stylized"] + 1


# ------------------------------------------------------------------ 4: smaller ones


def test_a_missing_file_source_says_no_such_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["live", "nonexist.mp4", "--style", str(STYLE_PATH), "-t", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("vidstyle: error: no such file: nonexist.mp4") and len(err.strip().splitlines()) == 1, err
    with pytest.raises(InputError, match=r"no such file: .*missing\.mkv"):
        parse_source(str(tmp_path / "missing.mkv"))


def test_a_udp_source_with_no_sender_says_no_data_arrived():
    url = f"udp://127.0.0.1:{free_udp_port()}"
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        LiveSource(parse_source(url), open_timeout_s=1)
    assert str(caught.value) == f"no data arrived from {url} in 1 s"  # not "Immediate exit requested"
    assert caught.value.exit_code == 2 and time.monotonic() - started < 5


class SignalledEngine(InvertingEngine):
    """The inverting fake, built while a Ctrl-C arrives (after the signal handlers are in place)."""

    def __init__(self, styles_u8, *, config, device=None):
        super().__init__(styles_u8, config=config, device=device)
        os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_before_anything_was_recorded_exits_130(tmp_path, capsys, fake_engine):
    engines.register_engine("signalled", SignalledEngine)
    dst = tmp_path / "early.mp4"
    try:
        argv = ["live", "lavfi:testsrc2=size=64x48:rate=15", "--style", str(STYLE_PATH), "--engine", "signalled"]
        code = main([*argv, "-o", str(dst)])
    finally:
        engines.unregister_engine("signalled")
        signal.signal(signal.SIGINT, signal.default_int_handler)
    err = capsys.readouterr().err
    assert f"nothing recorded: stopped before the first stylized frame ({dst} not created)" in err
    assert code == 130 and not dst.exists() and fake_engine.calls == 0


@pytest.mark.usefixtures("fake_engine")
def test_a_run_with_no_output_says_nothing_is_kept(tmp_path, capsys):
    argv = ["live", "lavfi:testsrc2=size=64x48:rate=15", "--style", str(STYLE_PATH), "--engine", "invert", "-t", "1"]
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "nothing is kept" in line]
    assert len(notes) == 1 and all(option in notes[0] for option in ("-o", "--preview", "--stream-out", "--v4l2-out"))
    assert json.loads(captured.out)["frames_stylized"] >= 1  # it still runs: the summary is what is kept
    assert main([*argv, "-o", str(tmp_path / "kept.mp4")]) == 0
    assert "nothing is kept" not in capsys.readouterr().err
