"""The boil after a cold start, on the same input pairs (issue 10): one command.

    .venv/bin/python benchmarks/boil.py [--size 256x144] [--start 20] [--end 48] [--clip PATH[@S]]
        [--iters-first N] [--range-weight W] [--output WxH [--detail-cold-iters N]] [--cold-only] [--pairs 15]

The clip's first END frames are stylized twice by the optimizer at SIZE
(default options; no detail stage unless --output): once as one
warm-started chain from frame 0, once cold-started at frame START. Over
the 15 pairs after START (``--pairs``) the input is the same, so the difference is the
cold start's alone (the clip's own motion, which differs between its
first second and the rest, cancels). Prints the flicker ratio (``vidstyle
eval``'s meter, full mask, RGB) over those pairs for both runs, the
per-pair ratios, and the style loss of the 16 frames from START on.

With ``--start 0`` (the clip's first second, where the pipeline always
cold-starts) the warm chain runs backwards, from frame END-1 down to frame
0, so that the clip's first pairs are reached warm: the boil there is then
told apart from the motion of the clip's first frames.

With ``--output WxH`` (larger than SIZE) every frame is also finished at
the output size by the detail stage (``pipeline/detail.py``), as the
command line does, and the output-size frames are measured: the detail
stage's own cold start (``sizing.detail_cold_iters`` iterations at the output
size from the upscaled painting, or ``--detail-cold-iters``) is then part
of what is compared.
``--cold-only`` skips the warm chain.

Numbers on a shared 2-core CPU are noisy: compare the two runs of one call.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from resolution import split_clip  # noqa: E402  (benchmarks/, this script's folder)

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_frames  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.motion.flow import INTERPOLATIONS  # noqa: E402
from vidstyle.parsing import parse_size  # noqa: E402
from vidstyle.pipeline import detail  # noqa: E402
from vidstyle.pipeline.stages import stylize_pairs  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
PAIRS = 15  # the meter's cold-start span (evaluate_report.COLD_START_PAIRS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="256x144", help="processing size WxH")
    parser.add_argument("--start", type=int, default=20, help="frame the second run cold-starts at")
    parser.add_argument("--end", type=int, default=48, help="frames read from the clip")
    parser.add_argument("--clip", default=SAMPLE, help="video; PATH@S starts at S seconds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters-first", type=int, default=None, help="cold-start cap at 256x144")
    parser.add_argument("--range-weight", type=float, default=None, help="StyleConfig.range_weight (0: off)")
    parser.add_argument("--output", default=None, help="output size WxH: finish at it with the detail stage")
    parser.add_argument(
        "--detail-cold-iters",
        type=int,
        default=None,
        help="iterations of the detail stage's cold start (default: sizing.detail_cold_iters)",
    )
    parser.add_argument(
        "--detail-warm-iters",
        type=int,
        default=None,
        help="iterations of the detail stage's warm frames (default: sizing.detail_warm_iters)",
    )
    parser.add_argument(
        "--detail-warp",
        choices=sorted(INTERPOLATIONS),
        default=None,
        help="how the detail stage carries its previous frame (default: detail.WARP_INTERPOLATION; "
        "cubic until 2026-11-27)",
    )
    parser.add_argument("--cold-only", action="store_true", help="skip the warm chain")
    parser.add_argument("--pairs", type=int, default=PAIRS, help="pairs measured after START (fewer for large sizes)")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    for name in ("detail_cold_iters", "detail_warm_iters"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    size = parse_size(args.size)
    out_size = parse_size(args.output) if args.output else size
    path, start_s = split_clip(args.clip)
    source = read_frames(path, size=out_size, start_s=start_s)
    frames = [frame for _, frame in zip(range(args.end), source)]
    if args.start + args.pairs + 1 > len(frames):
        parser.error(
            f"--end must leave {args.pairs + 1} frames after --start (the clip has {len(frames)} of {args.end})"
        )
    config = StyleConfig(num_threads=args.threads)
    if args.iters_first is not None:
        config = dataclasses.replace(config, iters_first=args.iters_first)
    if args.range_weight is not None:
        config = dataclasses.replace(config, range_weight=args.range_weight)
    if args.detail_cold_iters is not None:
        fixed = args.detail_cold_iters
        detail.detail_cold_iters = lambda iters, size, out_size, temporal=True: fixed
    if args.detail_warm_iters is not None:
        warm_fixed = args.detail_warm_iters
        detail.detail_warm_iters = lambda iters, size, out_size: warm_fixed
    if args.detail_warp is not None:
        detail.WARP_INTERPOLATION = args.detail_warp
    engine = OptimizerEngine([load_image(STYLE)], config=config)

    def stylize(part) -> list:
        return [stylized.image_u8 for _, stylized in stylize_pairs(part, engine, config=config, size=size)]

    span = slice(args.start, args.start + args.pairs + 1)  # the frames measured
    runs = []
    if not args.cold_only:
        if args.start == 0:  # no frame before the first: reach it warm from the other side
            chain = stylize(frames[::-1])[::-1]
        else:
            chain = stylize(frames)
        name = f"warm chain backwards from frame {len(frames) - 1}" if args.start == 0 else "warm chain from frame 0"
        runs.append((name, chain[span]))
    runs.append((f"cold start at frame {args.start}", stylize(frames[span])))
    inputs = [frame.image_u8 for frame in frames[span]]
    for name, outputs in runs:
        report = evaluate_frames(inputs, outputs).report("full", "rgb")
        ratio = report.flicker_ratio
        pairs = " ".join(f"{s / i:.2f}" for s, i in zip(report.per_pair_stylized, report.per_pair_input))
        styles = " ".join(f"{engine.measure(o, c)['style']:,.0f}" for o, c in zip(outputs, inputs))
        print(f"{name}: pairs {args.start}-{args.start + args.pairs} flicker {ratio:.3f}", flush=True)
        print(f"  per pair: {pairs}")
        print(f"  style loss per frame: {styles}", flush=True)


if __name__ == "__main__":
    main()
