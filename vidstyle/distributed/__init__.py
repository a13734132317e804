"""Running a file job on a Ray cluster (``vidstyle IN --style ART --ray auto``).

``plan`` splits the clip into segments (at scene cuts, then every
``segment_frames`` frames, each inside a shot starting ``seam_frames`` early
so its seam is warm), ``anchor`` starts such a segment from its shot's
first painting carried along the motion, ``seams`` cross-fades the overlap
of two segments, ``worker`` stylizes a segment through the
single-machine chain in a Ray actor that keeps the engine resident,
``driver`` hands segments to an ActorPool (Ray restarts dead workers and
retries their segments), saves finished segments for resume and writes the
output through the normal writer. ``runtime`` connects to Ray; Ray is
optional (``pip install 'vidstyle[ray]'``) and imported only here, on use.

Layering: this package sits above ``vidstyle.pipeline`` (it reuses its
stages, work directory and writer set-up); ``vidstyle.api.stylize_video``
imports it only when ``ray=`` is given.
"""

from vidstyle.distributed.driver import DistributedSummary, stylize_video_on_ray
from vidstyle.distributed.plan import Segment, plan_segments, scan_frames

__all__ = ["stylize_video_on_ray", "DistributedSummary", "Segment", "plan_segments", "scan_frames"]
