"""Image sequences (``-o out/%05d.png``) written like FFmpeg's image2 muxer:
one file per frame, numbered from 1, the number formatted by the printf
field of the name (``%d`` or ``%0Nd``). PNG and TIFF are lossless.

Safety matches ``VideoWriter``: frames go into a hidden temporary folder
inside the target folder and are moved into place by ``close()`` (renames in
one quick sweep, no copying), so an interrupted run never leaves frames that
look finished; ``close_partial()`` names them ``00001.partial.png`` instead,
and a later successful ``close()`` removes those partial frames and the
temporary folders of killed runs. Frames and a folder the writer creates get
the permissions a plain write would give them (``destination.publish``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence

import cv2
import numpy as np

from vidstyle.errors import OutputError, OutputExistsError, VidstyleError
from vidstyle.frames import Frame
from vidstyle.media.destination import (
    AtomicWriter,
    OutputFolderRemoved,
    check_folder_still_there,
    make_output_folder,
    make_temp_folder,
    publish,
)
from vidstyle.media.formats import SEQUENCE_EXTENSIONS

FIRST_NUMBER = 1  # FFmpeg's image2 start_number
JPEG_QUALITY = 95
_FIELD = re.compile(r"%(0[1-9]\d*)?d")
_LITERAL = "\0"  # stands for an escaped "%%" while the field is looked for


def is_sequence_pattern(path) -> bool:
    """True when the file name (not the folder) holds a ``%d``/``%05d`` field."""
    return bool(_FIELD.search(os.path.basename(os.fspath(path)).replace("%%", _LITERAL)))


class SequencePattern:
    """A numbered file name pattern such as ``out/frame_%05d.png``.

    Shared by the writer and the reader (``media.input_sequence``), which
    pass their own error class and the extensions they handle.

    Attributes:
        folder: the folder the frames go to (or are read from).
        name: the file name pattern (printf syntax, ``%%`` for a literal %).
        ext: lower-case extension with the dot.

    Raises ``error`` (OutputError by default; exit code 2) for a name without
    exactly one number field, or an extension not in ``extensions``.
    """

    def __init__(
        self,
        path,
        *,
        error: type[VidstyleError] = OutputError,
        extensions: Sequence[str] = SEQUENCE_EXTENSIONS,
    ):
        self.path = os.fspath(path)
        self.folder, self.name = os.path.split(os.path.abspath(self.path))
        self.ext = os.path.splitext(self.name)[1].lower()
        literal = self.name.replace("%%", _LITERAL)
        if len(_FIELD.findall(literal)) != 1 or "%" in _FIELD.sub("", literal):
            raise error(f"an image sequence name needs exactly one number field like %05d, got {self.path}")
        if self.ext not in extensions:
            raise error(
                f"unknown image sequence extension {self.ext or '(none)'!r} in {self.path}; "
                f"use one of {', '.join(extensions)}"
            )

    @property
    def prefix(self) -> str:
        """The file name's text before the number field (``shot_`` of ``shot_%04d.png``)."""
        literal = self.name.replace("%%", _LITERAL)
        field = _FIELD.search(literal)
        assert field is not None, "checked in __init__"
        return literal[: field.start()].replace(_LITERAL, "%")

    def file_name(self, number: int, *, partial: bool = False) -> str:
        """The ``number``-th file's name (``partial``: ``00001.partial.png``)."""
        name = self.name % number
        if partial:
            stem, ext = os.path.splitext(name)
            name = f"{stem}.partial{ext}"
        return name

    def numbers(self, *, partial: bool = False) -> dict[int, str]:
        """Number -> file name of every file in ``folder`` the pattern names."""
        regex = self._regex(partial=partial)
        try:
            names = os.listdir(self.folder)
        except OSError:
            return {}
        found = {}
        for name in names:
            match = regex.fullmatch(name)
            if match:
                found[int(match.group(1))] = name
        return found

    def _regex(self, *, partial: bool) -> re.Pattern:
        stem, ext = os.path.splitext(self.name.replace("%%", _LITERAL))
        if partial:
            stem = f"{stem}.partial"
        field = _FIELD.search(stem)
        assert field is not None, "checked in __init__"
        before, after = stem[: field.start()], stem[field.end() :] + ext
        digits = rf"(\d{{{int(field.group(1))},}})" if field.group(1) else r"(\d+)"
        return re.compile(re.escape(before.replace(_LITERAL, "%")) + digits + re.escape(after.replace(_LITERAL, "%")))


