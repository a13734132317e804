"""Files: decode -> motion -> engine -> encode, with resume and multi-pass."""

from vidstyle.pipeline.video import stylize_image, stylize_video

__all__ = ["stylize_video", "stylize_image"]
