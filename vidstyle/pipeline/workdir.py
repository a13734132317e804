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
  (later passes sweep backwards).

A rerun with the same fingerprint continues after the last complete frame; a
different fingerprint starts over.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np

from vidstyle.errors import OutputError

FORMAT_VERSION = 1


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


class FrameStore:
    """Append-only store of finished frames of one shape.

    Args:
        path: the work directory (created if missing).
        fingerprint: JSON-able description of everything that decides the
            frames' pixels.
        shape: ``(H, W, 3)`` of every frame.
        resume: reuse matching frames already in ``path``; False starts over.

    After construction ``resumed`` is the number of frames kept from an
    earlier run and ``restart_reason`` says why earlier frames were dropped
    (None when there were none or they were kept).
    """

    def __init__(
        self, path, *, fingerprint: dict, shape: tuple[int, int, int], resume: bool = True, name: str = "frames"
    ):
        self.path = os.fspath(path)
        self.name = name
        self.shape: tuple[int, int, int] = (shape[0], shape[1], shape[2])
        self.fingerprint = fingerprint
        self.frame_bytes = int(np.prod(self.shape))
        self.meta = {"format": FORMAT_VERSION, "shape": list(self.shape), "fingerprint": fingerprint}
        self.restart_reason: str | None = None
        self.count = 0
        old = self._read_meta()
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
        self.resumed = self.count

    # -- reading and writing -----------------------------------------------

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (< count) as uint8 ``(H, W, 3)``."""
        if not 0 <= index < self.count:
            raise IndexError(f"frame {index} not in store of {self.count}")
        with open(self._file(self.name + ".u8"), "rb") as f:
            f.seek(index * self.frame_bytes)
            data = f.read(self.frame_bytes)
        return np.frombuffer(data, dtype=np.uint8).reshape(self.shape).copy()

    def append(self, image_u8: np.ndarray) -> None:
        """Store the next frame durably (pixels first, then the index line).

        OutputError (exit code 1) when the disk is full or the folder went
        away; the frames stored before stay valid."""
        try:
            self._write_pixels(self.count, image_u8, truncate=True)
            with open(self._file(self.name + ".idx"), "a") as f:
                f.write(f"{self.count}\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise OutputError(
                f"cannot save frame {self.count} in the work directory {self.path}: {err.strerror or err}", exit_code=1
            ) from err
        self.count += 1

    def replace(self, index: int, image_u8: np.ndarray) -> None:
        """Overwrite finished frame ``index`` (multi-pass refinement)."""
        if not 0 <= index < self.count:
            raise IndexError(f"frame {index} not in store of {self.count}")
        try:
            self._write_pixels(index, image_u8, truncate=False)
        except OSError as err:
            raise OutputError(
                f"cannot save frame {index} in the work directory {self.path}: {err.strerror or err}", exit_code=1
            ) from err

    def _write_pixels(self, index: int, image_u8: np.ndarray, *, truncate: bool) -> None:
        if image_u8.shape != self.shape:
            raise ValueError(f"frame shape {image_u8.shape} differs from the store's {self.shape}")
        with open(self._file(self.name + ".u8"), "r+b") as f:
            f.seek(index * self.frame_bytes)
            f.write(np.ascontiguousarray(image_u8, dtype=np.uint8).tobytes())
            if truncate:
                f.truncate()
            f.flush()
            os.fsync(f.fileno())

    def remove(self) -> None:
        """Delete the work directory (after a successful run)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def reset(self) -> None:
        """Forget every stored frame."""
        self._reset()

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


def _changed_keys(old, new, prefix: str = "") -> list[str]:
    """Dotted names of the leaves that differ between two JSON objects
    (``fingerprint.config.style_weight``), so a restart can say why."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed = []
        for key in sorted(set(old) | set(new)):
            changed += _changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        return changed
    return [prefix.rstrip(".").removeprefix("fingerprint.")] if old != new else []
