"""Inputs a QA pass found mishandled, each built here: an image sequence
with damaged files (the last ones dropped without a word, one in the middle
an exit code 1 part-way), a 16-bit or float PIL image as a style (clipped to
two grey levels), ``-t 0`` reported as an "end" without its flag, and the
Python API told to "pass -y" for an output that exists."""

from __future__ import annotations

import os
import pickle

import cv2
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, moving_frames, one_error_line, run_cli
from fakes import fake_engine  # noqa: F401 - fixture
from PIL import Image

import vidstyle
from vidstyle.errors import InputError, OutputError
from vidstyle.media import find_input_sequence, load_image
from vidstyle.pipeline.styles import style_array

FAST = ["--style", STYLE_PATH, "--iters", "5,1", "--max-side", "32", "--detail-iters", "0", "--threads", "1", "-q"]

# ------------------------------------------------------------------ image sequences with damaged files


def write_frames(folder, ext: str = ".png", count: int = 5, **params) -> list[str]:
    """``count`` frames 0001..: a moving texture as ``ext`` files (Pillow's
    ``params``); returns their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for number, image in enumerate(moving_frames(32, 24, count), start=1):
        path = os.path.join(folder, f"{number:04d}{ext}")
        Image.fromarray(image).save(path, **params)
        paths.append(path)
    return paths


def cut(path, fraction: float = 0.5) -> None:
    """Keep the first ``fraction`` of the file, as a render killed while writing it leaves it."""
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(data[: int(len(data) * fraction)])


def refusal(capsys, tmp_path, src, fake_engine) -> str:
    """The one error line of a run on ``src``, asserted to be refused (exit
    code 2) before any frame is stylized and without any output."""
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, src, *FAST, "-o", out)
    assert code == 2, err
    assert fake_engine.calls == 0, "refused before stylizing"
    assert sorted(os.listdir(tmp_path)) == ["seq"], "no output, not even a partial one"
    return one_error_line(err)


def test_damaged_last_files_are_refused_naming_them_not_dropped(tmp_path, capsys, fake_engine):
    paths = write_frames(tmp_path / "seq")
    cut(paths[-1])
    open(tmp_path / "seq" / "0006.png", "wb").close()  # and an empty file after it
    line = refusal(capsys, tmp_path, tmp_path / "seq" / "%04d.png", fake_engine)
    assert f"{tmp_path / 'seq' / '0005.png'} is cut short" in line
    assert "1 more damaged file (0006.png)" in line


def test_a_last_file_that_is_text_is_refused_naming_it(tmp_path, capsys, fake_engine):
    write_frames(tmp_path / "seq", count=3)
    (tmp_path / "seq" / "0004.png").write_bytes(b"not png")
    line = refusal(capsys, tmp_path, tmp_path / "seq", fake_engine)  # the folder: the same check
    assert f"{tmp_path / 'seq' / '0004.png'} is not a PNG image (it starts with b'not png')" in line


def test_a_damaged_file_in_the_middle_is_bad_input_named_before_any_frame(tmp_path, capsys, fake_engine):
    write_frames(tmp_path / "seq")
    (tmp_path / "seq" / "0003.png").write_bytes(b"garbage")  # was: "unreadable near frame 2", exit code 1
    line = refusal(capsys, tmp_path, tmp_path / "seq" / "%04d.png", fake_engine)
    assert f"{tmp_path / 'seq' / '0003.png'} is not a PNG image" in line and "near frame" not in line


def test_an_empty_file_in_the_middle_is_refused_where_image2_stopped_quietly(tmp_path, capsys, fake_engine):
    write_frames(tmp_path / "seq")
    open(tmp_path / "seq" / "0003.png", "wb").close()
    line = refusal(capsys, tmp_path, tmp_path / "seq" / "%04d.png", fake_engine)
    assert f"{tmp_path / 'seq' / '0003.png'} is empty (0 bytes)" in line


@pytest.mark.parametrize(
    ("ext", "params"),
    [(".png", {}), (".tif", {}), (".tif", {"compression": "tiff_lzw"}), (".bmp", {}), (".webp", {"lossless": True})],
)
def test_each_format_cut_short_is_refused_and_its_complete_files_pass(tmp_path, ext, params):
    paths = write_frames(tmp_path, ext, count=3, **params)
    assert len(find_input_sequence(tmp_path).files) == 3  # complete files pass
    cut(paths[-1], 0.8)
    with pytest.raises(InputError, match=f"{paths[-1]} is cut short"):
        find_input_sequence(tmp_path)


def test_files_that_decode_are_not_refused(tmp_path):
    """Data after a PNG's IEND (decoders ignore it), 16-bit PNG and TIFF, JPEG."""
    paths = write_frames(tmp_path / "png", count=2)
    with open(paths[0], "ab") as file:
        file.write(b"trailing bytes a tool appended")
    image16 = (moving_frames(32, 24, 1)[0].astype(np.uint16) * 257)[..., ::-1]
    for ext in (".png", ".tif"):
        os.makedirs(tmp_path / ext[1:] / "16", exist_ok=True)
        for number in (1, 2):
            cv2.imwrite(str(tmp_path / ext[1:] / "16" / f"{number:04d}{ext}"), image16)
    write_frames(tmp_path / "jpg", ".jpg", count=2)
    for folder in ("png", "png/16", "tif/16", "jpg"):
        assert len(find_input_sequence(tmp_path / folder).files) == 2, folder


