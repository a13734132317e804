"""Options a QA pass found accepted where they cannot work: a --codec the
output container cannot hold, a --bitrate its encoder ignores, and an eval of
a stylized file at another frame rate than its input."""

from fractions import Fraction

import pytest
from conftest import STYLE_PATH, make_clip, one_error_line, run_cli
from fakes import fake_engine  # noqa: F401 - fixture

from vidstyle.config import ExportConfig
from vidstyle.errors import InputError

FAST = ["--style", STYLE_PATH, "--iters", "1,1", "--max-side", "32", "--detail-iters", "0", "--threads", "1", "-q"]


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", width=32, height=32, num_frames=2, audio=False)


# ------------------------------------------------------------------ --codec the container cannot hold


@pytest.mark.parametrize(
    ("name", "codec", "taken"), [("out.webm", "libx264", "libvpx-vp9"), ("out.mp4", "prores", "libx264")]
)
def test_a_codec_the_container_cannot_hold_is_bad_input_named_before_any_work(
    name, codec, taken, clip, tmp_path, capsys, fake_engine
):
    code, out, err = run_cli(capsys, clip, "-o", tmp_path / name, "--codec", codec, *FAST)
    line = one_error_line(err)
    ext = name[name.index(".") :]
    assert code == 2 and out == "", err
    assert f"--codec {codec}" in line and f"a {ext} file" in line and taken in line, line
    assert fake_engine.calls == 0  # nothing was stylized
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temporary file left


def test_a_codec_the_container_holds_still_works(clip, tmp_path, capsys, fake_engine):
    code, _, err = run_cli(capsys, clip, "-o", tmp_path / "out.mkv", "--codec", "libvpx-vp9", *FAST)
    assert code == 0 and (tmp_path / "out.mkv").is_file(), err


# ------------------------------------------------------------------ --bitrate an encoder ignores


@pytest.mark.parametrize(
    ("name", "extra", "codec"),
    [("out.gif", [], "gif"), ("out.mov", [], "prores_ks"), ("out.mkv", ["--codec", "prores_ks"], "prores_ks")],
)
def test_bitrate_is_refused_like_crf_where_the_encoder_ignores_it(
    name, extra, codec, clip, tmp_path, capsys, fake_engine
):
    code, out, err = run_cli(capsys, clip, "-o", tmp_path / name, "--bitrate", "1M", *extra, *FAST)
    line = one_error_line(err)
    assert code == 2 and out == "" and f"{codec} has no bitrate setting" in line, line
    assert fake_engine.calls == 0
    assert not (tmp_path / name).exists()


def test_bitrate_with_a_codec_that_ignores_it_is_refused_by_the_config_too():
    with pytest.raises(InputError, match="prores_ks has no bitrate setting"):
        ExportConfig(codec="prores_ks", bitrate=1_000_000)
    ExportConfig(codec="libx264", bitrate=1_000_000)  # x264 takes one


def test_bitrate_still_sets_an_encoder_that_takes_one(clip, tmp_path, capsys, fake_engine):
    code, _, err = run_cli(capsys, clip, "-o", tmp_path / "out.mp4", "--bitrate", "1M", *FAST)
    assert code == 0 and (tmp_path / "out.mp4").is_file(), err


# ------------------------------------------------------------------ eval: another frame rate


def test_eval_notes_once_a_stylized_file_at_another_frame_rate(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mp4", num_frames=4, fps=Fraction(25), audio=False)
    other = make_clip(tmp_path / "other.mp4", num_frames=4, fps=Fraction(12), audio=False)
    code, out, err = run_cli(capsys, "eval", source, other)
    assert code == 0 and "flicker ratio" in out, err
    notes = [line for line in err.splitlines() if "frames per second" in line]
    assert len(notes) == 1 and "25" in notes[0] and "12" in notes[0] and "paired by index" in notes[0], err


def test_eval_has_no_rate_note_for_the_same_rate(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mp4", num_frames=4, fps=Fraction(25), audio=False)
    same = make_clip(tmp_path / "same.mp4", num_frames=4, fps=Fraction(25), audio=False)
    code, out, err = run_cli(capsys, "eval", source, same)
    assert code == 0 and "frames per second" not in err, err
