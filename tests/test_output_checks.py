"""Output checks a user meets before any work: an unwritable folder, a folder
given as the output, and option values that start with a minus sign."""

import errno
import os
import tempfile

import cv2
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, one_error_line, run_cli, texture
from fakes import fake_engine  # noqa: F401 - fixture

from vidstyle.errors import OutputError

FAST = ["--style", STYLE_PATH, "--iters", "1,1", "--max-side", "32", "--detail-iters", "0", "-q", "-y"]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), texture(32, 24))
    return path


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", width=32, height=32, num_frames=2, audio=False)


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder nobody may create files in. chmod 555 does not stop root (the
    tests may run as root), so creating a file or folder there is also refused
    the way the kernel would refuse it: PermissionError from ``tempfile``."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mkstemp, mkdtemp = tempfile.mkstemp, tempfile.mkdtemp

    def refused(create):
        def make(*args, dir=None, **kwargs):
            if dir is not None and os.path.abspath(dir) == str(folder):
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return create(*args, dir=dir, **kwargs)

        return make

    monkeypatch.setattr(tempfile, "mkstemp", refused(mkstemp))
    monkeypatch.setattr(tempfile, "mkdtemp", refused(mkdtemp))
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


# ------------------------------------------------------------------ an unwritable folder


@pytest.mark.parametrize("kind", ["still", "video", "sequence"])
def test_an_unwritable_folder_is_refused_before_any_work_with_the_same_line(
    kind, photo, clip, read_only, capsys, fake_engine
):
    src, dst = {
        "still": (photo, read_only / "img.png"),
        "video": (clip, read_only / "out.mp4"),
        "sequence": (clip, read_only / "%05d.png"),
    }[kind]
    code, _, err = run_cli(capsys, src, "-o", dst, *FAST)
    line = one_error_line(err)
    assert code == 2 and f"cannot write in {read_only}: Permission denied" in line
    assert fake_engine.calls == 0  # nothing was stylized
    assert os.listdir(read_only) == []


def test_stylize_image_checks_the_folder_before_stylizing(photo, read_only, fake_engine):
    from vidstyle import stylize_image

    with pytest.raises(OutputError, match="cannot write in") as caught:
        stylize_image(photo, read_only / "img.png", style=STYLE_PATH, max_side=32, detail_iters=0)
    assert caught.value.exit_code == 2 and fake_engine.calls == 0


def test_a_writable_folder_still_gets_the_image_and_no_leftovers(photo, tmp_path, capsys, fake_engine):
    code, _, err = run_cli(capsys, photo, "-o", tmp_path / "img.png", *FAST)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png", "photo.png"]  # the probe left nothing
    assert fake_engine.calls == 1


# ------------------------------------------------------------------ a folder as the output


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_folder_as_a_video_output_names_the_files_that_work(slash, clip, tmp_path, capsys, fake_engine):
    folder = tmp_path / "somedir"
    folder.mkdir()
    code, _, err = run_cli(capsys, clip, "-o", f"{folder}{slash}", *FAST)
    line = one_error_line(err)
    assert code == 2 and "names a folder" in line and "unknown output extension" not in line
    assert os.path.join(folder, "clip.stylized.mp4") in line and os.path.join(folder, "%05d.png") in line
    assert fake_engine.calls == 0 and os.listdir(folder) == []


def test_a_folder_as_a_still_output_names_an_image_file(photo, tmp_path, capsys, fake_engine):
    folder = tmp_path / "somedir"
    folder.mkdir()
    code, _, err = run_cli(capsys, photo, "-o", folder, *FAST)
    line = one_error_line(err)
    assert code == 2 and f"-o {folder} names a folder" in line
    assert os.path.join(folder, "photo.stylized.png") in line and ".mp4" not in line
    assert fake_engine.calls == 0


def test_a_missing_folder_name_ending_in_a_slash_is_a_folder_too(photo, tmp_path, capsys, fake_engine):
    code, _, err = run_cli(capsys, photo, "-o", f"{tmp_path / 'new'}/", *FAST)
    assert code == 2 and "names a folder" in one_error_line(err)
    assert not (tmp_path / "new").exists()


def test_a_folder_output_for_a_sequence_input_suggests_the_sequence_name(tmp_path, capsys, fake_engine):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in (1, 2):
        cv2.imwrite(str(frames / f"{i:04d}.png"), texture(32, 24, seed=i))
    folder = tmp_path / "out"
    folder.mkdir()
    code, _, err = run_cli(capsys, f"{frames}/", "-o", folder, *FAST)
    assert code == 2 and os.path.join(folder, "frames.stylized.mp4") in one_error_line(err)
    code, _, err = run_cli(capsys, frames / "%04d.png", "-o", folder / "%05d.png", *FAST)  # a pattern, not a folder
    assert code == 0, err
    assert sorted(os.listdir(folder)) == ["00001.png", "00002.png"]


# ------------------------------------------------------------------ values starting with a minus sign


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--iters", "-1,5", "between 1 and 100000, got -1"),
        ("--bitrate", "-5M", "between 1 and 2000000000, got -5000000"),
        ("--tv-weight", "-.5", ">= 0, got -0.5"),
        ("--max-side", "-3", "between 16 and 8192 pixels, got -3"),
    ],
)
def test_a_negative_value_gets_the_range_error(option, value, expected, clip, capsys, fake_engine):
    code, _, err = run_cli(capsys, clip, *FAST, option, value)
    line = one_error_line(err)
    assert code == 2 and f"argument {option}: " in line and expected in line
    assert "expected one argument" not in line and fake_engine.calls == 0


def test_an_option_is_still_not_taken_for_a_value(clip, capsys):
    code, _, err = run_cli(capsys, clip, "-o", "-q", "--style", STYLE_PATH)
    assert code == 2 and "argument -o/--output: expected one argument" in one_error_line(err)
    code, _, err = run_cli(capsys, clip, "-ss", "-t", "1", "--style", STYLE_PATH)
    assert code == 2 and "argument -ss/--start: expected one argument" in one_error_line(err)


def test_short_options_after_values_still_work(photo, tmp_path, capsys, fake_engine):
    dst = tmp_path / "img.png"
    code, _, err = run_cli(capsys, photo, "--style", STYLE_PATH, "--iters", "1,1", "-q", "-y", "-o", dst)
    assert code == 0, err
    assert np.asarray(cv2.imread(str(dst))).shape == (24, 32, 3)
