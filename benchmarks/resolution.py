"""Full-resolution benchmark (issue 10): one command, prints a table.

    .venv/bin/python benchmarks/fetch_clips.py          # the second and third real clips
    .venv/bin/python benchmarks/resolution.py [--outputs 256,512,720] [--frames 24] [--clips A B@3.4 ...]

Each clip is stylized by the command-line tool, as a user runs it (default
options, CPU defaults: processing at 256 px, the detail stage finishing at
the output size), once per output size (the longer side, never above the
source's), into a lossless PNG sequence; the PNGs are then encoded with the
tool's default mp4 encoder (what ``vidstyle in.mp4`` writes). Columns:

  flicker rgb/luma   flicker ratio (``vidstyle eval``'s meter) of the lossless
                     frames, and of the encoded mp4 (``mp4 rgb``/``mp4 luma``);
                     luma = BT.709 Y
  lz rgb/mp4 lz      the same meter with its warp by Lanczos-4 instead of
                     bilinear (``vidstyle eval --warp lanczos``; RGB), lossless
                     and mp4: a bilinear warp blurs a texture sharper than the
                     footage and reads the blur as change
  mp4 pl/pl lz       the mp4's RGB flicker decoded as a player shows it
                     (``vidstyle eval --decode player``: chroma interpolated),
                     bilinear and Lanczos warp
  first15/rest       flicker ratio (lossless, RGB) over the 15 pairs after each
                     cold start (first frame, scene cuts) / over the other pairs,
                     summed (stylized E_warp / input E_warp of the part)
  f15 med/rest med   the same parts by the median of the pairs' own ratios:
                     the fair comparison when the input moves faster in one
                     part (see ``FlickerReport.segments``)
  worst shot         the highest per-shot ratio, and the stillest shot's ratio
                     (the shot whose input moves least)
  style 1..          mean style loss of frames 1.., at the output size (absolute:
                     compares the painting of the same frames across settings)
  style, content     mean loss over frames 1.. / the first frame's, measured
                     at the output size (>1: the look fades as the clip goes on)
  style/cold         with --cold-every N: frames N, 2N, ... each painted alone
                     by the tool (a cold start from that frame, as after a
                     scene cut); the mean of the chain's style loss over that
                     painting's, frame by frame: the drift of the look along
                     the chain, without the change of the footage that the
                     first frame's ratio (``style``) also counts
  sharp              mean variance of the Laplacian of luma / the first frame's
  s/frame, peak MB   wall seconds per frame and peak resident memory of the run
  gpu MB             peak CUDA memory of the run (torch.cuda.max_memory_allocated)

Numbers on a shared 2-core CPU are noisy: compare rows of one run.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from fractions import Fraction

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.evaluate import evaluate_frames, sharpness  # noqa: E402
from vidstyle.frames import (
    Frame,  # noqa: E402
    fit_size,  # noqa: E402
)
from vidstyle.media import open_writer, probe, read_frames  # noqa: E402
from vidstyle.media.images import load_image, resize  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")
CLIPS = (SAMPLE, os.path.join("out", "clips", "bikes.mp4"), os.path.join("out", "clips", "bigbuckbunny.mp4"))
COLD_PAIRS = 15


def shot_numbers(report) -> dict[str, float]:
    """First-15-after-cold-start vs rest, the worst shot and the stillest
    shot (the shot whose input moves least), from the meter's segments."""
    segments = report.segments()
    shots = [shot for shot in segments["shots"] if shot["pairs"] >= 3]
    worst = max((shot["flicker_ratio"] or math.nan for shot in shots), default=math.nan)
    still = min(shots, key=lambda shot: shot["e_warp_input"])["flicker_ratio"] if shots else math.nan
    return {
        "first15": segments["cold_start"]["flicker_ratio"] or math.nan,
        "rest": segments["rest"]["flicker_ratio"] or math.nan,
        "f15 med": segments["cold_start"]["median_pair_ratio"] or math.nan,
        "rest med": segments["rest"]["median_pair_ratio"] or math.nan,
        "worst_shot": worst,
        "still_shot": still if still is not None else math.nan,
    }


def split_clip(spec: str) -> tuple[str, float | None]:
    """``path`` or ``path@SECONDS`` (start there, as ``-ss SECONDS``)."""
    path, _, start = spec.partition("@")
    return path, float(start) if start else None


