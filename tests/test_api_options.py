"""The Python API takes the command line's options (QA, API options): ``model=``
selects the network engine as ``--model`` does, ``preset=`` works with explicit
options overriding it, the flags' text forms (``output_size="40x30"``) are
accepted, and arguments of the wrong type are one InputError saying what to
pass, never a raw TypeError. ``vidstyle.InterruptedRun`` is exported and stays
a KeyboardInterrupt (``except VidstyleError`` must not catch Ctrl-C)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip

import vidstyle
from vidstyle.config import PRESET_OPTIONS, StyleConfig, make_configs
from vidstyle.errors import InputError, VidstyleError
from vidstyle.pipeline.events import Notice

TINY = {"max_side": 32, "iters_first": 1, "iters_later": 1, "detail_iters": 0, "num_threads": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def look(tmp_path_factory):
    """An untrained look file: enough for the engine choice, fast to paint."""
    from vidstyle.engines.network import StyleNet
    from vidstyle.media import load_image, resize_longer_side
    from vidstyle.training import save_look

    path = tmp_path_factory.mktemp("look") / "look.pt"
    style = resize_longer_side(load_image(STYLE_PATH), 32)
    save_look(path, StyleNet(), styles_u8=[style], style_names=["s"], config=StyleConfig(**TINY), training={})
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", width=32, height=24, num_frames=2, audio=False)


# -- model= selects the network engine, as --model does ------------------------------------


def test_model_alone_selects_the_net_engine(look):
    config, _ = make_configs(model=look)
    assert config.engine == "net"
    assert make_configs(model=look, engine="net")[0].engine == "net"
    assert make_configs()[0].engine == "optimize"


def test_model_beside_another_engine_is_a_contradiction(look):
    with pytest.raises(InputError, match="model= sets engine='net'.*engine='optimize' contradicts it"):
        make_configs(model=look, engine="optimize")


def test_stylize_image_with_only_a_model_paints_with_the_look(look):
    """Before: InputError 'a style image is required' (the optimizer ran)."""
    rgb = np.full((24, 32, 3), 128, np.uint8)
    result = vidstyle.stylize_image(rgb, model=look, **TINY)
    assert result.shape == (24, 32, 3) and result.dtype == np.uint8


def test_stylize_video_with_a_model_and_a_style_paints_with_the_look(look, clip, tmp_path):
    """Before: the note said the style was unused, then the optimizer painted it."""
    notes: list[str] = []

    def on_event(event):
        if isinstance(event, Notice):
            notes.append(event.message)

    summary = vidstyle.stylize_video(
        clip, tmp_path / "o.mp4", model=look, style=STYLE_PATH, on_event=on_event, end_s=0.1, **TINY
    )
    assert summary.engine == "net"
    assert any("--style is not used" in note for note in notes)


# -- preset= ---------------------------------------------------------------------------------


def test_preset_is_accepted_and_explicit_options_override_it():
    config, _ = make_configs(preset="quality")
    assert config.iters_first == PRESET_OPTIONS["quality"]["iters_first"] != StyleConfig().iters_first
    assert config.long_term == PRESET_OPTIONS["quality"]["long_term"]
    config, _ = make_configs(preset="quality", iters_first=7)
    assert (config.iters_first, config.iters_later) == (7, PRESET_OPTIONS["quality"]["iters_later"])
    assert (
        make_configs(preset="fast")[0].iters_later == PRESET_OPTIONS["fast"]["iters_later"] < StyleConfig().iters_later
    )
    assert make_configs(preset=None) == make_configs() == make_configs(preset="balanced")
    with pytest.raises(InputError, match="unknown preset 'fastest'"):
        make_configs(preset="fastest")
    with pytest.raises(InputError, match="preset must be one of"):
        make_configs(preset=["fast"])


def test_stylize_image_takes_a_preset():
    rgb = np.full((24, 32, 3), 128, np.uint8)
    options = {**TINY, "flow": "dis-fast"}
    assert vidstyle.stylize_image(rgb, style=STYLE_PATH, preset="fast", **options).shape == (24, 32, 3)


def test_a_mistyped_keyword_is_told_only_a_close_name():
    with pytest.raises(InputError) as err:
        make_configs(max_sid=64, presets="fast", bogus_thing=1)
    message = str(err.value)
    assert "max_sid (did you mean max_side?)" in message
    assert "presets (did you mean preset?)" in message
    assert "bogus_thing" in message and "bogus_thing (" not in message
    with pytest.raises(InputError) as err:
        make_configs(resum=True)
    assert "did you mean resume?" in str(err.value)


# -- the flags' text forms -------------------------------------------------------------------


def test_the_text_forms_of_the_flags_are_accepted():
    config, export = make_configs(output_size="40x30", size="32x24", style_weights="0.5,0.5", max_side="64")
    assert (config.output_size, config.size, config.style_weights, config.max_side) == (
        (40, 30),
        (32, 24),
        (0.5, 0.5),
        64,
    )
    assert make_configs(input_fps="30000/1001")[1].input_fps == Fraction(30000, 1001)
    assert make_configs(start_s="00:01.5")[1].start_s == 1.5


def test_bad_text_names_the_option():
    with pytest.raises(InputError, match="output_size: expected WIDTHxHEIGHT, got '40'"):
        make_configs(output_size="40")
    with pytest.raises(InputError, match="must be True or False"):
        make_configs(temporal="no")  # a switch takes no text


# -- arguments of the wrong type -------------------------------------------------------------


class FakePILImage:
    """Stands in for PIL.Image.Image (the module name is what the API looks at)."""


FakePILImage.__module__ = "PIL.Image"
FakePILImage.__qualname__ = "Image"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: vidstyle.stylize_image(FakePILImage(), style=STYLE_PATH),
            r"src must be a path or a uint8 \(H, W, 3\) RGB array, got PIL\.Image\.Image \(numpy\.asarray",
        ),
        (lambda: vidstyle.stylize_image(5, style=STYLE_PATH), r"src must be a path or a uint8 .*, got int$"),
        (
            lambda: vidstyle.stylize_image(np.zeros((4, 4, 3), np.uint8), 7, style=STYLE_PATH),
            "dst must be a path .*, got int",
        ),
        (
            lambda: vidstyle.stylize_image(np.zeros((4, 4, 3), np.uint8), style=FakePILImage()),
            r"style must be an image path .*, got PIL\.Image\.Image$",  # not a real PIL image: refused
        ),
        (
            lambda: vidstyle.stylize_image(np.zeros((4, 4, 3), np.uint8), style=[STYLE_PATH, 3]),
            "style must be an image path .*, got int",
        ),
        (
            lambda: vidstyle.stylize_image(np.zeros((4, 4, 3), np.uint8), style=STYLE_PATH, on_event=5),
            "on_event must be a callable .*, got int",
        ),
        (
            lambda: vidstyle.stylize_video(np.zeros((2, 4, 4, 3), np.uint8), "o.mp4", style=STYLE_PATH),
            "src must be the path of a video .*numpy.ndarray; stylize_image takes",
        ),
        (lambda: vidstyle.stylize_video(5, "o.mp4", style=STYLE_PATH), "src must be the path of a video .*, got int"),
        (lambda: vidstyle.stylize_video("in.mp4", 5, style=STYLE_PATH), "dst must be a path .*, got int"),
        (
            lambda: vidstyle.stylize_video("in.mp4", "o.mp4", style=STYLE_PATH, on_event=5),
            "on_event must be a callable",
        ),
        (
            lambda: vidstyle.stylize_video("in.mp4", "o.mp4", style=STYLE_PATH, on_start=5),
            "on_start must be a callable",
        ),
    ],
)
def test_arguments_of_the_wrong_type_are_one_input_error(call, message):
    with pytest.raises(InputError, match=message):
        call()


# -- InterruptedRun --------------------------------------------------------------------------


def test_interrupted_run_is_exported_and_stays_a_keyboard_interrupt():
    from vidstyle.pipeline.video import InterruptedRun

    assert vidstyle.InterruptedRun is InterruptedRun
    assert "InterruptedRun" in vidstyle.__all__
    assert issubclass(InterruptedRun, KeyboardInterrupt)
    assert not issubclass(InterruptedRun, VidstyleError)  # `except VidstyleError` must not swallow Ctrl-C
