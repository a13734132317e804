"""Run a pipeline stage ahead of its consumer on a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer left
_JOIN_TIMEOUT_S = 5.0


class _Failure:
    """An exception raised by the producer, carried to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def prefetch(items: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` on a daemon thread, at most ``depth`` items ahead.

    PyAV, OpenCV and torch release the GIL in their heavy calls, so decoding
    and optical flow overlap with the optimizer. The producer pulls item n+1
    from ``items`` only after the consumer has taken item n+1-depth: no more
    than ``depth`` items are ever produced and not yet consumed, so memory is
    bounded. An exception raised by the producer is re-raised in the consumer
    where it occurred (after the items before it). When the consumer stops
    early, the producer is told to stop and is not left blocked, and ``items``
    is closed if it is a generator.

    Args:
        items: any iterable; it is iterated on the background thread only.
        depth: how many items may be produced ahead (at least 1).
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    slots = threading.Semaphore(depth)  # one slot per item produced and not yet consumed
    buffer: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def acquire_slot() -> bool:
        while not stop.is_set():
            if slots.acquire(timeout=_POLL_S):
                return True
        return False

    def produce() -> None:
        try:
            iterator = iter(items)
            while acquire_slot():
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                buffer.put(item)
            else:
                return  # the consumer left
        except BaseException as err:  # handed to the consumer
            buffer.put(_Failure(err))
            return
        buffer.put(_DONE)

    thread = threading.Thread(target=produce, name="vidstyle-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            slots.release()
            yield item
    finally:
        stop.set()
        thread.join(timeout=_JOIN_TIMEOUT_S)
        close = getattr(items, "close", None)
        if close is not None and not thread.is_alive():
            close()
