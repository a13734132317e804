"""Four more gaps a QA pass left, each on real files or sources built here:
Ray's driver lines on a Python caller's standard output, eval silent about a
stylized file of another frame size, live's camera-mode options silently
ignored by other sources, and a --codec the muxer's list accepts but its
header refuses (VP9 in .mov), which failed at the first frame."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import cv2
import pytest
from conftest import ROOT, STYLE_PATH, make_clip, moving_frames, one_error_line, run_cli
from fakes import fake_engine  # noqa: F401 - fixture

FAST = ["--style", STYLE_PATH, "--iters", "1,1", "--max-side", "32", "--detail-iters", "0", "--threads", "1", "-q"]

# ------------------------------------------------------------------ ray=: Ray's lines off a caller's stdout

# A program calling the API with a local Ray runtime of its own (the fake engines
# registered in its workers), one of whose workers dies mid-segment: Ray's driver
# then prints "Task SegmentActor.run failed. There are 3 retries remaining..." and
# "A worker died..." from a thread of its own.
RAY_CALLER = """
import sys
import ray
from local_ray import KILL_DIR_ENV, register_test_engines
import vidstyle

start = ray.init
def init(**options):  # the runtime vidstyle starts, with the fake engines in its workers
    env = {"PYTHONPATH": sys.argv[1], KILL_DIR_ENV: sys.argv[2], "OMP_NUM_THREADS": "1"}
    runtime_env = {"env_vars": env, "worker_process_setup_hook": register_test_engines}
    return start(num_cpus=2, runtime_env=runtime_env, **options)
ray.init = init
register_test_engines()
summary = vidstyle.stylize_video(
    sys.argv[3], sys.argv[4], style=sys.argv[5], engine="invert-kill", ray="auto",
    max_side=64, segment_frames=8, seam_frames=2, num_threads=1,
)
print("the program's own line:", summary.frames_written)
"""


def test_a_python_caller_with_ray_gets_only_its_own_lines_on_stdout(tmp_path):
    pytest.importorskip("ray")
    src = make_clip(tmp_path / "in.mp4", num_frames=16, audio=False)
    kill_dir = tmp_path / "kill"
    kill_dir.mkdir()
    (kill_dir / "armed").write_text("")  # the first frame after this kills its worker, once
    path = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # a local runtime of its own
    env.update(PYTHONPATH=path, OMP_NUM_THREADS="1")
    argv = [sys.executable, "-c", textwrap.dedent(RAY_CALLER), path, kill_dir, src, tmp_path / "out.mp4", STYLE_PATH]
    proc = subprocess.run(
        [str(a) for a in argv], env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert (kill_dir / "killed").exists()  # a worker really died, so Ray's driver had something to say
    assert proc.stdout == "the program's own line: 16\n", proc.stdout
    assert "retries remaining" in proc.stderr, proc.stderr  # ...and said it on stderr


# ------------------------------------------------------------------ eval: another frame size


def test_eval_notes_a_stylized_file_of_another_size_and_the_size_it_measures_at(tmp_path, capsys):
    frames = moving_frames(96, 64, 5)
    source = make_clip(tmp_path / "in.mp4", frames=frames, audio=False)
    small = make_clip(tmp_path / "small.mp4", frames=[cv2.resize(f, (48, 32)) for f in frames], audio=False)
    code, out, err = run_cli(capsys, "eval", source, small)
    assert code == 0 and "flicker ratio" in out, err
    notes = [line for line in err.splitlines() if "measured at" in line]
    assert notes == [
        f"note: {source} is 96x64 and {small} 48x32: both are measured at 48x32 (the stylized size); the flicker "
        "ratio changes with the size it is measured at, so compare only ratios measured at one size"
    ], err
    code, _, err = run_cli(capsys, "eval", source, small, "--max-side", "32", "--json")
    assert code == 0 and "both are measured at 32x20 (--max-side 32)" in err, err


def test_eval_has_no_size_note_for_the_same_size(tmp_path, capsys):
    frames = moving_frames(96, 64, 5)
    source = make_clip(tmp_path / "in.mp4", frames=frames, audio=False)
    same = make_clip(tmp_path / "same.mp4", frames=frames, audio=False)
    code, _, err = run_cli(capsys, "eval", source, same, "--max-side", "32")
    assert code == 0 and "measured at" not in err, err


# ------------------------------------------------------------------ live: camera modes on other sources


@pytest.mark.usefixtures("fake_engine")
def test_live_notes_camera_mode_options_that_a_lavfi_source_ignores(capsys):
    source = "lavfi:testsrc2=size=64x48:rate=10"
    argv = ["live", source, "--style", STYLE_PATH, "--engine", "invert", "-t", "0.5", "--json"]
    code, out, err = run_cli(capsys, *argv, "--input-size", "320x240", "--input-fps", "30")
    assert code == 0, err
    notes = [line for line in err.splitlines() if "capture devices" in line]
    assert notes == [
        f"note: --input-size, --input-fps apply to capture devices (/dev/videoN) only; ignored for {source}"
    ]
    assert json.loads(out)["frames_stylized"] >= 1  # the run went on
    code, _, err = run_cli(capsys, *argv)
    assert code == 0 and "capture devices" not in err, err


# ------------------------------------------------------------------ --codec the muxer refuses at its header


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", width=32, height=32, num_frames=2, audio=False)


def test_vp9_in_mov_is_bad_input_named_before_any_frame(clip, tmp_path, capsys, fake_engine):
    # The mov muxer lists VP9 among its codecs and refuses it only when it writes the header.
    code, out, err = run_cli(capsys, clip, "-o", tmp_path / "x.mov", "--codec", "libvpx-vp9", *FAST)
    line = one_error_line(err)
    assert code == 2 and out == "", err
    assert "--codec libvpx-vp9: a .mov file cannot hold libvpx-vp9 video (FFmpeg's mov muxer refuses it" in line
    takes = line.split("; .mov takes ")[1]
    assert takes.startswith("prores_ks, ") and "libvpx-vp9" not in takes, line  # not the codec it just refused
    assert fake_engine.calls == 0  # nothing was stylized
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no output, no temporary file


def test_a_codec_whose_header_the_muxer_writes_still_works(clip, tmp_path, capsys, fake_engine):
    import av

    code, _, err = run_cli(capsys, clip, "-o", tmp_path / "x.mov", "--codec", "libx264", *FAST)
    assert code == 0, err
    with av.open(str(tmp_path / "x.mov")) as written:
        assert written.streams.video[0].codec_context.name == "h264" and written.streams.video[0].frames == 2
