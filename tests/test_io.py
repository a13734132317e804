"""PyAV round trips on real encoded clips: frame counts, exact timestamps, audio,
rotation, odd sizes, colour, bad and damaged inputs, safe and atomic output."""

import errno
from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import make_audio_file, make_clip, make_faststart_copy, moving_frames

from vidstyle.errors import CorruptInputError, InputError, OutputError
from vidstyle.frames import Frame
from vidstyle.media import VideoWriter, probe, read_frames


def audio_duration_s(path) -> float:
    """Seconds of decoded audio samples in ``path`` (priming removed by FFmpeg)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
        return sum(f.samples for f in frames) / frames[0].sample_rate


def audio_start_s(path) -> float:
    with av.open(str(path)) as container:
        frame = next(container.decode(audio=0))
        return float(frame.pts * frame.time_base)


def copy_video(src, dst, **writer_options):
    """Read every frame of ``src`` and write it to ``dst`` with ``src``'s audio."""
    info = probe(src)
    frames = list(read_frames(src))
    with VideoWriter(
        dst,
        width=info.width,
        height=info.height,
        time_base=info.time_base,
        fps=info.fps,
        audio_from=str(src),
        **writer_options,
    ) as writer:
        for frame in frames:
            writer.write(frame)
    return frames


def mean_abs_error(frames_a, frames_b) -> float:
    return float(
        np.mean([np.abs(a.image_u8.astype(int) - b.image_u8.astype(int)).mean() for a, b in zip(frames_a, frames_b)])
    )


VFR_PTS = [0, 3000, 4500, 9000, 9900, 15000, 18000, 18300, 27000, 30000, 31000, 40000]


@pytest.mark.parametrize(
    "fps, time_base, pts_list",
    [
        (Fraction(25), Fraction(1, 12800), None),
        (Fraction(30000, 1001), Fraction(1, 30000), [i * 1001 for i in range(12)]),
        (Fraction(20), Fraction(1, 90000), VFR_PTS),
    ],
    ids=["cfr25", "ntsc", "vfr"],
)
def test_round_trip_keeps_count_timestamps_audio_and_pixels(tmp_path, fps, time_base, pts_list):
    src = make_clip(tmp_path / "in.mp4", fps=fps, time_base=time_base, pts_list=pts_list)
    source_frames = copy_video(src, tmp_path / "out.mp4")
    out_info = probe(tmp_path / "out.mp4")
    out_frames = list(read_frames(tmp_path / "out.mp4"))
    assert len(out_frames) == len(source_frames) == 12
    assert [f.index for f in out_frames] == list(range(12))
    source_times = [f.pts * f.time_base for f in source_frames]
    assert [f.pts * f.time_base for f in out_frames] == source_times  # exact Fractions
    if pts_list is None or fps == Fraction(30000, 1001):
        assert out_info.fps == fps
    assert out_info.has_audio
    assert audio_duration_s(tmp_path / "out.mp4") == pytest.approx(audio_duration_s(src), abs=1e-3)
    assert mean_abs_error(source_frames, out_frames) < 4.0


def test_matroska_rounds_timestamps_to_its_millisecond(tmp_path):
    src = make_clip(tmp_path / "vfr.mp4", fps=Fraction(20), time_base=Fraction(1, 90000), pts_list=VFR_PTS)
    source_frames = copy_video(src, tmp_path / "out.mkv")
    out_frames = list(read_frames(tmp_path / "out.mkv"))
    assert len(out_frames) == 12
    offset = out_frames[0].pts * out_frames[0].time_base  # Matroska may shift both streams for AAC priming
    for source, out in zip(source_frames, out_frames):
        error = out.pts * out.time_base - offset - source.pts * source.time_base
        assert abs(error) <= Fraction(1, 2000)


