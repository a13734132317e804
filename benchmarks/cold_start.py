"""How far a cold start converges at each size (issue 10): one command, prints a table.

    .venv/bin/python benchmarks/cold_start.py [--sizes 256x144,480x270] [--iters-first 200,280] [--clip PATH]

The first frame of the clip is cold-started by the optimizer at each size
(its pyramid and restart, default options but ``iters_first``), then given
60 more iterations from its own result in three warm-started rounds of 20
(no temporal loss: the same frame again, as a still shot's next frames see
it). Columns:

  cap          the cold start's iteration cap at that size
               (``engines.optimize.cold_start_iters`` of ``iters_first``)
  per level    iterations each pyramid level (and the restart, last) used
  seconds      wall time of the cold start
  style cold   the frame's style loss after the cold start (unweighted)
  after +60    its style loss after the 60 more iterations
  still falls  (cold - after) / cold: how much the frames after a cold start
               would keep converging (the boil), lower is better

Numbers on a shared 2-core CPU are noisy: compare rows of one run.
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
from vidstyle.frames import WarmStart  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.parsing import parse_size  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
MORE_ROUNDS, MORE_ITERS = 3, 20


def row(clip: str, style: np.ndarray, size: tuple[int, int], iters_first: int, threads: int) -> list[str]:
    frame = next(iter(read_frames(clip, size=size))).image_u8
    config = StyleConfig(size=size, num_threads=threads, iters_first=iters_first, min_iters_later=MORE_ITERS)
    engine = OptimizerEngine([style], config=config)
    calls: list[int] = []

    def count(event) -> None:
        if event.iteration == 1:
            calls.append(0)
        calls[-1] += 1

    started = time.perf_counter()
    result = engine.stylize(frame, on_iteration=count)
    seconds = time.perf_counter() - started
    cold = engine.measure(result.image_u8, frame)["style"]
    image = result.image_u8
    for _ in range(MORE_ROUNDS):
        image = engine.stylize(frame, WarmStart(init=image.astype(np.float32) / 255.0), max_iters=MORE_ITERS).image_u8
    after = engine.measure(image, frame)["style"]
    return [
        f"{size[0]}x{size[1]}",
        str(iters_first),
        str(engine.max_iters(cold=True, size=size)),
        "/".join(map(str, calls)),
        f"{seconds:.0f}",
        f"{cold:,.0f}",
        f"{after:,.0f}",
        f"{(cold - after) / cold:.1%}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="256x144,480x270", help="processing sizes, WxH, comma-separated")
    parser.add_argument("--iters-first", default="200", help="iters_first values, comma-separated")
    parser.add_argument("--clip", default=SAMPLE)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    style = load_image(STYLE)
    header = ["size", "iters_first", "cap", "per level", "seconds", "style cold", "after +60", "still falls"]
    print(" | ".join(header), flush=True)
    for size in map(parse_size, args.sizes.split(",")):
        for iters_first in map(int, args.iters_first.split(",")):
            print(" | ".join(row(args.clip, style, size, iters_first, args.threads)), flush=True)


if __name__ == "__main__":
    main()
