"""``vidstyle live SOURCE --style ART``: stylize a webcam or a stream in real time.

The command line of ``vidstyle.live``: options -> a config (the ``live``
preset, overridden by what was typed), the source opened, the processing
size chosen by the one size policy (``sizing.choose_size``, on the first
frame), the outputs opened at the output size (``--output-size``, else the
source's size, even sides), the engine built (``engines.make_engine``); then
``live.run_live`` with a status line on stderr, Ctrl-C/SIGTERM as a clean
stop, and the summary printed at the end.

Live mode has no detail stage (``pipeline/detail.py``): what the sinks get
is the processing-size result scaled to the output size.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from vidstyle import live
from vidstyle.checks import Check, real_check, within
from vidstyle.cli.options import (
    PROG,
    Parser,
    add_style_options,
    argparse_type,
    parse_duration,
    parse_size,
    style_options,
)
from vidstyle.config import StyleConfig
from vidstyle.errors import InputError, OutputError, VidstyleError
from vidstyle.frames import Frame, fit_size
from vidstyle.parsing import parse_float

LIVE_PRESET = "live"
V4L2_DEVICE_PREFIX = "/dev/video"
INTERRUPTED_EXIT_CODE = 130  # as ``cli.main`` for any interrupted run
MAX_SOURCE_FPS = 240  # a source "rate" above this is a container's clock (RTSP: 90 kHz), not a frame rate
# What --input-fps, --target-fps and --max-latency accept (finite, within these
# bounds). The output rate a budget aims at (``LiveOptions.nominal_fps``: the
# target rate, or 1 / max latency) is the streams' rate hint and keyframe
# clock: between 0.01 and MAX_SOURCE_FPS frames per second either way.
INPUT_FPS_CHECK = real_check(0, MAX_SOURCE_FPS, above=True, unit=" frames per second")
TARGET_FPS_CHECK = real_check(0.01, MAX_SOURCE_FPS, unit=" frames per second")
MAX_LATENCY_CHECK = real_check(0.01, 60, unit=" seconds")


def bounded_float(check: Check) -> Callable[[str], float]:
    """An argparse ``type=`` for a finite number within ``check``'s bounds
    (NaN, infinities and numbers outside them: argparse's one-line error)."""

    def parse(text: str) -> float:
        value = parse_float(text)
        if not math.isfinite(value) or not within(check, value):
            raise InputError(f"must be {check.describe()}, got {text}")
        return value

    parse.__name__ = "number"
    return argparse_type(parse)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{PROG} live",
        description="Stylize a webcam or a stream in real time (drops frames to keep up).",
        epilog="Examples: 'vidstyle live /dev/video0 --style art.jpg --preview'; "
        "'vidstyle live lavfi:testsrc2=size=320x240:rate=30 --style art.jpg -o live.mp4 --duration 10'",
    )
    parser.add_argument("source", help="/dev/videoN, rtsp:// http(s):// udp:// URL, lavfi:GRAPH, or a video file")
    add_style_options(parser, default_preset=LIVE_PRESET)
    g = parser.add_argument_group("input")
    g.add_argument("--input-size", type=parse_size, metavar="WxH", help="camera mode to ask for, e.g. 640x480")
    g.add_argument(
        "--input-fps",
        type=bounded_float(INPUT_FPS_CHECK),
        metavar="R",
        help=f"camera frame rate to ask for ({INPUT_FPS_CHECK.describe()})",
    )
    g.add_argument("--input-format", metavar="FMT", help="camera pixel format to ask for, e.g. mjpeg")
    g = parser.add_argument_group("real time")
    budget = g.add_mutually_exclusive_group()
    budget.add_argument(
        "--target-fps",
        type=bounded_float(TARGET_FPS_CHECK),
        metavar="R",
        help=f"output frames per second to aim for (default {live.DEFAULT_TARGET_FPS:g}; "
        f"{TARGET_FPS_CHECK.describe()})",
    )
    budget.add_argument(
        "--max-latency",
        type=bounded_float(MAX_LATENCY_CHECK),
        metavar="S",
        help=f"seconds from capture to output to aim for ({MAX_LATENCY_CHECK.describe()})",
    )
    g.add_argument(
        "-t", "--duration", type=parse_duration, metavar="T", help="stop after T seconds (a recording lasts exactly T)"
    )
    g = parser.add_argument_group(
        "output",
        "Every output gets frames at the output size (--output-size, default: the source's size; odd sides "
        "rounded down to even ones, as 4:2:0 video needs): the result at the processing size (--max-side, "
        "--size) scaled up, with no detail stage. A recording lasts until the run stops, its last frame held.",
    )
    g.add_argument("-o", "--output", metavar="FILE", help="record to a video file (.mp4, .mkv...)")
    g.add_argument("-y", dest="overwrite", action="store_true", help="overwrite an existing recording")
    g.add_argument("--preview", action="store_true", help="show a window (q quits, space pauses, s saves a still)")
    g.add_argument("--side-by-side", action="store_true", help="preview the input beside the output")
    g.add_argument("--still-dir", default=".", metavar="DIR", help="where s saves stills (default: .)")
    g.add_argument("--stream-out", metavar="URL", help="send to rtmp://... (FLV) or udp:// tcp:// srt:// (MPEG-TS)")
    g.add_argument("--stream-format", metavar="FMT", help="muxer for --stream-out (default from the URL)")
    g.add_argument("--v4l2-out", metavar="DEVICE", help="write to a v4l2loopback device (virtual camera)")
    g.add_argument("-q", "--quiet", action="store_true", help="no status line")
    g.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return parser


