"""The one size policy: at what (width, height) frames are stylized and written.

Used alike by files, still images and live sources:

1. the output size: ``config.output_size``, else the source's own size;
2. the processing size: ``config.size``, else the output size scaled so its
   longer side is at most ``config.max_side`` (never enlarged; even sides for
   video, whose 4:2:0 encoders need them). Without ``max_side`` it follows the
   device: the output size on a GPU, ``CPU_MAX_SIDE`` on a CPU, where a
   720p VGG19 iteration takes ~25 times as long as one at 256x144. When
   processing is smaller than the output, ``pipeline/detail.py`` finishes each
   frame at the output size;
3. refused when a side is below ``MIN_PROCESSING_SIDE`` or the frame has more
   than ``MAX_PROCESSING_PIXELS``; a source with a side below
   ``MIN_PROCESSING_SIDE`` is refused as such unless --size or
   --output-size enlarges it;
4. when the engine's memory estimate for it does not fit in
   ``MEMORY_FRACTION`` of what the device has free: optimized in tiles
   (``engines/tiling.py``) of the largest of ``TILE_CHOICES`` that fits, when
   the engine can tile, else (or when no tile fits) shrunk; with a note
   saying so either way.

Every size limit of the project lives here.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable

from vidstyle.config import MIN_SIDE, StyleConfig
from vidstyle.errors import InputError, VidstyleError
from vidstyle.frames import fit_size

MIN_PROCESSING_SIDE = MIN_SIDE  # VGG19 pools four times before relu5_1 (the options' own lower bound)
MIN_SHRUNK_SIDE = 32  # a memory fallback never shrinks the shorter side below this
TILE_CHOICES = (1024, 768, 512, 384, 256, 192, 128, 96, 64)  # tile sides tried, largest first (config.MIN_TILE last)
MIN_STYLE_SIDE = 64  # smaller style images are enlarged to this before their Grams are taken
MAX_PROCESSING_PIXELS = 4096 * 4096  # the optimizer's memory grows with the pixel count
# Default processing longer side on a CPU. Measured on 2 idle cores (fp32,
# L-BFGS): ~0.3 s per iteration at 256x144, ~25 times that at 1280x720.
CPU_MAX_SIDE = 256
MEMORY_FRACTION = 0.8  # use at most this share of the memory available
GIB = 2**30
# Cold starts of the detail stage (pipeline/detail.py) get this many times
# detail_iters at the output size (21 at the default 3) up to
# DETAIL_COLD_REFERENCE_SCALE times the processing size, proportionally more
# beyond: 21 start 480x270 from 256x144 near where the warm chain settles,
# but leave 1280x720 (5x) a barely textured upscale that the warm frames
# build up for seconds, where 57 paint it (README, "The detail stage's cold start").
DETAIL_COLD_FACTOR = 7
DETAIL_COLD_REFERENCE_SCALE = 480 / 256


@dataclasses.dataclass(frozen=True)
class SizeChoice:
    """The processing size and, when it differs from what was asked, why.

    Attributes:
        size: ``(width, height)`` in pixels.
        requested: what the options asked for, before the memory check.
        note: one line for the user when ``size != requested`` or tiles were
            chosen, else None.
        tile: the tile side frames are optimized in (``config.tile``), or
            None for whole frames.
    """

    size: tuple[int, int]
    requested: tuple[int, int]
    note: str | None
    tile: int | None = None


def output_size(source: tuple[int, int], config: StyleConfig) -> tuple[int, int]:
    """The ``(width, height)`` written: ``config.output_size``, else ``source``.
    (A 4:2:0 encoder drops an odd last row or column, see ``media.video_writer``.)"""
    return (config.output_size[0], config.output_size[1]) if config.output_size is not None else source


def default_max_side(config: StyleConfig, device) -> int | None:
    """``config.max_side``, else what the device makes practical: no limit
    on a GPU (the output size, within memory), ``CPU_MAX_SIDE`` elsewhere."""
    if config.max_side is not None:
        return config.max_side
    if device is not None and getattr(device, "type", str(device).split(":")[0]) == "cuda":
        return None
    return CPU_MAX_SIDE


def requested_size(source: tuple[int, int], config: StyleConfig, *, device=None, even: bool = True) -> tuple[int, int]:
    """``config.size``, else the output size (``output_size``) of
    ``source`` = (width, height) fitted to ``default_max_side``; InputError
    outside the limits (see module docstring)."""
    if config.size is None and config.output_size is None:
        check_source_size(source)  # else the processing size would be blamed for the source's
    out = output_size(source, config)
    size = (
        (config.size[0], config.size[1])
        if config.size is not None
        else fit_size(*out, max_side=default_max_side(config, device), even=even)
    )
    check_size(size, source=source)
    return size


def detail_cold_iters(iters: int, size: tuple[int, int], out_size: tuple[int, int], *, temporal: bool = True) -> int:
    """Iterations of a cold start at ``out_size`` for frames processed at
    ``size`` (both (width, height)), ``iters`` per warm frame:
    ``iters * DETAIL_COLD_FACTOR * max(1, scale / DETAIL_COLD_REFERENCE_SCALE)``,
    ``scale`` the ratio of the longer sides. 256 px processing: 21 for outputs up
    to 480 px, 31 at 720x404, 56 at 1280x720, 84 at 1920x1080 (``iters`` 3).
    Without ``temporal`` every frame is a cold start and gets ``iters``."""
    if not temporal:
        return iters
    scale = max(out_size) / max(size)
    return max(1, round(iters * DETAIL_COLD_FACTOR * max(1.0, scale / DETAIL_COLD_REFERENCE_SCALE)))


def detail_warm_iters(iters: int, size: tuple[int, int], out_size: tuple[int, int]) -> int:
    """Iterations of a warm frame at ``out_size`` for frames processed at
    ``size`` (both (width, height)): ``iters * sqrt(max(1, scale /
    DETAIL_COLD_REFERENCE_SCALE))``, ``scale`` the ratio of the longer sides.
    256 px processing: 3 for outputs up to 480 px, 4 at 720x404, 5 at
    1280x720, 6 at 1920x1080 (``iters`` 3). At 5 times the processing size
    3 iterations let the painted texture fade over the clip (128x72 ->
    640x360, bigbuckbunny: 15 warm frames at 1.32 of the first frame's style
    loss, 1.09 with 5; README, "The detail stage's warm frames"); a root, not
    the ratio, because each of them costs ``scale**2`` processing-size ones."""
    scale = max(out_size) / max(size)
    return max(1, round(iters * math.sqrt(max(1.0, scale / DETAIL_COLD_REFERENCE_SCALE))))


def describe_sizes(
    size: tuple[int, int],
    out_size: tuple[int, int],
    config: StyleConfig,
    *,
    device,
    detail: bool,
    why: str | None = None,
) -> str:
    """One line for the user: the processing size and why (``why``: a reason
    the command knows better than the config, such as a preset's size), the
    output size, and what the detail stage costs per frame (``detail`` says it runs)."""
    why = why or _size_reason(config, device)
    whose = "the source's size" if config.output_size is None else "--output-size"
    line = f"processing at {size[0]}x{size[1]} ({why}), output {out_size[0]}x{out_size[1]} ({whose})"
    if detail and config.engine == "net" and config.net_refine == 0:
        ratio = out_size[0] * out_size[1] / (size[0] * size[1])
        line += (
            f", painted again at the output size by the look (one pass a frame, ~{ratio:.1f}x the cost of one "
            f"at {size[0]}x{size[1]}; --detail-iters 0 to resize instead)"
        )
    elif detail:
        ratio = out_size[0] * out_size[1] / (size[0] * size[1])
        cold = detail_cold_iters(config.detail_iters, size, out_size, temporal=config.temporal)
        warm = detail_warm_iters(config.detail_iters, size, out_size) if config.temporal else cold
        line += (
            f", finished at the output size with {warm} iterations per frame and {cold} after "
            f"each cold start (each ~{ratio:.1f}x the cost of one at {size[0]}x{size[1]}; --detail-iters 0 to skip)"
        )
    elif out_size != size:
        line += " (resized)"
    return line


def _size_reason(config: StyleConfig, device) -> str:
    """Why the processing size is what it is, as far as the options tell."""
    if config.size is not None:
        return "--size"
    if config.max_side is not None:
        return "--max-side"
    if default_max_side(config, device) is None:
        return f"the output size on {device}; --max-side or --size to change"
    return f"the default on {device}; --max-side or --size to change"


def check_source_size(source: tuple[int, int]) -> None:
    """InputError, naming the source's size and the smallest accepted, for a
    source with a side below ``MIN_PROCESSING_SIDE``: processing never
    enlarges it unless --size or --output-size asks to."""
    w, h = source
    if min(w, h) < MIN_PROCESSING_SIDE:
        side = MIN_PROCESSING_SIDE
        raise InputError(
            f"the source ({w}x{h}) is too small: vidstyle stylizes sources of at least {side}x{side} pixels "
            f"(VGG19 needs {side} px on each side); --size WxH or --output-size WxH enlarges a smaller one"
        )


def check_size(size: tuple[int, int], *, source: tuple[int, int]) -> None:
    """InputError, naming the sizes involved, for a processing size VGG19 cannot
    take (too small) or that would not fit in memory (absurdly large)."""
    w, h = size
    if min(w, h) < MIN_PROCESSING_SIDE:
        raise InputError(
            f"processing size {w}x{h} is too small (the source is {source[0]}x{source[1]}); "
            f"VGG19 needs at least {MIN_PROCESSING_SIDE} px on each side: pass --size WxH to enlarge it"
        )
    if w * h > MAX_PROCESSING_PIXELS:
        raise InputError(
            f"processing size {w}x{h} ({w * h / 1e6:.0f} Mpx) is too large: at most "
            f"{MAX_PROCESSING_PIXELS / 1e6:.1f} Mpx (e.g. 4096x4096), the optimizer's memory grows "
            f"with the pixel count; use a smaller --size or --max-side (the output keeps its size: --output-size)"
        )


def choose_size(
    source: tuple[int, int],
    config: StyleConfig,
    *,
    required_bytes: Callable[[tuple[int, int]], int] | None,
    device,
    even: bool = True,
    available: int | None = None,
    tiled_bytes: Callable[[tuple[int, int], int], int] | None = None,
) -> SizeChoice:
    """The processing size for frames of ``source`` = (width, height), and
    the tile side they are optimized in.

    Args:
        required_bytes: the engine's memory estimate for a size
            (``Engine.required_bytes``); None skips the memory check.
        device: where the engine runs (for the free-memory reading).
        even: round to even sides (video); stills may keep odd ones.
        available: free bytes; default measured with ``available_bytes``.
        tiled_bytes: the engine's estimate for a size optimized in tiles of
            a given side (``engines.tiled_memory_estimate``); None: the engine
            cannot tile, frames that do not fit are shrunk. Not used when
            ``config.tile`` is set (``required_bytes`` counts that tile).
    """
    requested = requested_size(source, config, device=device, even=even)
    if required_bytes is None:
        return SizeChoice(requested, requested, None, config.tile)
    available = available_bytes(device) if available is None else available
    if tiled_bytes is not None and config.tile is None and available is not None:
        need = required_bytes(requested)
        budget = MEMORY_FRACTION * available
        if need > budget:
            tile = fit_tiles(requested, tiled_bytes, budget=budget)
            if tile is not None:
                why = (
                    f"optimizing {requested[0]}x{requested[1]} in {tile} px tiles: untiled needs about "
                    f"{_gib(need)}, {_gib(available)} available on {device} (--tile N sets the tile side)"
                )
                return SizeChoice(requested, requested, why, tile)
    size, note = fit_in_memory(requested, required_bytes, device=device, available=available)
    return SizeChoice(size, requested, note, config.tile)


def fit_output_size(
    out_size: tuple[int, int],
    config: StyleConfig,
    *,
    required_bytes: Callable[[tuple[int, int]], int] | None,
    tiled_bytes: Callable[[tuple[int, int], int], int] | None,
    device,
    available: int | None = None,
) -> tuple[StyleConfig, str | None]:
    """The memory check of the detail stage (``pipeline/detail.py``), which
    optimizes whole frames at ``out_size``: ``config`` as it is when they fit,
    else with the largest tile that fits (``config.tile``), else with the
    detail stage off (``detail_iters=0``: the result is resized); and one
    line saying which, or None."""
    if required_bytes is None or config.tile is not None:
        return config, None
    available = available_bytes(device) if available is None else available
    if available is None:
        return config, None
    budget = MEMORY_FRACTION * available
    need = required_bytes(out_size)
    if need <= budget:
        return config, None
    tile = fit_tiles(out_size, tiled_bytes, budget=budget) if tiled_bytes is not None else None
    size = f"{out_size[0]}x{out_size[1]}"
    if tile is not None:
        line = (
            f"finishing at {size} in {tile} px tiles: untiled needs about {_gib(need)}, "
            f"{_gib(available)} available on {device} (--tile N sets the tile side)"
        )
        return dataclasses.replace(config, tile=tile), line
    line = (
        f"no detail stage at {size}: it needs about {_gib(need)} and {device} has {_gib(available)} available; "
        f"the result is resized (choose a smaller --output-size)"
    )
    return dataclasses.replace(config, detail_iters=0), line


def fit_tiles(
    size: tuple[int, int], tiled_bytes: Callable[[tuple[int, int], int], int], *, budget: float
) -> int | None:
    """The largest of ``TILE_CHOICES`` smaller than the frame whose estimate
    fits in ``budget`` bytes; None when not even the smallest does (the
    full-size image, gradient and L-BFGS history do not shrink with tiles)."""
    for tile in TILE_CHOICES:
        if tile < max(size) and tiled_bytes(size, tile) <= budget:
            return tile
    return None


def fit_in_memory(
    size: tuple[int, int],
    required_bytes: Callable[[tuple[int, int]], int],
    *,
    device,
    available: int | None = None,
    fraction: float = MEMORY_FRACTION,
) -> tuple[tuple[int, int], str | None]:
    """``size`` if a frame of that size fits in ``fraction`` of the free memory,
    else the largest size of the same aspect ratio (even sides) that does.

    Returns ``(size, message)``: ``message`` is None when ``size`` fits, else
    one line saying what was asked, what is available and what is used instead.

    Raises:
        VidstyleError: not even a frame with a ``MIN_SHRUNK_SIDE`` shorter side fits.
    """
    available = available_bytes(device) if available is None else available
    if available is None:
        return size, None
    budget = fraction * available
    width, height = size
    need = required_bytes((width, height))
    if need <= budget:
        return (width, height), None
    # The estimate is close to linear in the pixel count: solve for the
    # scale, then step down until it fits (the layer walk rounds down).
    fixed = required_bytes((2, 2))
    scale = math.sqrt(max(budget - fixed, 0.0) / max(need - fixed, 1.0))
    while True:
        new_width, new_height = _even(width * scale), _even(height * scale)
        if min(new_width, new_height) < MIN_SHRUNK_SIDE:
            smallest = required_bytes((max(new_width, MIN_SHRUNK_SIDE), max(new_height, MIN_SHRUNK_SIDE)))
            raise VidstyleError(
                f"not enough memory on {device}: {_gib(available)} available, and even "
                f"{_gib(smallest)} would be needed for the smallest processing size"
            )
        if required_bytes((new_width, new_height)) <= budget:
            break
        scale *= 0.95
    message = (
        f"processing at {new_width}x{new_height} instead of {width}x{height}: "
        f"{width}x{height} needs about {_gib(need)} but {device} has {_gib(available)} available "
        f"(set --max-side or --size to choose the size)"
    )
    return (new_width, new_height), message


def available_bytes(device) -> int | None:
    """Memory free for this process on ``device`` in bytes; None when unknown.

    CUDA: ``torch.cuda.mem_get_info`` (free device memory). CPU: MemAvailable
    from /proc/meminfo, else available physical pages (sysconf).
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        recommended = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
        allocated = getattr(getattr(torch, "mps", None), "current_allocated_memory", None)
        if recommended is None or allocated is None:
            return None
        return int(recommended() - allocated())
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _gib(num_bytes: float) -> str:
    return f"{num_bytes / GIB:.1f} GiB"
