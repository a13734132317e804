"""Numbered image sequences as input (``frames/%04d.png`` or a folder of them):
real PNG files written here, stylized through the CLI at tiny sizes and read
back: frame count, timestamps i / rate in every container, size, the folder
form, a first number far from FFmpeg's 0..4, gaps and bad patterns refused in
one line, the default-rate note, the input never overwritten, resume that
notices a changed frame, eval and train on sequences, --ray refused."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, moving_frames

from vidstyle.cli.main import main
from vidstyle.errors import InputError
from vidstyle.media import find_input_sequence, is_still_image, probe, read_frames
from vidstyle.pipeline.workdir import input_identity

WIDTH, HEIGHT = 64, 48
FAST = ["--style", str(STYLE_PATH), "--iters", "1,1", "--max-side", "48", "--detail-iters", "0", "--threads", "1"]


def write_sequence(folder, *, count: int = 6, first: int = 1001, name: str = "{:04d}.png", skip=()) -> list:
    """``count`` frames of a moving texture as PNG files numbered from ``first``
    (``skip``: numbers left out); returns the RGB frames written."""
    os.makedirs(folder, exist_ok=True)
    frames = moving_frames(WIDTH, HEIGHT, count, velocity=(1.5, 0.5))
    for offset, image in enumerate(frames):
        if first + offset not in skip:
            cv2.imwrite(os.path.join(folder, name.format(first + offset)), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return frames


def decoded_times(path) -> tuple[list[Fraction], tuple[int, int], int]:
    """Presentation times of every decoded frame, the frame size and the number of audio streams."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return [f.pts * f.time_base for f in frames], (frames[0].width, frames[0].height), len(container.streams.audio)


def run(capsys, *argv, quiet: bool = True) -> tuple[int, list[str]]:
    """``vidstyle ARGV [-q]``: exit code and the non-empty stderr lines (-q: errors only, no notes)."""
    code = main([*map(str, argv), *(["-q"] if quiet else [])])
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "ext, rate",
    [("mp4", "24"), ("mp4", "30000/1001"), ("mov", "30000/1001"), ("mkv", "24"), ("webm", "25"), ("gif", "12.5")],
)
def test_a_sequence_from_1001_is_stylized_with_frame_i_at_i_over_rate(tmp_path, capsys, ext, rate):
    write_sequence(tmp_path / "frames", count=6, first=1001)
    out = tmp_path / f"out.{ext}"
    code, lines = run(capsys, tmp_path / "frames" / "%04d.png", *FAST, "--input-fps", rate, "-o", out, quiet=False)
    assert code == 0, lines
    assert any(line.startswith("note: processing at") for line in lines), lines  # notes are shown...
    assert not any("no timing" in line for line in lines), lines  # ...but the rate was given: no rate note
    times, size, audio_streams = decoded_times(out)
    # the container's clock (Matroska: 1 ms, GIF: 10 ms) is the only rounding
    tick = {"mkv": Fraction(1, 1000), "webm": Fraction(1, 1000), "gif": Fraction(1, 100)}.get(ext, Fraction(0))
    expected = [i / Fraction(rate) for i in range(6)]
    assert len(times) == 6
    assert all(abs(got - want) <= tick / 2 for got, want in zip(times, expected)), (times, expected)
    assert size == (WIDTH, HEIGHT) and audio_streams == 0


def test_a_folder_is_read_as_the_one_sequence_it_holds_at_25_fps_with_notes(tmp_path, capsys):
    write_sequence(tmp_path / "shot", count=5, first=1)
    (tmp_path / "shot" / "notes.txt").write_text("not an image: ignored")
    code = main([str(tmp_path / "shot"), *FAST])
    err = capsys.readouterr().err
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    chosen = os.path.join(str(tmp_path / "shot"), "%04d.png")
    assert any(f"holds one image sequence: reading {chosen} (0001.png..0005.png, 5 files)" in n for n in notes), err
    assert any("no timing" in n and "25 frames per second" in n and "--input-fps" in n for n in notes), err
    out = tmp_path / "shot.stylized.mp4"  # beside the folder, not inside it
    times, size, audio_streams = decoded_times(out)
    assert times == [Fraction(i, 25) for i in range(5)] and size == (WIDTH, HEIGHT) and audio_streams == 0


