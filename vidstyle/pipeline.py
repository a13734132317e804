"""The chain: decode -> flow -> stylize -> encode, for files.

    read_frames(src) -> with_motion(...) -> stylize_frames(...) -> VideoWriter

Every stage is an iterator; only the last few frames are ever held, so memory
stays flat however long the clip. Decoding and flow run in background threads
(OpenCV and PyAV release the GIL) so they overlap with the optimizer.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from . import __version__
from .config import ExportConfig, StyleConfig, make_configs
from .errors import CorruptInputError, InputError
from .flow import with_motion
from .frames import Frame, fit_size
from .multipass import refine_passes
from .images import load_image, preserve_colors, resize, save_image
from .io import VideoInfo, VideoWriter, probe, read_frames
from .stylizer import Stylizer
from .temporal import Event, FrameDone, stylize_frames
from .threads import prefetch
from .workdir import FrameStore, file_identity, work_dir_for


@dataclasses.dataclass(frozen=True)
class WorkResumed:
    """Reported once before the first frame: ``frames`` finished frames were
    found in the work directory ``path`` and will not be recomputed;
    ``restart_reason`` says why an earlier run's frames were discarded."""

    frames: int
    path: str
    restart_reason: str | None


class InterruptedRun(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: the finished frames are kept."""

    def __init__(self, *, partial_output: str | None, work_dir: str):
        super().__init__(f"partial output: {partial_output}; rerun the same command to resume from {work_dir}")
        self.partial_output = partial_output
        self.work_dir = work_dir


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What a finished run did. Times in seconds."""

    output: str
    frames: int
    resumed_frames: int  # taken from an interrupted run's work directory
    seconds: float
    seconds_per_frame: float
    first_frame_seconds: float
    steady_seconds_per_frame: float  # median over warm-started frames
    mean_iters: float
    processing_size: tuple[int, int]
    device: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def default_output_path(src) -> str:
    """``clip.mp4`` -> ``clip.stylized.mp4`` beside the input."""
    stem, _ = os.path.splitext(os.fspath(src))
    return f"{stem}.stylized.mp4"


def processing_size(info: VideoInfo, config: StyleConfig) -> tuple[int, int]:
    """(width, height) the optimizer works at: ``size`` if given, else the
    source scaled so its longer side is at most ``max_side`` (even numbers)."""
    if config.size is not None:
        return config.size
    return fit_size(info.width, info.height, max_side=config.max_side)


def load_styles(style) -> list[np.ndarray]:
    """One path or a sequence of paths -> list of uint8 RGB style images."""
    paths = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    if not paths:
        raise InputError("at least one style image is required (--style)")
    return [load_image(path) for path in paths]


def stylize_video(
    src,
    dst=None,
    *,
    style,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[VideoInfo, tuple[int, int]], None] | None = None,
    **options,
) -> RunSummary:
    """Stylize the video ``src`` into ``dst`` (default ``src.stylized.mp4``).

    Args:
        src: a video file FFmpeg can read.
        dst: output path; its extension picks the container.
        style: a style image path, or several.
        on_event: progress callback (FrameStarted, IterationDone, FrameDone).
        on_start: called once with the probed source and the processing size.
        **options: any field of ``StyleConfig`` or ``ExportConfig``.

    Returns a RunSummary. Raises VidstyleError subclasses on bad input or
    failures; the output appears only when complete.
    """
    config, export = make_configs(**options)
    src = os.fspath(src)
    dst = os.fspath(dst) if dst is not None else default_output_path(src)
    info = probe(src)
    styles = load_styles(style)
    size = processing_size(info, config)
    out_size = (info.width - info.width % 2, info.height - info.height % 2) if config.keep_size else size
    stylizer = Stylizer(styles, config=config)
    if on_start is not None:
        on_start(info, size)
    started = time.perf_counter()
    done: list[FrameDone] = []

    def record(event: Event) -> None:
        if isinstance(event, FrameDone):
            done.append(event)
        if on_event is not None:
            on_event(event)

    writer = VideoWriter(
        dst,
        width=out_size[0],
        height=out_size[1],
        time_base=info.time_base,
        fps=info.fps,
        audio_from=src if info.has_audio else None,
        audio_start_s=export.start_s,
        audio_end_s=export.end_s,
        codec=export.codec,
        crf=export.crf,
        bitrate=export.bitrate,
        overwrite=export.overwrite,
        input_paths=[src, *([style] if isinstance(style, (str, os.PathLike)) else style)],
    )
    store = FrameStore(
        work_dir_for(dst),
        fingerprint=run_fingerprint(src, style, config, export, size),
        shape=(size[1], size[0], 3),
        resume=export.resume,
    )
    record(WorkResumed(frames=store.resumed, path=store.path, restart_reason=store.restart_reason))
    try:
        frames = prefetch(read_frames(src, size=size, start_s=export.start_s, end_s=export.end_s), depth=4)
        stylized = stylize_pairs(frames, stylizer, on_event=record, store=store)
        if config.passes == 1:
            for frame in finish_frames(stylized, size=out_size, config=config):
                writer.write(frame)
        else:
            inputs = FrameStore(store.path, fingerprint=store.meta["fingerprint"], shape=store.shape, name="inputs")
            for original, _ in stylized:
                if original.index >= inputs.count:
                    inputs.append(original.image_u8)
            refine_passes(store, inputs, stylizer, passes=config.passes, on_event=record)
            timestamps = read_frames(src, size=size, start_s=export.start_s, end_s=export.end_s)
            replayed = ((original, original.with_image(store.read(original.index))) for original in timestamps)
            for frame in finish_frames(replayed, size=out_size, config=config):
                writer.write(frame)
        if not done:
            raise InputError(f"{src}: no video frames to stylize in the requested range")
        writer.close()
    except (KeyboardInterrupt, CorruptInputError) as err:
        # Keep what is finished: a playable, clearly named partial output, and
        # the work directory so that the same command resumes.
        partial = writer.close_partial() if writer.frames_written else None
        if isinstance(err, CorruptInputError):
            where = f"; the {err.frame_index} frames before it are in {partial}" if partial else ""
            raise CorruptInputError(f"{err}{where}", frame_index=err.frame_index) from err
        raise InterruptedRun(partial_output=partial, work_dir=store.path) from err
    except BaseException:
        writer.abort()
        raise
    if not export.keep_work:
        store.remove()
    return summarize(done, output=dst, seconds=time.perf_counter() - started, size=size, device=str(stylizer.device))


