"""Everything that touches video and image files and streams; the media
package is the only one that imports ``av`` (PyAV).

    probe / read_frames        video file -> VideoInfo, Iterator[Frame]          (reading)
    find_input_sequence        frames/%04d.png or its folder, read as a video    (input_sequence)
    open_writer -> FrameWriter Frame -> video file or image sequence, atomic    (writers)
    open_source / StreamWriter live input / network and loopback output        (sources, stream_writer)
    load_image / save_image    still images                                     (images)

Frames are ``vidstyle.frames.Frame``: uint8 ``(H, W, 3)`` RGB with the
source's ``pts`` and ``time_base``, which writers carry to the encoder
unchanged (``timestamps``). Outputs are written under a temporary name and
renamed when complete, with the permissions a plain write would give them
(``destination``).

Modules, one job each:

- ``reading``: probe, decode to upright RGB, damaged/changed input detection;
- ``formats``: the extension -> container/codec table and encoder defaults;
- ``writers``: the ``FrameWriter`` protocol and the table ``open_writer`` picks from;
- ``video_writer``: ``VideoWriter`` (encode, mux, atomic finish);
- ``audio``: the source's audio copied or re-encoded, trimmed with the video;
- ``palette``: GIF palettes per frame;
- ``sequence``: ``ImageSequenceWriter`` (``out/%05d.png``);
- ``input_sequence``: numbered image sequences as input (first number, gaps, identity);
- ``timestamps``: the one output-pts rule (``OutputClock``);
- ``destination``: destination checks, temporary name + rename, permissions;
- ``framerate``: ``--fps`` conversion by timestamp;
- ``images``: still images (style images, stills, colour transfer);
- ``sources``, ``stream_writer``: live inputs and stream outputs.

The names below are loaded on first use, so ``import vidstyle.media.framerate``
(or the CLI's argument checks) does not pay for PyAV and OpenCV.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    # reading
    "VideoInfo": "reading",
    "probe": "reading",
    "read_frames": "reading",
    "frame_to_rgb": "reading",
    "is_still_image": "reading",
    "error_reason": "reading",
    "check_start": "reading",
    # image sequences as input
    "InputSequence": "input_sequence",
    "find_input_sequence": "input_sequence",
    "looks_like_sequence": "input_sequence",
    "input_files": "input_sequence",
    "DEFAULT_SEQUENCE_FPS": "input_sequence",
    # writing files
    "FrameWriter": "writers",
    "open_writer": "writers",
    "WRITERS": "writers",
    "check_output_rate": "writers",
    "output_notes": "writers",
    "output_sample_aspect_ratio": "writers",
    "VideoWriter": "video_writer",
    "partial_path": "video_writer",
    "ImageSequenceWriter": "sequence",
    "is_sequence_pattern": "sequence",
    "OUTPUT_FORMATS": "formats",
    "DEFAULT_CRF": "formats",
    "SEQUENCE_EXTENSIONS": "formats",
    "check_destination": "destination",
    "OutputFolderRemoved": "destination",
    "OutputClock": "timestamps",
    # frame rate
    "FrameRateConverter": "framerate",
    "rate_time_base": "framerate",
    # still images
    "load_image": "images",
    "save_image": "images",
    "check_image_destination": "images",
    "preserve_colors": "images",
    "resize": "images",
    "resize_longer_side": "images",
    "IMAGE_EXTENSIONS": "images",
    # live
    "open_source": "sources",
    "parse_source": "sources",
    "LiveSource": "sources",
    "check_live_source": "sources",
    "ignored_mode_notes": "sources",
    "SourceSpec": "sources",
    "StreamWriter": "stream_writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
