"""Encoding benchmark: how steady the file the user gets is. One command, prints a table.

    .venv/bin/python benchmarks/encoding.py [FRAMES_DIR:SOURCE ...] [--quick]

FRAMES_DIR holds a clip's lossless stylized frames (numbered PNGs, as written
by ``python -m vidstyle CLIP --style S -o FRAMES_DIR/%05d.png``); SOURCE is
the clip they were stylized from (its first frames are used, resized to the
frames' size). Without arguments: the clips under out/enc/ (see DEFAULT_CLIPS).

Each encoder setting encodes the frames, the file is decoded back the way a
player shows it (chroma interpolated, BT.709), and the flicker meter
(``evaluate.warping_error``, Lai et al. 2018) compares it with the source:

  kB, kbit/s  file size and bit rate (at the source's frame rate);
  flicker     E_warp(decoded) / E_warp(source), RGB (1.0 = as steady as the source);
  luma        the same on BT.709 luma Y: chroma flicker shows as flicker > luma;
  vs read     RGB flicker ratio of the frames as vidstyle itself decodes them
              (``media.read_frames``, the meter of ``vidstyle evaluate``): its
              swscale path repeats each 4:2:0 chroma sample over 2x2 pixels,
              which players do not, and which reads as extra chroma flicker;
  sharp       mean variance of the Laplacian of the decoded frames' grey levels,
              relative to the lossless frames' (1.0 = as sharp);
  style       with --style IMAGE: style loss of every 6th decoded frame (the optimizer's
              unweighted loss) over the lossless frames' (1.0 = as stylized);
  enc fps     frames encoded per second (this machine, encoder threads as FFmpeg picks).

The flow and consistency mask are measured once per clip on the source and
shared by every row; the first row is the lossless frames themselves.
``--warp lanczos`` reads every column with the meter's Lanczos-4 warp
(``vidstyle eval --warp lanczos``) instead of the convention's bilinear one.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from typing import cast

import av
import cv2
import numpy as np
from av.video.stream import VideoStream

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle.evaluate import METER_INTERPOLATION, METER_WARPS, FlickerReport, warping_error  # noqa: E402
from vidstyle.frames import Frame  # noqa: E402
from vidstyle.media import VideoWriter, read_frames  # noqa: E402
from vidstyle.motion.flow import FlowEstimator, consistency_mask, is_scene_cut  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEFAULT_CLIPS = [
    (os.path.join(ROOT, "out/enc/bikes"), os.path.join(ROOT, "out/clips/bikes.mp4")),
    (os.path.join(ROOT, "out/enc/bbb"), os.path.join(ROOT, "samples/bbb_tail_480x270.mp4")),
    (os.path.join(ROOT, "out/enc/bikes640"), os.path.join(ROOT, "out/clips/bikes.mp4")),
]
BT709_LUMA = np.array([0.2126, 0.7152, 0.0722])
FPS = Fraction(25)
STYLE_EVERY = 6  # --style: frames 0, 6, 12, ... (VGG19 at the frames' size is the slow part)
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration to stderr unless told not to

# swscale's RGB -> YUV 4:2:0 chroma downsampling. "default" is what FFmpeg
# does unasked (and vidstyle did): pairs of pixels averaged horizontally, a
# bilinear filter vertically. The others filter the full-resolution chroma.
SWS = av.video.reformatter.Interpolation
CHROMA = {
    "default": None,
    "area": SWS.AREA | SWS.FULL_CHR_H_INP | SWS.ACCURATE_RND,
    "lanczos": SWS.LANCZOS | SWS.FULL_CHR_H_INP | SWS.ACCURATE_RND,
    "gauss": SWS.GAUSS | SWS.FULL_CHR_H_INP | SWS.ACCURATE_RND,
    "bilinear": SWS.BILINEAR | SWS.FULL_CHR_H_INP | SWS.ACCURATE_RND,
    "blur": "blur",  # chroma planes Gaussian-blurred (sigma BLUR_SIGMA) at full resolution, then area-downsampled
}
BLUR_SIGMA = 1.0


@dataclasses.dataclass(frozen=True)
class Setting:
    """One encoder configuration; ``writer`` True: vidstyle's own VideoWriter with its defaults for ``ext``."""

    name: str
    ext: str
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    options: dict = dataclasses.field(default_factory=dict)
    chroma: str = "default"
    writer: bool = False
    prefilter: float = 0.0  # Gaussian sigma (pixels) applied to every RGB frame before encoding; 0: none


