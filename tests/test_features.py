"""VGG19 weights load into our own module with the right shapes and preprocessing."""

import pytest
import torch

from vidstyle.engines.optimize_memory import activation_bytes
from vidstyle.errors import InputError
from vidstyle.features import CAFFE_MEAN_BGR, VGG19Features, load_weights, select_device

EXPECTED_SHAPES = {
    "conv1_1": (64, 3, 3, 3),
    "conv1_2": (64, 64, 3, 3),
    "conv2_1": (128, 64, 3, 3),
    "conv3_1": (256, 128, 3, 3),
    "conv3_4": (256, 256, 3, 3),
    "conv4_1": (512, 256, 3, 3),
    "conv5_1": (512, 512, 3, 3),
    "conv5_4": (512, 512, 3, 3),
}


def test_original_weights_have_vgg19_shapes():
    kind, state = load_weights("caffe")
    assert kind == "caffe"
    assert len([k for k in state if k.endswith(".weight")]) == 16
    for name, shape in EXPECTED_SHAPES.items():
        assert tuple(state[f"{name}.weight"].shape) == shape
        assert tuple(state[f"{name}.bias"].shape) == (shape[0],)
    # quantized weights decode to real-valued kernels, not indices
    assert state["conv1_1.weight"].dtype == torch.float32
    assert 0.01 < state["conv3_1.weight"].abs().mean() < 1.0


def test_network_stops_at_deepest_requested_layer():
    net = VGG19Features(["relu1_1", "relu4_2"])
    names = [name for name, _ in net.body.named_children()]
    assert names[-1] == "relu4_2"
    assert "conv4_3" not in names and "conv5_1" not in names
    assert all(not p.requires_grad for p in net.parameters())


def test_feature_shapes_and_determinism():
    net = VGG19Features(["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"])
    image = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    a = net(image)
    b = net(image)
    assert a["relu1_1"].shape == (1, 64, 64, 96)
    assert a["relu2_1"].shape == (1, 128, 32, 48)
    assert a["relu3_1"].shape == (1, 256, 16, 24)
    assert a["relu4_2"].shape == (1, 512, 8, 12)
    assert a["relu5_1"].shape == (1, 512, 4, 6)
    for k in a:
        assert torch.equal(a[k], b[k])
        assert torch.isfinite(a[k]).all()


def test_caffe_preprocessing_subtracts_the_mean_pixel_in_bgr():
    """An image of exactly the mean pixel preprocesses to zero, so relu1_1 is
    relu(bias of conv1_1) away from the zero-padded border."""
    net = VGG19Features(["relu1_1"])
    mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1]) / 255.0
    image = mean_rgb.view(1, 3, 1, 1).expand(1, 3, 16, 16).contiguous()
    assert net.preprocess(image).abs().max() < 1e-4
    out = net(image)["relu1_1"][0, :, 8, 8]
    bias = net.body.conv1_1.bias.clamp(min=0)
    assert torch.allclose(out, bias, atol=1e-3)


def test_weights_from_a_file_match_the_builtin_ones(tmp_path):
    _, state = load_weights("caffe")
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    image = torch.rand(1, 3, 32, 32)
    builtin = VGG19Features(["relu2_1"])(image)["relu2_1"]
    from_file = VGG19Features(["relu2_1"], weights=str(path))(image)["relu2_1"]
    assert torch.equal(builtin, from_file)


def test_bad_weight_sources_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_weights(str(tmp_path / "missing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="cannot read weights"):
        load_weights(str(junk))
    with pytest.raises(InputError, match="unknown VGG19 layer"):
        VGG19Features(["relu9_9"])
    with pytest.raises(InputError, match="unknown VGG19 layer"):  # the memory estimate runs first: same error
        activation_bytes(64, 64, layers=["nope"])


class _Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_weights_with_pickled_code_are_refused_in_one_line_without_torch_s_advice(tmp_path, capsys):
    evil = tmp_path / "evil.pth"
    torch.save({"conv1_1.weight": _Payload()}, evil)
    with pytest.raises(InputError) as caught:
        load_weights(str(evil))
    message = str(caught.value)
    assert "cannot read weights file" in message and "\n" not in message and "weights_only" not in message
    assert "pickled code ran" not in capsys.readouterr().out


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            select_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        select_device("tpu7")
