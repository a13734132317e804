"""Clips built in code: moving textures with known motion, real PyAV encodes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
STYLE_PATH = ROOT / "samples" / "starry_night.jpg"
SAMPLE_CLIP = ROOT / "samples" / "bbb_tail_480x270.mp4"


@pytest.fixture(autouse=True)
def work_root(tmp_path_factory, monkeypatch):
    """Every test keeps its work directories in a folder of its own (not the
    user's cache), which subprocesses inherit through the environment."""
    root = tmp_path_factory.mktemp("work")
    monkeypatch.setenv("VIDSTYLE_WORK_DIR", str(root))
    return root


def texture(width: int, height: int, *, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture, uint8 ``(height, width, 3)``, that tiles
    nothing in particular (so optical flow is well defined)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(height // 8 + 2, width // 8 + 2, 3)).astype(np.float32)
    import cv2

    image = cv2.resize(coarse, (width + 16, height + 16), interpolation=cv2.INTER_CUBIC)
    return np.clip(image[8 : 8 + height, 8 : 8 + width], 0, 255).astype(np.uint8)


def moving_frames(width: int, height: int, num_frames: int, *, velocity=(1.0, 0.0), seed: int = 0):
    """Frames of a texture translating by ``velocity`` px/frame (subpixel allowed)."""
    import cv2

    base = texture(width + 64, height + 64, seed=seed)
    frames = []
    for i in range(num_frames):
        shift = np.float32([[1, 0, -32 - velocity[0] * i], [0, 1, -32 - velocity[1] * i]])
        frames.append(
            cv2.warpAffine(base, shift, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        )
    return frames


def make_clip(
    path,
    *,
    width: int = 64,
    height: int = 48,
    num_frames: int = 12,
    fps: Fraction = Fraction(25),
    time_base: Fraction | None = None,
    pts_list: list[int] | None = None,
    audio: bool = True,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    rotation: int | None = None,
    frames: list[np.ndarray] | None = None,
) -> Path:
    """Encode a real clip with PyAV: a moving texture (or ``frames``), optional
    sine audio (AAC, 44.1 kHz stereo) covering the same duration.

    ``pts_list`` gives explicit timestamps in ``time_base`` (default 1/fps
    steps); ``rotation`` sets the display matrix (degrees counterclockwise).
    """
    path = Path(path)
    frames = frames if frames is not None else moving_frames(width, height, num_frames)
    time_base = time_base or Fraction(1, 90000)
    if pts_list is None:
        pts_list = [round(i / fps / time_base) for i in range(len(frames))]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        audio_stream = container.add_stream("aac", rate=44100, layout="stereo") if audio else None
        for image, pts in zip(frames, pts_list):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if audio_stream is not None:
            duration_s = float(pts_list[-1] * time_base) + float(1 / fps)
            _write_sine(container, audio_stream, duration_s)
    return path


def _write_sine(container, stream, duration_s: float, *, rate: int = 44100, frame_size: int = 1024) -> None:
    total = int(duration_s * rate)
    for start in range(0, total, frame_size):
        n = min(frame_size, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = rate, start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


@pytest.fixture
def clip(tmp_path):
    """A 12-frame 64x48 clip at 25 fps with audio."""
    return make_clip(tmp_path / "clip.mp4")


# --- io fixtures ---


def make_audio_file(path, *, duration_s: float = 0.5) -> Path:
    """An audio-only file (AAC sine, 44.1 kHz stereo) of ``duration_s`` seconds:
    a media file without a video stream."""
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        _write_sine(container, container.add_stream("aac", rate=44100, layout="stereo"), duration_s)
    return path


def make_faststart_copy(src, dst) -> Path:
    """Remux ``src`` into ``dst`` (same extension) with the MP4 index (moov)
    in front, as streaming encoders write it: cut short, such a file still
    opens and decodes up to the cut."""
    dst = Path(dst)
    with av.open(str(src)) as source, av.open(str(dst), mode="w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue  # demuxer flush packets
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """``vidstyle ARGS`` in this process: exit code, stdout, stderr."""
    from vidstyle.cli.main import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    """The one non-blank line of ``err``, asserted to be a ``vidstyle: error:`` line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidstyle: error: "), err
    return lines[0]
