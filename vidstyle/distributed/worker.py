"""What a Ray worker runs: one segment, through the single-machine chain.

``SegmentWorker`` keeps the engine (VGG19 and the style targets) resident, as
Ray's actor pattern suggests (one actor per GPU, or per CPU slot); each
``run(segment)`` decodes the segment's time range with PyAV, stylizes it in
order with ``pipeline.stages.stylize_pairs`` (warm starts, temporal loss,
scene cuts and the detail stage at the output size exactly as on one
machine) and returns every frame, warm-up included, losslessly (raw uint8)
through the object store. A segment that starts inside a shot first reads
the shot's frames before it and starts from the shot's first painting
carried to its first frame (``anchor``).

The input reaches a worker by its path when the worker can read it (a local
runtime, shared storage); otherwise from the bytes the driver put in the
object store (``InputSource.data``), written once per worker to a temporary
file; without those bytes the worker fails with one clear line.

On Ray the worker lives inside ``SegmentActor``, whose constructor takes only
small values: Ray rebuilds a restarted actor (a worker process killed, out of
memory, a lost node) from its constructor arguments, and cannot promise to
still hold ones it keeps in its object store (ray-project/ray#53727; it says
so in an error line when such an actor is created). The style images and the
shipped input travel with each segment instead (``SegmentInputs``, object
store references the driver holds for the whole run; a retried segment
brings them again), and the first segment an actor gets builds its
``SegmentWorker``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import tempfile
import time
from collections.abc import Iterator

import numpy as np

from vidstyle.config import StyleConfig
from vidstyle.distributed.anchor import anchored_start
from vidstyle.distributed.plan import Segment
from vidstyle.engines import make_engine, memory_estimate, tiled_memory_estimate
from vidstyle.errors import InputError
from vidstyle.features import select_device
from vidstyle.frames import Frame
from vidstyle.media import read_frames
from vidstyle.media.images import resize
from vidstyle.pipeline.events import FrameDone
from vidstyle.pipeline.stages import stylize_pairs, uses_detail
from vidstyle.sizing import fit_output_size


@dataclasses.dataclass(frozen=True)
class InputSource:
    """Where a worker finds the input: ``path`` with its ``size`` in bytes
    (a file of another size at that path is another file), and ``data``: an
    empty list, or one object-store reference to the file's bytes (inside a
    list, so Ray hands the reference over without fetching the bytes)."""

    path: str
    size: int
    data: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class FrameStats:
    """What the driver reports per frame (the pixels travel separately)."""

    num_iters: int
    seconds: float
    converged: bool
    losses: dict
    cold_start: bool
    scene_cut: bool


@dataclasses.dataclass(frozen=True)
class SegmentResult:
    """A finished segment: ``frames_u8`` uint8 ``(warmup + N, H, W, 3)`` at
    the worker's ``frame_size`` (the warm-up frames first), the kept frames' ``pts``
    (checked by the driver), their stats, the worker that did it and how long it took: ``seconds`` the whole
    call (decoding and warm-up included), ``warmup_s`` the engine's time on
    the warm-up frames (cross-faded, not delivered), ``setup_s`` the worker's one-time engine set-up."""

    number: int
    frames_u8: np.ndarray
    pts: tuple[int, ...]
    stats: tuple[FrameStats, ...]
    worker: str
    seconds: float
    setup_s: float
    warmup_s: float
    anchor_s: float = 0.0
    anchored: bool = False


