"""``vidstyle eval IN STYLIZED``: the flicker meter (warping error against the input)."""

from __future__ import annotations

import argparse
import json

from vidstyle.cli.options import PROG, Parser, field_type
from vidstyle.config import FLOW_METHODS, StyleConfig


def build_eval_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{PROG} eval", description="Flicker meter: warping error of a stylized video against its input."
    )
    parser.add_argument("input", help="the source video")
    parser.add_argument("stylized", help="the stylized video")
    parser.add_argument(
        "--flow", choices=FLOW_METHODS, default="dis-medium", help="optical flow method (default dis-medium)"
    )
    parser.add_argument(
        "--max-side",
        type=field_type(StyleConfig, "max_side"),
        default=None,
        metavar="N",
        help="measure at this size (default: the stylized size)",
    )
    parser.add_argument("--plot", metavar="PNG", help="save the per-frame curve as a PNG")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def run_eval(argv: list[str]) -> int:
    """The eval command; returns the exit code (errors are raised)."""
    args = build_eval_parser().parse_args(argv)

    from vidstyle.evaluate import evaluate_videos
    from vidstyle.evaluate_plot import save_plot

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
