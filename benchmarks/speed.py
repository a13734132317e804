"""Speed benchmark: one command, prints markdown tables.

    .venv/bin/python benchmarks/speed.py                   # 256x144 and 640x360, ablations, cold-start baselines
    .venv/bin/python benchmarks/speed.py --quick           # smoke run: 128x72, 4 frames, lower caps
    .venv/bin/python benchmarks/speed.py --presets fast,balanced,quality --rows none

Each row runs the file pipeline's chain on the sample clip (decode with
media.read_frames -> motion.with_motion -> pipeline.stages.stylize_frames ->
media.VideoWriter, with pipeline.stages.stylize_pairs's prefetch threads and depths) and
times every stage where it runs:

  decode, flow, stylize, encode   busy seconds of each stage (time inside the
                                  stage minus the time it waited for the stage
                                  before it), summed over the clip;
  d+f+e %                         (decode + flow + encode) / wall: the share of
                                  the run's wall time that went to I/O and flow;
  stall %                         (wall - stylize) / wall: the share during which
                                  the optimizer was not running (it waited for
                                  frames or encoded): what overlap did not hide;
  first s / first it              the first frame (cold start, includes the style
                                  Gram matrices);
  s/f med, p90, it/f              wall seconds between consecutive output frames
                                  and optimizer iterations, over frames 2..n;
  style, content                  mean unweighted losses (OptimizerEngine.measure, same
                                  network and scale for every row);
  style/def                       the row's mean style loss / the default row's on
                                  the same frames (<= 1: no worse than default);
  flicker                         E_warp(stylized) / E_warp(input) (evaluate.py).

Rows (``--rows``, comma-separated keys; default all):

  default         StyleConfig() as it is: the reference for the others.
  cold-N          what image tools do: every frame from the content, N L-BFGS
                  iterations, no warm start, no temporal loss, no convergence
                  stop, no coarse-to-fine (``--cold-iters``, ``--cold-frames``).
  no-stop         tolerance 0: every frame runs to its iteration cap.
  no-warm         every frame cold-started (converged, coarse-to-fine), no
                  temporal loss: what the flow-warped warm start saves.
  unwarped        warm start from the previous output without flow, no temporal loss.
  no-c2f          first frame at full size only (coarse-to-fine off).
  full-vgg        the network is not truncated after relu5_1 (runs to pool5).
  no-gram-cache   style Gram matrices recomputed for every frame.
  serial          no prefetch threads: decode and flow inline with the optimizer.
  threads-K       torch.set_num_threads(K) for each K in ``--threads``.
  fp32            (CUDA only) no autocast: the VGG passes in float32.
  channels-last   (CPU) float32 VGG passes in the channels-last layout (the
                  default there is NCHW: ``engines.precision.channels_last``).
  bf16            (CPU) the VGG passes in bfloat16 (``--precision bf16``, channels-last).
  bf16-nchw       (CPU) the same in the NCHW layout.
  compile         (with ``--compile``) torch.compile on the VGG network.

Ablation rows run the first ``--ablation-frames`` frames, cold-N the first
``--cold-frames``; compare them with the default row on the same frames
(style/def does). Defaults come from StyleConfig, so the table follows the
library; ``--set key=value`` overrides a field for every row (--quick lowers the
iteration caps this way and says so).

Threads: measured on 2 cores (256x144, s per L-BFGS iteration): idle, 2 torch
threads 0.30 vs 1 thread 0.55; with one other busy thread (flow computed
nonstop) 2 threads 2.44 vs 1 thread 0.57. The pipeline's flow thread is busy
for a few hundredths of a second per frame, so all cores is right for files,
but on a machine loaded by other processes use ``--set num_threads=1`` or the
numbers measure the contention.

Cost on an idle 2-core CPU, roughly: 256x144 with the defaults 15-20 minutes
(cold-300 alone 3 x ~90 s); 640x360 about 6x per iteration (pick rows with
``--rows default,cold,no-stop`` and ``--cold-iters 100`` to keep it under an hour).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import vidstyle.engines.optimize as optimize_module  # noqa: E402
from vidstyle.config import PRESETS, StyleConfig, preset_options  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_flicker  # noqa: E402
from vidstyle.features import VGG19Features, select_device  # noqa: E402
from vidstyle.media import VideoWriter, probe, read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.motion.estimate import with_motion  # noqa: E402
from vidstyle.motion.warmstart import WarmStartPolicy  # noqa: E402
from vidstyle.pipeline.events import FrameDone, FrameStarted  # noqa: E402
from vidstyle.pipeline.multipass import refine_passes  # noqa: E402
from vidstyle.pipeline.stages import stylize_frames  # noqa: E402
from vidstyle.pipeline.workdir import FrameStore  # noqa: E402
from vidstyle.threads import prefetch  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
DECODE_DEPTH, FLOW_DEPTH = 4, 2  # pipeline.stylize_video / stylize_pairs


@dataclasses.dataclass
class Row:
    """One configuration to time: StyleConfig overrides plus how it is run."""

    name: str
    options: dict
    frames: int
    overlap: bool = True  # prefetch threads as in the pipeline
    full_vgg: bool = False
    clear_grams: bool = False
    layout: str | None = None  # "nchw" or "channels-last": forced (engines.precision.channels_last); None: the default


class StageClock:
    """Accumulates the seconds spent inside ``next()`` of wrapped iterators, per stage."""

    def __init__(self):
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    def timed(self, items: Iterable, stage: str) -> Iterator:
        iterator = iter(items)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(stage, time.perf_counter() - started)
                return
            self.add(stage, time.perf_counter() - started)
            yield item


def run_row(row: Row, size, style_u8, base: StyleConfig, networks: dict, out_dir: str) -> dict:
    """Stylize the first ``row.frames`` frames of the sample clip at ``size``
    with the pipeline's chain; time the stages and every frame."""
    config = base.replace(**row.options)
    layers = tuple(dict.fromkeys(config.content_layers + config.style_layers))
    key = (layers, row.full_vgg, row.layout)
    if key not in networks:
        networks[key] = VGG19Features(layers, weights=config.weights, truncate=not row.full_vgg)
    threads_before = torch.get_num_threads()
    layout = (
        nullcontext()
        if row.layout is None
        else mock.patch.object(optimize_module, "channels_last", lambda device, dtype: row.layout == "channels-last")
    )
    with layout:
        return _run_row(row, size, style_u8, config, networks[key], out_dir, threads_before)


