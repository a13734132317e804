"""The chain for files: decode -> motion -> engine -> encode, with resume.

    read_frames(src) [-> FrameRateConverter.select] -> with_motion(...) -> stylize_frames(...)
        -> finish_frames [-> FrameRateConverter.expand] -> FrameWriter (video file or image sequence)

Every stage is an iterator; only the last few frames are ever held, so memory
stays flat however long the clip. Decoding and flow run in background threads
(OpenCV and PyAV release the GIL) so they overlap with the engine.

Why this module is long: ``stylize_video`` owns a run from set-up to its
end, and each way a run can end (done, Ctrl-C, corrupt input, a full disk,
a failure before the first frame) keeps or removes the output, the work
folder and the threads differently; those paths and their small helpers
(``check_range``, ``close_feeds``, ``discard_if_empty``) are read together.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

import torch

from vidstyle import __version__
from vidstyle.config import ExportConfig, StyleConfig, make_configs
from vidstyle.engines import make_engine, memory_estimate, tiled_memory_estimate
from vidstyle.engines.precision import precision_note
from vidstyle.errors import CorruptInputError, InputError, OutOfMemoryError, OutputError
from vidstyle.features import select_device
from vidstyle.media import (
    FrameRateConverter,
    VideoInfo,
    check_output_rate,
    check_start,
    is_sequence_pattern,
    open_writer,
    output_notes,
    output_sample_aspect_ratio,
    probe,
    rate_time_base,
    read_frames,
)
from vidstyle.media.background import BackgroundWriter
from vidstyle.media.input_sequence import DEFAULT_SEQUENCE_FPS, find_input_sequence, input_files, sequence_stem
from vidstyle.pipeline.detail import wants_detail
from vidstyle.pipeline.events import Event, FrameDone, Notice, WorkResumed
from vidstyle.pipeline.multipass import refine_passes
from vidstyle.pipeline.stages import finish_frames, stylize_pairs, uses_detail
from vidstyle.pipeline.styles import load_styles, look_notes, sizes_note, style_identity, style_paths_of, style_sources
from vidstyle.pipeline.summary import RunStats, RunSummary
from vidstyle.pipeline.workdir import FrameStore, input_identity, work_dir_for
from vidstyle.pipeline.worklock import WorkLock
from vidstyle.sizing import choose_size, fit_output_size, output_size
from vidstyle.threads import prefetch

DECODE_PREFETCH_DEPTH = 4  # frames decoded ahead of the motion stage


class InterruptedRun(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: the finished frames are kept."""

    def __init__(self, *, partial_output: str | None, work_dir: str):
        # the partial file holds the frames finished in order from the first; with
        # --ray later segments may be finished too: the work folder keeps them all
        written = f"partial output: {partial_output}" if partial_output else "no frame in the output yet"
        if os.path.isdir(work_dir):
            kept = f"every finished frame is kept in {work_dir}: rerun the same command to resume"
        else:  # interrupted before a frame was finished: nothing to resume
            kept = "no frame was finished"
        super().__init__(f"{written}; {kept}")
        self.partial_output = partial_output
        self.work_dir = work_dir


def default_output_path(src, *, ext: str = ".mp4") -> str:
    """``clip.mp4`` -> ``clip.stylized.mp4`` beside the input; an image sequence
    ``renders/shot_%04d.png`` -> ``renders/shot.stylized.mp4``, ``frames/%04d.png``
    -> ``frames.stylized.mp4`` (``input_sequence.sequence_stem``)."""
    src = os.fspath(src)
    if is_sequence_pattern(src) and not os.path.isfile(src):
        return f"{sequence_stem(src)}.stylized{ext}"
    stem, _ = os.path.splitext(src)
    return f"{stem}.stylized{ext}"


