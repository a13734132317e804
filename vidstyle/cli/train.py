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

from vidstyle.cli.options import (
    PROG,
    Parser,
    add_style_options,
    argparse_type,
    config_options,
    field_type,
    style_options,
)
from vidstyle.cli.progress import TrainingBar
from vidstyle.config import StyleConfig
from vidstyle.errors import InputError
from vidstyle.parsing import parse_int
from vidstyle.training.look import LOOK_SUFFIX
from vidstyle.training.loop import MAX_BATCH_PAIRS, MAX_CROP, MIN_CROP, check_batch_pairs, check_crop

# Style options (shared with the file and live commands) that set how a frame
# is stylized, not what a network learns: refused here, never silently ignored.
NOT_FOR_TRAINING = (
    "--engine",
    "--net-blend",
    "--net-refine",
    "--optimizer",
    "--iters",
    "--tolerance",
    "--init",
    "--detail-iters",
    "--output-size",
    "--carry-warp",
    "--long-term",
)
# The file command's budget of on-the-fly training, and this command's own flag for it.
BUDGET_FLAGS = {"--train-minutes": "--minutes", "--train-steps": "--steps"}


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
        dest="minutes",
        type=field_type(StyleConfig, "train_minutes"),
        metavar="M",
        help="training budget in wall-clock minutes (default 5; with --steps: whichever comes first)",
    )
    g.add_argument(
        "--steps", dest="steps", type=field_type(StyleConfig, "train_steps"), metavar="N", help="training steps"
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
    check_training_options(args)
    args.train_minutes, args.train_steps = args.minutes, args.steps
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
    from vidstyle.engines.precision import precision_note
    from vidstyle.features import select_device

    precision = precision_note(config, select_device(config.device))
    if precision is not None and not args.quiet:
        print(f"note: {precision}", file=sys.stderr)
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
            on_event=_training_events(bar, args, checkpoint),
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


def check_training_options(args: argparse.Namespace) -> None:
    """InputError (exit code 2) for a style option typed that training has
    no use for: the file and live commands' stylizing options, and their
    on-the-fly training budget (this command's is --minutes/--steps)."""
    typed = {
        name
        for option in config_options(StyleConfig, groups=["style"])
        if getattr(args, option.dest, None) is not None
        for name in option.flag.names[:1]
    }
    if "--model" in typed:
        raise InputError(
            "--model does not apply to training: vidstyle train starts a network from scratch "
            "(fine-tuning a look is not supported); use --model LOOK.pt with the file and live commands"
        )
    for flag, ours in BUDGET_FLAGS.items():
        if flag in typed:
            raise InputError(f"{flag} is the file command's training budget; vidstyle train takes {ours}")
    unused = [flag for flag in NOT_FOR_TRAINING if flag in typed]
    if unused:
        verb = "does" if len(unused) == 1 else "do"
        raise InputError(
            f"{', '.join(unused)} {verb} not apply to training: they set how the file and live commands "
            "stylize (give them there, with --model LOOK.pt)"
        )


def _training_events(bar: TrainingBar, args: argparse.Namespace, checkpoint: str):
    """``train_look``'s ``on_event``: notes as ``note: ...`` lines, a resumed
    checkpoint already past the budget said in words (it is written as it
    is, without a bar), the rest to the progress bar."""
    from vidstyle.training import TrainingNote, TrainingStarted

    def on_event(event) -> None:
        if isinstance(event, TrainingNote):
            if not args.quiet:
                print(f"note: {event.message}", file=sys.stderr)
            return
        if isinstance(event, TrainingStarted) and event.step and event.restart_reason is None:
            past = None
            if event.steps is not None and event.step >= event.steps:
                past = f"at step {event.step}, past --steps {event.steps}"
            elif event.budget_s is not None and event.elapsed_s >= event.budget_s:
                past = f"{event.elapsed_s / 60:.1f} min in, past --minutes {event.budget_s / 60:g}"
            if past is not None:
                if not args.quiet:
                    print(
                        f"note: the checkpoint {checkpoint} is {past}: writing it as it is (--no-resume to start over)",
                        file=sys.stderr,
                    )
                return
        bar.on_event(event)

    return on_event
