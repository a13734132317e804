"""Gaps a QA pass left, each on real files built here: a second run onto the
same output is refused while the first one works (and a run killed with
SIGKILL leaves no stale lock), an image sequence with a frame of another
size says so in one note, style images given as arrays, a 1x1 source
blamed as the source, and resume that notices another video stream."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import ROOT, STYLE_PATH, make_clip, moving_frames, one_error_line
from fakes import fake_engine  # noqa: F401 - fixture

import vidstyle
from vidstyle.cli.main import main
from vidstyle.errors import InputError
from vidstyle.media import find_input_sequence, load_image, read_frames
from vidstyle.media.reading import choose_video_stream
from vidstyle.pipeline.events import FrameDone, Notice, WorkResumed
from vidstyle.pipeline.video import InterruptedRun, stylize_video
from vidstyle.pipeline.workdir import work_dir_for

TINY = {"max_side": 32, "iters_first": 1, "iters_later": 1, "detail_iters": 0}
TINY_CLI = ["--max-side", "32", "--iters", "1,1", "--detail-iters", "0", "--threads", "1"]


def complete_frames(work: Path) -> int:
    try:
        return len([line for line in (work / "frames.idx").read_text().split("\n") if line.strip()])
    except OSError:
        return 0


def vidstyle_process(*args) -> list[str]:
    return [sys.executable, "-m", "vidstyle", *map(str, args)]


# ------------------------------------------------------------------ 1. one run at a time per output


def test_a_second_run_onto_the_same_output_is_refused_and_leaves_the_first_runs_files_alone(tmp_path, fake_engine):
    src = make_clip(tmp_path / "clip.mp4", num_frames=8, audio=False)
    dst = tmp_path / "out.mp4"
    work = Path(work_dir_for(dst))
    second: dict = {}

    def files() -> dict | None:
        return {p.name: p.read_bytes() for p in sorted(work.iterdir())} if work.is_dir() else None

    def on_event(event):
        if isinstance(event, FrameDone) and event.index == 2 and not second:
            deadline = time.monotonic() + 10
            while complete_frames(work) < 3 and time.monotonic() < deadline:  # the saving thread settles
                time.sleep(0.01)
            before = files()
            second["run"] = subprocess.run(
                vidstyle_process(src, "--style", STYLE_PATH, "-o", dst, "-y", *TINY_CLI),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            second["untouched"] = files() == before

    summary = stylize_video(src, dst, style=STYLE_PATH, on_event=on_event, **TINY)
    refused = second["run"]
    assert refused.returncode == 2, refused.stderr
    line = one_error_line(refused.stderr)
    assert f"another vidstyle run is writing {dst}" in line, line
    assert second["untouched"]  # not a byte of the first run's work folder changed
    assert summary.frames == 8 and summary.resumed_frames == 0 and summary.computed_frames == 8
    out = [f.image_u8 for f in read_frames(dst)]
    source = [f.image_u8 for f in read_frames(src)]
    assert len(out) == 8 and np.abs(out[-1].astype(int) - (255 - source[-1])).mean() < 16
    assert not work.exists()  # removed after success, lock file included


def test_a_run_killed_with_sigkill_leaves_no_stale_lock_and_the_same_command_resumes(tmp_path, capsys):
    src = make_clip(tmp_path / "clip.mp4", num_frames=24, audio=False)
    dst = tmp_path / "out.mp4"
    work = Path(work_dir_for(dst))
    args = [src, "--style", STYLE_PATH, "-o", dst, *TINY_CLI, "--json", "-q"]
    killed = subprocess.Popen(vidstyle_process(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while complete_frames(work) < 2:
        assert killed.poll() is None, killed.communicate()
        assert time.monotonic() < deadline, "the run is too slow"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    finished = complete_frames(work)
    assert (work / "run.lock").exists()  # left behind by kill -9, yet not locked: the lock died with its process
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["frames"] == 24 and summary["resumed_frames"] >= min(finished, 2)


# ------------------------------------------------------------------ 2. a sequence frame of another size


def test_a_sequence_frame_of_another_size_is_named_in_one_note(tmp_path, fake_engine):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(moving_frames(64, 48, 5)):
        if i in (2, 4):
            image = cv2.resize(image, (80, 40))
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    notes: list[str] = []

    def on_event(event):
        if isinstance(event, Notice):
            notes.append(event.message)

    summary = stylize_video(folder / "%03d.png", tmp_path / "out.mkv", style=STYLE_PATH, on_event=on_event, **TINY)
    assert summary.frames == 5
    about = [note for note in notes if "002.png" in note]
    assert len(about) == 1, notes
    assert "80x40" in about[0] and "64x48" in about[0] and "2 frames" in about[0] and "another size" in about[0], about
    assert "004.png" not in about[0]  # the first one is named, the others counted
    assert [f.image_u8.shape for f in read_frames(tmp_path / "out.mkv")] == [(48, 64, 3)] * 5


def test_a_jpeg_turned_by_its_exif_orientation_is_compared_as_it_is_shown(tmp_path):
    """FFmpeg turns a JPEG upright by its EXIF orientation: 64x48 stored with
    orientation 6 is read as 48x64, so a plain 64x48 JPEG after it differs."""
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    turned = Image.Exif()
    turned[0x0112] = 6  # shown turned a quarter clockwise
    image = Image.fromarray(moving_frames(64, 48, 1)[0])
    image.save(folder / "000.jpg", exif=turned)
    image.save(folder / "001.jpg", exif=turned)
    image.save(folder / "002.jpg")
    shown = [f.image_u8.shape[:2] for f in read_frames(folder / "%03d.jpg")]
    assert shown == [(64, 48), (64, 48), (48, 64)]  # what the decoder gives, before any resizing
    note = find_input_sequence(folder / "%03d.jpg").size_note()
    assert note is not None and "002.jpg is 64x48, not 48x64" in note and "1 frame of another size" in note, note


def test_a_sequence_of_one_size_gets_no_size_note(tmp_path, fake_engine):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(moving_frames(64, 48, 3)):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    notes: list[str] = []
    stylize_video(
        folder / "%03d.png",
        tmp_path / "out.mkv",
        style=STYLE_PATH,
        on_event=lambda e: notes.append(e.message) if isinstance(e, Notice) else None,
        **TINY,
    )
    assert not [note for note in notes if "another size" in note], notes


# ------------------------------------------------------------------ 3. style images as arrays


def test_a_style_array_paints_as_its_file_does():
    content = moving_frames(48, 32, 1)[0]
    options = {"max_side": 32, "iters_first": 2, "detail_iters": 0, "seed": 1, "num_threads": 1}
    from_file = vidstyle.stylize_image(content, style=STYLE_PATH, **options)
    from_array = vidstyle.stylize_image(content, style=load_image(STYLE_PATH), **options)
    assert np.array_equal(from_file, from_array)


def test_style_arrays_and_pil_images_run_a_video_and_are_recorded_by_size(tmp_path, fake_engine):
    from PIL import Image

    src = make_clip(tmp_path / "clip.mp4", num_frames=3, audio=False)
    dst = tmp_path / "out.mp4"
    style = load_image(STYLE_PATH)
    styles = [style[:48, :64], Image.fromarray(style[:40, :50])]
    summary = vidstyle.stylize_video(src, dst, style=styles, style_weights=(0.5, 0.5), keep_work=True, **TINY)
    assert summary.frames == 3 and dst.exists()
    recorded = json.loads((Path(work_dir_for(dst)) / "frames.json").read_text())["fingerprint"]["styles"]
    assert [entry["name"] for entry in recorded] == ["<array 64x48>", "<array 50x40>"]
    assert all(len(entry["sha256"]) == 64 for entry in recorded)
    # one array on its own, too
    assert vidstyle.stylize_video(src, tmp_path / "one.mp4", style=style, **TINY).frames == 3


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((32, 32, 3), np.float32), r"must be uint8 \(height, width, 3\) RGB, got float32 \(32, 32, 3\)"),
        (np.full((32, 32, 3), np.nan, np.float32), r"got float32 \(32, 32, 3\) holding NaN"),
        (np.zeros((32, 32), np.uint8), r"got uint8 \(32, 32\)"),
        (np.zeros((32, 32, 4), np.uint8), r"got uint8 \(32, 32, 4\)"),
        (np.zeros((2, 32, 32, 3), np.uint8), r"got uint8 \(2, 32, 32, 3\)"),
        (np.zeros((0, 32, 3), np.uint8), r"is empty \(0, 32, 3\)"),
    ],
)
def test_a_bad_style_array_is_one_input_error_before_any_work(tmp_path, bad, message):
    with pytest.raises(InputError, match=r"style image array .*" + message):
        vidstyle.stylize_image(np.zeros((32, 32, 3), np.uint8), style=bad, max_side=32)
    with pytest.raises(InputError, match=r"style image array .*" + message):
        vidstyle.stylize_video(tmp_path / "missing.mp4", tmp_path / "o.mp4", style=[STYLE_PATH, bad])


# ------------------------------------------------------------------ 4. a source too small


def test_a_1x1_video_is_refused_as_a_source_too_small(tmp_path, capsys):
    src = make_clip(tmp_path / "dot.mkv", width=1, height=1, pix_fmt="yuv444p", num_frames=3, audio=False)
    code = main([str(src), "--style", str(STYLE_PATH), "-q"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "the source (1x1) is too small" in line and "at least 16x16" in line, line
    assert "processing size" not in line and "2x2" not in line, line


# ------------------------------------------------------------------ 5. resume and the video stream read


def two_stream_mov(path) -> Path:
    """A .mov with two 64x48 video streams of different textures (the first
    one the default) and a silent PCM track that puts the index (moov) past
    the first MiB, where ``file_identity`` does not hash."""
    textures = [moving_frames(64, 48, 6, seed=seed) for seed in (0, 1)]
    with av.open(str(path), "w") as container:
        videos = [container.add_stream("libx264", rate=25) for _ in textures]
        for stream in videos:
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=44100, layout="stereo")
        for i in range(6):
            for stream, frames in zip(videos, textures):
                frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
                frame.pts = i
                container.mux(stream.encode(frame))
        for stream in videos:
            container.mux(stream.encode(None))
        for start in range(0, 44100 * 7, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 2048), np.int16), format="s16", layout="stereo")
            frame.sample_rate, frame.pts = 44100, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    assert path.stat().st_size > 1 << 20 and path.read_bytes().find(b"moov") > 1 << 20
    return path


def edit_index_in_place(path, edit: str) -> None:
    """Change the file's index (moov, past the first MiB) in place: same
    size, same first MiB, same modification time. ``stream``: flip the
    tracks' enabled flags (FFmpeg's default disposition) so that the second
    video stream is read; ``rotation``: turn the first track 180 degrees
    (its display matrix)."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    headers = [at for at in range(len(data) - 4) if data[at : at + 4] == b"tkhd"][:2]  # version 0 headers
    if edit == "stream":
        data[headers[0] + 7] &= 0xFE
        data[headers[1] + 7] |= 0x01
    else:
        matrix = headers[0] + 44
        data[matrix : matrix + 4] = data[matrix + 16 : matrix + 20] = struct.pack(">i", -0x10000)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def chosen_stream(path) -> int:
    with av.open(str(path)) as container:
        return choose_video_stream(container).index


