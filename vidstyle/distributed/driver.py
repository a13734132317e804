"""The driver of a Ray run: plan, hand segments to workers, assemble in order.

    probe + scan (one cheap decode: timestamps, scene cuts) -> plan_segments
      -> ActorPool of SegmentActors (Ray restarts a dead one and retries its segment)
      -> each finished segment saved in the work directory (a FrameStore per
         segment) -> frames in source order, paired with the source frames
         decoded again here -> finish_frames -> the normal writer

Frames processed smaller than the output are finished at the output size by the detail stage inside
each segment, as on one machine (``plans_detail``). The output is written by the same writer as a
single-machine run (every source timestamp, audio copied, -ss/-t, --fps, formats, atomic rename) while
later segments are still being computed; at each seam inside a shot the output cross-fades into the next
segment over its warm-up frames (``seams``). Resume works per segment: a rerun with the same settings
recomputes only the segments not in the work directory. Ctrl-C kills this run's workers and keeps
every finished segment.

Why this module is long: one Ray run's checks (before any cluster starts), its plan, the pool and the
in-order assembly share the run's state (the segments' stores, the writer, the lock, the counters of
the summary); each way the run ends keeps or removes them differently, so they are read together, as
in ``pipeline.video``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from vidstyle.config import ExportConfig, StyleConfig
from vidstyle.distributed.plan import Segment, plan_segments, scan_frames
from vidstyle.distributed.runtime import Connection, connect, import_ray, ray_target
from vidstyle.distributed.seams import crossfade
from vidstyle.distributed.worker import InputSource, SegmentActor, SegmentInputs, SegmentResult
from vidstyle.engines.base import FrameResult
from vidstyle.errors import InputError, VidstyleError
from vidstyle.frames import Frame
from vidstyle.media import check_start, output_notes, probe
from vidstyle.pipeline.detail import wants_detail
from vidstyle.pipeline.events import Event, FrameDone, Notice, WorkResumed
from vidstyle.pipeline.stages import finish_frames
from vidstyle.pipeline.styles import load_styles, look_notes, sizes_note, style_paths_of, style_sources
from vidstyle.pipeline.summary import RunStats, RunSummary
from vidstyle.pipeline.video import (
    InterruptedRun,
    decode_frames,
    default_output_path,
    open_output,
    resolve_input,
    run_fingerprint,
)
from vidstyle.pipeline.workdir import FrameStore, work_dir_for
from vidstyle.pipeline.worklock import WorkLock
from vidstyle.sizing import choose_size, output_size

MAX_SHIPPED_INPUT_BYTES = 2 << 30  # larger inputs must be on storage every node mounts
WORKER_RESTARTS = 3  # a worker process that dies (OOM, SIGKILL, lost node) is restarted this often...
SEGMENT_RETRIES = 3  # ...and its segment retried this often, by Ray
_NO_PIXELS = np.zeros((1, 1, 3), np.uint8)  # events kept for the summary drop their frames


@dataclasses.dataclass(frozen=True)
class DistributedSummary(RunSummary):
    """A RunSummary plus the cluster's side: segments (``anchored_segments``
    started from their shot's first painting, ``anchor``), and per worker
    (``host:pid``) its segments (``anchored``), frames delivered, ``busy_s`` (inside its
    segment calls: decoding, engine, warm-up), ``engine_s`` (the engine alone, warm-up
    frames included), ``warmup_s`` (the engine on the cross-faded warm-up frames), ``anchor_s``
    (anchoring), ``setup_s`` (making the engine, once), ``frames_per_s`` (frames per busy second)."""

    segments: int = 0
    resumed_segments: int = 0
    anchored_segments: int = 0
    workers: tuple[dict, ...] = ()


def stylize_video_on_ray(
    src,
    dst=None,
    *,
    style=None,
    config: StyleConfig,
    export: ExportConfig,
    on_event: Callable[[Event], None] | None = None,
    on_start=None,
) -> DistributedSummary:
    """``vidstyle.stylize_video`` with ``ray=`` set (``vidstyle.api`` calls this): the same
    output, computed by segments on a Ray cluster. See the module doc."""
    if config.passes > 1:
        raise InputError("--passes sweeps the whole clip back and forth; it does not combine with --ray")
    resolve_input(os.fspath(src), export)  # an image sequence, --input-fps with a video: refused
    if config.engine == "net" and config.model is None:
        raise InputError(
            "--engine net on Ray needs a trained look (each worker would train its own): "
            "vidstyle train --style ART --on IN -o look.pt, then --model look.pt"
        )
    import_ray()  # without Ray: one line, before anything else
    address = export.ray or "auto"
    ray_target(address)  # a malformed address (or RAY_ADDRESS): one line too
    dst = os.fspath(dst) if dst is not None else default_output_path(os.fspath(src))
    # one run at a time writes dst; the runtime (connected in _run) is closed before the lock goes
    with WorkLock(work_dir_for(dst, root=export.work_dir), output=dst), contextlib.ExitStack() as closing:
        return _run(
            address,
            src,
            dst,
            closing=closing,
            style=style,
            config=config,
            export=export,
            on_event=on_event,
            on_start=on_start,
        )


def _run(
    address: str, src, dst, *, closing: contextlib.ExitStack, style, config, export, on_event, on_start
) -> DistributedSummary:
    """The run; it connects to ``address`` only once the input, the range and
    the output are checked (seconds saved on a refused run: starting a local
    runtime takes several), and registers the connection's close on ``closing``."""
    src = os.fspath(src)
    info = probe(src)
    check_start(src, info, export.start_s)
    styles = load_styles(style, config.model)
    style_paths = style_paths_of(style, config.model)
    stats = RunStats()  # fed in frame order as the output is assembled (it counts frames by rising index)

    def record(event: Event) -> None:  # progress: as segments finish, in any order
        if on_event is not None:
            on_event(event)

    config, notes = look_notes(style, config)
    for note in notes:
        record(Notice(note))
    # Workers may have other devices than this machine: the requested size (256 px unless
    # --max-side/--size say otherwise), no memory fit here; each worker fits the detail stage.
    size = choose_size((info.width, info.height), config, required_bytes=None, device=None).size
    out_size = output_size((info.width, info.height), config)
    detail = plans_detail(config, size, out_size)  # workers then return output-size frames
    stored = out_size if detail else size
    writer = open_output(src, dst, info=info, export=export, out_size=out_size, style_paths=style_paths)
    actors: list = []
    ray: Any = None  # the module, once connected
    try:
        connection = connect(address)
        closing.callback(connection.close)
        ray = connection.ray
        from ray.util import ActorPool

        record(Notice(sizes_note(size, out_size, config, device="the workers", detail=detail)))
        for note in output_notes(
            src, dst, info=info, out_size=out_size, fps=export.fps or info.fps, codec=export.codec
        ):
            record(Notice(note))
        scan = scan_frames(decode_frames(src, info, export, size)[0])
        if not scan.pts:
            raise InputError(f"{src}: no video frames to stylize in the requested range")
        slots = _worker_slots(connection, config, export)
        segments = plan_segments(
            scan,
            segment_frames=export.segment_frames,
            seam_frames=export.seam_frames,
            start_s=export.start_s,
            end_s=export.end_s,
            workers=slots.count,
            anchor_lead=export.anchor_frames if config.temporal and config.engine != "net" else 0,
        )
        fingerprint = run_fingerprint(src, style_sources(style, config.model), config, export, size, device="ray")
        if detail:  # as a single-machine run: the stored frames are output-size frames
            fingerprint.update(output_size=list(out_size), detail_iters=config.detail_iters)
        work_dir = work_dir_for(dst, root=export.work_dir)
        stores = [_segment_store(work_dir, segment, fingerprint, stored, resume=export.resume) for segment in segments]
        done = {s.number for s, store in zip(segments, stores) if store.count == len(s.pts)}
        todo = [segment for segment in segments if segment.number not in done]
        if on_start is not None:
            on_start(dataclasses.replace(info, num_frames=len(scan.pts)), size)
        reason = next((store.restart_reason for store in stores if store.restart_reason), None)
        record(WorkResumed(frames=sum(segments[n].num_frames for n in done), path=work_dir, restart_reason=reason))
        record(Notice(f"Ray: {len(segments)} segments ({len(scan.cuts)} scene cuts), {len(done)} already done"))
        started = time.perf_counter()
        inputs: SegmentInputs | None = None
        if todo:
            count = min(slots.count, len(todo))
            actors, inputs = _start_workers(
                ray,
                connection,
                config,
                styles,
                src,
                size=size,
                out_size=out_size,
                detail=detail,
                slots=slots,
                workers=count,
            )
        pool = ActorPool(actors)  # the inputs' references stay alive here until the last segment is done
        results = pool.map_unordered(lambda actor, segment: actor.run.remote(segment, inputs), todo)
        per_worker: dict[str, dict] = {}
        finished_events: dict[int, list[FrameDone]] = {}  # per segment, without pixels, until assembled

        def finish(result: SegmentResult) -> None:
            segment = segments[result.number]
            if result.pts != segment.pts[segment.warmup :]:
                raise InputError(f"segment {segment.number} came back with other frames than planned")
            store = stores[result.number]
            store.reset()  # a partial save of an interrupted driver is redone whole
            for image in result.frames_u8:
                store.append(image)
            store.flush()  # done: on disk
            done.add(result.number)
            _count_worker(per_worker, result)
            events = finished_events[segment.number] = []
            for offset, (image, frame_stats) in enumerate(zip(result.frames_u8[segment.warmup :], result.stats)):
                event = FrameDone(
                    index=segment.first + offset,
                    result=_frame_result(image, frame_stats),
                    cold_start=frame_stats.cold_start,
                    scene_cut=frame_stats.scene_cut,
                )
                record(event)
                events.append(dataclasses.replace(event, result=_frame_result(_NO_PIXELS, frame_stats)))

        for segment in segments:
            if segment.number in done:
                events = finished_events[segment.number] = []
                for offset in range(segment.num_frames):
                    event = FrameDone(
                        index=segment.first + offset,
                        result=_replayed(),
                        cold_start=False,
                        scene_cut=False,
                        resumed=True,
                    )
                    record(event)
                    events.append(event)

        frames, retime = decode_frames(src, info, export, stored)  # the source frames again, in lockstep

        def wait_for(segment: Segment) -> None:
            while segment.number not in done:
                finish(next(results))

        def stylized_in_order() -> Iterator[tuple[Frame, Frame]]:
            originals = iter(frames)
            for segment, following in zip(segments, [*segments[1:], None]):
                wait_for(segment)
                for event in finished_events.pop(segment.number):
                    stats.add(event)
                store = stores[segment.number]
                fade = following.warmup if following is not None else 0  # 0 at a scene cut: no warm-up there
                for offset in range(segment.num_frames):
                    original = next(originals)
                    if original.pts != scan.pts[segment.first + offset]:
                        raise InputError(f"{src}: frame {original.index} decoded differently on a second read")
                    image = store.read(segment.warmup + offset)
                    step = offset - (segment.num_frames - fade)
                    if following is not None and step >= 0:  # the seam: fade into the next segment's warm-up
                        wait_for(following)
                        image = crossfade(image, stores[following.number].read(step), step=step, steps=fade)
                    yield original, original.with_image(image)

        compare = decode_frames(src, info, export, out_size)[0] if export.compare else None
        for frame in retime(finish_frames(stylized_in_order(), size=out_size, config=config, compare=compare)):
            writer.write(frame)
        writer.close()
    except KeyboardInterrupt as err:
        _stop_workers(ray, actors)
        partial = writer.close_partial()
        raise InterruptedRun(partial_output=partial, work_dir=work_dir_for(dst, root=export.work_dir)) from err
    except BaseException as err:
        _stop_workers(ray, actors)
        writer.abort()
        cause = getattr(err, "cause", None)  # a worker's own error, wrapped by Ray with the remote traceback
        if ray is not None and isinstance(err, ray.exceptions.RayTaskError) and isinstance(cause, VidstyleError):
            raise cause from err  # one line for the CLI, like a single-machine run
        raise
    _stop_workers(ray, actors)
    if not export.keep_work:
        for store in stores:
            store.remove()
        with contextlib.suppress(OSError):  # the work directory itself goes with its lock (WorkLock.release)
            os.rmdir(os.path.join(work_dir, "ray-segments"))
    summary = stats.summary(
        output=dst,
        seconds=time.perf_counter() - started,
        size=size,
        device="ray",
        engine=config.engine,
        frames_written=writer.frames_written,
    )
    return DistributedSummary(
        **dataclasses.asdict(summary),
        segments=len(segments),
        resumed_segments=len(segments) - len(todo),
        anchored_segments=sum(row["anchored"] for row in per_worker.values()),
        workers=tuple(_worker_report(name, row) for name, row in sorted(per_worker.items())),
    )