def test_frames_without_pts_get_times_from_fps(tmp_path):
    dst = tmp_path / "nopts.mp4"
    images = moving_frames(64, 48, 5)
    with VideoWriter(dst, width=64, height=48, time_base=Fraction(1, 1000), fps=Fraction(10)) as writer:
        for i, image in enumerate(images):
            writer.write(Frame(image_u8=image, pts=None, time_base=None, index=i))
    assert [f.time_s for f in read_frames(dst)] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_resize_on_decode_down_and_up(tmp_path):
    src = make_clip(tmp_path / "in.mp4", width=128, height=96, audio=False)
    small = list(read_frames(src, size=(64, 48)))
    assert small[0].image_u8.shape == (48, 64, 3) and small[0].image_u8.dtype == np.uint8
    assert [f.index for f in small] == list(range(12))
    large = next(read_frames(src, size=(200, 150)))
    assert large.image_u8.shape == (150, 200, 3) and large.image_u8.flags.c_contiguous


def test_odd_sizes_read_and_write_even(tmp_path):
    src = make_clip(tmp_path / "odd.mkv", width=101, height=77, pix_fmt="yuv444p")
    info = probe(src)
    assert (info.width, info.height) == (101, 77)
    frames = list(read_frames(src))
    assert frames[0].image_u8.shape == (77, 101, 3)
    copy_video(src, tmp_path / "odd_out.mp4")
    out = probe(tmp_path / "odd_out.mp4")
    assert (out.width, out.height) == (100, 76)
    assert len(list(read_frames(tmp_path / "odd_out.mp4"))) == 12