def run(argv: list[str]) -> int:
    """``vidstyle live ...``: returns the exit code: 0, also after Ctrl-C/SIGTERM
    once a frame was stylized (the recording is finalized); 130 when a signal
    stopped the run before the first stylized frame (nothing recorded). Errors
    are raised (``cli.main`` turns them into one line and a code)."""
    args = build_parser().parse_args(argv)
    if args.side_by_side and not args.preview:
        raise InputError("--side-by-side needs --preview")
    if args.output:
        live.check_recording_name(args.output)
    options = style_options(args)
    config = StyleConfig(**options)
    from vidstyle.media import check_live_source

    check_live_source(args.source)
    if "num_threads" not in options:
        config = config.replace(num_threads=live.default_num_threads(config.engine))
    live_options = live.LiveOptions(
        target_fps=_target_fps(args), max_latency_s=args.max_latency, duration_s=args.duration, still_dir=args.still_dir
    )

    from vidstyle.engines import make_engine, memory_estimate
    from vidstyle.engines.precision import precision_note
    from vidstyle.features import select_device
    from vidstyle.media import ignored_mode_notes, open_source
    from vidstyle.pipeline.styles import load_styles, look_notes, look_training_size, sizes_note
    from vidstyle.sizing import choose_size

    styles = load_styles(args.style, config.model)
    status = _StatusLine(enabled=not args.quiet)
    config, notes = look_notes(args.style, config)
    for note in notes:
        status.note(note)
    why = None  # the processing size's reason, where the preset or the look chose it
    if args.max_side is None and args.size is None:
        trained = look_training_size(config.model) if config.model is not None else None
        if trained is not None:  # a look's strokes are sized for its training frames
            config = config.replace(max_side=max(trained))
        if trained is not None or (args.preset or LIVE_PRESET) == LIVE_PRESET:
            why = f"{'the look' if trained else 'the live preset'}'s size; --max-side or --size to change"
    modes = {"input_size": args.input_size, "input_fps": args.input_fps, "input_format": args.input_format}
    source = open_source(args.source, **modes)
    for note in ignored_mode_notes(source.spec, **modes):  # a camera's modes asked of another source
        status.note(note)
    stop = threading.Event()
    with _stop_on_signals(stop) as signalled:
        frames = source.frames()  # at the source's size: the loop resizes the frames it takes
        try:
            first = _first_frame(frames, source.name)
            device = select_device(config.device)
            choice = choose_size(first.size, config, required_bytes=memory_estimate(config, device), device=device)
            if choice.note is not None:
                status.note(choice.note)
            out_size = written_size(first.size, config)
            recording_fps = _recording_fps(source.nominal_fps, live_options.nominal_fps)
            outputs = _open_outputs(args, size=out_size, fps=live_options.nominal_fps, recording_fps=recording_fps)
            try:  # the destination is checked before the network loads
                engine = make_engine(config, styles, device=device)
            except BaseException:
                outputs.close()
                raise
        except BaseException:
            frames.close()
            source.close()  # the generator may not have started
            raise
        if (precision := precision_note(config, device)) is not None:  # past every refusal
            status.note(precision)
        status.note(sizes_note(choice.size, out_size, config, device=device, detail=False, detail_stage=False, why=why))
        if not (outputs.sinks or outputs.preview):
            status.note(
                "nothing is kept: the stylized frames are discarded (only the summary is printed); "
                "-o FILE records them, --preview shows them, --stream-out URL or --v4l2-out DEVICE sends them"
            )
        try:
            summary = live.run_live(
                itertools.chain([first], frames),
                engine,
                config=config,
                size=choice.size,
                output_size=out_size,
                options=live_options,
                sinks=outputs.sinks,
                preview=outputs.preview,
                on_event=status,
                stop=stop,
                source_name=source.name,
            )
        finally:
            status.close()
    _print_summary(summary, as_json=args.json, quiet=args.quiet, wanted_recording=args.output)
    return INTERRUPTED_EXIT_CODE if signalled.is_set() and summary.frames_stylized == 0 else 0


