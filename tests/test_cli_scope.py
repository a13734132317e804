"""Options and inputs outside a command's scope are refused or noted, never
silently ignored: ``vidstyle train`` refuses the stylizing options (--model
included: no fine-tuning), says when a resumed checkpoint is already past the
budget and when a one-frame clip is left out; ``vidstyle live`` refuses a
still image as its source and an image (sequence) as its recording."""

from __future__ import annotations

import pytest
import torch
from conftest import STYLE_PATH, make_clip

from vidstyle.cli.main import main
from vidstyle.training.look import read_payload

LIVE_SOURCE = "lavfi:testsrc2=size=160x120:rate=30"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", width=48, height=32, num_frames=4, audio=False)


def _train(clip, look, *flags) -> list[str]:
    return [
        "train",
        "--style",
        str(STYLE_PATH),
        "--on",
        str(clip),
        "-o",
        str(look),
        "--max-side",
        "32",
        "--threads",
        "1",
        "--device",
        "cpu",
        *flags,
    ]


def _refused(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_train_refuses_a_model_saying_it_does_not_fine_tune(clip, tmp_path, capsys):
    err = _refused(capsys, _train(clip, tmp_path / "look.pt", "--steps", "2", "--model", str(tmp_path / "base.pt")))
    assert "--model does not apply to training" in err and "fine-tuning" in err
    assert not (tmp_path / "look.pt").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--engine", "net"],
        ["--net-blend", "0.3"],
        ["--net-refine", "2"],
        ["--iters", "30,4"],
        ["--optimizer", "adam"],
        ["--detail-iters", "0"],
        ["--output-size", "64x48"],
    ],
)
def test_train_refuses_options_that_only_stylize(clip, tmp_path, capsys, flags):
    err = _refused(capsys, _train(clip, tmp_path / "look.pt", "--steps", "2", *flags))
    assert f"{flags[0]} does not apply to training" in err


def test_train_names_every_refused_option_at_once(clip, tmp_path, capsys):
    err = _refused(capsys, _train(clip, tmp_path / "look.pt", "--net-blend", "0.3", "--iters", "30,4"))
    assert "--net-blend, --iters do not apply to training" in err


@pytest.mark.parametrize(("flag", "ours"), [("--train-minutes", "--minutes"), ("--train-steps", "--steps")])
def test_train_refuses_the_file_commands_budget_flags(clip, tmp_path, capsys, flag, ours):
    err = _refused(capsys, _train(clip, tmp_path / "look.pt", "--minutes", "1", flag, "3"))
    assert flag in err and f"takes {ours}" in err


def test_a_checkpoint_past_the_steps_is_written_as_it_is_with_a_note(clip, tmp_path, capsys):
    look = tmp_path / "look.pt"
    assert main(_train(clip, look, "--steps", "3")) == 0
    payload = read_payload(look)
    torch.save(payload, f"{look}.ckpt")  # as an interrupted run at step 3 leaves it
    look.unlink()
    capsys.readouterr()
    assert main(_train(clip, look, "--steps", "2")) == 0
    err = capsys.readouterr().err
    assert "the checkpoint" in err and "is at step 3, past --steps 2: writing it as it is" in err
    assert "--no-resume" in err and "step [" not in err  # no bar counting past its total
    assert read_payload(look)["training"]["steps"] == 3


def test_a_one_frame_clip_among_several_is_named_in_a_note(clip, tmp_path, capsys):
    single = make_clip(tmp_path / "single.mp4", width=48, height=32, num_frames=1, audio=False)
    look = tmp_path / "look.pt"
    assert main([*_train(clip, look, "--steps", "1"), "--on", str(single)]) == 0
    err = capsys.readouterr().err
    assert f"note: {single} has fewer than 2 frames: left out of training" in err


@pytest.mark.parametrize("dst", ["lseq/%03d.png", "still.png"])
def test_live_refuses_an_image_recording_without_suggesting_a_sequence(tmp_path, capsys, dst):
    err = _refused(capsys, ["live", LIVE_SOURCE, "--style", str(STYLE_PATH), "-t", "1", "-o", str(tmp_path / dst)])
    assert "live mode records to a video file" in err and ".mp4" in err
    assert "or an image sequence like" not in err


def test_live_refuses_a_still_image_source(capsys):
    err = _refused(capsys, ["live", str(STYLE_PATH), "--style", str(STYLE_PATH), "-t", "1", "--threads", "1"])
    assert "is a still image, not a live source" in err