def _run_row(row: Row, size, style_u8, config: StyleConfig, network, out_dir: str, threads_before: int) -> dict:
    stylizer = OptimizerEngine([style_u8], config=config, features=network)
    threads = torch.get_num_threads()
    info = probe(SAMPLE)
    end_s = (row.frames - 0.5) / float(info.fps)
    clock = StageClock()
    done: list[FrameDone] = []
    inputs: dict[int, np.ndarray] = {}
    outputs: dict[int, np.ndarray] = {}
    arrivals: list[float] = []

    def on_event(event) -> None:
        if isinstance(event, FrameDone):
            done.append(event)
        elif isinstance(event, FrameStarted) and row.clear_grams:
            stylizer._style_grams.clear()

    dst = os.path.join(out_dir, f"{row.name}-{size[0]}x{size[1]}.mp4")
    writer = VideoWriter(
        dst,
        width=size[0],
        height=size[1],
        time_base=info.time_base,
        fps=info.fps,
        audio_from=SAMPLE if info.has_audio else None,
        audio_end_s=end_s,
        overwrite=True,
    )
    started = time.perf_counter()
    decoded = clock.timed(read_frames(SAMPLE, size=size, end_s=end_s), "decode")
    if row.overlap:
        decoded = prefetch(decoded, depth=DECODE_DEPTH)
    if config.temporal:
        motion = clock.timed(
            with_motion(
                clock.timed(decoded, "flow.wait"),
                method=config.flow,
                offsets=config.long_term,
                scene_cut_threshold=config.scene_cut_threshold,
            ),
            "flow",
        )
        if row.overlap:
            motion = prefetch(motion, depth=FLOW_DEPTH)
    else:
        motion = ((frame, None) for frame in decoded)

    def remember(pairs):
        for frame, m in pairs:
            inputs[frame.index] = frame.image_u8
            yield frame, m

    stylized = stylize_frames(
        remember(clock.timed(motion, "stylize.wait")),
        stylizer,
        policy=WarmStartPolicy.from_config(config),
        on_event=on_event,
    )
    for frame, _ in clock.timed(stylized, "stylize"):
        arrivals.append(time.perf_counter())
        outputs[frame.index] = frame.image_u8
        tick = time.perf_counter()
        writer.write(frame)
        clock.add("encode", time.perf_counter() - tick)
    refine_s = 0.0
    if config.passes > 1:
        tick = time.perf_counter()
        refine_s = refine(outputs, inputs, stylizer, config, out_dir)
        clock.add("stylize", time.perf_counter() - tick)
    tick = time.perf_counter()
    writer.close()
    clock.add("encode", time.perf_counter() - tick)
    wall = time.perf_counter() - started
    torch.set_num_threads(threads_before)
    result = summarize_row(row, clock, wall, started, arrivals, done, inputs, outputs, refine_s)
    result["threads"] = threads
    return result


