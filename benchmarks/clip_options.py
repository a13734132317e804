"""What the benchmarks that stylize the first frames of one clip share: their
options (--clip, --size, --frames, --threads), reading those frames, and the
optimizer with the sample style."""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from resolution import split_clip  # noqa: E402  (benchmarks/, this script's folder)

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.frames import Frame  # noqa: E402
from vidstyle.media import read_frames  # noqa: E402
from vidstyle.media.images import load_image  # noqa: E402
from vidstyle.parsing import parse_size  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "bbb_tail_480x270.mp4")
STYLE = os.path.join(ROOT, "samples", "starry_night.jpg")


def add_clip_options(parser: argparse.ArgumentParser, *, size: str = "256x144", frames: int = 24) -> None:
    """--clip PATH[@S], --size WxH (what the clip is read at), --frames N, --threads N."""
    parser.add_argument("--clip", default=SAMPLE, help="video; PATH@S starts at S seconds")
    parser.add_argument("--size", default=size, help="size WxH the clip is read and stylized at")
    parser.add_argument("--frames", type=int, default=frames, help="frames from the clip's start (at least 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")


def read_clip(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, tuple[int, int], list[Frame]]:
    """The clip's name, the size ``(width, height)`` and its first ``--frames`` frames at that size
    (``parser.error`` on fewer than 2)."""
    if args.frames < 2:
        parser.error("--frames must be at least 2")
    size = parse_size(args.size)
    path, start_s = split_clip(args.clip)
    frames = [frame for _, frame in zip(range(args.frames), read_frames(path, size=size, start_s=start_s))]
    if len(frames) < 2:
        parser.error(f"{args.clip} has fewer than 2 frames")
    return os.path.basename(path), size, frames


def optimizer(config: StyleConfig) -> OptimizerEngine:
    """The optimizer with the sample style and ``config``."""
    return OptimizerEngine([load_image(STYLE)], config=config)
