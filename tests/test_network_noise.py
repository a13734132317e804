"""Noise input channels of the network (Ulyanov et al. 2016): a flat region
gets strokes instead of a flat or regularly hatched fill, the noise of
inference is one fixed field (a still frame paints the same every time, and
a reloaded look paints the same pixels), and training records and uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import STYLE_PATH, make_clip

from vidstyle.config import StyleConfig
from vidstyle.engines.network import NetworkEngine, StyleNet, fixed_noise
from vidstyle.errors import InputError
from vidstyle.media import load_image, read_frames, resize_longer_side
from vidstyle.training import TrainingOptions, load_look, save_look, train_look

TINY = StyleConfig(max_side=64, num_threads=1, device="cpu")


def _perturbed(net: StyleNet) -> StyleNet:
    """The network with random weights in its last layer (an untrained
    residual network returns its input and ignores the noise)."""
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        for parameter in net.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return net.eval()


def test_noise_channels_paint_a_flat_frame_unevenly_and_the_same_every_time():
    flat = torch.full((1, 3, 40, 48), 0.5)
    plain = _perturbed(StyleNet())
    noisy = _perturbed(StyleNet(noise=2))
    with torch.no_grad():
        plain_out, noisy_out, again = plain(flat), noisy(flat), noisy(flat)
        other = noisy(flat, noise=torch.randn(1, 2, 40, 48))
    # away from the border a translation-equivariant network paints a flat
    # input with a pattern of period 4 (its two stride-2 steps) at most
    inner = (slice(None), slice(None), slice(12, 28), slice(12, 36))
    period4 = plain_out[inner].unfold(2, 4, 4).unfold(3, 4, 4)
    assert float((period4 - period4[:, :, :1, :1]).abs().max()) < 1e-4
    noisy_period4 = noisy_out[inner].unfold(2, 4, 4).unfold(3, 4, 4)
    assert float((noisy_period4 - noisy_period4[:, :, :1, :1]).abs().max()) > 1e-2
    assert torch.equal(noisy_out, again)  # the fixed field of inference
    assert not torch.equal(noisy_out, other)
    assert torch.equal(fixed_noise(2, 40, 48), fixed_noise(2, 40, 48))
    assert noisy.architecture()["noise"] == 2
    with pytest.raises(ValueError, match="noise"):
        StyleNet(noise=17)


def test_a_look_with_noise_trains_saves_and_reloads_to_the_same_pixels(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=64, height=48, num_frames=6, audio=False)
    style = resize_longer_side(load_image(STYLE_PATH), 64)
    trained = train_look(
        [style], config=TINY, clips=[clip], options=TrainingOptions(steps=6, minutes=None, noise=2, temporal_every=2)
    )
    assert trained.net.noise == 2 and trained.payload["training"]["fingerprint"]["noise"] == 2
    history = trained.payload["training"]["history"]
    assert history[-1]["total"] < history[0]["total"]
    path = tmp_path / "noise.pt"
    save_look(path, trained.net, styles_u8=[style], style_names=["s"], config=TINY, training={})
    reloaded = load_look(path).net
    assert reloaded.noise == 2
    frame = next(read_frames(str(clip))).image_u8
    direct = NetworkEngine(trained.net, config=TINY).stylize(frame).image_u8
    again = NetworkEngine(reloaded, config=TINY).stylize(frame).image_u8
    assert np.array_equal(direct, again)


def test_noise_is_refused_beside_a_prior_and_out_of_range():
    with pytest.raises(InputError, match="prior"):
        TrainingOptions(steps=1, noise=1, prior=True)
    with pytest.raises(InputError, match="noise"):
        TrainingOptions(steps=1, noise=-1)
