"""The stages between decoding and encoding, for files.

    frames (output size) -> at the processing size -> [with_motion on a thread]
           -> stylize_frames (engine + warm starts [+ detail stage at the output size])
           -> finish_frames (colour preservation, output size, --compare)

``stylize_frames`` keeps only the few previous outputs the warm starter needs
(flat memory) and saves each finished frame in the work directory's store.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine, FrameResult
from vidstyle.frames import Frame, WarmStart
from vidstyle.media.images import preserve_colors, resize
from vidstyle.motion.estimate import Motion, with_motion
from vidstyle.motion.warmstart import WarmStarter, WarmStartPolicy
from vidstyle.pipeline.detail import DetailStage, wants_detail
from vidstyle.pipeline.events import Event, FrameDone, FrameStarted
from vidstyle.pipeline.workdir import FrameStore
from vidstyle.threads import prefetch

FLOW_PREFETCH_DEPTH = 2  # frames whose motion is computed ahead of the engine


@dataclasses.dataclass
class Detail:
    """The detail stage of a run (``pipeline/detail.py``) and what it needs.

    Attributes:
        stage: finishes each frame at the output size.
        content: the input frame of an index at the output size, uint8 ``(H, W, 3)``.
        store: where the processing-size results are kept for a resumed run
            (the main store then holds the output-size frames).
    """

    stage: DetailStage
    content: Callable[[int], np.ndarray]
    store: FrameStore | None = None


@dataclasses.dataclass(frozen=True)
class FirstStart:
    """How the first frame of a sequence starts when it is not a cold start:
    a Ray segment inside a shot starts from the shot's first painting carried
    to it (``distributed.anchor``).

    Attributes:
        warm: its warm start (start image and temporal target).
        max_iters: its iteration cap.
    """

    warm: WarmStart
    max_iters: int


def stylize_frames(
    pairs: Iterable[tuple[Frame, Motion | None]],
    engine: Engine,
    *,
    policy: WarmStartPolicy,
    on_event: Callable[[Event], None] | None = None,
    store: FrameStore | None = None,
    detail: Detail | None = None,
    first_start: FirstStart | None = None,
) -> Iterator[tuple[Frame, FrameResult]]:
    """Stylize a sequence of frames in order, each warm-started from its
    predecessors (Ruder et al. 2016).

    Args:
        pairs: ``(frame, motion)``; ``motion`` (from ``with_motion``) is None
            for the first frame or when flow is off.
        engine: stylizes one frame (see ``engines.base.Engine``).
        policy: how frames start from their predecessors.
        on_event: receives FrameStarted, IterationDone and FrameDone events.
        store: finished frames of an interrupted run (replayed, not
            recomputed) and where each new frame is saved as it finishes.
        detail: finish each frame at the output size (None: the frames stay
            at the processing size).
        first_start: how the first frame starts (None: cold, like any first frame).

    Yields ``(frame, result)`` where ``frame`` carries the stylized pixels at the
    processing size (the output size with ``detail``) and the source timestamp.
    """
    emit = on_event or (lambda event: None)
    starter = WarmStarter(policy)
    low_store = detail.store if detail is not None else None
    for position, (frame, motion) in enumerate(pairs):
        scene_cut = bool(motion is not None and motion.is_scene_cut)
        emit(FrameStarted(index=frame.index))
        if store is not None and frame.index < store.count:  # replayed: no warm start to build
            if scene_cut:
                starter.reset()
            warm, resumed, result = None, True, _replayed(store.read(frame.index))
            low_u8 = result.image_u8
            if detail is not None:
                if low_store is not None and frame.index < low_store.count:
                    low_u8 = low_store.read(frame.index)
                else:  # lost with a killed run: the finished frame, at the processing size, stands in
                    low_u8 = resize(result.image_u8, frame.size)
                    _keep(low_store, frame.index, low_u8)
                detail.stage.remember(result.image_u8, low_u8, detail.content(frame.index))
        else:
            warm, cap, resumed = starter.start(frame.image_u8, motion), None, False
            if position == 0 and first_start is not None:
                warm, cap = first_start.warm, first_start.max_iters
            result = engine.stylize(frame.image_u8, warm, max_iters=cap, on_iteration=emit)
            low_u8 = result.image_u8
            if detail is not None:
                _keep(low_store, frame.index, low_u8)
                result = detail.stage.finish(detail.content(frame.index), result, motion, on_iteration=emit)
            if store is not None:
                store.append(result.image_u8)
        starter.remember(low_u8)
        emit(
            FrameDone(
                index=frame.index,
                result=result,
                cold_start=warm is None and not resumed,
                scene_cut=scene_cut,
                resumed=resumed,
            )
        )
        yield frame.with_image(result.image_u8), result
    for kept in (store, low_store):
        if kept is not None:
            kept.flush()  # a failed save is raised here, before the output is closed


def _keep(store: FrameStore | None, index: int, image_u8: np.ndarray) -> None:
    """Save frame ``index`` in ``store`` whatever the store holds already (a
    killed run may have saved it, or not), keeping indices and frames aligned."""
    if store is None:
        return
    if index < store.count:
        store.replace(index, image_u8)
    else:
        store.append(image_u8)


def _replayed(image_u8: np.ndarray) -> FrameResult:
    """A frame finished by an earlier, interrupted run: no iterations spent."""
    return FrameResult(image_u8=image_u8, num_iters=0, converged=True, losses={}, seconds=0.0)


def stylize_pairs(
    frames: Iterable[Frame],
    engine: Engine,
    *,
    config: StyleConfig,
    on_event=None,
    store: FrameStore | None = None,
    size: tuple[int, int] | None = None,
    low_store: FrameStore | None = None,
    first_start: FirstStart | None = None,
) -> Iterator[tuple[Frame, Frame]]:
    """Input frames -> ``(input frame, stylized frame)``, computing optical
    flow on a background thread when the temporal method is on.

    ``frames`` come at the output size. With ``size`` (the processing size,
    (width, height)) smaller than that, each frame is stylized at ``size`` and
    finished at the output size by the detail stage when ``uses_detail``
    says so (its processing-size results kept in ``low_store``), else the
    pairs stay at ``size`` (``finish_frames`` resizes them). Without
    ``size`` frames are stylized as they come. ``first_start``: how the first frame
    starts (``stylize_frames``).
    """
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return
    out_size = first.size
    size = size or out_size
    detail = None
    full: dict[int, np.ndarray] = {}  # input frames at the output size, by index, until their turn
    if uses_detail(engine, size, out_size, config):
        detail = Detail(
            DetailStage(engine, out_size, iters=config.detail_iters, temporal=config.temporal, flow=config.flow),
            content=full.__getitem__,
            store=low_store,
        )

    def at_processing_size(stream: Iterable[Frame]) -> Iterator[Frame]:
        for frame in stream:
            if detail is not None:
                full[frame.index] = frame.image_u8
            yield frame.with_image(resize(frame.image_u8, size)) if frame.size != size else frame

    frames = at_processing_size(itertools.chain([first], frames))
    if config.temporal and engine.wants_warm_start:
        pairs = prefetch(
            with_motion(
                frames, method=config.flow, offsets=config.long_term, scene_cut_threshold=config.scene_cut_threshold
            ),
            depth=FLOW_PREFETCH_DEPTH,
        )
    else:
        pairs = ((frame, None) for frame in frames)
    originals: dict[int, Frame] = {}

    def remember(stream):
        for frame, motion in stream:
            originals[frame.index] = frame
            yield frame, motion

    policy = WarmStartPolicy.from_config(config)
    try:
        for stylized, _ in stylize_frames(
            remember(pairs),
            engine,
            policy=policy,
            on_event=on_event,
            store=store,
            detail=detail,
            first_start=first_start,
        ):
            original = originals.pop(stylized.index)
            if detail is not None:  # the input at the output size, for --preserve-colors
                original = original.with_image(full.pop(stylized.index))
            yield original, stylized
    finally:  # on any exit: an exception's traceback would keep the flow thread's generator alive
        close = getattr(pairs, "close", None)
        if close is not None:
            close()


def uses_detail(engine: Engine, size: tuple[int, int], out_size: tuple[int, int], config: StyleConfig) -> bool:
    """Frames processed at ``size`` are finished at ``out_size`` by the
    detail stage: an iterative engine (warm starts) and ``wants_detail``."""
    return engine.wants_warm_start and wants_detail(size, out_size, config.detail_iters)


def finish_frames(
    pairs: Iterable[tuple[Frame, Frame]],
    *,
    size: tuple[int, int],
    config: StyleConfig,
    compare: Iterator[Frame] | None = None,
) -> Iterator[Frame]:
    """Apply what happens after stylization: colour preservation, the resize
    to the output ``size`` = (width, height), and with ``compare`` (input
    frames at ``size``, same indices) the input put on the left: the frames
    become ``(height, 2 * width, 3)``."""
    for original, stylized in pairs:
        image = stylized.image_u8
        if config.preserve_colors:
            image = preserve_colors(image, original.image_u8)
        image = resize(image, size)
        if compare is not None:
            source = next(compare)
            assert source.index == stylized.index, (source.index, stylized.index)
            image = np.concatenate([source.image_u8, image], axis=1)
        yield stylized.with_image(image)