class ImageSequenceWriter(AtomicWriter):
    """Writes frames as numbered images; a ``FrameWriter`` (see ``media.writers``)
    like ``VideoWriter``.

    Args:
        dst: pattern such as ``out/%05d.png``; ``out`` is created (mode 0777
            minus the umask) if its parent exists.
        width, height: size of the frames given to ``write`` in pixels.
        overwrite: replace frames an earlier run left under the same pattern
            (without it their presence is an error).
        input_paths: files that must never be overwritten, even with ``overwrite``.

    Raises:
        OutputError: exit code 2 for a bad pattern, a missing parent folder,
            existing frames without ``overwrite`` or an input among them;
            exit code 1 when writing fails (disk full); ``OutputFolderRemoved``
            (exit code 1) when the folder is deleted mid-run.
    """

    takes_audio = False

    def __init__(self, dst, *, width: int, height: int, overwrite: bool = False, input_paths: Sequence[str] = ()):
        self.pattern = SequencePattern(dst)
        self.dst = self.pattern.path
        self.frame_size = (int(width), int(height))
        self.stored_size = self.frame_size  # images keep every pixel
        self.frames_written = 0
        self._closed = False
        self._check_destination(overwrite=overwrite, input_paths=input_paths)
        self._created_folder = make_output_folder(self.pattern.folder)
        self.tmp_dir = make_temp_folder(self.pattern.path, suffix=".partial")

    def _check_destination(self, *, overwrite: bool, input_paths: Sequence[str]) -> None:
        folder = self.pattern.folder
        parent = os.path.dirname(folder)
        if not os.path.isdir(folder):
            if os.path.exists(folder):
                raise OutputError(f"{folder} exists and is not a folder; cannot write {self.dst} into it")
            if not os.path.isdir(parent):
                raise OutputError(f"output folder does not exist: {parent}")
            return
        existing = self.pattern.numbers()
        # An input among the files the pattern names would be overwritten, or removed as
        # a stale frame by close(). One stat per file: an image sequence input has thousands.
        taken = {_file_key(os.path.join(folder, name)) for name in existing.values()} - {None}
        for path in input_paths:
            if _file_key(path) in taken:
                raise OutputError(f"refusing to overwrite the input {os.fspath(path)}; choose another output with -o")
        if existing and not overwrite:
            first = existing[min(existing)]
            raise OutputExistsError(
                f"{folder} already holds {len(existing)} frame{'s' if len(existing) != 1 else ''} named like "
                f"{self.pattern.name} (e.g. {first})",
                many=True,
            )

    def write(self, frame: Frame) -> None:
        """Write one frame; ``frame.image_u8`` is uint8 ``(height, width, 3)`` RGB."""
        if self._closed:
            raise ValueError(f"{self.dst}: write() after close() or abort()")
        width, height = self.frame_size
        image = frame.image_u8
        if image.shape != (height, width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"expected a uint8 ({height}, {width}, 3) image for {self.dst}, got {image.dtype} {image.shape}"
            )
        self._check_folder()
        number = FIRST_NUMBER + self.frames_written
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if self.pattern.ext in (".jpg", ".jpeg") else []
        ok, encoded = cv2.imencode(self.pattern.ext, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
        if not ok:
            self.abort()
            raise OutputError(f"cannot encode frame {number} as {self.pattern.ext}", exit_code=1)
        try:
            encoded.tofile(os.path.join(self.tmp_dir, self.pattern.file_name(number)))
        except OSError as err:
            self.abort()
            raise OutputError(
                f"writing {self.dst} failed at frame {self.frames_written}: {err.strerror or err}", exit_code=1
            ) from err
        self.frames_written += 1

    def _check_folder(self) -> None:
        """Abort and raise OutputFolderRemoved when the output folder is gone."""
        try:
            check_folder_still_there(self.pattern.folder, dst=self.dst, frames_written=self.frames_written)
        except OutputFolderRemoved:
            self.abort()
            raise

    def close(self) -> str:
        """Move the frames into place, remove stale frames of an earlier longer
        run and partial frames; returns the pattern. A second call, or a call
        after ``abort()``, does nothing."""
        if self._closed:
            return self.dst
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames were written; {self.dst} not created", exit_code=1)
        self._move_frames(partial=False)
        for partial in (False, True):
            self._remove_beyond(0 if partial else self.frames_written, partial=partial)
        prefix = f".{self.pattern.name}."
        for entry in os.listdir(self.pattern.folder):
            if entry.startswith(prefix) and entry.endswith(".partial"):  # a killed run's frames
                shutil.rmtree(os.path.join(self.pattern.folder, entry), ignore_errors=True)
        return self.dst

    def close_partial(self) -> str | None:
        """Move what was written to ``00001.partial.png``...; returns that
        pattern, or None (and nothing is left) when no frame was written."""
        if self._closed or self.frames_written == 0:
            self.abort()
            return None
        self._move_frames(partial=True)
        self._remove_beyond(self.frames_written, partial=True)
        stem, ext = os.path.splitext(self.dst)
        return f"{stem}.partial{ext}"

    def abort(self) -> None:
        """Drop the written frames; the folder is left as it was. Safe to call twice."""
        self._closed = True
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        if self._created_folder:
            try:
                os.rmdir(self.pattern.folder)  # only if still empty
            except OSError:
                pass

    def _move_frames(self, *, partial: bool) -> None:
        """Publish every written frame under its final (or ``.partial``) name."""
        self._check_folder()
        self._closed = True
        try:
            for number in range(FIRST_NUMBER, FIRST_NUMBER + self.frames_written):
                publish(
                    os.path.join(self.tmp_dir, self.pattern.file_name(number)),
                    os.path.join(self.pattern.folder, self.pattern.file_name(number, partial=partial)),
                    dst=self.dst,
                    frames_written=self.frames_written,
                )
            os.rmdir(self.tmp_dir)
        except OSError as err:
            raise OutputError(
                f"cannot move the frames into {self.pattern.folder}: {err.strerror or err}", exit_code=1
            ) from err

    def _remove_beyond(self, count: int, *, partial: bool) -> None:
        """Delete this pattern's files numbered above ``count`` (an earlier run's)."""
        for number, name in self.pattern.numbers(partial=partial).items():
            if number >= FIRST_NUMBER + count:
                try:
                    os.remove(os.path.join(self.pattern.folder, name))
                except FileNotFoundError:
                    pass


def _file_key(path) -> tuple[int, int] | None:
    """``(device, inode)`` of ``path`` (what ``os.path.samefile`` compares), or None when it is missing."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)