def test_probe_and_read_frames_see_every_file_in_number_order(tmp_path):
    frames = write_sequence(tmp_path / "f", count=7, first=98, name="shot_{:d}.png")  # 98, 99, 100...: %d
    info = probe(tmp_path / "f" / "shot_%d.png", rate=Fraction(24))
    assert (info.width, info.height, info.num_frames, info.fps) == (WIDTH, HEIGHT, 7, 24)
    assert info.duration_s == pytest.approx(7 / 24) and not info.has_audio
    read = list(read_frames(tmp_path / "f", rate=Fraction(24)))  # the folder form
    assert [f.pts * f.time_base for f in read] == [Fraction(i, 24) for i in range(7)]
    for got, want in zip(read, frames):  # PNG is lossless: the very pixels, in number order
        assert np.array_equal(got.image_u8, want)


def test_range_and_output_rate_work_on_a_sequence(tmp_path, capsys):
    write_sequence(tmp_path / "f", count=10, first=1)
    pattern = tmp_path / "f" / "%04d.png"
    code, lines = run(capsys, pattern, *FAST, "--input-fps", "20", "-ss", "0.1", "-t", "0.2", "-o", tmp_path / "r.mp4")
    assert code == 0, lines
    times, _, _ = decoded_times(tmp_path / "r.mp4")
    assert len(times) == 4  # frames 2..5 at 20 fps: [0.1, 0.3)
    code, lines = run(capsys, pattern, *FAST, "--input-fps", "20", "--fps", "10", "-o", tmp_path / "half.mkv")
    assert code == 0, lines
    times, _, _ = decoded_times(tmp_path / "half.mkv")
    assert times == [Fraction(i, 10) for i in range(5)]
    code, lines = run(capsys, pattern, *FAST, "-t", "0.2", "-o", tmp_path / "seq" / "%04d.png", quiet=False)
    assert code == 0, lines
    assert any("no timing" in line and "25 frames per second" in line for line in lines), lines  # -t counts in it
    assert sorted(os.listdir(tmp_path / "seq")) == [f"{i:04d}.png" for i in range(1, 6)]  # 0.2 s at 25 fps


def test_a_gap_is_one_error_naming_the_first_missing_file(tmp_path, capsys):
    write_sequence(tmp_path / "f", count=8, first=1, skip={4, 5})
    code, lines = run(capsys, tmp_path / "f" / "%04d.png", *FAST, "-o", tmp_path / "out.mp4")
    assert code == 2 and len(lines) == 1, lines
    missing = os.path.join(str(tmp_path / "f"), "0004.png")
    assert lines[0].startswith("vidstyle: error:") and f"{missing} is missing" in lines[0], lines
    assert "0001.png..0003.png, then 0006.png..0008.png" in lines[0] and "renumber" in lines[0], lines
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(
    "layout, given, message",
    [
        ({"a_{:04d}.png": 3, "b_{:04d}.png": 2}, "{dir}", "holds 2 numbered image sequences"),
        ({}, "{dir}", "is a directory without a numbered image sequence"),
        ({"{:05d}.png": 3}, "{dir}/%04d.png", "no image matches"),
        ({"{:04d}.png": 3}, "{dir}/%04d_%02d.png", "exactly one number field"),
        ({"{:04d}.png": 3}, "{dir}/%04d.mp4", "unknown image sequence extension '.mp4'"),
        ({}, "{dir}/missing/%04d.png", "input not found"),
    ],
)
def test_bad_sequences_get_one_line_and_exit_2(tmp_path, capsys, layout, given, message):
    folder = tmp_path / "f"
    folder.mkdir()
    for name, count in layout.items():
        write_sequence(folder, count=count, first=1, name=name)
    code, lines = run(capsys, given.format(dir=folder), *FAST, "-o", tmp_path / "out.mp4")
    assert code == 2 and len(lines) == 1 and lines[0].startswith("vidstyle: error:"), lines
    assert message in lines[0], lines
    if "no image matches" in message:  # says which pattern the folder does hold
        assert f"try {folder}/%05d.png" in lines[0], lines
    if "2 numbered" in message:
        assert f"{folder}/a_%04d.png: 3 files" in lines[0] and f"{folder}/b_%04d.png: 2 files" in lines[0], lines


def test_input_fps_is_refused_for_a_video_and_for_nonsense(tmp_path, capsys):
    clip = make_clip(tmp_path / "clip.mp4", num_frames=3, audio=False)
    code, lines = run(capsys, clip, *FAST, "--input-fps", "24", "-o", tmp_path / "out.mp4")
    assert code == 2 and len(lines) == 1 and "is a video with timing of its own" in lines[0], lines
    write_sequence(tmp_path / "f", count=3)
    for bad in ("nan", "inf", "0", "-5", "1e9"):
        code, lines = run(capsys, tmp_path / "f" / "%04d.png", *FAST, "--input-fps", bad, "-o", tmp_path / "o.mp4")
        assert code == 2 and len(lines) == 1 and "--input-fps" in lines[0], (bad, lines)
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "o.mp4").exists()


