"""Running out of memory, in vidstyle's words: recognising a failed
allocation whatever raised it, and the one line a user sees (where, what
size, how much, what to change)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

import torch

from vidstyle.engines.precision import choose_precision, device_label
from vidstyle.errors import OutOfMemoryError, VidstyleError
from vidstyle.sizing import MIN_SHRUNK_SIDE

OUT_OF_MEMORY_SHRINK = 0.7  # suggested --max-side (--crop) after running out of memory: ~half the pixels
MIN_CROP = 32  # the smallest training crop suggested
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


@contextlib.contextmanager
def memory_guard(describe_error: Callable[..., OutOfMemoryError], **facts) -> Iterator[None]:
    """A failed allocation inside the block becomes ``describe_error(err, **facts)``
    (``describe`` or ``describe_training``); other errors pass through."""
    try:
        yield
    except VidstyleError:
        raise  # already in vidstyle's words
    except Exception as err:
        if not is_out_of_memory(err):
            raise
        raise describe_error(err, **facts) from err


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
    facts = [f"precision {precision}", *_allocation_fact(err)]
    if frame_size is not None:
        try:
            facts.append(f"vidstyle estimates {required_bytes(frame_size) / 2**30:.1f} GiB for this size")
        except Exception:  # an estimate must not hide the real error
            pass
    facts += _free_memory_fact(device)
    advice = []
    if frame_size is not None:
        advice.append(f"a smaller --max-side (e.g. --max-side {_smaller_side(frame_size)})")
    advice += _device_advice(device, dtype)
    if compiling:
        advice.append("leaving out --compile")
    message = f"{what} ({'; '.join(facts)}); try {', or '.join(advice) if advice else 'a smaller --max-side'}"
    return OutOfMemoryError(message, device=str(device), size=frame_size, stage=stage)


def describe_training(
    err: BaseException,
    *,
    stage: str,
    device: torch.device,
    precision: str,
    dtype: torch.dtype,
    frame_size: tuple[int, int] | None,
    crop: tuple[int, int] | None = None,
    batch_pairs: int | None = None,
    on_the_fly: bool = False,
) -> OutOfMemoryError:
    """The ``OutOfMemoryError`` for ``err``, raised while training a network
    (``vidstyle train``; ``on_the_fly``: the ``net`` engine training one for
    a file run, where only ``vidstyle train`` has --crop and --batch).
    ``crop`` (width, height) and ``batch_pairs`` are what one step holds:
    ``2 * batch_pairs`` crops through the network and VGG19, with gradients."""
    what = f"out of memory on {device_label(device)} while {stage}"
    if crop is not None and batch_pairs is not None:
        what += f" on {batch_pairs} pair{'s' if batch_pairs != 1 else ''} of {crop[0]}x{crop[1]} crops per step"
    if frame_size is not None:
        what += f", frames {frame_size[0]}x{frame_size[1]}"
    facts = [f"precision {precision}", *_allocation_fact(err), *_free_memory_fact(device)]
    advice = []
    if crop is not None and batch_pairs is not None:
        smaller = {}  # flag -> a smaller value
        if max(crop) > MIN_CROP:
            smaller["--crop"] = max(MIN_CROP, int(max(crop) * OUT_OF_MEMORY_SHRINK) // 8 * 8)
        if batch_pairs > 1:
            smaller["--batch"] = batch_pairs // 2
        if on_the_fly and smaller:
            flags = " ".join(f"{flag} {value}" for flag, value in smaller.items())
            advice.append(f"training the look first ('vidstyle train ... {flags}') and passing it with --model")
        else:
            advice += [f"a smaller {flag} (e.g. {flag} {value})" for flag, value in smaller.items()]
    if frame_size is not None:
        advice.append(f"a smaller --max-side (e.g. --max-side {_smaller_side(frame_size)})")
    else:  # reading the clips: every frame is decoded at the processing size
        advice.append("a smaller --max-side, or shorter clips")
    advice += _device_advice(device, dtype)
    message = f"{what} ({'; '.join(facts)}); try {', or '.join(advice)}"
    return OutOfMemoryError(message, device=str(device), size=frame_size, stage=stage)


def _smaller_side(frame_size: tuple[int, int]) -> int:
    """A --max-side with about half the pixels of ``frame_size``."""
    return max(MIN_SHRUNK_SIDE, int(max(frame_size) * OUT_OF_MEMORY_SHRINK) // 16 * 16)


def _allocation_fact(err: BaseException) -> list[str]:
    """What the failed allocation asked for, when the error says."""
    allocation = _ALLOCATION_TEXT.search(str(err))
    return [f"tried to allocate {allocation.group(1)}"] if allocation is not None else []


def _free_memory_fact(device: torch.device) -> list[str]:
    """What the GPU has free now (nothing elsewhere)."""
    if device.type != "cuda":
        return []
    try:
        free, total = torch.cuda.mem_get_info(device)
    except Exception:  # a fact must not hide the real error
        return []
    return [f"{free / 2**30:.1f} of {total / 2**30:.1f} GiB free now"]


def _device_advice(device: torch.device, dtype: torch.dtype) -> list[str]:
    """Half precision where the run used float32 on a GPU; other programs on it."""
    advice = []
    if dtype == torch.float32 and device.type == "cuda":
        try:
            faster = "bf16" if choose_precision("auto", device) == torch.bfloat16 else "fp16"
        except Exception:
            faster = "fp16"
        advice.append(f"--precision {faster} (halves the network's activations)")
    if device.type == "cuda":
        advice.append("closing other programs that use the GPU")
    return advice
