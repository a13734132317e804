"""What the VGG passes compute in: one decision per device, made once.

``--precision`` (``StyleConfig.precision``):

- ``auto`` (default): bfloat16 on CUDA GPUs that run it natively (compute
  capability 8.0 or newer: A100, RTX 30xx/40xx, H100, L4...), float32
  everywhere else (older GPUs, CPU, MPS).
- ``fp32``: float32 everywhere. (On Ampere and newer, cuDNN may still use
  TF32 for float32 convolutions, PyTorch's default.)
- ``bf16``: bfloat16. Refused (InputError) on a CUDA GPU below capability 8.0:
  ``torch.cuda.is_bf16_supported()`` says yes there too (T4, V100), but the
  bfloat16 convolutions are emulated, skip cuDNN's fast kernels and run far
  slower than float32. Honoured on CPU and MPS (tests use it to exercise the
  half path). On a CPU with bfloat16 instructions (AVX512-BF16, AMX) it is
  the fast choice: this project's CPU paints a warm frame at 256x144 in 0.60x
  the time of float32 at the same style loss and flicker (README, "Speed");
  ``auto`` is still float32 on every CPU (switching it would change every
  CPU number the README states, all measured in float32): on a CPU that has
  those instructions (``cpu_has_native_bf16``) a run with ``auto`` says so in
  one note, and ``--precision bf16`` asks for it.
- ``fp16``: float16 with dynamic loss scaling (``LossScaler``), on any device.

Why ``auto`` is float32 below capability 8.0 rather than float16: float16 has
5 exponent bits. Measured on the sample frame at 256x144 (float32 run): VGG
activations reach 1.5e4 at relu4_2 (float16's largest value is 65504: a
4x margin that a brighter frame or a larger --style-weight can eat), and 1-8%
of the gradients at relu4_1..relu5_1 fall below float16's smallest normal
number. Loss scaling fixes the second, not the first, and every overflow
costs L-BFGS a repeated evaluation (an L-BFGS history fed one non-finite
gradient is ruined, so the scaler must re-evaluate, never skip). float32 is the
choice that cannot go wrong; fp16 is there for users who measure it.

Does bf16's 8-bit mantissa disturb L-BFGS? Only its first step, which torch
makes too small to measure in bf16 (``optimize.FIRST_STEP_MAX`` has the
numbers and the fix). Measured on CPU, whose bf16 convolutions also
accumulate in float32: sample frame, 128x96, 30 cold iterations, final loss
7.49e6 in bf16 vs 7.56e6 in fp32; fp16 at 64x48, 20 iterations, 1.82e7 vs
1.78e7. GPU numbers: ``benchmarks/gpu_smoke.py``.

The half-precision path keeps a frozen copy of the network's weights in the
chosen dtype (``VGG19Features.cast_copy``) instead of autocast, which re-casts
every weight on every forward. Gram matrices, losses, the optimized image and
the L-BFGS history stay float32.
"""

from __future__ import annotations

import torch

from vidstyle.errors import InputError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
NAMES = {dtype: name for name, dtype in DTYPES.items()}
NATIVE_BF16_CAPABILITY = (8, 0)  # Ampere: bfloat16 tensor cores and cuDNN kernels


def requested_precision(config) -> str:
    """The precision ``config`` asks for (``config.precision``)."""
    return config.precision


def cuda_index(device: torch.device) -> int:
    """The index of the CUDA device ``device`` (plain ``cuda``: the current one)."""
    return device.index if device.index is not None else torch.cuda.current_device()


def cuda_capability(device: torch.device) -> tuple[int, int]:
    """Compute capability of the CUDA device ``device`` (its own index, not the
    current device's)."""
    major, minor = torch.cuda.get_device_capability(cuda_index(device))
    return int(major), int(minor)


def device_label(device: torch.device) -> str:
    """``cuda:0 (NVIDIA T4, capability 7.5)`` or just ``cpu``."""
    device = torch.device(device)
    if device.type != "cuda":
        return str(device)
    try:
        index = cuda_index(device)
        major, minor = torch.cuda.get_device_capability(index)
        return f"cuda:{index} ({torch.cuda.get_device_name(index)}, capability {major}.{minor})"
    except Exception:  # a label must never fail
        return str(device)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX),
    where ``--precision bf16`` is the fast choice. False where torch cannot
    tell (the probes are private torch functions; their absence is a no)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)
    except Exception:  # a probe must never stop a run
        return False


