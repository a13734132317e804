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

Rows: the stylizer's bicubic warp, the detail stage's Lanczos-4 warp and
the meter's own bilinear warp, each rounded to 8 bits per frame as the
pipeline stores frames. Columns: flicker ratio (RGB, luma), the same in RGB
with the meter's warp by Lanczos-4 (``lz rgb``, ``vidstyle eval --warp
lanczos``), and sharpness (variance of the Laplacian of luma) of the last
carried frame / the first frame's: a carry that loses its texture reads
steady to the bilinear meter.
"""

from __future__ import annotations

import argparse

import numpy as np
from clip_options import add_clip_options, optimizer, read_clip  # benchmarks/, this script's folder

from vidstyle.config import StyleConfig
from vidstyle.evaluate import evaluate_frames, sharpness
from vidstyle.frames import u8_to_float
from vidstyle.motion.flow import FlowEstimator, warp


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
    add_clip_options(parser)
    args = parser.parse_args()
    name, _, frames = read_clip(parser, args)
    inputs = [frame.image_u8 for frame in frames]
    config = StyleConfig(num_threads=args.threads)
    painting = optimizer(config).stylize(inputs[0], None).image_u8
    estimator = FlowEstimator(config.flow or "dis-medium")
    flows = [estimator.estimate(inputs[t], inputs[t - 1]) for t in range(1, len(inputs))]
    print(f"{name} at {args.size}, {len(inputs)} frames")
    print("| carried | warp | flicker rgb | luma | lz rgb | sharp, last / first |")
    print("|---|---|---:|---:|---:|---:|")
    for name, first in (("the painting of frame 0", painting), ("input frame 0", inputs[0])):
        for interpolation in ("cubic", "lanczos", "linear"):
            carried = carry(first, flows, interpolation)
            meter = evaluate_frames(inputs, carried)
            lanczos = evaluate_frames(inputs, carried, warp="lanczos").report("full", "rgb").flicker_ratio
            sharp = sharpness(carried[-1]) / sharpness(carried[0])
            print(
                f"| {name} | {interpolation} | {meter.report('full', 'rgb').flicker_ratio:.3f} "
                f"| {meter.report('full', 'luma').flicker_ratio:.3f} | {lanczos:.3f} | {sharp:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
