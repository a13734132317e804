"""Clip export as a user drives it from the command line: --fps, sizes for every
format, PNG sequences, --compare, trims with their audio. The optimizer is
replaced by an instant negative (``fakes.InvertingEngine``) so that each
output pixel can be traced to its input frame; the files are real."""

import re
import types
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, run_cli
from fakes import fake_engine  # noqa: F401 - fixture

from vidstyle.errors import InputError
from vidstyle.frames import Frame
from vidstyle.media import probe, read_frames
from vidstyle.media.framerate import FrameRateConverter
from vidstyle.parsing import parse_rate

FAST = ["--max-side", "64", "-q"]


def read_png_sequence(folder) -> list[np.ndarray]:
    names = sorted(p.name for p in folder.iterdir() if re.fullmatch(r"\d{5}\.png", p.name))
    return [cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB) for name in names]


def audio_duration_s(path) -> float:
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
        return sum(f.samples for f in frames) / frames[0].sample_rate


# ------------------------------------------------------------------ --fps


@pytest.mark.parametrize(
    "text, rate",
    [
        ("30", Fraction(30)),
        ("29.97", Fraction(30000, 1001)),
        ("30000/1001", Fraction(30000, 1001)),
        ("12.5", Fraction(25, 2)),
        ("23.976", Fraction(24000, 1001)),
        ("ntsc", Fraction(30000, 1001)),
    ],
)
def test_parse_rate_accepts_ffmpeg_forms(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["abc", "0", "-5", "1/0", "5000"])
def test_parse_rate_rejects_nonsense(text):
    with pytest.raises(InputError, match="frame rate"):
        parse_rate(text)


def numbered_frames(times_s, time_base=Fraction(1, 12800)):
    """Tiny frames whose pixel value is their position, at the given times."""
    return [
        Frame(
            image_u8=np.full((2, 2, 3), i, np.uint8), pts=round(Fraction(t) / time_base), time_base=time_base, index=i
        )
        for i, t in enumerate(times_s)
    ]


def ffmpeg_fps_filter(frames, rate: str, *, last_duration_s: Fraction) -> list[int]:
    """Which input frames FFmpeg's fps filter shows, by position. Each frame
    lasts until the next; the last one ``last_duration_s``."""
    graph = av.filter.Graph()
    source = graph.add_buffer(width=16, height=16, format="rgb24", time_base=frames[0].time_base)
    fps, sink = graph.add("fps", rate), graph.add("buffersink")
    source.link_to(fps)
    fps.link_to(sink)
    graph.configure()
    shown = []
    ends = [f.pts for f in frames[1:]] + [frames[-1].pts + round(last_duration_s / frames[0].time_base)]
    for frame, end in [*zip(frames, ends), (None, None)]:
        if frame is not None:
            av_frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), frame.index, np.uint8), format="rgb24")
            av_frame.pts, av_frame.time_base, av_frame.duration = frame.pts, frame.time_base, end - frame.pts
        graph.push(None if frame is None else av_frame)
        while True:
            try:
                shown.append(int(graph.pull().to_ndarray()[0, 0, 0]))
            except (av.error.BlockingIOError, av.error.EOFError):
                break
    return shown


@pytest.mark.parametrize("rate", ["10", "50", "30000/1001", "12.5"])
@pytest.mark.parametrize("times", ["cfr25", "vfr"])
def test_frame_rate_conversion_picks_the_frames_ffmpeg_fps_picks(rate, times):
    times_s = (
        [i / 25 for i in range(12)]
        if times == "cfr25"
        else [0, 0.03, 0.05, 0.1, 0.11, 0.17, 0.2, 0.2033, 0.3, 0.3333, 0.3444, 0.4444]
    )
    frames = numbered_frames(times_s)
    converter = FrameRateConverter(parse_rate(rate), source_fps=Fraction(25))
    kept = list(converter.select(frames))
    out = list(converter.expand(kept))
    assert [f.index for f in kept] == list(range(len(kept)))  # re-indexed for the stylizer
    assert len({int(f.image_u8[0, 0, 0]) for f in kept}) == len(kept)  # no frame is stylized twice
    assert [int(f.image_u8[0, 0, 0]) for f in out] == ffmpeg_fps_filter(frames, rate, last_duration_s=Fraction(1, 25))
    step = 1 / parse_rate(rate)
    assert [f.pts * f.time_base for f in out] == [n * step for n in range(len(out))]  # exact Fractions