class SegmentWorker:
    """Stylizes segments of one input with one engine (made once).

    Args:
        config: the run's StyleConfig.
        styles_u8: the style images.
        size: processing size ``(width, height)``.
        source: where the input is (see ``InputSource``).
        out_size: the output size; when the detail stage finishes frames
            there (``uses_detail``), segments come back at it, else at ``size``.
        detail: what the driver planned (``driver.plans_detail``): a worker
            whose engine decides otherwise fails with one line rather than
            return frames of another size.
    """

    def __init__(
        self,
        config: StyleConfig,
        styles_u8: list[np.ndarray],
        size: tuple[int, int],
        source: InputSource,
        out_size: tuple[int, int] | None = None,
        detail: bool = False,
    ):
        started = time.perf_counter()
        self.size = (int(size[0]), int(size[1]))
        self.out_size = self.size if out_size is None else (int(out_size[0]), int(out_size[1]))
        self.source = source
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        device = select_device(config.device)
        if detail:  # the detail stage within this worker's memory: in tiles, or not at all (below)
            config, _ = fit_output_size(
                self.out_size,
                config,
                required_bytes=memory_estimate(config, device),
                tiled_bytes=tiled_memory_estimate(config, device),
                device=device,
            )
        self.config = config
        self.engine = make_engine(config, styles_u8, device=device)
        self.detail = uses_detail(self.engine, self.size, self.out_size, config)
        if self.detail != detail:
            raise InputError(
                f"worker {self.name}: the detail stage at {self.out_size[0]}x{self.out_size[1]} "
                f"{'runs' if self.detail else 'does not run'} here (engine {config.engine!r}, "
                f"{'memory' if detail else 'options'}), unlike the plan of the Ray driver: "
                "pass --detail-iters 0 (resize instead) or a smaller --output-size"
            )
        self.frame_size = self.out_size if self.detail else self.size
        self._local_path: str | None = None
        self.setup_s = time.perf_counter() - started

    def identity(self) -> str:
        """``host:pid`` of this worker."""
        return self.name

    def run(self, segment: Segment) -> SegmentResult:
        started = time.perf_counter()
        wanted = set(segment.pts)
        decoded = (
            frame
            for frame in read_frames(
                self._input_path(), size=self.frame_size, start_s=segment.start_s, end_s=segment.end_s
            )
            if frame.pts in wanted
        )
        frames = _renumbered(decoded, first=segment.first - segment.warmup)
        done: dict[int, FrameDone] = {}

        def record(event) -> None:
            if isinstance(event, FrameDone):
                done[event.index] = event

        images: list[np.ndarray] = []
        pts: list[int] = []
        stats: list[FrameStats] = []
        warmup_s = 0.0
        anchoring = time.perf_counter()
        start = None
        if segment.lead_pts and self.config.temporal and self.engine.wants_warm_start:
            start = anchored_start(self.engine, self.config, lambda: self._lead_frames(segment))
        anchor_s = time.perf_counter() - anchoring
        pairs = stylize_pairs(
            frames, self.engine, config=self.config, on_event=record, size=self.size, first_start=start
        )
        for original, stylized in pairs:
            event = done.pop(stylized.index)
            images.append(stylized.image_u8)
            if stylized.index < segment.first:
                warmup_s += event.result.seconds
                continue
            assert original.pts is not None  # the plan holds only frames with a pts
            pts.append(original.pts)
            stats.append(
                FrameStats(
                    num_iters=event.result.num_iters,
                    seconds=event.result.seconds,
                    converged=event.result.converged,
                    losses=dict(event.result.losses),
                    cold_start=event.cold_start,
                    scene_cut=event.scene_cut,
                )
            )
        if tuple(pts) != segment.pts[segment.warmup :]:
            raise InputError(
                f"segment {segment.number}: worker {self.name} decoded {len(pts)} frames where "
                f"{segment.num_frames} were planned (the input changed, or its timestamps are not "
                f"unique)"
            )
        return SegmentResult(
            number=segment.number,
            frames_u8=np.stack(images),
            pts=tuple(pts),
            stats=tuple(stats),
            worker=self.name,
            seconds=time.perf_counter() - started,
            setup_s=self.setup_s,
            warmup_s=warmup_s,
            anchor_s=anchor_s,
            anchored=start is not None,
        )

    def _lead_frames(self, segment: Segment) -> Iterator[np.ndarray]:
        """The shot's frames from its first one to the segment's first decoded
        frame, both included, at the processing size (resized as
        ``stylize_pairs`` resizes the segment's own frames), uint8 ``(H, W, 3)``."""
        wanted = set(segment.lead_pts)
        last = segment.pts[0]
        decoded = read_frames(self._input_path(), size=self.frame_size, start_s=segment.lead_start_s)
        with contextlib.closing(decoded):
            for frame in decoded:
                if frame.pts in wanted or frame.pts == last:
                    yield resize(frame.image_u8, self.size) if frame.size != self.size else frame.image_u8
                if frame.pts == last:
                    return
        raise InputError(
            f"segment {segment.number}: worker {self.name} did not find the frames before it in its shot "
            f"(the input changed, or its timestamps are not unique)"
        )

    def _input_path(self) -> str:
        """A path this worker can decode: the input's own path when it is the
        same file here, else a local copy of the bytes from the object store."""
        source = self.source
        if _same_file(source.path, source.size):
            return source.path
        if self._local_path is not None:
            return self._local_path
        if not source.data:
            raise InputError(
                f"worker {self.name} cannot read the input {source.path}: put it on storage every "
                f"node mounts at the same path (it is too large to ship through Ray's object store)"
            )
        import ray

        data = ray.get(source.data[0])
        suffix = os.path.splitext(source.path)[1]
        with tempfile.NamedTemporaryFile(prefix="vidstyle-input-", suffix=suffix, delete=False) as file:
            file.write(data)
        self._local_path = file.name
        return file.name


@dataclasses.dataclass(frozen=True)
class SegmentInputs:
    """What every segment call carries to a ``SegmentActor``: ``styles``, one
    object-store reference to the style images (inside a list, so Ray hands
    the reference over without fetching the images at each call), and
    ``source``, where the input is (``InputSource``, its bytes by reference)."""

    styles: list
    source: InputSource


class SegmentActor:
    """The Ray actor: a ``SegmentWorker`` built on the first segment.

    Args:
        config, size, out_size, detail: as for ``SegmentWorker``; small
            values, carried inside the actor's creation task, so a restart
            always has them (see the module doc).
    """

    def __init__(
        self,
        config: StyleConfig,
        size: tuple[int, int],
        out_size: tuple[int, int] | None = None,
        detail: bool = False,
    ):
        self.config = config
        self.size = size
        self.out_size = out_size
        self.detail = detail
        self.worker: SegmentWorker | None = None

    def run(self, segment: Segment, inputs: SegmentInputs) -> SegmentResult:
        """``SegmentWorker.run`` of ``segment``; the first call makes the
        worker (its engine and style targets) from ``inputs``."""
        if self.worker is None:
            import ray

            styles_u8 = ray.get(inputs.styles[0])
            self.worker = SegmentWorker(
                self.config, styles_u8, self.size, inputs.source, out_size=self.out_size, detail=self.detail
            )
        return self.worker.run(segment)


def _same_file(path: str, size: int) -> bool:
    try:
        return os.path.isfile(path) and os.path.getsize(path) == size
    except OSError:
        return False


def _renumbered(frames, *, first: int):
    """Frames numbered from ``first`` (their index in the whole run) so that
    events, warm starts and the driver agree on which frame is which."""
    for offset, frame in enumerate(frames):
        yield Frame(image_u8=frame.image_u8, pts=frame.pts, time_base=frame.time_base, index=first + offset)
