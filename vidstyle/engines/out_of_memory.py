"""Running out of memory, in vidstyle's words: recognising a failed
allocation whatever raised it, and the one line a user sees (where, what
size, how much, what to change)."""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from vidstyle.engines.precision import choose_precision, device_label
from vidstyle.errors import OutOfMemoryError, VidstyleError
from vidstyle.sizing import MIN_SHRUNK_SIDE

OUT_OF_MEMORY_SHRINK = 0.7  # suggested --max-side after running out of memory: ~half the pixels
_OUT_OF_MEMORY_TEXT = re.compile(r"out of memory|can't allocate memory|ALLOC_FAILED", re.IGNORECASE)
_ALLOCATION_TEXT = re.compile(r"tried to allocate ([0-9.]+ ?[KMGT]?i?B)", re.IGNORECASE)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` (or what it wraps: torch.compile wraps compiler errors)
    is a failed allocation: ``torch.OutOfMemoryError`` (CUDA), a CPU or MPS
    allocator's RuntimeError, cuBLAS/cuDNN allocation failures, MemoryError."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, VidstyleError):
            return False  # already reported in vidstyle's words
        if isinstance(current, (torch.OutOfMemoryError, MemoryError)):
            return True
        if isinstance(current, RuntimeError) and _OUT_OF_MEMORY_TEXT.search(str(current)):
            return True
        current = current.__cause__ or getattr(current, "inner_exception", None)
    return False


def describe(
    err: BaseException,
    *,
    stage: str,
    size: tuple[int, int] | None,
    frame_size: tuple[int, int] | None,
    device: torch.device,
    precision: str,
    dtype: torch.dtype,
    compiling: bool,
    required_bytes: Callable[[tuple[int, int]], int],
) -> OutOfMemoryError:
    """The ``OutOfMemoryError`` for ``err``, raised while ``stage`` ran at
    ``size`` (the coarse level of ``frame_size`` when they differ)."""
    where = device_label(device)
    if size is None:
        what = f"out of memory on {where} while {stage}"
    elif frame_size is not None and frame_size != size:  # not None: falls back to size
        what = (
            f"out of memory on {where} while {stage} at {size[0]}x{size[1]}, "
            f"the coarse level of a {frame_size[0]}x{frame_size[1]} frame"
        )
    else:
        what = f"out of memory on {where} while {stage} at {size[0]}x{size[1]}"
    facts = [f"precision {precision}"]
    if (allocation := _ALLOCATION_TEXT.search(str(err))) is not None:
        facts.append(f"tried to allocate {allocation.group(1)}")
    if frame_size is not None:
        try:
            facts.append(f"vidstyle estimates {required_bytes(frame_size) / 2**30:.1f} GiB for this size")
        except Exception:  # an estimate must not hide the real error
            pass
    if device.type == "cuda":
        try:
            free, total = torch.cuda.mem_get_info(device)
            facts.append(f"{free / 2**30:.1f} of {total / 2**30:.1f} GiB free now")
        except Exception:
            pass
    advice = []
    if frame_size is not None:
        smaller = max(MIN_SHRUNK_SIDE, int(max(frame_size) * OUT_OF_MEMORY_SHRINK) // 16 * 16)
        advice.append(f"a smaller --max-side (e.g. --max-side {smaller})")
    if dtype == torch.float32 and device.type == "cuda":
        try:
            faster = "bf16" if choose_precision("auto", device) == torch.bfloat16 else "fp16"
        except Exception:
            faster = "fp16"
        advice.append(f"--precision {faster} (halves the network's activations)")
    if device.type == "cuda":
        advice.append("closing other programs that use the GPU")
    if compiling:
        advice.append("leaving out --compile")
    message = f"{what} ({'; '.join(facts)}); try {', or '.join(advice) if advice else 'a smaller --max-side'}"
    return OutOfMemoryError(message, device=str(device), size=frame_size, stage=stage)