def test_fps_resamples_the_video_and_leaves_the_audio_alone(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=12)  # 25 fps, 0.48 s of audio
    source = list(read_frames(src))
    code, out, err = run_cli(
        capsys, src, "--style", STYLE_PATH, "-o", tmp_path / "ten.mp4", "--fps", "10", "--json", *FAST
    )
    assert code == 0, err
    assert '"frames": 5' in out and '"frames_written": 5' in out and fake_engine.calls == 5  # dropped unstylized
    frames = list(read_frames(tmp_path / "ten.mp4"))
    assert [f.pts * f.time_base for f in frames] == [Fraction(n, 10) for n in range(5)]
    assert probe(tmp_path / "ten.mp4").fps == 10
    for frame, shown in zip(frames, [1, 3, 6, 8, 11]):  # FFmpeg's fps=10 choice (see the test above)
        assert np.abs(frame.image_u8.astype(int) - (255 - source[shown].image_u8)).mean() < 6
    assert audio_duration_s(tmp_path / "ten.mp4") == pytest.approx(audio_duration_s(src), abs=0.03)

    fake_engine.calls = 0
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", tmp_path / "ntsc.mp4", "--fps", "29.97", *FAST)
    assert code == 0, err
    assert fake_engine.calls == 12  # repeated frames are stylized once
    assert probe(tmp_path / "ntsc.mp4").fps == Fraction(30000, 1001)
    times = [f.pts * f.time_base for f in read_frames(tmp_path / "ntsc.mp4")]
    assert times == [Fraction(1001 * n, 30000) for n in range(14)]


# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    "name, expected",
    [
        ("out.mp4", (100, 76)),
        ("out.webm", (100, 76)),
        ("out.mkv", (100, 76)),
        ("out.mov", (101, 77)),  # ProRes 4444: chroma not subsampled, no rounding
        ("out.gif", (101, 77)),
        ("seq/%05d.png", (101, 77)),
    ],
)
def test_the_output_has_the_source_size_by_default_in_every_format(tmp_path, capsys, fake_engine, name, expected):
    """101x77: odd on both sides; chroma-subsampled formats round down to even."""
    src = make_clip(tmp_path / "odd.mkv", width=101, height=77, pix_fmt="yuv444p", num_frames=3, audio=False)
    dst = tmp_path / name
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, "--max-side", "32", "-q")
    assert code == 0, err
    if name.endswith(".png"):
        frames = read_png_sequence(tmp_path / "seq")
        assert len(frames) == 3 and frames[0].shape == (77, 101, 3)
    else:
        info = probe(dst)
        assert (info.width, info.height) == expected and len(list(read_frames(dst))) == 3
    if name.endswith(".gif"):
        assert b"NETSCAPE2.0\x03\x01\x00\x00" in dst.read_bytes()  # loops forever


def test_max_side_and_size_set_the_processing_size_and_output_size_the_output(tmp_path, capsys, fake_engine):
    """The source's size comes out unless --output-size says otherwise; a
    smaller processing size is finished at the output size (detail stage)."""
    src = make_clip(tmp_path / "in.mp4", width=128, height=96, num_frames=2, audio=False)
    cases = (
        (["--max-side", "32"], (32, 24), (128, 96)),
        (["--size", "48x32"], (48, 32), (128, 96)),
        (["--max-side", "32", "--output-size", "64x48"], (32, 24), (64, 48)),
        (["--max-side", "32", "--detail-iters", "0"], (32, 24), (128, 96)),
    )
    for number, (args, processing, output) in enumerate(cases):
        fake_engine.sizes = []
        dst = tmp_path / f"{number}.mp4"
        code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, "-q", *args)
        assert code == 0, err
        assert (probe(dst).width, probe(dst).height) == output
        detail = "--detail-iters" not in args
        expected = [processing, output] * 2 if detail else [processing] * 2
        assert fake_engine.sizes == expected, args


