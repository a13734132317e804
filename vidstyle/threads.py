"""Run a pipeline stage ahead of its consumer on a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(items: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` on a daemon thread, at most ``depth`` items ahead.

    PyAV, OpenCV and torch release the GIL in their heavy calls, so decoding
    and optical flow overlap with the optimizer. An exception raised by the
    producer is re-raised in the consumer, at the position it occurred. When
    the consumer stops early, the producer is told to stop and is not left
    blocked.
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as err:  # handed to the consumer
            put(_Failure(err))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name="vidstyle-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        close = getattr(items, "close", None)
        thread.join(timeout=5.0)
        if close is not None and not thread.is_alive():
            close()