@pytest.mark.parametrize("counterclockwise, clockwise", [(-90, 90), (90, 270), (180, 180)])
def test_rotation_metadata_gives_upright_frames(tmp_path, counterclockwise, clockwise):
    frames = moving_frames(64, 48, 4)
    frames[0][:8, :8] = (255, 0, 0)  # red marker in the stored top-left corner
    src = make_clip(tmp_path / "rot.mp4", frames=frames, rotation=counterclockwise, audio=False)
    info = probe(src)
    quarter = clockwise in (90, 270)
    assert info.rotation == clockwise
    assert (info.width, info.height) == ((48, 64) if quarter else (64, 48))
    first = next(read_frames(src))
    assert first.image_u8.shape == ((64, 48, 3) if quarter else (48, 64, 3))
    # where the stored top-left corner lands once the picture is upright
    corner = {
        90: (slice(0, 6), slice(-6, None)),
        270: (slice(-6, None), slice(0, 6)),
        180: (slice(-6, None), slice(-6, None)),
    }[clockwise]
    assert first.image_u8[corner][..., 0].mean() > 180 and first.image_u8[corner][..., 1].mean() < 90
    resized = next(read_frames(src, size=(info.width // 2, info.height // 2)))
    assert resized.image_u8.shape == (info.height // 2, info.width // 2, 3)


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv444p"])
def test_high_bit_depth_and_444_sources_decode(tmp_path, pix_fmt):
    src = make_clip(tmp_path / f"{pix_fmt}.mkv", pix_fmt=pix_fmt, audio=False)
    reference = moving_frames(64, 48, 12)
    assert probe(src).pix_fmt == pix_fmt
    frames = list(read_frames(src))
    assert len(frames) == 12 and frames[0].image_u8.dtype == np.uint8
    # x264's default crf on a 64x48 texture costs ~4-7 levels; a wrong bit depth or matrix costs far more
    assert np.abs(frames[3].image_u8.astype(int) - reference[3]).mean() < 10.0


def test_hd_colours_survive_a_round_trip(tmp_path):
    """Written as BT.709 and tagged so; read back with the tag."""
    image = np.zeros((720, 1280, 3), np.uint8)
    colours = [(200, 30, 40), (30, 200, 60), (40, 50, 220), (128, 128, 128)]
    for i, colour in enumerate(colours):
        image[:, i * 320 : (i + 1) * 320] = colour
    dst = tmp_path / "hd.mp4"
    with VideoWriter(dst, width=1280, height=720, time_base=Fraction(1, 25), fps=Fraction(25)) as writer:
        writer.write(Frame(image_u8=image, pts=0, time_base=Fraction(1, 25), index=0))
    back = next(read_frames(dst)).image_u8
    for i, colour in enumerate(colours):
        assert np.abs(back[360, i * 320 + 160].astype(int) - colour).max() <= 4


def test_probe_rejects_bad_inputs_with_clear_messages(tmp_path):
    with pytest.raises(InputError, match="not found"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="directory"):
        probe(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="not a video"):
        probe(tmp_path / "text.mp4")
    make_audio_file(tmp_path / "audio.m4a")
    with pytest.raises(InputError, match="no video stream.*audio"):
        probe(tmp_path / "audio.m4a")
    with pytest.raises(InputError, match="no video stream"):
        next(read_frames(tmp_path / "audio.m4a"))
    import cv2

    for name in ("still.png", "still.jpg"):
        cv2.imwrite(str(tmp_path / name), np.zeros((32, 32, 3), np.uint8))
        with pytest.raises(InputError, match="is a still image, not a video"):
            probe(tmp_path / name)


def read_until_error(path) -> tuple[list[Frame], CorruptInputError | None]:
    frames = []
    try:
        for frame in read_frames(path):
            frames.append(frame)
    except CorruptInputError as err:
        return frames, err
    return frames, None


def test_mp4_cut_before_its_index_is_reported_as_truncated(tmp_path):
    """PyAV writes the moov index last: half a file cannot be opened at all."""
    data = make_clip(tmp_path / "full.mp4", num_frames=30).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        probe(tmp_path / "cut.mp4")


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_truncated_file_yields_good_frames_then_corrupt_input_error(tmp_path, ext):
    """FFmpeg reads a cut Matroska or faststart MP4 quietly up to the cut; the
    announced duration shows it is incomplete."""
    full = make_clip(tmp_path / f"full{ext}", num_frames=30, width=96, height=64)
    if ext == ".mp4":
        full = make_faststart_copy(full, tmp_path / "fast.mp4")
    data = full.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])
    frames, error = read_until_error(cut)
    assert 0 < len(frames) < 30
    assert error is not None and error.frame_index == len(frames)
    assert f"corrupt at frame {len(frames)}" in str(error)


def test_garbage_mid_stream_never_gives_a_traceback(tmp_path):
    full = make_faststart_copy(
        make_clip(tmp_path / "full.mp4", num_frames=30, width=96, height=64), tmp_path / "fast.mp4"
    )
    data = bytearray(full.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    (tmp_path / "garbage.mp4").write_bytes(bytes(data))
    frames, error = read_until_error(tmp_path / "garbage.mp4")
    assert len(frames) > 0
    assert error is None or error.frame_index == len(frames)


def test_trimmed_read_seeks_and_skips(tmp_path):
    src = make_clip(tmp_path / "long.mp4", num_frames=50, audio=False)
    frames = list(read_frames(src, start_s=0.4, end_s=1.2))
    assert len(frames) == 20 and frames[0].index == 0
    assert frames[0].time_s == pytest.approx(0.4) and frames[-1].time_s == pytest.approx(1.16)


@pytest.mark.parametrize(
    "ext, tolerance_s", [(".mp4", 0.03), (".webm", 0.002)], ids=["copied-whole-packets", "re-encoded-exact"]
)
def test_trimmed_audio_matches_the_trimmed_range_and_starts_with_the_video(tmp_path, ext, tolerance_s):
    src = make_clip(tmp_path / "long.mp4", num_frames=50)  # 2 s
    info = probe(src)
    frames = list(read_frames(src, start_s=0.4, end_s=1.2))
    dst = tmp_path / f"trim{ext}"
    with VideoWriter(
        dst,
        width=64,
        height=48,
        time_base=info.time_base,
        fps=info.fps,
        audio_from=str(src),
        audio_start_s=0.4,
        audio_end_s=1.2,
    ) as writer:
        for frame in frames:
            writer.write(frame)
    out = list(read_frames(dst))
    assert len(out) == 20 and out[0].time_s == 0.0  # both streams shifted by the same 0.4 s
    assert audio_duration_s(dst) == pytest.approx(0.8, abs=tolerance_s)
    assert abs(audio_start_s(dst)) <= tolerance_s


def test_writer_refuses_bad_destinations(tmp_path, clip):
    info = probe(clip)
    size = dict(width=64, height=48, time_base=info.time_base, fps=info.fps)
    before = clip.read_bytes()
    with pytest.raises(OutputError, match="refusing to overwrite the input"):
        VideoWriter(clip, overwrite=True, input_paths=[str(clip)], **size)
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="exists; pass -y"):
        VideoWriter(existing, **size)
    with pytest.raises(OutputError, match=r"unknown output extension '\.xyz'.*\.mp4.*\.webm"):
        VideoWriter(tmp_path / "out.xyz", **size)
    with pytest.raises(OutputError, match="folder does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", **size)
    (tmp_path / "adir.mp4").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        VideoWriter(tmp_path / "adir.mp4", overwrite=True, **size)
    assert clip.read_bytes() == before and existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.mp4", "clip.mp4", "exists.mp4"]


def test_output_appears_only_when_complete(tmp_path, clip):
    info = probe(clip)
    dst = tmp_path / "atomic.mp4"
    frames = list(read_frames(clip))
    with pytest.raises(RuntimeError):
        with VideoWriter(dst, width=64, height=48, time_base=info.time_base, fps=info.fps) as writer:
            writer.write(frames[0])
            raise RuntimeError("crash mid-way")
    assert not dst.exists() and list(tmp_path.glob(".atomic*")) == []
    with VideoWriter(dst, width=64, height=48, time_base=info.time_base, fps=info.fps) as writer:
        for frame in frames:
            writer.write(frame)
        assert not dst.exists() and len(list(tmp_path.glob(".atomic.mp4.*.mp4"))) == 1
    assert dst.exists() and list(tmp_path.glob(".atomic*")) == []
    assert writer.frames_written == 12


def test_overwrite_replaces_an_existing_output(tmp_path, clip):
    info = probe(clip)
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"old")
    with VideoWriter(dst, width=64, height=48, time_base=info.time_base, fps=info.fps, overwrite=True) as writer:
        writer.write(next(read_frames(clip)))
    assert probe(dst).num_frames == 1


def test_write_checks_the_frame_shape(tmp_path, clip):
    info = probe(clip)
    with VideoWriter(tmp_path / "out.mp4", width=64, height=48, time_base=info.time_base, fps=info.fps) as writer:
        with pytest.raises(ValueError, match=r"\(48, 64, 3\).*\(32, 32, 3\)"):
            writer.write(Frame(image_u8=np.zeros((32, 32, 3), np.uint8), pts=0, time_base=info.time_base, index=0))
        writer.abort()
    assert list(tmp_path.glob("*out*")) == []


def test_disk_full_while_writing_is_an_output_error_and_leaves_nothing(tmp_path, clip, monkeypatch):
    info = probe(clip)
    frames = list(read_frames(clip))
    writer = VideoWriter(
        tmp_path / "out.mp4", width=64, height=48, time_base=info.time_base, fps=info.fps, audio_from=str(clip)
    )

    def full_disk(packets):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, "container", _FailingContainer(writer.container, full_disk))
    with pytest.raises(OutputError, match="No space left") as caught:
        for frame in frames:
            writer.write(frame)
    assert caught.value.exit_code == 1 and isinstance(caught.value.__cause__, OSError)
    assert list(tmp_path.glob("*out*")) == []