def choose_precision(requested: str, device, capability: tuple[int, int] | None = None) -> torch.dtype:
    """The dtype the VGG passes run in (see the module docstring).

    Args:
        requested: ``auto``, ``fp32``, ``bf16`` or ``fp16``.
        device: where the engine computes (``torch.device`` or name).
        capability: the CUDA compute capability ``(major, minor)``; None
            queries ``device`` (tests pass one to simulate a GPU).

    Raises:
        InputError: an unknown precision, or bf16 on a GPU without native bfloat16.
    """
    if requested not in PRECISIONS:
        raise InputError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if requested == "fp32":
        return torch.float32
    if device.type != "cuda":
        # CPU and MPS: float32 unless asked otherwise.
        return torch.float32 if requested == "auto" else DTYPES[requested]
    if capability is None:
        capability = cuda_capability(device)
    native_bf16 = tuple(capability) >= NATIVE_BF16_CAPABILITY
    if requested == "auto":
        return torch.bfloat16 if native_bf16 else torch.float32
    if requested == "bf16" and not native_bf16:
        raise InputError(
            f"--precision bf16 needs a GPU with native bfloat16 (compute capability "
            f"{NATIVE_BF16_CAPABILITY[0]}.{NATIVE_BF16_CAPABILITY[1]} or newer); {device} has "
            f"{capability[0]}.{capability[1]}, where bfloat16 convolutions are emulated and slower than "
            "float32: use --precision fp32 (what auto picks there) or fp16"
        )
    return DTYPES[requested]


BF16_CPU_NOTE = (
    "this CPU computes bfloat16 in hardware: --precision bf16 runs the VGG passes in about 0.6x the time "
    'at the same quality (README, "bfloat16 on a CPU"); auto stays fp32 on CPUs, --precision fp32 hides this note'
)


def precision_note(config, device) -> str | None:
    """A note about the precision on ``device``: fp16 on a CPU is emulated
    (about 100x slower than fp32 at 48 px on this project's CPU); ``auto`` on
    a CPU with bfloat16 instructions leaves a 1.6x speed-up unused, where the
    run computes VGG passes (the optimizer, training, refinement).

    Args:
        config: the run's ``StyleConfig``.
        device: where the engine computes.
    """
    if torch.device(device).type != "cpu":
        return None
    requested = requested_precision(config)
    if requested == "fp16":
        return "--precision fp16 on a CPU is emulated and many times slower than fp32 (what auto picks there)"
    uses_vgg = config.engine == "optimize" or (
        config.engine == "net" and (config.model is None or config.net_refine > 0)
    )
    if requested == "auto" and uses_vgg and cpu_has_native_bf16():
        return BF16_CPU_NOTE
    return None


def precision_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``bf16``."""
    return NAMES[dtype]


class LossScaler:
    """Dynamic loss scaling for float16 backward passes (Micikevicius et al.,
    "Mixed Precision Training", 2018), fitted to L-BFGS.

    The loss is multiplied by ``scale`` before ``backward`` so that small
    gradients inside the float16 network stay representable, and the gradient
    is divided by it afterwards. A non-finite gradient means the scale was too
    large: the caller halves it and evaluates again (``backoff``), never
    feeding L-BFGS a bad gradient. The scale never grows back: each overshoot
    would cost a wasted evaluation, and one frame's gradients stay within a
    narrow range. Checking the gradient is one host sync per evaluation, paid
    only under fp16.

    The scale starts at 16 and only halves. Gradients per pixel shrink with
    the pixel count (the losses are means): at 256x144 with the default
    weights the largest inside the network (relu1_1) is ~160 and the deep
    layers' median ~5e-4 (x16 keeps both in float16's normal range). Measured
    on CPU, starting at 16: 64x64 settled at 4, 32x32 at 1, 16x16 at 2**-6.
    The halvings happen once per run: the scaler lives as long as the engine.
    """

    INITIAL_SCALE = 16.0
    MIN_SCALE = 2.0**-16  # below this the forward pass itself overflows: give up

    def __init__(self, scale: float = INITIAL_SCALE):
        self.scale = float(scale)
        self.backoffs = 0

    def backoff(self) -> bool:
        """Halve the scale after a non-finite gradient; False once it is
        below ``MIN_SCALE`` (the float16 forward overflows, no scale helps)."""
        self.scale /= 2.0
        self.backoffs += 1
        return self.scale >= self.MIN_SCALE


def channels_last(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether the VGG passes on ``device`` in ``dtype`` run in the
    channels-last layout: always on CUDA (cuDNN's fast kernels), on CPU in
    bfloat16/float16 (oneDNN's reduced-precision kernels; sample at 256x144,
    2 threads, two runs: bf16 2.34-2.36 s a warm frame against 2.44-2.79 in
    NCHW), not in float32 there (4.08 against 3.88: no gain); not on MPS
    (``benchmarks/speed.py --sizes 256x144 --rows default,channels,bf16
    --frames 5 --ablation-frames 5``)."""
    return device.type == "cuda" or (device.type == "cpu" and dtype != torch.float32)
