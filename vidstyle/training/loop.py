"""Training a look: the optimizer's own losses, learned by a network.

Departs from Johnson et al. (2016) in two ways measured on this project's
prototypes (README, DESIGN.md): the training images are crops of the clips
to be stylized (at their processing size), not COCO; and a temporal term
(Ruder et al.'s masked MSE, on consecutive frame pairs warped by the flow
``vidstyle.motion`` computes) is added, as in Huang et al. (2017) and Gao et
al. (ReCoNet, 2018). The losses are the optimizer's, composed the same way
(``losses.py``, ``OptimizerEngine``'s VGG19 and style Grams): the network
learns the style through the perceptual loss itself, never by regressing to
optimizer keyframes (pixel L1 averages the texture away).

Why this module is long: one training loop whose budget, checkpoints,
resume and out-of-memory guard all act on the same running state.

Running out of memory while reading the clips or training raises
``errors.OutOfMemoryError``, one line (``out_of_memory.describe_training``).

Budget: ``steps`` and/or ``minutes`` (wall time, resumed time included);
training stops at whichever comes first. A checkpoint (``OUTPUT.ckpt``) is
written every ``checkpoint_every_s`` seconds and on interruption; a later
call with the same style, options and clips resumes from it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from vidstyle import sizing
from vidstyle.config import MAX_SIDE, MIN_SIDE, StyleConfig
from vidstyle.engines.network import StyleNet
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.engines.out_of_memory import describe_training, memory_guard
from vidstyle.errors import InputError
from vidstyle.losses import content_loss, style_loss, temporal_loss, total_variation
from vidstyle.training.data import (
    clip_identity,
    crop_side,
    default_clips,
    images_digest,
    load_pairs,
    sample_batch,
)
from vidstyle.training.look import atomic_save, look_payload, network_from_payload, read_payload, recorded_options
from vidstyle.training.prior import chained_prior, warp_images
from vidstyle.training.targets import FRAMES, ContentTargets

# --crop's range: VGG19 pools four times before relu5_1 (a 15 px crop fails
# there, a 1 px one in the network's reflection padding); no frame is larger
# than MAX_SIDE, and a crop is limited by the frames anyway.
MIN_CROP = MIN_SIDE
MAX_CROP = MAX_SIDE
# --batch's upper bound: Johnson et al. (2016) train with 4; a step holds
# 2 x batch images through the network and VGG19 with their gradients, so
# 64 pairs of whole 256x144 frames already take gigabytes.
MAX_BATCH_PAIRS = 64
# Memory one training step holds per pixel of each image it trains on (the
# network's and VGG19's activations with their gradients, float32): measured
# peak resident memory on the CPU, 128x72 whole frames, --batch 1, 8 and 16:
# 70 MB more per pair, 3.8 kB per pixel. A step whose images alone need more
# than the device has free is refused before training (``check_step_memory``).
STEP_BYTES_PER_PIXEL = 3800


def check_batch_pairs(value: int) -> None:
    """InputError unless ``value`` frame pairs per step is 1 to MAX_BATCH_PAIRS."""
    if not 1 <= value <= MAX_BATCH_PAIRS:
        raise InputError(f"batch must be between 1 and {MAX_BATCH_PAIRS} frame pairs, got {value}")


def check_crop(value: int | None) -> None:
    """InputError unless ``value`` (a crop side) is None or MIN_CROP to MAX_CROP pixels."""
    if value is not None and not MIN_CROP <= value <= MAX_CROP:
        raise InputError(f"crop must be between {MIN_CROP} and {MAX_CROP} pixels, got {value}")


def step_bytes(crop: tuple[int, int], batch_pairs: int, *, dtype: torch.dtype = torch.float32) -> int:
    """About what one training step on ``batch_pairs`` pairs of ``crop``
    (width, height) windows holds (a pair step trains on both frames), beyond
    the model and the decoded clips; reduced precision halves it."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return 2 * batch_pairs * crop[0] * crop[1] * STEP_BYTES_PER_PIXEL * itemsize // 4


