"""Media a QA pass tried that no earlier test had: non-square pixels (SAR),
GIF frame rates above what GIF can time, x265 in MP4/MOV for clips of one to
three frames, files that are not what their names say, and SVT-AV1's
settings printed on stderr. Real files, written and read back with PyAV."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import ROOT, STYLE_PATH, make_clip, moving_frames, one_error_line, run_cli
from fakes import fake_engine  # noqa: F401 - fixture

FAST = ["--style", STYLE_PATH, "--iters", "1,1", "--max-side", "32", "--detail-iters", "0", "--threads", "1"]


def sar_clip(path, *, sar: Fraction, rotation: int | None = None, num_frames: int = 3, size=(64, 36)):
    """An H.264 clip of ``size`` stored pixels shown ``sar`` times wider than tall."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.codec_context.sample_aspect_ratio = sar
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image in moving_frames(*size, num_frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def shown(path) -> tuple[int, int, Fraction]:
    """Stored width, height and the SAR a player takes (the container's, else the codec's; 1: none)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, stream.sample_aspect_ratio or Fraction(1)


def notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note: ")]


# ------------------------------------------------------------------ non-square pixels


@pytest.mark.parametrize(
    "name, extra", [("out.mp4", []), ("out.mkv", []), ("out.mov", []), ("out.mov", ["--codec", "libx264"])]
)
def test_non_square_pixels_are_marked_in_each_container(tmp_path, capsys, fake_engine, name, extra):
    src = sar_clip(tmp_path / "sar.mp4", sar=Fraction(2))
    code, _, err = run_cli(capsys, src, "-o", tmp_path / name, *FAST, *extra)
    assert code == 0, err
    assert shown(tmp_path / name) == (64, 36, Fraction(2))  # stored 64x36, shown 128x36 as the source
    assert (
        f"note: sar.mp4 has non-square pixels (SAR 2:1: its 64x36 pixels are shown as 128x36); {name} keeps them "
        "(SAR 2:1) and shows as the source does; the style's strokes are painted on the stored pixels, so they "
        "come out stretched 2x wide"
    ) in notes(err), err


def test_a_side_by_side_comparison_keeps_the_pixels_shape(tmp_path, capsys, fake_engine):
    src = sar_clip(tmp_path / "sar.mp4", sar=Fraction(2))
    code, _, err = run_cli(capsys, src, "-o", tmp_path / "cmp.mp4", "--compare", *FAST, "-q")
    assert code == 0, err
    assert shown(tmp_path / "cmp.mp4") == (128, 36, Fraction(2))


def test_a_quarter_turn_turns_the_pixels_shape_too(tmp_path, capsys, fake_engine):
    # Stored 64x36 at 2:1 and turned upright: 36x64 pixels twice as tall as wide.
    src = sar_clip(tmp_path / "sar.mp4", sar=Fraction(2), rotation=90)
    code, _, err = run_cli(capsys, src, "-o", tmp_path / "out.mkv", *FAST)
    assert code == 0, err
    assert shown(tmp_path / "out.mkv") == (36, 64, Fraction(1, 2))
    assert any("(SAR 1:2: its 36x64 pixels are shown as 36x128)" in line for line in notes(err)), err
    assert any(line.endswith("stretched 2x tall") for line in notes(err)), err


def test_an_output_size_keeps_the_shape_the_source_is_shown_in(tmp_path, capsys, fake_engine):
    src = sar_clip(tmp_path / "sar.mp4", sar=Fraction(2))
    # 64x72 stored pixels show the 128x36 picture at 4:1; 128x36 (its shown size) at square pixels
    for size, sar in (("64x72", Fraction(4)), ("128x36", Fraction(1))):
        code, _, err = run_cli(
            capsys, src, "-o", tmp_path / f"{size}.mkv", "--output-size", size, *FAST, "--max-side", "64"
        )
        assert code == 0, err
        assert shown(tmp_path / f"{size}.mkv")[2] == sar, size
        assert any("non-square" in line for line in notes(err)) == (sar != 1), err


@pytest.mark.parametrize(
    "name, extra, kind",
    [
        ("out.gif", [], "a .gif file"),
        ("frames/%03d.png", [], "an image sequence"),
        ("out.webm", [], "a .webm file"),  # VP9 has no field for it, and PyAV cannot set Matroska's
        ("out.mkv", ["--codec", "libvpx-vp9"], "a .mkv file of libvpx-vp9 video"),
    ],
)
def test_outputs_without_a_pixel_shape_say_they_show_squeezed(tmp_path, capsys, fake_engine, name, extra, kind):
    src = sar_clip(tmp_path / "sar.mp4", sar=Fraction(2))
    (tmp_path / "frames").mkdir()
    code, _, err = run_cli(capsys, src, "-o", tmp_path / name, *FAST, *extra)
    assert code == 0, err
    shown_name = name if "%" not in name else str(tmp_path / name)
    assert (
        f"note: sar.mp4 has non-square pixels (SAR 2:1: its 64x36 pixels are shown as 128x36); {kind} cannot "
        f"mark non-square pixels, so {shown_name} shows squeezed at 64x36 (--output-size 128x36 writes square "
        "pixels that show as the source does)"
    ) in notes(err), err


def test_a_square_pixel_source_gets_no_note_and_no_mark(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", width=64, height=36, num_frames=2, audio=False)
    code, _, err = run_cli(capsys, src, "-o", tmp_path / "out.webm", *FAST)
    assert code == 0, err
    assert shown(tmp_path / "out.webm") == (64, 36, Fraction(1))
    assert not any("non-square" in line for line in notes(err)), err


# ------------------------------------------------------------------ GIF frame rates


def gif_times(path) -> list[tuple[int, int]]:
    """``(pts, duration)`` of each frame of a GIF, in hundredths of a second."""
    with av.open(str(path)) as container:
        return [(frame.pts, frame.duration) for frame in container.decode(video=0)]


def test_a_gif_refuses_an_fps_it_cannot_time(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "two.mp4", num_frames=2, fps=Fraction(10), audio=False)
    code, out, err = run_cli(capsys, src, "-o", tmp_path / "x.gif", "--fps", "1000", *FAST, "-q")
    assert code == 2 and out == "", err
    assert one_error_line(err) == (
        "vidstyle: error: --fps 1000: a .gif file shows at most 50 frames per second (its frame delays are whole "
        "hundredths of a second, and players show delays under 2/100 s as 1/10 s); use --fps 50 or less"
    )
    assert fake_engine.calls == 0 and not (tmp_path / "x.gif").exists()


def test_a_gif_at_50_fps_keeps_every_frame_and_the_duration(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "two.mp4", num_frames=2, fps=Fraction(10), audio=False)
    code, _, err = run_cli(capsys, src, "-o", tmp_path / "x.gif", "--fps", "50", *FAST, "-q")
    assert code == 0, err
    assert gif_times(tmp_path / "x.gif") == [(2 * n, 2) for n in range(10)]  # 0.2 s


@pytest.mark.parametrize("fps, end", [(60, 20), (120, 10)])
def test_a_source_faster_than_a_gif_keeps_its_duration_with_delays_players_honour(
    tmp_path, capsys, fake_engine, fps, end
):
    src = make_clip(tmp_path / "fast.mp4", num_frames=12, fps=Fraction(fps), audio=False)
    code, _, err = run_cli(capsys, src, "-o", tmp_path / "x.gif", *FAST)
    assert code == 0, err
    times = gif_times(tmp_path / "x.gif")
    starts = [pts for pts, _ in times]
    assert starts[0] == 0 and times[-1][0] + times[-1][1] == end, times  # 12 frames of 1/fps s
    assert all(later - earlier >= 2 for earlier, later in zip(starts, starts[1:])), times
    assert times[-1][1] >= 2, times
    assert any("a .gif file shows at most 50" in line for line in notes(err)), err


# ------------------------------------------------------------------ x265 in MP4/MOV, few frames


@pytest.mark.parametrize("ext", [".mp4", ".mov"])
@pytest.mark.parametrize("num_frames", [1, 2, 3])
def test_x265_writes_clips_of_one_to_three_frames(tmp_path, capsys, fake_engine, ext, num_frames):
    # x265 dates the packets of a clip shorter than its B-frame delay from a delay it never measured
    src = make_clip(
        tmp_path / "in.mp4", num_frames=num_frames, fps=Fraction(10), time_base=Fraction(1, 10240), audio=False
    )
    out = tmp_path / f"out{ext}"
    code, _, err = run_cli(capsys, src, "-o", out, "--codec", "libx265", *FAST, "-q")
    assert code == 0, err
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "hevc"
        assert [float(frame.pts * frame.time_base) for frame in frames] == pytest.approx(
            [n / 10 for n in range(num_frames)]
        )
        assert float(stream.duration * stream.time_base) == pytest.approx(num_frames / 10)


def test_impossible_decode_times_are_rebuilt_from_the_frames_times():
    from vidstyle.frames import Frame
    from vidstyle.media.timestamps import PacketDurations

    durations = PacketDurations(Fraction(1, 10240))
    frame = Frame(image_u8=np.zeros((2, 2, 3), np.uint8), pts=0, time_base=Fraction(1, 10240), index=0, duration=1024)
    for pts in (0, 1024):
        durations.note(pts, frame)
    packets = []
    for pts, dts in ((0, -94657007708776), (1024, -94657007707752)):  # what x265 gave for a 2-frame clip
        packet = av.Packet(b"\0")
        packet.time_base, packet.pts, packet.dts = Fraction(1, 10240), pts, dts
        packets.append(packet)
    ready = durations.timed(packets) + durations.last(dts_timed=True)
    assert [(p.pts, p.dts, p.duration) for p in ready] == [(0, 0, 1024), (1024, 1024, 1024)]

    durations = PacketDurations(Fraction(1, 90000))  # B-frames: the encoder's own dts stay
    for pts in (0, 9000, 18000):
        durations.note(pts, frame)
    packets = []
    for pts, dts in ((0, -18000), (18000, -9000), (9000, 0)):
        packet = av.Packet(b"\0")
        packet.time_base, packet.pts, packet.dts = Fraction(1, 90000), pts, dts
        packets.append(packet)
    assert [p.dts for p in durations.timed(packets) + durations.last(dts_timed=False)] == [-18000, -9000, 0]


# ------------------------------------------------------------------ files that are not what their names say


def test_a_subtitle_file_named_mp4_is_no_video_not_a_cut_mp4(tmp_path, capsys, fake_engine):
    src = tmp_path / "subs_as.mp4"
    src.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n\n2\n00:00:01,000 --> 00:00:02,000\nagain\n")
    code, _, err = run_cli(capsys, src, "-o", tmp_path / "out.mp4", *FAST, "-q")
    assert code == 2
    assert one_error_line(err) == f"vidstyle: error: no video stream in {src} (found: subtitle)"


@pytest.mark.parametrize("name, kind", [("x.jpg", "JPEG"), ("x.png", "PNG")])
def test_a_text_file_named_as_an_image_is_not_an_image(tmp_path, capsys, fake_engine, name, kind):
    src = tmp_path / name
    src.write_text("hello, this is text\nnot a picture\n")
    code, _, err = run_cli(capsys, src, "-o", tmp_path / "out.mp4", *FAST, "-q")
    assert code == 2
    assert one_error_line(err) == (
        f"vidstyle: error: cannot read {src} as a video or image: FFmpeg finds no {kind} picture in it "
        "(not an image, or a damaged one)"
    )


# ------------------------------------------------------------------ SVT-AV1 on stderr

SVT_WRITER = """
import sys
from fractions import Fraction
import numpy as np
from vidstyle.frames import Frame
from vidstyle.media.video_writer import VideoWriter

writer = VideoWriter(sys.argv[1], width=64, height=36, time_base=Fraction(1, 10), fps=Fraction(10), codec="libsvtav1")
for n in range(2):
    writer.write(Frame(image_u8=np.full((36, 64, 3), 40 * n, np.uint8), pts=n, time_base=Fraction(1, 10), index=n))
writer.close()
"""


@pytest.mark.skipif("libsvtav1" not in av.codecs_available, reason="this FFmpeg has no SVT-AV1")
@pytest.mark.parametrize("user_level", [None, "3"])
def test_svt_av1_prints_its_settings_only_when_the_user_asks(tmp_path, user_level):
    env = {key: value for key, value in os.environ.items() if key != "SVT_LOG"}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **({"SVT_LOG": user_level} if user_level else {}))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SVT_WRITER), str(tmp_path / "out.mkv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert ("Svt[info]" in proc.stderr) == (user_level == "3"), proc.stderr  # the user's SVT_LOG is theirs
    with av.open(str(tmp_path / "out.mkv")) as written:
        assert len(list(written.decode(video=0))) == 2
