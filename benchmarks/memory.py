"""Memory benchmark: does a long run stay flat? One command, prints a table.

    .venv/bin/python benchmarks/memory.py                        # 10,000 frames, 96x64 -> 48x32, --iters 3,1
    .venv/bin/python benchmarks/memory.py --frames 3000 --every 250
    .venv/bin/python benchmarks/memory.py --instant              # no VGG: the pipeline's own bookkeeping only

Encodes a clip of ``--frames`` frames of a moving random texture (libx264,
yuv420p, ``--source-size``) into a temporary folder, runs it through
``pipeline.stylize_video`` at a tiny processing size (``--max-side``) with
``--iters`` and one torch thread, and every ``--every`` frames samples:

  RSS MB        resident size of this process (/proc/self/statm)
  traced MB     Python heap allocated and still alive (tracemalloc; numpy
                arrays included, torch tensors not)
  malloc used   glibc: bytes in use in malloc's arenas and mmapped chunks
  malloc free   glibc: free bytes kept inside the arenas (fragmentation:
                grows while "used" stays flat)
  loss          the frame's total loss
  px std        standard deviation of its pixels per channel, averaged
                (0 = a flat, degenerate frame)
  s/frame       wall seconds per frame since the previous sample (frame 0:
                network loading and the cold first frame)

then prints, for RSS and traced memory: the slope after warm-up (MB per 1,000
frames, least squares over the samples after 30% of the run) and the peak
above the level at 30% of the run. Target: slope under 1 MB per
1,000 frames. ``--instant`` replaces the optimizer by an instant stand-in
(the output frame is the inverted input) to measure the pipeline alone.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
import time
import tracemalloc
from fractions import Fraction

import av
import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle import engines  # noqa: E402
from vidstyle.engines import FrameResult  # noqa: E402
from vidstyle.pipeline import FrameDone, stylize_video  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
WARM_UP = 0.3  # slope and peak are measured over the frames after this share of the run
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_BYTES


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    ]


def _mallinfo():
    """glibc's mallinfo2 (None elsewhere): (bytes in use, free bytes kept in the arenas)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None

    def read() -> tuple[int, int]:
        info = libc.mallinfo2()
        return info.uordblks + info.hblkhd, info.fordblks

    return read


