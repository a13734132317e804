"""The CUDA path as a GPU user will meet it, checked on CPU by fault injection:
running out of memory anywhere is one clear error, --compile never crashes a
run, and the precision policy picks what it should for simulated GPUs."""

import warnings

import numpy as np
import pytest
import torch
from conftest import STYLE_PATH

from vidstyle.config import StyleConfig
from vidstyle.engines import optimize
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.engines.optimize_memory import required_bytes
from vidstyle.engines.out_of_memory import is_out_of_memory
from vidstyle.engines.precision import LossScaler, choose_precision, requested_precision
from vidstyle.errors import InputError, OutOfMemoryError, VidstyleError
from vidstyle.features import VGG19Features
from vidstyle.media.images import load_image

LAYERS = StyleConfig.content_layers + StyleConfig.style_layers
QUICK = dict(device="cpu", coarse_to_fine=False, tolerance=0.0)


def config_with(precision="auto", **options):
    return StyleConfig(**{**QUICK, **options, "precision": precision})


@pytest.fixture(scope="module")
def style():
    return load_image(STYLE_PATH)[::8, ::8]


@pytest.fixture(scope="module")
def network():
    return VGG19Features(LAYERS)


def content(width=48, height=32):
    return np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)


def fail_on_call(engine, number, error):
    """Make the engine's network raise ``error`` at its ``number``-th call (1-based)."""
    net, calls = engine._net, []

    def failing(image):
        calls.append(image.requires_grad)
        if len(calls) == number:
            raise error
        return net(image)

    engine._net = failing
    return calls


# -- out of memory --------------------------------------------------------------


