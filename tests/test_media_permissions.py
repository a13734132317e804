"""Finished outputs get the permissions a plain file write would give them
under the user's umask (0666 & ~umask for files, 0777 & ~umask for a folder
the writer creates), not the 0600 of the private temporary file they were
written under: a web server or another user can read them, as they could
read what FFmpeg or an editor writes."""

import os
import stat
from fractions import Fraction

import numpy as np
import pytest
from conftest import moving_frames

from vidstyle.frames import Frame
from vidstyle.media import ImageSequenceWriter, VideoWriter, destination, open_writer, save_image
from vidstyle.media.destination import current_umask

TIME_BASE = Fraction(1, 25)


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    """Run the test under this umask; the process's own is restored after."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def frames(num_frames: int = 3, width: int = 32, height: int = 24) -> list[Frame]:
    return [
        Frame(image_u8=image, pts=i, time_base=TIME_BASE, index=i)
        for i, image in enumerate(moving_frames(width, height, num_frames))
    ]


def write_all(writer, clip) -> None:
    for frame in clip:
        writer.write(frame)


def test_the_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask  # still the same: reading did not change it


def test_the_umask_is_read_where_proc_is_missing(umask, monkeypatch):
    monkeypatch.setattr(destination, "_PROC_STATUS", "/nonexistent/status")
    assert current_umask() == umask
    assert os.umask(umask) == umask  # restored exactly


def test_a_finished_video_is_readable_like_a_plain_file(tmp_path, umask):
    dst = tmp_path / "out.mp4"
    with VideoWriter(dst, width=32, height=24, time_base=TIME_BASE, fps=Fraction(25)) as writer:
        write_all(writer, frames())
    assert mode(dst) == 0o666 & ~umask  # 0644 under umask 022, 0600 under 077


@pytest.mark.parametrize("ext", [".gif", ".mkv"])
def test_other_containers_get_the_same_permissions(tmp_path, umask, ext):
    dst = tmp_path / f"out{ext}"
    with VideoWriter(dst, width=32, height=24, time_base=TIME_BASE, fps=Fraction(25)) as writer:
        write_all(writer, frames())
    assert mode(dst) == 0o666 & ~umask


def test_a_partial_video_is_readable_like_a_plain_file(tmp_path, umask):
    writer = VideoWriter(tmp_path / "out.mp4", width=32, height=24, time_base=TIME_BASE, fps=Fraction(25))
    write_all(writer, frames())
    partial = writer.close_partial()
    assert partial == str(tmp_path / "out.partial.mp4")
    assert mode(partial) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.partial.mp4"]


def test_an_image_sequence_and_the_folder_it_creates_get_plain_permissions(tmp_path, umask):
    writer = open_writer(tmp_path / "seq" / "%05d.png", width=32, height=24)
    assert isinstance(writer, ImageSequenceWriter)
    with writer:
        write_all(writer, frames())
    folder = tmp_path / "seq"
    assert mode(folder) == 0o777 & ~umask  # 0755 under umask 022, 0700 under 077
    assert sorted(p.name for p in folder.iterdir()) == ["00001.png", "00002.png", "00003.png"]
    assert {mode(p) for p in folder.iterdir()} == {0o666 & ~umask}


def test_partial_image_sequence_frames_get_plain_permissions(tmp_path, umask):
    writer = open_writer(tmp_path / "seq" / "%05d.png", width=32, height=24)
    write_all(writer, frames(2))
    assert writer.close_partial() == str(tmp_path / "seq" / "%05d.partial.png")
    names = sorted(p.name for p in (tmp_path / "seq").iterdir())
    assert names == ["00001.partial.png", "00002.partial.png"]
    assert {mode(tmp_path / "seq" / name) for name in names} == {0o666 & ~umask}


@pytest.mark.parametrize("name", ["still.png", "still.jpg", "still.tif"])
def test_a_still_image_is_readable_like_a_plain_file(tmp_path, umask, name):
    save_image(tmp_path / name, frames(1)[0].image_u8)
    assert mode(tmp_path / name) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_an_overwritten_output_keeps_its_own_permissions(tmp_path, umask):
    """As a plain write with ``-y`` would: the file is replaced, its mode is not."""
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"old")
    os.chmod(dst, 0o640)
    with VideoWriter(dst, width=32, height=24, time_base=TIME_BASE, fps=Fraction(25), overwrite=True) as writer:
        write_all(writer, frames())
    assert mode(dst) == 0o640
    still = tmp_path / "still.png"
    still.write_bytes(b"old")
    os.chmod(still, 0o604)
    save_image(still, np.zeros((8, 8, 3), np.uint8))
    assert mode(still) == 0o604
