"""Which stream is read and how it is turned upright: a file whose first video
stream is a thumbnail or cover art reads its real video (as FFmpeg picks
it); a display matrix that mirrors (a flip or transpose) is applied as
FFmpeg's autorotate applies it; an MP4 cut inside its index is one clear
line, not a crash."""

import struct

import av
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, moving_frames

from vidstyle.errors import InputError
from vidstyle.media import probe, read_frames
from vidstyle.media.reading import choose_video_stream

ONE = 0x10000  # 1.0 in the display matrix's 16.16 fixed point
W_ONE = 1 << 30  # 1.0 in its 2.30 last column


def multi_video_file(path, streams: list[tuple[str, int, int, int]], *, cover_index: int | None = None):
    """A file with one video stream per ``(codec, width, height, frames)``,
    written in that order; ``cover_index`` marks that stream as cover art."""
    with av.open(str(path), mode="w") as container:
        outs = []
        for index, (codec, width, height, _frames) in enumerate(streams):
            stream = container.add_stream(codec, rate=25)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
            if index == cover_index:
                stream.disposition = av.stream.Disposition.attached_pic
            outs.append(stream)
        for stream, (_codec, width, height, frames) in zip(outs, streams):
            for image in moving_frames(width, height, frames):
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    return path


@pytest.mark.parametrize(
    "name, streams, cover_index, expected",
    [
        # a 1-frame MJPEG thumbnail before the real video (not marked as cover art)
        ("thumb.mkv", [("mjpeg", 32, 32, 1), ("libx264", 64, 48, 8)], None, (64, 48, 8)),
        # a thumbnail larger than the video is still a thumbnail
        ("big_thumb.mkv", [("mjpeg", 128, 128, 1), ("libx264", 64, 48, 8)], None, (64, 48, 8)),
        # two real videos: the larger one, as ffmpeg maps it
        ("two.mkv", [("libx264", 32, 24, 4), ("libx264", 64, 48, 8)], None, (64, 48, 8)),
        # MP4 cover art (attached_pic), larger than the video
        ("cover.mp4", [("libx264", 64, 48, 8), ("mjpeg", 128, 128, 1)], 1, (64, 48, 8)),
    ],
)
def test_the_real_video_stream_is_read_not_a_thumbnail(tmp_path, name, streams, cover_index, expected):
    path = multi_video_file(tmp_path / name, streams, cover_index=cover_index)
    width, height, count = expected
    info = probe(path)
    assert (info.width, info.height, info.codec) == (width, height, "h264")
    frames = list(read_frames(path))
    assert len(frames) == count and frames[0].image_u8.shape == (height, width, 3)
    with av.open(str(path)) as container:
        chosen = choose_video_stream(container)
        assert chosen is not None and chosen.codec_context.name == "h264"


def test_the_cli_stylizes_the_real_video_of_a_file_with_a_thumbnail_first(tmp_path):
    from vidstyle.cli import main

    src = multi_video_file(tmp_path / "thumb.mkv", [("mjpeg", 32, 32, 1), ("libx264", 64, 48, 8)])
    out = tmp_path / "out.mp4"
    args = [str(src), "--style", str(STYLE_PATH), "--iters", "1,1", "--max-side", "32", "--detail-iters", "0"]
    assert main([*args, "-q", "-y", "-o", str(out)]) in (0, None)
    info = probe(out)
    assert info.num_frames == 8 and info.width > info.height  # 4:3 like the video, not the square thumbnail


def with_display_matrix(src, dst, matrix: tuple[int, ...]):
    """Copy of the MP4 ``src`` with the first track's tkhd matrix set to ``matrix``."""
    data = bytearray(src.read_bytes())
    tkhd = data.find(b"tkhd")
    assert tkhd > 0 and data[tkhd + 4] == 0  # version 0: the matrix is 40 bytes into the box content
    data[tkhd + 44 : tkhd + 80] = struct.pack(">9i", *matrix)
    dst.write_bytes(bytes(data))
    return dst


