"""``vidstyle eval IN STYLIZED``: the flicker meter (warping error against the input)."""

from __future__ import annotations

import argparse
import json
import math
import sys

from vidstyle.cli.options import PROG, Parser, field_type, parse_duration, parse_time
from vidstyle.config import FLOW_METHODS, ExportConfig, StyleConfig
from vidstyle.errors import InputError
from vidstyle.evaluate_convention import METER_DECODE, METER_INTERPOLATION, METER_WARPS
from vidstyle.media.reading import CHROMA_UPSAMPLING

MASK_CHOICES = ("full", "occlusion", "both")
CHANNEL_CHOICES = ("rgb", "luma", "both")
ASPECT_TOLERANCE = 0.05  # |log| of the aspect ratios: 5%; 4:2:0 even-size rounding changes tiny frames by a few %
# |ratio - 1| of the two frame rates above which a note says the pairs, matched by index, are different instants
FPS_TOLERANCE = 1e-3
EDGE_AGREEMENT_FLOOR = 0.2  # median edge agreement below this: another clip's frames (evaluate.edge_agreement)

CONVENTION_HELP = (
    "Convention (Lai et al. 2018 E_warp with Ruder et al. 2016's mask): backward and forward flow by OpenCV DIS "
    "PRESET_MEDIUM (default parameters) on the 8-bit gray input at the measurement size; a pixel is unreliable "
    "where |w + fw(x+w)|^2 > 0.01(|w|^2 + |fw|^2) + 0.5, where |grad u|^2 + |grad v|^2 > 0.01|w|^2 + 0.002 "
    "(central differences; the 'full' mask only) or where x+w leaves the frame; the previous frame is warped "
    "bilinearly (float values in [0, 1]; --warp lanczos: Lanczos-4); E_warp is the masked mean squared "
    "difference, averaged over RGB or of "
    "the BT.709 luma; the clip's E_warp is the mean over pairs, the flicker ratio stylized / input. Pairs at a "
    "scene cut (under 20% reliable, or unrelated colours) are skipped. Files are decoded with 4:2:0 chroma "
    "repeated over 2x2 pixels (--decode player: the stylized file's interpolated). Measured at the stylized "
    "size; frames of another size are resized with cv2.INTER_AREA. --json carries this as 'convention'."
)


def build_eval_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{PROG} eval",
        description="Flicker meter: warping error of a stylized video against its input. Also reports the edge "
        "agreement (median per frame of the correlation of the luma gradients at 64 px wide; a note under "
        f"{EDGE_AGREEMENT_FLOOR}: the stylized file does not look made from this input).",
        epilog=CONVENTION_HELP,
    )
    parser.add_argument("input", help="the source video, or image sequence (frames/%%04d.png or its folder)")
    parser.add_argument("stylized", help="the stylized video, or image sequence (out/%%05d.png or its folder)")
    parser.add_argument(
        "--flow",
        choices=FLOW_METHODS,
        default="dis-medium",
        help="optical flow method (default dis-medium, the convention's; others give numbers that do not compare)",
    )
    parser.add_argument(
        "--max-side",
        type=field_type(StyleConfig, "max_side"),
        default=None,
        metavar="N",
        help="measure at this size (default: the stylized size)",
    )
    parser.add_argument(
        "--mask",
        choices=MASK_CHOICES,
        default="full",
        help="reliable pixels: 'full' (Ruder et al.: forward-backward, motion boundaries, out of frame; default), "
        "'occlusion' (without the motion-boundary test) or 'both' side by side (full is the headline)",
    )
    parser.add_argument(
        "--channels",
        choices=CHANNEL_CHOICES,
        default="rgb",
        help="error of 'rgb' (mean over the channels; default), 'luma' (BT.709 Y) or 'both' (rgb is the headline)",
    )
    parser.add_argument(
        "--warp",
        choices=METER_WARPS,
        default=METER_INTERPOLATION,
        help="how the previous frame is warped: 'linear' (bilinear, the convention's; default) or 'lanczos' "
        "(Lanczos-4, near-ideal resampling: a texture sharper than the footage, carried along the flow, does not "
        "read as flicker the way a bilinear warp's blur of it does). Ratios compare only under one warp",
    )
    parser.add_argument(
        "--decode",
        choices=CHROMA_UPSAMPLING,
        default=METER_DECODE,
        help="how the stylized file's 4:2:0 chroma becomes RGB: 'nearest' (each sample repeated over 2x2 pixels, "
        "as FFmpeg's swscale and vidstyle's reader do; the convention's; default) or 'player' (interpolated, as "
        "players show the file). The input is decoded the convention's way either way. Ratios compare only "
        "under one decode",
    )
    parser.add_argument(
        "-ss", dest="start_s", type=parse_time, metavar="T", help="the input's range, as the stylized run had it: start"
    )
    span = parser.add_mutually_exclusive_group()
    span.add_argument("-t", dest="duration_s", type=parse_duration, metavar="T", help="the input's range: duration")
    span.add_argument("-to", dest="end_s", type=parse_duration, metavar="T", help="the input's range: end")
    parser.add_argument(
        "--input-fps",
        type=field_type(ExportConfig, "input_fps"),
        metavar="R",
        help="an image sequence input's frame rate, as the stylized run had it (default 25): -ss/-t/-to count in it",
    )
    parser.add_argument("--plot", metavar="PNG", help="save the per-frame curve (headline variant) as a PNG")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (every variant, always)")
    return parser


