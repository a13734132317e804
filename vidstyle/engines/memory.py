"""How much memory optimizing one frame takes, and a processing size that fits.

The optimizer keeps, per frame, the VGG activations autograd saves for the
backward pass, the L-BFGS curvature history (``2 x history_size`` copies of
the image) and a few image-sized working tensors; all of it grows with the
pixel count. ``choose_processing_size`` compares that estimate with the memory
the device has free and, rather than let the run die of an out-of-memory
error half-way through, picks a smaller size and says so.

The estimate is a model, calibrated on this project's CPU run (fp32, MKL-DNN):
peak resident memory of one frame's optimization measured with
``/proc/self/clear_refs`` + ``VmHWM`` (tests/test_memory.py checks it stays
within a factor of 3 at a small size).
"""

from __future__ import annotations

import math
import os

import torch

from vidstyle.config import StyleConfig
from vidstyle.errors import VidstyleError
from vidstyle.features import _BLOCKS, layer_names
from vidstyle.engines.optimize import LBFGS_HISTORY_SIZE

GIB = 2**30
# Measured peak / what the layer walk below counts as saved for backward:
# gradients, convolution workspaces and the no-grad passes (content target,
# final losses) on top of the saved activations. CPU, fp32, 128x96..512x288:
# 3.2 kB per pixel measured against 1.5 kB per pixel counted.
ACTIVATION_OVERHEAD = 2.2
FRAME_FIXED_BYTES = 16 * 2**20  # per-frame buffers that do not scale with the image (weight reorders, workspaces)
IMAGE_WORK_TENSORS = 12  # image-sized float32 tensors besides the L-BFGS history (pixels, grads, d, TV and temporal terms)
RUNTIME_BYTES = 256 * 2**20  # libraries, allocator caches, one-time imports: not per frame
DEFAULT_FRACTION = 0.8  # use at most this share of the memory available
MIN_SIDE = 32  # never shrink the shorter side below this


