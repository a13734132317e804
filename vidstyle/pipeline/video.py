"""The chain: decode -> flow -> stylize -> encode, for files.

    read_frames(src) [-> FrameRateConverter.select] -> with_motion(...) -> stylize_frames(...)
        -> finish_frames [-> FrameRateConverter.expand] -> VideoWriter | ImageSequenceWriter

Every stage is an iterator; only the last few frames are ever held, so memory
stays flat however long the clip. Decoding and flow run in background threads
(OpenCV and PyAV release the GIL) so they overlap with the optimizer.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from vidstyle import __version__
from vidstyle.config import ExportConfig, StyleConfig, make_configs
from vidstyle.errors import CorruptInputError, InputError, OutputError
from vidstyle.motion.flow import with_motion
from vidstyle.media.framerate import FrameRateConverter, rate_time_base
from vidstyle.frames import Frame, fit_size
from vidstyle.media.images import check_image_destination, load_image, preserve_colors, resize, save_image
from vidstyle.features import select_device
from vidstyle.media.io import VideoInfo, VideoWriter, probe, read_frames
from vidstyle.engines.memory import choose_processing_size
from vidstyle.pipeline.multipass import refine_passes
from vidstyle.media.sequence import ImageSequenceWriter, is_sequence_pattern
from vidstyle.engines.optimize import Stylizer
from vidstyle.pipeline.stages import Event, FrameDone, stylize_frames
from vidstyle.threads import prefetch
from vidstyle.pipeline.workdir import FrameStore, file_identity, work_dir_for


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
        written = f"partial output: {partial_output}" if partial_output else "no frame written yet"
        super().__init__(f"{written}; rerun the same command to resume from {work_dir}")
        self.partial_output = partial_output
        self.work_dir = work_dir


@dataclasses.dataclass(frozen=True)
class Notice:
    """Something the user should know that is not an error (the source's
    audio left out of a GIF or an image sequence, a processing size reduced
    to fit in memory). Reported before the first frame."""

    message: str


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What a finished run did. Times in seconds."""

    output: str
    frames: int  # stylized frames (after --fps dropped what is never shown)
    resumed_frames: int  # taken from an interrupted run's work directory
    computed_frames: int  # stylized by this run (frames - resumed_frames)
    frames_written: int  # output frames (--fps repeats or drops)
    seconds: float
    seconds_per_frame: float
    first_frame_seconds: float
    steady_seconds_per_frame: float | None  # median over warm-started frames; None without any
    mean_iters: float
    processing_size: tuple[int, int]
    device: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


MIN_PROCESSING_SIDE = 16  # VGG19 pools four times before relu5_1
MAX_PROCESSING_PIXELS = 4096 * 4096  # the optimizer's memory grows with the pixel count


def default_output_path(src, *, ext: str = ".mp4") -> str:
    """``clip.mp4`` -> ``clip.stylized.mp4`` beside the input."""
    stem, _ = os.path.splitext(os.fspath(src))
    return f"{stem}.stylized{ext}"


def processing_size(info: VideoInfo, config: StyleConfig) -> tuple[int, int]:
    """(width, height) the optimizer works at: ``size`` if given, else the
    source scaled so its longer side is at most ``max_side`` (even numbers).

    InputError when that is below 16 px on a side or above 4096x4096 pixels."""
    size = config.size if config.size is not None else fit_size(info.width, info.height, max_side=config.max_side)
    check_processing_size(size, source=(info.width, info.height))
    return size


def check_processing_size(size: tuple[int, int], *, source: tuple[int, int]) -> None:
    """InputError, naming the sizes involved, for a processing size VGG19 cannot
    take (too small) or that would not fit in memory (absurdly large)."""
    w, h = size
    if min(w, h) < MIN_PROCESSING_SIDE:
        raise InputError(f"processing size {w}x{h} is too small (the source is {source[0]}x{source[1]}); "
                         f"VGG19 needs at least {MIN_PROCESSING_SIDE} px on each side: pass --size WxH to enlarge it")
    if w * h > MAX_PROCESSING_PIXELS:
        raise InputError(f"processing size {w}x{h} ({w * h / 1e6:.0f} Mpx) is too large: at most "
                         f"{MAX_PROCESSING_PIXELS / 1e6:.1f} Mpx (e.g. 4096x4096), the optimizer's memory grows "
                         f"with the pixel count; use a smaller --size or --max-side (--keep-size scales the result up)")


