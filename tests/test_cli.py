"""The command line as a user meets it: outputs, summaries, and one clear line per bad input."""

import json
import os
import subprocess
import sys

import av
import pytest
from conftest import ROOT, STYLE_PATH, make_clip, run_cli

from vidstyle.media import probe, read_frames
from vidstyle.pipeline.workdir import work_dir_for

FAST = ["--max-side", "64", "--iters", "4,2", "-q"]


def test_stylizes_a_clip_keeping_frames_timestamps_and_audio(tmp_path, capsys):
    src = make_clip(tmp_path / "in.mp4", width=96, height=64, num_frames=8)
    before = src.read_bytes()
    code, out, err = run_cli(capsys, src, "--style", STYLE_PATH, "--json", *FAST)
    assert code == 0, err
    dst = tmp_path / "in.stylized.mp4"
    summary = json.loads(out)
    assert summary["frames"] == 8 and summary["output"] == str(dst)
    assert summary["processing_size"] == [64, 42]
    assert summary["engine"] == "optimize" and summary["precision"] == "fp32" and summary["compile"] is None
    info = probe(dst)
    assert (info.width, info.height) == (96, 64) and info.has_audio  # the source's size, finished at it
    source_times = [f.pts * f.time_base for f in read_frames(src)]
    assert [f.pts * f.time_base for f in read_frames(dst)] == source_times
    assert src.read_bytes() == before
    assert not os.path.exists(work_dir_for(dst)) and sorted(p.name for p in tmp_path.iterdir()) == [
        "in.mp4",
        "in.stylized.mp4",
    ]  # the work directory is gone after success


def test_per_frame_json_summary_is_strict_json(tmp_path, capsys):
    """--no-temporal cold-starts every frame: no steady state to report, and
    the summary must still parse as standard JSON (null, not NaN)."""
    src = make_clip(tmp_path / "in.mp4", width=64, height=48, num_frames=2, audio=False)
    code, out, err = run_cli(capsys, src, "--style", STYLE_PATH, "--json", "--no-temporal", *FAST)
    assert code == 0, err
    summary = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert summary["frames"] == 2 and summary["steady_seconds_per_frame"] is None
    assert summary["device"] == "cpu" and summary["device_peak_mb"] is None  # CUDA runs report their peak


def test_existing_output_needs_y(tmp_path, capsys):
    src = make_clip(tmp_path / "in.mp4", num_frames=3)
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"old")
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, *FAST)
    assert code == 2 and "pass -y" in err and dst.read_bytes() == b"old"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, "-y", *FAST)
    assert code == 0 and len(list(read_frames(dst))) == 3


def bad_inputs(tmp_path):
    good = make_clip(tmp_path / "good.mp4", num_frames=3)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("hello\n" * 100)
    (tmp_path / "style.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    with av.open(str(tmp_path / "audio.m4a"), "w") as c:
        from conftest import _write_sine

        _write_sine(c, c.add_stream("aac", rate=44100, layout="stereo"), 0.3)
    return {
        "missing file": ([tmp_path / "nope.mp4", "--style", STYLE_PATH], 2, "not found"),
        "empty file": ([tmp_path / "empty.mp4", "--style", STYLE_PATH], 2, "empty"),
        "not a video": ([tmp_path / "text.mp4", "--style", STYLE_PATH], 2, "not a video"),
        "no video stream": ([tmp_path / "audio.m4a", "--style", STYLE_PATH], 2, "no video stream"),
        "unreadable style": ([good, "--style", tmp_path / "style.jpg"], 2, "cannot decode image"),
        "missing style": ([good, "--style", tmp_path / "nostyle.jpg"], 2, "image not found"),
        "unknown extension": ([good, "--style", STYLE_PATH, "-o", tmp_path / "out.xyz"], 2, "unknown output extension"),
        "output is input": ([good, "--style", STYLE_PATH, "-o", good, "-y"], 2, "refusing to overwrite the input"),
        "bad option value": ([good, "--style", STYLE_PATH, "--iters", "ten"], 2, "FIRST,LATER"),
        "no style": ([good], 2, "--style"),
    }


def test_each_bad_input_gets_one_line_and_a_nonzero_exit(tmp_path, capsys):
    for name, (args, expected_code, message) in bad_inputs(tmp_path).items():
        code, _, err = run_cli(capsys, *args, *FAST)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == expected_code, (name, err)
        assert len(lines) == 1 and message in lines[0] and lines[0].startswith("vidstyle: error:"), (name, err)
    assert (tmp_path / "good.mp4").stat().st_size > 0


def test_corrupt_mid_stream_stops_cleanly_and_says_where(tmp_path, capsys):
    src = make_clip(tmp_path / "full.mkv", width=96, height=64, num_frames=40)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    code, _, err = run_cli(capsys, cut, "--style", STYLE_PATH, "-o", tmp_path / "out.mp4", *FAST)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "corrupt at frame" in lines[0], err
    assert not (tmp_path / "out.mp4").exists()  # never presented as done
    partial = tmp_path / "out.partial.mp4"
    assert str(partial) in lines[0]
    assert 0 < len(list(read_frames(partial))) < 40


def test_no_traceback_from_the_real_console_script(tmp_path):
    (tmp_path / "text.mp4").write_text("not video")
    proc = subprocess.run(
        [sys.executable, "-m", "vidstyle", str(tmp_path / "text.mp4"), "--style", str(STYLE_PATH)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_eval_command_reports_a_ratio_of_one_for_a_clip_against_itself(tmp_path, capsys):
    src = make_clip(tmp_path / "in.mp4", num_frames=5)
    code, out, _ = run_cli(capsys, "eval", src, src, "--json", "--plot", tmp_path / "plot.png")
    report = json.loads(out)
    assert code == 0 and report["pairs"] == 4 and report["flicker_ratio"] == pytest.approx(1.0)
    assert (tmp_path / "plot.png").stat().st_size > 1000
    short = make_clip(tmp_path / "short.mp4", num_frames=3)
    code, _, err = run_cli(capsys, "eval", src, short)
    assert code == 2 and "frame counts differ" in err


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path):
    """`vidstyle eval A B | head -1`: no 'internal error' line when the pipe closes; exit code 141 (SIGPIPE)."""
    src = make_clip(tmp_path / "in.mp4", num_frames=3, audio=False)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "vidstyle", "eval", str(src), str(src)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""
