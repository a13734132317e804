"""``vidstyle IN --style ART``: a video file, an image sequence (or a still image) in, a stylized one out."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from vidstyle.cli.options import PROG, Parser, add_export_options, add_style_options, export_options, style_options
from vidstyle.config import make_configs
from vidstyle.errors import InputError, OutputError

# Options that mean something only for a video source, with the flag a user typed.
VIDEO_ONLY = (
    ("start_s", "-ss"),
    ("end_s", "-t/-to"),
    ("fps", "--fps"),
    ("input_fps", "--input-fps"),
    ("compare", "--compare"),
)
# Options that only a Ray run (--ray) uses, with their flags.
RAY_ONLY = (
    ("workers", "--workers"),
    ("segment_frames", "--segment-frames"),
    ("seam_frames", "--seam-frames"),
    ("anchor_frames", "--anchor-frames"),
)
# Export options a still image has no use for (the encoder, the work directory).
NOT_FOR_STILLS = ("start_s", "end_s", "fps", "input_fps", "compare", "codec", "crf", "bitrate", "resume", "keep_work")


def build_file_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Turn a video into a painting that moves without flickering.",
        epilog="Other commands: 'vidstyle eval IN STYLIZED' (flicker meter), 'vidstyle live SOURCE' (webcam/streams).",
    )
    parser.add_argument(
        "input",
        help="input video, or a numbered image sequence: frames/%%04d.png (any first number, no gaps; "
        "--input-fps sets its rate, default 25) or a folder holding one; a still image is stylized into an image",
    )
    parser.add_argument(
        "-o",
        "--output",
        help="output file: .mp4 .m4v .mkv .mov .webm .gif, or an image sequence "
        "such as out/%%05d.png (default: INPUT.stylized.mp4)",
    )
    add_style_options(parser)
    g = add_export_options(parser)
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    return parser


def run_file(argv: list[str]) -> int:
    """The file command; returns the exit code (errors are raised)."""
    args = build_file_parser().parse_args(argv)
    options = {**style_options(args), **export_options(args)}
    make_configs(**options)  # every range and cross-field check, before the heavy imports

    from vidstyle.api import stylize_video
    from vidstyle.cli.progress import ProgressReporter
    from vidstyle.media import is_still_image

    reporter = ProgressReporter(enabled=not args.quiet)
    unused = [flag for name, flag in RAY_ONLY if name in options] if options.get("ray") is None else []
    if unused:
        reporter.write(f"note: {', '.join(unused)} apply to Ray runs (--ray ADDRESS); ignored here")
    still = is_still_image(args.input)
    check_not_a_folder(args.input, args.output, still=still)
    if still:
        return run_still(args, options, reporter)
    try:
        with ray_messages_off_stdout(options, quiet=args.quiet):
            summary = stylize_video(
                args.input,
                args.output,
                style=args.style,
                on_event=notices_to(reporter),
                on_start=reporter.on_start,
                **options,
            )
    finally:
        reporter.close()
    if args.json:
        print(json.dumps(summary.to_dict()))
    elif not args.quiet:
        resumed = f", {summary.resumed_frames} resumed" if summary.resumed_frames else ""
        steady_s = summary.steady_seconds_per_frame
        steady = f", steady state {steady_s:.2f} s/frame" if steady_s is not None else ""
        print(
            f"wrote {summary.output}: {summary.frames_written} frames in {summary.seconds:.1f} s{resumed} "
            f"({summary.seconds_per_frame:.2f} s/frame{steady})",
            file=sys.stderr,
        )
    return 0


def ray_messages_off_stdout(options: dict, *, quiet: bool):
    """With --ray, what Ray's driver prints while the run lasts (a task
    retried, a worker that died: ``distributed.runtime.ray_messages_to``) goes
    to stderr, or nowhere with -q: standard output holds only the result
    (--json). Without --ray, nothing changes."""
    if options.get("ray") is None:
        return contextlib.nullcontext()
    from vidstyle.distributed.runtime import ray_messages_to

    return ray_messages_to(None if quiet else sys.stderr)


def check_not_a_folder(src: str, dst: str | None, *, still: bool) -> None:
    """OutputError (exit code 2) when ``-o`` names a folder (one that exists,
    or a name ending in ``/``): the output's name picks its format, as in
    ffmpeg, so the line names the files that would work in that folder. An
    image-sequence pattern (``out/%05d.png``) is a file name, not a folder."""
    from vidstyle.media import is_sequence_pattern
    from vidstyle.pipeline import default_output_path

    if dst is None or is_sequence_pattern(dst) or not (os.path.isdir(dst) or dst.endswith(("/", os.sep))):
        return
    stem_of = src.rstrip("/" + os.sep) or src  # frames/ (a folder holding a sequence) -> frames.stylized.mp4
    name = os.path.basename(default_output_path(stem_of, ext=".png" if still else ".mp4"))
    files = f"-o {os.path.join(dst, name)}"
    if not still:
        files += f" or an image sequence, -o {os.path.join(dst, '%05d.png')}"
    raise OutputError(f"-o {dst} names a folder: name a file in it, e.g. {files}")


def notices_to(reporter):
    """An ``on_event`` callback: Notices as ``note: ...`` lines, every event to the progress bar."""
    from vidstyle.pipeline import Notice

    def on_event(event) -> None:
        if isinstance(event, Notice):
            reporter.write(f"note: {event.message}")
        reporter.on_event(event)

    return on_event


def run_still(args: argparse.Namespace, options: dict, reporter) -> int:
    """A still image given as the input: stylized as a picture into an image
    file; a video output for it is refused with the command that works."""
    from vidstyle.media import IMAGE_EXTENSIONS
    from vidstyle.pipeline import default_output_path, stylize_image

    src = args.input
    suggestion = default_output_path(src, ext=".png")
    dst = args.output or suggestion
    if "%" in os.path.basename(dst) or os.path.splitext(dst)[1].lower() not in IMAGE_EXTENSIONS:
        raise InputError(f"{src} is a still image, not a video; stylize it into an image, e.g. -o {suggestion}")
    video_only = [flag for name, flag in VIDEO_ONLY if options.get(name)]
    if video_only:
        raise InputError(f"{', '.join(video_only)} apply to videos; {src} is a still image")
    for name in NOT_FOR_STILLS:
        options.pop(name, None)
    image = stylize_image(src, dst, style=args.style, on_event=notices_to(reporter), **options)
    if args.json:
        print(json.dumps({"output": dst, "frames": 1, "size": [image.shape[1], image.shape[0]]}))
    elif not args.quiet:
        print(f"wrote {dst} ({image.shape[1]}x{image.shape[0]})", file=sys.stderr)
    return 0