def write_clip(path: str, *, frames: int, width: int, height: int, seed: int = 0) -> None:
    """A random colour texture (periodic, 320x320) moving 1 px/frame right and
    0.5 px/frame down, wrapping around: any length, and flow is well defined."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(40, 40, 3)).astype(np.float32)
    texture = cv2.resize(np.tile(coarse, (3, 3, 1)), (960, 960), interpolation=cv2.INTER_CUBIC)[320:640, 320:640]
    texture = np.clip(texture + rng.normal(0, 20, texture.shape), 0, 255).astype(np.uint8)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.ascontiguousarray(np.roll(texture, (i // 2, i), axis=(0, 1))[:height, :width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))


class InstantEngine:
    """An ``Engine`` standing in for the optimizer: the inverted input, no network."""

    name = "instant"
    wants_warm_start = True
    min_iters = 1

    def __init__(self, styles_u8, *, config, device=None):
        self.config = config
        self.device = "cpu"

    def max_iters(self, *, cold: bool) -> int:
        return 1

    def required_bytes(self, size) -> int:
        return 3 * size[0] * size[1]

    def stylize(self, content_u8, warm=None, *, max_iters=None, on_iteration=None):
        return FrameResult(
            image_u8=np.ascontiguousarray(255 - content_u8),
            num_iters=1,
            converged=True,
            losses={"total": 0.0},
            seconds=0.0,
        )


def use_instant_engine() -> None:
    engines.register_engine("optimize", InstantEngine)


def least_squares_slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return float("nan")
    return float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])


def after_warm_up(rows: list[dict], key: str, frames: int) -> tuple[float, float]:
    """(MB per 1,000 frames, least squares; peak MB above the level at 30%)
    over the samples from 30% of the run on."""
    start = WARM_UP * frames
    later = [r for r in rows if r["frame"] >= start]
    if not later:
        return float("nan"), float("nan")
    slope = least_squares_slope([r["frame"] for r in later], [r[key] for r in later]) * 1000
    return slope, max(r[key] for r in later) - later[0][key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=None, help="sample every K frames (default: frames / 40)")
    parser.add_argument("--source-size", default="96x64", help="WxH of the generated clip")
    parser.add_argument("--max-side", type=int, default=48, help="processing size: longer side")
    parser.add_argument("--iters", default="3,1", help="FIRST,LATER iteration caps")
    parser.add_argument("--style", default=STYLE)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--instant", action="store_true", help="no optimizer: measure the pipeline alone")
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc (it slows Python down)")
    args = parser.parse_args()
    every = args.every or max(1, args.frames // 40)
    width, height = map(int, args.source_size.lower().split("x"))
    iters_first, iters_later = map(int, args.iters.split(","))
    if args.instant:
        use_instant_engine()
    mallinfo = _mallinfo()

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vidstyle-memory-") as tmp:
        src, dst = os.path.join(tmp, "clip.mp4"), os.path.join(tmp, "out.mp4")
        write_clip(src, frames=args.frames, width=width, height=height)
        if not args.no_trace:
            tracemalloc.start()
        started = time.perf_counter()
        last = [started, 0]

        def on_event(event) -> None:
            if not isinstance(event, FrameDone) or event.index % every:
                return
            now = time.perf_counter()
            used, free = mallinfo() if mallinfo else (0, 0)
            rows.append(
                {
                    "frame": event.index,
                    "rss": rss_bytes() / 1e6,
                    "traced": tracemalloc.get_traced_memory()[0] / 1e6 if tracemalloc.is_tracing() else 0.0,
                    "used": used / 1e6,
                    "free": free / 1e6,
                    "loss": event.result.losses.get("total", 0.0),
                    "std": float(event.result.image_u8.reshape(-1, 3).std(axis=0).mean()),
                    "s_per_frame": (now - last[0]) / max(1, event.index - last[1]),
                }
            )
            last[:] = [now, event.index]

        summary = stylize_video(
            src,
            dst,
            style=args.style,
            on_event=on_event,
            max_side=args.max_side,
            iters_first=iters_first,
            iters_later=iters_later,
            num_threads=args.threads,
            overwrite=True,
        )
        seconds = time.perf_counter() - started

    engine = "instant stand-in" if args.instant else f"VGG19 L-BFGS, --iters {args.iters}"
    print(
        f"{args.frames} frames, {args.source_size} -> {summary.processing_size[0]}x{summary.processing_size[1]}, "
        f"{engine}, {args.threads} torch thread(s), device {summary.device}; {seconds:.0f} s\n"
    )
    print("| frame | RSS MB | traced MB | malloc used MB | malloc free MB | loss | px std | s/frame |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['frame']} | {r['rss']:.1f} | {r['traced']:.2f} | {r['used']:.1f} | {r['free']:.1f} "
            f"| {r['loss']:.4g} | {r['std']:.1f} | {r['s_per_frame']:.3f} |"
        )
    print()
    at = int(WARM_UP * args.frames)
    for key, name in (
        ("rss", "RSS"),
        ("traced", "traced (tracemalloc)"),
        ("used", "malloc used"),
        ("free", "malloc free (fragmentation)"),
    ):
        if key == "traced" and args.no_trace or key in ("used", "free") and mallinfo is None:
            continue
        slope, peak = after_warm_up(rows, key, args.frames)
        print(
            f"{name}: slope after frame {at}: {slope:+.3f} MB per 1,000 frames; "
            f"peak above the level at frame {at}: {peak:+.2f} MB"
        )


if __name__ == "__main__":
    main()
