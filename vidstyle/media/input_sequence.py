"""Numbered image sequences as input: ``frames/%04d.png``, or a folder holding one.

The pattern is the writer's (``media.sequence.SequencePattern``: one ``%d``
or ``%0Nd`` field, ``%%`` for a literal %), and a file counts only under the
name the pattern gives its number (``%04d`` reads ``0007.png``, not
``00007.png``), as FFmpeg's image2 demuxer names them. Unlike FFmpeg, which
looks for the first number among 0..4 only, the first number is whatever
the folder holds (1001 for a render that starts there), and a gap is an
error naming the first missing file: image2 would stop at it quietly.
So is a damaged file, found from a few bytes of each file when the sequence
is listed (``_damage``, ~15 us a file): an empty file (image2 stops at it
quietly), one that is not the image its extension says (text, a JPEG named
.png), and a PNG, TIFF, BMP, WebP or DPX cut short (as a render killed while
writing leaves it), which would otherwise be dropped without a word at the
end. A JPEG cut short is left to the decoder, which fills in the rest or
fails (data may follow its end marker: a missing one at the end proves nothing).

A sequence has no timing: frame i is shown at i / rate seconds, the rate
being ``--input-fps`` or FFmpeg's image2 default, 25 (``DEFAULT_SEQUENCE_FPS``).
Decoding goes through the image2 demuxer (``InputSequence.open``), so a
sequence reads like any video in ``media.reading`` (sizes, colour, seeking,
pts in a ``1/rate`` time base). It has no audio.

A frame whose size differs from the first frame's is resized to it when
decoded; ``InputSequence.size_note`` says so in one line (the first such
file, both sizes, how many), from the files' headers.

The identity of a sequence (resume, training checkpoints) is its files'
names, sizes and modification times, so that one re-rendered frame is noticed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import struct
from fractions import Fraction

from vidstyle.errors import InputError
from vidstyle.media.formats import SEQUENCE_EXTENSIONS
from vidstyle.media.sequence import SequencePattern, is_sequence_pattern

DEFAULT_SEQUENCE_FPS = Fraction(25)  # FFmpeg's image2 default frame rate
# Image files FFmpeg decodes that renderers and compositors write as sequences
# (.exr is left out: linear light would come out far too dark as 8-bit RGB).
INPUT_SEQUENCE_EXTENSIONS = (*SEQUENCE_EXTENSIONS, ".webp", ".tga", ".dpx")
_NUMBERED = re.compile(r"(.*?)(\d+)(\D*)")  # stem = prefix, the last run of digits, suffix
_SHOWN_SEQUENCES = 3  # a folder's sequences named in an error
_DPX_HEADER_BYTES = 780  # up to the image element's width and height
_EXIF_ORIENTATION = 0x0112  # 5..8: the picture is shown turned a quarter
_SHOWN_DAMAGED = 3  # damaged files named in an error
_HEAD_BYTES = 32  # enough for every signature and length field _damage reads
# How each format's files start (FFmpeg picks the decoder from the extension).
_SIGNATURES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".png": ("PNG", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("JPEG", (b"\xff\xd8\xff",)),
    ".jpeg": ("JPEG", (b"\xff\xd8\xff",)),
    ".tif": ("TIFF", (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")),
    ".tiff": ("TIFF", (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")),
    ".bmp": ("BMP", (b"BM",)),
    ".webp": ("WebP", (b"RIFF",)),
    ".dpx": ("DPX", (b"SDPX", b"XPDS")),
}
_PILLOW_CUT = ("Truncated File Read", "Expecting to read")  # Pillow's warnings for a TIFF directory cut short
_PNG_END = b"\0\0\0\0IEND\xaeB`\x82"  # the IEND chunk every complete PNG ends with


@dataclasses.dataclass(frozen=True)
class InputSequence:
    """An image sequence on disk, checked to be complete.

    Attributes:
        pattern: the path with its number field (``frames/%04d.png``), as
            given, or built from a folder given as the input.
        files: every file, in number order, without gaps.
        first_number: the number of ``files[0]``.
        from_folder: the input named a folder and ``pattern`` was found in it.
    """

    pattern: str
    files: tuple[str, ...]
    first_number: int
    from_folder: bool = False

    def describe(self) -> str:
        """``frames/%04d.png (0001.png..0072.png, 72 files)``."""
        first, last = (os.path.basename(path) for path in (self.files[0], self.files[-1]))
        span = first if len(self.files) == 1 else f"{first}..{last}"
        return f"{self.pattern} ({span}, {len(self.files)} file{'s' if len(self.files) != 1 else ''})"

    def open(self, rate: Fraction | None = None):
        """The files as a video (FFmpeg's image2 demuxer), frame i at ``i / rate``
        seconds (``rate`` None: ``DEFAULT_SEQUENCE_FPS``); an ``av`` input container."""
        import av

        rate = Fraction(rate) if rate is not None else DEFAULT_SEQUENCE_FPS
        options = {
            "start_number": str(self.first_number),
            "framerate": f"{rate.numerator}/{rate.denominator}",
            "pattern_type": "sequence",  # printf numbering only: no glob characters in names
        }
        try:  # absolute: a folder name with a colon must not read as a protocol
            return av.open(os.path.abspath(self.pattern), format="image2", options=options)
        except (av.error.FFmpegError, OSError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise InputError(f"cannot read the image sequence {self.pattern}: {reason}") from err

    def size_note(self) -> str | None:
        """One line when frames differ in size from the first (read from the
        files' headers, not decoded): the first such file, both sizes and how
        many there are. Decoding resizes them to the first frame's size,
        stretched where the aspect ratio differs. None when all match, or
        when a size cannot be read from a header (the decoder then judges)."""
        sizes = [_image_size(path) for path in self.files]
        first = sizes[0]
        if first is None:
            return None
        odd = [(path, size) for path, size in zip(self.files, sizes) if size is not None and size != first]
        if not odd:
            return None
        (path, (width, height)), count = odd[0], len(odd)
        stretched = any(w * first[1] != h * first[0] for _, (w, h) in odd)
        return (
            f"{path} is {width}x{height}, not {first[0]}x{first[1]} like the first frame of {self.pattern}: "
            f"{count} frame{'s' if count != 1 else ''} of another size {'are' if count != 1 else 'is'} resized "
            f"to {first[0]}x{first[1]}" + (" (stretched where the aspect ratio differs)" if stretched else "")
        )

    def identity(self) -> dict:
        """Pattern, first number, count and a hash of every file's name, size and
        modification time: a replaced, re-rendered, added or removed frame changes it."""
        digest = hashlib.sha256()
        for path in self.files:
            stat = os.stat(path)
            digest.update(f"{os.path.basename(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return {
            "path": os.path.abspath(self.pattern),
            "first_number": self.first_number,
            "frames": len(self.files),
            "files_sha256": digest.hexdigest(),
        }


def looks_like_sequence(path) -> bool:
    """True when ``path`` names an image sequence rather than a file: a folder,
    or a name with a ``%d``/``%04d`` field that is not itself an existing file.
    Cheap (no listing); ``find_input_sequence`` checks it."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return True
    return is_sequence_pattern(path) and not os.path.isfile(path)


def find_input_sequence(path) -> InputSequence | None:
    """The image sequence ``path`` names (a pattern, or a folder holding exactly
    one numbered sequence), or None when ``path`` is something else (a file).

    Raises InputError (exit code 2) with one line for a bad pattern (no or two
    number fields, not an image extension), no matching file, a gap in the
    numbering (naming the first missing file), and a folder holding no
    numbered image sequence or several.
    """
    path = os.fspath(path)
    if not looks_like_sequence(path):
        return None
    if os.path.isdir(path):
        return _from_folder(path)
    return _from_pattern(path)


def input_files(path) -> list[str]:
    """The files an input consists of: a sequence's frames, else ``[path]``
    (the paths an output must never overwrite)."""
    sequence = find_input_sequence(path)
    return list(sequence.files) if sequence is not None else [os.fspath(path)]


def sequence_stem(pattern) -> str:
    """The name an output made from ``pattern`` starts with: ``renders/shot_%04d.png``
    -> ``renders/shot``; ``frames/%04d.png`` (no name before the number) -> ``frames``."""
    folder = os.path.dirname(os.path.normpath(os.fspath(pattern)))
    before = SequencePattern(pattern, error=InputError, extensions=INPUT_SEQUENCE_EXTENSIONS).prefix.rstrip(" ._-")
    if before:
        return os.path.join(folder, before)
    return folder or os.path.basename(os.path.abspath(folder))


def _from_pattern(path: str) -> InputSequence:
    pattern = SequencePattern(path, error=InputError, extensions=INPUT_SEQUENCE_EXTENSIONS)
    if not os.path.isdir(pattern.folder):
        raise InputError(f"input not found: {path} (no folder {os.path.dirname(path) or pattern.folder})")
    # only the name the pattern gives each number, as FFmpeg reads them (%04d: 0007.png, not 00007.png)
    numbers = {n: name for n, name in pattern.numbers().items() if pattern.file_name(n) == name}
    if not numbers:
        raise InputError(_nothing_matches(path, pattern))
    first, last = min(numbers), max(numbers)
    if len(numbers) != last - first + 1:
        missing = next(n for n in range(first, last + 1) if n not in numbers)
        resumes = min(n for n in numbers if n > missing)
        raise InputError(
            f"{path}: {os.path.join(os.path.dirname(path), pattern.file_name(missing))} is missing "
            f"({numbers[first]}..{pattern.file_name(missing - 1)}, then {numbers[resumes]}..{numbers[last]}); "
            "a sequence is read without gaps: add the missing frames, renumber the files, or move the "
            "frames after the gap to a folder of their own"
        )
    files = tuple(os.path.join(os.path.dirname(path), pattern.file_name(n)) for n in range(first, last + 1))
    damaged = [(file, reason) for file in files if (reason := _damage(file, pattern.ext)) is not None]
    if damaged:
        (file, reason), others = damaged[0], [os.path.basename(name) for name, _ in damaged[1:]]
        more, fix = "", "re-export it, or remove it and renumber the files after it"
        if others:
            shown = ", ".join(others[:_SHOWN_DAMAGED]) + (", ..." if len(others) > _SHOWN_DAMAGED else "")
            more = f", and {len(others)} more damaged file{'s' if len(others) != 1 else ''} ({shown})"
            fix = "re-export them, or remove them and renumber the files"
        raise InputError(f"{path}: {file} {reason}{more}; a sequence is read only when every file decodes: {fix}")
    return InputSequence(pattern=path, files=files, first_number=first)


def _damage(path: str, ext: str) -> str | None:
    """Why the image file ``path`` (of extension ``ext``) cannot be decoded
    ("is empty (0 bytes)", "is not a PNG image ...", "is cut short ..."), from
    its first and last bytes (a TIFF: its directory), or None if none is seen."""
    try:
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            size, head = stat.st_size, file.read(_HEAD_BYTES)
            if not head:
                return "is empty (0 bytes)"
            kind, signatures = _SIGNATURES.get(ext, ("", ()))
            if signatures and not head.startswith(signatures):
                actual = next((name for name, sigs in _SIGNATURES.values() if head.startswith(sigs)), None)
                shown = f"is a {actual} image" if actual else f"starts with {head[:12]!r}"
                return f"is not a {kind} image (it {shown})"
            if ext == ".png":
                file.seek(max(0, size - len(_PNG_END)))
                if file.read() != _PNG_END and not _png_complete(file, size):
                    return f"is cut short ({size:,} bytes: the PNG ends before its closing IEND chunk)"
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if ext in (".tif", ".tiff"):
        return _tiff_damage(path, size, stat.st_mtime_ns, head)
    stated = _stated_size(head, ext)
    if stated is not None and size < stated:
        return f"is cut short ({size:,} of the {stated:,} bytes its header announces)"
    return None


def _png_complete(file, size: int) -> bool:
    """True when the PNG's chunks, walked from their length fields, reach
    IEND within the file (data after IEND is allowed, as decoders ignore it);
    only for the rare file that does not end with IEND."""
    offset = 8  # after the signature
    while offset + 8 <= size:
        file.seek(offset)
        length, kind = struct.unpack(">I4s", file.read(8))
        if kind == b"IEND":
            return True
        offset += 12 + length  # length, type, data, CRC
    return False


@functools.lru_cache(maxsize=1 << 16)
def _tiff_damage(path: str, size: int, mtime_ns: int, head: bytes) -> str | None:
    """Why a TIFF is cut short (its directory, which Pillow reads without the
    pixels, or its first image's strips or tiles run past the end), or None
    (complete, or Pillow cannot tell: the decoder judges). Kept per file
    version: a run lists its input five times, and Pillow takes ~0.1 ms."""
    import warnings

    from PIL import Image

    big = head[2:4] in (b"+\0", b"\0+")  # BigTIFF: 64-bit offsets
    if len(head) < (16 if big else 8):
        return f"is cut short ({size:,} bytes: less than a TIFF header)"
    directory = struct.unpack_from(f"{'<' if head[:2] == b'II' else '>'}{'Q' if big else 'I'}", head, 8 if big else 4)
    if directory[0] >= size:  # libtiff writes it last: the first thing a cut loses
        return f"is cut short ({size:,} bytes: its TIFF directory starts at byte {directory[0]:,})"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with Image.open(path) as image:
                tags = image.tag_v2 if hasattr(image, "tag_v2") else {}  # a TIFF Pillow reads: its tags
                offsets, counts = tags.get(273) or tags.get(324) or (), tags.get(279) or tags.get(325) or ()
                needed = max(offset + count for offset, count in zip(offsets, counts))
        except Exception:  # Pillow warns "Truncated File Read" (or "Expecting to read") where the directory is cut
            cut = any(text in str(warning.message) for warning in caught for text in _PILLOW_CUT)
            return f"is cut short ({size:,} bytes: its TIFF directory runs past the end)" if cut else None
    return f"is cut short ({size:,} of the {needed:,} bytes its TIFF directory needs)" if size < needed else None


def _stated_size(head: bytes, ext: str) -> int | None:
    """The file size a BMP, WebP or DPX header announces, None if it does not."""
    if ext == ".bmp" and len(head) >= 6:
        return struct.unpack("<I", head[2:6])[0] or None
    if ext == ".webp" and len(head) >= 12 and head[8:12] == b"WEBP":
        return struct.unpack("<I", head[4:8])[0] + 8  # the RIFF chunk after its 8-byte header
    if ext == ".dpx" and len(head) >= 20:
        return struct.unpack(">I" if head[:4] == b"SDPX" else "<I", head[16:20])[0] or None
    return None


def _image_size(path: str) -> tuple[int, int] | None:
    """``(width, height)`` from an image file's header, without decoding its
    pixels, as the decoder shows it (an EXIF orientation that turns it a
    quarter swaps the sides, as FFmpeg turns such a frame upright): DPX read
    here, the rest through Pillow; None when unknown."""
    try:
        with open(path, "rb") as file:
            head = file.read(_DPX_HEADER_BYTES)
    except OSError:
        return None
    if head[:4] in (b"SDPX", b"XPDS") and len(head) == _DPX_HEADER_BYTES:
        order = ">" if head[:4] == b"SDPX" else "<"  # the magic number's byte order
        width, height = struct.unpack(f"{order}II", head[772:780])  # pixels per line, lines per element
        return width, height
    try:
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
            if hasattr(image, "tag_v2"):  # TIFF: stored size and orientation are tags (Pillow may turn the size)
                width, height = image.tag_v2.get(256, width), image.tag_v2.get(257, height)
                orientation = image.tag_v2.get(_EXIF_ORIENTATION)
            else:  # JPEG, WebP, PNG with eXIf before its pixels (one after them would need decoding)
                exif = Image.Exif()
                exif.load(image.info.get("exif") or b"")
                orientation = exif.get(_EXIF_ORIENTATION)
    except Exception:  # not readable by Pillow (or no Pillow): the decoder reads it, or says what is wrong
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _nothing_matches(path: str, pattern: SequencePattern) -> str:
    """The error for a pattern no file matches, with the pattern the folder does hold."""
    found = _folder_sequences(pattern.folder)
    if len(found) == 1:
        ((name, count),) = found.items()
        hint = f"; it holds {count} image{'s' if count != 1 else ''} named like {name}: try {_in_folder(path, name)}"
    elif found:
        hint = f"; it holds other image sequences: {_listed(path, found)}"
    else:
        hint = "; it holds no numbered images"
    return f"no image matches {path} in {os.path.dirname(path) or '.'}{hint}"


def _from_folder(folder: str) -> InputSequence:
    found = _folder_sequences(folder)
    shown = folder.rstrip("/\\") or folder
    if not found:
        raise InputError(
            f"{shown} is a directory without a numbered image sequence ({', '.join(INPUT_SEQUENCE_EXTENSIONS)}); "
            f"give a video file, or an image sequence pattern such as {os.path.join(shown, '%04d.png')}"
        )
    if len(found) > 1:
        raise InputError(
            f"{shown} holds {len(found)} numbered image sequences ({_listed(shown, found)}); "
            f"give one as the input, e.g. {_in_folder(shown, next(iter(found)))}"
        )
    sequence = _from_pattern(_in_folder(shown, next(iter(found))))
    return dataclasses.replace(sequence, from_folder=True)


def _folder_sequences(folder: str) -> dict[str, int]:
    """Pattern name -> number of files, for each numbered image sequence in
    ``folder`` (files sharing the text around their last number and their
    extension; hidden files left out), most files first."""
    groups: dict[tuple[str, str], list[str]] = {}
    try:
        entries = [e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")]
    except OSError as err:
        raise InputError(f"cannot list {folder}: {err.strerror or err}") from err
    for name in entries:
        stem, ext = os.path.splitext(name)
        match = _NUMBERED.fullmatch(stem)
        if match is None or ext.lower() not in INPUT_SEQUENCE_EXTENSIONS:
            continue
        groups.setdefault((match.group(1), match.group(3) + ext), []).append(match.group(2))
    found = {}
    for (before, after), digits in groups.items():
        padded = [len(d) for d in digits if len(d) > 1 and d.startswith("0")]
        widths = {len(d) for d in digits}
        width = min(padded) if padded else widths.pop() if len(widths) == 1 else 1  # 1001..1072: %04d
        field = f"%0{width}d" if width > 1 else "%d"
        found[before.replace("%", "%%") + field + after.replace("%", "%%")] = len(digits)
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))


def _in_folder(path: str, name: str) -> str:
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    return os.path.join(folder, name) if folder else name


def _listed(path: str, found: dict[str, int]) -> str:
    names = [f"{_in_folder(path, name)}: {count} file{'s' if count != 1 else ''}" for name, count in found.items()]
    more = f", and {len(names) - _SHOWN_SEQUENCES} more" if len(names) > _SHOWN_SEQUENCES else ""
    return ", ".join(names[:_SHOWN_SEQUENCES]) + more
