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
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from detail_warm import torch_first_step  # noqa: E402  (benchmarks/, this script's folder)
from resolution import split_clip  # noqa: E402

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_frames, sharpness  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.parsing import parse_size  # noqa: E402
from vidstyle.pipeline.stages import stylize_pairs  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default=SAMPLE, help="video; PATH@S starts at S seconds")
    parser.add_argument("--size", default="256x144", help="processing size WxH (the clip is read at it)")
    parser.add_argument("--frames", type=int, default=24, help="frames from the clip's start (at least 2)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.frames < 2:
        parser.error("--frames must be at least 2")
    size = parse_size(args.size)
    path, start_s = split_clip(args.clip)
    frames = [frame for _, frame in zip(range(args.frames), read_frames(path, size=size, start_s=start_s))]
    inputs = [frame.image_u8 for frame in frames]
    config = StyleConfig(num_threads=args.threads)
    engine = OptimizerEngine([load_image(STYLE)], config=config)
    print(f"{os.path.basename(path)} at {args.size}, {len(frames)} frames")
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