@pytest.mark.parametrize(("edit", "changed"), [("stream", "input.stream"), ("rotation", "input.rotation")])
def test_resume_starts_over_when_the_frames_would_decode_otherwise(tmp_path, fake_engine, edit, changed):
    """Before: the same file identity resumed 3 frames of stream 0 (or upright)
    and finished with stream 1 (or turned): a clip of two sources."""
    src = two_stream_mov(tmp_path / "two.mov")
    dst = tmp_path / "out.mkv"

    def stop_after_three(event):
        if isinstance(event, FrameDone) and event.index == 2:
            raise KeyboardInterrupt

    with pytest.raises(InterruptedRun):
        stylize_video(src, dst, style=STYLE_PATH, on_event=stop_after_three, **TINY)
    assert chosen_stream(src) == 0
    edit_index_in_place(src, edit)
    assert chosen_stream(src) == (1 if edit == "stream" else 0)
    events: list = []
    summary = stylize_video(src, dst, style=STYLE_PATH, on_event=events.append, **TINY)
    (resumed,) = [e for e in events if isinstance(e, WorkResumed)]
    assert summary.resumed_frames == 0 and changed in (resumed.restart_reason or ""), resumed
    out = [f.image_u8.astype(int) for f in read_frames(dst)]
    now = [f.image_u8.astype(int) for f in read_frames(src)]  # stream 1, or stream 0 turned
    # every frame as the file reads now (resizing through 32 px leaves ~8 levels; the other reading ~60)
    assert len(out) == 6 and all(np.abs(o - (255 - s)).mean() < 16 for o, s in zip(out, now))
