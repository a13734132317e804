"""An output with a side too small for VGG19 (a 400x2 strip) is resized from
the processing size, never painted at the output size: the detail stage
would run VGG19 where its pooling leaves nothing."""

from __future__ import annotations

import av
from conftest import STYLE_PATH, make_clip, run_cli

from vidstyle.pipeline.detail import wants_detail
from vidstyle.sizing import MIN_PROCESSING_SIDE


def test_the_detail_stage_never_takes_an_output_side_vgg_cannot():
    assert wants_detail((64, 16), (400, 16), 3)
    assert not wants_detail((64, 16), (400, MIN_PROCESSING_SIDE - 1), 3)
    assert not wants_detail((64, 16), (400, 16), 0)


def test_a_strip_enlarged_for_processing_comes_back_at_its_own_size(tmp_path, capsys):
    src = make_clip(
        tmp_path / "strip.mkv", width=400, height=2, num_frames=3, audio=False, codec="libx264rgb", pix_fmt="rgb24"
    )
    dst = tmp_path / "out.mkv"
    code, _, err = run_cli(
        capsys, src, "--style", STYLE_PATH, "--size", "64x16", "--iters", "5,1", "--threads", "1", "-o", dst
    )
    assert code == 0, err
    with av.open(str(dst)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 3 and (frames[0].width, frames[0].height) == (400, 2)
