"""A ``FrameWriter`` whose encoding runs on its own thread, so the engine
(on a GPU: the device) never waits for the encoder: ``write`` hands the frame
over and returns; at most ``depth`` frames wait. PyAV releases the GIL while
it encodes, so the two overlap on a CPU too.

Errors keep their meaning: a failure of the wrapped writer (disk full, an
encoder error, the output folder deleted) is raised by the next ``write``,
``close`` or ``close_partial`` call, in the caller's thread, and no frame is
taken after it. ``close`` and ``close_partial`` first let every handed-over
frame reach the wrapped writer, so an interrupted run still keeps them all.
"""

from __future__ import annotations

import queue
import threading

from vidstyle.frames import Frame
from vidstyle.media.destination import AtomicWriter

_STOP = object()
DEFAULT_DEPTH = 2  # frames handed over and not yet encoded


class BackgroundWriter(AtomicWriter):
    """Wraps ``writer`` (a ``FrameWriter``); satisfies ``FrameWriter`` itself
    (``AtomicWriter`` gives it the same ``with`` behaviour).

    Args:
        writer: the writer that encodes; used only by the background thread
            until ``close``/``close_partial``/``abort``.
        depth: frames that may wait for the encoder (memory: ``depth`` frames).
    """

    def __init__(self, writer, *, depth: int = DEFAULT_DEPTH):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.writer = writer
        self.dst = writer.dst
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None  # the wrapped writer's failure, kept for good
        self._reported = False  # ...and raised in the caller's thread once
        self._handed_over = 0
        self._thread = threading.Thread(target=self._run, name="vidstyle-writer", daemon=True)
        self._thread.start()

    @property
    def frames_written(self) -> int:
        """Frames handed to ``write`` (all of them reach the file unless an error is raised)."""
        return self._handed_over

    @property
    def takes_audio(self) -> bool:
        return self.writer.takes_audio

    @property
    def stored_size(self) -> tuple[int, int]:
        return self.writer.stored_size

    def write(self, frame: Frame) -> None:
        self._raise_pending()
        if self._error is not None:
            raise ValueError(f"{self.dst}: the writer failed earlier ({self._error}); it takes no more frames")
        self._queue.put(frame)
        self._handed_over += 1

    def close(self) -> str:
        self._drain()
        return self.writer.close()

    def close_partial(self) -> str | None:
        self._drain()
        return self.writer.close_partial()

    def abort(self) -> None:
        self._stop()
        self.writer.abort()

    # -- the thread ---------------------------------------------------------

    def _run(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is _STOP:
                return
            if self._error is not None:
                continue  # after a failure: take what is queued, encode nothing
            try:
                self.writer.write(frame)
            except BaseException as err:  # handed to the caller's thread
                self._error = err

    def _stop(self) -> None:
        """Let the thread take everything queued, then end it."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _drain(self) -> None:
        """Every handed-over frame has reached the wrapped writer; raise its error if one failed."""
        self._stop()
        self._raise_pending()

    def _raise_pending(self) -> None:
        if self._error is not None and not self._reported:
            self._reported = True
            raise self._error
