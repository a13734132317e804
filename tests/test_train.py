"""``vidstyle train``: a look file from the command line, interrupted training
resumes from its checkpoint (and ends where an uninterrupted run ends), a
changed style starts over, and ``--engine net`` without a look trains within
its step budget before stylizing."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import torch
from conftest import STYLE_PATH, make_clip

from vidstyle.cli.main import main
from vidstyle.config import StyleConfig
from vidstyle.engines import make_engine
from vidstyle.media import load_image, probe, read_frames, resize_longer_side
from vidstyle.training import StepDone, TrainingStarted, load_look, train_look
from vidstyle.training.loop import TrainingOptions

TINY = StyleConfig(max_side=48, num_threads=1, device="cpu")
OPTIONS = TrainingOptions(steps=4, minutes=None, crop=32, batch_pairs=1, checkpoint_every_s=0.0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", width=48, height=32, num_frames=6, audio=False)


@pytest.fixture(scope="module")
def style():
    return resize_longer_side(load_image(STYLE_PATH), 48)


def test_train_command_writes_a_look(clip, tmp_path, capsys):
    look = tmp_path / "look.pt"
    code = main(
        [
            "train",
            "--style",
            str(STYLE_PATH),
            "--on",
            str(clip),
            "-o",
            str(look),
            "--steps",
            "3",
            "--max-side",
            "48",
            "--crop",
            "32",
            "--batch",
            "1",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["steps"] == 3 and summary["size"] == [48, 32]
    loaded = load_look(look)
    assert loaded.style_names == ["starry_night.jpg"] and loaded.training["steps"] == 3
    assert not os.path.exists(f"{look}.ckpt")  # removed once the look is written
    code = main(["train", "--style", str(STYLE_PATH), "--on", str(clip), "-o", str(look), "--steps", "1"])
    assert code == 2 and "exists" in capsys.readouterr().err  # never overwritten without -y


def test_interrupted_training_resumes_from_its_checkpoint(clip, style, tmp_path):
    checkpoint = tmp_path / "look.pt.ckpt"

    def interrupt_at_step_2(event):
        if isinstance(event, StepDone) and event.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_look(
            [style], config=TINY, clips=[clip], options=OPTIONS, checkpoint=checkpoint, on_event=interrupt_at_step_2
        )
    assert checkpoint.exists()
    events = []
    resumed = train_look(
        [style], config=TINY, clips=[clip], options=OPTIONS, checkpoint=checkpoint, on_event=events.append
    )
    started = next(e for e in events if isinstance(e, TrainingStarted))
    assert started.step == 2 and started.restart_reason is None
    assert [e.step for e in events if isinstance(e, StepDone)] == [3, 4]
    assert resumed.payload["training"]["steps"] == 4
    straight = train_look([style], config=TINY, clips=[clip], options=OPTIONS)
    for name, value in straight.net.state_dict().items():
        assert torch.allclose(value, resumed.net.state_dict()[name], atol=1e-5), name


def test_changed_style_starts_over(clip, style, tmp_path):
    checkpoint = tmp_path / "look.pt.ckpt"
    train_look([style], config=TINY, clips=[clip], options=OPTIONS, checkpoint=checkpoint)
    events = []
    train_look(
        [style],
        config=TINY.replace(style_weight=50.0),
        clips=[clip],
        options=OPTIONS,
        checkpoint=checkpoint,
        on_event=events.append,
    )
    started = next(e for e in events if isinstance(e, TrainingStarted))
    assert started.step == 0 and "changed" in started.restart_reason


def test_net_engine_without_a_look_trains_within_its_budget(clip, style):
    engine = make_engine(TINY.replace(engine="net", train_steps=2), [style], clips=[clip])
    assert engine.look["training"]["steps"] == 2
    frame = load_image(STYLE_PATH)[:32, :48]
    assert engine.stylize(frame).image_u8.shape == (32, 48, 3)


def test_train_refuses_a_missing_clip(tmp_path, capsys):
    code = main(["train", "--style", str(STYLE_PATH), "--on", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "l.pt")])
    assert code == 2 and "no such clip" in capsys.readouterr().err


def test_a_trained_look_keeps_frame_count_and_size(clip, tmp_path, capsys):
    look = tmp_path / "look.pt"
    assert (
        main(
            [
                "train",
                "--style",
                str(STYLE_PATH),
                "--on",
                str(clip),
                "-o",
                str(look),
                "--steps",
                "1",
                "--max-side",
                "48",
                "--crop",
                "32",
                "--batch",
                "1",
                "-q",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    dst = tmp_path / "out.mkv"
    assert (
        main(
            [
                str(clip),
                "--style",
                str(STYLE_PATH),
                "--model",
                str(look),
                "--net-blend",
                "0",
                "-o",
                str(dst),
                "-q",
                "--max-side",
                "48",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    info = probe(str(dst))
    assert (info.width, info.height, info.num_frames) == (48, 32, 6)
    capsys.readouterr()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"steps": None, "minutes": None}, "training needs a budget"),
        ({"steps": 0}, "steps must be positive"),
        ({"minutes": float("nan")}, "minutes must be positive"),
        ({"style_gain": float("inf")}, "style gain must be a positive number"),
        ({"style_gain": 0.0}, "style gain must be a positive number"),
        ({"temporal_every": 0}, "temporal_every must be positive"),
    ],
)
def test_training_options_refuse_out_of_range_values(options, message):
    from vidstyle.errors import InputError

    with pytest.raises(InputError, match=message):
        TrainingOptions(**options)


def test_whole_frames_are_the_default_training_window(clip):
    from vidstyle.training.data import crop_side, load_pairs

    pairs = load_pairs([clip], config=TINY)
    assert TrainingOptions().crop is None
    assert crop_side(pairs, None) == (48, 32)
    assert crop_side(pairs, 40) == (40, 32)


def test_content_targets_are_computed_once_per_whole_frame_and_match_a_fresh_pass(clip, style):
    import numpy as np

    from vidstyle.engines.optimize import OptimizerEngine
    from vidstyle.training.data import load_pairs, sample_batch
    from vidstyle.training.loop import _to_device
    from vidstyle.training.targets import FRAMES, ContentTargets

    pairs = load_pairs([clip], config=TINY)
    judge = OptimizerEngine([style], config=TINY)
    targets = ContentTargets(pairs, judge.features, TINY.content_layers)
    rng = np.random.default_rng(0)
    for _ in range(12):  # whole frames: 5 pairs share 6 distinct frames
        batch = _to_device(sample_batch(pairs, batch=2, crop=(48, 32), rng=rng), "cpu")
        images = torch.cat([batch[name] for name in FRAMES])
        got = targets(images, batch, FRAMES)
        fresh = {k: v for k, v in judge.features(images).items() if k in TINY.content_layers}
        for layer in TINY.content_layers:
            assert torch.allclose(got[layer], fresh[layer], rtol=1e-4, atol=1e-2)  # batched vs one by one
    assert targets.computed <= 6 and targets.held_bytes > 0
    before = targets.computed
    crops = _to_device(sample_batch(pairs, batch=1, crop=(32, 32), rng=rng), "cpu")
    targets(crops["current"], crops, ("current",))
    targets(crops["current"], crops, ("current",))
    assert targets.computed == before + 2  # crops are computed each time, never kept


def test_one_step_in_temporal_every_trains_on_pairs_with_the_temporal_term(clip, style):
    import dataclasses

    events = []
    options = dataclasses.replace(OPTIONS, steps=6, temporal_every=3)
    train_look([style], config=TINY, clips=[clip], options=options, on_event=events.append)
    steps = [e for e in events if isinstance(e, StepDone)]
    assert [("temporal" in e.losses) for e in steps] == [True, False, False, True, False, False]


def test_a_network_with_a_prior_trains_its_pair_steps_on_its_own_warped_output(clip, style):
    import dataclasses

    events = []
    options = dataclasses.replace(OPTIONS, steps=12, temporal_every=2, prior=True)
    trained = train_look([style], config=TINY, clips=[clip], options=options, on_event=events.append)
    steps = [e for e in events if isinstance(e, StepDone)]
    assert [("temporal" in e.losses) for e in steps] == [True, False] * 6
    assert trained.net.prior and trained.payload["architecture"]["prior"]
    history = trained.payload["training"]["history"]
    assert history[-1]["total"] < history[0]["total"], history


def test_a_prior_chain_follows_consecutive_pairs_of_one_clip(clip, style):
    import dataclasses

    from vidstyle.training.data import load_pairs, pairs_before

    pairs = load_pairs([clip], config=TINY)
    assert len(pairs) == probe(str(clip)).num_frames - 1
    chain = pairs_before(pairs, 3, 8)
    assert chain == pairs[:3]  # no further back than the clip's first pair
    assert all(a.current_u8 is b.previous_u8 for a, b in zip(chain, [*chain[1:], pairs[3]]))
    assert pairs_before(pairs, 3, 2) == pairs[1:3] and pairs_before(pairs, 0, 8) == []
    # whole frames: the chain path of training runs (a crop would repaint the previous frame in place)
    options = dataclasses.replace(OPTIONS, steps=4, crop=None, temporal_every=1, prior=True, prior_chain=3)
    trained = train_look([style], config=TINY, clips=[clip], options=options)
    assert trained.payload["training"]["fingerprint"]["prior_chain"] == 3


# -- what 'vidstyle train' refuses before it trains (one line, exit code 2) -----


def _refused(capsys, argv) -> str:
    """Run ``vidstyle train`` with ``argv``; assert it is refused with one line
    and exit code 2; return that line."""
    code = main(["train", *[str(a) for a in argv], "--steps", "1", "--max-side", "48", "--threads", "1", "-q"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("alias", ["same", "relative", "symlink", "hardlink"])
def test_train_refuses_to_overwrite_its_clip(clip, tmp_path, capsys, monkeypatch, alias):
    own = tmp_path / "clip.mp4"
    own.write_bytes(clip.read_bytes())
    output = {"same": own, "relative": "clip.mp4", "symlink": tmp_path / "link.mp4", "hardlink": tmp_path / "hard.mp4"}
    if alias == "symlink":
        os.symlink(own, output[alias])
    elif alias == "hardlink":
        os.link(own, output[alias])
    monkeypatch.chdir(tmp_path)
    line = _refused(capsys, ["--style", STYLE_PATH, "--on", own, "-o", output[alias], "-y"])
    assert "refusing to overwrite the input" in line
    assert own.read_bytes() == clip.read_bytes()


def test_train_refuses_to_overwrite_a_style_image(clip, tmp_path, capsys):
    style = tmp_path / "mystyle.jpg"
    style.write_bytes(STYLE_PATH.read_bytes())
    argv = ["--style", STYLE_PATH, "--style", style, "--on", clip, "-o", style, "-y"]
    assert "refusing to overwrite the input" in _refused(capsys, argv)
    assert style.read_bytes() == STYLE_PATH.read_bytes()


def test_train_refuses_a_look_file_without_the_pt_extension(clip, tmp_path, capsys):
    look = tmp_path / "look.xyz"
    assert "must end in .pt" in _refused(capsys, ["--style", STYLE_PATH, "--on", clip, "-o", look])
    assert not look.exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--batch", "100000"], "batch must be between 1 and 64"),
        (["--batch", "65"], "batch must be between 1 and 64"),
        (["--batch", "0"], "batch must be between 1 and 64"),
        (["--crop", "1"], "crop must be between 16 and 8192"),
        (["--crop", "15"], "crop must be between 16 and 8192"),
        (["--crop", "8193"], "crop must be between 16 and 8192"),
    ],
)
def test_train_refuses_a_batch_or_crop_out_of_range(clip, tmp_path, capsys, flags, message):
    look = tmp_path / "look.pt"
    line = _refused(capsys, ["--style", STYLE_PATH, "--on", clip, "-o", look, *flags])
    assert f"argument {flags[0]}: {message}" in line
    assert not look.exists()


@pytest.mark.parametrize("options", [{"batch_pairs": 65}, {"batch_pairs": 0}, {"crop": 15}, {"crop": 8193}])
def test_training_options_refuse_a_batch_or_crop_out_of_range(options):
    from vidstyle.errors import InputError

    with pytest.raises(InputError, match="must be between"):
        TrainingOptions(**options)


def test_the_smallest_crop_trains(clip, style):
    import dataclasses

    from vidstyle.training.loop import MIN_CROP

    trained = train_look(
        [style], config=TINY, clips=[clip], options=dataclasses.replace(OPTIONS, steps=1, crop=MIN_CROP)
    )
    assert trained.payload["training"]["crop"] == [MIN_CROP, MIN_CROP]


def test_a_step_larger_than_the_free_memory_is_refused_before_training(clip, style, monkeypatch):
    import dataclasses

    from vidstyle.errors import InputError
    from vidstyle.training import loop

    available = loop.step_bytes((48, 32), 2)  # room for 2 pairs of whole frames
    monkeypatch.setattr(loop.sizing, "available_bytes", lambda device: available)
    events = []
    options = dataclasses.replace(OPTIONS, crop=None, batch_pairs=8)
    with pytest.raises(InputError, match=r"on 8 pairs of 48x32 images needs about .* try --batch 2 or less"):
        train_look([style], config=TINY, clips=[clip], options=options, on_event=events.append)
    assert events == []  # refused before the first step
    train_look([style], config=TINY, clips=[clip], options=dataclasses.replace(options, batch_pairs=2, steps=1))


@pytest.mark.parametrize("mask", [0o022, 0o077], ids=["umask022", "umask077"])
def test_a_look_file_gets_the_permissions_of_a_plain_new_file(tmp_path, mask):
    from vidstyle.training.look import atomic_save

    look, kept = tmp_path / "look.pt", tmp_path / "kept.pt"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    previous = os.umask(mask)
    try:
        atomic_save({"format": "x"}, look)
        atomic_save({"format": "x"}, kept)
    finally:
        os.umask(previous)
    assert look.stat().st_mode & 0o777 == 0o666 & ~mask  # as open(path, "w") would
    assert kept.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.pt", "look.pt"]  # no temporary left


def test_a_look_trained_with_preserve_colors_keeps_the_colours_when_it_paints(clip, tmp_path, capsys):
    look = tmp_path / "look.pt"
    common = ["train", "--style", str(STYLE_PATH), "--on", str(clip), "--steps", "1", "--max-side", "48"]
    code = main([*common, "-o", str(look), "--threads", "1", "--preserve-colors"])
    err = capsys.readouterr().err
    assert code == 0 and "note: --preserve-colors is recorded in the look and applied when it stylizes" in err, err
    assert load_look(look).options["preserve_colors"] is True

    def paint(*flags) -> tuple[np.ndarray, str]:
        dst = tmp_path / "out.mkv"
        argv = [str(clip), "--model", str(look), "-o", str(dst), "-y", "--threads", "1", "--net-blend", "0", *flags]
        assert main(argv) == 0
        return read_video(dst), capsys.readouterr().err

    source = read_video(clip)
    kept, err = paint()
    assert "keeping the video's colours: the look" in err and "--no-preserve-colors" in err, err
    styled, err = paint("--no-preserve-colors")
    assert "keeping the video's colours" not in err, err

    # preserve_colors keeps the source's chroma (YCrCb's Cr, Cb) and takes the look's luma
    def chroma_error(frames):
        return np.mean([np.abs(_chroma(a) - _chroma(b)).mean() for a, b in zip(frames, source, strict=True)])

    assert chroma_error(kept) < 0.5 * chroma_error(styled), (chroma_error(kept), chroma_error(styled))

    code = main([*common, "-o", str(look), "--threads", "1", "-y"])
    assert code == 0 and "preserve-colors" not in capsys.readouterr().err
    assert "keeping the video's colours" not in paint()[1]


def read_video(path) -> list[np.ndarray]:
    return [frame.image_u8 for frame in read_frames(path)]


def _chroma(frame_u8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame_u8, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.float32)


def test_a_look_used_far_from_its_training_size_says_what_happens_to_its_strokes(clip, tmp_path, capsys):
    from vidstyle.pipeline.events import Notice
    from vidstyle.pipeline.video import stylize_video

    look = tmp_path / "look.pt"
    assert main(["train", "--style", str(STYLE_PATH), "--on", str(clip), "-o", str(look), "--steps", "1"]) == 0
    assert load_look(look).training["size"] == [48, 32]  # the clip's size is under the default 256 px

    def size_note(**options) -> str:
        notes: list[str] = []
        on_event = lambda e: notes.append(e.message) if isinstance(e, Notice) else None  # noqa: E731
        stylize_video(
            clip,
            tmp_path / "out.mkv",
            model=look,
            engine="net",
            overwrite=True,
            num_threads=1,
            on_event=on_event,
            **options,
        )
        (line,) = [note for note in notes if note.startswith("processing at")]
        return line

    assert "the look was trained" not in size_note()
    assert "2.0x finer relative to the frame at 96x64 (--max-side 48 paints them as trained" in size_note(size=(96, 64))
    note = size_note(output_size=(96, 64), max_side=48)  # at 48x32, then the look again at the output size
    assert "painted again at the output size by the look (one pass a frame" in note, note
    assert "2.0x finer relative to the frame at 96x64 (--max-side 48 --detail-iters 0 paints them" in note, note
    assert "the look was trained" not in size_note(output_size=(96, 64), max_side=48, detail_iters=0)

    live = ["live", "lavfi:testsrc2=size=96x64:rate=10", "--model", str(look), "--duration", "0.3", "--threads", "1"]
    assert main([*live, "-o", str(tmp_path / "live.mp4"), "--max-side", "96"]) == 0
    err = capsys.readouterr().err
    assert "2.0x finer relative to the frame at 96x64 (--max-side 48 paints them as trained, resized" in err, err
    assert main([*live, "-o", str(tmp_path / "live.mp4"), "-y"]) == 0  # live paints at the look's size by default
    err = capsys.readouterr().err
    assert "processing at 48x32 (the look's size; --max-side or --size to change)" in err, err
    assert "the look was trained" not in err