def test_a_jpeg_named_png_is_refused_saying_what_it_is(tmp_path):
    write_frames(tmp_path, count=3)
    Image.fromarray(moving_frames(32, 24, 1)[0]).save(tmp_path / "0002.png", format="JPEG")
    with pytest.raises(InputError, match=r"0002.png is not a PNG image \(it is a JPEG image\)"):
        find_input_sequence(tmp_path)


# ------------------------------------------------------------------ a 16-bit or float PIL image as a style


@pytest.fixture
def gray16_png(tmp_path):
    """A grey ramp of 256 levels as a 16-bit PNG, and the ramp (uint8)."""
    ramp = (np.arange(32 * 64).reshape(32, 64) % 256).astype(np.uint8)
    path = tmp_path / "ramp16.png"
    cv2.imwrite(str(path), ramp.astype(np.uint16) * 257)
    return path, ramp


@pytest.mark.parametrize(
    "make",
    [
        lambda ramp: Image.fromarray(ramp.astype(np.uint16) * 257),  # I;16
        lambda ramp: Image.frombytes("I;16B", (64, 32), (ramp.astype(">u2") * 257).tobytes()),
        lambda ramp: Image.fromarray(ramp.astype(np.int32) * 257),  # I: how older Pillows read 16-bit files
        lambda ramp: Image.fromarray(ramp.astype(np.float32) / 255),  # F in [0, 1]
    ],
    ids=["I;16", "I;16B", "I", "F"],
)
def test_a_16_bit_or_float_pil_style_is_scaled_like_the_file(gray16_png, make):
    path, ramp = gray16_png
    style = make(ramp)
    pixels = style_array(style)
    assert len(np.unique(pixels)) == 256, f"mode {style.mode}: not clipped to a few grey levels"
    np.testing.assert_array_equal(pixels, load_image(path))  # as the 16-bit PNG's path reads
    np.testing.assert_array_equal(style_array(Image.open(path)), load_image(path))


def test_a_pil_style_reaches_the_engine_as_the_file_does(gray16_png, fake_engine, monkeypatch):
    path, ramp = gray16_png
    received = []
    monkeypatch.setattr(fake_engine, "__init__", lambda self, styles_u8, **_: received.append(styles_u8))
    content = moving_frames(32, 24, 1)[0]
    for style in (path, Image.fromarray(ramp.astype(np.uint16) * 257)):
        vidstyle.stylize_image(content, style=style, max_side=32, num_threads=1)
    (from_file,), (from_pil,) = received
    assert len(np.unique(from_pil)) > 100  # was 2 grey levels
    np.testing.assert_array_equal(from_pil, from_file)


