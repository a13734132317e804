"""Command line: argv -> config objects -> library call; errors -> one line + exit code.

Exit codes: 0 success, 1 failure during processing, 2 bad usage or bad input,
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from vidstyle.config import FLOW_METHODS, PRESETS, StyleConfig, preset_options
from vidstyle.errors import InputError, VidstyleError

PROG = "vidstyle"
DEFAULTS = StyleConfig()  # shown in --help


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message):
        raise InputError(f"{message} (see '{self.prog} --help')")


def parse_time(text: str) -> float:
    """Seconds from ``SS``, ``SS.mmm``, ``MM:SS`` or ``HH:MM:SS(.mmm)`` (ffmpeg's forms)."""
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use seconds or HH:MM:SS)") from None
    if len(parts) > 3 or any(p < 0 for p in parts):
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use seconds or HH:MM:SS)")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def parse_pair(text: str) -> tuple[int, int]:
    """``FIRST,LATER`` iteration caps (one number sets both)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST,LATER integers, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected two positive integers FIRST,LATER, got {text!r}")
    return values[0], values[1]


def parse_floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def parse_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return w, h


def parse_fps(text: str):
    """Frames per second (see ``framerate.parse_rate``) for argparse."""
    from vidstyle.media.framerate import parse_rate

    try:
        return parse_rate(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parse_bitrate(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a bitrate like 2M or 800k, got {text!r}") from None


def add_style_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by file and live mode. Defaults are None so that only
    what the user typed overrides the preset and the config defaults."""
    g = parser.add_argument_group("style")
    g.add_argument("--style", action="append", required=True, metavar="IMAGE", help="style image (repeat to blend several)")
    g.add_argument("--style-weights", type=parse_floats, metavar="W1,W2", help="blend weights of several --style images")
    g.add_argument("--preset", choices=PRESETS, default="balanced", help="speed/quality trade-off (default: balanced)")
    g.add_argument("--style-weight", type=float, help=f"style loss weight (default {DEFAULTS.style_weight:g})")
    g.add_argument("--content-weight", type=float, help=f"content loss weight (default {DEFAULTS.content_weight:g})")
    g.add_argument("--tv-weight", type=float, help=f"total variation weight (default {DEFAULTS.tv_weight:g})")
    g.add_argument("--temporal-weight", type=float, help=f"temporal loss weight (default {DEFAULTS.temporal_weight:g})")
    g.add_argument("--style-scale", type=float, help="style image size relative to the frame (default 1)")
    g.add_argument("--preserve-colors", action="store_true", default=None, help="keep the video's colours (luminance-only transfer)")
    g.add_argument("--iters", type=parse_pair, metavar="FIRST,LATER", help=f"iteration caps: first frame, later frames (default {DEFAULTS.iters_first},{DEFAULTS.iters_later})")
    g.add_argument("--tolerance", type=float, help=f"stop a frame when the loss changes less than this, relative (default {DEFAULTS.tolerance:g})")
    g.add_argument("--init", choices=("content", "noise"), help="first frame starts from the content or from noise")
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), help="default lbfgs")
    g.add_argument("--seed", type=int, help="random seed (noise init)")
    g.add_argument("--max-side", type=int, metavar="N", help=f"processing size: longer side in pixels (default {DEFAULTS.max_side})")
    g.add_argument("--size", type=parse_size, metavar="WxH", help="processing size (overrides --max-side)")
    g.add_argument("--no-temporal", dest="temporal", action="store_false", default=None,
                   help="per-frame baseline: no flow, no warm start, no temporal loss")
    g.add_argument("--flow", choices=FLOW_METHODS, help="optical flow method (default dis-medium)")
    g.add_argument("--long-term", type=parse_ints, metavar="1,2,4", help="previous frames the temporal loss uses")
    g.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (default auto)")
    g.add_argument("--weights", help="VGG19 weights: caffe (default) | torchvision | PATH")
    g.add_argument("--threads", dest="num_threads", type=int, help="CPU threads for torch")
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the VGG network (GPU, long clips)")


STYLE_FIELDS = (
    "style_weights", "style_weight", "content_weight", "tv_weight", "temporal_weight", "style_scale",
    "preserve_colors", "tolerance", "init", "optimizer", "seed", "max_side", "size", "temporal", "flow",
    "long_term", "device", "weights", "num_threads", "compile", "passes", "keep_size",
)


def style_options(args: argparse.Namespace) -> dict:
    """The preset's options overridden by every option the user gave."""
    options = preset_options(args.preset)
    for name in STYLE_FIELDS:
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    if args.iters is not None:
        options["iters_first"], options["iters_later"] = args.iters
    if options.get("temporal") is False:
        options["warm_start"] = False
    return options


def build_file_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Turn a video into a painting that moves without flickering.",
        epilog="Other commands: 'vidstyle eval IN STYLIZED' (flicker meter), 'vidstyle live SOURCE' (webcam/streams).",
    )
    parser.add_argument("input", help="input video (a still image is stylized into an image)")
    parser.add_argument("-o", "--output", help="output file: .mp4 .m4v .mkv .mov .webm .gif, or an image sequence "
                        "such as out/%%05d.png (default: INPUT.stylized.mp4)")
    parser.add_argument("-y", dest="overwrite", action="store_true", help="overwrite an existing output")
    add_style_options(parser)
    g = parser.add_argument_group("video")
    g.add_argument("--passes", type=int, help="multi-pass: alternate forward/backward sweeps (default 1)")
    g.add_argument("--keep-size", action="store_true", default=None, help="bring the result back to the source size")
    g.add_argument("-ss", "--start", type=parse_time, metavar="T", help="start at T (seconds or HH:MM:SS)")
    g.add_argument("-t", "--duration", type=parse_time, metavar="T", help="stylize T seconds")
    g.add_argument("-to", "--to", type=parse_time, metavar="T", help="stop at T")
    g.add_argument("--fps", type=parse_fps, metavar="R",
                   help="resample to R frames per second (30, 29.97, 30000/1001), dropping or repeating frames")
    g.add_argument("--compare", action="store_true", default=None,
                   help="write the input and the stylized video side by side (input on the left)")
    g.add_argument("--codec", help="video codec (default by extension)")
    g.add_argument("--crf", type=int, help="constant rate factor (quality) for x264/VP9")
    g.add_argument("--bitrate", type=parse_bitrate, help="target bitrate, e.g. 2M")
    g.add_argument("--no-resume", dest="resume", action="store_false", help="start over even if a work directory exists")
    g.add_argument("--keep-work", action="store_true", help="keep the work directory after success")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    return parser


