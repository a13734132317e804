"""The writer seam: ``open_writer`` picks from the ``WRITERS`` table, every
writer satisfies ``FrameWriter``, and one ``OutputClock`` times the frames of
video files and network streams alike."""

from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import make_clip

from vidstyle.errors import OutputError
from vidstyle.frames import Frame
from vidstyle.media import (
    WRITERS,
    FrameWriter,
    ImageSequenceWriter,
    OutputClock,
    StreamWriter,
    VideoWriter,
    open_writer,
    probe,
    read_frames,
)

TB = Fraction(1, 25)


def frame(i: int, *, pts=None, time_base=TB, size=(32, 24)) -> Frame:
    width, height = size
    return Frame(
        image_u8=np.full((height, width, 3), 8 * i, np.uint8),
        pts=i if pts is None else pts,
        time_base=time_base,
        index=i,
    )


@pytest.mark.parametrize(
    "name, kind",
    [
        ("out.mp4", VideoWriter),
        ("out.GIF", VideoWriter),
        ("o/%05d.png", ImageSequenceWriter),
        ("o/f_%d.jpg", ImageSequenceWriter),
    ],
)
def test_open_writer_picks_the_writer_the_name_asks_for(tmp_path, name, kind):
    writer = open_writer(tmp_path / name, width=32, height=24, time_base=TB, fps=Fraction(25))
    assert type(writer) is kind and isinstance(writer, FrameWriter)
    with writer:
        for i in range(3):
            writer.write(frame(i))
    assert writer.frames_written == 3 and writer.takes_audio == (name == "out.mp4")


def test_the_writer_table_is_data():
    assert [kind.name for kind in WRITERS] == ["image sequence", "video file"]
    assert WRITERS[0].accepts("out/%05d.png") and not WRITERS[0].accepts("out.mp4")
    assert WRITERS[1].accepts("out.webm") and not WRITERS[1].accepts("out.png")


def test_open_writer_refuses_names_and_options_no_writer_takes(tmp_path):
    with pytest.raises(OutputError, match=r"unknown output extension '\.png'.*\.mp4.*out/%05d\.png") as caught:
        open_writer(tmp_path / "out.png", width=32, height=24, time_base=TB, fps=Fraction(25))
    assert caught.value.exit_code == 2
    with pytest.raises(OutputError, match="not to image sequences"):
        open_writer(tmp_path / "s" / "%05d.png", width=32, height=24, crf=20)
    with pytest.raises(OutputError, match=r"unknown image sequence extension '\.mp4'"):  # numbered: a sequence
        open_writer(tmp_path / "%03d.mp4", width=32, height=24, time_base=TB, fps=Fraction(25))
    assert list(tmp_path.iterdir()) == []


def test_close_partial_without_frames_leaves_nothing(tmp_path):
    for name in ("out.mp4", "seq/%05d.png"):
        writer = open_writer(tmp_path / name, width=32, height=24, time_base=TB, fps=Fraction(25))
        assert writer.close_partial() is None
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ one pts rule


def test_output_clock_keeps_exact_timestamps_and_makes_them_valid():
    clock = OutputClock(Fraction(1, 90000), fps=Fraction(30000, 1001))
    same_base = [
        clock.pts_for(Frame(np.zeros((1, 1, 3), np.uint8), pts=p, time_base=Fraction(1, 90000), index=0))
        for p in (3003, 6006, 6006, 6000, 9009)
    ]
    assert same_base == [3003, 6006, 6007, 6008, 9009]  # unchanged, then strictly increasing
    clock = OutputClock(Fraction(1, 1000), fps=Fraction(25))
    clock.set_origin(400)  # a trim at 0.4 s
    times = [clock.pts_for(frame(0, pts=p, time_base=Fraction(1, 90000))) for p in (27000, 36000, 39600, 40000)]
    assert times == [0, 0 + 1, 40, 44]  # 0.3 s clamps to 0; 0.4 s would not advance; rounded to 1 ms
    untimed = OutputClock(Fraction(1, 1000), fps=Fraction(10))
    assert [untimed.pts_for(frame(i, pts=None, time_base=None)) for i in range(3)] == [0, 100, 200]


def test_a_stream_and_a_file_time_frames_by_the_same_rule(tmp_path):
    """Repeated and backward timestamps: both writers make them increase by one tick."""
    pts = [0, 40, 40, 30, 120]
    stream_path = tmp_path / "stream.ts"
    stream = StreamWriter(str(stream_path), width=32, height=24, fps=25, format="mpegts")
    for i, p in enumerate(pts):
        stream.write(frame(i, pts=p, time_base=Fraction(1, 1000)))
    stream.close()
    with av.open(str(stream_path)) as container:
        packets = sorted(p.pts for p in container.demux(video=0) if p.pts is not None)
        tb = container.streams.video[0].time_base
    stream_ms = [round((p - packets[0]) * tb * 1000) for p in packets]
    assert stream_ms == [0, 40, 41, 42, 120]

    with VideoWriter(tmp_path / "file.mkv", width=32, height=24, time_base=Fraction(1, 1000), fps=25) as writer:
        for i, p in enumerate(pts):
            writer.write(frame(i, pts=p, time_base=Fraction(1, 1000)))
    file_ms = [round(f.pts * f.time_base * 1000) for f in read_frames(tmp_path / "file.mkv")]
    assert [t - file_ms[0] for t in file_ms] == stream_ms


# ------------------------------------------------------------------ the source's audio beside the video


class RecordingMuxer:
    """Stands in for the container the audio is muxed into: notes where each packet ends (seconds)."""

    def __init__(self, container):
        self.container, self.ends_s = container, []

    def mux(self, packets):
        for packet in packets if isinstance(packets, list) else [packets]:
            self.ends_s.append(float((packet.pts + (packet.duration or 0)) * packet.time_base))
        self.container.mux(packets)


def test_the_audio_is_muxed_no_further_than_the_video_written(tmp_path):
    # It was muxed 0.5 s ahead of the last frame, so a file cut off mid-run had sound past its picture.
    src = make_clip(tmp_path / "in.mp4", num_frames=25)  # 1 s at 25 fps, AAC copied into mp4
    info = probe(src)
    writer = VideoWriter(
        tmp_path / "out.mp4", width=64, height=48, time_base=info.time_base, fps=info.fps, audio_from=str(src)
    )
    writer.audio.container = muxer = RecordingMuxer(writer.container)
    for number, source_frame in enumerate(read_frames(src), start=1):
        writer.write(source_frame)
        assert max(muxer.ends_s, default=0.0) <= number / 25 + 1e-6  # the video written ends at number / 25 s
    assert muxer.ends_s
    writer.close()