def frames_to_stylize(info: VideoInfo, export: ExportConfig) -> int | None:
    """Estimated count of the frames a run stylizes: the source's frames in
    the trimmed range, fewer when --fps drops some; None when unknown."""
    if info.num_frames is None:
        return None
    if export.start_s is None and export.end_s is None and export.fps is None:
        return info.num_frames
    if not (info.duration_s and info.fps):
        return None
    start = min(export.start_s or 0.0, info.duration_s)
    end = min(export.end_s if export.end_s is not None else info.duration_s, info.duration_s)
    rate = min(info.fps, export.fps) if export.fps else info.fps
    return max(1, round((end - start) * float(rate)))


def load_styles(style) -> list[np.ndarray]:
    """One path or a sequence of paths -> list of uint8 RGB style images."""
    paths = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    if not paths:
        raise InputError("at least one style image is required (--style)")
    return [load_image(path) for path in paths]


def open_writer(dst: str, *, width: int, height: int, info: VideoInfo, time_base, fps, export: ExportConfig,
                input_paths: Sequence[str]) -> VideoWriter | ImageSequenceWriter:
    """The writer the output name asks for: an image sequence for a numbered
    pattern (``out/%05d.png``), else a video file whose extension picks the
    container; the source's audio goes along where the format takes it."""
    if is_sequence_pattern(dst):
        if export.codec or export.crf is not None or export.bitrate:
            raise OutputError("--codec, --crf and --bitrate apply to video files, not to image sequences")
        return ImageSequenceWriter(dst, width=width, height=height, overwrite=export.overwrite,
                                   input_paths=input_paths)
    return VideoWriter(
        dst, width=width, height=height, time_base=time_base, fps=fps,
        audio_from=info.path if info.has_audio else None, audio_start_s=export.start_s, audio_end_s=export.end_s,
        codec=export.codec, crf=export.crf, bitrate=export.bitrate, overwrite=export.overwrite,
        input_paths=input_paths,
    )


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
        dst: output path; its extension picks the container (.mp4, .m4v,
            .mkv, .mov, .webm, .gif), a numbered pattern such as
            ``out/%05d.png`` writes an image sequence.
        style: a style image path, or several.
        on_event: progress callback (WorkResumed, Notice, FrameStarted,
            IterationDone, FrameDone).
        on_start: called once with the probed source and the processing
            size; its ``num_frames`` is the estimated number of frames to
            stylize (the range of -ss/-t/-to, after --fps), for progress bars.
        **options: any field of ``StyleConfig`` or ``ExportConfig``.

    Returns a RunSummary. Raises VidstyleError subclasses on bad input or
    failures; the output appears only when complete. The work directory
    ``dst + ".vidstyle-work"`` keeps every finished frame until the run
    succeeds: an interrupted run (InterruptedRun, with a ``NAME.partial.EXT``
    output), a full disk or an encoder failure can be resumed by calling
    again with the same arguments.
    """
    config, export = make_configs(**options)
    src = os.fspath(src)
    dst = os.fspath(dst) if dst is not None else default_output_path(src)
    info = probe(src)
    styles = load_styles(style)
    style_paths = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    rate = export.fps
    done: list[FrameDone] = []

    def record(event: Event) -> None:
        if isinstance(event, FrameDone):
            done.append(event)
        if on_event is not None:
            on_event(event)

    size, size_note = choose_processing_size(processing_size(info, config), select_device(config.device), config=config)
    if size_note is not None:
        record(Notice(size_note))
    out_size = (info.width, info.height) if config.keep_size else size

    def decode(at_size):
        """The frames to stylize, decoded at ``at_size``, and the stage that
        turns them into output frames (frame-rate conversion or nothing)."""
        frames = read_frames(src, size=at_size, start_s=export.start_s, end_s=export.end_s)
        if rate is None:
            return frames, (lambda finished: finished)
        converter = FrameRateConverter(rate, source_fps=info.fps)
        return converter.select(frames), converter.expand

    writer = open_writer(
        dst, width=out_size[0] * (2 if export.compare else 1), height=out_size[1], info=info,
        time_base=rate_time_base(rate) if rate else info.time_base, fps=rate or info.fps, export=export,
        input_paths=[src, *map(os.fspath, style_paths)],
    )
    try:  # the destination is checked before the network loads
        stylizer = Stylizer(styles, config=config)
        store = FrameStore(work_dir_for(dst), fingerprint=run_fingerprint(src, style, config, export, size),
                           shape=(size[1], size[0], 3), resume=export.resume)
    except BaseException:
        writer.abort()
        raise
    if on_start is not None:
        on_start(dataclasses.replace(info, num_frames=frames_to_stylize(info, export)), size)
    started = time.perf_counter()
    record(WorkResumed(frames=store.resumed, path=store.path, restart_reason=store.restart_reason))
    if info.has_audio and not writer.takes_audio:
        kind = "an image sequence" if isinstance(writer, ImageSequenceWriter) else f"a {os.path.splitext(dst)[1]} file"
        record(Notice(f"{kind} has no sound: the audio of {src} is left out"))
    try:
        frames, retime = decode(size)
        stylized = stylize_pairs(prefetch(frames, depth=4), stylizer, on_event=record, store=store)
        if config.passes > 1:
            inputs = FrameStore(store.path, fingerprint=store.meta["fingerprint"], shape=store.shape, name="inputs")
            for original, _ in stylized:
                if original.index >= inputs.count:
                    inputs.append(original.image_u8)
            refine_passes(store, inputs, stylizer, passes=config.passes, on_event=record)
            frames, retime = decode(size)  # again, for the timestamps
            stylized = ((original, original.with_image(store.read(original.index))) for original in frames)
        compare = decode(out_size)[0] if export.compare else None
        for frame in retime(finish_frames(stylized, size=out_size, config=config, compare=compare)):
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
    except OutputError as err:  # disk full, encoder failure: the finished frames stay for a rerun
        writer.abort()
        kept = (f"the {store.count} finished frames are kept in {store.path}; rerun the same command to continue"
                if store.count else "no frame was finished")
        raise OutputError(f"{err}; {kept}", exit_code=err.exit_code) from err
    except BaseException:
        writer.abort()
        raise
    if not export.keep_work:
        store.remove()
    return summarize(done, output=dst, seconds=time.perf_counter() - started, size=size, device=str(stylizer.device),
                     frames_written=writer.frames_written)


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
        "fps": str(export.fps) if export.fps else None,
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


def finish_frames(
    pairs: Iterable[tuple[Frame, Frame]], *, size: tuple[int, int], config: StyleConfig,
    compare: Iterator[Frame] | None = None,
) -> Iterator[Frame]:
    """Apply what happens after optimization: colour preservation, the resize
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