def check_step_memory(
    crop: tuple[int, int], batch_pairs: int, *, device, dtype: torch.dtype = torch.float32, on_the_fly: bool = False
) -> None:
    """InputError (one line, before training starts) when a step at ``crop``
    and ``batch_pairs`` needs more than ``device`` has free (unknown: no check)."""
    available = sizing.available_bytes(device)
    need = step_bytes(crop, batch_pairs, dtype=dtype)
    if available is None or need <= available:
        return
    pairs = f"{batch_pairs} pair{'s' if batch_pairs != 1 else ''}"
    fits = max(0, available * batch_pairs // need)
    if on_the_fly:
        advice = "a smaller --max-side"
    elif fits >= 1:
        advice = f"--batch {fits} or less, or a smaller --crop or --max-side"
    else:
        advice = "a smaller --crop or --max-side"
    raise InputError(
        f"a training step on {pairs} of {crop[0]}x{crop[1]} images needs about {need / 2**30:.1f} GiB but "
        f"{torch.device(device)} has {available / 2**30:.1f} GiB available; try {advice}"
    )


@dataclasses.dataclass(frozen=True)
class TrainingOptions:
    """How long and how a look trains (the style and loss options are the
    ``StyleConfig``'s).

    Attributes:
        steps: stop after this many steps (None: the time budget decides).
        minutes: stop after this much wall time (None: the steps decide).
        batch_pairs: frame pairs per step (each pair is two images; a
            single-frame step takes the current frame of each); 1 to
            MAX_BATCH_PAIRS.
        crop: side of square random crops, MIN_CROP to MAX_CROP pixels (limited
            by the frames); None:
            whole frames (at style gain 1: 3.5x the optimizer's style, 144 px 8.0x).
        learning_rate: Adam's; 1e-3 gave 16.5x the optimizer's style, 5e-3 56x.
        temporal_every: one step in this many trains on frame pairs with the
            temporal term; the others on single frames, at half the cost (the
            style is learned per frame). 5 minutes at 256x144 on one thread
            (benchmarks/training_recipes.py): every step on pairs 6.0x the
            optimizer's style loss, one in 4 3.9x.
        style_gain: the style weight in training is ``config.style_weight`` times
            this: a small network under-paints at the optimizer's balance (whole
            frames, 300 steps: gain 1 3.5x the optimizer's style loss and 0.90x its
            content loss; gain 4 2.5x and 1.14x).
        checkpoint_every_s: seconds between checkpoints.
        seed: network initialization and crop sampling.
        output: the network's output layer (``engines.network.StyleNet``).
        prior: the network also takes the warped previous output
            (``StyleNet``'s ``prior``; pair steps train it, ``_prior_losses``).
        prior_chain: a pair step's previous frame is painted at the end of a
            chain of 0 to this many earlier frames, as at inference
            (``prior.chained_prior``).
        noise: input channels of noise (``StyleNet``'s ``noise``); each step
            draws fresh noise, the same for both frames of a pair (at
            inference the field is fixed). Not with ``prior``.
    """

    steps: int | None = None
    minutes: float | None = 5.0
    batch_pairs: int = 1
    crop: int | None = None
    learning_rate: float = 1e-3
    temporal_every: int = 4
    style_gain: float = 4.0
    checkpoint_every_s: float = 30.0
    seed: int = 0
    output: str = "residual"
    prior: bool = False
    prior_chain: int = 8
    noise: int = 0

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise InputError("training needs a budget: steps or minutes")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"steps must be positive, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise InputError(f"minutes must be positive, got {self.minutes}")
        check_batch_pairs(self.batch_pairs)
        check_crop(self.crop)
        if self.prior_chain < 0:
            raise InputError(f"prior_chain must be 0 or more, got {self.prior_chain}")
        if not 0 <= self.noise <= 16:
            raise InputError(f"noise must be 0 to 16 channels, got {self.noise}")
        if self.noise and self.prior:
            raise InputError("a network with a prior takes no noise channels")
        if self.temporal_every < 1:
            raise InputError(f"temporal_every must be positive, got {self.temporal_every}")
        if not (math.isfinite(self.style_gain) and self.style_gain > 0):
            raise InputError(f"style gain must be a positive number, got {self.style_gain}")


@dataclasses.dataclass(frozen=True)
class TrainingStarted:
    """Training begins (``step`` > 0: resumed from a checkpoint)."""

    step: int
    steps: int | None
    budget_s: float | None
    elapsed_s: float
    pairs: int
    size: tuple[int, int]
    restart_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class StepDone:
    """One optimization step of the network."""

    step: int
    loss: float
    losses: dict[str, float]
    elapsed_s: float
    eta_s: float | None


@dataclasses.dataclass(frozen=True)
class TrainingNote:
    """Something the user should know before training starts (a clip left
    out); shown as a ``note:`` line."""

    message: str


@dataclasses.dataclass(frozen=True)
class CheckpointSaved:
    path: str
    step: int


@dataclasses.dataclass(frozen=True)
class TrainingDone:
    """Training finished; ``summary`` is what the look file records."""

    summary: dict


@dataclasses.dataclass
class Trained:
    """What ``train_look`` returns: the network and the payload to save."""

    net: StyleNet
    payload: dict


def checkpoint_path(output) -> str:
    return f"{os.fspath(output)}.ckpt"


def train_look(
    styles_u8: Sequence[np.ndarray],
    *,
    config: StyleConfig,
    clips: Sequence | None = None,
    options: TrainingOptions = TrainingOptions(),
    style_names: Sequence[str] | None = None,
    checkpoint=None,
    resume: bool = True,
    device=None,
    on_event: Callable[[object], None] | None = None,
    on_the_fly: bool = False,
) -> Trained:
    """Train a network to paint ``styles_u8`` (uint8 RGB) on frames of ``clips``
    (default: the bundled sample clip).

    Args:
        config: style, loss and size options (as for the optimizer).
        checkpoint: path of the checkpoint to write (and resume from when
            ``resume``); None: none.
        on_event: receives TrainingStarted, StepDone, CheckpointSaved, TrainingDone,
            and ``TrainingNote`` (a clip left out: fewer than 2 frames).
        on_the_fly: training for a file run (the ``net`` engine without a
            look file): the out-of-memory advice names that run's options.

    Raises:
        OutOfMemoryError: the host or the device ran out of memory (one line:
            what a step held, what the device has, what to change).

    The checkpoint is kept when training is interrupted (KeyboardInterrupt
    after saving it) and removed when it finishes.
    """
    emit = on_event or (lambda event: None)
    config = dataclasses.replace(config, preserve_colors=bool(config.preserve_colors))  # unset (None) is off here
    clips = [os.fspath(c) for c in (clips or default_clips())]
    style_names = list(style_names or [f"style{i}" for i in range(len(styles_u8))])
    judge = OptimizerEngine(styles_u8, config=config, device=device)  # VGG19, style Grams, precision
    device = judge.device
    loss_config = dataclasses.replace(config, style_weight=config.style_weight * options.style_gain)

    def guard(stage: str, frame_size=None, crop=None, *, on=device):
        return memory_guard(
            describe_training,
            stage=stage,
            device=on,
            precision=judge.precision,
            dtype=judge.dtype,
            frame_size=frame_size,
            crop=crop,
            batch_pairs=options.batch_pairs if crop is not None else None,
            on_the_fly=on_the_fly,
        )

    with guard("reading the training clips", on=torch.device("cpu")):  # decoded and flow on the host
        pairs = load_pairs(clips, config=config, on_note=lambda message: emit(TrainingNote(message)))
    frame_size = (pairs[0].current_u8.shape[1], pairs[0].current_u8.shape[0])
    crop = crop_side(pairs, options.crop)
    check_step_memory(crop, options.batch_pairs, device=device, dtype=judge.dtype, on_the_fly=on_the_fly)
    with guard("training the network", frame_size, crop):
        fingerprint = {
            "styles": images_digest(styles_u8),
            "options": recorded_options(config),
            "clips": [clip_identity(c) for c in clips],
            "batch_pairs": options.batch_pairs,
            "crop": list(crop),
            "learning_rate": options.learning_rate,
            "temporal_every": options.temporal_every,
            "style_gain": options.style_gain,
            "seed": options.seed,
            "prior": options.prior,
            "prior_chain": options.prior_chain,
            **({"noise": options.noise} if options.noise else {}),
        }

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            net = StyleNet(output=options.output, prior=options.prior, noise=options.noise)
        net = net.to(device).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=options.learning_rate)
        step, elapsed_s, cpu_s, history = 0, 0.0, 0.0, []
        restart_reason = None
        if checkpoint is not None and resume and os.path.exists(checkpoint):
            restart_reason = _resume(checkpoint, fingerprint, net, optimizer, device)
            if restart_reason is None:
                state = read_payload(checkpoint)["training"]
                step, elapsed_s, cpu_s, history = (
                    state["steps"],
                    state["seconds"],
                    state["cpu_seconds"],
                    state["history"],
                )
        budget_s = options.minutes * 60.0 if options.minutes is not None else None
        emit(
            TrainingStarted(
                step=step,
                steps=options.steps,
                budget_s=budget_s,
                elapsed_s=elapsed_s,
                pairs=len(pairs),
                size=frame_size,
                restart_reason=restart_reason,
            )
        )

        grams = judge.style_grams(frame_size)  # style scale relative to the whole frame, as when stylizing
        targets = ContentTargets(pairs, judge.features, config.content_layers)
        temporal = config.temporal and config.temporal_weight > 0
        probe = _to_device(
            sample_batch(pairs, batch=options.batch_pairs, crop=crop, rng=np.random.default_rng([options.seed, 2**31])),
            device,
        )
        if not history:
            history.append(_measure(net, probe, judge, grams, loss_config, targets))

        def summary() -> dict:
            return {
                "steps": step,
                "seconds": elapsed_s,
                "cpu_seconds": cpu_s,
                "history": history,
                "initial_loss": history[0]["total"],
                "clips": clips,
                "size": list(frame_size),
                "crop": list(crop),
                "batch_pairs": options.batch_pairs,
                "learning_rate": options.learning_rate,
                "temporal_every": options.temporal_every,
                "style_gain": options.style_gain,
                "device": str(device),
                "fingerprint": fingerprint,
            }

        def save_checkpoint() -> None:
            if checkpoint is None:
                return
            payload = look_payload(net, styles_u8=styles_u8, style_names=style_names, config=config, training=summary())
            payload["optimizer"] = optimizer.state_dict()
            atomic_save(payload, checkpoint)
            emit(CheckpointSaved(path=os.fspath(checkpoint), step=step))

        last_save = time.perf_counter()
        try:
            while not _spent(step, elapsed_s, options):
                wall, cpu = time.perf_counter(), time.process_time()
                batch = _to_device(
                    sample_batch(
                        pairs, batch=options.batch_pairs, crop=crop, rng=np.random.default_rng([options.seed, step])
                    ),
                    device,
                )
                optimizer.zero_grad(set_to_none=True)
                pair_step = temporal and step % options.temporal_every == 0
                terms = _losses(
                    net,
                    batch,
                    judge,
                    grams,
                    loss_config,
                    targets,
                    pair_step=pair_step,
                    chain=(step // options.temporal_every) % (options.prior_chain + 1),
                    noise_seed=(options.seed, step),
                )
                total = sum(terms.values())
                total.backward()
                optimizer.step()
                step += 1
                elapsed_s += time.perf_counter() - wall
                cpu_s += time.process_time() - cpu
                losses = {k: float(v.detach()) for k, v in terms.items()}
                emit(
                    StepDone(
                        step=step,
                        loss=sum(losses.values()),
                        losses=losses,
                        elapsed_s=elapsed_s,
                        eta_s=_eta(step, elapsed_s, options),
                    )
                )
                if time.perf_counter() - last_save >= options.checkpoint_every_s:
                    save_checkpoint()
                    last_save = time.perf_counter()
        except KeyboardInterrupt:
            save_checkpoint()
            raise
        history.append(_measure(net, probe, judge, grams, loss_config, targets))
        done = summary()
        done["final_loss"] = history[-1]["total"]
        emit(TrainingDone(summary=done))
        payload = look_payload(net, styles_u8=styles_u8, style_names=style_names, config=config, training=done)
        return Trained(net=net.eval(), payload=payload)


def remove_checkpoint(checkpoint) -> None:
    if checkpoint is not None and os.path.exists(checkpoint):
        os.remove(checkpoint)


def _resume(checkpoint, fingerprint: dict, net: StyleNet, optimizer, device) -> str | None:
    """Load the checkpoint into ``net`` and ``optimizer``; the reason it was
    not used (another style, options or clips), or None."""
    payload = read_payload(checkpoint)
    if payload.get("training", {}).get("fingerprint") != fingerprint:
        return "the style, options or clips changed since the checkpoint"
    net.load_state_dict(network_from_payload(payload, path=checkpoint).state_dict())
    if "optimizer" in payload:
        optimizer.load_state_dict(payload["optimizer"])
        for state in optimizer.state.values():
            for key, value in state.items():
                if torch.is_tensor(value) and key != "step":
                    state[key] = value.to(device)
    return None


def _spent(step: int, elapsed_s: float, options: TrainingOptions) -> bool:
    if options.steps is not None and step >= options.steps:
        return True
    return options.minutes is not None and elapsed_s >= options.minutes * 60.0


def _eta(step: int, elapsed_s: float, options: TrainingOptions) -> float | None:
    estimates = []
    if options.steps is not None:
        estimates.append((options.steps - step) * elapsed_s / max(step, 1))
    if options.minutes is not None:
        estimates.append(max(0.0, options.minutes * 60.0 - elapsed_s))
    return min(estimates) if estimates else None


def _to_device(batch: dict[str, np.ndarray], device) -> dict:
    """Crops as tensors: images float ``(B, 3, h, w)`` in [0, 1], flow
    ``(B, h, w, 2)``, mask ``(B, 1, h, w)``; ``index`` stays a host array."""

    def image(a):
        return torch.from_numpy(a).to(device).permute(0, 3, 1, 2).float() / 255.0

    return {
        "previous": image(batch["previous"]),
        "current": image(batch["current"]),
        "backward": torch.from_numpy(batch["backward"]).to(device),
        "mask": torch.from_numpy(batch["mask"]).to(device).unsqueeze(1),
        "index": batch["index"],
    }


def _losses(
    net: StyleNet,
    batch: dict,
    judge: OptimizerEngine,
    grams: dict,
    config: StyleConfig,
    targets: ContentTargets,
    *,
    pair_step: bool = True,
    chain: int = 0,
    noise_seed: tuple[int, int] | None = None,
) -> dict:
    """The optimizer's weighted terms (``OptimizerEngine``'s composition),
    averaged per image; ``pair_step``: on both frames of the pairs, plus the
    temporal term, else on the current frames alone (``chain``: see
    ``_prior_losses``). A network with noise channels gets noise drawn from
    ``noise_seed`` (the same for both frames of a pair), or the fixed field
    of inference when None."""
    if net.prior:
        return _prior_losses(net, batch, judge, grams, config, targets, pair_step=pair_step, chain=chain)
    which = FRAMES if pair_step else ("current",)
    contents = torch.cat([batch[name] for name in which])
    noise = None
    if net.noise and noise_seed is not None:
        generator = torch.Generator().manual_seed(noise_seed[0] * 1_000_003 + noise_seed[1])
        per_pair = torch.randn((batch["current"].shape[0], net.noise, *contents.shape[-2:]), generator=generator)
        noise = per_pair.repeat(len(which), 1, 1, 1).to(contents.device)
    outputs = net(contents, noise=noise)
    terms = _frame_terms(outputs, contents, batch, which, judge, grams, config, targets)
    if pair_step and config.temporal and config.temporal_weight > 0:
        previous_out, current_out = outputs.chunk(2)
        warped = warp_images(previous_out, batch["backward"])
        # temporal_loss sums over its K targets; here K is the batch: average it
        terms["temporal"] = (
            config.temporal_weight * temporal_loss(current_out, warped, batch["mask"]) / current_out.shape[0]
        )
    return terms


def _frame_terms(
    outputs: torch.Tensor,
    contents: torch.Tensor,
    batch: dict,
    which: Sequence[str],
    judge: OptimizerEngine,
    grams: dict,
    config: StyleConfig,
    targets: ContentTargets,
) -> dict:
    """The weighted content, style and total-variation terms of ``outputs``
    ``(N, 3, h, w)``, the network's paintings of ``contents`` (the frames
    ``which`` of ``batch``), averaged per image where the loss sums."""
    feats = judge.features(outputs)
    return {
        "content": config.content_weight * content_loss(feats, targets(contents, batch, which)),
        "style": config.style_weight * style_loss(feats, grams),
        "tv": config.tv_weight * total_variation(outputs) / outputs.shape[0],
    }


def _prior_losses(
    net: StyleNet,
    batch: dict,
    judge: OptimizerEngine,
    grams: dict,
    config: StyleConfig,
    targets: ContentTargets,
    *,
    pair_step: bool,
    chain: int = 0,
) -> dict:
    """``_losses`` for a network with a prior (StyleNet's ``prior``): a single-
    frame step paints the current frames cold; a pair step paints the previous
    frames (no gradient), warps them bicubically into the current frames as
    the warm start does, and trains the current frames' outputs given that
    prior, with the temporal term towards it (Ruder et al. 2018, sec. 5). A
    pair step costs one VGG19 pass, as a single-frame step does.

    At inference the prior is the network's own output given the prior
    before it. A network trained on cold priors only re-applies its style to
    already painted frames and saturates along a clip (sample, 10 CPU-minutes:
    frame 23's style loss 154x frame 0's); so the prior comes from a chain of
    earlier frames painted as at inference (``prior.chained_prior``; Ruder et
    al. 2018 train on sequences of the network's outputs for the same
    reason). In CPU budgets (up to 39 CPU-minutes) that slows the drift but
    does not stop it (README, "Engines")."""
    contents = batch["current"]
    prior = mask = None
    if pair_step:
        with torch.no_grad():
            prior = torch.cat([chained_prior(net, batch, b, targets.pairs, chain) for b in range(contents.shape[0])])
        mask = batch["mask"]
    outputs = net(contents, prior, mask)
    terms = _frame_terms(outputs, contents, batch, ("current",), judge, grams, config, targets)
    if prior is not None and mask is not None and config.temporal and config.temporal_weight > 0:
        terms["temporal"] = config.temporal_weight * temporal_loss(outputs, prior, mask) / outputs.shape[0]
    return terms


def _measure(
    net: StyleNet, batch: dict, judge: OptimizerEngine, grams: dict, config: StyleConfig, targets: ContentTargets
) -> dict:
    """The loss terms on a fixed batch of pairs (before and after training)."""
    was_training = net.training
    net.eval()
    with torch.no_grad():
        terms = {k: float(v) for k, v in _losses(net, batch, judge, grams, config, targets).items()}
    net.train(was_training)
    terms["total"] = sum(terms.values())
    return terms
