"""The engine seam: an engine written outside the package (the inverting fake)
plugged in with ``register_engine`` runs files and stills end to end through
the public API and the CLI; the optimizer satisfies the same protocol."""

import json

import cv2
import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip
from fakes import InvertingEngine, fake_engine  # noqa: F401 - fixture

import vidstyle
from vidstyle import engines
from vidstyle.cli.main import main
from vidstyle.config import StyleConfig
from vidstyle.engines.base import Engine
from vidstyle.errors import InputError
from vidstyle.media import read_frames
from vidstyle.media.images import load_image


def test_the_optimizer_and_the_fake_satisfy_the_engine_protocol():
    optimizer = engines.make_engine(StyleConfig(device="cpu"), [load_image(STYLE_PATH)])
    assert isinstance(optimizer, Engine) and optimizer.name == "optimize" and optimizer.wants_warm_start
    assert optimizer.max_iters(cold=True) == StyleConfig().iters_first
    assert optimizer.max_iters(cold=False) == StyleConfig().iters_later
    assert optimizer.required_bytes((128, 96)) < optimizer.required_bytes((256, 192))
    assert isinstance(InvertingEngine([], config=StyleConfig()), Engine)


def test_an_unknown_engine_is_one_clear_error():
    with pytest.raises(InputError, match="unknown engine 'nope'; choose one of .*optimize"):
        engines.make_engine(StyleConfig(engine="nope"), [])


def test_a_registered_engine_runs_a_file_through_the_api(tmp_path, fake_engine):
    src = make_clip(tmp_path / "in.mp4", width=64, height=48, num_frames=6)
    summary = vidstyle.stylize_video(src, tmp_path / "out.mkv", style=STYLE_PATH, engine="invert", max_side=64)
    assert summary.engine == "invert" and summary.frames == 6
    assert fake_engine.calls == 6
    assert fake_engine.warm_starts == [False] + [True] * 5  # the warm starter feeds any engine that wants it
    inputs = [f.image_u8.astype(int) for f in read_frames(src)]
    outputs = [f.image_u8.astype(int) for f in read_frames(tmp_path / "out.mkv")]
    assert len(outputs) == 6
    for source, result in zip(inputs, outputs):
        assert np.abs((255 - source) - result).mean() < 8  # the negative, through x264


def test_a_registered_engine_runs_a_file_and_a_still_through_the_cli(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", width=64, height=48, num_frames=4, audio=False)
    code = main(
        [str(src), "--style", str(STYLE_PATH), "--engine", "invert", "--json", "-q", "-o", str(tmp_path / "out.mp4")]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["engine"] == "invert"
    assert len(list(read_frames(tmp_path / "out.mp4"))) == 4

    still = tmp_path / "photo.png"
    photo = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    cv2.imwrite(str(still), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    code = main([str(still), "--style", str(STYLE_PATH), "--engine", "invert", "-q", "-o", str(tmp_path / "o.png")])
    assert code == 0, capsys.readouterr().err
    assert np.array_equal(load_image(tmp_path / "o.png"), 255 - photo)


def test_the_cli_lists_registered_engines_and_refuses_others(tmp_path, capsys, fake_engine):
    src = make_clip(tmp_path / "in.mp4", num_frames=2, audio=False)
    code = main([str(src), "--style", str(STYLE_PATH), "--engine", "nope", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "invert" in err and "optimize" in err