def _target_fps(args) -> float | None:
    """--target-fps as given; the default only when no budget was given at all."""
    if args.target_fps is not None or args.max_latency is not None:
        return args.target_fps
    return live.DEFAULT_TARGET_FPS


def written_size(source: tuple[int, int], config: StyleConfig) -> tuple[int, int]:
    """The ``(width, height)`` every live output gets: ``--output-size``, else
    the source's size (``sizing.output_size``), odd sides rounded down to even
    ones: the 4:2:0 encoders of streams, loopback devices and recordings need
    them (a file's writer would drop the odd row too)."""
    from vidstyle.sizing import output_size

    return fit_size(*output_size(source, config), max_side=None, even=True)


def _first_frame(frames, name: str) -> Frame:
    """The source's first frame (its size decides the processing size);
    InputError when the source ends or fails before giving one."""
    try:
        return next(frames)
    except StopIteration:
        raise InputError(f"live source {name} gave no frames") from None
    except VidstyleError as err:
        raise InputError(f"live source {name} gave no frames: {err}") from err


@dataclasses.dataclass
class _Outputs:
    sinks: list
    preview: live.PreviewWindow | None

    def close(self) -> None:
        """Close what was opened (a recording with no frames leaves no file)."""
        for sink in [*self.sinks, *([self.preview] if self.preview else [])]:
            with contextlib.suppress(VidstyleError):
                sink.close()


def _recording_fps(source_fps, nominal_fps: float) -> float:
    """The recording's rate hint (``RecordingSink``): the source's frame rate,
    the most a live run can output; the target rate when the source's is
    unknown or implausible."""
    if source_fps and 0 < source_fps <= MAX_SOURCE_FPS:
        return float(source_fps)
    return nominal_fps