def quadrant_clip(tmp_path):
    """A 64x36 clip: red top-left and blue bottom-right quarters as stored."""
    image = np.full((36, 64, 3), 40, np.uint8)
    image[:18, :32] = (255, 0, 0)
    image[18:, 32:] = (0, 0, 255)
    return make_clip(tmp_path / "src.mp4", frames=[image] * 4, audio=False)


def quadrants(image: np.ndarray) -> str:
    """The colours of the four quarters: top-left, top-right / bottom-left, bottom-right."""
    height, width = image.shape[:2]

    def colour(row, col):
        mean = image[row * height // 2 : (row + 1) * height // 2, col * width // 2 : (col + 1) * width // 2]
        mean = mean.reshape(-1, 3).mean(0)
        return "R" if mean[0] > 150 else "B" if mean[2] > 150 else "."

    return colour(0, 0) + colour(0, 1) + "/" + colour(1, 0) + colour(1, 1)


W, H = 64, 36
MATRICES = {  # name: (tkhd matrix, upright size, quadrants once upright), as ffmpeg -autorotate shows them
    "hflip": ((-ONE, 0, 0, 0, ONE, 0, W * ONE, 0, W_ONE), (64, 36), ".R/B."),
    "vflip": ((ONE, 0, 0, 0, -ONE, 0, 0, H * ONE, W_ONE), (64, 36), ".B/R."),
    "transpose": ((0, ONE, 0, ONE, 0, 0, 0, 0, W_ONE), (36, 64), "R./.B"),
    "antitranspose": ((0, -ONE, 0, -ONE, 0, 0, H * ONE, W * ONE, W_ONE), (36, 64), "B./.R"),
    "rotate90": ((0, ONE, 0, -ONE, 0, 0, H * ONE, 0, W_ONE), (36, 64), ".R/B."),
    "rotate180": ((-ONE, 0, 0, 0, -ONE, 0, W * ONE, H * ONE, W_ONE), (64, 36), "B./.R"),
}


@pytest.mark.parametrize("name", list(MATRICES))
def test_a_mirroring_display_matrix_is_mirrored_not_rotated(tmp_path, name):
    matrix, (width, height), expected = MATRICES[name]
    src = with_display_matrix(quadrant_clip(tmp_path), tmp_path / f"{name}.mp4", matrix)
    info = probe(src)
    assert (info.width, info.height) == (width, height)
    assert info.mirrored == (name in ("hflip", "vflip", "transpose", "antitranspose"))
    first = next(read_frames(src))
    assert first.image_u8.shape == (height, width, 3)
    assert quadrants(first.image_u8) == expected
    half = next(read_frames(src, size=(width // 2, height // 2)))
    assert half.image_u8.shape == (height // 2, width // 2, 3) and quadrants(half.image_u8) == expected


@pytest.mark.parametrize(
    "box, offset, opens_as",
    [("moov", 16, ()), ("tkhd", 8, ("data",)), ("minf", 8, ("video",))],
    ids=["no streams", "a data stream", "a video stream without codec parameters"],
)
def test_an_mp4_cut_inside_its_index_is_one_clear_line(tmp_path, box, offset, opens_as):
    """PyAV writes the index (moov) last; cut inside it, FFmpeg opens the file
    with no streams, a data stream or a video stream without codec parameters."""
    data = make_clip(tmp_path / "full.mp4", num_frames=8, audio=False).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: data.find(box.encode()) + offset])
    with av.open(str(cut)) as container:
        assert tuple(s.type for s in container.streams) == opens_as  # the case this test is about
    with pytest.raises(InputError, match="is damaged or truncated.*index \\(moov box\\) is cut short") as err:
        probe(cut)
    assert "\n" not in str(err.value) and err.value.exit_code == 2
    with pytest.raises(InputError, match="is damaged or truncated"):
        next(read_frames(cut))