@pytest.mark.parametrize(
    ("style", "message"),
    [
        (Image.fromarray(np.full((8, 8), 200.0, np.float32)), "mode F .* values from 200 to 200; mode F is read as"),
        (Image.fromarray(np.full((8, 8), np.nan, np.float32)), "mode F .* holding NaN"),
        (Image.fromarray(np.full((8, 8), -5, np.int32)), "mode I holding values from -5 to -5"),
        (Image.new("La", (8, 8)), "mode La, which Pillow cannot convert to RGB"),
        (np.zeros((8, 8, 3), np.uint16), r"got uint16 \(8, 8, 3\); 16 bits: \(x / 257\)"),
    ],
    ids=["F-0..255", "F-NaN", "I-negative", "La", "uint16-array"],
)
def test_a_style_whose_values_cannot_be_read_is_refused_naming_its_mode(style, message):
    with pytest.raises(InputError, match=message):
        style_array(style)


# ------------------------------------------------------------------ -t 0


@pytest.mark.parametrize("typed", [["-t", "0"], ["-t", "00:00:00"], ["-ss", "1", "-t", "0"]])
def test_a_zero_duration_is_refused_as_typed_with_its_flag(tmp_path, capsys, typed):
    code, _, err = run_cli(capsys, tmp_path / "never-read.mp4", *FAST, *typed)
    assert code == 2
    assert one_error_line(err) == (
        "vidstyle: error: argument -t/--duration: must be positive, got 0 (see 'vidstyle --help')"
    )


def test_eval_and_live_refuse_a_zero_duration_with_their_flags(tmp_path, capsys):
    code, _, err = run_cli(capsys, "eval", tmp_path / "a.mp4", tmp_path / "b.mp4", "-t", "0")
    assert code == 2 and one_error_line(err).startswith("vidstyle: error: argument -t: must be positive, got 0")
    code, _, err = run_cli(capsys, "eval", tmp_path / "a.mp4", tmp_path / "b.mp4", "-to", "0")
    assert code == 2 and one_error_line(err).startswith("vidstyle: error: argument -to: must be positive, got 0")
    code, _, err = run_cli(capsys, "live", "lavfi:testsrc2", *FAST, "-o", tmp_path / "l.mp4", "-t", "0")
    assert code == 2
    assert one_error_line(err).startswith("vidstyle: error: argument -t/--duration: must be positive, got 0")


# ------------------------------------------------------------------ an existing output: -y or overwrite=True


def test_the_api_names_overwrite_true_and_the_cli_names_y(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=2, audio=False)
    (tmp_path / "out.mp4").write_bytes(b"old")
    (tmp_path / "out.png").write_bytes(b"old")
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "00001.png").write_bytes(b"old")
    for call, message in [
        (lambda: vidstyle.stylize_video(src, tmp_path / "out.mp4", style=STYLE_PATH), "out.mp4 exists"),
        (lambda: vidstyle.stylize_image(np.zeros((8, 8, 3), np.uint8), tmp_path / "out.png", style=STYLE_PATH), ""),
        (lambda: vidstyle.stylize_video(src, tmp_path / "frames" / "%05d.png", style=STYLE_PATH), "1 frame named"),
    ]:
        with pytest.raises(OutputError) as caught:
            call()
        text = str(caught.value)
        assert message in text and "-y" not in text, text
        assert "; pass overwrite=True to replace " in text, text
        assert str(pickle.loads(pickle.dumps(caught.value))) == text  # as Ray returns it to the driver
    code, _, err = run_cli(capsys, src, *FAST, "-o", tmp_path / "out.mp4")  # the CLI calls the same API
    assert (
        code == 2 and one_error_line(err) == f"vidstyle: error: {tmp_path / 'out.mp4'} exists; pass -y to overwrite it"
    )
    code, _, err = run_cli(capsys, src, *FAST, "-o", tmp_path / "frames" / "%05d.png")
    assert code == 2 and one_error_line(err).endswith("(e.g. 00001.png); pass -y to replace them")
    assert fake_engine.calls == 0 and (tmp_path / "out.mp4").read_bytes() == b"old"
