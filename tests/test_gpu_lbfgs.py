"""DeviceLBFGS: torch.optim.LBFGS's iterates (max_iter=1, lr=1, no line
search) without reading device scalars back to the host."""

import numpy as np
import pytest
import torch
from conftest import STYLE_PATH

from vidstyle.config import StyleConfig
from vidstyle.engines.lbfgs import DeviceLBFGS
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.losses import PIXEL_SCALE, content_loss, style_loss, total_variation
from vidstyle.media.images import load_image


def torch_lbfgs(param, history_size):
    return torch.optim.LBFGS(
        [param], lr=1.0, max_iter=1, history_size=history_size, tolerance_grad=0.0, tolerance_change=0.0
    )


def run(make_optimizer, loss_of, start, num_iters):
    x = start.clone().requires_grad_(True)
    optimizer = make_optimizer(x)

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(x)
        loss.backward()
        return loss

    iterates, losses = [], []
    for _ in range(num_iters):
        losses.append(float(optimizer.step(closure).detach()))
        iterates.append(x.detach().clone())
    return iterates, losses


@pytest.fixture(scope="module")
def style_problem():
    """The engine's own loss (content + style + TV) on a tiny frame."""
    engine = OptimizerEngine([load_image(STYLE_PATH)[::4, ::4]], config=StyleConfig(device="cpu"))
    content_u8 = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    grams = engine.style_grams((32, 24))
    with torch.no_grad():
        targets = {k: v for k, v in engine.features(engine.to_tensor(content_u8)).items() if k == "relu4_2"}

    def loss_of(pixels):
        feats = engine.features(pixels / PIXEL_SCALE)
        return (
            5 * content_loss(feats, targets)
            + 100 * style_loss(feats, grams)
            + 1e-3 * total_variation(pixels / PIXEL_SCALE)
        )

    return loss_of, engine.to_tensor(content_u8) * PIXEL_SCALE


def test_same_iterates_as_torch_lbfgs_on_the_style_loss(style_problem):
    loss_of, start = style_problem
    expected, expected_losses = run(lambda x: torch_lbfgs(x, 50), loss_of, start, 10)
    got, got_losses = run(lambda x: DeviceLBFGS(x, history_size=50), loss_of, start, 10)
    assert got_losses[-1] < 0.5 * got_losses[0]  # it optimizes
    np.testing.assert_allclose(got_losses, expected_losses, rtol=1e-4)
    for a, b in zip(expected, got):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-2), float((a - b).abs().max())


def test_same_iterates_when_the_history_is_full():
    """An ill-conditioned quadratic, history 3: pairs are evicted from step 5 on."""
    generator = torch.Generator().manual_seed(0)
    scales = torch.logspace(0, 3, 40, dtype=torch.float64)
    target = torch.randn(40, generator=generator, dtype=torch.float64)

    def loss_of(x):
        return 0.5 * (scales * (x - target) ** 2).sum()

    start = torch.zeros(40, dtype=torch.float64)
    expected, _ = run(lambda x: torch_lbfgs(x, 3), loss_of, start, 20)
    got, _ = run(lambda x: DeviceLBFGS(x, history_size=3), loss_of, start, 20)
    for a, b in zip(expected, got):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_step_reads_nothing_back_to_the_host(monkeypatch):
    """No bool(), float(), item() of a tensor inside step(): on a GPU each one
    waits for the device. (torch.optim.LBFGS does, which this test checks too.)"""
    scales = torch.linspace(1, 10, 16)

    def loss_of(x):
        return 0.5 * (scales * x**2).sum()

    def host_read(*args, **kwargs):
        raise AssertionError("host read inside step()")

    for make, reads in ((lambda x: DeviceLBFGS(x, history_size=5), False), (lambda x: torch_lbfgs(x, 5), True)):
        x = torch.ones(16, requires_grad=True)
        optimizer = make(x)

        def closure(optimizer=optimizer, x=x):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_of(x)
            loss.backward()
            return loss

        optimizer.step(closure)  # the first step takes the other branch: check steps 2..4
        with monkeypatch.context() as patch:
            for name in ("__bool__", "__float__", "item", "tolist", "__index__", "__int__"):
                patch.setattr(torch.Tensor, name, host_read)
            if reads:
                with pytest.raises(AssertionError, match="host read"):
                    optimizer.step(closure)
            else:
                for _ in range(3):
                    optimizer.step(closure)
    assert float(loss_of(x.detach())) < float(loss_of(torch.ones(16)))