def resolve_input(src: str, export: ExportConfig, *, dst: str | None = None) -> tuple[str, list[str]]:
    """The input to read and the notes to show about it: a video file as it
    is; for an image sequence its pattern (a folder given as the input becomes
    the one sequence it holds), frames of another size than the first
    (``InputSequence.size_note``) and the rate it is read at (not when that
    rate changes nothing: an image sequence ``dst`` without -ss/-t/--fps).

    Raises InputError for a bad image sequence (``find_input_sequence``), an
    image sequence with ``ray`` (its workers are shipped one input file) and
    ``input_fps`` with a video, which has timing of its own."""
    sequence = find_input_sequence(src)
    if sequence is not None and export.ray is not None:
        raise InputError(
            f"--ray reads a video file, not an image sequence ({src}): run it without --ray, or encode the "
            "frames into one video first (ffmpeg -framerate R -i PATTERN -c:v ffv1 frames.mkv)"
        )
    if sequence is None:
        if export.input_fps is not None:
            raise InputError(
                f"--input-fps sets the frame rate of an image sequence input; {src} is a video with timing "
                "of its own (--fps resamples the output)"
            )
        return src, []
    notes = [f"{src} holds one image sequence: reading {sequence.describe()}"] if sequence.from_folder else []
    sizes = sequence.size_note()  # frames of another size than the first are resized: say so once
    if sizes is not None:
        notes.append(sizes)
    timed = dst is None or not is_sequence_pattern(dst) or (export.start_s, export.end_s, export.fps) != (None,) * 3
    if export.input_fps is None and timed:
        notes.append(
            f"an image sequence has no timing: {sequence.pattern} is read at {DEFAULT_SEQUENCE_FPS} frames "
            "per second (--input-fps R sets its rate)"
        )
    return sequence.pattern, notes


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


def decode_frames(src, info: VideoInfo, export: ExportConfig, size: tuple[int, int]):
    """The frames to stylize, decoded at ``size``, and the stage that turns
    them into output frames (frame-rate conversion or nothing)."""
    frames = read_frames(src, size=size, start_s=export.start_s, end_s=export.end_s, rate=export.input_fps)
    if export.fps is None:
        return frames, (lambda finished: finished)
    converter = FrameRateConverter(export.fps, source_fps=info.fps)
    return converter.select(frames), converter.expand


def open_output(src: str, dst: str, *, info: VideoInfo, export: ExportConfig, out_size: tuple[int, int], style_paths):
    """The writer of a file run: the source's timing (or --fps), its audio
    over the trimmed range, its pixels' shape, the encoder options; checks the
    destination and the rate (``media.check_output_rate``: a GIF's)."""
    rate = export.fps
    check_output_rate(dst, rate)
    writer = open_writer(
        dst,
        width=out_size[0] * (2 if export.compare else 1),
        height=out_size[1],
        time_base=rate_time_base(rate) if rate else info.time_base,
        fps=rate or info.fps,
        audio_from=info.path if info.has_audio else None,
        audio_start_s=export.start_s,
        audio_end_s=export.end_s,
        codec=export.codec,
        crf=export.crf,
        bitrate=export.bitrate,
        overwrite=export.overwrite,
        input_paths=[*input_files(src), *(os.fspath(path) for path in style_paths)],
        sample_aspect_ratio=output_sample_aspect_ratio(info.sample_aspect_ratio, (info.width, info.height), out_size),
    )
    return BackgroundWriter(writer)  # the engine never waits for the encoder


