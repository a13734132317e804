"""The flicker meter's plot: E_warp per frame pair of the stylized video and
of its input (``evaluate_report.FlickerReport``), with the scene cuts and the
cold-start spans marked.

matplotlib is imported only when a plot is drawn, and never pyplot (no global
state: headless and safe in threads).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from vidstyle.evaluate_report import COLD_START_PAIRS, FlickerReport, cold_start_spans

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_SIZE = (800, 400)  # width, height in pixels
PLOT_DPI = 100
PLOT_COLORS = {"stylized": "#d62728", "input": "#1f77b4", "cut": "#555555", "cold": "#ff9f1c"}


def save_plot(report: FlickerReport, path) -> None:
    """Write the plot of ``draw_plot`` as an 800x400 PNG (the format follows
    the extension, see ``save_image``; written atomically).

    Raises OutputError when the file cannot be written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from vidstyle.media.images import save_image

    canvas = FigureCanvasAgg(draw_plot(report))
    canvas.draw()
    save_image(path, np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3]))


def draw_plot(report: FlickerReport) -> Figure:
    """E_warp per frame pair of the stylized video and of the input as a
    matplotlib ``Figure`` (800x400 pixels at ``PLOT_DPI``; no pyplot, so no
    global state: headless and safe in threads). The flicker ratio is in the
    title; scene cuts (skipped pairs, gaps in the curves) are dashed vertical
    lines (gid ``scene-cut``); the first ``COLD_START_PAIRS`` pairs of each
    shot are shaded (gid ``cold-start``)."""
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(PLOT_SIZE[0] / PLOT_DPI, PLOT_SIZE[1] / PLOT_DPI), dpi=PLOT_DPI, layout="constrained")
    ax = fig.add_subplot()
    n = report.num_pairs
    ax.set_xlabel("frame pair i (frame i \u2192 i+1)")
    ax.set_ylabel("E_warp (MSE of RGB in [0, 1])")
    ax.set_title(_plot_title(report), fontsize="medium")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3), useMathText=True)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    if n == 0:
        ax.set_xlim(-0.5, 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no frame pairs", transform=ax.transAxes, ha="center", va="center", color="#777777")
        return fig

    legend: dict[str, Artist] = {}  # label -> handle, in the legend's order
    pairs = np.arange(n)
    for name, series, mean in (
        ("stylized", report.per_pair_stylized, report.e_warp_stylized),
        ("input", report.per_pair_input, report.e_warp_input),
    ):
        values = np.asarray(series, dtype=np.float64)
        label = f"{name} (mean {mean:.2e})" if np.isfinite(values).any() else name
        (legend[label],) = ax.plot(
            pairs,
            values,
            color=PLOT_COLORS[name],
            linewidth=1.6 if n <= 200 else 1.0,
            marker="o",
            markersize=3.5,
            markevery=_markers(values),
            label=label,
            gid=name,
            zorder=3 if name == "stylized" else 2.8,  # above the axis line: 0 stays visible
            clip_on=False,
        )
    for cut in sorted(set(report.scene_cut_pairs)):
        legend["scene cut (skipped)"] = ax.axvline(
            cut, color=PLOT_COLORS["cut"], linestyle="--", linewidth=1.2, gid="scene-cut"
        )
    for first, last in cold_start_spans(report):
        legend[f"cold start (first {COLD_START_PAIRS} pairs)"] = ax.axvspan(
            first - 0.5, last + 0.5, color=PLOT_COLORS["cold"], alpha=0.15, linewidth=0, gid="cold-start"
        )

    ax.set_xlim(-0.5, n - 0.5)
    top = max((v for v in report.per_pair_stylized + report.per_pair_input if math.isfinite(v)), default=0.0)
    ax.set_ylim(0.0, top * 1.08 if top > 0 else 1.0)
    fig.legend(
        list(legend.values()),
        list(legend),
        loc="outside lower center",
        ncols=len(legend),
        fontsize="small",
        frameon=False,
    )
    return fig


def _plot_title(report: FlickerReport) -> str:
    if not any(math.isfinite(v) for v in report.per_pair_stylized + report.per_pair_input):
        return "Flicker ratio: no frame pair measured"
    ratio = report.flicker_ratio
    ratio_text = f"{ratio:.3f}" if math.isfinite(ratio) else "undefined (the input does not move)"
    return f"Flicker ratio {ratio_text}  (E_warp stylized / input; 1.0 = as steady as the source)"


def _markers(values: np.ndarray) -> np.ndarray:
    """Where to draw a dot: every point of a short clip, and any point with no
    finite neighbour (a line alone would not show it)."""
    finite = np.isfinite(values)
    if len(values) <= 40:
        return finite
    padded = np.concatenate([[False], finite, [False]])
    return finite & ~padded[:-2] & ~padded[2:]