# ------------------------------------------------------------------ PNG sequences


def test_png_sequence_is_lossless_numbered_from_one_and_drops_audio_once(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=12)  # has audio
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", tmp_path / "out" / "%05d.png", "--max-side", "64")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"{i:05d}.png" for i in range(1, 13)]  # FFmpeg's numbering; no temporary or work files left
    expected = [255 - f.image_u8 for f in read_frames(src)]
    assert all(np.array_equal(a, b) for a, b in zip(read_png_sequence(tmp_path / "out"), expected))
    notes = [line for line in err.splitlines() if "audio" in line]
    assert len(notes) == 1 and "left out" in notes[0]


def test_png_sequence_refuses_existing_frames_without_y_and_replaces_them_all_with_it(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=3, audio=False)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("00001.png", "00007.png", "notes.txt"):
        (out / name).write_bytes(b"old")
    pattern = out / "%05d.png"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", pattern, *FAST)
    assert code == 2 and "pass -y" in err and err.count("\n") == 1
    assert (out / "00001.png").read_bytes() == b"old"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", pattern, "-y", *FAST)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["00001.png", "00002.png", "00003.png", "notes.txt"]
    assert (out / "notes.txt").read_bytes() == b"old"  # not ours: untouched


def test_png_sequence_frames_appear_only_at_the_end_and_partial_frames_are_named_so(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=12, audio=False)
    out = tmp_path / "out"
    seen = []

    def interrupt_at_nine(call):
        seen.append(sorted(p.name for p in out.iterdir() if not p.name.startswith(".")))
        if call == 9:
            raise KeyboardInterrupt

    fake_engine.on_call = interrupt_at_nine
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", out / "%05d.png", *FAST)
    assert code == 130 and "partial output" in err and "%05d.partial.png" in err
    assert all(names == [] for names in seen)  # nothing looked finished during the run (frames wait in the work dir)
    partial = sorted(p.name for p in out.iterdir() if p.name.endswith(".partial.png"))
    assert partial == [f"{i:05d}.partial.png" for i in range(1, len(partial) + 1)] and 4 <= len(partial) <= 8
    assert not [p for p in out.iterdir() if re.fullmatch(r"\d{5}\.png", p.name)]

    fake_engine.on_call = None
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", out / "%05d.png", *FAST)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [f"{i:05d}.png" for i in range(1, 13)]  # partials superseded


def test_an_unnumbered_png_output_for_a_video_says_how_to_name_a_sequence(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=2, audio=False)
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", tmp_path / "out.png", *FAST)
    assert code == 2 and "out/%05d.png" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", tmp_path / "no" / "such" / "%05d.png", *FAST)
    assert code == 2 and "folder does not exist" in err


# ------------------------------------------------------------------ --compare


def test_compare_puts_the_input_left_and_the_stylized_frame_right(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", width=96, height=64, num_frames=4, audio=False)
    code, _, err = run_cli(
        capsys,
        src,
        "--style",
        STYLE_PATH,
        "-o",
        tmp_path / "cmp" / "%05d.png",
        "--compare",
        "--max-side",
        "48",
        "--output-size",
        "48x32",
        "-q",
    )
    assert code == 0, err
    frames = read_png_sequence(tmp_path / "cmp")
    inputs = [f.image_u8 for f in read_frames(src, size=(48, 32))]
    assert len(frames) == 4 and frames[0].shape == (32, 96, 3)
    for frame, source in zip(frames, inputs):
        assert np.array_equal(frame[:, :48], source) and np.array_equal(frame[:, 48:], 255 - source)

    code, _, err = run_cli(
        capsys,
        src,
        "--style",
        STYLE_PATH,
        "-o",
        tmp_path / "cmp.mp4",
        "--compare",
        "--max-side",
        "48",
        "-q",
    )
    assert code == 0, err
    first = next(read_frames(tmp_path / "cmp.mp4"))
    assert first.image_u8.shape == (64, 192, 3)  # the input at full size, not upscaled from the processing size
    source = next(read_frames(src)).image_u8
    assert np.abs(first.image_u8[:, :96].astype(int) - source).mean() < 4


# ------------------------------------------------------------------ trims


@pytest.mark.parametrize("ext", [".mp4", ".webm"])
@pytest.mark.parametrize(
    "trim",
    [["-ss", "0.4", "-t", "0.8"], ["-ss", "0.4", "-to", "1.2"], ["-ss", "0.4", "-t", "0.8", "--fps", "10"]],
    ids=["ss-t", "ss-to", "ss-t-fps"],
)
def test_trimmed_export_cuts_the_audio_to_the_video(tmp_path, capsys, fake_engine, ext, trim):
    src = make_clip(tmp_path / "in.mp4", num_frames=50)  # 2 s at 25 fps with audio
    dst = tmp_path / f"out{ext}"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, *trim, *FAST)
    assert code == 0, err
    frames = list(read_frames(dst))
    rate = probe(dst).fps
    video_s = frames[-1].time_s + float(1 / rate)
    assert len(frames) == (8 if "--fps" in trim else 20) and video_s == pytest.approx(0.8, abs=0.01)
    assert audio_duration_s(dst) == pytest.approx(video_s, abs=0.1)