def stylize_video(
    src,
    dst=None,
    *,
    style=None,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[VideoInfo, tuple[int, int]], None] | None = None,
    **options,
) -> RunSummary:
    """Stylize the video ``src`` into ``dst`` (default ``src.stylized.mp4``).

    Args:
        src: a video file FFmpeg can read, or a numbered image sequence
            (``frames/%04d.png``, or a folder holding one), read at
            ``input_fps`` frames per second (default 25).
        dst: output path; its extension picks the container (.mp4, .m4v,
            .mkv, .mov, .webm, .gif), a numbered pattern such as
            ``out/%05d.png`` writes an image sequence.
        style: a style image path, or several (optional with ``model=``, a
            look file of ``vidstyle train``, which paints its own style); a
            style may also be a uint8 ``(H, W, 3)`` RGB array or a PIL image,
            recorded in the work directory as ``<array WxH>`` and a hash.
        on_event: progress callback (WorkResumed, Notice, FrameStarted,
            IterationDone, FrameDone; and the ``net`` engine's training
            events, ``training.TrainingStarted``/``StepDone``/..., when it
            trains on ``src`` before the first frame).
        on_start: called once with the probed source and the processing
            size; its ``num_frames`` is the estimated number of frames to
            stylize (the range of -ss/-t/-to, after --fps), for progress bars.
        **options: any field of ``StyleConfig`` or ``ExportConfig``.

    Returns a RunSummary. Raises VidstyleError subclasses on bad input or
    failures; the output appears only when complete. The work directory
    (``pipeline.workdir.work_dir_for(dst)``, outside the output folder) keeps
    every finished frame until the run succeeds: an interrupted run
    (InterruptedRun, with a ``NAME.partial.EXT`` output), a full disk or an
    encoder failure can be resumed by calling again with the same arguments.
    One run at a time writes ``dst``: another run onto it meanwhile (a second
    process, or a second call) is refused with an OutputError before it
    writes anything (``pipeline.worklock.WorkLock``).
    This is the single-machine run; ``vidstyle.stylize_video`` also takes ``ray=``.
    """
    config, export = make_configs(**options)
    if export.ray is not None:
        raise InputError(
            "ray= runs on a cluster: call vidstyle.stylize_video (vidstyle.api), which dispatches "
            "to vidstyle.distributed; this function is the single-machine run"
        )
    src, input_notes = resolve_input(os.fspath(src), export, dst=None if dst is None else os.fspath(dst))
    dst = os.fspath(dst) if dst is not None else default_output_path(src)
    info = probe(src, rate=export.input_fps)
    check_range(src, info, export)
    styles = load_styles(style, config.model)
    style_paths = style_paths_of(style, config.model)
    stats = RunStats()

    def record(event: Event) -> None:
        if isinstance(event, FrameDone):
            stats.add(event)
        if on_event is not None:
            on_event(event)

    config, notes = look_notes(style, config)
    for note in [*input_notes, *notes]:
        record(Notice(note))
    device = select_device(config.device)
    choice = choose_size(
        (info.width, info.height),
        config,
        required_bytes=memory_estimate(config, device),
        device=device,
        tiled_bytes=tiled_memory_estimate(config, device),
    )
    config = dataclasses.replace(config, tile=choice.tile)  # the engine and the fingerprint see the tiles
    size = choice.size
    if choice.note is not None:
        record(Notice(choice.note))
    out_size = output_size((info.width, info.height), config)
    if wants_detail(size, out_size, config.detail_iters):
        config, line = fit_output_size(
            out_size,
            config,
            required_bytes=memory_estimate(config, device),
            tiled_bytes=tiled_memory_estimate(config, device),
            device=device,
        )
        if line is not None:
            record(Notice(line))

    def decode(at_size):
        return decode_frames(src, info, export, at_size)

    # one run at a time writes dst: a second one stops here, before it writes anything
    lock = WorkLock(work_dir_for(dst, root=export.work_dir), output=dst)
    try:
        writer = open_output(src, dst, info=info, export=export, out_size=out_size, style_paths=style_paths)
        if (speed_note := precision_note(config, device)) is not None:  # past the refusals, before any training
            record(Notice(speed_note))
        store: FrameStore | None = None
        low_store: FrameStore | None = None
        if device.type == "cuda":  # device_peak_mb: this run's peak, network and style targets included
            torch.cuda.reset_peak_memory_stats(device)
        try:  # the destination is checked before the network loads
            engine = make_engine(config, styles, device=device, clips=[src], on_event=record)
            detail = uses_detail(engine, size, out_size, config)
            record(Notice(sizes_note(size, out_size, config, device=device, detail=detail)))
            framed = (out_size[0] * (2 if export.compare else 1), out_size[1])
            if writer.stored_size != framed:
                width, height = writer.stored_size
                record(Notice(f"{os.path.basename(dst)} stores {width}x{height}: its pixel format needs even sides"))
            for note in output_notes(
                src, dst, info=info, out_size=out_size, fps=export.fps or info.fps, codec=export.codec
            ):
                record(Notice(note))
            precision = getattr(engine, "precision", None)
            fingerprint = run_fingerprint(
                src, style_sources(style, config.model), config, export, size, device=device, precision=precision
            )
            if detail:  # the stored frames are output-size frames
                fingerprint.update(output_size=list(out_size), detail_iters=config.detail_iters)
            stored = out_size if detail else size
            store = FrameStore(
                work_dir_for(dst, root=export.work_dir),
                fingerprint=fingerprint,
                shape=(stored[1], stored[0], 3),
                resume=export.resume,
            )
            low_store = (
                FrameStore(store.path, fingerprint=fingerprint, shape=(size[1], size[0], 3), name="processing")
                if detail
                else None
            )
            if on_start is not None:
                on_start(dataclasses.replace(info, num_frames=frames_to_stylize(info, export)), size)
            started = time.perf_counter()
            record(WorkResumed(frames=store.resumed, path=store.path, restart_reason=store.restart_reason))
            if info.has_audio and not writer.takes_audio:
                kind = "an image sequence" if is_sequence_pattern(dst) else f"a {os.path.splitext(dst)[1]} file"
                record(Notice(f"{kind} has no sound: the audio of {src} is left out"))
        except BaseException:  # nothing finished yet: remove what this run created, keep the error as it is
            writer.abort()
            discard_if_empty(store, low_store)
            raise
        feeds: list = []  # the run's generators that run threads: closed on any exit, so the threads end
        try:
            frames, retime = decode(out_size if detail else size)
            decoded = prefetch(frames, depth=DECODE_PREFETCH_DEPTH)
            feeds.append(decoded)
            stylized = stylize_pairs(
                decoded,
                engine,
                config=config,
                on_event=record,
                store=store,
                size=size,
                low_store=low_store,
            )
            feeds.insert(0, stylized)  # the outer one first: it closes its flow thread
            if config.passes > 1:
                inputs = FrameStore(store.path, fingerprint=store.fingerprint, shape=store.shape, name="inputs")
                for original, _ in stylized:
                    if original.index >= inputs.count:
                        inputs.append(original.image_u8)
                refine_passes(store, inputs, engine, config=config, passes=config.passes, on_event=record)
                frames, retime = decode(size)  # again, for the timestamps
                stylized = ((original, original.with_image(store.read(original.index))) for original in frames)
            compare = decode(out_size)[0] if export.compare else None
            for frame in retime(finish_frames(stylized, size=out_size, config=config, compare=compare)):
                writer.write(frame)
            if not stats.frames:
                raise InputError(f"{src}: no video frames to stylize in the requested range")
            close_feeds(feeds)
            writer.close()
        except (KeyboardInterrupt, CorruptInputError) as err:
            # Keep what is finished: a playable, clearly named partial output, and
            # the work directory so that the same command resumes.
            close_feeds(feeds)
            for saving in (store, low_store):
                if saving is not None:
                    saving.flush(raise_error=False)  # every handed-over frame on disk
            partial = None
            if store.frames_on_disk() == 0:  # interrupted before a frame was finished: nothing to keep
                writer.abort()
                discard_if_empty(store, low_store)
            else:
                try:
                    partial = writer.close_partial()
                except OutputError:  # the output folder went away too: the work directory still has every frame
                    writer.abort()
            if isinstance(err, CorruptInputError):
                where = f"; the {err.frame_index} frames before it are in {partial}" if partial else ""
                raise CorruptInputError(f"{err}{where}", frame_index=err.frame_index) from err
            raise InterruptedRun(partial_output=partial, work_dir=store.path) from err
        except (OutputError, OutOfMemoryError) as err:  # disk full, encoder, memory: the finished frames stay
            close_feeds(feeds)
            writer.abort()
            store.flush(raise_error=False)  # count: the frames saved
            on_disk = store.frames_on_disk()  # another run onto the same output may have removed the folder
            if on_disk:
                kept = f"the {on_disk} finished frames are kept in {store.path}; rerun the same command to continue"
            elif store.count:
                kept = f"the finished frames are lost: {store.path} was removed (another run onto {dst}?)"
            else:
                kept = "no frame was finished"
            discard_if_empty(store, low_store)
            err.args = (f"{err}; {kept}",)
            raise
        except BaseException:
            close_feeds(feeds)
            writer.abort()
            discard_if_empty(store, low_store)
            raise
        finally:
            close_feeds(feeds)  # whatever happened, no thread of this run outlives it
        if not export.keep_work:
            store.remove()
        return stats.summary(
            output=dst,
            seconds=time.perf_counter() - started,
            size=size,
            device=str(engine.device),
            engine=engine.name,
            frames_written=writer.frames_written,
            precision=getattr(engine, "precision", None),
            compile=_compile_stats(engine),
            device_peak_mb=_device_peak_mb(engine.device),
        )
    finally:
        lock.release()  # after the work directory is removed or every frame in it saved