def refine(outputs: dict, inputs: dict, stylizer: OptimizerEngine, config: StyleConfig, out_dir: str) -> float:
    """Multi-pass refinement (config.passes > 1) through temporary frame stores;
    the refined frames replace ``outputs``. Returns its seconds."""
    started = time.perf_counter()
    shape = outputs[0].shape
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        store = FrameStore(work, fingerprint={}, shape=shape)
        originals = FrameStore(work, fingerprint={}, shape=shape, name="inputs")
        for index in sorted(outputs):
            store.append(outputs[index])
            originals.append(inputs[index])
        refine_passes(store, originals, stylizer, config=config, passes=config.passes)
        for index in sorted(outputs):
            outputs[index] = store.read(index)
    return time.perf_counter() - started


def summarize_row(row, clock, wall, started, arrivals, done, inputs, outputs, refine_s) -> dict:
    s = clock.seconds
    stylize = s["stylize"] - s["stylize.wait"]
    flow = s["flow"] - s["flow.wait"]
    intervals = [b - a for a, b in zip(arrivals, arrivals[1:])]
    first = [e for e in done if e.index == 0][:1]
    later = [e for e in done if e.index > 0]
    return {
        "row": row.name,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in row.options.items()},
        "frames": len(outputs),
        "wall_s": wall,
        "first_s": arrivals[0] - started if arrivals else math.nan,
        "first_iters": first[0].result.num_iters if first else 0,
        "steady_median_s": statistics.median(intervals) if intervals else math.nan,
        "steady_p90_s": percentile(intervals, 90),
        "steady_iters": statistics.median(e.result.num_iters for e in later) if later else math.nan,
        "steady_converged": sum(e.result.converged for e in later) / len(later) if later else math.nan,
        "decode_s": s["decode"],
        "flow_s": flow,
        "stylize_s": stylize,
        "encode_s": s["encode"],
        "refine_s": refine_s,
        "io_flow_share": (s["decode"] + flow + s["encode"]) / wall,
        "stall_share": max(wall - stylize, 0.0) / wall,
        "per_frame": [
            {
                "index": e.index,
                "iters": e.result.num_iters,
                "seconds": e.result.seconds,
                "cold": e.cold_start,
                "converged": e.result.converged,
            }
            for e in done
        ],
        "_inputs": inputs,
        "_outputs": outputs,
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    return float(np.percentile(values, q, method="higher"))


def measure_quality(result: dict, measurer: OptimizerEngine, default: dict | None) -> None:
    """Add unweighted losses, the ratio to the default row on the same frames,
    and the flicker ratio to ``result`` (in place)."""
    inputs, outputs = result.pop("_inputs"), result.pop("_outputs")
    indices = sorted(outputs)
    losses = {i: measurer.measure(outputs[i], inputs[i]) for i in indices}
    result["losses"] = {str(i): v for i, v in losses.items()}
    result["style"] = float(np.mean([losses[i]["style"] for i in indices]))
    result["content"] = float(np.mean([losses[i]["content"] for i in indices]))
    if default is None:
        result["style_vs_default"] = 1.0 if result["row"] == "default" else math.nan
    else:
        reference = [default["losses"][str(i)]["style"] for i in indices if str(i) in default["losses"]]
        result["style_vs_default"] = (
            result["style"] / float(np.mean(reference)) if len(reference) == len(indices) else math.nan
        )
    if len(indices) >= 3:
        report = evaluate_flicker((inputs[i] for i in indices), (outputs[i] for i in indices))
        result["flicker"] = report.flicker_ratio
    else:
        result["flicker"] = math.nan


