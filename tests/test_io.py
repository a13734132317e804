"""PyAV round trips: frame counts, exact timestamps, audio, rotation, odd sizes, bad files."""

from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import make_clip, moving_frames
from vidstyle.errors import CorruptInputError, InputError, OutputError
from vidstyle.frames import Frame
from vidstyle.io import VideoWriter, probe, read_frames


def audio_duration_s(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        last_end = 0.0
        for packet in container.demux(stream):
            if packet.pts is not None and packet.duration:
                last_end = max(last_end, float((packet.pts + packet.duration) * packet.time_base))
        return last_end


def copy_video(src, dst, **writer_options):
    info = probe(src)
    frames = list(read_frames(src))
    with VideoWriter(dst, width=info.width, height=info.height, time_base=info.time_base, fps=info.fps,
                     audio_from=str(src), **writer_options) as writer:
        for frame in frames:
            writer.write(frame)
    return frames


@pytest.mark.parametrize(
    "fps, time_base, pts_list",
    [
        (Fraction(25), Fraction(1, 12800), None),
        (Fraction(30000, 1001), Fraction(1, 30000), [i * 1001 for i in range(12)]),
        (Fraction(20), Fraction(1, 90000), [0, 3000, 4500, 9000, 9900, 15000, 18000, 18300, 27000, 30000, 31000, 40000]),
    ],
    ids=["cfr25", "ntsc", "vfr"],
)
def test_round_trip_keeps_count_timestamps_and_audio(tmp_path, fps, time_base, pts_list):
    src = make_clip(tmp_path / "in.mp4", fps=fps, time_base=time_base, pts_list=pts_list)
    source_frames = copy_video(src, tmp_path / "out.mp4")
    out_info = probe(tmp_path / "out.mp4")
    out_frames = list(read_frames(tmp_path / "out.mp4"))
    assert len(out_frames) == len(source_frames) == 12
    source_times = [f.pts * f.time_base for f in source_frames]
    out_times = [f.pts * f.time_base for f in out_frames]
    assert out_times == source_times  # exact Fractions: VFR and 30000/1001 included
    assert out_info.has_audio
    assert abs(audio_duration_s(tmp_path / "out.mp4") - audio_duration_s(src)) < 0.05
    if pts_list is None or fps == Fraction(30000, 1001):
        assert out_info.fps == fps
    error = np.mean([np.abs(a.image_u8.astype(int) - b.image_u8.astype(int)).mean()
                     for a, b in zip(source_frames, out_frames)])
    assert error < 4.0


def test_resize_on_decode_and_pixels(tmp_path):
    src = make_clip(tmp_path / "in.mp4", width=128, height=96)
    frames = list(read_frames(src, size=(64, 48)))
    assert frames[0].image_u8.shape == (48, 64, 3) and frames[0].image_u8.dtype == np.uint8
    assert [f.index for f in frames] == list(range(12))


def test_odd_sizes_read_and_write_even(tmp_path):
    src = make_clip(tmp_path / "odd.mkv", width=101, height=77, codec="libx264", pix_fmt="yuv444p")
    info = probe(src)
    assert (info.width, info.height) == (101, 77)
    frames = list(read_frames(src))
    assert frames[0].image_u8.shape == (77, 101, 3)
    copy_video(src, tmp_path / "odd_out.mp4")
    out = probe(tmp_path / "odd_out.mp4")
    assert (out.width, out.height) == (100, 76)
    assert len(list(read_frames(tmp_path / "odd_out.mp4"))) == 12


def test_rotation_metadata_gives_upright_frames(tmp_path):
    frames = moving_frames(64, 48, 4)
    frames[0][:8, :8] = (255, 0, 0)  # red marker in the stored top-left corner
    src = make_clip(tmp_path / "rot.mp4", frames=frames, rotation=-90)  # display: turned 90 degrees clockwise
    info = probe(src)
    assert info.rotation == 90 and (info.width, info.height) == (48, 64)
    first = next(read_frames(src))
    assert first.image_u8.shape == (64, 48, 3)
    # turned clockwise, the stored top-left corner lands at the top-right
    assert first.image_u8[:6, -6:, 0].mean() > 180 and first.image_u8[:6, -6:, 1].mean() < 90


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv444p"])
def test_high_bit_depth_and_444_sources_decode(tmp_path, pix_fmt):
    src = make_clip(tmp_path / f"{pix_fmt}.mkv", pix_fmt=pix_fmt, audio=False)
    assert probe(src).pix_fmt == pix_fmt
    frames = list(read_frames(src))
    assert len(frames) == 12 and frames[0].image_u8.dtype == np.uint8


def test_probe_rejects_bad_inputs_with_clear_messages(tmp_path):
    with pytest.raises(InputError, match="not found"):
        probe(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="not a video"):
        probe(tmp_path / "text.mp4")
    with av.open(str(tmp_path / "audio.m4a"), "w") as c:
        from conftest import _write_sine

        _write_sine(c, c.add_stream("aac", rate=44100, layout="stereo"), 0.5)
    with pytest.raises(InputError, match="no video stream"):
        probe(tmp_path / "audio.m4a")
    import cv2

    cv2.imwrite(str(tmp_path / "still.png"), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(InputError, match="still image"):
        probe(tmp_path / "still.png")


def test_truncated_file_stops_cleanly(tmp_path):
    src = make_clip(tmp_path / "full.mkv", num_frames=30, width=96, height=64)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    frames = []
    try:
        for frame in read_frames(cut):
            frames.append(frame)
    except CorruptInputError as err:
        assert err.frame_index == len(frames)
    assert 0 < len(frames) < 30


def test_writer_never_overwrites_input_or_existing_files(tmp_path, clip):
    info = probe(clip)
    before = clip.read_bytes()
    with pytest.raises(OutputError, match="refusing to overwrite the input"):
        VideoWriter(clip, width=64, height=48, time_base=info.time_base, fps=info.fps, overwrite=True,
                    input_paths=[str(clip)])
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="exists; pass -y"):
        VideoWriter(existing, width=64, height=48, time_base=info.time_base, fps=info.fps)
    with pytest.raises(OutputError, match="unknown output extension"):
        VideoWriter(tmp_path / "out.xyz", width=64, height=48, time_base=info.time_base, fps=info.fps)
    assert clip.read_bytes() == before and existing.read_bytes() == b"keep me"


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
        assert not dst.exists()
    assert dst.exists() and list(tmp_path.glob(".atomic*")) == []


@pytest.mark.parametrize("ext", [".webm", ".mov", ".gif", ".mkv"])
def test_other_containers_decode_back(tmp_path, clip, ext):
    copy_video(clip, tmp_path / f"out{ext}")
    out = probe(tmp_path / f"out{ext}")
    assert len(list(read_frames(tmp_path / f"out{ext}"))) == 12
    assert out.has_audio == (ext != ".gif")


def test_trimmed_audio_matches_the_trimmed_range(tmp_path):
    src = make_clip(tmp_path / "long.mp4", num_frames=50)  # 2 s
    info = probe(src)
    frames = list(read_frames(src, start_s=0.4, end_s=1.2))
    assert len(frames) == 20
    with VideoWriter(tmp_path / "trim.mp4", width=64, height=48, time_base=info.time_base, fps=info.fps,
                     audio_from=str(src), audio_start_s=0.4, audio_end_s=1.2, shift_to_zero=True) as writer:
        for frame in frames:
            writer.write(frame)
    out = list(read_frames(tmp_path / "trim.mp4"))
    assert len(out) == 20 and out[0].pts == 0
    assert abs(audio_duration_s(tmp_path / "trim.mp4") - 0.8) < 0.1