class _FailingContainer:
    """Wraps an output container so that ``mux`` fails like a full disk."""

    def __init__(self, container, mux):
        self._container, self.mux = container, mux

    def __getattr__(self, name):
        return getattr(self._container, name)


@pytest.mark.parametrize("ext", [".webm", ".mov", ".gif", ".mkv"])
def test_other_containers_decode_back(tmp_path, clip, ext):
    source_frames = copy_video(clip, tmp_path / f"out{ext}")
    out = probe(tmp_path / f"out{ext}")
    out_frames = list(read_frames(tmp_path / f"out{ext}"))
    assert len(out_frames) == 12
    assert out.has_audio == (ext != ".gif")
    assert mean_abs_error(source_frames, out_frames) < (12.0 if ext == ".gif" else 4.0)
    if ext == ".mov":  # ProRes in QuickTime keeps the source time base: exact
        assert [f.pts * f.time_base for f in out_frames] == [f.pts * f.time_base for f in source_frames]


def test_gif_takes_odd_sizes(tmp_path):
    src = make_clip(tmp_path / "odd.mp4", width=51, height=37, pix_fmt="yuv444p", audio=False, num_frames=5)
    copy_video(src, tmp_path / "odd.gif")
    info = probe(tmp_path / "odd.gif")
    assert (info.width, info.height) == (51, 37)
    assert len(list(read_frames(tmp_path / "odd.gif"))) == 5