def check_range(src: str, info: VideoInfo, export: ExportConfig) -> None:
    """InputError (exit code 2) before any work when -ss starts at or past the
    end of the source (``media.check_start``: its duration known; else the run finds no frame and says so)."""
    check_start(src, info, export.start_s)


def close_feeds(feeds: list) -> None:
    """Close the run's generators (``threads.prefetch`` and the stages that
    hold one): each stops and joins its thread. An exception keeps their
    frames alive through its traceback (a notebook keeps the last one), so
    they are closed here, not left to the garbage collector."""
    while feeds:
        feeds.pop(0).close()


def discard_if_empty(*stores: FrameStore | None) -> None:
    """Remove the work directory of ``stores`` (the first is the main one)
    when it holds no finished frame: a run that failed before its first
    frame leaves nothing behind; one with finished frames keeps them to resume."""
    main = stores[0]
    if main is None:
        return
    for store in stores:
        if store is not None:
            store.flush(raise_error=False)
    if main.frames_on_disk() == 0:
        main.remove()


def _device_peak_mb(device) -> float | None:
    """Peak CUDA memory allocated since the run started (MiB); None off CUDA."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def _compile_stats(engine) -> dict | None:
    """``--compile``'s counters (compiles, seconds, fallback) when the engine keeps them."""
    stats = getattr(engine, "compile_stats", None)
    return stats.as_dict() if stats is not None and stats.requested else None


def run_fingerprint(
    src, style, config: StyleConfig, export: ExportConfig, size, *, device, precision: str | None = None
) -> dict:
    """Everything that decides the stylized pixels; a resumed run must match it
    (the device and the precision the engine chose too: the same run on a GPU
    and a CPU, or in bf16 and fp32, paints other pixels)."""
    decisive = dataclasses.asdict(config)
    for name in ("num_threads", "output_size", "detail_iters", "preserve_colors"):  # see stylize_video
        decisive.pop(name)
    return {
        "version": __version__,
        "config": decisive,
        "size": list(size),
        "device": str(device),
        "precision": precision,
        "start_s": export.start_s,
        "end_s": export.end_s,
        "fps": str(export.fps) if export.fps else None,
        "input": input_identity(src),
        "styles": [style_identity(item) for item in style_sources(style)],
        # an image sequence's rate picks the frames of -ss/-t/--fps (a key only when
        # set, so that a video's fingerprint is what it was)
        **({"input_fps": str(export.input_fps)} if export.input_fps else {}),
    }