def x264(
    name: str, crf: int = 14, *, pix_fmt: str = "yuv420p", chroma: str = "default", prefilter: float = 0.0, **extra
) -> Setting:
    options = {"preset": "medium", "crf": str(crf), **extra}
    return Setting(name, ".mp4", "libx264", pix_fmt, options, chroma, prefilter=prefilter)


SETTINGS = [
    Setting("vidstyle .mp4", ".mp4", writer=True),
    Setting("vidstyle .mkv", ".mkv", writer=True),
    Setting("vidstyle .mov", ".mov", writer=True),
    Setting("vidstyle .webm", ".webm", writer=True),
    Setting("vidstyle .gif", ".gif", writer=True),
    x264("x264 420 lossless", 0),
    x264("x264 420 lossless gauss", 0, chroma="gauss"),
    x264("x264 420 crf 10", 10),
    x264("x264 420 crf 14", 14),
    x264("x264 420 crf 18", 18),
    x264("x264 420 crf 14 area", 14, chroma="area"),
    x264("x264 420 crf 14 lanczos", 14, chroma="lanczos"),
    x264("x264 420 crf 14 gauss", 14, chroma="gauss"),
    x264("x264 420 crf 14 blur", 14, chroma="blur"),
    x264("x264 420 crf 14 bilinear", 14, chroma="bilinear"),
    x264("x264 420 crf 12 bilinear", 12, chroma="bilinear"),
    x264("x264 420 crf 12", 12),
    x264("x264 420 crf 14 psy-rd 0", 14, **{"psy-rd": "0:0"}),
    x264("x264 420 crf 14 aq-mode 3", 14, **{"x264-params": "aq-mode=3"}),
    x264("x264 420 crf 14 tune film", 14, tune="film"),
    x264("x264 420 crf 14 tune grain", 14, tune="grain"),
    x264("x264 420 crf 14 ref 8 no-deblock", 14, **{"x264-params": "ref=8:no-deblock=1"}),
    x264("x264 420 crf 14 slow", 14, preset="slow"),
    x264("x264 420 crf 12 gauss", 12, chroma="gauss"),
    x264("x264 420 crf 12 gauss grain", 12, chroma="gauss", tune="grain"),
    x264("x264 420 crf 14 gauss grain", 14, chroma="gauss", tune="grain"),
    x264("x264 420 crf 14 gauss psy0", 14, chroma="gauss", **{"psy-rd": "0:0"}),
    x264("x264 420 crf 12 gauss psy0", 12, chroma="gauss", **{"psy-rd": "0:0"}),
    x264("x264 420 crf 12 blur", 12, chroma="blur"),
    x264("x264 420 crf 10 gauss", 10, chroma="gauss"),
    # rate control that keeps every frame at one quality (B-frames, mb-tree and
    # the I/P/B offsets otherwise re-quantize the carried texture differently
    # frame to frame), and x264's own temporal noise reduction
    x264("x264 420 crf 12 gauss pb=1", 12, chroma="gauss", **{"x264-params": "ipratio=1:pbratio=1"}),
    x264("x264 420 crf 12 gauss no-mbtree", 12, chroma="gauss", **{"x264-params": "mbtree=0"}),
    x264("x264 420 crf 12 gauss no-b", 12, chroma="gauss", **{"x264-params": "bframes=0"}),
    x264("x264 420 crf 12 gauss flat", 12, chroma="gauss", **{"x264-params": "ipratio=1:pbratio=1:mbtree=0:aq-mode=0"}),
    x264(
        "x264 420 crf 12 gauss no-deadzone", 12, chroma="gauss", **{"x264-params": "deadzone-inter=0:deadzone-intra=0"}
    ),
    x264("x264 420 crf 12 gauss nr 200", 12, chroma="gauss", **{"x264-params": "nr=200"}),
    x264("x264 420 crf 12 gauss no-b no-mbtree", 12, chroma="gauss", **{"x264-params": "bframes=0:mbtree=0"}),
    x264("x264 420 crf 12 gauss qcomp 1", 12, chroma="gauss", **{"x264-params": "qcomp=1"}),
    # a light spatial pre-filter (the same Gaussian on every frame, so temporally
    # consistent): less of the finest texture for the encoder to re-quantize
    x264("x264 420 crf 12 gauss pre 0.5", 12, chroma="gauss", prefilter=0.5),
    x264("x264 420 crf 12 gauss pre 0.7", 12, chroma="gauss", prefilter=0.7),
    x264("x264 420 crf 12 gauss pre 1.0", 12, chroma="gauss", prefilter=1.0),
    x264("x264 444 crf 12", 12, pix_fmt="yuv444p"),
    x264("x264 444 crf 14", 14, pix_fmt="yuv444p"),
    x264("x264 444 crf 18", 18, pix_fmt="yuv444p"),
    Setting("x265 420 crf 18", ".mp4", "libx265", "yuv420p", {"crf": "18", "x265-params": "log-level=error"}),
    Setting(
        "x265 420 crf 18 gauss", ".mp4", "libx265", "yuv420p", {"crf": "18", "x265-params": "log-level=error"}, "gauss"
    ),
    Setting("x265 444 crf 18", ".mkv", "libx265", "yuv444p", {"crf": "18", "x265-params": "log-level=error"}),
    Setting("vp9 420 crf 31", ".webm", "libvpx-vp9", "yuv420p", {"crf": "31", "row-mt": "1", "cpu-used": "4"}),
    Setting(
        "vp9 420 crf 31 gauss", ".webm", "libvpx-vp9", "yuv420p", {"crf": "31", "row-mt": "1", "cpu-used": "4"}, "gauss"
    ),
    Setting("vp9 444 crf 31", ".webm", "libvpx-vp9", "yuv444p", {"crf": "31", "row-mt": "1", "cpu-used": "4"}),
    Setting("vp9 444 crf 24", ".webm", "libvpx-vp9", "yuv444p", {"crf": "24", "row-mt": "1", "cpu-used": "4"}),
    Setting(
        "vp9 420 crf 24 gauss", ".webm", "libvpx-vp9", "yuv420p", {"crf": "24", "row-mt": "1", "cpu-used": "4"}, "gauss"
    ),
    Setting(
        "vp9 420 crf 18 gauss", ".webm", "libvpx-vp9", "yuv420p", {"crf": "18", "row-mt": "1", "cpu-used": "4"}, "gauss"
    ),
    Setting(
        "vp9 420 crf 12 gauss", ".webm", "libvpx-vp9", "yuv420p", {"crf": "12", "row-mt": "1", "cpu-used": "4"}, "gauss"
    ),
    Setting("vp9 444 crf 18", ".webm", "libvpx-vp9", "yuv444p", {"crf": "18", "row-mt": "1", "cpu-used": "4"}),
    Setting("av1 420 crf 35", ".mkv", "libsvtav1", "yuv420p", {"crf": "35", "preset": "8"}),
    Setting("av1 420 crf 35 gauss", ".mkv", "libsvtav1", "yuv420p", {"crf": "35", "preset": "8"}, "gauss"),
    Setting("av1 420 crf 28 gauss", ".mkv", "libsvtav1", "yuv420p", {"crf": "28", "preset": "8"}, "gauss"),
    Setting("prores 422 (std)", ".mov", "prores_ks", "yuv422p10le", {"profile": "2"}),
    Setting("prores 4444", ".mov", "prores_ks", "yuv444p10le", {"profile": "4"}),
]
QUICK = {
    "vidstyle .mp4",
    "vidstyle .mkv",
    "vidstyle .webm",
    "x264 420 crf 14",
    "x264 420 crf 14 gauss",
    "x264 444 crf 14",
}


