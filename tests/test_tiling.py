"""Tiles (engines/tiling.py): the layout, the tiled loss and gradient against
the untiled ones, a tiled stylization against an untiled one, the --tile
flag end to end, and the memory decision that picks tiles instead of shrinking."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import STYLE_PATH, make_clip
from test_stylizer import scene

from vidstyle.cli.main import main
from vidstyle.config import CONTENT_LAYERS, STYLE_LAYERS, StyleConfig
from vidstyle.engines import memory_estimate, tiled_memory_estimate
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.engines.optimize_memory import required_bytes
from vidstyle.engines.tiling import TiledObjective, tile_layout, tiled_content_targets, tiled_grams
from vidstyle.errors import InputError
from vidstyle.features import VGG19Features
from vidstyle.losses import PIXEL_SCALE, content_loss, gram_matrix, style_loss
from vidstyle.media import probe
from vidstyle.media.images import load_image
from vidstyle.sizing import GIB, TILE_CHOICES, choose_size

SIZE = (160, 96)  # (width, height): cores 64, 64, 32 wide and 64, 32 high; a halo of 80 is clipped only on one side
TILE = 64


@pytest.fixture(scope="module")
def vgg():
    return VGG19Features(tuple(dict.fromkeys(CONTENT_LAYERS + STYLE_LAYERS)))


@pytest.fixture(scope="module")
def style():
    return load_image(STYLE_PATH)


def seam_ratio(image: np.ndarray, tile: int) -> float:
    """Mean |neighbour difference| across core boundaries / the same mean over the image."""
    x = image.astype(np.float32)
    dx = np.abs(x[:, 1:] - x[:, :-1]).mean(axis=(0, 2))
    dy = np.abs(x[1:] - x[:-1]).mean(axis=(1, 2))
    at_seams = np.concatenate([dx[tile - 1 :: tile], dy[tile - 1 :: tile]]).mean()
    return float(at_seams / np.concatenate([dx, dy]).mean())


def test_layout_partitions_the_image_into_aligned_cores_with_clipped_halos():
    tiles = tile_layout((270, 200), tile=100, halo=20)  # rounded: cores of 96, halo 32
    covered = np.zeros((200, 270), dtype=int)
    for tile in tiles:
        y0, y1, x0, x1 = tile.core
        covered[y0:y1, x0:x1] += 1
        wy0, wy1, wx0, wx1 = tile.window
        assert (wy0, wx0) == (max(0, y0 - 32), max(0, x0 - 32))
        assert (wy1, wx1) == (min(200, y1 + 32), min(270, x1 + 32))
        assert all(edge % 16 == 0 for edge in (y0, x0, wy0, wx0))
    assert (covered == 1).all()
    # a remainder under a quarter tile joins its neighbour: 200 = 96 + 104
    assert sorted({t.core[:2] for t in tiles}) == [(0, 96), (96, 200)]
    assert sorted({t.core[2:] for t in tiles}) == [(0, 96), (96, 192), (192, 270)]


def untiled_loss_and_grad(vgg, pixels, content, style_targets):
    with torch.no_grad():
        targets = {k: v for k, v in vgg(content).items() if k in CONTENT_LAYERS}
    x = pixels.clone().requires_grad_(True)
    feats = vgg(x / PIXEL_SCALE)
    loss = 5.0 * content_loss(feats, targets) + 100.0 * style_loss(feats, style_targets)
    loss.backward()
    return float(loss.detach()), x.grad, targets


def tiled_loss_and_grad(vgg, pixels, content, style_targets, *, halo):
    targets = tiled_content_targets(vgg, content, layers=CONTENT_LAYERS, tile=TILE, halo=halo)
    objective = TiledObjective(
        vgg,
        size=SIZE,
        style_targets=style_targets,
        content_targets=targets,
        style_weight=100.0,
        content_weight=5.0,
        tile=TILE,
        halo=halo,
    )
    grad = torch.zeros_like(pixels)
    terms = objective.evaluate(pixels, grad)
    return float(terms["content"] + terms["style"]), grad, targets


def test_tiled_loss_and_gradient_equal_the_untiled_ones(vgg):
    """Measured (CPU, fp32): halo 80 (the receptive field of relu5_1): loss
    identical, gradient within 2e-7 of its largest element; halo 32: 2e-5
    and 1.4e-3; halo 16: 3e-2 and 8e-2."""
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, SIZE[1], SIZE[0], generator=generator)
    pixels = torch.rand(1, 3, SIZE[1], SIZE[0], generator=generator) * PIXEL_SCALE
    with torch.no_grad():
        style_feats = vgg(torch.rand(1, 3, 80, 80, generator=generator))
        style_targets = {k: gram_matrix(style_feats[k]) for k in STYLE_LAYERS}
    loss, grad, targets = untiled_loss_and_grad(vgg, pixels, content, style_targets)
    tiled, tiled_grad, tiled_targets = tiled_loss_and_grad(vgg, pixels, content, style_targets, halo=80)
    scale = float(grad.abs().max())
    assert abs(tiled - loss) <= 1e-6 * loss
    assert float((tiled_grad - grad).abs().max()) <= 1e-5 * scale
    assert torch.allclose(tiled_targets["relu4_2"], targets["relu4_2"], rtol=1e-5, atol=1e-3)
    with torch.no_grad():
        grams = tiled_grams(vgg, pixels / PIXEL_SCALE, layers=STYLE_LAYERS, tile=TILE, halo=80)
        whole = vgg(pixels / PIXEL_SCALE)
    for name in STYLE_LAYERS:
        assert torch.allclose(
            grams[name], gram_matrix(whole[name]), rtol=1e-5, atol=1e-6 * float(grams[name].abs().max())
        )
    # A halo short of the receptive field is an approximation, and measurably one.
    short, short_grad, _ = tiled_loss_and_grad(vgg, pixels, content, style_targets, halo=16)
    assert float((short_grad - grad).abs().max()) > 1e-3 * scale and abs(short - loss) > 1e-3 * loss


def test_tiled_stylization_matches_the_untiled_one_without_seams(style, vgg):
    content = scene(*SIZE)
    config = StyleConfig(tolerance=0.0, coarse_to_fine=False)
    whole = OptimizerEngine([style], config=config, features=vgg).stylize(content, max_iters=3)
    tiled_engine = OptimizerEngine([style], config=dataclasses.replace(config, tile=TILE), features=vgg)
    tiled = tiled_engine.stylize(content, max_iters=3)
    diff = np.abs(whole.image_u8.astype(int) - tiled.image_u8.astype(int))
    assert diff.max() <= 1  # measured: 0
    assert abs(tiled.losses["total"] / whole.losses["total"] - 1) < 1e-5
    assert not np.array_equal(tiled.image_u8, content)  # it did paint
    assert seam_ratio(tiled.image_u8, TILE) <= seam_ratio(whole.image_u8, TILE) * 1.02 + 0.02
    # The style image (scaled to the frame's 160 px) is measured in tiles too: the same Grams.
    untiled_grams = OptimizerEngine([style], config=config, features=vgg).style_grams(SIZE)
    for name, gram in tiled_engine.style_grams(SIZE).items():
        assert torch.allclose(gram, untiled_grams[name], rtol=1e-4, atol=1e-5 * float(gram.abs().max()))


def test_tile_flag_runs_end_to_end_on_a_real_clip(tmp_path, capsys):
    src = make_clip(tmp_path / "in.mp4", width=96, height=64, num_frames=3, audio=False)
    dst = tmp_path / "out.mp4"
    argv = [src, "--style", STYLE_PATH, "-o", dst, "--max-side", "96", "--iters", "3,1", "--tile", "64", "-q"]
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 0, err
    info = probe(dst)
    assert (info.width, info.height) == (96, 64) and info.num_frames == 3


def test_memory_decision_picks_tiles_instead_of_shrinking():
    config = StyleConfig(size=(3840, 2160))
    available = 16 * GIB
    choice = choose_size(
        (3840, 2160),
        config,
        required_bytes=memory_estimate(config, "cpu"),
        tiled_bytes=tiled_memory_estimate(config, "cpu"),
        device="cpu",
        available=available,
    )
    assert choice.size == (3840, 2160) and choice.tile in TILE_CHOICES
    assert required_bytes((3840, 2160), config=config, device="cpu") > 0.8 * available
    with_tile = dataclasses.replace(config, tile=choice.tile)
    assert required_bytes((3840, 2160), config=with_tile, device="cpu") <= 0.8 * available
    larger = [t for t in TILE_CHOICES if t > choice.tile]
    for tile in larger:  # the largest tile that fits
        assert (
            required_bytes((3840, 2160), config=dataclasses.replace(config, tile=tile), device="cpu") > 0.8 * available
        )
    assert choice.note is not None and f"optimizing 3840x2160 in {choice.tile} px tiles" in choice.note
    assert "GiB" in choice.note
    # Not even the smallest tile fits (the full-size L-BFGS history does not
    # shrink with tiles): shrink as before.
    small = choose_size(
        (3840, 2160),
        config,
        required_bytes=memory_estimate(config, "cpu"),
        tiled_bytes=tiled_memory_estimate(config, "cpu"),
        device="cpu",
        available=4 * GIB,
    )
    assert small.tile is None and small.size[0] < 3840 and "instead of 3840x2160" in small.note
    # An engine that cannot tile is shrunk; a frame that fits is left alone.
    assert (
        choose_size(
            (3840, 2160), config, required_bytes=memory_estimate(config, "cpu"), device="cpu", available=available
        ).tile
        is None
    )
    fits = choose_size(
        (320, 180),
        StyleConfig(size=(320, 180)),
        required_bytes=memory_estimate(config, "cpu"),
        tiled_bytes=tiled_memory_estimate(config, "cpu"),
        device="cpu",
        available=available,
    )
    assert fits.tile is None and fits.note is None


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "tile must be >= 64 pixels"),
        ("-128", "tile must be >= 64 pixels"),
        ("32", "tile must be >= 64 pixels"),
        ("nan", "--tile"),
        ("inf", "--tile"),
        ("1.5", "--tile"),
    ],
)
def test_bad_tile_values_get_one_clear_line(tmp_path, capsys, value, message):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"never read: the options are refused first")
    code = main([str(src), "--style", str(STYLE_PATH), "-o", str(tmp_path / "out.mp4"), "--tile", value])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("vidstyle: error:") and message in lines[0], lines
    with pytest.raises(InputError, match="tile must be >= 64"):
        StyleConfig(tile=16)