def build_rows(args, base: StyleConfig, device: torch.device, frames: int, large: bool) -> list[Row]:
    ablate = min(args.ablation_frames, frames)
    # Cold frames all cost the same; at large sizes one after the first is enough.
    cold = min(args.cold_frames, frames, 2 if large else frames)
    rows = [Row("default", {}, frames)]
    for iters in args.cold_iters:
        rows.append(
            Row(
                f"cold-{iters}",
                dict(temporal=False, warm_start=False, tolerance=0.0, coarse_to_fine=False, iters_first=iters),
                cold,
            )
        )
    rows += [
        Row("no-stop", dict(tolerance=0.0), ablate),
        Row("no-warm", dict(temporal=False, warm_start=False), cold),
        Row("unwarped", dict(temporal=False, warm_start=True), ablate),
        Row("no-c2f", dict(coarse_to_fine=False), min(2, frames)),
        Row("full-vgg", {}, ablate, full_vgg=True),
        Row("no-gram-cache", {}, ablate, clear_grams=True),
        Row("serial", {}, ablate, overlap=False),
    ]
    if device.type == "cpu":
        rows += [Row(f"threads-{k}", dict(num_threads=k), ablate) for k in args.threads]
    if device.type == "cuda":
        rows.append(Row("fp32", dict(precision="fp32"), ablate))
    if device.type == "cpu":
        rows += [
            Row("channels-last", {}, ablate, layout="channels-last"),
            Row("bf16", dict(precision="bf16"), ablate),
            Row("bf16-nchw", dict(precision="bf16"), ablate, layout="nchw"),
        ]
    if args.compile:
        rows.append(Row("compile", dict(compile=True), ablate))
    if args.rows is not None:
        wanted = set(args.rows)
        rows = [r for r in rows if r.name in wanted or r.name.split("-")[0] in wanted]
    return rows


COLUMNS = [
    ("size", "{}"),
    ("row", "{}"),
    ("frames", "{}"),
    ("first s", "{:.2f}"),
    ("first it", "{}"),
    ("s/f med", "{:.2f}"),
    ("s/f p90", "{:.2f}"),
    ("it/f", "{:.1f}"),
    ("decode s", "{:.2f}"),
    ("flow s", "{:.2f}"),
    ("stylize s", "{:.1f}"),
    ("encode s", "{:.2f}"),
    ("d+f+e %", "{:.1f}"),
    ("stall %", "{:.1f}"),
    ("wall s", "{:.1f}"),
    ("style", "{:.3g}"),
    ("style/def", "{:.2f}"),
    ("content", "{:.3g}"),
    ("flicker", "{:.2f}"),
]


def table_cells(r: dict) -> list:
    return [
        r["size"],
        r["row"],
        r["frames"],
        r["first_s"],
        r["first_iters"],
        r["steady_median_s"],
        r["steady_p90_s"],
        r["steady_iters"],
        r["decode_s"],
        r["flow_s"],
        r["stylize_s"],
        r["encode_s"],
        100 * r["io_flow_share"],
        100 * r["stall_share"],
        r["wall_s"],
        r["style"],
        r["style_vs_default"],
        r["content"],
        r["flicker"],
    ]