def _segment_store(work_dir: str, segment: Segment, fingerprint: dict, size, *, resume: bool) -> FrameStore:
    """The finished frames of one segment, in ``WORK/ray-segments/NNNNN``;
    its fingerprint holds the run's and the segment's frames, so a changed
    plan (other --segment-frames) recomputes it. It holds the warm-up frames
    first, then the segment's own."""
    described = {
        **fingerprint,
        "segment": {
            "first": segment.first,
            "stop": segment.stop,
            "warmup": segment.warmup,
            "pts": [segment.pts[0], segment.pts[-1], len(segment.pts)],
        },
    }
    path = os.path.join(work_dir, "ray-segments", f"{segment.number:05d}")
    return FrameStore(path, fingerprint=described, shape=(size[1], size[0], 3), resume=resume)


@dataclasses.dataclass(frozen=True)
class WorkerSlots:
    """What the cluster offers a run: ``count`` workers at once, each with
    one GPU (``gpus`` > 0) or ``threads`` CPUs."""

    count: int
    gpus: int
    threads: int


def _worker_slots(connection: Connection, config: StyleConfig, export: ExportConfig) -> WorkerSlots:
    """One worker per GPU of the cluster (else per ``--threads`` CPUs), at
    most ``--workers``."""
    resources = connection.resources()
    gpus = int(resources.get("GPU", 0)) if config.device != "cpu" else 0
    threads = config.num_threads or 1
    slots = gpus if gpus else max(1, int(resources.get("CPU", 1)) // threads)
    return WorkerSlots(count=max(1, min(slots, export.workers or slots)), gpus=gpus, threads=threads)


def plans_detail(config: StyleConfig, size: tuple[int, int], out_size: tuple[int, int]) -> bool:
    """Whether workers finish frames at ``out_size`` with the detail stage,
    decided before any engine exists (the driver builds none): ``wants_detail``
    and an engine that takes warm starts (every engine but ``net`` with
    ``--net-blend 0``, see ``NetworkEngine``); a worker checks it against its
    own engine (``SegmentWorker``)."""
    takes_warm_starts = config.engine != "net" or config.net_blend > 0 or config.net_refine > 0
    return takes_warm_starts and wants_detail(size, out_size, config.detail_iters)


def _start_workers(
    ray, connection: Connection, config: StyleConfig, styles, src: str, *, size, out_size, detail, slots, workers: int
) -> tuple[list, SegmentInputs]:
    """``workers`` SegmentActors (at most ``slots.count``, one per segment to
    do), processing at ``size`` and, when ``detail`` (``plans_detail``),
    finishing frames at ``out_size``, and the inputs every segment call
    carries to them (the style images and the shipped input, by reference;
    the caller holds them for the whole run). An actor's constructor gets
    only the config and the sizes, small values Ray keeps inside the creation
    task, so a restarted worker is always rebuilt (``worker`` module doc)."""
    gpus, threads = slots.gpus, slots.threads
    source = InputSource(path=os.path.abspath(src), size=os.path.getsize(src))
    if not connection.is_local and source.size <= MAX_SHIPPED_INPUT_BYTES:
        with open(src, "rb") as file:  # for workers on nodes that do not see this path
            source = dataclasses.replace(source, data=[ray.put(file.read())])
    remote = ray.remote(SegmentActor).options(
        num_cpus=threads, num_gpus=1 if gpus else 0, max_restarts=WORKER_RESTARTS, max_task_retries=SEGMENT_RETRIES
    )
    worker_config = config if config.num_threads else config.replace(num_threads=1)
    inputs = SegmentInputs(styles=[ray.put(styles)], source=source)
    actors = [remote.remote(worker_config, size, out_size, detail) for _ in range(workers)]
    return actors, inputs


def _stop_workers(ray, actors: list) -> None:
    """Kill this run's workers (their running segments are abandoned)."""
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # already dead, or the runtime is gone
            pass
    actors.clear()


def _frame_result(image_u8: np.ndarray, stats) -> FrameResult:
    return FrameResult(
        image_u8=image_u8,
        num_iters=stats.num_iters,
        converged=stats.converged,
        losses=stats.losses,
        seconds=stats.seconds,
    )


def _replayed() -> FrameResult:
    """A frame of a segment finished by an earlier run: no iterations spent."""
    return FrameResult(image_u8=_NO_PIXELS, num_iters=0, converged=True, losses={}, seconds=0.0)


def _count_worker(per_worker: dict[str, dict], result: SegmentResult) -> None:
    counts = dict.fromkeys(("segments", "anchored", "frames"), 0)
    seconds = dict.fromkeys(("busy_s", "engine_s", "warmup_s", "anchor_s"), 0.0)
    row = per_worker.setdefault(result.worker, {**counts, **seconds, "setup_s": result.setup_s})
    row["segments"], row["anchored"] = row["segments"] + 1, row["anchored"] + int(result.anchored)
    row["anchor_s"] += result.anchor_s
    row["frames"] += len(result.stats)
    row["busy_s"] += result.seconds
    row["warmup_s"] += result.warmup_s
    row["engine_s"] += result.warmup_s + sum(frame.seconds for frame in result.stats)


def _worker_report(name: str, row: dict) -> dict:
    busy = row["busy_s"]
    return {
        "worker": name,
        "segments": row["segments"],
        "anchored": row["anchored"],
        "frames": row["frames"],
        "busy_s": round(busy, 3),
        "engine_s": round(row["engine_s"], 3),
        "warmup_s": round(row["warmup_s"], 3),
        "anchor_s": round(row["anchor_s"], 3),
        "setup_s": round(row["setup_s"], 3),
        "frames_per_s": round(row["frames"] / busy, 3) if busy else None,
    }
