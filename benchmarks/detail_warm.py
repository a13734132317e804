"""The detail stage's warm frames (issue 10): one command, prints a table.

    .venv/bin/python benchmarks/detail_warm.py [--clip PATH[@S]] [--size 256x144] [--output 480x270]
        [--frames 16] [--variants "default;torch-step+no-fill;iters=4"]

The clip's first FRAMES frames are stylized as the command line does them
(processing at SIZE, the first frame cold-started, finished at OUTPUT by
the detail stage, ``pipeline/detail.py``), and what the detail stage is
given for each frame is recorded: the output-size input frame, the
processing-size result and its motion. Each variant then replays the
detail stage alone on those same inputs, from the same first output-size
frame, so that rows differ only in how the warm frames are finished.

Variants (``;`` between variants, ``+`` between changes; ``default`` is none):

  iters=N      ``--detail-iters N`` (default 3): a warm frame gets N iterations,
               more where the output is over 1.9 times the processing size
               (``sizing.detail_warm_iters``: 5 at 5 times)
  tw=K         K times the temporal weight at the output size
  torch-step   L-BFGS's first step as torch takes it, and no step bound
               (``engines.optimize.WARM_FIRST_STEP_MAX``/``WARM_MAX_STEP`` off)
  warp=NAME    the previous output-size frame warped by NAME (lanczos, the
               default, ``pipeline.detail.WARP_INTERPOLATION``; cubic, the
               former rule; linear)
  no-fill      disoccluded pixels start from the upsampled result alone
               (``DetailStage(lend_fine_detail=False)``)

Columns, over the FRAMES-1 warm frames: flicker ratio (``vidstyle eval``'s
meter, full mask) of the lossless frames in RGB and luma, and in RGB with
the meter's warp by Lanczos-4 (``lz``, ``vidstyle eval --warp lanczos``);
style loss and sharpness (variance of the Laplacian of luma), mean over the warm frames /
the first frame's (``style last4``: the last four frames'); seconds per
frame of the detail stage alone. Printed first: the flicker ratio of the
processing-size chain the stage was given, measured at SIZE over the same
pairs. Flicker and losses are deterministic on
the CPU; timings on a shared 2-core machine are not: compare rows of one run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from clip_options import SAMPLE, optimizer  # noqa: E402  (benchmarks/, this script's folder)
from resolution import split_clip  # noqa: E402

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines import optimize  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_frames, sharpness  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.motion.flow import INTERPOLATIONS  # noqa: E402
from vidstyle.parsing import parse_size  # noqa: E402
from vidstyle.pipeline import detail  # noqa: E402
from vidstyle.pipeline.stages import stylize_pairs  # noqa: E402
from vidstyle.sizing import detail_warm_iters  # noqa: E402

DEFAULT_VARIANTS = (
    "default;torch-step+no-fill;no-fill;iters=4;iters=6+no-fill;iters=6+no-fill+tw=3;iters=6+no-fill+tw=10"
)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of finishing the warm frames."""

    name: str
    iters: int = 3
    temporal_factor: float = 1.0
    torch_step: bool = False
    lend_fine_detail: bool = True
    interpolation: str = detail.WARP_INTERPOLATION


def parse_variant(spec: str, default_iters: int) -> Variant:
    """``iters=4+tw=3+no-fill`` -> ``Variant``; raises ValueError on an unknown change."""
    variant = Variant(spec, iters=default_iters)
    for change in spec.split("+"):
        key, _, value = change.partition("=")
        if key == "default" and not value:
            continue
        if key == "iters" and value.isdigit() and int(value) > 0:
            variant = dataclasses.replace(variant, iters=int(value))
        elif key == "tw" and _positive(value):
            variant = dataclasses.replace(variant, temporal_factor=float(value))
        elif key == "torch-step" and not value:
            variant = dataclasses.replace(variant, torch_step=True)
        elif key == "warp" and value in INTERPOLATIONS:
            variant = dataclasses.replace(variant, interpolation=value)
        elif key == "no-fill" and not value:
            variant = dataclasses.replace(variant, lend_fine_detail=False)
        else:
            raise ValueError(f"unknown change {change!r} in variant {spec!r}")
    return variant


