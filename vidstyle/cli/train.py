"""``vidstyle train --style ART [--on CLIP ...] -o LOOK.pt``: train a feed-forward look.

Then ``vidstyle IN --style ART --model LOOK.pt`` (files) or ``vidstyle live
SOURCE --style ART --model LOOK.pt`` stylize at network speed. The style and
loss flags are the file command's; the budget is ``--minutes`` and/or
``--steps``. An interrupted run keeps ``LOOK.pt.ckpt``; the same command
resumes from it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from vidstyle.cli.options import PROG, Parser, add_style_options, argparse_type, field_type, style_options
from vidstyle.cli.progress import TrainingBar
from vidstyle.config import StyleConfig
from vidstyle.errors import InputError
from vidstyle.parsing import parse_int
from vidstyle.training.look import LOOK_SUFFIX
from vidstyle.training.loop import MAX_BATCH_PAIRS, MAX_CROP, MIN_CROP, check_batch_pairs, check_crop


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{PROG} train",
        description="Train a feed-forward network on a style (a look file).",
        epilog="Example: 'vidstyle train --style art.jpg --on clip.mp4 -o art.pt --minutes 5', "
        "then 'vidstyle clip.mp4 --style art.jpg --model art.pt'.",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="LOOK.pt",
        help=f"the look file to write (ends in {LOOK_SUFFIX}; never one of the clips or style images)",
    )
    parser.add_argument(
        "--on",
        action="append",
        metavar="CLIP",
        dest="clips",
        help="a clip (or an image sequence, frames/%%04d.png) to train on (repeat for several; "
        "default: the bundled sample clip)",
    )
    add_style_options(parser, style_required=True)
    g = parser.add_argument_group("training")
    g.add_argument(
        "--minutes",
        dest="train_minutes",
        type=field_type(StyleConfig, "train_minutes"),
        metavar="M",
        help="training budget in wall-clock minutes (default 5; with --steps: whichever comes first)",
    )
    g.add_argument(
        "--steps", dest="train_steps", type=field_type(StyleConfig, "train_steps"), metavar="N", help="training steps"
    )
    g.add_argument(
        "--batch",
        type=argparse_type(parse_int, check_batch_pairs),
        dest="batch_pairs",
        metavar="PAIRS",
        help=f"frame pairs per step, 1 to {MAX_BATCH_PAIRS} (default: vidstyle.training.TrainingOptions's, 1)",
    )
    g.add_argument(
        "--crop",
        type=argparse_type(parse_int, check_crop),
        metavar="PX",
        help=f"train on square random crops of this side in pixels, {MIN_CROP} to {MAX_CROP} "
        "(limited by the frames; default: whole frames)",
    )
    g.add_argument("-y", action="store_true", dest="overwrite", help="overwrite an existing look file")
    g.add_argument("--no-resume", action="store_false", dest="resume", help="ignore an existing checkpoint")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.add_argument("--json", action="store_true", help="print the training summary as JSON on stdout")
    return parser


def run(argv: list[str]) -> int:
    """``vidstyle train ...``: returns the exit code (errors are raised)."""
    args = build_parser().parse_args(argv)
    options = style_options(args)
    config = StyleConfig(**options)
    from vidstyle.media import find_input_sequence, input_files, load_image, looks_like_sequence

    for clip in args.clips or []:
        if looks_like_sequence(clip):
            find_input_sequence(clip)  # a bad pattern, a gap, no files: one line now, not after the network loads
        elif not os.path.isfile(clip):
            raise InputError(f"no such clip: {clip}")

    from vidstyle.media.destination import check_destination
    from vidstyle.training import TrainingOptions, checkpoint_path, remove_checkpoint, train_look
    from vidstyle.training.data import default_clips
    from vidstyle.training.look import atomic_save

    # the file command's check: an existing output needs -y, and the clips and
    # style images (same path, relative path, symlink, hard link) are never replaced
    inputs = [path for clip in args.clips or default_clips() for path in input_files(clip)] + list(args.style)
    check_destination(args.output, overwrite=args.overwrite, input_paths=inputs)
    if not args.output.lower().endswith(LOOK_SUFFIX):
        raise InputError(f"the look file must end in {LOOK_SUFFIX}, got {args.output}")

    styles = [load_image(path) for path in args.style]
    if config.preserve_colors and not args.quiet:  # a post-process of each stylized frame, recorded in the look
        print(
            "note: --preserve-colors is recorded in the look and applied when it stylizes, not learned: "
            f"--model {args.output} keeps the video's colours (--no-preserve-colors turns it off)",
            file=sys.stderr,
        )
    training = TrainingOptions(
        steps=config.train_steps,
        minutes=None if config.train_steps and "train_minutes" not in options else config.train_minutes,
        seed=config.seed,
        **{name: getattr(args, name) for name in ("batch_pairs", "crop") if getattr(args, name) is not None},
    )
    checkpoint = checkpoint_path(args.output)
    bar = TrainingBar(enabled=not args.quiet)
    try:
        trained = train_look(
            styles,
            config=config,
            clips=args.clips,
            options=training,
            style_names=[os.path.basename(p) for p in args.style],
            checkpoint=checkpoint,
            resume=args.resume,
            on_event=bar.on_event,
        )
    except KeyboardInterrupt as err:
        raise KeyboardInterrupt(f"checkpoint kept in {checkpoint}; rerun the same command to resume") from err
    finally:
        bar.close()
    atomic_save(trained.payload, args.output)
    remove_checkpoint(checkpoint)
    summary = trained.payload["training"]
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "fingerprint"}))
    elif not args.quiet:
        print(
            f"wrote {args.output}: {summary['steps']} steps in {summary['seconds'] / 60:.1f} min "
            f"({summary['cpu_seconds'] / 60:.1f} CPU-min), loss {summary['initial_loss']:.4g} -> "
            f"{summary['final_loss']:.4g}",
            file=sys.stderr,
        )
    return 0