def _open_outputs(args, *, size: tuple[int, int], fps: float, recording_fps: float) -> _Outputs:
    """The sinks the options ask for, taking frames of ``size`` (the output
    size; streams get the target rate ``fps`` as their hint and keyframe
    clock); those opened are closed if a later one fails."""
    from vidstyle.pipeline.styles import style_paths_of

    outputs = _Outputs(sinks=[], preview=None)
    width, height = size
    try:
        if args.output:
            outputs.sinks.append(
                live.RecordingSink(
                    args.output,
                    width=width,
                    height=height,
                    fps=recording_fps,
                    overwrite=args.overwrite,
                    input_paths=[args.source, *style_paths_of(args.style, args.model)],
                )
            )
        if args.stream_out:
            outputs.sinks.append(
                live.StreamSink(args.stream_out, width=width, height=height, fps=fps, format=args.stream_format)
            )
        if args.v4l2_out:
            if not args.v4l2_out.startswith(V4L2_DEVICE_PREFIX) or not os.path.exists(args.v4l2_out):
                raise OutputError(f"no such video device: {args.v4l2_out} (load v4l2loopback to get one)")
            outputs.sinks.append(live.StreamSink(args.v4l2_out, width=width, height=height, fps=fps))
        if args.preview:
            outputs.preview = live.PreviewWindow(side_by_side=args.side_by_side)
    except BaseException:
        outputs.close()
        raise
    return outputs


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside: SIGINT and SIGTERM set ``stop`` (the loop ends and the
    recording is finalized); a second signal raises KeyboardInterrupt.
    Yields an event set when a signal came (``stop`` is also set by the
    preview's quit key)."""
    signalled = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield signalled
        return

    def request_stop(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        signalled.set()
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield signalled
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _StatusLine:
    """Prints ``LiveStatus`` events as one status line on stderr (rewritten
    in place on a terminal, one line per update otherwise), and notes
    (``StillSaved``, a reduced processing size) as lines of their own."""

    def __init__(self, *, enabled: bool, file=None):
        self.enabled = enabled
        self.file = file or sys.stderr
        self.tty = self.file.isatty()
        self.dirty = False

    def __call__(self, event: live.LiveEvent) -> None:
        if isinstance(event, live.StillSaved):
            self._line(f"saved {event.path}", final=True)
        elif isinstance(event, live.LiveStatus):
            self._line(format_status(event), final=False)

    def note(self, message: str) -> None:
        """Something the user should know that is not an error."""
        self._line(f"note: {message}", final=True)

    def _line(self, text: str, *, final: bool) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.file.write(f"\r\x1b[K{text}" + ("\n" if final else ""))
            self.dirty = not final
        else:
            self.file.write(text + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.dirty:
            self.file.write("\n")
            self.file.flush()
            self.dirty = False


def format_status(status: live.LiveStatus) -> str:
    """One status line, e.g. ``live 12.0s | in 360 | stylized 40 (3.9 fps) | dropped 320 | latency 240 ms | 9 it``."""
    latency = f"{status.latency_s * 1000:.0f} ms" if status.latency_s is not None else "-"
    iters = f"{status.num_iters} it" if status.num_iters is not None else "- it"
    paused = " | PAUSED" if status.paused else ""
    return (
        f"live {status.elapsed_s:.1f}s | in {status.frames_in} | stylized {status.frames_stylized} "
        f"({status.output_fps:.1f} fps) | dropped {status.frames_dropped} | latency {latency} | {iters}{paused}"
    )


def _print_summary(summary: live.LiveSummary, *, as_json: bool, quiet: bool, wanted_recording: str | None) -> None:
    if as_json:
        print(json.dumps(summary.to_dict()))
        return
    if wanted_recording and summary.recording is None:
        print(
            f"nothing recorded: stopped before the first stylized frame ({wanted_recording} not created)",
            file=sys.stderr,
        )
    if quiet:
        return
    ms = lambda s: f"{s * 1000:.0f} ms" if s is not None else "-"  # noqa: E731
    print(
        f"{summary.frames_in} frames in, {summary.frames_stylized} stylized ({summary.cold_starts} cold), "
        f"{summary.frames_dropped} dropped ({summary.dropped_fraction:.0%}); latency median "
        f"{ms(summary.latency_median_s)}, p90 {ms(summary.latency_p90_s)}; output {summary.output_fps:.2f} fps, "
        f"{summary.mean_iters:.1f} iterations/frame" + (f"; recorded {summary.recording}" if summary.recording else ""),
        file=sys.stderr,
    )
