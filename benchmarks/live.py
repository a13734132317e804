"""Live-mode benchmark (issue 4): one command, prints a table.

    .venv/bin/python benchmarks/live.py [--seconds 10] [--source lavfi:testsrc2=size=320x240:rate=30]
    .venv/bin/python benchmarks/live.py --model LOOK.pt   # the network engine (a look of `vidstyle train`)

Runs the real live loop (capture thread, one-slot mailbox, budgeted
optimization, flow between processed frames) on a paced lavfi source for
``--seconds`` per setting and reports, per setting:

  out fps    stylized frames per second actually delivered
  lat p50/p90  capture-to-output latency, milliseconds
  dropped    fraction of source frames never stylized
  it/frame   mean optimizer iterations per stylized frame
  style      median style loss of 8 output frames sampled over the run,
             relative to a 40-iteration L-BFGS optimization of the first
             source frame at the same size (1.0 = as stylized as that; the
             raw content frame scores in the hundreds)

With ``--model`` the settings are the network engine's (one pass per frame,
``--net-blend`` with the flow-warped previous output, or raw), at the
source's own 320x240 and at 160 px, as fast as frames come (30 fps budget);
the style reference is then the look's own style image.

Timings are wall-clock on a shared machine: compare rows of the same run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle.config import StyleConfig, preset_options  # noqa: E402
from vidstyle.engines import make_engine  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.live import LiveOptions, default_num_threads, run_live  # noqa: E402
from vidstyle.media import load_image, open_source  # noqa: E402
from vidstyle.sizing import choose_size  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
SOURCE = "lavfi:testsrc2=size=320x240:rate=30"
REFERENCE_ITERS = 40
STYLE_SAMPLES = 8

# (label, max_side, LiveOptions fields, StyleConfig overrides)
SETTINGS = [
    ("96 px, 5 fps", 96, dict(target_fps=5), {}),
    ("96 px, 10 fps", 96, dict(target_fps=10), {}),
    ("128 px, 2 fps (default)", 128, dict(target_fps=2), {}),
    ("128 px, 4 fps", 128, dict(target_fps=4), {}),
    ("128 px, 8 fps", 128, dict(target_fps=8), {}),
    ("128 px, latency 0.5 s", 128, dict(target_fps=None, max_latency_s=0.5), {}),
    ("128 px, 2 fps, L-BFGS", 128, dict(target_fps=2), dict(optimizer="lbfgs")),
    ("160 px, 2 fps", 160, dict(target_fps=2), {}),
    ("160 px, 4 fps", 160, dict(target_fps=4), {}),
]
# --model: the network engine (no iterations: one pass per frame)
NETWORK_SETTINGS = [
    ("network 320 px, blend 0.5", 320, dict(target_fps=30), dict(net_blend=0.5)),
    ("network 320 px, raw", 320, dict(target_fps=30), dict(net_blend=0.0)),
    ("network 160 px, blend 0.5", 160, dict(target_fps=30), dict(net_blend=0.5)),
]


class KeepPairs:
    """A sink that keeps every (source, output) image pair for measuring afterwards."""

    def __init__(self):
        self.pairs = []

    def write(self, output, source):
        self.pairs.append((source.image_u8, output.image_u8))

    def close(self):
        pass


def reference_style_loss(engine: OptimizerEngine, source: str, max_side: int) -> tuple[float, float]:
    """Style loss of a REFERENCE_ITERS L-BFGS optimization (cold start) of the
    source's first frame, and that of the raw frame relative to it."""
    first = next(open_source(source).frames(max_side=max_side)).image_u8
    full = engine.config.replace(optimizer="lbfgs")
    reference = make_engine(full, engine.styles_u8).stylize(first, max_iters=REFERENCE_ITERS)
    loss = engine.measure(reference.image_u8, first)["style"]
    return loss, engine.measure(first, first)["style"] / loss


def style_ratio(engine: OptimizerEngine, pairs, reference: float) -> float:
    step = max(1, len(pairs) // STYLE_SAMPLES)
    sample = pairs[step // 2 :: step][:STYLE_SAMPLES]
    return statistics.median(engine.measure(out, src)["style"] for src, out in sample) / reference


def run_setting(source_text: str, engine: OptimizerEngine, config: StyleConfig, options: LiveOptions, sinks):
    """One live run as ``vidstyle live`` does it: the source at its own size,
    the processing size chosen on its first frame, frames resized as taken."""
    source = open_source(source_text)
    frames = source.frames()
    first = next(frames)
    size = choose_size(first.size, config, required_bytes=engine.required_bytes, device=engine.device).size
    return run_live(itertools.chain([first], frames), engine, config=config, size=size, options=options, sinks=sinks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per setting")
    parser.add_argument("--source", default=SOURCE)
    parser.add_argument("--only", help="run the settings whose label contains this text")
    parser.add_argument("--model", metavar="LOOK", help="measure the network engine with this look file")
    parser.add_argument("--threads", type=int, help="torch threads (default: live mode's, all cores but one)")
    args = parser.parse_args()
    style = load_image(STYLE)
    settings = SETTINGS
    base: dict = preset_options("live")
    if args.model:
        from vidstyle.training import load_look

        style = load_look(args.model).styles_u8[0]
        settings = NETWORK_SETTINGS
        base = {"engine": "net", "model": args.model}
    threads = args.threads or default_num_threads("net" if args.model else "optimize")
    print(
        f"source {args.source}, {args.seconds:g} s per setting, torch threads {threads}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'setting':<26} {'size':>7} {'out fps':>7} {'lat p50':>8} {'lat p90':>8} {'dropped':>7} "
        f"{'it/frame':>8} {'style':>6}"
    )
    print(header)
    print("-" * len(header))
    references: dict[int, float] = {}
    judges: dict[int, OptimizerEngine] = {}
    for label, max_side, live_fields, overrides in settings:
        if args.only and args.only not in label:
            continue
        config = StyleConfig(**{**base, "max_side": max_side, "num_threads": threads, **overrides})
        engine = make_engine(config, [style])
        if max_side not in judges:
            judges[max_side] = OptimizerEngine(
                [style], config=StyleConfig(**{**preset_options("live"), "max_side": max_side, "num_threads": threads})
            )
        judge = judges[max_side]
        if max_side not in references:
            references[max_side], raw = reference_style_loss(judge, args.source, max_side)
            print(f"{'':<26} ({max_side} px: the unstylized frame scores style {raw:.0f})")
        keep = KeepPairs()
        summary = run_setting(args.source, engine, config, LiveOptions(**live_fields, duration_s=args.seconds), [keep])
        ratio = style_ratio(judge, keep.pairs, references[max_side]) if keep.pairs else float("nan")
        w, h = summary.processing_size
        print(
            f"{label:<26} {f'{w}x{h}':>7} {summary.output_fps:>7.2f} {summary.latency_median_s * 1000:>6.0f}ms "
            f"{summary.latency_p90_s * 1000:>6.0f}ms {summary.dropped_fraction:>7.0%} {summary.mean_iters:>8.1f} "
            f"{ratio:>6.2f}",
            flush=True,
        )
        time.sleep(0.5)  # let the capture thread of the previous run finish closing


if __name__ == "__main__":
    main()
