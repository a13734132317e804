"""The detail stage against its alternatives, on the first frames of a clip:
one command, prints a table.

    .venv/bin/python benchmarks/detail.py [--frames 6] [--clip samples/bbb_tail_480x270.mp4]

Rows (processing at 256 px, output at the clip's size): the detail stage at
3 and 5 iterations, a plain resize of the processing-size result
(``--detail-iters 0``), and processing at the output size directly. Columns:
flicker ratio (``vidstyle eval``'s meter, lossless, RGB; ``lz``: the same with
the meter's Lanczos warp, ``--warp lanczos``), style loss of frames
1.. over the first frame's (measured at the output size), sharpness (variance
of the Laplacian of luma, absolute), wall seconds per frame.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_frames, sharpness  # noqa: E402
from vidstyle.frames import fit_size  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image, resize  # noqa: E402
from vidstyle.pipeline.stages import stylize_pairs  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default=SAMPLE)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--max-side", type=int, default=256, help="processing size of the detail rows")
    args = parser.parse_args()
    frames = [frame for _, frame in zip(range(args.frames), read_frames(args.clip))]
    sources = [frame.image_u8 for frame in frames]
    out_size = frames[0].size
    small = fit_size(*out_size, max_side=args.max_side)
    engine = OptimizerEngine([load_image(STYLE)], config=StyleConfig())
    rows = (
        ("detail stage, 3 iterations (default)", dict(detail_iters=3), small),
        ("detail stage, 5 iterations", dict(detail_iters=5), small),
        ("plain resize (--detail-iters 0)", dict(detail_iters=0), small),
        (f"processing at {out_size[0]}x{out_size[1]}", dict(), out_size),
    )
    print(f"{args.clip}: {len(frames)} frames, output {out_size[0]}x{out_size[1]}")
    print(f"{'configuration':<40} {'flicker':>8} {'lz':>6} {'style':>7} {'sharp':>9} {'s/frame':>8}", flush=True)
    for name, options, size in rows:
        started = time.perf_counter()
        config = StyleConfig(**options)
        outputs = [resize(s.image_u8, out_size) for _, s in stylize_pairs(frames, engine, config=config, size=size)]
        seconds = (time.perf_counter() - started) / len(frames)
        flicker = evaluate_frames(sources, outputs).flicker_ratio
        lanczos = evaluate_frames(sources, outputs, warp="lanczos").flicker_ratio
        style = [engine.measure(image, source)["style"] for image, source in zip(outputs, sources)]
        sharp = float(np.mean([sharpness(image) for image in outputs]))
        print(
            f"{name:<40} {flicker:>8.3f} {lanczos:>6.3f} {np.mean(style[1:]) / style[0]:>7.3f} "
            f"{sharp:>9.2e} {seconds:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