AAC_PACKET_S = 1024 / 44100  # one AAC packet of the test clips' audio


def decoded_audio_span_s(path) -> tuple[float, float]:
    """Start and end (seconds) of the audio a decoder gives for ``path``; (0, 0) without samples."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    if not frames:
        return 0.0, 0.0
    return float(frames[0].time), float(frames[-1].time) + frames[-1].samples / frames[-1].sample_rate


def declared_duration_s(path, kind: str) -> float | None:
    """The duration the container gives its first ``kind`` ("audio", "video") stream, in seconds."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return float(stream.duration * stream.time_base) if stream.duration else None


@pytest.mark.parametrize("trim", [["-t", "0.01"], ["-ss", "0.4", "-t", "0.01"]], ids=["t", "ss-t"])
def test_a_trim_shorter_than_one_aac_packet_keeps_the_audio_of_its_span(tmp_path, capsys, fake_engine, trim):
    # Copied AAC is cut to whole packets of 23 ms; a 10 ms range used to keep no packet (or one
    # the container said was 18 ms long): the output's audio stream had no samples at -t 0.01.
    src = make_clip(tmp_path / "in.mp4", num_frames=50)  # 2 s at 25 fps, AAC 44.1 kHz
    dst = tmp_path / "short.mp4"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, *trim, *FAST)
    assert code == 0, err
    video_s = declared_duration_s(dst, "video")
    assert video_s == pytest.approx(0.01, abs=1e-3)
    assert declared_duration_s(dst, "audio") == pytest.approx(video_s, abs=1e-3)  # the container says: the same span
    start_s, end_s = decoded_audio_span_s(dst)
    assert start_s == pytest.approx(0.0, abs=1e-3)  # a packet starting before -ss is skipped by the edit list
    assert video_s <= end_s <= video_s + AAC_PACKET_S  # whole packets: a decoder plays at most one past the end


def test_a_trimmed_mkv_keeps_its_video_where_the_trim_puts_it(tmp_path, capsys, fake_engine):
    # Matroska has no edit list: a copied AAC packet starting before -ss shifted the whole file
    # (the video started up to a packet late); it is left out there, as MP4/MOV skip it instead.
    src = make_clip(tmp_path / "in.mp4", num_frames=50)  # frames every 40 ms, AAC packets of 23 ms
    starts = {}
    for ext in (".mkv", ".mp4"):
        dst = tmp_path / f"out{ext}"
        code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, "-ss", "0.5", "-t", "0.3", *FAST)
        assert code == 0, err
        with av.open(str(dst)) as container:
            starts[ext] = next(container.decode(video=0)).time
        audio_start_s, _ = decoded_audio_span_s(dst)
        assert 0.0 <= audio_start_s < AAC_PACKET_S
    assert starts[".mkv"] == pytest.approx(0.02, abs=1e-3) and starts[".mp4"] == pytest.approx(0.02, abs=1e-3)


