"""The precision note: on a CPU that computes bfloat16 in hardware, a run
left at ``--precision auto`` (float32 there) says that ``--precision bf16``
is faster; fp16 on a CPU is said to be emulated."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import STYLE_PATH, make_clip, run_cli

from vidstyle.config import StyleConfig
from vidstyle.engines import precision
from vidstyle.engines.precision import BF16_CPU_NOTE, cpu_has_native_bf16, precision_note


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Pretend this CPU has (True) or lacks (False) bfloat16 instructions."""

    def pretend(has: bool) -> None:
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: has)

    return pretend


def test_the_note_names_bf16_only_where_auto_leaves_it_unused(bf16_cpu):
    bf16_cpu(True)
    cpu = torch.device("cpu")
    config = StyleConfig()
    assert precision_note(config, cpu) == BF16_CPU_NOTE
    assert "--precision bf16" in BF16_CPU_NOTE and "--precision fp32 hides" in BF16_CPU_NOTE
    assert precision_note(dataclasses.replace(config, precision="fp32"), cpu) is None  # asked for: no note
    assert precision_note(dataclasses.replace(config, precision="bf16"), cpu) is None
    assert precision_note(config, torch.device("cuda")) is None  # auto already picks bf16 on capable GPUs
    look = dataclasses.replace(config, engine="net", model="look.pt")
    assert precision_note(look, cpu) is None  # a look's pass alone runs no VGG
    assert precision_note(dataclasses.replace(look, net_refine=2), cpu) == BF16_CPU_NOTE
    assert precision_note(dataclasses.replace(config, engine="net"), cpu) == BF16_CPU_NOTE  # trains first
    bf16_cpu(False)
    assert precision_note(config, cpu) is None


def test_fp16_on_a_cpu_is_noted_as_emulated_whatever_the_cpu(bf16_cpu):
    for has in (True, False):
        bf16_cpu(has)
        note = precision_note(StyleConfig(precision="fp16"), torch.device("cpu"))
        assert note is not None and "emulated" in note


def test_a_failing_cpu_probe_reads_as_no_bf16(monkeypatch):
    def broken() -> bool:
        raise RuntimeError("no cpuinfo")

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", broken, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    assert cpu_has_native_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert cpu_has_native_bf16() is True


def test_a_stylize_run_on_such_a_cpu_prints_the_note_once(tmp_path, capsys, bf16_cpu):
    clip = make_clip(tmp_path / "in.mp4", num_frames=2)
    bf16_cpu(True)
    common = [clip, "--style", STYLE_PATH, "--max-side", "64", "--iters", "2,1", "--device", "cpu", "-y"]
    code, _, err = run_cli(capsys, *common, "-o", tmp_path / "auto.mp4")
    assert code == 0 and err.count("--precision bf16 runs the VGG passes") == 1, err
    code, _, err = run_cli(capsys, *common, "--precision", "fp32", "-o", tmp_path / "fp32.mp4")
    assert code == 0 and "--precision bf16" not in err, err
    bf16_cpu(False)
    code, _, err = run_cli(capsys, *common, "-o", tmp_path / "plain.mp4")
    assert code == 0 and "--precision bf16" not in err, err
