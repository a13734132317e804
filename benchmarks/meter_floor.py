"""What the flicker meter reads for a painting that only follows the flow: one command, prints a table.

    .venv/bin/python benchmarks/meter_floor.py [--clip PATH[@S]] [--size 256x144] [--frames 24]

The clip's first frame is stylized (a cold start, default options, at
SIZE); that painting is then carried along the clip's flow (the stylizer's
own: DIS medium, backward, on the input at SIZE) through the next frames
with no optimization at all, and ``vidstyle eval``'s meter (full mask)
measures the carried sequence against the input. The same is done with
the input's own first frame. A stylizer cannot be steadier, by this meter,
than its texture carried this way: what such a sequence reads is the
meter's floor for that texture, not flicker a viewer sees.

Rows: the stylizer's bicubic warp and the meter's own bilinear warp, each
rounded to 8 bits per frame as the pipeline stores frames. Columns: flicker
ratio (RGB, luma), and sharpness (variance of the Laplacian of luma) of
the last carried frame / the first frame's: a carry that loses its texture
reads steady.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from resolution import split_clip  # noqa: E402  (benchmarks/, this script's folder)

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_frames, sharpness  # noqa: E402
from vidstyle.frames import u8_to_float  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.motion.flow import FlowEstimator, warp  # noqa: E402
from vidstyle.parsing import parse_size  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")


def carry(first_u8: np.ndarray, backward_flows: list[np.ndarray], interpolation: str) -> list[np.ndarray]:
    """``first_u8`` (uint8 ``(H, W, 3)``) and its successive warps along
    ``backward_flows`` (frame t -> t-1, one per later frame), each rounded to uint8."""
    frames = [first_u8]
    for flow in backward_flows:
        carried = np.clip(warp(u8_to_float(frames[-1]), flow, interpolation=interpolation), 0.0, 1.0)
        frames.append(np.round(carried * 255.0).astype(np.uint8))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default=SAMPLE, help="video; PATH@S starts at S seconds")
    parser.add_argument("--size", default="256x144", help="size WxH the clip is read, stylized and measured at")
    parser.add_argument("--frames", type=int, default=24, help="frames from the clip's start (at least 2)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.frames < 2:
        parser.error("--frames must be at least 2")
    size = parse_size(args.size)
    path, start_s = split_clip(args.clip)
    inputs = [frame.image_u8 for _, frame in zip(range(args.frames), read_frames(path, size=size, start_s=start_s))]
    config = StyleConfig(num_threads=args.threads)
    painting = OptimizerEngine([load_image(STYLE)], config=config).stylize(inputs[0], None).image_u8
    estimator = FlowEstimator(config.flow or "dis-medium")
    flows = [estimator.estimate(inputs[t], inputs[t - 1]) for t in range(1, len(inputs))]
    print(f"{os.path.basename(path)} at {args.size}, {len(inputs)} frames")
    print("| carried | warp | flicker rgb | luma | sharp, last / first |")
    print("|---|---|---:|---:|---:|")
    for name, first in (("the painting of frame 0", painting), ("input frame 0", inputs[0])):
        for interpolation in ("cubic", "linear"):
            carried = carry(first, flows, interpolation)
            meter = evaluate_frames(inputs, carried)
            sharp = sharpness(carried[-1]) / sharpness(carried[0])
            print(
                f"| {name} | {interpolation} | {meter.report('full', 'rgb').flicker_ratio:.3f} "
                f"| {meter.report('full', 'luma').flicker_ratio:.3f} | {sharp:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
