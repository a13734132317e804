"""The optimizer: losses fall, warm starts converge sooner, options behave."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from vidstyle.config import StyleConfig
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.errors import InputError
from vidstyle.frames import WarmStart
from vidstyle.media.images import load_image

STYLE = Path(__file__).resolve().parent.parent / "samples" / "starry_night.jpg"


def scene(width=96, height=64, shift=0):
    """A smooth coloured scene with a few shapes, shifted right by ``shift`` px."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x = x - shift
    image = np.stack([0.5 + 0.4 * np.sin(x / 9.0), 0.5 + 0.4 * np.cos(y / 7.0), 0.5 + 0.3 * np.sin((x + y) / 13.0)], -1)
    image = (image * 255).astype(np.uint8)
    cv2.circle(image, (int(30 + shift), 30), 12, (230, 40, 40), -1)
    cv2.rectangle(image, (int(60 + shift), 10), (int(80 + shift), 50), (20, 20, 200), -1)
    return image


@pytest.fixture(scope="module")
def style():
    return load_image(STYLE)


def test_style_loss_falls_during_optimization(style):
    stylizer = OptimizerEngine([style], config=StyleConfig(tolerance=0.0, coarse_to_fine=False))
    content = scene()
    losses = []
    result = stylizer.stylize(content, max_iters=25, on_iteration=lambda e: losses.append(e.loss))
    assert result.num_iters == 25 and len(losses) == 25
    before = stylizer.measure(content, content)["style"]
    after = stylizer.measure(result.image_u8, content)["style"]
    assert after < 0.5 * before
    assert losses[-1] < 0.5 * losses[0]
    assert result.image_u8.shape == content.shape and result.image_u8.dtype == np.uint8


def test_iteration_cap_covers_the_coarse_level(style):
    stylizer = OptimizerEngine([style], config=StyleConfig(tolerance=0.0, coarse_to_fine=True))
    calls = []
    result = stylizer.stylize(scene(width=128, height=96), max_iters=20, on_iteration=lambda e: calls.append(e))
    assert result.num_iters == 20 and len(calls) == 20


def test_warm_start_converges_in_fewer_iterations_than_cold_start(style):
    config = StyleConfig(tolerance=1e-2, tolerance_window=5)
    stylizer = OptimizerEngine([style], config=config)
    first = stylizer.stylize(scene(), max_iters=200)
    second_content = scene(shift=1)
    warm_init = np.roll(first.image_u8, 1, axis=1)  # the previous output moved with the scene
    cold = stylizer.stylize(second_content, max_iters=200)
    warm = stylizer.stylize(second_content, WarmStart(init=warm_init.astype(np.float32) / 255), max_iters=200)
    assert cold.converged and warm.converged
    assert warm.num_iters < 0.5 * cold.num_iters
    assert warm.losses["total"] <= 1.2 * cold.losses["total"]


def test_every_iteration_of_a_short_warm_start_counts(style):
    """A warm-started frame has few iterations (3 in the detail stage):
    L-BFGS's first step must move the image visibly (torch's rule moves it
    by 1 in L1 in all, 1e-5 grey levels per value here) and the three must
    lower the loss without an overshoot (``WARM_MAX_STEP``)."""
    stylizer = OptimizerEngine([style], config=StyleConfig(tolerance=0.0))
    first = stylizer.stylize(scene(), max_iters=60)
    second = scene(shift=1)
    init = cv2.GaussianBlur(np.roll(first.image_u8, 1, axis=1), (0, 0), 1.5)  # an unfinished start
    losses: list[float] = []
    result = stylizer.stylize(
        second, WarmStart(init=init.astype(np.float32) / 255), max_iters=3, on_iteration=lambda e: losses.append(e.loss)
    )
    assert losses[1] < 0.995 * losses[0]  # the first step already paid
    assert max(losses) <= losses[0]
    assert result.losses["total"] < 0.8 * losses[0]
    assert not np.array_equal(result.image_u8, init)


def test_adam_also_lowers_the_loss(style):
    stylizer = OptimizerEngine([style], config=StyleConfig(optimizer="adam", learning_rate=5.0, tolerance=0.0))
    losses = []
    stylizer.stylize(scene(), max_iters=30, on_iteration=lambda e: losses.append(e.loss))
    assert losses[-1] < 0.7 * losses[0]


def test_noise_init_is_seeded(style):
    config = StyleConfig(init="noise", seed=3, tolerance=0.0)
    a = OptimizerEngine([style], config=config).stylize(scene(), max_iters=2).image_u8
    b = OptimizerEngine([style], config=config).stylize(scene(), max_iters=2).image_u8
    assert np.array_equal(a, b)


def test_two_styles_blend_between_their_grams(style):
    gray = cv2.cvtColor(cv2.cvtColor(style, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    size = (96, 64)
    only_a = OptimizerEngine([style], config=StyleConfig()).style_grams(size)
    only_b = OptimizerEngine([gray], config=StyleConfig()).style_grams(size)
    half = OptimizerEngine([style, gray], config=StyleConfig(style_weights=(0.5, 0.5))).style_grams(size)
    for layer in only_a:
        assert np.allclose(half[layer].numpy(), 0.5 * (only_a[layer] + only_b[layer]).numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(InputError, match="2 style images but 1 style weights"):
        OptimizerEngine([style, gray], config=StyleConfig(style_weights=(1.0,)))


def test_bad_config_values_are_input_errors():
    with pytest.raises(InputError, match="iters-first must be between 1 and 100000"):
        StyleConfig(iters_first=0)
    with pytest.raises(InputError, match="unknown flow method"):
        StyleConfig(flow="magic")
