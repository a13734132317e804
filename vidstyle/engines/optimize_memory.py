"""The optimizing engine's memory model: how much one frame's optimization takes.

The optimizer keeps, per frame, the VGG activations autograd saves for the
backward pass, the L-BFGS curvature history (``2 x history_size`` copies of
the image) and a few image-sized working tensors; all of it grows with the
pixel count. ``sizing.choose_size`` compares ``required_bytes`` with the
memory the device has free.

The estimate is a model, calibrated on this project's CPU run (fp32, MKL-DNN):
peak resident memory of one frame's optimization measured with
``/proc/self/clear_refs`` + ``VmHWM`` (tests/test_memory.py checks it stays
within a factor of 3 at a small size).

Not yet calibrated on CUDA (no GPU has run it): the same activation count
with the dtype ``engines/precision.py`` picks for the device, the network
counted in that dtype (under reduced precision only its frozen bf16/fp16
copy lives on the GPU), and ``ACTIVATION_OVERHEAD`` from the CPU run, which
covers cuDNN workspaces only roughly. ``benchmarks/gpu_smoke.py`` prints the
measured peak (``torch.cuda.max_memory_allocated``) at 1280x720 beside this
estimate: calibrate from its output.

Tiles (``config.tile``, ``engines/tiling.py``): only one window's activations
(the core plus the halo on each side) live at a time; the image, its
gradient, the L-BFGS history and the content targets stay at full size.
``estimate_bytes(..., tile=N)`` counts that, with the same overhead factor
(not calibrated separately: ``benchmarks/tiling.py`` prints the measured peak
beside it).
"""

from __future__ import annotations

import torch

from vidstyle.config import StyleConfig
from vidstyle.engines.optimize import LBFGS_HISTORY_SIZE
from vidstyle.engines.precision import choose_precision, requested_precision
from vidstyle.engines.tiling import DEFAULT_HALO, align_halo, align_tile, feature_size, layer_stride, needs_tiles
from vidstyle.features import _BLOCKS, deepest_layer, layer_names

# Measured peak / what the layer walk below counts as saved for backward:
# gradients, convolution workspaces and the no-grad passes (content target,
# final losses) on top of the saved activations. CPU, fp32, 128x96..512x288:
# 3.2 kB per pixel measured against 1.5 kB per pixel counted.
ACTIVATION_OVERHEAD = 2.2
FRAME_FIXED_BYTES = 16 * 2**20  # per-frame buffers that do not scale with the image (weight reorders, workspaces)
# image-sized float32 tensors besides the L-BFGS history (pixels, grads, d, TV and temporal terms)
IMAGE_WORK_TENSORS = 12
RUNTIME_BYTES = 256 * 2**20  # libraries, allocator caches, one-time imports: not per frame


def activation_bytes(width: int, height: int, *, layers, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the VGG19 activations autograd keeps for one backward pass of a
    ``width`` x ``height`` image, up to the deepest of ``layers`` (ReLU
    outputs, pooling outputs and their int64 indices). Under mixed precision
    (``dtype`` bf16/fp16) the requested layers are also kept as float32 copies,
    which the Gram matrices and the content loss are computed from."""
    order = layer_names()
    deepest = deepest_layer(layers)
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


def _channels(name: str) -> int:
    """Channels of VGG19 layer ``name`` (``reluB_C``, ``convB_C``, ``poolB``)."""
    return _BLOCKS[int(name[4]) - 1][2]


def model_bytes(layers, *, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the VGG19 weights in ``dtype`` up to the deepest of ``layers``."""
    order = layer_names()
    deepest = deepest_layer(layers)
    params, in_channels = 0, 3
    for name in order[: deepest + 1]:
        if name.startswith("conv"):
            out_channels = _BLOCKS[int(name[4]) - 1][2]
            params += out_channels * in_channels * 9 + out_channels
            in_channels = out_channels
    return params * torch.empty((), dtype=dtype).element_size()


def estimate_bytes(
    width: int,
    height: int,
    *,
    layers=StyleConfig.content_layers + StyleConfig.style_layers,
    dtype: torch.dtype = torch.float32,
    history_size: int = LBFGS_HISTORY_SIZE,
    temporal_frames: int = 1,
    tile: int | None = None,
    halo: int = DEFAULT_HALO,
    content_layers=StyleConfig.content_layers,
) -> int:
    """Peak bytes one frame's optimization adds at ``width`` x ``height``,
    beyond the loaded network (see ``model_bytes``) and ``RUNTIME_BYTES``.

    Args:
        layers: every content and style layer (the network stops at the deepest).
        dtype: what the VGG passes compute in (``precision.choose_precision``):
            float32, bfloat16 or float16.
        history_size: L-BFGS curvature pairs; each pair is two float32 images.
        temporal_frames: warped previous frames of the temporal loss (each a
            float32 image plus a float32 weight map).
        tile, halo: optimize in tiles of this core side with this context
            (``engines/tiling.py``): the activations are one window's, and the
            full-size float32 content targets are counted apart.
        content_layers: the layers whose targets tiles keep at full size.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive, got {width}x{height}")
    image = 3 * width * height * 4
    targets = 0
    window = (width, height)
    if tile is not None and needs_tiles((width, height), tile):
        side = align_tile(tile) + 2 * align_halo(halo)
        window = (min(width, side), min(height, side))
        for name in content_layers:
            h, w = feature_size((width, height), layer_stride(name))
            targets += _channels(name) * h * w * 4
    activations = ACTIVATION_OVERHEAD * activation_bytes(*window, layers=layers, dtype=dtype) + targets
    optimizer = 2 * history_size * image + IMAGE_WORK_TENSORS * image
    temporal = temporal_frames * (image + width * height * 4) * 2  # targets + their difference
    return int(activations + optimizer + temporal + FRAME_FIXED_BYTES)


def required_bytes(size: tuple[int, int], *, config: StyleConfig, device: torch.device | str) -> int:
    """Everything a run at ``size`` = (width, height) needs: one frame's
    optimization (``estimate_bytes``, in ``config.tile`` tiles when set), the
    network and the runtime."""
    layers = tuple(dict.fromkeys(config.content_layers + config.style_layers))
    dtype = choose_precision(requested_precision(config), torch.device(device))
    temporal_frames = len(config.long_term) if config.temporal and config.temporal_weight > 0 else 0
    frame = estimate_bytes(
        *size,
        layers=layers,
        dtype=dtype,
        temporal_frames=temporal_frames,
        tile=config.tile,
        halo=config.tile_halo,
        content_layers=config.content_layers,
    )
    network = model_bytes(layers, dtype=dtype)
    if dtype != torch.float32 and torch.device(device).type == "cpu":
        network += model_bytes(layers)  # the float32 original stays in host memory beside its copy
    return frame + network + RUNTIME_BYTES
