"""The network engine against training time: one training run, looks kept at
several budgets, each measured against the optimizer. One command, prints a table.

    .venv/bin/python benchmarks/training_curve.py --clip out/clips/bikes.mp4 \\
        [--max-side 640] [--minutes 5,10,20,40,60] [--threads 1] [--frames 24] [--reference-frames 12]

1. The optimizer's frames (the reference): the first ``--reference-frames``
   frames of the clip at the processing size, through the normal pipeline
   (kept in out/curve/ and reused on the next run; its s/frame is measured).
2. One ``train_look`` run on the clip for the largest budget, with
   ``--threads`` torch threads; whenever a checkpoint passes a budget, the
   look is kept (out/curve/look_<minutes>.pt). Budgets are wall minutes of
   training (with one thread, CPU-minutes).
3. Each kept look stylizes the first ``--frames`` frames raw (``--net-blend
   0``) and blended (``--net-blend`` default): style and content loss
   (mean over the reference frames, relative to the optimizer's), sharpness
   relative to the optimizer's, flicker (vidstyle eval's meter) on the
   lossless frames and on the default mp4, RGB and luma.
4. Total time for a 250-frame clip: training CPU-minutes + 250 x the
   network's s/frame, against 250 x the optimizer's.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import STYLE, _encode, _trimmed, sharpness  # noqa: E402

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_flicker, evaluate_videos  # noqa: E402
from vidstyle.frames import fit_size  # noqa: E402
from vidstyle.media import load_image, probe, read_frames  # noqa: E402
from vidstyle.pipeline import stylize_video  # noqa: E402
from vidstyle.training import CheckpointSaved, TrainingOptions, load_look, train_look  # noqa: E402
from vidstyle.training.look import atomic_save, read_payload  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CLIP_FRAMES = 250
CHECKPOINT_EVERY_S = 5.0  # a look is kept at the checkpoint nearest each budget


def stylize(src: str, folder: str, *, end_s: float, **options) -> tuple[list, float]:
    """Frames of a pipeline run into ``folder`` (PNG) and its s/frame (steady median when there is one)."""
    os.makedirs(folder, exist_ok=True)
    summary = stylize_video(src, os.path.join(folder, "%05d.png"), style=STYLE, end_s=end_s, **options)
    frames = [load_image(p) for p in sorted(glob.glob(os.path.join(folder, "*.png")))]
    per_frame = summary.steady_seconds_per_frame or summary.seconds_per_frame
    return frames, per_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", required=True)
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--minutes", default="5,10,20,40,60", help="budgets at which the look is kept")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", type=int, default=24, help="frames stylized by each look")
    parser.add_argument("--reference-frames", type=int, default=12, help="frames the optimizer stylizes")
    parser.add_argument("--blend", type=float, default=0.5)
    args = parser.parse_args()
    budgets = sorted(float(m) for m in args.minutes.split(","))
    info = probe(args.clip)
    size = fit_size(info.width, info.height, max_side=args.max_side)
    name = f"{os.path.splitext(os.path.basename(args.clip))[0]}_{size[0]}x{size[1]}"
    keep = os.path.join(ROOT, "out", "curve", name)
    os.makedirs(keep, exist_ok=True)
    base = dict(max_side=args.max_side, output_size=size, num_threads=args.threads, device="cpu")
    fps = float(info.fps)

    reference = os.path.join(keep, "optimizer")
    opt_s = None
    if len(glob.glob(os.path.join(reference, "*.png"))) != args.reference_frames:
        shutil.rmtree(reference, ignore_errors=True)
        _, opt_s = stylize(args.clip, reference, end_s=args.reference_frames / fps, **base)
        with open(os.path.join(reference, "seconds_per_frame.txt"), "w") as fh:
            fh.write(f"{opt_s}\n")
    else:
        with open(os.path.join(reference, "seconds_per_frame.txt")) as fh:
            opt_s = float(fh.read())
    opt_frames = [load_image(p) for p in sorted(glob.glob(os.path.join(reference, "*.png")))]
    print(f"optimizer reference: {len(opt_frames)} frames at {size[0]}x{size[1]}, {opt_s:.2f} s/frame", flush=True)

    looks: dict[float, str] = {}
    pending = list(budgets)
    checkpoint = os.path.join(keep, "training.ckpt")

    def on_event(event) -> None:
        if isinstance(event, CheckpointSaved) and pending:
            seconds = read_payload(event.path)["training"]["seconds"]
            while pending and seconds >= pending[0] * 60 - CHECKPOINT_EVERY_S / 2:
                path = os.path.join(keep, f"look_{pending[0]:g}.pt")
                atomic_save(read_payload(event.path), path)
                looks[pending.pop(0)] = path
                print(f"kept {path} at {seconds / 60:.2f} training minutes", flush=True)

    style_u8 = load_image(STYLE)
    started = time.perf_counter()
    trained = train_look(
        [style_u8],
        config=StyleConfig(**base),
        clips=[args.clip],
        options=TrainingOptions(minutes=budgets[-1], checkpoint_every_s=CHECKPOINT_EVERY_S),
        style_names=["starry_night.jpg"],
        checkpoint=checkpoint,
        resume=False,
        on_event=on_event,
    )
    print(f"training done in {(time.perf_counter() - started) / 60:.1f} wall minutes", flush=True)
    for budget in pending:  # the last budget: the finished look
        path = os.path.join(keep, f"look_{budget:g}.pt")
        atomic_save(trained.payload, path)
        looks[budget] = path

    work = tempfile.mkdtemp(prefix="vidstyle-curve-")
    end_s = args.frames / fps
    inputs = [f.image_u8 for f in read_frames(args.clip, size=size, end_s=end_s)]
    source = _trimmed(args.clip, inputs, work, info)
    judge = OptimizerEngine([style_u8], config=StyleConfig(**base))
    opt_measured = [judge.measure(o, c) for o, c in zip(opt_frames, inputs)]
    opt_style = statistics.mean(m["style"] for m in opt_measured)
    opt_sharp = statistics.mean(sharpness(f) for f in opt_frames)
    opt_encoded = os.path.join(work, "optimizer.mp4")
    _encode(opt_frames, opt_encoded, fps=info.fps)
    ref_inputs = _trimmed(args.clip, inputs[: len(opt_frames)], work, info)
    opt_flicker = (
        evaluate_flicker(inputs[: len(opt_frames)], opt_frames, size=size).flicker_ratio,
        evaluate_videos(ref_inputs, opt_encoded).flicker_ratio,
    )
    rows = []
    for budget, path in sorted(looks.items()):
        training = load_look(path).training
        for blend in (0.0, args.blend):
            folder = os.path.join(work, f"{budget:g}_{blend:g}")
            frames, net_s = stylize(args.clip, folder, end_s=end_s, **base, model=path, engine="net", net_blend=blend)
            encoded = folder + ".mp4"
            _encode(frames, encoded, fps=info.fps)
            measured = [judge.measure(o, c) for o, c in zip(frames, inputs)][: len(opt_frames)]
            rows.append(
                {
                    "minutes": training["seconds"] / 60,
                    "cpu_min": training["cpu_seconds"] / 60,
                    "steps": training["steps"],
                    "blend": blend,
                    "s_frame": net_s,
                    "style": statistics.mean(m["style"] for m in measured) / opt_style,
                    "content": statistics.mean(m["content"] for m in measured)
                    / statistics.mean(m["content"] for m in opt_measured),
                    "sharp": statistics.mean(sharpness(f) for f in frames[: len(opt_frames)]) / opt_sharp,
                    "png": evaluate_flicker(inputs, frames, size=size).flicker_ratio,
                    "png_luma": evaluate_flicker(inputs, frames, size=size, channels="luma").flicker_ratio,
                    "mp4": evaluate_videos(source, encoded).flicker_ratio,
                    "mp4_luma": evaluate_videos(source, encoded, channels="luma").flicker_ratio,
                }
            )
            print(rows[-1], flush=True)

    print(
        f"\n{name}, style starry_night, {args.threads} thread(s); optimizer: {opt_s:.2f} s/frame, "
        f"flicker png {opt_flicker[0]:.3f} / mp4 {opt_flicker[1]:.3f} over its {len(opt_frames)} frames; "
        f"network rows: flicker over {len(inputs)} frames, losses over the optimizer's {len(opt_frames)}"
    )
    print(
        f"{'train min':>9} {'CPU-min':>7} {'steps':>6} {'blend':>5} {'s/frame':>7} {'style/opt':>9} "
        f"{'content/opt':>11} {'sharp/opt':>9} {'png':>6} {'mp4':>6} {'png-Y':>6} {'mp4-Y':>6} {'250 frames min':>14}"
    )
    optimizer_total = CLIP_FRAMES * opt_s / 60
    for row in rows:
        total = row["cpu_min"] + CLIP_FRAMES * row["s_frame"] / 60
        print(
            f"{row['minutes']:9.1f} {row['cpu_min']:7.1f} {row['steps']:6d} {row['blend']:5g} {row['s_frame']:7.3f} "
            f"{row['style']:9.2f} {row['content']:11.2f} {row['sharp']:9.2f} {row['png']:6.3f} {row['mp4']:6.3f} "
            f"{row['png_luma']:6.3f} {row['mp4_luma']:6.3f} {total:14.1f}"
        )
    print(f"optimizer, {CLIP_FRAMES} frames: {optimizer_total:.1f} min ({opt_s:.2f} s/frame, {args.threads} thread(s))")
    print(f"frames in {work}")
    if os.path.exists(checkpoint):
        os.remove(checkpoint)


if __name__ == "__main__":
    main()
