"""Tiles benchmark (engines/tiling.py): does a tiled run match an untiled one,
and does a 4K frame fit where an untiled one would not? One command, prints numbers.

    .venv/bin/python benchmarks/tiling.py                 # (a) then (b), one torch thread
    .venv/bin/python benchmarks/tiling.py --part a --iters 10
    .venv/bin/python benchmarks/tiling.py --part b --iters 2 --tile 512

(a) a 512x512 frame (the sample clip's first frame, resized) stylized with
    ``--iters`` L-BFGS iterations untiled and in 256 px tiles (halo 80):
    the relative difference of the final style and content losses, the
    largest pixel difference (0..255), and a seam measure for each result:
    mean |difference of neighbouring pixels| across the tile boundaries
    divided by the same mean over the whole image (1.0: a boundary looks like
    anywhere else; a seam shows as > 1).
(b) a 3840x2160 frame (the same frame upscaled) stylized for ``--iters``
    iterations in ``--tile`` px tiles, in a fresh process: the untiled and
    tiled memory estimates (``optimize_memory.required_bytes``), the process's
    peak resident memory (VmHWM), and seconds per iteration. L-BFGS keeps at
    most ``iters`` curvature pairs here, not the 50 the estimate counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.engines.optimize_memory import required_bytes  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image, resize  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
CLIP = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
GIB = 2**30


def first_frame(size: tuple[int, int]) -> np.ndarray:
    for frame in read_frames(CLIP):
        return resize(frame.image_u8, size)
    raise SystemExit(f"{CLIP}: no frames")


def seam_ratio(image: np.ndarray, tile: int) -> float:
    """Mean |neighbour difference| across tile boundaries / mean over the image."""
    x = image.astype(np.float32)
    dx = np.abs(x[:, 1:] - x[:, :-1]).mean(axis=(0, 2))  # dx[j]: between columns j and j+1
    dy = np.abs(x[1:] - x[:-1]).mean(axis=(1, 2))
    cols = [c - 1 for c in range(tile, image.shape[1], tile)]
    rows = [r - 1 for r in range(tile, image.shape[0], tile)]
    at_seams = np.concatenate([dx[cols], dy[rows]]).mean()
    return float(at_seams / np.concatenate([dx, dy]).mean())


def part_a(iters: int, tile: int) -> None:
    content = first_frame((512, 512))
    style = load_image(STYLE)
    base = StyleConfig(tolerance=0.0, coarse_to_fine=False, num_threads=1)
    results = {}
    for name, config in (("untiled", base), (f"tiles {tile}", dataclasses.replace(base, tile=tile))):
        engine = OptimizerEngine([style], config=config)
        started = time.perf_counter()
        result = engine.stylize(content, max_iters=iters)
        seconds = time.perf_counter() - started
        measured = OptimizerEngine([style], config=base, features=engine.vgg).measure(result.image_u8, content)
        results[name] = (result, measured)
        print(
            f"(a) 512x512 {name:>10}: {iters} iterations in {seconds:6.1f} s ({seconds / iters:.2f} s/iteration), "
            f"total loss {result.losses['total']:.6g}, style {measured['style']:.6g}, "
            f"content {measured['content']:.6g}, "
            f"seam ratio {seam_ratio(result.image_u8, tile):.3f}"
        )
    (plain, plain_m), (tiled, tiled_m) = results.values()
    diff = np.abs(plain.image_u8.astype(int) - tiled.image_u8.astype(int))
    print(
        f"(a) tiled vs untiled: style loss rel. diff {abs(tiled_m['style'] / plain_m['style'] - 1):.2e}, "
        f"content {abs(tiled_m['content'] / plain_m['content'] - 1):.2e}, "
        f"total {abs(tiled.losses['total'] / plain.losses['total'] - 1):.2e}; "
        f"pixels: max |diff| {diff.max()}, mean {diff.mean():.4f}, share > 1: {(diff > 1).mean():.2e}"
    )


def part_b(iters: int, tile: int, budget_gib: float) -> None:
    content = first_frame((3840, 2160))
    style = load_image(STYLE)
    # style_scale 0.5: the style image's Grams at 1920 px instead of 3840 (its
    # tiled pass would cost as much as two frames); the frame is the same.
    config = StyleConfig(tolerance=0.0, coarse_to_fine=False, num_threads=1, tile=tile, style_scale=0.5)
    untiled = required_bytes((3840, 2160), config=dataclasses.replace(config, tile=None), device="cpu")
    tiled = required_bytes((3840, 2160), config=config, device="cpu")
    print(
        f"(b) 3840x2160: estimate untiled {untiled / GIB:.1f} GiB, in {tile} px tiles {tiled / GIB:.1f} GiB "
        f"(budget {budget_gib:g} GiB: untiled {'fits' if untiled <= budget_gib * GIB else 'does not fit'}, "
        f"tiled {'fits' if tiled <= budget_gib * GIB else 'does not fit'})",
        flush=True,
    )
    engine = OptimizerEngine([style], config=config)
    times: list[float] = []
    last = [time.perf_counter()]

    def on_iteration(event) -> None:
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now
        print(
            f"(b) iteration {event.iteration}: {times[-1]:.0f} s, loss {event.loss:.6g}, "
            f"peak RSS so far {peak_rss() / GIB:.2f} GiB",
            flush=True,
        )

    started = time.perf_counter()
    engine.style_grams((3840, 2160))
    style_seconds = time.perf_counter() - started
    print(f"(b) style targets (1920 px style image, in tiles): {style_seconds:.0f} s", flush=True)
    last[0] = time.perf_counter()
    result = engine.stylize(content, max_iters=iters, on_iteration=on_iteration)
    total = time.perf_counter() - started
    print(
        f"(b) {result.num_iters} iterations: s/iteration {', '.join(f'{t:.0f}' for t in times)} "
        f"(the first includes the content targets); style targets {style_seconds:.0f} s; "
        f"total {total:.0f} s; final loss {result.losses['total']:.6g}"
    )
    print(f"(b) peak resident memory (VmHWM) {peak_rss() / GIB:.2f} GiB; image sum {int(result.image_u8.sum())}")


def peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("a", "b", "all"), default="all")
    parser.add_argument("--iters", type=int, default=None, help="iterations (default: a 10, b 2)")
    parser.add_argument("--tile", type=int, default=None, help="tile core side (default: a 256, b 512)")
    parser.add_argument("--budget-gib", type=float, default=16.0, help="(b) the memory budget to compare with")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.part in ("a", "all"):
        part_a(args.iters or 10, args.tile or 256)
    if args.part == "b":
        part_b(args.iters or 2, args.tile or 512, args.budget_gib)
    elif args.part == "all":  # a fresh process: its peak memory is (b)'s alone
        command = [sys.executable, __file__, "--part", "b", "--budget-gib", str(args.budget_gib)]
        command += ["--iters", str(args.iters or 2), "--tile", str(args.tile or 512)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
