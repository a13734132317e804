"""Parts the speed work relies on: a shared or untruncated network, float32
losses under reduced precision, and torch.compile falling back cleanly."""

import numpy as np
import pytest
import torch
from conftest import STYLE_PATH

from vidstyle.config import StyleConfig
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.errors import InputError
from vidstyle.features import VGG19Features
from vidstyle.losses import content_loss, gram_matrix, style_loss
from vidstyle.media.images import load_image

LAYERS = StyleConfig.content_layers + StyleConfig.style_layers


@pytest.fixture(scope="module")
def style():
    return load_image(STYLE_PATH)[::4, ::4]


def test_untruncated_network_runs_to_pool5_and_gives_the_same_features():
    truncated = VGG19Features(LAYERS)
    full = VGG19Features(LAYERS, truncate=False)
    names = [name for name, _ in full.body.named_children()]
    assert names[-1] == "pool5" and len(names) > len(list(truncated.body.children()))
    image = torch.rand(1, 3, 48, 64)
    a, b = truncated(image), full(image)
    assert all(torch.equal(a[k], b[k]) for k in LAYERS)


def test_stylizers_can_share_one_network(style):
    network = VGG19Features(LAYERS)
    first = OptimizerEngine([style], config=StyleConfig(), features=network)
    second = OptimizerEngine([style], config=StyleConfig(tolerance=0.0), features=network)
    assert first.vgg is second.vgg
    with pytest.raises(InputError, match="relu5_1"):
        OptimizerEngine([style], config=StyleConfig(), features=VGG19Features(("relu4_2",)))


def test_losses_are_float32_when_features_are_bfloat16():
    feats = {"relu1_1": torch.rand(1, 8, 6, 5).bfloat16()}
    assert gram_matrix(feats["relu1_1"]).dtype == torch.float32
    grams = {"relu1_1": gram_matrix(torch.rand(1, 8, 6, 5))}
    assert style_loss(feats, grams).dtype == torch.float32
    assert content_loss(feats, {"relu1_1": torch.rand(1, 8, 6, 5)}).dtype == torch.float32


def test_failing_compile_falls_back_to_the_eager_network_with_one_warning(style, monkeypatch):
    def broken_compile(module, **kwargs):
        def run(image):
            raise RuntimeError("no compiler here\nlong traceback")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    stylizer = OptimizerEngine([style], config=StyleConfig(compile=True, coarse_to_fine=False, tolerance=0.0))
    content = np.full((32, 48, 3), 128, np.uint8)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no compiler here"):
        result = stylizer.stylize(content, max_iters=2)
    assert result.num_iters == 2 and stylizer._compiled is None
    assert stylizer.compile_stats.fallback.startswith("RuntimeError: no compiler here")


def test_compile_off_by_default(style):
    engine = OptimizerEngine([style], config=StyleConfig())
    assert engine._compiled is None
    assert not engine.compile_stats.requested and not engine.compile_stats.active and engine.compile_stats.compiles == 0
