"""GIF colour: RGB frames -> palettized (pal8) frames, one palette per frame."""

from __future__ import annotations

from fractions import Fraction

import av

PALETTEGEN = "stats_mode=single:max_colors=256"  # a palette of the frame's own 256 colours
PALETTEUSE = "new=1:dither=sierra2_4a"  # a new palette per frame, Sierra-2-4A error diffusion


class Palettizer:
    """RGB -> palettized frames for GIF with a palette computed per frame
    (FFmpeg's palettegen/paletteuse, Sierra dithering): far better than a
    fixed palette, and it streams (no second pass over the clip).

    Args:
        width, height: size of the frames pushed, in pixels.
        time_base: seconds per tick of their pts.
    """

    def __init__(self, width: int, height: int, time_base: Fraction):
        graph = av.filter.Graph()
        source = graph.add_buffer(width=width, height=height, format=av.VideoFormat("rgb24"), time_base=time_base)
        split = graph.add("split")
        generate = graph.add("palettegen", PALETTEGEN)
        apply = graph.add("paletteuse", PALETTEUSE)
        sink = graph.add("buffersink")
        source.link_to(split)
        split.link_to(generate, 0, 0)
        split.link_to(apply, 1, 0)
        generate.link_to(apply, 0, 1)
        apply.link_to(sink)
        graph.configure()
        self.graph = graph

    def convert(self, frame: av.VideoFrame | None) -> list:
        """Push an rgb24 frame (None at the end) and return the pal8 frames
        that are ready, with their pts."""
        self.graph.push(frame)
        ready = []
        while True:
            try:
                ready.append(self.graph.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return ready
