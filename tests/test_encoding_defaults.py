"""The encoder each output extension gets (issue 10: steady in the file the
user gets): codec, pixel format and options per container, a chroma
downsampler that keeps fine moving colour texture steady, odd sizes per
codec, and overrides that still win. Real PyAV encodes of tiny clips."""

from fractions import Fraction

import av
import numpy as np
import pytest

from vidstyle.evaluate import evaluate_flicker_with_flows
from vidstyle.frames import Frame
from vidstyle.media import VideoWriter, probe, read_frames
from vidstyle.media import video_writer as video_writer_module
from vidstyle.media.formats import CHROMA_DOWNSAMPLING, DEFAULT_CRF, OUTPUT_FORMATS, conversion_flags

TB = Fraction(1, 25)


def colour_stripes(width=64, height=48, num_frames=10, speed=0.37, wavelength=3.3):
    """Red/blue stripes finer than 4:2:0 chroma can hold (wavelength < 4 px)
    over a coarse green wave, moving right by ``speed`` px per frame; with
    the exact backward flows and masks (the first columns have no past)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = []
    for t in range(num_frames):
        x = xs - speed * t
        fine = np.sin(2 * np.pi * x / wavelength + 0.3 * ys)
        coarse = np.sin(2 * np.pi * x / 17 + ys / 9)
        image = np.stack([128 + 80 * fine, 128 + 30 * coarse, 128 - 80 * fine], axis=-1)
        frames.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    flow = np.zeros((height, width, 2), np.float32)
    flow[..., 0] = -speed
    mask = np.ones((height, width), np.float32)
    mask[:, :2] = 0
    return frames, [flow] * (num_frames - 1), [mask] * (num_frames - 1)


def write(path, frames, **options):
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width=width, height=height, time_base=TB, fps=Fraction(25), **options) as writer:
        for i, image in enumerate(frames):
            writer.write(Frame(image_u8=image, pts=i, time_base=TB, index=i))
    return path


def gradient_frames(width=64, height=48, num_frames=3):  # x265 crashes below about 64x48
    ys, xs = np.mgrid[0:height, 0:width]
    return [np.stack([xs * 5 + 20 * i, ys * 7, (xs + ys) * 3], -1).astype(np.uint8) for i in range(num_frames)]


def video_profile(path) -> str | None:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.profile


@pytest.mark.parametrize(
    "ext, codec, pix_fmt, profile",
    [
        (".mp4", "h264", "yuv420p", "High"),  # plays everywhere
        (".m4v", "h264", "yuv420p", "High"),
        (".mkv", "h264", "yuv420p", "High"),  # 4:4:4 measured no steadier than filtered 4:2:0
        (".mov", "prores", "yuv444p12le", "4444"),  # ProRes 4444 decodes as 12-bit
        (".webm", "vp9", "yuv420p", "Profile 0"),  # every browser
        (".gif", "gif", "bgra", None),  # pal8 written; the GIF decoder gives bgra
    ],
)
def test_each_container_gets_its_encoder_defaults(tmp_path, ext, codec, pix_fmt, profile):
    out = write(tmp_path / f"out{ext}", gradient_frames())
    info = probe(out)
    assert (info.codec, info.pix_fmt) == (codec, pix_fmt)
    if profile is not None:
        assert video_profile(out) == profile


def test_x264_writes_the_default_crf_and_options_into_the_stream(tmp_path):
    """x264 records its settings in the stream (an SEI message): the defaults are the ones used."""
    data = write(tmp_path / "out.mp4", gradient_frames()).read_bytes()
    assert f"crf={DEFAULT_CRF['libx264']}.0".encode() in data
    for option in OUTPUT_FORMATS[".mp4"].options.get("x264-params", "").split(":"):
        if option:
            assert option.replace("-", "_").encode() in data, option
    assert b"x264" in write(tmp_path / "out.mkv", gradient_frames()).read_bytes()


def test_subsampled_formats_filter_chroma_and_full_chroma_formats_do_not():
    assert conversion_flags("yuv420p", resizing=False) == CHROMA_DOWNSAMPLING
    assert "FULL_CHR_H_INP" in conversion_flags("yuv420p", resizing=True)
    assert conversion_flags("yuv444p", resizing=False) == ()
    assert conversion_flags("yuv444p10le", resizing=True) == ("AREA",)


def flicker_of(path, flows, masks) -> float:
    decoded = [f.image_u8 for f in read_frames(path)]
    return float(np.mean(evaluate_flicker_with_flows(decoded, flows, masks)))


def test_fine_moving_colour_texture_stays_steady_in_yuv420p(tmp_path, monkeypatch):
    """4:2:0 cannot hold stripes finer than 4 px: FFmpeg's default chroma
    downsampling aliases them into colour that flickers as they move; the
    filter over the full-resolution chroma holds them back. E_warp with the exact flow."""
    frames, flows, masks = colour_stripes()
    lossless = float(np.mean(evaluate_flicker_with_flows(frames, flows, masks)))
    steady = flicker_of(write(tmp_path / "new.mp4", frames), flows, masks)
    monkeypatch.setattr(video_writer_module, "conversion_flags", lambda pix_fmt, *, resizing: ())
    plain = flicker_of(write(tmp_path / "plain.mp4", frames), flows, masks)
    assert steady < 0.5 * plain, (steady, plain)
    assert steady < 2 * lossless, (steady, lossless)


@pytest.mark.parametrize(
    "ext, expected",
    [(".mp4", (100, 76)), (".mkv", (100, 76)), (".mov", (101, 77)), (".webm", (100, 76)), (".gif", (101, 77))],
)
def test_odd_sizes_round_down_only_where_chroma_is_subsampled(tmp_path, ext, expected):
    out = write(tmp_path / f"odd{ext}", gradient_frames(101, 77))
    info = probe(out)
    assert (info.width, info.height) == expected
    assert len(list(read_frames(out))) == 3


def test_odd_sizes_follow_the_overriding_codecs_pixel_format(tmp_path):
    info = probe(write(tmp_path / "odd.mov", gradient_frames(101, 77), codec="libx264", crf=30))
    assert (info.codec, info.width, info.height) == ("h264", 101, 77)  # the container's 4:4:4: no rounding
    info = probe(write(tmp_path / "odd.mp4", gradient_frames(101, 77), codec="libx265", crf=30))
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("hevc", "yuv420p", 100, 76)


def test_overrides_win_over_the_container_defaults(tmp_path):
    data = write(tmp_path / "crf.mp4", gradient_frames(), crf=23).read_bytes()
    assert b"crf=23.0" in data
    info = probe(write(tmp_path / "x265.mkv", gradient_frames(), codec="libx265", crf=28))
    assert (info.codec, info.pix_fmt) == ("hevc", "yuv420p")
    info = probe(write(tmp_path / "prores.mov", gradient_frames(), codec="prores_ks"))
    assert (info.codec, info.pix_fmt) == ("prores", "yuv444p12le")
    info = probe(write(tmp_path / "h264.webm", gradient_frames(), codec="libvpx", crf=20))
    assert (info.codec, info.pix_fmt) == ("vp8", "yuv420p")
    data = write(tmp_path / "rate.mp4", gradient_frames(), bitrate=200_000).read_bytes()
    assert b"bitrate=200" in data and b"crf=" not in data