def summarize(done: Sequence[FrameDone], *, output: str, seconds: float, size, device: str,
              frames_written: int) -> RunSummary:
    """Timing over the frames this run computed (replayed frames cost nothing)."""
    computed = [e for e in done if not e.resumed] or list(done)
    steady = sorted(e.result.seconds for e in computed if not e.cold_start)
    frames = len({e.index for e in done})  # multi-pass reports a frame once per pass
    computed_frames = len({e.index for e in done if not e.resumed})
    return RunSummary(
        output=output,
        frames=frames,
        resumed_frames=frames - computed_frames,
        computed_frames=computed_frames,
        frames_written=frames_written,
        seconds=round(seconds, 3),
        seconds_per_frame=round(seconds / max(1, computed_frames), 3),
        first_frame_seconds=round(computed[0].result.seconds, 3),
        steady_seconds_per_frame=round(steady[len(steady) // 2], 3) if steady else None,
        mean_iters=round(sum(e.result.num_iters for e in computed) / len(computed), 2),
        processing_size=tuple(size),
        device=device,
    )


def stylize_image(src, dst=None, *, style, **options) -> np.ndarray:
    """Stylize one still image (a path); writes ``dst`` when given and returns
    the uint8 ``(H, W, 3)`` RGB result at the processing size (the source
    size with ``keep_size``).

    ``dst`` is refused (OutputError) when it exists without ``overwrite=True``
    or is the content or a style image; it is written atomically."""
    config, export = make_configs(**options)
    content = load_image(src)
    h, w = content.shape[:2]
    size = config.size or fit_size(w, h, max_side=config.max_side, even=False)
    check_processing_size(size, source=(w, h))
    size, size_note = choose_processing_size(size, select_device(config.device), config=config)
    if size_note is not None:
        print(f"note: {size_note}", file=sys.stderr)
    style_paths = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    if dst is not None:
        check_image_destination(dst, overwrite=export.overwrite, input_paths=[src, *style_paths])
    stylizer = Stylizer(load_styles(style), config=config)
    content = resize(content, size)
    result = stylizer.stylize(content, max_iters=config.iters_first).image_u8
    if config.preserve_colors:
        result = preserve_colors(result, content)
    if config.keep_size:
        result = resize(result, (w, h))
    if dst is not None:
        save_image(dst, result)
    return result
