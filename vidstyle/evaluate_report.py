"""The flicker meter's results: ``FlickerReport`` (per-pair E_warp of one
variant, with its segments) and ``MeterReport`` (every variant of a clip).

Values are E_warp, the masked mean squared difference of values in [0, 1]
(see ``evaluate_convention``); pair i compares frames i and i+1.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable

from vidstyle.evaluate_convention import CONVENTION, METER_DECODE, METER_INTERPOLATION, METER_METHOD

# Pairs counted as the start of a shot: the first ones after the first frame and after each cut.
COLD_START_PAIRS = 15


@dataclasses.dataclass(frozen=True)
class FlickerReport:
    """E_warp per consecutive pair and over the clip, for one mask and channel choice.

    Attributes:
        per_pair_stylized, per_pair_input: E_warp of each pair (index i
            compares frames i and i+1; MSE of values in [0, 1]); NaN for pairs
            skipped at a scene cut.
        scene_cut_pairs: indices of the skipped pairs.
    """

    per_pair_stylized: list[float]
    per_pair_input: list[float]
    scene_cut_pairs: list[int] = dataclasses.field(default_factory=list)

    @property
    def num_pairs(self) -> int:
        """Consecutive pairs in the clip (frames - 1), skipped ones included."""
        return len(self.per_pair_stylized)

    @property
    def e_warp_stylized(self) -> float:
        """Mean E_warp of the stylized video over the measured pairs."""
        return _mean(self.per_pair_stylized)

    @property
    def e_warp_input(self) -> float:
        """Mean E_warp of the input video over the measured pairs."""
        return _mean(self.per_pair_input)

    @property
    def flicker_ratio(self) -> float:
        """``e_warp_stylized / e_warp_input``: 1.0 = as steady as the source
        (also when both are 0); inf when only the input is perfectly steady."""
        return _ratio(self.e_warp_stylized, self.e_warp_input)

    def over(self, pairs: Iterable[int]) -> FlickerReport:
        """The report restricted to the pair indices ``pairs`` (in that order)."""
        pairs = list(pairs)
        cuts = set(self.scene_cut_pairs)
        return FlickerReport(
            [self.per_pair_stylized[i] for i in pairs],
            [self.per_pair_input[i] for i in pairs],
            [k for k, i in enumerate(pairs) if i in cuts],
        )

    def shots(self) -> list[tuple[int, int]]:
        """The shots as ``(first, last)`` pair indices (inclusive), between the
        skipped cut pairs; a shot of one frame has no pair and is left out."""
        bounds = [-1] + sorted(set(self.scene_cut_pairs)) + [self.num_pairs]
        return [(a + 1, b - 1) for a, b in zip(bounds, bounds[1:]) if b - 1 >= a + 1]

    def segments(self, length: int = COLD_START_PAIRS) -> dict:
        """E_warp and flicker ratio over parts of the clip, JSON-ready:
        ``cold_start`` (the first ``length`` pairs after the first frame and
        after each cut), ``rest`` (the other measured pairs) and ``shots``
        (one entry per shot, with its ``first_frame`` and ``last_frame``).

        Each part has ``flicker_ratio`` (its stylized E_warp / its input
        E_warp, as for the clip) and ``median_pair_ratio`` (the median over
        its pairs of each pair's own ratio). The summed ratio of a part is
        dominated by its fastest pairs: the stylized E_warp has a floor that
        does not follow the input's (2-5e-5 per pair at 256x144 on the
        README's clips: sharp texture under the meter's bilinear warp and
        subpixel flow noise), so a part whose input moves fast reads low and
        a near-still part high, whatever the stylizer does. The median says
        how a typical pair of the part behaves; read both."""
        cold = {i for first, last in cold_start_spans(self, length) for i in range(first, last + 1)}
        measured = [i for i in range(self.num_pairs) if i not in set(self.scene_cut_pairs)]
        return {
            "cold_start": _summary(self.over(sorted(cold))),
            "rest": _summary(self.over(i for i in measured if i not in cold)),
            "shots": [
                {"first_frame": first, "last_frame": last + 1, **_summary(self.over(range(first, last + 1)))}
                for first, last in self.shots()
            ],
        }

    def to_dict(self) -> dict:
        """A JSON-ready summary (NaN and inf become null)."""
        return {
            "pairs": self.num_pairs,
            "e_warp_stylized": _finite_or_none(self.e_warp_stylized),
            "e_warp_input": _finite_or_none(self.e_warp_input),
            "flicker_ratio": _finite_or_none(self.flicker_ratio),
            "scene_cut_pairs": list(self.scene_cut_pairs),
            "per_pair_stylized": [_finite_or_none(v) for v in self.per_pair_stylized],
            "per_pair_input": [_finite_or_none(v) for v in self.per_pair_input],
        }


def _summary(report: FlickerReport) -> dict:
    measured = sum(1 for v in report.per_pair_input if math.isfinite(v))
    return {
        "pairs": measured,
        "e_warp_stylized": _finite_or_none(report.e_warp_stylized) if measured else None,
        "e_warp_input": _finite_or_none(report.e_warp_input) if measured else None,
        "flicker_ratio": _finite_or_none(report.flicker_ratio) if measured else None,
        "median_pair_ratio": _median_pair_ratio(report),
    }


def _median_pair_ratio(report: FlickerReport) -> float | None:
    """Median over measured pairs with a moving input (input E_warp > 0) of
    stylized / input E_warp; None without such a pair."""
    ratios = [
        s / i
        for s, i in zip(report.per_pair_stylized, report.per_pair_input)
        if math.isfinite(s) and math.isfinite(i) and i > 0
    ]
    return statistics.median(ratios) if ratios else None


def _ratio(stylized: float, source: float) -> float:
    if source == 0.0:
        return 1.0 if stylized == 0.0 else math.inf
    return stylized / source


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) / len(finite) if finite else 0.0


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclasses.dataclass(frozen=True)
class MeterReport:
    """Every variant of the meter for one clip, and which one is the headline.

    The flow, the cut decisions and the pairs are shared; each variant is a
    ``FlickerReport`` (per-pair E_warp of input and stylized, MSE in [0, 1]
    units) keyed ``"<mask>/<channels>"``: ``full/rgb``, ``full/luma``,
    ``occlusion/rgb``, ``occlusion/luma``. The properties of a
    ``FlickerReport`` (``flicker_ratio``, ``per_pair_input``, ...) read the
    headline variant (``mask``/``channels``).

    Attributes:
        variants: the four reports.
        reliable_fraction: per mask, the fraction of each pair's pixels that
            pass it (cut pairs included).
        mask, channels: the headline variant.
        method: the flow method.
        warp: the warp of the previous frame (``evaluate_convention.METER_WARPS``).
        decode: for files, how the stylized file's chroma was upsampled
            (``media.reading.CHROMA_UPSAMPLING``; the input's is always the
            convention's; frames given as arrays: the convention's label,
            whatever decoded them).
        edge_agreement: per frame, how far the stylized frame keeps its input
            frame's shapes (``evaluate.edge_agreement``): low for frames of
            another clip; NaN where the input frame has no edges.
    """

    variants: dict[str, FlickerReport]
    reliable_fraction: dict[str, list[float]]
    mask: str = "full"
    channels: str = "rgb"
    method: str = METER_METHOD
    warp: str = METER_INTERPOLATION
    decode: str = METER_DECODE
    edge_agreement: list[float] = dataclasses.field(default_factory=list)

    @property
    def median_edge_agreement(self) -> float | None:
        """The median of ``edge_agreement`` over the frames whose input has
        edges; None without such a frame (undefined: a flat input keeps no
        shapes to compare)."""
        defined = [value for value in self.edge_agreement if math.isfinite(value)]
        return float(statistics.median(defined)) if defined else None

    def report(self, mask: str | None = None, channels: str | None = None) -> FlickerReport:
        """The variant ``mask``/``channels`` (default: the headline one)."""
        return self.variants[f"{mask or self.mask}/{channels or self.channels}"]

    @property
    def primary(self) -> FlickerReport:
        return self.report()

    num_pairs = property(lambda self: self.primary.num_pairs)
    scene_cut_pairs = property(lambda self: self.primary.scene_cut_pairs)
    per_pair_stylized = property(lambda self: self.primary.per_pair_stylized)
    per_pair_input = property(lambda self: self.primary.per_pair_input)
    e_warp_stylized = property(lambda self: self.primary.e_warp_stylized)
    e_warp_input = property(lambda self: self.primary.e_warp_input)
    flicker_ratio = property(lambda self: self.primary.flicker_ratio)

    def to_dict(self) -> dict:
        """JSON-ready: the headline variant's fields at the top (as
        ``FlickerReport.to_dict``) plus its ``segments``, the ``convention``,
        and every variant with its ratio, segments and per-pair values."""
        variants = {}
        for key, report in self.variants.items():
            mask = key.split("/")[0]
            fractions = [v for v in self.reliable_fraction[mask] if math.isfinite(v)]
            variants[key] = {
                **report.to_dict(),
                "segments": report.segments(),
                "mean_reliable_fraction": _finite_or_none(_mean(fractions)) if fractions else None,
            }
        return {
            **self.primary.to_dict(),
            "segments": self.primary.segments(),
            "mask": self.mask,
            "channels": self.channels,
            "method": self.method,
            "warp": self.warp,
            "decode": self.decode,
            "median_edge_agreement": self.median_edge_agreement,
            "convention": CONVENTION,
            "variants": variants,
        }


def cold_start_spans(report: FlickerReport, length: int = COLD_START_PAIRS) -> list[tuple[int, int]]:
    """The pairs just after a cold start, as ``(first, last)`` pair indices
    (inclusive): up to ``length`` pairs from the first one and from the one
    after each scene cut, ending before the next cut and at the last pair."""
    cuts = sorted(set(report.scene_cut_pairs))
    spans = []
    for first in [0] + [c + 1 for c in cuts]:
        following = [c for c in cuts if c >= first]
        last = min(first + length, following[0] if following else report.num_pairs) - 1
        if last >= first:
            spans.append((first, last))
    return spans
