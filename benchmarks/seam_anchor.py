"""How close a segment that starts inside a shot starts to the single-machine
chain: anchored (the product's Ray seam) vs cold. One command, no Ray.

    .venv/bin/python benchmarks/seam_anchor.py [--clip PATH[@S]] [--size 256x144] [--start 20] [--fade 8]

The clip's first START + FADE + 1 frames are stylized by the optimizer at
SIZE (default options, no detail stage) as one chain from frame 0. Then a
"segment" is stylized from frame START, once cold-started and once anchored
(``distributed.anchor.anchored_start``: frame 0's painting carried along the
flow to START, then optimized), and its first FADE frames are cross-faded
into the chain's (``distributed.seams.crossfade``), as the Ray driver does.
Prints, for each start:

  D2          mean squared RGB difference (values in [0, 1]) between the
              segment's and the chain's painting of frame START and of the
              last faded frame, as a multiple of the chain's median pair E_warp
  seam zone   the worst and the mean E_warp (``vidstyle eval``'s meter, full
              mask, RGB) of the FADE + 1 pairs from frame START - 1 on, over
              the chain's median pair; the chain's own worst pair there is
              printed first (the seam adds what exceeds it)
  style       mean style loss of frames START.. of the assembled clip over
              the chain's

Timings are printed but are not the point (run benchmarks/scale.py for those).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from resolution import split_clip  # noqa: E402  (benchmarks/, this script's folder)

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.distributed.anchor import anchored_start  # noqa: E402
from vidstyle.distributed.seams import crossfade  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_frames  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.parsing import parse_size  # noqa: E402
from vidstyle.pipeline.stages import stylize_pairs  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default=SAMPLE, help="video; PATH@S starts at S seconds")
    parser.add_argument("--size", default="256x144", help="processing size WxH")
    parser.add_argument("--start", type=int, default=20, help="the segment's first frame")
    parser.add_argument("--fade", type=int, default=8, help="cross-faded frames (--seam-frames)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    start, fade = args.start, args.fade
    if start < 1 or fade < 1:
        parser.error("--start and --fade must be at least 1")
    path, start_s = split_clip(args.clip)
    source = read_frames(path, size=parse_size(args.size), start_s=start_s)
    frames = [frame for _, frame in zip(range(start + fade + 1), source)]
    if len(frames) < start + fade + 1:
        parser.error(f"the clip has {len(frames)} frames; --start + --fade + 1 are needed")
    config = StyleConfig(num_threads=args.threads)
    engine = OptimizerEngine([load_image(STYLE)], config=config)
    inputs = [frame.image_u8 for frame in frames]

    began = time.perf_counter()
    chain = [stylized.image_u8 for _, stylized in stylize_pairs(frames, engine, config=config)]
    print(f"chain of {len(chain)} frames: {time.perf_counter() - began:.0f} s", flush=True)
    own = evaluate_frames(inputs, chain).report("full", "rgb").per_pair_stylized
    median = float(np.nanmedian(own[1:]))
    zone = slice(start - 1, start + fade)
    worst = np.nanmax(own[zone]) / median
    print(f"median pair E_warp {median:.3g}; the chain's own worst pair in the seam zone {worst:.2f}x")

    def d2(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2) / 255**2) / median

    chain_style = np.mean([engine.measure(o, c)["style"] for o, c in zip(chain[start:], inputs[start:])])
    for name in ("cold", "anchored"):
        began = time.perf_counter()
        first = None
        if name == "anchored":
            first = anchored_start(engine, config, lambda: inputs[: start + 1])
            if first is None:
                print("anchored: too little of the frame followed from frame 0; the product starts cold here")
                continue
        segment = [s.image_u8 for _, s in stylize_pairs(frames[start:], engine, config=config, first_start=first)]
        seconds = time.perf_counter() - began
        faded = [crossfade(chain[start + k], segment[k], step=k, steps=fade) for k in range(fade)]
        assembled = chain[:start] + faded + segment[fade:]
        pairs = evaluate_frames(inputs, assembled).report("full", "rgb").per_pair_stylized[zone]
        style = np.mean([engine.measure(o, c)["style"] for o, c in zip(assembled[start:], inputs[start:])])
        print(
            f"{name}: {seconds:.0f} s; D2 at frame {start} {d2(segment[0], chain[start]):.0f}x, "
            f"at frame {start + fade - 1} {d2(segment[fade - 1], chain[start + fade - 1]):.0f}x; "
            f"seam zone worst {np.nanmax(pairs) / median:.2f}x, mean {np.nanmean(pairs) / median:.2f}x; "
            f"style {style / chain_style:.3f}x the chain's",
            flush=True,
        )


if __name__ == "__main__":
    main()
