"""Training recipes side by side: the same wall budget each, style and raw
flicker of the resulting looks. One command, prints a table.

    .venv/bin/python benchmarks/training_recipes.py [--minutes 5] [--threads 1] [--recipes default,pairs] [--clip C]

Each recipe trains a look on the sample clip (``--clip``: another) at 256 px
with ``train_look``
(``--threads`` torch threads, ``--minutes`` of wall time; ``--keep DIR``
saves the looks), then paints the
first 24 frames raw (no blend) and reports: steps, CPU-minutes, style loss
relative to the optimizer's frames (``--reference DIR``: PNG frames of an
optimizer run, e.g. the optimizer's folder that benchmarks/engines.py leaves;
without it the optimizer stylizes the 24 frames first), content loss, raw
flicker (vidstyle eval's meter, lossless). Recipes (``TrainingOptions`` /
``StyleConfig`` fields):

    default       one pair step with the temporal term in 4, whole frames (the defaults)
    pairs         every step on a pair with the temporal term (the earlier recipe)
    every8        one pair step in 8
    lr2e-3        learning rate 2e-3
    temporal1e5   temporal weight 1e5 instead of 1e4
    prior         a network that takes its warped previous output (``prior``), one pair
                  step in 2, chains of up to 16 earlier frames
    prior-t1e3    the same at temporal weight 1e3
    prior-t1e2    the same at temporal weight 1e2
    gain16        style gain 16 instead of 4
    tanh          Johnson's tanh output instead of the residual one
    noise1        one input channel of noise (fixed at inference; Ulyanov et al. 2016)
    noise3        three input channels of noise
    bf16          the VGG19 passes in bfloat16 (``--precision bf16``)
    fp32          the VGG19 passes in float32 (``--precision fp32``)

A look with a prior paints the frames through the file pipeline (each frame
given the previous output; the lossless PNGs); the others paint each frame
alone, which is what the pipeline does for them at ``--net-blend 0``. The
last column, drift, is the style loss of the last 3 frames over the first
frame's: a look that compounds its own strokes along the clip reads > 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.network import NetworkEngine  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_flicker  # noqa: E402
from vidstyle.frames import fit_size  # noqa: E402
from vidstyle.media import load_image, probe, read_frames  # noqa: E402
from vidstyle.pipeline import stylize_video  # noqa: E402
from vidstyle.training import TrainingOptions, train_look  # noqa: E402
from vidstyle.training.look import atomic_save  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
FRAMES = 24
PRIOR = {"prior": True, "temporal_every": 2, "prior_chain": 16}
RECIPES: dict[str, tuple[dict, dict]] = {  # name: (TrainingOptions fields, StyleConfig fields)
    "default": ({}, {}),
    "pairs": ({"temporal_every": 1}, {}),
    "every8": ({"temporal_every": 8}, {}),
    "lr2e-3": ({"learning_rate": 2e-3}, {}),
    "temporal1e5": ({}, {"temporal_weight": 1e5}),
    "prior": (PRIOR, {}),
    "prior-t1e3": (PRIOR, {"temporal_weight": 1e3}),
    "prior-t1e2": (PRIOR, {"temporal_weight": 1e2}),
    "gain16": ({"style_gain": 16.0}, {}),
    "tanh": ({"output": "tanh"}, {}),
    "noise1": ({"noise": 1}, {}),
    "noise3": ({"noise": 3}, {}),
    "bf16": ({}, {"precision": "bf16"}),
    "fp32": ({}, {"precision": "fp32"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--recipes", default="default,pairs", help=f"comma-separated, of: {', '.join(RECIPES)}")
    parser.add_argument("--reference", metavar="DIR", help="the optimizer's PNG frames of the first 24 frames")
    parser.add_argument("--clip", default=SAMPLE, help="the clip to train on and paint (default: the sample)")
    parser.add_argument("--keep", metavar="DIR", help="save each recipe's look as DIR/RECIPE.pt")
    args = parser.parse_args()
    names = args.recipes.split(",")
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    base = StyleConfig(max_side=256, num_threads=args.threads, device="cpu")
    fps = 24.0
    info = probe(args.clip)
    size = fit_size(info.width, info.height, max_side=256)
    inputs = [f.image_u8 for _, f in zip(range(FRAMES), read_frames(args.clip, size=size))]
    reference = args.reference
    if reference is None:
        reference = tempfile.mkdtemp(prefix="vidstyle-recipes-")
        stylize_video(
            args.clip,
            os.path.join(reference, "%05d.png"),
            style=STYLE,
            end_s=FRAMES / fps,
            max_side=256,
            output_size=size,
            num_threads=args.threads,
            device="cpu",
        )
    opt_frames = [load_image(p) for p in sorted(glob.glob(os.path.join(reference, "*.png")))][:FRAMES]
    style_u8 = load_image(STYLE)
    judge = OptimizerEngine([style_u8], config=base)
    opt_style = statistics.mean(judge.measure(o, c)["style"] for o, c in zip(opt_frames, inputs))
    opt_content = statistics.mean(judge.measure(o, c)["content"] for o, c in zip(opt_frames, inputs))
    rows = []
    for name in names:
        training, style = RECIPES[name]
        config = dataclasses.replace(base, **style)
        trained = train_look(
            [style_u8],
            config=config,
            clips=[args.clip],
            options=TrainingOptions(minutes=args.minutes, **training),
        )
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            atomic_save(trained.payload, os.path.join(args.keep, f"{name}.pt"))
        if trained.net.prior:
            outs = _through_the_pipeline(trained.payload, config, args.clip, size, fps=fps)
        else:
            outs = NetworkEngine(trained.net, config=config).stylize_batch(inputs)  # raw: no blend
        measured = [judge.measure(o, c) for o, c in zip(outs, inputs)]
        drift = statistics.mean(m["style"] for m in measured[-3:]) / measured[0]["style"]
        summary = trained.payload["training"]
        rows.append(
            (
                name,
                summary["steps"],
                summary["cpu_seconds"] / 60,
                statistics.mean(m["style"] for m in measured) / opt_style,
                statistics.mean(m["content"] for m in measured) / opt_content,
                evaluate_flicker(inputs, outs, size=size).flicker_ratio,
                drift,
            )
        )
        print(rows[-1], flush=True)
    print(
        f"\n{os.path.basename(args.clip)} at {size[0]}x{size[1]}, {args.minutes:g} wall minutes each on "
        f"{args.threads} thread(s); "
        f"losses over {FRAMES} frames against the optimizer's (style {opt_style:.4g})"
    )
    print(
        f"{'recipe':12} {'steps':>6} {'CPU-min':>7} {'style/opt':>9} {'content/opt':>11} {'raw flicker':>11} "
        f"{'drift':>6}"
    )
    for name, steps, cpu, style_ratio, content_ratio, flicker, drift in rows:
        print(f"{name:12} {steps:6d} {cpu:7.2f} {style_ratio:9.2f} {content_ratio:11.2f} {flicker:11.3f} {drift:6.2f}")


def _through_the_pipeline(payload: dict, config: StyleConfig, clip: str, size: tuple, *, fps: float) -> list:
    """The first FRAMES frames of ``clip`` painted by the file pipeline with
    the look (``--net-blend 0``), lossless, at ``size``."""
    work = tempfile.mkdtemp(prefix="vidstyle-recipes-prior-")
    look = os.path.join(work, "look.pt")
    atomic_save(payload, look)
    stylize_video(
        clip,
        os.path.join(work, "%05d.png"),
        model=look,
        engine="net",
        net_blend=0.0,
        end_s=FRAMES / fps,
        max_side=256,
        output_size=size,
        num_threads=config.num_threads,
        device="cpu",
    )
    return [load_image(p) for p in sorted(glob.glob(os.path.join(work, "*.png")))][:FRAMES]


if __name__ == "__main__":
    main()