def test_an_output_sequence_over_the_input_files_is_refused_even_with_y(tmp_path, capsys):
    write_sequence(tmp_path / "f", count=3, first=1)
    before = {p.name: p.read_bytes() for p in (tmp_path / "f").iterdir()}
    for output in ("%04d.png", "%d.png"):  # the same files, and a pattern that also names them
        code, lines = run(capsys, tmp_path / "f" / "%04d.png", *FAST, "-y", "-o", tmp_path / "f" / output)
        assert code == 2 and len(lines) == 1 and "refusing to overwrite the input" in lines[0], lines
    assert {p.name: p.read_bytes() for p in (tmp_path / "f").iterdir()} == before
    code, lines = run(capsys, tmp_path / "f" / "%04d.png", *FAST, "-o", tmp_path / "f" / "out_%04d.png", quiet=False)
    assert code == 0, lines  # beside the input under another name is fine
    assert not any("no timing" in line for line in lines), lines  # frames to frames: the rate changes nothing
    written = [f"out_{i:04d}.png" for i in (1, 2, 3)]
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == sorted([*before, *written])


def test_resume_notices_one_changed_frame_file(tmp_path, capsys):
    frames = write_sequence(tmp_path / "f", count=4, first=1)
    pattern = tmp_path / "f" / "%04d.png"
    identity = input_identity(pattern)
    assert input_identity(tmp_path / "f") == identity  # the folder form is the same input
    argv = [str(pattern), *FAST, "--keep-work", "-y", "-o", str(tmp_path / "out.mp4"), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["resumed_frames"] == 0
    assert main(argv) == 0  # unchanged: every frame comes from the work directory
    assert json.loads(capsys.readouterr().out)["resumed_frames"] == 4
    changed = np.ascontiguousarray(frames[2][::-1])
    cv2.imwrite(str(tmp_path / "f" / "0003.png"), cv2.cvtColor(changed, cv2.COLOR_RGB2BGR))  # one re-rendered frame
    assert input_identity(pattern) != identity
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["resumed_frames"] == 0
    assert "starting over: settings or inputs changed since the interrupted run (input.files_sha256)" in err, err


def test_a_single_png_is_still_a_still_image_and_a_pattern_is_not(tmp_path):
    write_sequence(tmp_path / "f", count=2, first=1)
    assert is_still_image(tmp_path / "f" / "0001.png")
    assert not is_still_image(tmp_path / "f" / "%04d.png") and not is_still_image(tmp_path / "f")
    assert find_input_sequence(tmp_path / "f" / "0001.png") is None
    with pytest.raises(InputError, match="is a still image"):
        probe(tmp_path / "f" / "0001.png")


def test_eval_accepts_sequences_on_both_sides(tmp_path, capsys):
    write_sequence(tmp_path / "f", count=5, first=1)
    code, lines = run(capsys, tmp_path / "f" / "%04d.png", *FAST, "-o", tmp_path / "out" / "%05d.png")
    assert code == 0, lines
    code = main(["eval", str(tmp_path / "f"), str(tmp_path / "out" / "%05d.png"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["pairs"] == 4
    assert "holds one image sequence" in err  # the folder's pattern is named
    code = main(["eval", str(tmp_path / "f" / "%04d.png"), str(tmp_path / "out"), "--input-fps", "50", "-t", "0.04"])
    assert code == 2 and "do not match" in capsys.readouterr().err  # 2 input frames at 50 fps against 5


def test_train_on_a_sequence(tmp_path, capsys):
    write_sequence(tmp_path / "f", count=4, first=1)
    look = tmp_path / "look.pt"
    argv = ["train", "--style", str(STYLE_PATH), "--on", str(tmp_path / "f" / "%04d.png"), "-o", str(look)]
    tiny = ["--steps", "1", "--max-side", "48", "--crop", "32", "--threads", "1", "--device", "cpu", "-q"]
    assert main([*argv, *tiny]) == 0, capsys.readouterr().err
    assert look.exists()
    bad = ["train", "--style", str(STYLE_PATH), "--on", str(tmp_path / "f" / "%05d.png"), "-o", str(tmp_path / "b.pt")]
    assert main(bad) == 2 and "no image matches" in capsys.readouterr().err


def test_ray_refuses_a_sequence_in_one_line(tmp_path, capsys):
    write_sequence(tmp_path / "f", count=2, first=1)
    code, lines = run(capsys, tmp_path / "f" / "%04d.png", *FAST, "--ray", "auto", "-o", tmp_path / "out.mp4")
    assert code == 2 and len(lines) == 1 and "--ray reads a video file, not an image sequence" in lines[0], lines
