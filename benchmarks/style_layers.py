"""Where the style loss comes from: the Gram term of each VGG19 layer, for the
input, the optimizer's frames and the looks given. One command, prints a table.

    .venv/bin/python benchmarks/style_layers.py --clip out/clips/bikes.mp4 --reference DIR LOOK.pt [LOOK.pt ...]

Frames 0, 4, ... 20 of ``--clip`` at ``--max-side`` (default 256), against
``--style`` (default starry_night): the mean squared Gram difference of each
style layer (the terms ``losses.style_loss`` sums), averaged over the frames,
for the input itself, the optimizer's PNG frames in ``--reference DIR`` (e.g.
the optimizer's folder that benchmarks/engines.py leaves) and each look's raw
frames (no blend). The last row is each relu4_1 Gram's trace (the features'
energy at that layer) beside the style's: a look can match the energy and
still miss the correlations between features.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.network import NetworkEngine  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.frames import fit_size  # noqa: E402
from vidstyle.losses import gram_matrix  # noqa: E402
from vidstyle.media import load_image, probe, read_frames  # noqa: E402
from vidstyle.training import load_look  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
FRAMES = range(0, 24, 4)
ENERGY_LAYER = "relu4_1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("looks", nargs="*", help="look files (vidstyle train -o)")
    parser.add_argument("--clip", required=True)
    parser.add_argument("--reference", metavar="DIR", required=True, help="the optimizer's PNG frames of the clip")
    parser.add_argument("--style", default=STYLE)
    parser.add_argument("--max-side", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    info = probe(args.clip)
    size = fit_size(info.width, info.height, max_side=args.max_side)
    decoded = [f.image_u8 for _, f in zip(range(max(FRAMES) + 1), read_frames(args.clip, size=size))]
    inputs = [decoded[i] for i in FRAMES]
    optimized = sorted(glob.glob(os.path.join(args.reference, "*.png")))
    if len(optimized) <= max(FRAMES):
        parser.error(f"{args.reference} holds {len(optimized)} PNG frames; {max(FRAMES) + 1} needed")
    config = StyleConfig(max_side=args.max_side, num_threads=args.threads, device="cpu")
    judge = OptimizerEngine([load_image(args.style)], config=config)
    grams = judge.style_grams(size)
    columns = {"input": inputs, "optimizer": [load_image(optimized[i]) for i in FRAMES]}
    for path in args.looks:
        engine = NetworkEngine(load_look(path).net, config=config)
        columns[os.path.basename(path)] = [engine.stylize(frame).image_u8 for frame in inputs]
    table = {name: _layer_terms(judge, grams, images) for name, images in columns.items()}
    print(f"{os.path.basename(args.clip)} at {size[0]}x{size[1]}, frames {list(FRAMES)}, style {args.style}")
    print(f"{'layer':10}" + "".join(f"{name:>16}" for name in table))
    for layer in grams:
        print(f"{layer:10}" + "".join(f"{terms[layer]:16.4g}" for terms in table.values()))
    print(f"{'total':10}" + "".join(f"{sum(v for k, v in t.items() if k in grams):16.4g}" for t in table.values()))
    style_energy = float(grams[ENERGY_LAYER].diagonal(dim1=1, dim2=2).sum())
    print(f"{ENERGY_LAYER} Gram trace (the style's: {style_energy:.4g})")
    print(f"{'':10}" + "".join(f"{terms['energy']:16.4g}" for terms in table.values()))


def _layer_terms(judge: OptimizerEngine, grams: dict, images: list) -> dict[str, float]:
    """The mean over ``images`` of each layer's squared Gram difference, and
    of the ``ENERGY_LAYER`` Gram's trace (key ``energy``)."""
    sums = dict.fromkeys([*grams, "energy"], 0.0)
    with torch.no_grad():
        for image in images:
            features = judge.features(judge.to_tensor(image))
            for layer, target in grams.items():
                sums[layer] += float(torch.mean((gram_matrix(features[layer]) - target) ** 2))
            sums["energy"] += float(gram_matrix(features[ENERGY_LAYER]).diagonal(dim1=1, dim2=2).sum())
    return {key: value / len(images) for key, value in sums.items()}


if __name__ == "__main__":
    main()
