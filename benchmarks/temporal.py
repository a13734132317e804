"""Temporal-consistency benchmark: one command, prints a table.

    .venv/bin/python benchmarks/temporal.py [--max-side 128] [--frames 72] [--quick]

For each clip and each method it reports:
  E_warp   warping error (Lai et al. 2018) of the stylized clip; on synthetic
           clips with the exact flow and mask, on the sample clip with the
           flow measured on the input;
  flicker  E_warp(stylized) / E_warp(input) with measured flow (1.0 = as steady as the source);
  style    mean style loss over the clip / style loss of its first frame
           (a full optimization): >1 means the style fades;
  content  mean content loss / first frame's;
  sharp    mean detail (variance of the Laplacian of the luma) / first frame's:
           steadiness bought with blur or smeared texture shows up as < 1;
  s/frame  wall seconds per frame (CPU, this machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_flicker, evaluate_flicker_with_flows  # noqa: E402
from vidstyle.frames import Frame, fit_size  # noqa: E402
from vidstyle.media import probe, read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.pipeline.multipass import refine_passes  # noqa: E402
from vidstyle.pipeline.stages import stylize_pairs  # noqa: E402
from vidstyle.pipeline.workdir import FrameStore  # noqa: E402
from vidstyle.synthetic import all_clips  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")

METHODS = {
    "per-frame": dict(temporal=False, warm_start=False),
    "warm start only": dict(temporal_weight=0.0),
    "warm + temporal (default)": dict(),
    "long-term 1+2+4": dict(long_term=(1, 2, 4)),
    "multi-pass x3": dict(passes=3),
}


def stylize_sequence(frames_u8: list[np.ndarray], style_u8, options: dict) -> tuple[list[np.ndarray], OptimizerEngine]:
    """Run the library's stages on in-memory frames (multi-pass through a temporary work dir)."""
    config = StyleConfig(**options)
    stylizer = OptimizerEngine([style_u8], config=config)
    frames = [Frame(image_u8=f, pts=i, time_base=None, index=i) for i, f in enumerate(frames_u8)]
    outputs = [s.image_u8 for _, s in stylize_pairs(frames, stylizer, config=config)]
    if config.passes > 1:
        with tempfile.TemporaryDirectory() as work:
            shape = frames_u8[0].shape
            store = FrameStore(work, fingerprint={}, shape=shape)
            inputs = FrameStore(work, fingerprint={}, shape=shape, name="inputs")
            for out, frame in zip(outputs, frames_u8):
                store.append(out)
                inputs.append(frame)
            refine_passes(store, inputs, stylizer, config=config, passes=config.passes)
            outputs = [store.read(i) for i in range(store.count)]
    return outputs, stylizer


def detail(image_u8: np.ndarray) -> float:
    """Variance of the Laplacian of the luma: high for crisp brush strokes,
    low for blurred or smeared texture."""
    gray = cv2.cvtColor(image_u8, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def measure(name, method, frames, outputs, stylizer, seconds, exact=None) -> dict:
    losses = [stylizer.measure(o, f) for o, f in zip(outputs, frames)]
    style = [loss["style"] for loss in losses]
    content = [loss["content"] for loss in losses]
    report = evaluate_flicker(iter(frames), iter(outputs))
    e_warp = float(np.mean(evaluate_flicker_with_flows(outputs, *exact))) if exact else report.e_warp_stylized
    return {
        "clip": name,
        "method": method,
        "e_warp": e_warp,
        "flicker": report.flicker_ratio,
        "style": float(np.mean(style) / style[0]),
        "content": float(np.mean(content) / max(content[0], 1e-9)),
        "sharp": float(np.mean([detail(o) for o in outputs]) / max(detail(outputs[0]), 1e-9)),
        "s_per_frame": seconds / len(frames),
    }


def print_table(rows: list[dict]) -> None:
    header = (
        f"| {'clip':<14} | {'method':<26} | {'E_warp':>9} | {'flicker':>7} | {'style':>6} | {'content':>7} "
        f"| {'sharp':>5} | {'s/frame':>7} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        print(
            f"| {r['clip']:<14} | {r['method']:<26} | {r['e_warp']:9.6f} | {r['flicker']:7.3f} | "
            f"{r['style']:6.3f} | {r['content']:7.3f} | {r['sharp']:5.2f} | {r['s_per_frame']:7.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-side", type=int, default=128, help="processing size of the sample clip")
    parser.add_argument("--frames", type=int, default=72, help="frames of the sample clip to use")
    parser.add_argument("--synthetic-frames", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="sample clip only, without per-frame and multi-pass")
    parser.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS))
    args = parser.parse_args()
    methods = dict(METHODS)
    if args.methods:
        methods = {k: v for k, v in METHODS.items() if k in args.methods.split(",")}
    elif args.quick:
        methods = {k: v for k, v in METHODS.items() if k not in ("per-frame", "multi-pass x3")}
    style = load_image(STYLE)
    clips = []
    if not args.quick:
        for clip in all_clips(128, 72, args.synthetic_frames):
            clips.append((clip.name, clip.frames, (clip.backward_flows, clip.masks)))
    info = probe(SAMPLE)
    size = fit_size(info.width, info.height, max_side=args.max_side)
    sample = [f.image_u8 for f, _ in zip(read_frames(SAMPLE, size=size), range(args.frames))]
    clips.append(("sample clip", sample, None))
    rows = []
    print(
        f"style: {os.path.basename(STYLE)}; sample clip at {size[0]}x{size[1]}, {len(sample)} frames; "
        f"synthetic clips 128x72, {args.synthetic_frames} frames",
        flush=True,
    )
    for name, frames, exact in clips:
        for method, options in methods.items():
            started = time.perf_counter()
            outputs, stylizer = stylize_sequence(frames, style, options)
            rows.append(measure(name, method, frames, outputs, stylizer, time.perf_counter() - started, exact))
            print(f"  done: {name} / {method}", file=sys.stderr, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
