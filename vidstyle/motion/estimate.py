"""Motion between a frame and the frames before it: flows, reliability masks,
long-term weights and the scene-cut decision (Ruder et al. 2016, sec. 3.2-3.3).

``MotionEstimator`` keeps the last few input frames it was shown and relates
each new one to them; files run it as a stage (``with_motion``) on a
background thread, live mode calls it for the frames it actually processes,
multi-pass relates a frame to its neighbour in a sweep (``between``). The
conventions (flow direction, shapes, mask values) are those of ``flow.py``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np

from vidstyle.frames import Frame
from vidstyle.motion.flow import (
    HISTOGRAM_CUT_CORRELATION,
    FlowEstimator,
    consistency_mask,
    histogram_correlation,
    long_term_weights,
    photometric_mask,
)


@dataclasses.dataclass(frozen=True)
class CutPolicy:
    """When a frame starts a new shot (and is cold-started).

    Attributes:
        min_reliable_fraction: a cut when less than this share of the frame is
            reliably explained by the flow from the previous frame; None never
            cuts on reliability (live mode: its frames are far apart, see
            ``vidstyle.live.LIVE_CUT_POLICY``).
        min_histogram_correlation: a cut when the hue-saturation histograms of
            the two frames correlate less than this (robust where the flow
            finds spurious matches in smooth areas).
    """

    min_reliable_fraction: float | None = 0.5
    min_histogram_correlation: float = HISTOGRAM_CUT_CORRELATION


@dataclasses.dataclass(frozen=True)
class Motion:
    """How frame t relates to the frames before it.

    Attributes:
        warps: ``(k, backward_flow, weight)`` for each previous frame t-k in the
            current shot, closest first (k = 1 first). ``backward_flow`` is
            float32 ``(H, W, 2)`` from t to t-k; ``weight`` float32 ``(H, W)``
            is the long-term weight ``c_long`` (for k = 1 simply the
            consistency mask). Empty at a scene cut.
        is_scene_cut: frame t starts a new shot: cold-start it.
        reliable_fraction: share of frame t's pixels whose flow to t-1 is
            reliable (mean of the k = 1 mask), in [0, 1]; 0 at a cut decided
            on colour alone (no flow measured).
    """

    warps: list[tuple[int, np.ndarray, np.ndarray]]
    is_scene_cut: bool
    reliable_fraction: float


class MotionEstimator:
    """Relates each new frame to the last ``max(offsets)`` frames it was shown.

    Args:
        method: flow method, see ``FlowEstimator``.
        offsets: previous frames t-k to relate frame t to (Ruder et al. use
            1, 2, 4); 1 is always included: the warm start and the cut test
            need it.
        cut: the scene-cut policy.
        photometric_threshold: when set, also mark unreliable the pixels where
            the warped input does not match (``photometric_mask``; a departure
            from Ruder et al., off by default). The cut test and
            ``reliable_fraction`` use the flow mask alone.
        workers: threads computing the flows of one frame in parallel
            (forward and backward, several offsets); 1 computes them inline.

    Not thread-safe: one caller at a time. ``close()`` ends the worker threads.
    """

    def __init__(
        self,
        *,
        method: str = "dis-medium",
        offsets: tuple[int, ...] = (1,),
        cut: CutPolicy = CutPolicy(),
        photometric_threshold: float | None = None,
        workers: int = 1,
    ):
        if any(int(k) != k or k < 1 for k in offsets):
            raise ValueError(f"offsets must be positive frame counts, got {offsets}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.offsets = tuple(sorted({1, *(int(k) for k in offsets)}))
        self.cut = cut
        self.photometric_threshold = photometric_threshold
        FlowEstimator(method)  # fail on a bad method before the first frame
        self._pool = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vidstyle-flow") if workers > 1 else None
        )
        self._flows = _FlowPairs(method, self._pool)
        self._history: deque[np.ndarray] = deque(maxlen=self.offsets[-1])  # _history[-k] is frame t-k

    def observe(self, image_u8: np.ndarray) -> Motion | None:
        """The motion of ``image_u8`` (uint8 ``(H, W, 3)``) relative to the
        frames observed before it, which it then joins; None for the first
        frame. At a scene cut the earlier frames are forgotten."""
        motion = self._relate(image_u8, list(self._history)[::-1]) if self._history else None
        if motion is not None and motion.is_scene_cut:
            self._history.clear()
        self._history.append(image_u8)
        return motion

    def between(self, current_u8: np.ndarray, earlier_u8: np.ndarray) -> Motion:
        """The motion of ``current_u8`` relative to ``earlier_u8`` alone (one
        warp with offset 1), without touching the history."""
        return self._relate(current_u8, [earlier_u8])

    def reset(self) -> None:
        """Forget the frames observed so far (the next one starts a shot)."""
        self._history.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _relate(self, current: np.ndarray, earlier: list[np.ndarray]) -> Motion:
        """Motion of ``current`` relative to ``earlier`` (closest first: t-1, t-2, ...)."""
        previous = earlier[0]
        cut = self.cut
        if histogram_correlation(previous, current) < cut.min_histogram_correlation:
            return Motion(warps=[], is_scene_cut=True, reliable_fraction=0.0)
        ((backward, forward),) = self._flows.compute(current, [previous])
        mask = consistency_mask(backward, forward)
        reliable = float(mask.mean())
        if cut.min_reliable_fraction is not None and reliable < cut.min_reliable_fraction:
            return Motion(warps=[], is_scene_cut=True, reliable_fraction=reliable)
        farther = [k for k in self.offsets[1:] if k <= len(earlier)]
        pairs = self._flows.compute(current, [earlier[k - 1] for k in farther])
        backwards = [backward] + [b for b, _ in pairs]
        masks = [mask] + [consistency_mask(b, f) for b, f in pairs]
        if self.photometric_threshold is not None:
            references = [previous] + [earlier[k - 1] for k in farther]
            masks = [
                m * photometric_mask(current, e, b, threshold=self.photometric_threshold)
                for m, e, b in zip(masks, references, backwards)
            ]
        weights = long_term_weights(masks)
        return Motion(
            warps=list(zip([1, *farther], backwards, weights)), is_scene_cut=False, reliable_fraction=reliable
        )


def with_motion(
    frames: Iterable[Frame],
    *,
    method: str = "dis-medium",
    offsets: tuple[int, ...] = (1,),
    scene_cut_threshold: float = 0.5,
    photometric_threshold: float | None = None,
    workers: int = 1,
) -> Iterator[tuple[Frame, Motion | None]]:
    """Pair each input frame with its motion relative to earlier frames (a stage).

    For frame t and each offset k it measures the backward and forward flow
    between input frames t and t-k, their consistency mask and the long-term
    weights (``MotionEstimator``). At a scene cut (``CutPolicy`` with
    ``scene_cut_threshold``) the Motion has no warps and the history restarts,
    so frames before the cut are never used as references.

    Holds only the last ``max(offsets)`` frames. Run it under
    ``threads.prefetch`` so the flow overlaps with stylization.

    Yields:
        ``(frame, motion)``; motion is None for the first frame.
    """
    estimator = MotionEstimator(
        method=method,
        offsets=offsets,
        cut=CutPolicy(min_reliable_fraction=scene_cut_threshold),
        photometric_threshold=photometric_threshold,
        workers=workers,
    )
    try:
        for frame in frames:
            yield frame, estimator.observe(frame.image_u8)
    finally:
        estimator.close()


class _FlowPairs:
    """Backward and forward flows between a frame and earlier frames, inline or
    on a thread pool (one FlowEstimator per thread: DIS objects keep state)."""

    def __init__(self, method: str, pool: Executor | None):
        self._method = method
        self._pool = pool
        self._local = threading.local()

    def _estimate(self, src_u8: np.ndarray, dst_u8: np.ndarray) -> np.ndarray:
        estimator = getattr(self._local, "estimator", None)
        if estimator is None:
            estimator = self._local.estimator = FlowEstimator(self._method)
        return estimator.estimate(src_u8, dst_u8)

    def compute(self, current_u8: np.ndarray, earlier_u8: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(backward, forward)]``: flows current -> earlier and earlier -> current."""
        jobs = [(src, dst) for earlier in earlier_u8 for src, dst in ((current_u8, earlier), (earlier, current_u8))]
        if self._pool is None:
            results = [self._estimate(src, dst) for src, dst in jobs]
        else:
            results = [f.result() for f in [self._pool.submit(self._estimate, src, dst) for src, dst in jobs]]
        return list(zip(results[0::2], results[1::2]))
