"""Motion: optical flow, warping, reliability masks (``flow``), motion between
frames and scene cuts (``estimate``), and the one warm starter that turns
(frame, motion, previous outputs) into a ``WarmStart`` (``warmstart``).

Numpy/OpenCV only, no torch: it runs on background threads beside the engine.
"""

from vidstyle.motion.estimate import CutPolicy, Motion, MotionEstimator, with_motion
from vidstyle.motion.flow import FlowEstimator, consistency_mask, warp
from vidstyle.motion.warmstart import WarmStarter, WarmStartPolicy, warm_start

__all__ = [
    "CutPolicy",
    "Motion",
    "MotionEstimator",
    "with_motion",
    "FlowEstimator",
    "consistency_mask",
    "warp",
    "WarmStarter",
    "WarmStartPolicy",
    "warm_start",
]
