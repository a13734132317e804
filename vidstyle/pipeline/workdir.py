"""The work directory that makes long runs resumable.

Where: ``work_dir_for(output)``, a folder named after the output (its name
and a hash of its absolute path) under the work root: ``--work-dir``, else
``$VIDSTYLE_WORK_DIR``, else ``$XDG_CACHE_HOME/vidstyle/work`` (by default
``~/.cache/vidstyle/work``). Not beside the output: finished frames survive
an output folder that is deleted or unmounted mid-run, and the output folder
holds nothing but outputs. The same command finds the same folder again.

Layout of the work directory:

- ``frames.json``: the run's fingerprint (config, processing size, input and
  style identities) and frame shape;
- ``frames.u8``: every finished stylized frame, raw uint8 ``(H, W, 3)`` RGB at
  the processing size, appended in order (one flat file, not thousands);
- ``frames.idx``: one line per finished frame, written after its pixels are
  on disk, so a frame counts only once it is complete;
- ``inputs.*``: the same for the decoded input frames, in multi-pass mode only
  (later passes sweep backwards);
- ``run.lock``: locked by the run writing the output (``worklock.WorkLock``),
  so that a second run onto the same output is refused instead of sharing
  the folder; the lock, not the file, dies with its process.

A rerun with the same fingerprint continues after the last complete frame; a
different fingerprint starts over.

Saving runs on a background thread (like ``media.BackgroundWriter`` for the
encoder), so the engine (on a GPU: the device) never waits for the disk's
fsync: ``append`` hands the frame over and returns; at most ``depth`` frames
wait, readable from memory meanwhile. A failed save (disk full) is raised by
the next call in the caller's thread, or by ``flush``; ``flush`` returns once
every handed-over frame is on disk. The thread is not a daemon and ends when
nothing waits, so even a run that exits without ``flush`` (Ctrl-C) saves
what it handed over; a kill -9 loses at most the frames still waiting, and a
torn last frame is not counted, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading

import numpy as np

from vidstyle.errors import OutputError
from vidstyle.media.input_sequence import find_input_sequence
from vidstyle.media.reading import decoding_identity

FORMAT_VERSION = 1
DEFAULT_DEPTH = 3  # frames handed to ``append`` and not yet on disk

# The saving thread of each data file in this process, so that a store opened
# again on the same folder (a rerun through the API) first waits for it.
_saving_threads: dict[str, threading.Thread] = {}
_saving_threads_lock = threading.Lock()


WORK_DIR_ENV = "VIDSTYLE_WORK_DIR"


def work_root() -> str:
    """Where work directories go: ``$VIDSTYLE_WORK_DIR``, else the user's cache."""
    if os.environ.get(WORK_DIR_ENV):
        return os.path.abspath(os.environ[WORK_DIR_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "vidstyle", "work")


def work_dir_for(output_path, *, root: str | None = None) -> str:
    """``out/clip.mp4`` -> ``ROOT/clip.mp4-<12 hex digits of the absolute path's hash>``
    (``root`` None: ``work_root()``)."""
    absolute = os.path.abspath(os.fspath(output_path))
    digest = hashlib.sha256(absolute.encode()).hexdigest()[:12]
    return os.path.join(root or work_root(), f"{os.path.basename(absolute)}-{digest}")


def file_identity(path) -> dict:
    """Size, modification time and a hash of the first MiB: enough to notice a
    replaced input without reading gigabytes."""
    stat = os.stat(path)
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(1 << 20)).hexdigest()
    return {"path": os.path.abspath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


def input_identity(path) -> dict:
    """``file_identity`` of a video file with what decides how its frames
    are decoded (``media.reading.decoding_identity``: the video stream read,
    the turn upright, the colour tags; an edit of the file's index can change
    them without changing its size or first MiB); for an image sequence
    (``frames/%04d.png`` or its folder) every file's name, size and
    modification time (``InputSequence.identity``), so that one changed frame is noticed."""
    sequence = find_input_sequence(path)
    if sequence is not None:
        return sequence.identity()
    return {**file_identity(path), **decoding_identity(path)}


class FrameStore:
    """Append-only store of finished frames of one shape.

    Args:
        path: the work directory (created if missing).
        fingerprint: JSON-able description of everything that decides the
            frames' pixels.
        shape: ``(H, W, 3)`` of every frame.
        resume: reuse matching frames already in ``path``; False starts over.
        depth: frames that may wait for the disk (memory: ``depth`` frames).

    After construction ``resumed`` is the number of frames kept from an
    earlier run and ``restart_reason`` says why earlier frames were dropped
    (None when there were none or they were kept). ``count`` includes the
    frames handed to ``append`` that are still on their way to the disk.
    """

    def __init__(
        self,
        path,
        *,
        fingerprint: dict,
        shape: tuple[int, int, int],
        resume: bool = True,
        name: str = "frames",
        depth: int = DEFAULT_DEPTH,
    ):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.path = os.fspath(path)
        self.name = name
        self.shape: tuple[int, int, int] = (shape[0], shape[1], shape[2])
        self.fingerprint = fingerprint
        self.frame_bytes = int(np.prod(self.shape))
        self.meta = {"format": FORMAT_VERSION, "shape": list(self.shape), "fingerprint": fingerprint}
        self.restart_reason: str | None = None
        self.count = 0
        self._depth = depth
        # Shared with the saving thread, guarded by _lock:
        self._lock = threading.Condition()
        self._waiting: dict[int, np.ndarray] = {}  # handed over, not yet on disk, in order
        self._saving = False  # a saving thread is running
        self._saved = 0  # frames on disk
        self._error: BaseException | None = None  # the thread's failure, raised once in the caller's thread
        with _saving_threads_lock:
            earlier = _saving_threads.get(self._file(self.name + ".u8"))
        if earlier is not None:
            earlier.join()
        old = self._read_meta()
        if old is None and os.path.exists(self._file(self.name + ".u8")):
            self.restart_reason = f"the interrupted run's {self.name}.json is unreadable"
        if old is not None and resume and old == json.loads(json.dumps(self.meta)):
            self.count = self._complete_frames()
        elif old is not None:
            changed = ", ".join(_changed_keys(old, json.loads(json.dumps(self.meta)))) or "format"
            self.restart_reason = (
                "--no-resume given"
                if not resume
                else f"settings or inputs changed since the interrupted run ({changed})"
            )
        if self.count == 0:
            self._reset()
        self._saved = self.resumed = self.count

    # -- reading and writing -----------------------------------------------

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (< count) as uint8 ``(H, W, 3)``, from memory while
        it waits for the disk."""
        self._raise_pending()
        if not 0 <= index < self.count:
            raise IndexError(f"frame {index} not in store of {self.count}")
        with self._lock:
            waiting = self._waiting.get(index)
            if waiting is not None:
                return waiting.copy()
        with open(self._file(self.name + ".u8"), "rb") as f:
            f.seek(index * self.frame_bytes)
            data = f.read(self.frame_bytes)
        return np.frombuffer(data, dtype=np.uint8).reshape(self.shape).copy()

    def append(self, image_u8: np.ndarray) -> None:
        """Hand over the next frame; a background thread stores it durably
        (pixels first, then the index line). Waits only while ``depth``
        frames are still unsaved.

        OutputError (exit code 1), here or from the next call or ``flush``,
        when saving an earlier frame failed (disk full, the folder went away);
        ``count`` then drops to the frames on disk, which stay valid."""
        self._raise_pending()
        if image_u8.shape != self.shape:
            raise ValueError(f"frame shape {image_u8.shape} differs from the store's {self.shape}")
        image = np.array(image_u8, dtype=np.uint8, order="C", copy=True)  # the caller may reuse its array
        with self._lock:
            while len(self._waiting) >= self._depth and self._error is None:
                self._lock.wait()
            if self._error is None:
                self._waiting[self.count] = image
                if not self._saving:
                    self._saving = True
                    thread = threading.Thread(target=self._save_waiting, name="vidstyle-frame-store", daemon=False)
                    with _saving_threads_lock:
                        _saving_threads[self._file(self.name + ".u8")] = thread
                    thread.start()
        self._raise_pending()
        self.count += 1

    def flush(self, *, raise_error: bool = True) -> None:
        """Return once every handed-over frame is on disk.

        Raises the OutputError of a failed save (once) unless ``raise_error``
        is False (a caller already reporting another error); either way
        ``count`` is then the number of frames on disk."""
        with self._lock:
            while self._saving:
                self._lock.wait()
        if raise_error:
            self._raise_pending()
        elif self._error is not None:
            self._error = None
            self.count = self._saved

    def replace(self, index: int, image_u8: np.ndarray) -> None:
        """Overwrite finished frame ``index`` (multi-pass refinement)."""
        self.flush()
        if not 0 <= index < self.count:
            raise IndexError(f"frame {index} not in store of {self.count}")
        try:
            self._write_pixels(index, image_u8, truncate=False)
        except OSError as err:
            raise self._save_failed(index, err) from err

    def _write_pixels(self, index: int, image_u8: np.ndarray, *, truncate: bool) -> None:
        if image_u8.shape != self.shape:
            raise ValueError(f"frame shape {image_u8.shape} differs from the store's {self.shape}")
        with open(self._file(self.name + ".u8"), "r+b") as f:
            f.seek(index * self.frame_bytes)
            f.write(np.ascontiguousarray(image_u8, dtype=np.uint8).data)
            if truncate:
                f.truncate()
            f.flush()
            os.fsync(f.fileno())

    def frames_on_disk(self) -> int:
        """Complete frames in the work directory now, read from the disk (0
        when the folder is gone: another run onto the same output removed it)."""
        if self._read_meta() is None:
            return 0
        return self._complete_frames()

    def remove(self) -> None:
        """Delete the work directory (after a successful run: a failed save
        no longer matters)."""
        self.flush(raise_error=False)
        shutil.rmtree(self.path, ignore_errors=True)

    def reset(self) -> None:
        """Forget every stored frame (and a failed save of one of them)."""
        self.flush(raise_error=False)
        self._reset()

    # -- the saving thread -------------------------------------------------

    def _save_waiting(self) -> None:
        try:
            self._save_in_order()
        finally:
            with _saving_threads_lock:
                if _saving_threads.get(self._file(self.name + ".u8")) is threading.current_thread():
                    del _saving_threads[self._file(self.name + ".u8")]

    def _save_in_order(self) -> None:
        """Save the waiting frames in order; end when none waits or one failed."""
        while True:
            with self._lock:
                if not self._waiting:
                    self._saving = False
                    self._lock.notify_all()
                    return
                index, image = next(iter(self._waiting.items()))
            try:
                self._write_pixels(index, image, truncate=True)
                with open(self._file(self.name + ".idx"), "a") as f:
                    f.write(f"{index}\n")
                    f.flush()
                    os.fsync(f.fileno())
            except BaseException as err:  # handed to the caller's thread
                if isinstance(err, OSError):
                    failure: BaseException = self._save_failed(index, err)
                    failure.__cause__ = err  # as ``raise ... from err``
                else:
                    failure = err
                with self._lock:
                    self._error = failure
                    self._waiting.clear()  # after a failure nothing more is saved
                    self._saving = False
                    self._lock.notify_all()
                return
            with self._lock:
                del self._waiting[index]
                self._saved = index + 1
                self._lock.notify_all()

    def _raise_pending(self) -> None:
        """Raise the saving thread's failure once; ``count`` drops to the frames on disk."""
        with self._lock:
            error, self._error = self._error, None
            if error is not None:  # the thread has ended: it sets the error as it stops
                self.count = self._saved
        if error is not None:
            raise error

    def _save_failed(self, index: int, err: OSError) -> OutputError:
        return OutputError(
            f"cannot save frame {index} in the work directory {self.path}: {err.strerror or err}", exit_code=1
        )

    # -- internals ---------------------------------------------------------

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _read_meta(self) -> dict | None:
        try:
            with open(self._file(self.name + ".json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _complete_frames(self) -> int:
        try:
            with open(self._file(self.name + ".idx")) as f:
                lines = [line for line in f.read().split("\n") if line.strip()]
            data_frames = os.path.getsize(self._file(self.name + ".u8")) // self.frame_bytes
        except OSError:
            return 0
        return min(len(lines), data_frames)

    def _reset(self) -> None:
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)  # frames of the user's video: private
            for suffix in (".u8", ".idx"):
                open(self._file(self.name + suffix), "wb").close()
            tmp = self._file(self.name + ".json.tmp")
            with open(tmp, "w") as f:
                json.dump(self.meta, f, indent=1)
            os.replace(tmp, self._file(self.name + ".json"))
        except OSError as err:
            raise OutputError(f"cannot set up the work directory {self.path}: {err.strerror or err}") from err
        self.count = 0
        self._saved = 0


def _changed_keys(old, new, prefix: str = "") -> list[str]:
    """Dotted names of the leaves that differ between two JSON objects
    (``fingerprint.config.style_weight``), so a restart can say why."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed = []
        for key in sorted(set(old) | set(new)):
            changed += _changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        return changed
    return [prefix.rstrip(".").removeprefix("fingerprint.")] if old != new else []
