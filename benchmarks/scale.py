"""Ray scaling benchmark: one command, prints a markdown table.

    .venv/bin/python benchmarks/scale.py [--frames 24] [--max-side 96] [--iters 60,8] [--segment-frames 8]

On the first ``--frames`` frames of the sample clip, at a small size, with the
real optimizer (1 torch thread per worker) on a local Ray runtime:

  run          single machine (no Ray), Ray with 1 worker, Ray with 2 workers
               at each --seams value (warm-up frames before a seam; 0: none)
  wall s       stylize_video wall time, the Ray runtime already started
               (its start is printed once, above the table)
  speed-up     1-worker wall / this wall
  busy/engine  summed over workers: seconds inside segment calls / of them
               in the engine (warm-up frames included)
  fixed s      wall - the busiest worker's busy seconds: once per run (actor
               processes start and import torch, engine set-up, the driver's
               scan, writing the last segment, runtime calls)
  per-seg s    (busy - engine seconds of delivered frames) / segments: what a
               segment costs beyond its own frames (decoding its range,
               warm-up frames, flow not hidden behind the engine, packing)
  seam max     E_warp (Lai et al. 2018, vidstyle.evaluate) of the worst pair
               in a seam zone: the pairs from the last frame before the
               cross-fade to the first frame of the next segment (K + 1 pairs;
               the one pair across the seam when K = 0); the single-machine
               row shows the same pairs of its own output
  seam mean    mean E_warp over the seam zones' pairs
  inner        median E_warp over the other pairs (same run)
  seam ratio   the per-pair flicker ratio (stylized / input E_warp: the
               footage's own motion divided out) of the worst seam-zone pair
               and the seam zones' mean, each over the median inner pair's
  style        mean style loss over the clip / the single-machine run's

The CPU is shared with whatever else runs: compare rows of one invocation
only, and note what else was running.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle.api import stylize_video
from vidstyle.config import ExportConfig, StyleConfig
from vidstyle.distributed import plan_segments, scan_frames
from vidstyle.engines import make_engine
from vidstyle.evaluate import evaluate_flicker
from vidstyle.frames import fit_size
from vidstyle.media import load_image, probe, read_frames

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--max-side", type=int, default=96)
    parser.add_argument("--iters", default="60,8", help="FIRST,LATER")
    parser.add_argument("--segment-frames", type=int, default=8)
    parser.add_argument("--seam-frames", type=int, default=ExportConfig().seam_frames, help="1- and 2-worker rows")
    parser.add_argument("--seams", default="0", help="more 2-worker rows with these --seam-frames values ('': none)")
    parser.add_argument("--skip-single", action="store_true", help="no single-machine row (style = 1-worker's)")
    parser.add_argument(
        "--cold-seams", action="store_true", help="one more 2-worker row with --anchor-frames 0 (cold-started seams)"
    )
    args = parser.parse_args()
    import ray

    first, later = (int(v) for v in args.iters.split(","))
    info = probe(SAMPLE)
    end_s = float(args.frames / info.fps) - 1e-3
    # Output at the processing size: the detail stage (a single-machine stage, pipeline/detail.py)
    # would otherwise make the one-machine row do work the Ray rows do not.
    options = dict(
        max_side=args.max_side,
        output_size=fit_size(info.width, info.height, max_side=args.max_side),
        iters_first=first,
        iters_later=later,
        num_threads=1,
        end_s=end_s,
        device="cpu",
    )
    work = tempfile.mkdtemp(prefix="vidstyle-scale-")
    started = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}},
    )
    print(f"Ray local runtime start: {time.perf_counter() - started:.1f} s; load average {os.getloadavg()}")

    anchored = ExportConfig().anchor_frames
    runs = []
    if not args.skip_single:
        runs.append(("single machine", None, args.seam_frames, anchored))
    runs += [("Ray, 1 worker", 1, args.seam_frames, anchored), ("Ray, 2 workers", 2, args.seam_frames, anchored)]
    if args.cold_seams:
        runs.append(("Ray, 2 workers, cold seams", 2, args.seam_frames, 0))
    runs += [(f"Ray, 2 workers, seam frames {k}", 2, k, anchored) for k in (int(v) for v in args.seams.split(",") if v)]
    rows = []
    for name, workers, seam, anchor_frames in runs:
        out = os.path.join(work, f"run{len(rows)}", "%04d.png")
        os.makedirs(os.path.dirname(out))
        extra = (
            {}
            if workers is None
            else dict(
                ray="auto",
                workers=workers,
                segment_frames=args.segment_frames,
                seam_frames=seam,
                anchor_frames=anchor_frames,
            )
        )
        began = time.perf_counter()
        summary = stylize_video(SAMPLE, out, style=STYLE, work_dir=os.path.join(work, "w"), **options, **extra)
        wall = time.perf_counter() - began
        outputs = [load_image(out % (i + 1)) for i in range(summary.frames)]
        rows.append(
            {
                "name": name,
                "workers": workers,
                "seam": seam,
                "wall": wall,
                "summary": summary,
                "outputs": outputs,
                "load": os.getloadavg()[0],
            }
        )
        anchored_segments = getattr(summary, "anchored_segments", 0)
        print(f"  {name}: {wall:.1f} s ({summary.frames} frames, {anchored_segments} anchored segments)", flush=True)
    ray.shutdown()

    size = rows[0]["summary"].processing_size
    inputs = [f.image_u8 for f in read_frames(SAMPLE, size=tuple(size), end_s=end_s)]
    scan = scan_frames(read_frames(SAMPLE, size=tuple(size), end_s=end_s))
    config = StyleConfig(max_side=args.max_side, device="cpu", num_threads=2)
    engine = make_engine(config, [load_image(STYLE)])
    print(
        f"\n{len(inputs)} frames at {size[0]}x{size[1]}, iters {first},{later}, segments of "
        f"{args.segment_frames}, scene cuts at {scan.cuts or 'none'}\n"
    )
    print(
        "| run | workers | seam frames | wall s | speed-up | busy/engine s | fixed s | per-seg s | seam max "
        "| seam mean | inner median | seam ratio max / mean vs inner | style | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    reference_style = None
    one_worker_wall = next(r["wall"] for r in rows if r["workers"] == 1)
    for row in rows:
        outputs = row["outputs"]
        style = float(np.mean([engine.measure(o, i)["style"] for o, i in zip(outputs, inputs)]))
        reference_style = reference_style or style
        report = evaluate_flicker(inputs, outputs)
        seam_frames = row["seam"] if row["workers"] else args.seam_frames  # one machine: the same pairs
        segments = plan_segments(
            scan, segment_frames=args.segment_frames, seam_frames=seam_frames, workers=row["workers"] or 2
        )
        seam_pairs = {p for s in segments if not s.starts_shot for p in range(s.first - 1 - s.warmup, s.first)}
        per_pair = report.per_pair_stylized
        seam = [per_pair[i] for i in sorted(seam_pairs) if np.isfinite(per_pair[i])]
        inner = [v for i, v in enumerate(per_pair) if i not in seam_pairs and np.isfinite(v)]
        # per-pair flicker ratios (stylized / input E_warp): the footage's own motion divided out
        ratios = [s / i if i > 0 else float("nan") for s, i in zip(per_pair, report.per_pair_input)]
        seam_ratio = [ratios[i] for i in sorted(seam_pairs) if np.isfinite(ratios[i])]
        inner_ratio = [v for i, v in enumerate(ratios) if i not in seam_pairs and np.isfinite(v)]
        ratio_cell = (
            f"{np.max(seam_ratio) / statistics.median(inner_ratio):.2f} / "
            f"{np.mean(seam_ratio) / statistics.median(inner_ratio):.2f}"
            if seam_ratio
            else "-"
        )
        summary = row["summary"]
        workers = getattr(summary, "workers", ())
        busy = sum(w["busy_s"] for w in workers)
        engine_s = sum(w["engine_s"] for w in workers)
        delivered_engine_s = engine_s - sum(w["warmup_s"] for w in workers)
        n = row["workers"]
        fixed = f"{row['wall'] - max(w['busy_s'] for w in workers):.1f}" if n else "-"
        per_segment = f"{(busy - delivered_engine_s) / max(1, summary.segments):.2f}" if n else "-"
        print(
            f"| {row['name']} | {n or '-'} | {row['seam'] if n else '-'} | {row['wall']:.1f} "
            f"| {one_worker_wall / row['wall']:.2f} | {f'{busy:.1f}/{engine_s:.1f}' if n else '-'} "
            f"| {fixed} | {per_segment} "
            f"| {f'{np.max(seam):.3g}' if seam else '-'} | {f'{np.mean(seam):.3g}' if seam else '-'} "
            f"| {statistics.median(inner):.3g} | {ratio_cell} "
            f"| {style / reference_style:.3f} ({style:.3g}) | {row['load']:.1f} |"
        )
    for row in rows:
        for w in getattr(row["summary"], "workers", ()):
            print(f"  {row['name']}: {w}")


if __name__ == "__main__":
    main()