def activation_bytes(width: int, height: int, *, layers, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the VGG19 activations autograd keeps for one backward pass of a
    ``width`` x ``height`` image, up to the deepest of ``layers`` (ReLU
    outputs, pooling outputs and their int64 indices). Under mixed precision
    (``dtype`` bf16/fp16) the requested layers are also kept as float32 copies,
    which the Gram matrices and the content loss are computed from."""
    order = layer_names()
    deepest = max(order.index(name) for name in layers)
    itemsize = torch.empty((), dtype=dtype).element_size()
    h, w = height, width
    total = 0
    for name in order[: deepest + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
            channels = _BLOCKS[int(name[4]) - 1][2]
            total += channels * h * w * (itemsize + 8)  # output + argmax indices
        elif name.startswith("relu"):
            channels = _BLOCKS[int(name[4]) - 1][2]
            total += channels * h * w * itemsize
            if name in layers and itemsize < 4:
                total += channels * h * w * 4  # the float32 copy the losses use
    return total


def model_bytes(layers) -> int:
    """Bytes of the float32 VGG19 weights up to the deepest of ``layers``."""
    order = layer_names()
    deepest = max(order.index(name) for name in layers)
    params, in_channels = 0, 3
    for name in order[: deepest + 1]:
        if name.startswith("conv"):
            out_channels = _BLOCKS[int(name[4]) - 1][2]
            params += out_channels * in_channels * 9 + out_channels
            in_channels = out_channels
    return params * 4


def estimate_bytes(
    width: int,
    height: int,
    *,
    layers=StyleConfig.content_layers + StyleConfig.style_layers,
    dtype: torch.dtype = torch.float32,
    history_size: int = LBFGS_HISTORY_SIZE,
    temporal_frames: int = 1,
) -> int:
    """Peak bytes one frame's optimization adds at ``width`` x ``height``,
    beyond the loaded network (see ``model_bytes``) and ``RUNTIME_BYTES``.

    Args:
        layers: every content and style layer (the network stops at the deepest).
        dtype: what the VGG passes compute in: float32, or bfloat16/float16
            under autocast on CUDA.
        history_size: L-BFGS curvature pairs; each pair is two float32 images.
        temporal_frames: warped previous frames of the temporal loss (each a
            float32 image plus a float32 weight map).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive, got {width}x{height}")
    image = 3 * width * height * 4
    activations = ACTIVATION_OVERHEAD * activation_bytes(width, height, layers=layers, dtype=dtype)
    optimizer = 2 * history_size * image + IMAGE_WORK_TENSORS * image
    temporal = temporal_frames * (image + width * height * 4) * 2  # targets + their difference
    return int(activations + optimizer + temporal + FRAME_FIXED_BYTES)


def available_bytes(device: torch.device | str) -> int | None:
    """Memory free for this process on ``device`` in bytes; None when unknown.

    CUDA: ``torch.cuda.mem_get_info`` (free device memory). CPU: MemAvailable
    from /proc/meminfo, else available physical pages (sysconf).
    """
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


def required_bytes(size: tuple[int, int], *, config: StyleConfig, device: torch.device | str) -> int:
    """Everything a run at ``size`` = (width, height) needs: one frame's
    optimization (``estimate_bytes``), the network and the runtime."""
    layers = tuple(dict.fromkeys(config.content_layers + config.style_layers))
    half = torch.device(device).type == "cuda" and config.half is not False
    temporal_frames = len(config.long_term) if config.temporal and config.temporal_weight > 0 else 0
    frame = estimate_bytes(*size, layers=layers, dtype=torch.bfloat16 if half else torch.float32,
                           temporal_frames=temporal_frames)
    return frame + model_bytes(layers) + RUNTIME_BYTES


def choose_processing_size(
    size: tuple[int, int],
    device: torch.device | str,
    *,
    config: StyleConfig | None = None,
    available: int | None = None,
    fraction: float = DEFAULT_FRACTION,
) -> tuple[tuple[int, int], str | None]:
    """``size`` if a frame of that size fits in ``fraction`` of the free memory,
    else the largest size of the same aspect ratio (even sides) that does.

    Args:
        size: requested processing size (width, height).
        device: where the optimizer runs.
        config: the run's options (layers, mixed precision, temporal frames).
        available: free bytes; default measured with ``available_bytes``.

    Returns:
        ``(size, message)``: ``message`` is None when ``size`` fits, else one
        line saying what was asked, what is available and what is used instead.

    Raises:
        VidstyleError: not even a frame with a ``MIN_SIDE`` shorter side fits.
    """
    config = config or StyleConfig()
    available = available_bytes(device) if available is None else available
    if available is None:
        return tuple(size), None
    budget = fraction * available
    width, height = size
    need = required_bytes((width, height), config=config, device=device)
    if need <= budget:
        return (width, height), None
    # The estimate is close to linear in the pixel count: solve for the
    # scale, then step down until it fits (the layer walk rounds down).
    fixed = required_bytes((2, 2), config=config, device=device)
    scale = math.sqrt(max(budget - fixed, 0.0) / max(need - fixed, 1.0))
    while True:
        new_width, new_height = _even(width * scale), _even(height * scale)
        if min(new_width, new_height) < MIN_SIDE:
            raise VidstyleError(
                f"not enough memory on {device}: {_gib(available)} available, and even "
                f"{_gib(required_bytes((max(new_width, MIN_SIDE), max(new_height, MIN_SIDE)), config=config, device=device))} "
                "would be needed for the smallest processing size"
            )
        if required_bytes((new_width, new_height), config=config, device=device) <= budget:
            break
        scale *= 0.95
    message = (f"processing at {new_width}x{new_height} instead of {width}x{height}: "
               f"{width}x{height} needs about {_gib(need)} but {device} has {_gib(available)} available "
               f"(set --max-side or --size to choose the size)")
    return (new_width, new_height), message


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _gib(num_bytes: float) -> str:
    return f"{num_bytes / GIB:.1f} GiB"