def mean_sharpness(frames: list[np.ndarray]) -> float:
    """Mean variance of the Laplacian of each frame's grey levels (the README's sharpness)."""
    return float(np.mean([cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for f in frames]))


def luma(image_u8: np.ndarray) -> np.ndarray:
    """BT.709 Y of an RGB image, replicated to 3 channels (so the RGB meter measures luma)."""
    y = np.clip(np.rint(image_u8.astype(np.float32) @ BT709_LUMA.astype(np.float32)), 0, 255).astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=-1)


class Meter:
    """Flow and mask of each source pair, measured once; ``flicker`` of any
    frame sequence of the same length against them, RGB and luma."""

    def __init__(self, source: list[np.ndarray], warp: str = METER_INTERPOLATION):
        self.warp = warp
        estimator = FlowEstimator("dis-medium")
        self.pairs: list[tuple[np.ndarray, np.ndarray] | None] = []
        for prev, cur in zip(source, source[1:]):
            backward = estimator.estimate(cur, prev)
            mask = consistency_mask(backward, estimator.estimate(prev, cur))
            self.pairs.append(None if is_scene_cut(prev, cur, mask) else (backward, mask))
        self.source, self.source_luma = self._errors(source, None), self._errors(source, luma)

    def _errors(self, frames: list[np.ndarray], convert: Callable | None) -> list[float]:
        frames = [convert(f) for f in frames] if convert else frames
        return [
            float("nan") if pair is None else warping_error(prev, cur, *pair, warp=self.warp)
            for prev, cur, pair in zip(frames, frames[1:], self.pairs)
        ]

    def flicker(self, frames: list[np.ndarray]) -> tuple[float, float]:
        """(RGB, luma) flicker ratio of ``frames``."""
        cuts = [i for i, pair in enumerate(self.pairs) if pair is None]
        rgb = FlickerReport(self._errors(frames, None), self.source, cuts).flicker_ratio
        y = FlickerReport(self._errors(frames, luma), self.source_luma, cuts).flicker_ratio
        return rgb, y