def run_eval(argv: list[str]) -> int:
    """The eval command; returns the exit code (errors are raised)."""
    args = build_eval_parser().parse_args(argv)
    end_s = args.end_s if args.duration_s is None else (args.start_s or 0.0) + args.duration_s
    ExportConfig(start_s=args.start_s, end_s=end_s)  # the range's checks and lines, as the stylize command's
    if args.plot:  # refused before the measurement, not after, as every output is
        if not args.plot.lower().endswith(".png"):
            raise InputError(f"--plot writes a PNG: name it .png, got {args.plot}")
        from vidstyle.media.destination import check_destination

        check_destination(args.plot, overwrite=True, input_paths=[args.input, args.stylized])

    from vidstyle.evaluate import evaluate_videos, measurement_size
    from vidstyle.evaluate_plot import save_plot
    from vidstyle.media import check_start, find_input_sequence, probe

    for path in (args.input, args.stylized):
        sequence = find_input_sequence(path)  # a bad pattern or a gap: one line, before any decoding
        if sequence is not None and sequence.from_folder:
            print(f"note: {path} holds one image sequence: reading {sequence.describe()}", file=sys.stderr)
    if args.input_fps is not None and find_input_sequence(args.input) is None:
        raise InputError(f"--input-fps sets the frame rate of an image sequence input; {args.input} is a video")
    source, stylized = probe(args.input, rate=args.input_fps), probe(args.stylized)
    check_start(args.input, source, args.start_s, doing="measure")
    if abs(math.log((source.width / source.height) / (stylized.width / stylized.height))) > ASPECT_TOLERANCE:
        print(
            f"note: {args.input} is {source.width}x{source.height} and {args.stylized} "
            f"{stylized.width}x{stylized.height}: the input is stretched to the stylized shape; "
            "are these the right two files?",
            file=sys.stderr,
        )
    rates = _rates_differ(args, source.fps, stylized.fps)
    if rates is not None:
        print(
            f"note: {args.input} runs at {rates[0]} frames per second and {args.stylized} at {rates[1]}: frames are "
            "paired by index, so the ratio compares different instants (was it made with --fps? measure a file "
            "at the input's rate)",
            file=sys.stderr,
        )
    if (source.width, source.height) != (stylized.width, stylized.height):
        size = measurement_size((stylized.width, stylized.height), max_side=args.max_side)
        at = "the stylized size" if args.max_side is None else f"--max-side {args.max_side}"
        print(
            f"note: {args.input} is {source.width}x{source.height} and {args.stylized} "
            f"{stylized.width}x{stylized.height}: both are measured at {size[0]}x{size[1]} ({at}); the flicker "
            "ratio changes with the size it is measured at, so compare only ratios measured at one size",
            file=sys.stderr,
        )
    masks = ["full", "occlusion"] if args.mask == "both" else [args.mask]
    channels = ["rgb", "luma"] if args.channels == "both" else [args.channels]
    report = evaluate_videos(
        args.input,
        args.stylized,
        method=args.flow,
        max_side=args.max_side,
        mask=masks[0],
        channels=channels[0],
        warp=args.warp,
        decode=args.decode,
        input_start_s=args.start_s,
        input_end_s=end_s,
        input_rate=args.input_fps,
    )
    measured = [e for e in report.primary.per_pair_stylized if math.isfinite(e)]
    if not measured:
        reason = "every pair is a scene cut" if report.num_pairs else "fewer than two frames"
        raise InputError(f"no frame pair to measure in {args.stylized} ({reason}): flicker needs consecutive frames")
    agreement = report.median_edge_agreement
    if agreement is not None and agreement < EDGE_AGREEMENT_FLOOR:
        print(
            f"note: {args.stylized} does not keep the shapes of {args.input} (edge agreement {agreement:.2f}, "
            f"under {EDGE_AGREEMENT_FLOOR} where a stylization of it keeps more): the ratio means nothing unless "
            "it was made from this input, from the same start (-ss)",
            file=sys.stderr,
        )
    if not math.isfinite(report.primary.flicker_ratio):  # the input's E_warp is 0, the stylized video's is not
        print(
            f"note: {args.input} does not move (its E_warp is 0): the flicker ratio, stylized / input, is "
            "undefined (null in --json); the stylized E_warp is the whole measurement",
            file=sys.stderr,
        )
    if args.plot:
        save_plot(report.primary, args.plot)
    if args.json:
        print(json.dumps(report.to_dict(), allow_nan=False))
        return 0
    headline = report.primary
    skipped = f" ({len(headline.scene_cut_pairs)} skipped at scene cuts)" if headline.scene_cut_pairs else ""
    print(f"pairs: {headline.num_pairs}{skipped}")
    print(
        f"mask {masks[0]}, channels {channels[0]}, flow {args.flow}, warp {args.warp}, decode {args.decode}"
        "  (convention: see --help)"
    )
    print(f"E_warp stylized: {headline.e_warp_stylized:.6f}")
    print(f"E_warp input:    {headline.e_warp_input:.6f}")
    print(f"flicker ratio:   {_fmt(headline.flicker_ratio)}  (1.0 = as steady as the source)")
    if agreement is None:
        print("edge agreement:  undefined  (the input has no edges)")
    else:
        print(f"edge agreement:  {agreement:.3f}  (median per frame; 1.0 = the input's own shapes)")
    if len(masks) * len(channels) > 1:
        print("flicker ratio by variant:")
        print("  " + " " * 6 + "".join(f"{m:>12}" for m in masks))
        for c in channels:
            print(f"  {c:<6}" + "".join(f"{_fmt(report.report(m, c).flicker_ratio):>12}" for m in masks))
    segments = headline.segments()
    print("flicker ratio by segment (summed; median of the pairs' own ratios):")
    rows = [("first 15 pairs after each cold start", segments["cold_start"]), ("the rest", segments["rest"])]
    rows += [
        (f"shot {k} (frames {shot['first_frame']}-{shot['last_frame']})", shot)
        for k, shot in enumerate(segments["shots"], 1)
    ]
    for label, summary in rows:
        print(f"  {label + ':':<38}{_segment(summary)}")
    return 0


def _rates_differ(args: argparse.Namespace, source_fps, stylized_fps) -> tuple[str, str] | None:
    """The two frame rates as text when they differ by more than FPS_TOLERANCE,
    else None; also None when a rate is unknown or is not the file's own (an
    image sequence: the stylized one has none, the input's is --input-fps)."""
    from vidstyle.media import find_input_sequence

    if not source_fps or not stylized_fps or find_input_sequence(args.stylized) is not None:
        return None
    if args.input_fps is None and find_input_sequence(args.input) is not None:
        return None
    if abs(source_fps / stylized_fps - 1) <= FPS_TOLERANCE:
        return None
    return f"{float(source_fps):.6g}", f"{float(stylized_fps):.6g}"


def _fmt(value: float | None) -> str:
    """A ratio as text: ``-`` where there is none (no pair), ``undefined``
    where the input does not move (both null in --json)."""
    if value is None:
        return "-"
    return f"{value:.3f}" if math.isfinite(value) else "undefined"


def _segment(summary: dict) -> str:
    if not summary["pairs"]:
        return "- (no pair)"
    median = _fmt(summary["median_pair_ratio"])
    return f"{_fmt(summary['flicker_ratio'])}; median pair {median}  ({summary['pairs']} pairs)"
