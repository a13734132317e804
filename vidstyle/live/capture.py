"""Capture: the source is decoded on its own thread into a one-slot mailbox.

    capture thread:  source frames -> LatestFrame (newer replaces older, counted as dropped)
    live loop:       LatestFrame.take() -> the newest frame, never a queue

This is where live video drops frames (files never do): however slow the
engine is, at most one frame waits, so memory and latency stay bounded.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from vidstyle.frames import Frame

T = TypeVar("T")

CAPTURE_JOIN_TIMEOUT_S = 2.0  # wait this long for the capture thread to stop


class LatestFrame(Generic[T]):
    """A one-slot mailbox between one producer and one consumer: ``put``
    replaces an item not yet taken (counted in ``dropped``), ``take`` waits
    for the newest. It never holds more than one item.

    Thread-safe. ``close()`` wakes the consumer; after it, ``take`` returns
    what is left and then None.
    """

    def __init__(self):
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._changed = threading.Condition()
        self.dropped = 0  # items replaced before anyone took them
        self.max_depth = 0  # the most items ever held at once (1 by construction; tests check it)

    def put(self, item: T) -> bool:
        """Offer ``item``; returns True when it replaced an older, untaken one."""
        with self._changed:
            replaced = self._full
            self.dropped += int(replaced)
            self._item, self._full = item, True
            self.max_depth = max(self.max_depth, 1)
            self._changed.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item, waiting up to ``timeout`` seconds; None when none came."""
        with self._changed:
            if not self._full and not self._closed:
                self._changed.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """No more items will come."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def finished(self) -> bool:
        """Closed and empty: nothing will ever be taken again."""
        with self._changed:
            return self._closed and not self._full

    def __len__(self) -> int:
        with self._changed:
            return int(self._full)


@dataclasses.dataclass(frozen=True)
class Captured:
    """A source frame and when it arrived (``clock`` seconds, monotonic)."""

    frame: Frame
    captured_s: float


class CaptureThread:
    """Decodes ``frames`` on a daemon thread into a ``LatestFrame`` mailbox.

    The iterator is used on that thread only, and closed there when the
    thread ends (for ``media.LiveSource.frames()`` that closes the source). An
    exception from it is kept in ``error``; the mailbox is closed either way.

    Args:
        frames: the source's frames.
        mailbox: receives a ``Captured`` per frame.
        clock: monotonic seconds, stamped on each frame as it arrives.
    """

    def __init__(
        self, frames: Iterable[Frame], mailbox: LatestFrame[Captured], *, clock: Callable[[], float] = time.monotonic
    ):
        self.frames_in = 0
        self.error: BaseException | None = None
        self._frames = frames
        self._mailbox = mailbox
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vidstyle-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, timeout: float = CAPTURE_JOIN_TIMEOUT_S) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` seconds (a read
        blocked on a silent network source ends at its read timeout); returns
        whether it has stopped."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        iterator = iter(self._frames)
        try:
            for frame in iterator:
                self.frames_in += 1
                self._mailbox.put(Captured(frame, self._clock()))
                if self._stop.is_set():
                    break
        except BaseException as err:  # handed to the live loop
            self.error = err
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            self._mailbox.close()
