"""The source's audio when it is re-encoded or has several tracks: channel
layouts the output's encoder refuses (libopus takes no 5.1(side) or 2.1,
what AC3/E-AC3/FLAC 5.1 sources have) are mixed to one it takes before any
frame is stylized, and every audio track reaches the output. The optimizer
is the instant ``fakes.InvertingEngine``; the files are real PyAV encodes."""

from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import STYLE_PATH, moving_frames, run_cli
from fakes import fake_engine  # noqa: F401 - fixture

from vidstyle.media import audio

FAST = ["--max-side", "64", "-q"]
FPS = 25
NUM_FRAMES = 8  # 0.32 s


def make_clip_with_audio(path, tracks):
    """A 64x48 H.264 clip of NUM_FRAMES frames at FPS with one audio stream
    per ``(codec, rate, layout)`` of ``tracks``, each a sine as long as the video."""
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        streams = [(container.add_stream(codec, rate=rate, layout=layout), rate) for codec, rate, layout in tracks]
        for i, image in enumerate(moving_frames(64, 48, NUM_FRAMES)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for stream, rate in streams:
            _write_sine(container, stream, rate, NUM_FRAMES / FPS)
    return path


def _write_sine(container, stream, rate: int, duration_s: float) -> None:
    ctx = stream.codec_context
    # packed samples: PyAV cannot fill 8 planar channels, and the encoder converts
    channels, fmt = ctx.layout.nb_channels, ctx.format.packed
    step = ctx.frame_size or 1024
    total = int(duration_s * rate)
    for start in range(0, total, step):
        t = np.arange(start, min(start + step, total)) / rate
        planes = np.repeat((0.2 * np.sin(2 * np.pi * 440 * t))[None, :], channels, axis=0)
        if fmt.name.startswith("s16"):
            planes = (planes * 32767).astype(np.int16)
        elif fmt.name.startswith("s32"):
            planes = (planes * 2**31).astype(np.int32)
        else:
            planes = planes.astype(np.float32)
        array = np.ascontiguousarray(planes.T.reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(array, format=fmt.name, layout=ctx.layout.name)
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def audio_tracks(path):
    """(codec, layout, seconds of decoded samples) of each audio stream of ``path``."""
    with av.open(str(path)) as container:
        found = [(s.codec_context.name, s.layout.name, s.index) for s in container.streams.audio]
    tracks = []
    for codec, layout, index in found:
        with av.open(str(path)) as container:
            frames = list(container.decode(container.streams[index]))
        tracks.append((codec, layout, sum(f.samples for f in frames) / frames[0].sample_rate))
    return tracks


@pytest.mark.parametrize(
    "ext, layout, expected",
    [
        (".webm", "5.1(side)", ("opus", "5.1")),  # an AC3/E-AC3/FLAC 5.1 source
        (".webm", "2.1", ("opus", "stereo")),
        (".webm", "4.0", ("opus", "5.0")),
        (".webm", "7.1", ("opus", "7.1")),
        (".webm", "mono", ("opus", "mono")),
        (".mp4", "5.1(side)", ("aac", "5.1")),  # AAC 5.1(side) decodes as "6 channels": positions lost
        (".mp4", "2.1", ("aac", "2.1")),
        (".mp4", "7.1(wide)", ("aac", "5.1")),  # FLC/FRC mixed into the front
    ],
)
def test_reencoded_audio_gets_a_layout_the_encoder_takes(tmp_path, capsys, fake_engine, ext, layout, expected):
    # libopus refused 5.1(side) and 2.1 at the first audio frame: exit 1 with
    # "failed at frame 0: Invalid argument ... rerun the same command to continue", every time.
    src = make_clip_with_audio(tmp_path / "in.mkv", [("flac", 48000, layout)])
    dst = tmp_path / f"out{ext}"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, *FAST)
    assert code == 0, err
    ((codec, out_layout, seconds),) = audio_tracks(dst)
    assert (codec, out_layout) == expected
    assert seconds == pytest.approx(NUM_FRAMES / FPS, abs=0.03)


@pytest.mark.parametrize(
    "layout, codec, expected",
    [
        ("5.1(side)", "libopus", "5.1"),
        ("5.0(side)", "libopus", "5.0"),
        ("2.1", "libopus", "stereo"),
        ("4.0", "libopus", "5.0"),
        ("7.1(wide)", "libopus", "5.1"),
        ("downmix", "libopus", "stereo"),
        ("22.2", "libopus", "7.1"),
        ("stereo", "libopus", "stereo"),
        ("5.1(side)", "aac", "5.1"),
        ("6.1", "aac", "7.1"),
        ("4.0", "aac", "4.0"),
        ("22.2", "aac", "7.1"),
        ("3 channels", "aac", "3.0"),
    ],
)
def test_encoder_layout_keeps_what_the_encoder_takes_else_the_nearest(layout, codec, expected):
    assert audio.encoder_layout(codec, layout, 48000) == expected


def test_audio_the_encoder_refuses_stops_the_run_before_any_frame_is_stylized(
    tmp_path, capsys, fake_engine, monkeypatch
):
    src = make_clip_with_audio(tmp_path / "in.mkv", [("flac", 48000, "5.1(side)")])
    monkeypatch.setattr(audio, "_encoder_takes", lambda codec, layout, rate: False)
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", tmp_path / "out.webm", *FAST)
    assert code != 0 and fake_engine.calls == 0
    (line,) = [line for line in err.splitlines() if line.strip()]
    assert "libopus" in line and "5.1(side)" in line and "rerun" not in line
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("ext", [".mp4", ".webm", ".mkv"])
def test_every_audio_track_is_kept(tmp_path, capsys, fake_engine, ext):
    # A screen recording's desktop and microphone tracks: the second one was dropped without a word.
    src = make_clip_with_audio(tmp_path / "in.mp4", [("aac", 48000, "stereo"), ("aac", 44100, "mono")])
    dst = tmp_path / f"out{ext}"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, *FAST)
    assert code == 0, err
    tracks = audio_tracks(dst)
    codec = "opus" if ext == ".webm" else "aac"
    assert [(c, layout) for c, layout, _ in tracks] == [(codec, "stereo"), (codec, "mono")]
    for _, _, seconds in tracks:
        assert seconds == pytest.approx(NUM_FRAMES / FPS, abs=0.03)


def test_every_audio_track_is_cut_to_a_trimmed_range(tmp_path, capsys, fake_engine):
    # the 7.1 AAC track's frames are cut by sample: PyAV's arrays of 8 planar channels crashed
    src = make_clip_with_audio(tmp_path / "in.mkv", [("aac", 48000, "7.1"), ("flac", 44100, "2.1")])
    dst = tmp_path / "out.webm"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, "-ss", "0.08", "-t", "0.16", *FAST)
    assert code == 0, err
    tracks = audio_tracks(dst)
    assert [(c, layout) for c, layout, _ in tracks] == [("opus", "7.1"), ("opus", "stereo")]
    for _, _, seconds in tracks:
        assert seconds == pytest.approx(0.16, abs=0.03)