def run_file(argv: list[str]) -> int:
    from vidstyle.media.io import is_still_image  # heavy imports after argument checks
    from vidstyle.pipeline.video import Notice, stylize_video
    from vidstyle.cli.progress import ProgressReporter

    args = build_file_parser().parse_args(argv)
    if args.duration is not None and args.to is not None:
        raise InputError("use either --duration/-t or --to, not both")
    start = args.start
    end = args.to if args.to is not None else ((start or 0.0) + args.duration if args.duration is not None else None)
    options = style_options(args)
    options.update(start_s=start, end_s=end, codec=args.codec, crf=args.crf, bitrate=args.bitrate,
                   overwrite=args.overwrite, resume=args.resume, keep_work=args.keep_work, fps=args.fps,
                   compare=bool(args.compare))
    if is_still_image(args.input):
        return run_still(args, options)
    reporter = ProgressReporter(enabled=not args.quiet)

    def on_event(event) -> None:
        if isinstance(event, Notice):
            reporter.write(f"note: {event.message}")
        reporter.on_event(event)

    try:
        summary = stylize_video(args.input, args.output, style=args.style, on_event=on_event,
                                on_start=reporter.on_start, **options)
    finally:
        reporter.close()
    if args.json:
        print(json.dumps(summary.to_dict()))
    elif not args.quiet:
        resumed = f", {summary.resumed_frames} resumed" if summary.resumed_frames else ""
        steady = summary.steady_seconds_per_frame
        steady = f", steady state {steady:.2f} s/frame" if steady is not None else ""
        print(f"wrote {summary.output}: {summary.frames_written} frames in {summary.seconds:.1f} s{resumed} "
              f"({summary.seconds_per_frame:.2f} s/frame{steady})", file=sys.stderr)
    return 0


def run_still(args: argparse.Namespace, options: dict) -> int:
    """A still image given as the input: stylized as a picture into an image
    file; a video output for it is refused with the command that works."""
    from vidstyle.media.images import IMAGE_EXTENSIONS
    from vidstyle.pipeline.video import default_output_path, stylize_image

    src = args.input
    suggestion = default_output_path(src, ext=".png")
    dst = args.output or suggestion
    if "%" in os.path.basename(dst) or os.path.splitext(dst)[1].lower() not in IMAGE_EXTENSIONS:
        raise InputError(f"{src} is a still image, not a video; stylize it into an image, e.g. -o {suggestion}")
    video_only = [flag for flag, value in (("-ss", args.start), ("-t/-to", options["end_s"]), ("--fps", args.fps),
                                           ("--compare", args.compare)) if value]
    if video_only:
        raise InputError(f"{', '.join(video_only)} apply to videos; {src} is a still image")
    for name in ("start_s", "end_s", "fps", "compare", "codec", "crf", "bitrate", "resume", "keep_work"):
        options.pop(name)
    image = stylize_image(src, dst, style=args.style, **options)
    if args.json:
        print(json.dumps({"output": dst, "frames": 1, "size": [image.shape[1], image.shape[0]]}))
    elif not args.quiet:
        print(f"wrote {dst} ({image.shape[1]}x{image.shape[0]})", file=sys.stderr)
    return 0


def build_eval_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=f"{PROG} eval", description="Flicker meter: warping error of a stylized video against its input.")
    parser.add_argument("input", help="the source video")
    parser.add_argument("stylized", help="the stylized video")
    parser.add_argument("--flow", choices=FLOW_METHODS, default="dis-medium")
    parser.add_argument("--max-side", type=int, default=None, help="measure at this size (default: the stylized size)")
    parser.add_argument("--plot", metavar="PNG", help="save the per-frame curve as a PNG")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def run_eval(argv: list[str]) -> int:
    from vidstyle.evaluate import evaluate_videos, save_plot

    args = build_eval_parser().parse_args(argv)
    report = evaluate_videos(args.input, args.stylized, method=args.flow, max_side=args.max_side)
    if args.plot:
        save_plot(report, args.plot)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"pairs: {report.num_pairs}")
        print(f"E_warp stylized: {report.e_warp_stylized:.6f}")
        print(f"E_warp input:    {report.e_warp_input:.6f}")
        print(f"flicker ratio:   {report.flicker_ratio:.3f}  (1.0 = as steady as the source)")
    return 0


def run_live(argv: list[str]) -> int:
    from vidstyle.live.loop import main as live_main

    return live_main(argv)


COMMANDS = {"eval": run_eval, "live": run_live}


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM ends as cleanly as Ctrl-C
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else run_file(argv)
    except VidstyleError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        detail = f": {err}" if str(err) else ""
        print(f"{PROG}: interrupted{detail}", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: still one line, unless debugging
        if os.environ.get("VIDSTYLE_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(err).__name__}: {err} (set VIDSTYLE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
