"""More iterations where the footage was disoccluded only: does the warm chain then hold the style?

    EXTRA=10 HOLD=100 .venv/bin/python benchmarks/disoccluded_iters.py --clips out/clips/bikes.mp4 \
        --outputs 256 --cold-every 6

An experiment on the optimizer's warm frames (``engines/optimize.py``). On a
fast clip the chain holds less style than a cold start paints on the same
frames (``resolution.py --cold-every``); more iterations per frame buy it back
but move the held pixels too, which the meter reads as flicker. Here each warm
frame, after its iterations, gets ``EXTRA`` more in which the pixels its
mask calls reliable are held where they are (a temporal target of the frame
itself, weight ``HOLD`` times the usual) and only the disoccluded ones are
free. ``benchmarks/resolution.py`` then runs with the remaining options, its
tool run replaced by an in-process run with this engine (its ``peak MB``
column is not measured; two torch threads).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import resolution  # noqa: E402  (benchmarks/resolution.py)

import vidstyle.engines as engines  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.frames import TemporalTarget, WarmStart, u8_to_float  # noqa: E402
from vidstyle.pipeline import stylize_video  # noqa: E402

EXTRA = int(os.environ.get("EXTRA", "10"))  # iterations on the disoccluded pixels after a warm frame's own
HOLD = float(os.environ.get("HOLD", "100"))  # temporal weight on the reliable pixels meanwhile, times the usual


class DisoccludedIterations(OptimizerEngine):
    """The optimizer, with ``EXTRA`` iterations on a warm frame's disoccluded pixels after its own."""

    def stylize(self, content_u8, warm=None, *, max_iters=None, on_iteration=None):
        result = super().stylize(content_u8, warm, max_iters=max_iters, on_iteration=on_iteration)
        if warm is None or warm.temporal is None or EXTRA <= 0:
            return result
        reliable = (warm.temporal.weights[0] >= 0.5).astype(np.float32)
        if reliable.mean() > 0.99:
            return result
        image = u8_to_float(result.image_u8).astype(np.float32)
        hold = TemporalTarget(warped=image[None], weights=(reliable * HOLD)[None])
        second = super().stylize(content_u8, WarmStart(init=image, temporal=hold), max_iters=EXTRA)
        return dataclasses.replace(
            second, num_iters=result.num_iters + second.num_iters, seconds=result.seconds + second.seconds
        )


def run_in_process(clip, start_s, out_size, frames, folder, extra) -> dict:
    """``resolution.run_tool``'s run, in this process with this engine (``extra`` is not supported)."""
    if extra and extra != [""]:
        raise SystemExit("--extra is not supported here")
    seconds = (frames + 0.5) / float(resolution.probe(clip).fps or 25)
    started = time.perf_counter()
    summary = stylize_video(
        clip,
        os.path.join(folder, "%05d.png"),
        style=resolution.STYLE,
        output_size=out_size,
        start_s=start_s,
        end_s=(start_s or 0.0) + seconds,
        overwrite=True,
        num_threads=2,
    )
    wall = time.perf_counter() - started
    return {"seconds_per_frame": wall / max(1, summary.frames), "peak_mb": math.nan, "processing_size": list(out_size)}


if __name__ == "__main__":
    engines.register_engine("optimize", DisoccludedIterations)
    resolution.run_tool = run_in_process
    print(f"{EXTRA} more iterations on disoccluded pixels, reliable ones held at {HOLD:g}x", flush=True)
    resolution.main()
