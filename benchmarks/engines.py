"""Optimizer vs feed-forward network on the sample clip: one command, prints a table.

    .venv/bin/python benchmarks/engines.py [--clip CLIP] [--max-side 256] [--minutes 5] [--frames 24] [--look LOOK.pt]

Both engines run through the normal file pipeline (``stylize_video``) into a
lossless PNG sequence, which is then encoded with the default mp4 settings.
For each engine it reports:
  train CPU-min  training cost (the network's; 0 for the optimizer), from the look's summary
  s/frame        wall seconds per frame of the pipeline run (median of warm frames), this machine;
                 the network pass alone (1 thread) is printed below the table
  flicker        E_warp(stylized) / E_warp(input), measured flow (vidstyle.evaluate):
                 on the lossless frames and on the encoded mp4, RGB and luma
  style/content  mean unweighted losses over the frames (OptimizerEngine.measure), and
                 the style loss relative to the optimizer's
  sharp          mean Laplacian variance of the luma, relative to the optimizer's
  lz-png         the lossless flicker again with the meter's Lanczos warp (``vidstyle eval --warp lanczos``):
                 a sharp texture carried along the flow reads as change to the bilinear convention

The machine is shared: the load average before and after each run is printed.
``--look`` reuses a trained look (its recorded CPU-minutes are reported);
otherwise one is trained here for ``--minutes``. ``--refine N`` adds the
blended network refined by N optimizer iterations; ``--optimizer-later N``
the optimizer with N iterations per warm frame (the refinement's cost
without the network); ``--precision`` sets what the engines' VGG passes
run in (the losses are measured in float32 whatever it is).
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# --prior: the recipe of the README's prior rows
from training_recipes import PRIOR  # noqa: E402  (benchmarks/, this script's folder)

from vidstyle.config import CARRY_WARPS, StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.engines.precision import device_label  # noqa: E402
from vidstyle.evaluate import evaluate_flicker, evaluate_videos  # noqa: E402
from vidstyle.features import select_device  # noqa: E402
from vidstyle.frames import Frame, fit_size  # noqa: E402
from vidstyle.media import load_image, open_writer, probe, read_frames  # noqa: E402
from vidstyle.pipeline import stylize_video  # noqa: E402
from vidstyle.training import TrainingOptions, load_look, train_look  # noqa: E402
from vidstyle.training.look import atomic_save  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")


def sharpness(image_u8: np.ndarray) -> float:
    gray = cv2.cvtColor(image_u8, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def run_engine(name: str, options: dict, *, src: str, work: str, end_s: float | None) -> dict:
    out_dir = os.path.join(work, name.replace(" ", "_"))
    os.makedirs(out_dir)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    summary = stylize_video(src, os.path.join(out_dir, "%05d.png"), style=STYLE, end_s=end_s, **options)
    wall = time.perf_counter() - started
    frames = [load_image(p) for p in sorted(glob.glob(os.path.join(out_dir, "*.png")))]
    info = probe(src)
    encoded = os.path.join(work, f"{name.replace(' ', '_')}.mp4")
    _encode(frames, encoded, fps=info.fps)
    return {
        "frames": frames,
        "summary": summary,
        "wall_s": wall,
        "encoded": encoded,
        "load": (load_before, os.getloadavg()[0]),
    }


def inference_seconds(look: str, inputs: list[np.ndarray], *, threads: int = 1, device: str = "cpu") -> float:
    """Median wall seconds of one raw network pass (``NetworkEngine.stylize``
    called directly, after one warm-up call), without the pipeline around it."""
    from vidstyle.training import network_engine

    engine = network_engine([], config=StyleConfig(model=look, engine="net", device=device, num_threads=threads))
    engine.stylize(inputs[0])
    times = []
    for image in inputs:
        started = time.perf_counter()
        engine.stylize(image)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def reference_run(folder: str, *, work: str, fps) -> dict:
    """The optimizer's frames of an earlier run, re-encoded; no timing."""
    frames = [load_image(p) for p in sorted(glob.glob(os.path.join(folder, "*.png")))]
    encoded = os.path.join(work, "optimize_reference.mp4")
    _encode(frames, encoded, fps=fps)
    return {"frames": frames, "summary": None, "wall_s": float("nan"), "encoded": encoded, "load": (0.0, 0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=SAMPLE, help="the clip to train on and stylize (default: the sample)")
    parser.add_argument("--max-side", type=int, default=256)
    parser.add_argument("--minutes", type=float, default=5.0, help="network training budget (wall minutes)")
    parser.add_argument("--frames", type=int, default=None, help="stylize only the first N frames")
    parser.add_argument("--look", help="use this trained look instead of training one")
    parser.add_argument(
        "--prior",
        action="store_true",
        help="train a look that takes its warped previous output (training_recipes.py's prior recipe)",
    )
    parser.add_argument("--blend", type=float, default=0.5, help="net_blend of the blended network row")
    parser.add_argument(
        "--refine", type=int, default=0, help="one more row: the blended network refined by N optimizer iterations"
    )
    parser.add_argument(
        "--optimizer-later",
        type=int,
        default=0,
        metavar="N",
        help="one more row: the optimizer with N iterations per warm frame (--iters 400,N), the refinement's "
        "cost without the network",
    )
    parser.add_argument(
        "--carry-warp",
        choices=CARRY_WARPS,
        default=StyleConfig().carry_warp,
        help="the warp that carries the previous output (warm start, blend) in every row",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu", help="cpu (the README's CPU rows) | auto | cuda:N")
    parser.add_argument(
        "--precision",
        default=StyleConfig().precision,
        help="what the engines' VGG passes run in (the optimizer and refinement rows; the losses are always "
        "measured in float32)",
    )
    parser.add_argument(
        "--reference",
        metavar="DIR",
        help="the optimizer's PNG frames of an earlier run of this script (its s/frame is then not measured)",
    )
    parser.add_argument("--per-frame", action="store_true", help="also print each row's style loss per frame")
    parser.add_argument(
        "--inference-only",
        action="store_true",
        help="with --look: only the network pass, at 256x144 and 640x360, on 1 and 2 threads",
    )
    args = parser.parse_args()
    if args.inference_only:
        if not args.look:
            parser.error("--inference-only needs --look")
        for threads in (1, 2):
            for size in ((256, 144), (640, 360)):
                frames = [f.image_u8 for _, f in zip(range(12), read_frames(args.clip, size=size))]
                seconds = inference_seconds(args.look, frames, threads=threads, device=args.device)
                print(f"network pass, {threads} thread(s), {size[0]}x{size[1]}: {seconds:.3f} s/frame (median)")
        return

    clip = args.clip
    info = probe(clip)
    # output at the processing size: the detail stage is the optimizer's, not the network's
    base = dict(
        max_side=args.max_side,
        output_size=fit_size(info.width, info.height, max_side=args.max_side),
        num_threads=args.threads,
        device=args.device,
        carry_warp=args.carry_warp,
    )
    # the judge measures in float32 whatever the engines ran in
    engine_base = dict(base, precision=args.precision)
    end_s = args.frames / float(info.fps) if args.frames else None
    style_u8 = load_image(STYLE)
    work = tempfile.mkdtemp(prefix="vidstyle-engines-")
    look = args.look
    if look is None:
        kind = "_prior" if args.prior else ""
        look = os.path.join(ROOT, "out", "looks", f"starry_night_{os.path.basename(clip)}_{args.max_side}{kind}.pt")
        os.makedirs(os.path.dirname(look), exist_ok=True)  # kept for benchmarks/live.py --model
        trained = train_look(
            [style_u8],
            config=StyleConfig(**engine_base),
            clips=[clip],
            options=TrainingOptions(minutes=args.minutes, **(PRIOR if args.prior else {})),
            style_names=["starry_night.jpg"],
        )
        atomic_save(trained.payload, look)
    training = load_look(look).training
    print(
        f"look {look}: {training['steps']} steps, {training['seconds'] / 60:.2f} wall-min, "
        f"{training['cpu_seconds'] / 60:.2f} CPU-min, fixed-batch loss {training['initial_loss']:.4g} -> "
        f"{training['final_loss']:.4g}, trained at {training['size']}"
    )

    rows = {
        "optimize (default)": dict(engine_base),
        "net raw": dict(engine_base, model=look, engine="net", net_blend=0.0),
        f"net blend {args.blend:g}": dict(engine_base, model=look, engine="net", net_blend=args.blend),
    }
    if args.refine:
        rows[f"net b{args.blend:g} refine {args.refine}"] = dict(
            engine_base, model=look, engine="net", net_blend=args.blend, net_refine=args.refine
        )
    if args.optimizer_later:
        rows[f"optimize later {args.optimizer_later}"] = dict(engine_base, iters_later=args.optimizer_later)
    results = {}
    for name, options in rows.items():
        if name == "optimize (default)" and args.reference:
            results[name] = reference_run(args.reference, work=work, fps=info.fps)
        else:
            results[name] = run_engine(name, options, src=clip, work=work, end_s=end_s)
    print(f"frames in {work}")

    first = results["optimize (default)"]["frames"][0]
    size = (first.shape[1], first.shape[0])
    inputs = [f.image_u8 for f in read_frames(clip, size=tuple(size), end_s=end_s)]
    judge = OptimizerEngine([style_u8], config=StyleConfig(**base))
    table = []
    for name, result in results.items():
        frames = result["frames"]
        measured = [judge.measure(out, content) for out, content in zip(frames, inputs)]
        if args.per_frame:
            losses = " ".join(f"{m['style']:.0f}" for m in measured)
            print(f"style per frame, {name}: {losses}")
        lossless = evaluate_flicker(inputs, frames, size=tuple(size))
        lossless_luma = evaluate_flicker(inputs, frames, size=tuple(size), channels="luma")
        lossless_lanczos = evaluate_flicker(inputs, frames, size=tuple(size), warp="lanczos")
        source = clip if end_s is None else _trimmed(clip, inputs, work, info)
        encoded = evaluate_videos(source, result["encoded"])
        encoded_luma = evaluate_videos(source, result["encoded"], channels="luma")
        s = result["summary"]
        table.append(
            {
                "engine": name,
                "train_cpu_min": training["cpu_seconds"] / 60 if name.startswith("net") else 0.0,
                "s_per_frame": float("nan")
                if s is None
                else s.seconds_per_frame
                if s.steady_seconds_per_frame is None
                else s.steady_seconds_per_frame,
                "flicker_lossless": lossless.flicker_ratio,
                "flicker_mp4": encoded.flicker_ratio,
                "flicker_luma": lossless_luma.flicker_ratio,
                "flicker_mp4_luma": encoded_luma.flicker_ratio,
                "flicker_lanczos": lossless_lanczos.flicker_ratio,
                "style": statistics.mean(m["style"] for m in measured),
                "content": statistics.mean(m["content"] for m in measured),
                "sharp": statistics.mean(sharpness(f) for f in frames),
                "load": result["load"],
                "frames": len(frames),
            }
        )
    ref = table[0]
    device_name = device_label(select_device(args.device))
    middle = len(inputs) // 2
    clip_stem = os.path.splitext(os.path.basename(clip))[0]
    picture = os.path.join(ROOT, "out", f"engines_{clip_stem}_{size[0]}x{size[1]}.jpg")
    os.makedirs(os.path.dirname(picture), exist_ok=True)
    strip = np.concatenate([inputs[middle], *(r["frames"][middle] for r in results.values())], axis=1)
    cv2.imwrite(picture, cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"frame {middle}: input | {' | '.join(results)} -> {picture}")
    print(
        f"\nnetwork pass alone (1 thread, {args.device}, median over {len(inputs)} frames): "
        f"{inference_seconds(look, inputs, device=args.device):.3f} s/frame at {size[0]}x{size[1]}"
    )
    clip_name = os.path.basename(clip)
    print(
        f"\n{clip_name} at {size[0]}x{size[1]}, {table[0]['frames']} frames, {device_name}; style starry_night; "
        f"carry warp {args.carry_warp}"
    )
    print(
        f"{'engine':20} {'trainCPUmin':>11} {'s/frame':>8} {'flick-png':>9} {'flick-mp4':>9} {'luma-png':>9} "
        f"{'luma-mp4':>9} {'lz-png':>7} {'style':>10} {'style/opt':>9} {'content':>10} {'sharp/opt':>9} {'load':>10}"
    )
    for row in table:
        print(
            f"{row['engine']:20} {row['train_cpu_min']:11.2f} {row['s_per_frame']:8.3f} "
            f"{row['flicker_lossless']:9.3f} {row['flicker_mp4']:9.3f} {row['flicker_luma']:9.3f} "
            f"{row['flicker_mp4_luma']:9.3f} {row['flicker_lanczos']:7.3f} {row['style']:10.4g} "
            f"{row['style'] / ref['style']:9.2f} {row['content']:10.4g} {row['sharp'] / ref['sharp']:9.2f} "
            f"{row['load'][0]:4.1f}->{row['load'][1]:4.1f}"
        )


def _trimmed(src: str, inputs: list[np.ndarray], work: str, info) -> str:
    """The input frames that were stylized, as a lossless-ish mp4 for evaluate_videos."""
    path = os.path.join(work, f"input_{len(inputs)}.mkv")
    if not os.path.exists(path):
        _encode(inputs, path, fps=info.fps, codec="ffv1")
    return path


def _encode(frames: list[np.ndarray], path: str, *, fps, codec: str | None = None) -> None:
    """Frames at a constant ``fps`` into a video file (default codec and crf of its extension)."""
    time_base = Fraction(1) / Fraction(fps)
    writer = open_writer(
        path, width=frames[0].shape[1], height=frames[0].shape[0], time_base=time_base, fps=fps, codec=codec
    )
    for index, image in enumerate(frames):
        writer.write(Frame(image_u8=image, pts=index, time_base=time_base, index=index))
    writer.close()


if __name__ == "__main__":
    main()