def test_multi_pass_replays_through_fps_and_compare(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=12, audio=False)
    code, out, err = run_cli(
        capsys,
        src,
        "--style",
        STYLE_PATH,
        "-o",
        tmp_path / "out.mp4",
        "--passes",
        "2",
        "--fps",
        "10",
        "--compare",
        "--json",
        *FAST,
    )
    assert code == 0, err
    frames = list(read_frames(tmp_path / "out.mp4"))
    assert len(frames) == 5 and frames[0].image_u8.shape == (48, 128, 3)
    assert [f.pts * f.time_base for f in frames] == [Fraction(n, 10) for n in range(5)]


def test_the_progress_bar_total_follows_trims_and_fps(tmp_path, fake_engine):
    from vidstyle.pipeline.video import stylize_video

    src = make_clip(tmp_path / "in.mp4", num_frames=50, audio=False)  # 2 s at 25 fps
    totals = []
    for dst, options in (
        ("all.mp4", {}),
        ("trim.mp4", {"start_s": 0.4, "end_s": 1.2}),
        ("slow.mp4", {"start_s": 0.4, "end_s": 1.2, "fps": 10}),
    ):
        summary = stylize_video(
            src,
            tmp_path / dst,
            style=STYLE_PATH,
            max_side=64,
            on_start=lambda info, size: totals.append(info.num_frames),
            **options,
        )
        assert summary.frames == totals[-1]
    assert totals == [50, 20, 8]


def test_each_refinement_pass_gets_a_progress_bar_with_a_total(tmp_path, fake_engine):
    import io

    from vidstyle.cli.progress import ProgressReporter
    from vidstyle.pipeline.events import FrameDone, PassStarted
    from vidstyle.pipeline.video import stylize_video

    src = make_clip(tmp_path / "in.mp4", num_frames=12, audio=False)
    reporter = ProgressReporter(file=io.StringIO())
    bars, events = [], []

    def on_event(event):
        events.append(event)
        reporter.on_event(event)
        if reporter.bar is not None and (not bars or bars[-1] is not reporter.bar):
            bars.append(reporter.bar)

    stylize_video(
        src,
        tmp_path / "out.mp4",
        style=STYLE_PATH,
        max_side=64,
        passes=3,
        on_start=reporter.on_start,
        on_event=on_event,
    )
    starts = [e for e in events if isinstance(e, PassStarted)]
    assert [(e.number, e.passes, e.frames) for e in starts] == [(2, 3, 11), (3, 3, 11)]
    assert [(bar.total, bar.n) for bar in bars] == [(12, 12), (11, 11), (11, 11)]
    assert [bar.desc for bar in bars[1:]] == ["pass 2/3 64x48", "pass 3/3 64x48"]
    assert sum(isinstance(e, FrameDone) for e in events) == 12 + 2 * 11
    reporter.close()


def test_slow_iterations_show_their_budget_size_and_duration_on_the_bar(monkeypatch):
    import io

    import vidstyle.cli.progress as progress
    from vidstyle.engines.base import IterationDone
    from vidstyle.pipeline.events import FrameStarted

    clock = iter([0.0, 0.0, 0.5, 250.5, 251.0])  # construction, frame start, a fast iteration, a slow one
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    reporter = progress.ProgressReporter(file=io.StringIO())
    reporter.on_start(types.SimpleNamespace(num_frames=3), (256, 144))
    reporter.on_event(FrameStarted(index=0))
    reporter.on_event(IterationDone(iteration=1, loss=2e7, budget=168, size=(3840, 2160)))
    assert reporter.bar is not None and reporter.bar.postfix is None  # fast and not a 10th: not redrawn
    reporter.on_event(IterationDone(iteration=2, loss=1.5e7, budget=168, size=(3840, 2160)))
    assert reporter.bar.postfix == "iter 2/168 3840x2160 250 s/it loss 1.5e+07"
    reporter.close()