def to_yuv420_blurred(image_u8: np.ndarray) -> av.VideoFrame:
    """yuv420p BT.709 limited with chroma blurred at full resolution, then area-downsampled."""
    yuv = av.VideoFrame.from_ndarray(image_u8, format="rgb24").reformat(
        format="yuv444p", dst_colorspace="ITU709", dst_color_range="MPEG", interpolation=SWS.ACCURATE_RND
    )
    y, u, v = yuv.to_ndarray()  # yuv444p: (3, H, W)
    h, w = y.shape
    half = ((w + 1) // 2, (h + 1) // 2)
    chroma = [cv2.resize(cv2.GaussianBlur(p, (0, 0), BLUR_SIGMA), half, interpolation=cv2.INTER_AREA) for p in (u, v)]
    planes = np.concatenate([y.reshape(-1), chroma[0].reshape(-1), chroma[1].reshape(-1)])
    return av.VideoFrame.from_ndarray(planes.reshape(h * 3 // 2, w), format="yuv420p")


def encode(setting: Setting, frames: list[np.ndarray], path: str) -> None:
    """Write ``frames`` to ``path`` with ``setting``'s encoder (av directly, or vidstyle's VideoWriter)."""
    h, w = frames[0].shape[:2]
    if setting.prefilter > 0:
        frames = [cv2.GaussianBlur(image, (0, 0), setting.prefilter) for image in frames]
    if setting.writer:
        with VideoWriter(path, width=w, height=h, time_base=1 / FPS, fps=FPS, overwrite=True) as writer:
            for i, image in enumerate(frames):
                writer.write(Frame(image_u8=image, pts=i, time_base=1 / FPS, index=i))
        return
    with av.open(path, "w") as container:
        stream = cast(VideoStream, container.add_stream(setting.codec, rate=FPS))
        stream.pix_fmt, stream.width, stream.height = setting.pix_fmt, w, h
        ctx = stream.codec_context
        ctx.colorspace, ctx.color_range, ctx.color_primaries, ctx.color_trc = 1, 1, 1, 1
        if setting.codec == "libvpx-vp9":
            stream.bit_rate = 0
        stream.options = dict(setting.options)
        for i, image in enumerate(frames):
            if setting.chroma == "blur":
                frame = to_yuv420_blurred(image)
            else:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                    format=setting.pix_fmt,
                    dst_colorspace="ITU709",
                    dst_color_range="MPEG",
                    interpolation=CHROMA[setting.chroma],
                )
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def load_clip(frames_dir: str, source: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The stylized PNGs of ``frames_dir`` and as many source frames, at the PNGs' size."""
    names = sorted(glob.glob(os.path.join(frames_dir, "*.png")))
    if not names:
        raise SystemExit(f"no PNG frames in {frames_dir}")
    stylized = [cv2.cvtColor(cv2.imread(n, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for n in names]
    size = (stylized[0].shape[1], stylized[0].shape[0])
    inputs = []
    for frame in read_frames(source, size=size):
        inputs.append(frame.image_u8)
        if len(inputs) == len(stylized):
            break
    return stylized, inputs


def format_row(row: tuple) -> str:
    name, kb, kbps, rgb, y, vidstyle_rgb, sharp, fps = row
    speed = f"{fps:7.1f}" if fps == fps else ""
    return f"{name:34} {kb:7.1f} {kbps:7.0f} {rgb:7.3f} {y:6.3f} {vidstyle_rgb:8.3f} {sharp:6.3f} {speed:>7}"


class StyleJudge:
    """Mean style loss of every STYLE_EVERY-th frame (the optimizer's
    unweighted loss, ``OptimizerEngine.measure``), relative to the lossless frames'."""

    def __init__(self, style_path: str, inputs: list[np.ndarray], lossless: list[np.ndarray]):
        from vidstyle.config import StyleConfig
        from vidstyle.engines.optimize import OptimizerEngine
        from vidstyle.media import load_image

        h, w = inputs[0].shape[:2]
        config = StyleConfig(max_side=max(w, h), output_size=(w, h), device="cpu")
        self.engine = OptimizerEngine([load_image(style_path)], config=config)
        self.inputs = inputs[::STYLE_EVERY]
        self.reference = self.loss(lossless)

    def loss(self, frames: list[np.ndarray]) -> float:
        losses = [self.engine.measure(f, c)["style"] for f, c in zip(frames[::STYLE_EVERY], self.inputs)]
        return float(np.mean(losses))

    def ratio(self, frames: list[np.ndarray]) -> float:
        return self.loss(frames) / self.reference


def run_clip(
    frames_dir: str, source: str, settings: list[Setting], warp: str = METER_INTERPOLATION, style: str | None = None
) -> list[tuple]:
    stylized, inputs = load_clip(frames_dir, source)
    h, w = stylized[0].shape[:2]
    seconds = len(stylized) / float(FPS)
    meter = Meter(inputs, warp)
    judge = StyleJudge(style, inputs, stylized) if style else None
    print(
        f"\n{os.path.basename(frames_dir)} ({os.path.basename(source)}): {len(stylized)} frames {w}x{h}, "
        f"meter warp {warp}",
        flush=True,
    )
    header = f"{'kB':>7} {'kbit/s':>7} {'flicker':>7} {'luma':>6} {'vs read':>8} {'sharp':>6} {'enc fps':>7}"
    print(f"{'setting':34} {header}{'  style' if judge else ''}")
    rgb, y = meter.flicker(stylized)
    lossless_sharpness = mean_sharpness(stylized)
    png_kb = sum(os.path.getsize(n) for n in glob.glob(os.path.join(frames_dir, "*.png"))) / 1000
    rows = [("lossless frames (PNG)", png_kb, png_kb * 8 / seconds, rgb, y, rgb, 1.0, float("nan"))]
    print(format_row(rows[0]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for setting in settings:
            path = os.path.join(tmp, f"{len(rows)}{setting.ext}")
            start = time.perf_counter()
            try:
                encode(setting, stylized, path)
            except (av.error.FFmpegError, ValueError, OSError) as err:
                print(f"{setting.name:34} failed: {err}", flush=True)
                continue
            fps = len(stylized) / (time.perf_counter() - start)
            # as players show it: chroma interpolated (vidstyle eval --decode player), BT.709 as tagged above
            decoded = [f.image_u8 for f in read_frames(path, size=(w, h), chroma="player")]
            rgb, y = meter.flicker(decoded)
            sharp = mean_sharpness(decoded) / lossless_sharpness
            style_ratio = f" {judge.ratio(decoded):6.2f}" if judge else ""
            vidstyle_rgb, _ = meter.flicker([f.image_u8 for f in read_frames(path, size=(w, h))])
            kb = os.path.getsize(path) / 1000
            rows.append((setting.name, kb, kb * 8 / seconds, rgb, y, vidstyle_rgb, sharp, fps))
            print(format_row(rows[-1]) + style_ratio, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="*", help="FRAMES_DIR:SOURCE pairs (default: out/enc/{bikes,bbb,bikes640})")
    parser.add_argument("--quick", action="store_true", help="only a few settings")
    parser.add_argument("--only", help="settings whose name contains this text")
    parser.add_argument(
        "--warp",
        choices=METER_WARPS,
        default=METER_INTERPOLATION,
        help="the meter's warp: linear (the convention's) or lanczos (vidstyle eval --warp)",
    )
    parser.add_argument(
        "--style",
        metavar="IMAGE",
        help="also the style loss of the decoded frames against this style image, relative to the lossless frames'",
    )
    args = parser.parse_args()
    clips = [tuple(c.rsplit(":", 1)) for c in args.clips] or [
        c for c in DEFAULT_CLIPS if glob.glob(os.path.join(c[0], "*.png"))
    ]
    settings = [s for s in SETTINGS if (not args.quick or s.name in QUICK) and (not args.only or args.only in s.name)]
    for frames_dir, source in clips:
        run_clip(frames_dir, source, settings, args.warp, args.style)


if __name__ == "__main__":
    main()
