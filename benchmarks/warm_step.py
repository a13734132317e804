"""L-BFGS's first step on warm-started frames, at the processing size: one command, prints a table.

    .venv/bin/python benchmarks/warm_step.py [--clip PATH[@S]] [--size 256x144] [--frames 24]

The clip's first FRAMES frames are stylized at SIZE as one warm chain
(default options, no detail stage) twice: with the warm frames' first
L-BFGS step as vidstyle takes it (the largest-gradient pixel moves by 1
grey level, no step above 32, ``engines.optimize.WARM_FIRST_STEP_MAX`` and
``WARM_MAX_STEP``) and as torch takes it (1 in L1 over the whole image, no
bound). Columns: flicker ratio (``vidstyle eval``'s meter, full mask,
lossless frames) in RGB and luma; style loss, mean over frames 1.. and the
first frame's; sharpness (variance of the Laplacian of luma) of frames 1..
/ the first frame's; wall seconds of the chain. The detail stage's side of
the same rule: ``benchmarks/detail_warm.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from clip_options import add_clip_options, optimizer, read_clip  # benchmarks/, this script's folder
from detail_warm import torch_first_step

from vidstyle.config import StyleConfig
from vidstyle.evaluate import evaluate_frames, sharpness
from vidstyle.pipeline.stages import stylize_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_clip_options(parser)
    args = parser.parse_args()
    name, size, frames = read_clip(parser, args)
    inputs = [frame.image_u8 for frame in frames]
    config = StyleConfig(num_threads=args.threads)
    engine = optimizer(config)
    print(f"{name} at {args.size}, {len(frames)} frames")
    print("| warm first step | flicker rgb | luma | style 1.. | style, frame 0 | sharp | s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, torch_rule in (("1 grey level, bound 32 (default)", False), ("torch's", True)):
        started = time.perf_counter()
        with torch_first_step(torch_rule):
            outputs = [stylized.image_u8 for _, stylized in stylize_pairs(frames, engine, config=config, size=size)]
        seconds = time.perf_counter() - started
        meter = evaluate_frames(inputs, outputs)
        styles = [engine.measure(output, content)["style"] for output, content in zip(outputs, inputs)]
        sharp = np.mean([sharpness(output) for output in outputs[1:]]) / sharpness(outputs[0])
        print(
            f"| {name} | {meter.report('full', 'rgb').flicker_ratio:.3f} "
            f"| {meter.report('full', 'luma').flicker_ratio:.3f} "
            f"| {np.mean(styles[1:]):,.0f} | {styles[0]:,.0f} | {sharp:.3f} | {seconds:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