def _positive(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return 0 < value < float("inf")


@contextlib.contextmanager
def torch_first_step(enabled: bool):
    """L-BFGS's first step and step bound of warm frames as torch has them, for the block."""
    saved = optimize.WARM_FIRST_STEP_MAX, optimize.WARM_MAX_STEP
    if enabled:
        optimize.WARM_FIRST_STEP_MAX, optimize.WARM_MAX_STEP = None, None  # type: ignore[assignment]
    try:
        yield
    finally:
        optimize.WARM_FIRST_STEP_MAX, optimize.WARM_MAX_STEP = saved


def record(frames, engine, config, size) -> list[tuple]:
    """Stylize ``frames`` as the command line does; returns, per frame, what
    the detail stage was given and gave: ``(content_u8, low, motion, output_u8)``."""
    records = []
    finish = detail.DetailStage.finish

    def recording(self, content_u8, low, motion, *, on_iteration=None):
        result = finish(self, content_u8, low, motion, on_iteration=on_iteration)
        records.append((content_u8, low, motion, result.image_u8))
        return result

    detail.DetailStage.finish = recording  # type: ignore[method-assign]
    try:
        for _ in stylize_pairs(frames, engine, config=config, size=size):
            pass
    finally:
        detail.DetailStage.finish = finish  # type: ignore[method-assign]
    return records


def replay(records, variant: Variant, config: StyleConfig, engine: OptimizerEngine) -> tuple[list, float]:
    """The output-size frames of ``records`` finished again by ``variant``,
    from the recorded first frame; returns them and the seconds per warm frame."""
    if variant.temporal_factor != 1.0:
        weighted = dataclasses.replace(config, temporal_weight=config.temporal_weight * variant.temporal_factor)
        engine = optimizer(weighted)
    content0, low0, _, output0 = records[0]
    out_size = (content0.shape[1], content0.shape[0])
    stage = detail.DetailStage(
        engine,
        out_size,
        iters=variant.iters,
        flow=config.flow,
        lend_fine_detail=variant.lend_fine_detail,
        interpolation=variant.interpolation,
    )
    stage.remember(output0, low0.image_u8, content0)
    outputs = [output0]
    started = time.perf_counter()
    with torch_first_step(variant.torch_step):
        for content, low, motion, _ in records[1:]:
            outputs.append(stage.finish(content, low, motion).image_u8)
    return outputs, (time.perf_counter() - started) / max(len(records) - 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default=SAMPLE, help="video; PATH@S starts at S seconds")
    parser.add_argument("--size", default="256x144", help="processing size WxH")
    parser.add_argument("--output", default="480x270", help="output size WxH (at least 1.2x SIZE)")
    parser.add_argument("--frames", type=int, default=16, help="frames from the clip's start (at least 3)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="';'-separated, see the module docstring")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    size, out_size = parse_size(args.size), parse_size(args.output)
    if not detail.wants_detail(size, out_size, 1):
        parser.error(f"--output {args.output} is not {detail.MIN_DETAIL_SCALE}x --size {args.size}: no detail stage")
    if args.frames < 3:
        parser.error("--frames must be at least 3")
    config = StyleConfig(num_threads=args.threads)
    try:
        variants = [parse_variant(spec.strip(), config.detail_iters) for spec in args.variants.split(";")]
    except ValueError as error:
        parser.error(str(error))
    path, start_s = split_clip(args.clip)
    frames = [frame for _, frame in zip(range(args.frames), read_frames(path, size=out_size, start_s=start_s))]
    engine = optimizer(config)
    started = time.perf_counter()
    records = record(frames, engine, config, size)
    print(f"recorded {len(records)} frames, {args.size} -> {args.output}, in {time.perf_counter() - started:.0f} s")
    warm_iters = detail_warm_iters(config.detail_iters, size, out_size)
    print(f"a warm frame gets {warm_iters} iterations at --detail-iters {config.detail_iters} (iters=N scales alike)")
    inputs = [content for content, *_ in records]
    style0 = engine.measure(records[0][3], inputs[0])["style"]
    sharp0 = sharpness(records[0][3])
    print(f"first frame: style loss {style0:,.0f}, sharpness {sharp0:.3g}")
    lows = [low.image_u8 for _, low, *_ in records]
    chain = evaluate_frames(inputs, lows, size=size).report("full", "rgb").flicker_ratio
    print(f"the processing-size chain under it: flicker {chain:.3f} (RGB, measured at {args.size})")
    print("| variant | flicker rgb | luma | lz rgb | style | style last4 | sharp | s/frame |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for variant in variants:
        outputs, seconds = replay(records, variant, config, engine)
        meter = evaluate_frames(inputs, outputs)
        lanczos = evaluate_frames(inputs, outputs, warp="lanczos").report("full", "rgb").flicker_ratio
        styles = [engine.measure(output, content)["style"] / style0 for output, content in zip(outputs, inputs)]
        sharp = np.mean([sharpness(output) for output in outputs[1:]]) / sharp0
        print(
            f"| {variant.name} | {meter.report('full', 'rgb').flicker_ratio:.3f} "
            f"| {meter.report('full', 'luma').flicker_ratio:.3f} | {lanczos:.3f} | {np.mean(styles[1:]):.2f} "
            f"| {np.mean(styles[-4:]):.2f} | {sharp:.3f} | {seconds:.1f} |",
            flush=True,
        )
        if variant == Variant(variant.name, iters=config.detail_iters):
            recorded = [output for *_, output in records]
            worst = max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(outputs, recorded))
            print(f"  ({variant.name}: the recorded run's own rule; largest difference from it: {worst} grey levels)")


if __name__ == "__main__":
    main()