def test_a_pair_without_curvature_is_a_no_op_and_a_zero_gradient_stays_put():
    x = torch.zeros(4, requires_grad=True)
    optimizer = DeviceLBFGS(x, history_size=5)

    def closure():  # flat loss: zero gradient, y = 0, ys = 0 (rejected)
        optimizer.zero_grad(set_to_none=True)
        loss = (x * 0).sum()
        loss.backward()
        return loss

    for _ in range(3):
        optimizer.step(closure)
    assert torch.equal(x.detach(), torch.zeros(4))
    assert all(float(rho) == 0 for rho in optimizer._rhos)


def test_first_step_max_moves_the_largest_element_by_that_much():
    x = torch.tensor([0.0, 0.0, 0.0], requires_grad=True)
    optimizer = DeviceLBFGS(x, first_step_max=2.0)

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = (torch.tensor([1.0, -4.0, 0.5]) * x).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    assert torch.allclose(x.detach(), torch.tensor([-0.5, 2.0, -0.25]))


def test_max_step_bounds_every_later_step_and_keeps_the_direction(style_problem):
    loss_of, start = style_problem
    free, _ = run(lambda x: DeviceLBFGS(x, first_step_max=1.0), loss_of, start, 6)
    bounded, _ = run(lambda x: DeviceLBFGS(x, first_step_max=1.0, max_step=4.0), loss_of, start, 6)
    moves = [(b - a).abs().amax().item() for a, b in zip(free, free[1:])]
    assert max(moves) > 4.0  # unbounded, some step is larger: the bound has work to do
    for a, b in zip(bounded, bounded[1:]):
        assert (b - a).abs().amax().item() <= 4.0 + 1e-3
    # the second step is the first L-BFGS direction, only shortened
    free_step, bounded_step = free[1] - free[0], bounded[1] - bounded[0]
    assert torch.allclose(free[0], bounded[0])
    cosine = torch.nn.functional.cosine_similarity(free_step.reshape(1, -1), bounded_step.reshape(1, -1)).item()
    assert cosine > 0.999


def test_bad_arguments():
    with pytest.raises(ValueError, match="requires grad"):
        DeviceLBFGS(torch.zeros(3))
    with pytest.raises(ValueError, match="history_size"):
        DeviceLBFGS(torch.zeros(3, requires_grad=True), history_size=0)


@pytest.mark.parametrize("overshoot_at", [8, 30])  # mid-run, and the last of the 30 steps
def test_an_overshooting_step_restarts_from_the_best_pixels(monkeypatch, overshoot_at):
    """L-BFGS without a line search can throw the pixels far out of 0..255,
    where the loss goes flat and the stopping rule would call it converged;
    the engine restarts from the best iterate instead (or, after the last
    step, keeps it) and ends near the loss of a run that did not overshoot."""
    from vidstyle.engines import optimize

    engine = OptimizerEngine([load_image(STYLE_PATH)], config=StyleConfig(num_threads=1, tolerance=1e-3))
    content = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    make_optimizer = engine._make_optimizer

    def overshooting(pixels, **options):
        optimizer = make_optimizer(pixels, **options)
        step = optimizer.step
        steps = [0]

        def step_once_too_far(closure):
            loss = step(closure)
            steps[0] += 1
            if steps[0] == overshoot_at:  # one step (of the first optimizer only) lands far out of range
                with torch.no_grad():
                    pixels.add_(3000.0)
            return loss

        optimizer.step = step_once_too_far
        monkeypatch.setattr(engine, "_make_optimizer", make_optimizer)  # the restart gets a sound one
        return optimizer

    plain = engine._optimize(content, init=None, temporal=None, max_iters=30)
    assert plain.num_iters == 30
    monkeypatch.setattr(engine, "_make_optimizer", overshooting)
    thrown = engine._optimize(content, init=None, temporal=None, max_iters=30)
    assert thrown.num_iters == 30  # not stopped as "converged" on the flat loss out of range
    assert thrown.losses["total"] < 1.25 * plain.losses["total"]

    monkeypatch.setattr(optimize, "diverged", lambda loss, best_loss: False)  # without the guard: stuck
    monkeypatch.setattr(engine, "_make_optimizer", overshooting)
    stuck = engine._optimize(content, init=None, temporal=None, max_iters=30)
    assert not stuck.losses["total"] <= 2 * plain.losses["total"]  # far worse, or NaN