def run_tool(
    clip: str, start_s: float | None, out_size: tuple[int, int], frames: int, folder: str, extra: list[str]
) -> dict:
    """``vidstyle clip --style STYLE -o folder/%05d.png --output-size WxH [-ss S] -t ...``
    in a child process; returns its --json summary plus peak RSS (MB)."""
    info = probe(clip)
    seconds = (frames + 0.5) / float(info.fps or 25)
    if start_s is not None:
        extra = ["-ss", f"{start_s:g}", *extra]
    timer = ["/usr/bin/time", "-f", "PEAK_KB %M"] if os.path.exists("/usr/bin/time") else []
    cmd = [
        *timer,
        sys.executable,
        "-m",
        "vidstyle",
        clip,
        "--style",
        STYLE,
        "-o",
        os.path.join(folder, "%05d.png"),
        "--output-size",
        f"{out_size[0]}x{out_size[1]}",
        "-t",
        f"{seconds:.3f}",
        "--json",
        "-q",
        "-y",
        *extra,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK_KB")]
    if peak:
        summary["peak_mb"] = int(peak[-1].split()[1]) / 1024
    else:  # no GNU time: the largest child so far (right when rows grow, as they do here)
        summary["peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return summary


def encode(frames_u8: list[np.ndarray], dst: str, fps) -> None:
    """The PNGs through the tool's default writer for ``dst``'s extension."""
    height, width = frames_u8[0].shape[:2]
    time_base = 1 / Fraction(fps)  # one tick per frame
    writer = open_writer(dst, width=width, height=height, fps=fps, time_base=time_base, overwrite=True)
    with writer:
        for index, image in enumerate(frames_u8):
            writer.write(Frame(image_u8=image, pts=index, time_base=time_base, index=index))


def cold_ratios(
    clip: str,
    start_s: float | None,
    out_size: tuple[int, int],
    stylized: list[np.ndarray],
    sources: list[np.ndarray],
    every: int,
    extra: list[str],
    engine: OptimizerEngine,
) -> list[float]:
    """The chain's style loss over a cold start's on frames ``every``,
    ``2 every``, ...: each frame painted alone by the tool from its own time."""
    fps = probe(clip).fps or Fraction(25)
    ratios = []
    for index in range(every, len(stylized), every):
        with tempfile.TemporaryDirectory() as folder:
            at = (start_s or 0.0) + float(index / fps)
            run_tool(clip, at, out_size, 1, folder, extra)
            (path, *_) = sorted(glob.glob(os.path.join(folder, "*.png")))
            cold = load_image(path)
        same = next(iter(read_frames(clip, size=out_size, start_s=at))).image_u8  # that frame alone
        if np.abs(same.astype(np.int16) - sources[index]).mean() > 0.5:
            raise SystemExit(f"-ss {at:g} does not start at frame {index} of the chain")
        chain = engine.measure(stylized[index], sources[index])["style"]
        ratios.append(chain / engine.measure(cold, sources[index])["style"])
        print(f"  frame {index}: chain style / cold style = {ratios[-1]:.3f}", flush=True)
    return ratios


def measure(
    clip: str,
    start_s: float | None,
    out_size: tuple[int, int],
    frames: int,
    extra: list[str],
    engine: OptimizerEngine,
    cold_every: int = 0,
) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        summary = run_tool(clip, start_s, out_size, frames, folder, extra)
        stylized = [load_image(path) for path in sorted(glob.glob(os.path.join(folder, "*.png")))]
        sources = [f.image_u8 for f in read_frames(clip, size=out_size, start_s=start_s)][: len(stylized)]
        mp4 = os.path.join(folder, "encoded.mp4")
        encode(stylized, mp4, probe(clip).fps)
        encoded = [f.image_u8 for f in read_frames(mp4)]
        played = [f.image_u8 for f in read_frames(mp4, chroma="player")]
        size_kb = os.path.getsize(mp4) / 1024
    even = (encoded[0].shape[1], encoded[0].shape[0])
    sources_even = [resize(f, even) for f in sources]  # the mp4's size (even for 4:2:0)
    lossless = evaluate_frames(sources, stylized)
    mp4 = evaluate_frames(sources_even, encoded)
    lanczos = evaluate_frames(sources, stylized, warp="lanczos")
    mp4_lanczos = evaluate_frames(sources_even, encoded, warp="lanczos")
    player = evaluate_frames(sources_even, played)
    player_lanczos = evaluate_frames(sources_even, played, warp="lanczos")
    row = {
        "rgb": lossless.variants["full/rgb"].flicker_ratio,
        "luma": lossless.variants["full/luma"].flicker_ratio,
        "mp4 rgb": mp4.variants["full/rgb"].flicker_ratio,
        "mp4 luma": mp4.variants["full/luma"].flicker_ratio,
        "mp4 kB": size_kb,
        "lz rgb": lanczos.variants["full/rgb"].flicker_ratio,
        "mp4 lz": mp4_lanczos.variants["full/rgb"].flicker_ratio,
        "mp4 pl": player.variants["full/rgb"].flicker_ratio,
        "pl lz": player_lanczos.variants["full/rgb"].flicker_ratio,
        **shot_numbers(lossless.variants["full/rgb"]),
    }
    losses = [engine.measure(image, source) for image, source in zip(stylized, sources)]
    sharp = [sharpness(image) for image in stylized]
    row["style 1.."] = float(np.mean([m["style"] for m in losses[1:]]))
    row["style"] = row["style 1.."] / losses[0]["style"]
    row["content"] = float(np.mean([m["content"] for m in losses[1:]]) / losses[0]["content"])
    row["sharp"] = float(np.mean(sharp[1:]) / sharp[0])
    ratios = cold_ratios(clip, start_s, out_size, stylized, sources, cold_every, extra, engine) if cold_every else []
    row["style/cold"] = float(np.mean(ratios)) if ratios else math.nan
    row["s/frame"] = summary.get("seconds_per_frame", summary.get("seconds", math.nan) / max(1, len(stylized)))
    row["peak MB"] = summary["peak_mb"]
    row["gpu MB"] = summary.get("device_peak_mb") or math.nan
    row["processing"] = "x".join(str(v) for v in summary.get("processing_size", []))
    return row


COLUMNS = ("rgb", "luma", "mp4 rgb", "mp4 luma", "mp4 kB", "lz rgb", "mp4 lz", "mp4 pl", "pl lz")
COLUMNS += ("first15", "rest", "f15 med", "rest med")
COLUMNS += ("worst_shot", "still_shot")
COLUMNS += ("style 1..", "style", "style/cold", "content", "sharp", "s/frame", "peak MB", "gpu MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--clips", nargs="+", default=[c for c in CLIPS if os.path.isfile(c)], help="videos; PATH@S starts at S seconds"
    )
    parser.add_argument("--outputs", default="256,512,720", help="output longer sides (capped at the source's)")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--upscale", action="store_true", help="allow output sizes above the source's (GPU rows)")
    parser.add_argument(
        "--cold-every", type=int, default=0, metavar="N", help="style/cold column: frames N, 2N, ... painted alone"
    )
    parser.add_argument("--extra", default="", help="more vidstyle options for every run, e.g. '--detail-iters 3'")
    args = parser.parse_args()
    engine = OptimizerEngine([load_image(STYLE)], config=StyleConfig())
    print(f"{'clip':<18} {'output':>9} {'process':>8} " + " ".join(f"{c:>10}" for c in COLUMNS), flush=True)
    for spec in args.clips:
        clip, start_s = split_clip(spec)
        info = probe(clip)
        done = set()
        for side in (int(v) for v in args.outputs.split(",")):
            source_side = max(info.width, info.height)
            side = side if args.upscale else min(side, source_side)
            if side in done:
                continue
            done.add(side)
            # fit_size never enlarges: an upscaled size is a huge one fitted down to the side
            factor = side if args.upscale else 1
            out_size = fit_size(info.width * factor, info.height * factor, max_side=side)
            row = measure(clip, start_s, out_size, args.frames, args.extra.split(), engine, args.cold_every)
            cells = " ".join(f"{row[c]:>10.3g}" if isinstance(row[c], float) else f"{row[c]:>10}" for c in COLUMNS)
            name = os.path.basename(spec)[-18:]
            print(f"{name:<18} {out_size[0]:>4}x{out_size[1]:<4} {row['processing']:>8} {cells}", flush=True)


if __name__ == "__main__":
    main()