def run_fingerprint(src, style, config: StyleConfig, export: ExportConfig, size) -> dict:
    """Everything that decides the stylized pixels; a resumed run must match it."""
    styles = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    decisive = dataclasses.asdict(config)
    for name in ("num_threads", "keep_size", "preserve_colors"):  # do not change stored frames
        decisive.pop(name)
    return {
        "version": __version__,
        "config": decisive,
        "size": list(size),
        "start_s": export.start_s,
        "end_s": export.end_s,
        "input": file_identity(src),
        "styles": [file_identity(path) for path in styles],
    }


def stylize_pairs(
    frames: Iterable[Frame], stylizer: Stylizer, *, on_event=None, store: FrameStore | None = None
) -> Iterator[tuple[Frame, Frame]]:
    """Input frames -> ``(input frame, stylized frame)`` at the processing size,
    computing optical flow on a background thread when the temporal method is on."""
    cfg = stylizer.config
    if cfg.temporal:
        pairs = prefetch(
            with_motion(frames, method=cfg.flow, offsets=cfg.long_term, scene_cut_threshold=cfg.scene_cut_threshold),
            depth=2,
        )
    else:
        pairs = ((frame, None) for frame in frames)
    originals: dict[int, Frame] = {}

    def remember(stream):
        for frame, motion in stream:
            originals[frame.index] = frame
            yield frame, motion

    for stylized, _ in stylize_frames(remember(pairs), stylizer, on_event=on_event, store=store):
        yield originals.pop(stylized.index), stylized


def finish_frames(pairs: Iterable[tuple[Frame, Frame]], *, size: tuple[int, int], config: StyleConfig) -> Iterator[Frame]:
    """Apply what happens after optimization: colour preservation and the
    resize to the output size."""
    for original, stylized in pairs:
        image = stylized.image_u8
        if config.preserve_colors:
            image = preserve_colors(image, original.image_u8)
        yield stylized.with_image(resize(image, size))


def summarize(done: Sequence[FrameDone], *, output: str, seconds: float, size, device: str) -> RunSummary:
    """Timing over the frames this run computed (replayed frames cost nothing)."""
    computed = [e for e in done if not e.resumed] or list(done)
    steady = sorted(e.result.seconds for e in computed if not e.cold_start)
    frames = len({e.index for e in done})  # multi-pass reports a frame once per pass
    computed_frames = len({e.index for e in computed})
    return RunSummary(
        output=output,
        frames=frames,
        resumed_frames=frames - len({e.index for e in done if not e.resumed}),
        seconds=round(seconds, 3),
        seconds_per_frame=round(seconds / computed_frames, 3),
        first_frame_seconds=round(computed[0].result.seconds, 3),
        steady_seconds_per_frame=round(steady[len(steady) // 2], 3) if steady else float("nan"),
        mean_iters=round(sum(e.result.num_iters for e in computed) / len(computed), 2),
        processing_size=tuple(size),
        device=device,
    )


def stylize_image(src, dst=None, *, style, **options) -> np.ndarray:
    """Stylize one still image (a path); writes ``dst`` when given and returns
    the uint8 ``(H, W, 3)`` RGB result at the processing size."""
    config, _ = make_configs(**options)
    content = load_image(src)
    h, w = content.shape[:2]
    size = config.size or fit_size(w, h, max_side=config.max_side, even=False)
    stylizer = Stylizer(load_styles(style), config=config)
    content = resize(content, size)
    result = stylizer.stylize(content, max_iters=config.iters_first).image_u8
    if config.preserve_colors:
        result = preserve_colors(result, content)
    if dst is not None:
        save_image(dst, result)
    return result