def print_table(results: list[dict]) -> None:
    print("| " + " | ".join(name for name, _ in COLUMNS) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|")
    for r in results:
        cells = []
        for (_, fmt), value in zip(COLUMNS, table_cells(r)):
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            cells.append("-" if missing else fmt.format(value))
        print("| " + " | ".join(cells) + " |")


def print_savings(results: list[dict]) -> None:
    """One line per size and ablation: what the speed-up it switches off saved."""
    by_size = collections.defaultdict(dict)
    for r in results:
        by_size[r["size"]][r["row"]] = r
    for size, rows in by_size.items():
        default = rows.get("default")
        if default is None:
            continue
        print(
            f"\n{size}: default steady {default['steady_median_s']:.2f} s/frame, "
            f"first frame {default['first_s']:.2f} s; d+f+e {100 * default['io_flow_share']:.1f}% of wall, "
            f"stall {100 * default['stall_share']:.1f}%"
        )
        for name, r in rows.items():
            if name == "default" or name.startswith("preset"):
                continue
            steady = r["steady_median_s"]
            ratio = steady / default["steady_median_s"] if default["steady_median_s"] > 0 else math.nan
            first = r["first_s"] / default["first_s"] if default["first_s"] > 0 else math.nan
            print(
                f"- {name}: steady {steady:.2f} s/frame = {ratio:.2f}x default; first frame {first:.2f}x; "
                f"style {r['style_vs_default']:.2f}x default's on the same frames"
            )


def parse_size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def preset_row(spec: str, frames: int) -> Row:
    """The row of ``--presets`` item ``spec``: a preset's name, optionally
    followed by ``@KEY=VALUE`` changes to its fields (``fast@iters_first=400``)."""
    name, *changes = spec.split("@")
    options = preset_options(name)
    for change in changes:
        key, _, value = change.partition("=")
        options[key] = parse_value(value)
    return Row(f"preset-{spec}", options, frames)


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256x144,640x360", help="processing sizes WxH, comma-separated")
    parser.add_argument("--frames", type=int, default=24, help="frames of the sample clip for the default row")
    parser.add_argument(
        "--frames-large",
        type=int,
        default=6,
        help="frames for sizes above 100k pixels (every row there is capped to this)",
    )
    parser.add_argument("--ablation-frames", type=int, default=8)
    parser.add_argument("--cold-frames", type=int, default=3)
    parser.add_argument("--cold-iters", default="100,300", help="fixed iteration counts of the cold-start baselines")
    parser.add_argument("--threads", default="1,2", help="torch thread counts to compare (CPU)")
    parser.add_argument(
        "--rows",
        help="comma-separated row keys (default, cold, no-stop, no-warm, unwarped, no-c2f, "
        "full-vgg, no-gram-cache, serial, threads, fp32, compile) or 'none'",
    )
    parser.add_argument(
        "--presets",
        help=f"also time these presets ({','.join(PRESETS)}) on --frames frames; NAME@KEY=VALUE[@KEY=VALUE] "
        "changes fields of one (fast@iters_first=400)",
    )
    parser.add_argument("--compile", action="store_true", help="add a torch.compile row")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a StyleConfig field for every row (JSON value)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 128x72, 4 frames, iteration caps 30/10, stop window 3"
    )
    parser.add_argument("--json", help="also write every number (per frame too) to this file")
    args = parser.parse_args()
    overrides = {}
    if args.quick:
        defaults = StyleConfig()
        args.sizes, args.frames, args.ablation_frames, args.cold_frames = "128x72", 4, 3, 2
        args.cold_iters = "20"
        overrides.update(
            iters_first=min(defaults.iters_first, 30),
            iters_later=min(defaults.iters_later, 10),
            min_iters_later=min(defaults.min_iters_later, 4),
            tolerance_window=min(defaults.tolerance_window, 3),
        )
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = parse_value(value)
    args.cold_iters = [int(v) for v in args.cold_iters.split(",") if v]
    args.threads = [int(v) for v in args.threads.split(",") if v]
    args.rows = None if args.rows is None else ([] if args.rows == "none" else args.rows.split(","))
    style = load_image(STYLE)
    base = StyleConfig(device=args.device, **overrides)
    device = select_device(base.device)
    defaults = {
        f.name: getattr(base, f.name)
        for f in dataclasses.fields(StyleConfig)
        if f.name
        in (
            "iters_first",
            "iters_later",
            "tolerance",
            "tolerance_window",
            "min_iters_later",
            "flow",
            "long_term",
            "coarse_to_fine",
            "num_threads",
        )
    }
    print(
        f"style {os.path.basename(STYLE)}; clip {os.path.basename(SAMPLE)}; device {device}; "
        f"torch threads {base.num_threads or torch.get_num_threads()} of {os.cpu_count()} cores; defaults {defaults}"
        + (f"; overrides {overrides}" if overrides else ""),
        flush=True,
    )
    results = []
    networks: dict = {}
    with tempfile.TemporaryDirectory() as out_dir:
        for size in [parse_size(s) for s in args.sizes.split(",")]:
            large = size[0] * size[1] > 100_000
            frames = min(args.frames, args.frames_large) if large else args.frames
            base_at = base.replace(size=size)
            measurer = OptimizerEngine(
                [style],
                config=base_at,
                features=networks.setdefault(
                    (tuple(dict.fromkeys(base.content_layers + base.style_layers)), False),
                    VGG19Features(tuple(dict.fromkeys(base.content_layers + base.style_layers)), weights=base.weights),
                ),
            )
            rows = build_rows(args, base, device, frames, large)
            if args.presets:
                rows += [preset_row(spec, frames) for spec in args.presets.split(",")]
            # One-time costs (first torch calls, allocator) before any row is timed.
            OptimizerEngine([style], config=base_at.replace(coarse_to_fine=False), features=measurer.vgg).stylize(
                np.zeros((32, 32, 3), np.uint8), max_iters=2
            )
            default = None
            for row in rows:
                print(f"  {size[0]}x{size[1]} {row.name} ({row.frames} frames)...", file=sys.stderr, flush=True)
                result = run_row(row, size, style, base_at, networks, out_dir)
                result["size"] = f"{size[0]}x{size[1]}"
                measure_quality(result, measurer, default)
                if row.name == "default":
                    default = result
                results.append(result)
    print()
    print_table(results)
    print_savings(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"device": str(device), "defaults": defaults, "overrides": overrides, "rows": results},
                f,
                indent=1,
                default=str,
            )


if __name__ == "__main__":
    main()