def test_a_network_frame_shows_its_passes_and_no_loss_on_the_bar(monkeypatch):
    import io

    import vidstyle.cli.progress as progress
    from vidstyle.engines.base import FrameResult, IterationDone
    from vidstyle.pipeline.events import FrameDone, FrameStarted

    clock = iter([0.0, 0.0, 2.0, 2.0])  # construction, frame start, a slow pass
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    reporter = progress.ProgressReporter(file=io.StringIO())
    reporter.on_start(types.SimpleNamespace(num_frames=3), (256, 144))
    reporter.on_event(FrameStarted(index=0))
    reporter.on_event(IterationDone(iteration=1, loss=float("nan")))  # what the network engine reports
    assert reporter.bar is not None and reporter.bar.postfix == "iter 1 2 s/it"
    image = np.zeros((144, 256, 3), np.uint8)
    passes = FrameResult(image_u8=image, num_iters=2, converged=True, losses={}, seconds=0.1)
    reporter.on_event(FrameDone(index=0, result=passes, cold_start=True, scene_cut=False))
    assert reporter.bar.postfix == "2 passes (cold)"
    optimized = FrameResult(image_u8=image, num_iters=12, converged=True, losses={"total": 3.4e4}, seconds=1.0)
    reporter.on_event(FrameDone(index=1, result=optimized, cold_start=False, scene_cut=False))
    assert reporter.bar.postfix == "12 it loss 3.4e+04"
    reporter.close()


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".mkv", ".webm", ".gif"])
def test_every_frame_keeps_its_own_duration_the_last_one_included(tmp_path, capsys, fake_engine, ext):
    from PIL import Image

    delays_ms = [100, 200, 300, 400]  # a GIF whose last frame is held longest
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)) for _ in delays_ms]
    src = tmp_path / "in.gif"
    images[0].save(src, save_all=True, append_images=images[1:], duration=delays_ms, loop=0)
    dst = tmp_path / f"out{ext}"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, *FAST)
    assert code == 0, err
    with av.open(str(dst)) as container:
        stream = container.streams.video[0]
        packets = sorted(
            (p.pts * p.time_base, p.duration * p.time_base) for p in container.demux(stream) if p.pts is not None
        )
        shown_s = container.duration / av.time_base
    assert [start for start, _ in packets] == [0, Fraction(1, 10), Fraction(3, 10), Fraction(6, 10)]
    assert shown_s == pytest.approx(1.0, abs=0.011), packets  # was 0.85: the last frame cut to the mean period
    if ext != ".mp4":  # MP4 times all but the last sample by the next one's dts, not by its own duration
        assert packets[-1][1] == pytest.approx(0.4, abs=0.011)


def test_a_held_last_frame_ends_where_the_trim_ends(tmp_path, capsys, fake_engine):
    from PIL import Image

    rng = np.random.default_rng(1)
    images = [Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)) for _ in range(3)]
    src = tmp_path / "in.gif"
    images[0].save(src, save_all=True, append_images=images[1:], duration=[100, 100, 2000], loop=0)
    dst = tmp_path / "out.mkv"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, "-t", "0.7", *FAST)
    assert code == 0, err
    with av.open(str(dst)) as container:
        assert container.duration / av.time_base == pytest.approx(0.7, abs=0.011)


@pytest.mark.parametrize("ext", [".mp4", ".mov"])
def test_a_video_that_starts_after_its_audio_ends_where_it_ended(tmp_path, capsys, fake_engine, ext):
    fps = Fraction(25)
    pts_list = [50 + i for i in range(8)]  # the video from 2.0 s, its audio from 0 (make_clip)
    src = make_clip(tmp_path / "late.mp4", num_frames=8, fps=fps, time_base=1 / fps, pts_list=pts_list)
    dst = tmp_path / f"out{ext}"
    code, _, err = run_cli(capsys, src, "--style", STYLE_PATH, "-o", dst, *FAST)
    assert code == 0, err
    with av.open(str(dst)) as container:
        video = container.streams.video[0]
        start_s, shown_s = float(video.start_time * video.time_base), float(video.duration * video.time_base)
        assert (start_s, shown_s) == pytest.approx((2.0, 0.32), abs=0.011)  # the last frame was held 2.0 s longer
        assert container.duration / av.time_base == pytest.approx(2.32, abs=0.011)