# Calls of the network for a new frame size with one style image, no coarse
# level: 1 the style targets, 2 the content pass, 3.. one per iteration.
@pytest.mark.parametrize(
    "call, stage", [(1, "computing the style targets"), (2, "computing the content features"), (5, "optimizing")]
)
def test_out_of_memory_at_any_stage_is_one_clear_error(style, network, call, stage):
    engine = OptimizerEngine([style], config=config_with(), features=network)
    fail_on_call(engine, call, torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 ..."))
    with pytest.raises(OutOfMemoryError) as caught:
        engine.stylize(content(), max_iters=6)
    err = caught.value
    assert isinstance(err, VidstyleError) and err.exit_code == 1
    assert isinstance(err.__cause__, torch.OutOfMemoryError)
    assert err.stage == stage and err.size == (48, 32)
    message = str(err)
    assert f"while {stage} at 48x32" in message
    assert "tried to allocate 2.50 GiB" in message and "precision fp32" in message
    assert "--max-side 32" in message  # a smaller size than the one that failed


def test_cpu_allocator_failures_count_as_out_of_memory(style, network):
    engine = OptimizerEngine([style], config=config_with(), features=network)
    fail_on_call(engine, 4, RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"))
    with pytest.raises(OutOfMemoryError, match="out of memory on cpu while optimizing at 48x32"):
        engine.stylize(content(), max_iters=6)


def test_the_coarse_level_names_the_frame_it_serves(style, network):
    engine = OptimizerEngine([style], config=config_with(coarse_to_fine=True), features=network)
    fail_on_call(engine, 4, torch.OutOfMemoryError("out of memory"))
    with pytest.raises(OutOfMemoryError, match="at 68x45, the coarse level of a 96x64 frame") as caught:
        engine.stylize(content(96, 64), max_iters=40)  # 30 for the pyramid + 10 restarted
    assert caught.value.size == (96, 64) and "--max-side 64" in str(caught.value)


def test_other_errors_stay_what_they_are(style, network):
    engine = OptimizerEngine([style], config=config_with(), features=network)
    fail_on_call(engine, 3, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        engine.stylize(content(), max_iters=4)
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    wrapped = RuntimeError("backend compiler failed")
    wrapped.__cause__ = torch.OutOfMemoryError("CUDA out of memory")
    assert is_out_of_memory(wrapped)


def test_out_of_memory_inside_the_compiled_network_is_not_a_compile_failure(style, network, monkeypatch):
    def compile_that_runs_out_of_memory(module, **kwargs):
        def run(image):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB.")

        return run

    monkeypatch.setattr(torch, "compile", compile_that_runs_out_of_memory)
    engine = OptimizerEngine([style], config=config_with(compile=True), features=network)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "torch.compile failed" warning
        with pytest.raises(OutOfMemoryError, match="while compiling the network .* at 48x32") as caught:
            engine.stylize(content(), max_iters=3)
    assert "leaving out --compile" in str(caught.value)
    assert engine._compiled is not None and engine.compile_stats.fallback is None


def test_out_of_memory_while_compiling_at_construction(style, network, monkeypatch):
    def compile_out_of_memory(module, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(torch, "compile", compile_out_of_memory)
    with pytest.raises(OutOfMemoryError, match="while compiling the network"):
        OptimizerEngine([style], config=config_with(compile=True), features=network)


# -- --compile fallback ---------------------------------------------------------


def test_compile_failing_at_construction_falls_back_with_one_warning(style, network, monkeypatch):
    def broken_compile(module, **kwargs):
        raise RuntimeError("torch.compile is not supported here")

    monkeypatch.setattr(torch, "compile", broken_compile)
    with pytest.warns(RuntimeWarning, match="torch.compile failed") as caught:
        engine = OptimizerEngine([style], config=config_with(compile=True), features=network)
        result = engine.stylize(content(), max_iters=3)
    assert len([w for w in caught if "torch.compile" in str(w.message)]) == 1
    assert result.num_iters == 3 and result.image_u8.shape == (32, 48, 3)
    stats = engine.compile_stats
    assert stats.requested and not stats.active and stats.compiles == 0
    assert "not supported here" in stats.fallback


def test_compile_failing_at_a_new_shape_falls_back_once_and_finishes(style, network, monkeypatch):
    shapes = []

    def compile_that_fails_on_the_second_shape(module, **kwargs):
        assert kwargs.get("dynamic") is False

        def run(image):
            if tuple(image.shape) not in shapes:
                shapes.append(tuple(image.shape))
            if len(shapes) > 1:
                raise RuntimeError("BackendCompilerFailed: inductor crashed\nlong traceback")
            return module(image)

        return run

    monkeypatch.setattr(torch, "compile", compile_that_fails_on_the_second_shape)
    engine = OptimizerEngine([style], config=config_with(compile=True), features=network)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = engine.stylize(content(48, 32), max_iters=3)
    assert engine.compile_stats.compiles == 1 and engine.compile_stats.active
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*inductor crashed") as caught:
        second = engine.stylize(content(64, 48), max_iters=3)
        third = engine.stylize(content(80, 48), max_iters=3)
    assert len([w for w in caught if "torch.compile" in str(w.message)]) == 1
    assert second.image_u8.shape == (48, 64, 3) and third.image_u8.shape == (48, 80, 3)
    assert np.isfinite(second.losses["total"]) and second.num_iters == 3
    assert engine._compiled is None and not engine.compile_stats.active
    assert first.num_iters == 3


def test_only_the_full_size_optimization_graph_is_compiled_once_per_shape(style, network, monkeypatch):
    calls = []

    def recording_compile(module, **kwargs):
        def run(image):
            calls.append((tuple(image.shape[-2:]), image.requires_grad))
            return module(image)

        return run

    monkeypatch.setattr(torch, "compile", recording_compile)
    engine = OptimizerEngine([style], config=config_with(compile=True, coarse_to_fine=True), features=network)
    engine.stylize(content(96, 64), max_iters=8)  # coarse level 48x32, then 96x64
    engine.stylize(content(96, 64), max_iters=3)
    assert {shape for shape, _ in calls} == {(64, 96)}  # no coarse level, no style image sizes
    assert all(grad for _, grad in calls)  # no no-grad passes
    stats = engine.compile_stats
    assert stats.compiles == 1 and stats.active and stats.compile_seconds > 0
    assert stats.first_frame_seconds is not None and stats.first_frame_seconds >= stats.compile_seconds
    assert set(stats.as_dict()) == {
        "requested",
        "active",
        "compiles",
        "compile_seconds",
        "first_frame_seconds",
        "fallback",
    }


# -- precision ------------------------------------------------------------------


@pytest.mark.parametrize(
    "requested, device, capability, expected",
    [
        ("auto", "cuda:1", (7, 5), torch.float32),  # T4: bf16 only emulated
        ("auto", "cuda", (7, 0), torch.float32),  # V100
        ("auto", "cuda:0", (8, 0), torch.bfloat16),  # A100
        ("auto", "cuda", (9, 0), torch.bfloat16),  # H100
        ("auto", "cpu", None, torch.float32),
        ("auto", "mps", None, torch.float32),
        ("fp32", "cuda", (9, 0), torch.float32),
        ("fp16", "cuda", (7, 5), torch.float16),
        ("bf16", "cuda", (8, 6), torch.bfloat16),
        ("bf16", "cpu", None, torch.bfloat16),
    ],
)
def test_precision_policy(requested, device, capability, expected):
    assert choose_precision(requested, device, capability=capability) == expected


def test_bf16_on_a_gpu_without_native_bf16_is_a_clear_error():
    with pytest.raises(InputError, match="capability 8.0 or newer.*cuda:0 has 7.0.*--precision fp32"):
        choose_precision("bf16", "cuda:0", capability=(7, 0))
    with pytest.raises(InputError, match="unknown precision 'half'"):
        choose_precision("half", "cpu")


def test_the_capability_of_the_chosen_gpu_is_asked(monkeypatch):
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: asked.append(index) or (8, 0))
    assert choose_precision("auto", "cuda:1") == torch.bfloat16
    assert asked == [1]


def test_requested_precision_reads_the_config():
    assert requested_precision(StyleConfig()) == "auto"
    assert requested_precision(config_with("fp16")) == "fp16"


def test_the_cpu_layout_follows_the_precision(style, network):
    # channels-last where oneDNN's kernels gain from it (reduced precision), NCHW in float32
    bf16 = OptimizerEngine([style], config=config_with("bf16"), features=network)
    assert bf16._net.body[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert bf16.features(bf16.to_tensor(content()))["relu1_1"].is_contiguous(memory_format=torch.channels_last)
    fp32 = OptimizerEngine([style], config=config_with("fp32"), features=network)
    assert fp32._net.body[0].weight.is_contiguous()
    assert fp32.features(fp32.to_tensor(content()))["relu1_1"].is_contiguous()


def test_reduced_precision_runs_a_frozen_copy_and_keeps_the_losses_float32(style, network):
    engine = OptimizerEngine([style], config=config_with("bf16"), features=network)
    assert engine.precision == "bf16"
    assert all(p.dtype == torch.bfloat16 and not p.requires_grad for p in engine._net.parameters())
    assert all(p.dtype == torch.float32 for p in network.parameters())  # the shared network is untouched
    assert engine.vgg is network
    feats = engine.features(engine.to_tensor(content()))
    assert all(f.dtype == torch.bfloat16 for f in feats.values())
    assert all(g.dtype == torch.float32 for g in engine.style_grams((48, 32)).values())
    losses = []
    result = engine.stylize(content(), max_iters=12, on_iteration=lambda e: losses.append(e.loss))
    assert all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0]
    assert max(losses) <= losses[0] * 1.01  # the measurable first step: no jump at the second step
    assert result.image_u8.dtype == np.uint8


def test_the_half_copy_preprocesses_in_float32(network):
    copy = network.cast_copy(torch.bfloat16)
    assert copy.scale.dtype == torch.float32 and copy.compute_dtype == torch.bfloat16
    image = torch.rand(1, 3, 32, 32)
    reference = network(image)["relu2_1"]
    got = copy(image)["relu2_1"].float()
    assert torch.allclose(got, reference, rtol=0.05, atol=0.05 * float(reference.abs().max()))


def test_fp16_loss_scaling_backs_off_instead_of_feeding_lbfgs_a_bad_gradient(style, network):
    engine = OptimizerEngine([style], config=config_with("fp16"), features=network)
    assert engine._scaler is not None
    # Gradients per pixel grow as frames shrink: at 16x16 they overflow float16
    # at any scale above 2**-6 (measured), so this scale must back off.
    engine._scaler.scale = 2.0**-3
    losses = []
    engine.stylize(content(16, 16), max_iters=2, on_iteration=lambda e: losses.append(e.loss))
    assert engine._scaler.backoffs >= 1 and engine._scaler.scale < 2.0**-3
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_fp16_that_overflows_at_any_scale_is_a_clear_error(style, network):
    engine = OptimizerEngine([style], config=config_with("fp16"), features=network)

    def overflowing(image):  # every activation beyond float16's range
        return {k: (image.mean() * 0 + float("inf")).expand(1, 8, 4, 4).half() for k in LAYERS}

    engine._net = overflowing
    with pytest.raises(VidstyleError, match="float16 overflowed .*--precision fp32 or bf16"):
        engine.stylize(content(), max_iters=2)
    assert engine._scaler.scale < LossScaler.MIN_SCALE


def test_memory_estimate_follows_the_precision_of_the_chosen_gpu(monkeypatch):
    from vidstyle.engines import precision

    config = StyleConfig()
    monkeypatch.setattr(precision, "cuda_capability", lambda device: (7, 5))
    old_gpu = required_bytes((1280, 720), config=config, device="cuda")
    monkeypatch.setattr(precision, "cuda_capability", lambda device: (8, 0))
    new_gpu = required_bytes((1280, 720), config=config, device="cuda")
    assert old_gpu == required_bytes((1280, 720), config=config, device="cpu")  # fp32 on both
    assert new_gpu < old_gpu  # bf16 activations and weights (the float32 L-BFGS history stays)


def test_uploads_keep_values_and_layout_on_cpu(style, network):
    engine = OptimizerEngine([style], config=config_with(), features=network)
    tensor = engine.to_tensor(content())
    assert tensor.dtype == torch.float32 and tensor.shape == (1, 3, 32, 48) and tensor.is_contiguous()
    assert torch.allclose(tensor[0, :, 0, 0] * 255, torch.from_numpy(content()[0, 0]).float())
    assert optimize.LBFGS_ON_DEVICE  # measured at least as fast on CPU (see optimize.py)


# -- out of memory while training a network (vidstyle train, --engine net) ------


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from conftest import make_clip

    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", width=48, height=32, num_frames=4, audio=False)


TRAIN_CONFIG = StyleConfig(max_side=48, num_threads=1, device="cpu")


def fail_training_step(monkeypatch, number, error):
    """Make the training loop's ``number``-th loss computation raise ``error``
    (1: the loss measured before training, 2: the first step)."""
    from vidstyle.training import loop

    losses, calls = loop._losses, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise error
        return losses(*args, **kwargs)

    monkeypatch.setattr(loop, "_losses", failing)


@pytest.mark.parametrize("call", [1, 2])
def test_out_of_memory_while_training_names_the_step_and_what_to_change(style, clip, monkeypatch, call):
    from vidstyle.training import TrainingOptions, train_look

    fail_training_step(monkeypatch, call, torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB."))
    options = TrainingOptions(steps=2, minutes=None, crop=32, batch_pairs=2)
    with pytest.raises(OutOfMemoryError) as caught:
        train_look([style], config=TRAIN_CONFIG, clips=[clip], options=options)
    err = caught.value
    assert err.exit_code == 1 and isinstance(err.__cause__, torch.OutOfMemoryError)
    assert err.stage == "training the network" and err.size == (48, 32)
    message = str(err)
    assert "out of memory on cpu while training the network on 2 pairs of 32x32 crops per step, frames 48x32" in message
    assert "tried to allocate 1.50 GiB" in message and "precision fp32" in message
    assert "--batch 1" in message and "--max-side 32" in message
    assert "--crop" not in message  # 32 is already the smallest crop suggested


def test_out_of_memory_in_the_train_command_is_one_line_and_exit_1(style, clip, monkeypatch, tmp_path, capsys):
    from vidstyle.cli.main import main

    fail_training_step(monkeypatch, 2, RuntimeError("CUDA error: out of memory"))
    look = tmp_path / "look.pt"
    argv = ["train", "--style", STYLE_PATH, "--on", clip, "-o", look, "--steps", "2", "--max-side", "48"]
    code = main([str(a) for a in [*argv, "--crop", "48", "--device", "cpu", "--threads", "1", "-q"]])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(
        "vidstyle: error: out of memory on cpu while training the network on 1 pair of 48x32 crops"
    )
    assert "--crop 32" in lines[0] and "--batch" not in lines[0]
    assert not look.exists()


def test_out_of_memory_while_training_on_the_fly_points_at_vidstyle_train(style, clip, monkeypatch):
    from vidstyle.engines import make_engine

    fail_training_step(monkeypatch, 2, torch.OutOfMemoryError("CUDA out of memory"))
    with pytest.raises(OutOfMemoryError, match="while training the network") as caught:
        make_engine(TRAIN_CONFIG.replace(engine="net", train_steps=2), [style], clips=[clip])
    message = str(caught.value)
    assert "training the look first ('vidstyle train ... --crop 32') and passing it with --model" in message
    assert "--max-side 32" in message


def test_out_of_memory_reading_the_training_clips_is_host_memory(style, clip, monkeypatch):
    from vidstyle.training import TrainingOptions, loop, train_look

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(loop, "load_pairs", no_memory)
    with pytest.raises(OutOfMemoryError, match="on cpu while reading the training clips .* shorter clips"):
        train_look([style], config=TRAIN_CONFIG, clips=[clip], options=TrainingOptions(steps=1, minutes=None))


def test_out_of_memory_in_the_network_engine_is_one_clear_error():
    from vidstyle.engines.network import NetworkEngine, StyleNet

    engine = NetworkEngine(StyleNet(), config=StyleConfig(device="cpu", num_threads=1))

    def no_memory(image):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB.")

    engine.net = no_memory
    with pytest.raises(OutOfMemoryError, match="while running the network at 48x32 .*tried to allocate 3.00 GiB"):
        engine.stylize(content())
    with pytest.raises(OutOfMemoryError, match="--max-side 32"):
        engine.stylize_batch([content(), content()])


def test_float32_on_cuda_takes_the_reduced_precision_first_step(monkeypatch):
    """cuDNN's TF32 convolutions cannot see torch's tiny first L-BFGS step
    (an H200 run overshot 10 of 30 iterations with it): float32 on CUDA takes
    the bounded first step of bf16 while TF32 is allowed; the CPU keeps torch's."""
    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    assert optimize.first_step_max("fp32", cuda) == optimize.FIRST_STEP_MAX["bf16"]
    assert optimize.first_step_max("bf16", cuda) == optimize.FIRST_STEP_MAX["bf16"]
    assert optimize.first_step_max("fp32", cpu) is None
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    assert optimize.first_step_max("fp32", cuda) is None
