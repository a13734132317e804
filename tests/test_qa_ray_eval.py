"""QA findings on --ray and `vidstyle eval`: Ray's driver output kept off
standard output (and silent with -q), actors rebuilt from small constructor
arguments, a malformed Ray address refused in one line, the output checked
before Ray starts; eval's --plot and range checked before any work, and
flat or still inputs reported without false notes or contradicting numbers.

The Ray run uses one local runtime of 2 worker processes for this module,
started by the first test that needs it (the others need no runtime)."""

from __future__ import annotations

import io
import json
import pickle
import sys

import numpy as np
import pytest
from conftest import STYLE_PATH, make_clip, moving_frames
from local_ray import ray_runtime  # noqa: F401 - fixture

from vidstyle.cli.main import main

RAY_FLAGS = ["--max-side", "64", "--segment-frames", "8", "--seam-frames", "2", "--threads", "1"]
ADDRESS_FORMS = "(use auto, host:port or ray://host:port"


def run_cli(argv, capfd) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


# -- --ray: the address and the output, checked before Ray starts (no runtime) -------------


def test_a_malformed_ray_address_is_one_line_with_exit_code_2(tmp_path, monkeypatch, capfd):
    src = make_clip(tmp_path / "in.mp4", num_frames=3, audio=False)
    dst = tmp_path / "out.mp4"
    code, _, err = run_cli([src, "--style", STYLE_PATH, "--ray", "bogus", "-o", dst], capfd)
    assert code == 2 and err.strip() == f"vidstyle: error: not a Ray address: bogus {ADDRESS_FORMS})", err
    monkeypatch.setenv("RAY_ADDRESS", "bogus")
    code, _, err = run_cli([src, "--style", STYLE_PATH, "--ray", "auto", "-o", dst], capfd)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"not a Ray address: bogus {ADDRESS_FORMS}; set in RAY_ADDRESS)" in err
    assert not dst.exists()


def test_ray_addresses_are_checked_by_form():
    from vidstyle.distributed.runtime import check_address
    from vidstyle.errors import InputError

    for good in ("auto", "local", "head:6379", "10.0.0.1:6379", "[::1]:6379", "ray://head", "ray://head:10001"):
        check_address(good)
    for bad in ("bogus", "head:port", "head:99999", ":6379", "http://head:80", "ray://", "head:6379/x", "ray://h:x"):
        with pytest.raises(InputError, match=f"not a Ray address: {bad} "):
            check_address(bad)


def test_ray_refuses_a_bad_output_or_range_before_connecting(tmp_path, monkeypatch, capfd):
    import vidstyle.distributed.driver as driver
    from vidstyle.errors import InputError
    from vidstyle.media import probe

    connected: list[str] = []

    def connect(address):  # the evidence: the run never got as far as Ray
        connected.append(address)
        raise InputError("connected to Ray")

    monkeypatch.setattr(driver, "connect", connect)
    src = make_clip(tmp_path / "in.mp4", num_frames=3, audio=False)
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    ends = probe(src).duration_s
    cases = [
        (["-o", existing], f"{existing} exists; pass -y to overwrite it"),
        (["-o", tmp_path / "missing" / "out.mp4"], f"output folder does not exist: {tmp_path / 'missing'}"),
        (["-ss", "5", "-o", tmp_path / "o.mp4"], f"it starts at 5s, the video ends at {ends:g}s"),
    ]
    for extra, line in cases:
        code, _, err = run_cli([src, "--style", STYLE_PATH, "--ray", "auto", "-q", *extra], capfd)
        assert code == 2 and line in err and len(err.strip().splitlines()) == 1, err
    assert connected == [] and existing.read_bytes() == b"keep me"


# -- --ray: what Ray prints, and what the actors are built from ---------------------------------


def test_ray_messages_go_to_the_stream_given_or_nowhere(capsys):
    from vidstyle.distributed.runtime import ray_messages_to

    with ray_messages_to(sys.stderr):
        print("(raylet) Task SegmentActor.run failed. There are 3 retries remaining")
    out, err = capsys.readouterr()
    assert out == "" and "retries remaining" in err
    with ray_messages_to(None):
        print("(raylet) A worker died or was killed")
    assert capsys.readouterr() == ("", "")
    print("the result")
    assert capsys.readouterr().out == "the result\n"  # standard output again after the block


class _Ref:
    """Stands for an object-store reference."""


class _RefFinder(pickle.Pickler):
    """Pickles, counting the ``_Ref`` objects met on the way, however deep."""

    def __init__(self, file):
        super().__init__(file)
        self.references = 0

    def persistent_id(self, obj):
        if isinstance(obj, _Ref):
            self.references += 1
        return None


class _FakeRay:
    """What ``_start_workers`` uses of the ``ray`` module: records each actor's constructor arguments."""

    def __init__(self):
        self.constructed: list[tuple] = []
        self.options: dict = {}

    def put(self, value):
        return _Ref()

    def remote(self, cls):
        fake = self

        class Remote:
            def options(self, **options):
                fake.options = options
                return self

            def remote(self, *args, **kwargs):
                fake.constructed.append((cls, args, kwargs))
                return object()

        return Remote()


def test_ray_workers_are_built_from_small_arguments_without_object_store_references(tmp_path):
    # Ray restarts a dead actor from its constructor arguments, and does not promise to keep
    # those it holds in its object store (references, or values over 100 KiB that it puts
    # there itself): it logs "has constructor arguments in the object store and max_restarts
    # > 0 ... the actor restart will fail" at every run. The style images (here 600 KB) and
    # the shipped input travel with each segment call instead.
    from vidstyle.config import StyleConfig
    from vidstyle.distributed.driver import WorkerSlots, _start_workers
    from vidstyle.distributed.runtime import Connection

    src = make_clip(tmp_path / "in.mp4", num_frames=3, audio=False)
    fake = _FakeRay()
    styles = [np.zeros((400, 500, 3), np.uint8)]
    remote_cluster = Connection(ray=fake, started=True, address="ray://head:10001")  # the input's bytes are shipped
    actors, inputs = _start_workers(
        fake,
        remote_cluster,
        StyleConfig(engine="invert", max_side=64),
        styles,
        str(src),
        size=(64, 48),
        out_size=(64, 48),
        detail=False,
        slots=WorkerSlots(count=2, gpus=0, threads=1),
        workers=2,
    )
    assert len(actors) == len(fake.constructed) == 2 and fake.options["max_restarts"] > 0
    for _, args, kwargs in fake.constructed:
        buffer = io.BytesIO()
        finder = _RefFinder(buffer)
        finder.dump((args, kwargs))
        assert finder.references == 0 and buffer.tell() < 100 * 1024, (finder.references, buffer.tell())
    assert isinstance(inputs.styles[0], _Ref) and isinstance(inputs.source.data[0], _Ref)  # sent with each call


def test_a_ray_run_with_a_killed_worker_prints_only_json_on_stdout_and_nothing_with_q(ray_runtime, tmp_path, capfd):
    # The first Ray run of this module: Ray logs the constructor-argument error once per process.
    src = make_clip(tmp_path / "in.mp4", num_frames=16, audio=False)
    (ray_runtime / "armed").write_text("")
    argv = [src, "--style", STYLE_PATH, "--ray", "auto", "--engine", "invert-kill", *RAY_FLAGS]
    code, out, err = run_cli([*argv, "--json", "-q", "-o", tmp_path / "out.mp4"], capfd)
    assert (ray_runtime / "killed").exists()  # a worker process really died mid-segment
    assert code == 0, err
    summary = json.loads(out)  # the whole of standard output is the JSON
    assert summary["frames_written"] == 16 and summary["segments"] >= 2
    assert "retries remaining" not in err and "worker died" not in err, err  # -q: Ray's messages silenced
    assert "constructor arguments in the object store" not in err, err


# -- eval: checked before any work --------------------------------------------------------------


@pytest.fixture
def eval_clip(tmp_path):
    return make_clip(tmp_path / "in.mp4", num_frames=6, audio=False)


def test_eval_refuses_a_plot_it_cannot_write_before_measuring(eval_clip, tmp_path, monkeypatch, capfd):
    import vidstyle.evaluate

    def measure(*args, **kwargs):
        raise AssertionError("measured before the plot's folder was checked")

    monkeypatch.setattr(vidstyle.evaluate, "evaluate_videos", measure)
    code, _, err = run_cli(["eval", eval_clip, eval_clip, "--plot", tmp_path / "missing" / "x.png"], capfd)
    assert code == 2 and f"output folder does not exist: {tmp_path / 'missing'}" in err, err
    code, _, err = run_cli(["eval", eval_clip, eval_clip, "--plot", eval_clip.with_suffix(".png")], capfd)
    assert code == 1 and "measured before" in err  # a plot it can write: the measurement starts


def test_eval_range_errors_are_the_stylize_commands_lines(eval_clip, capfd):
    from vidstyle.media import probe

    ends = probe(eval_clip).duration_s
    for extra, line in (
        (["-t", "0"], "argument -t: must be positive, got 0"),
        (["-ss", "5"], f"{eval_clip}: no video frames to measure in the requested range: it starts at 5s, "),
        (["-ss", "1", "-t", "0"], "argument -t: must be positive, got 0"),
        (["-ss", "1", "-to", "0.5"], "end (0.5s) must come after start (1s)"),
    ):
        code, out, err = run_cli(["eval", eval_clip, eval_clip, *extra], capfd)
        assert code == 2 and out == "" and line in err and len(err.strip().splitlines()) == 1, (extra, err)
    assert f"the video ends at {ends:g}s" in run_cli(["eval", eval_clip, eval_clip, "-ss", "5"], capfd)[2]


# -- eval: flat and still inputs ------------------------------------------------------------------


def grey_clip(path, num_frames: int = 6):
    return make_clip(path, frames=[np.full((48, 64, 3), 128, np.uint8)] * num_frames, audio=False)


def test_eval_of_a_flat_clip_against_itself_has_no_edge_note_and_a_null_agreement(tmp_path, capfd):
    from vidstyle.evaluate import edge_agreement

    flat = np.full((48, 64, 3), 128, np.uint8)
    assert np.isnan(edge_agreement(flat, flat)) and np.isnan(edge_agreement(flat, moving_frames(64, 48, 1)[0]))
    assert edge_agreement(moving_frames(64, 48, 1)[0], flat) == 0.0  # an input with edges, painted flat: none kept
    grey = grey_clip(tmp_path / "grey.mp4")
    code, out, err = run_cli(["eval", grey, grey], capfd)
    assert code == 0 and "note:" not in err, err
    assert "edge agreement:  undefined  (the input has no edges)" in out and "flicker ratio:   1.000" in out
    code, out, err = run_cli(["eval", grey, grey, "--json"], capfd)
    report = json.loads(out)
    assert code == 0 and "note:" not in err and report["median_edge_agreement"] is None
    assert report["flicker_ratio"] == 1.0  # neither moves: as steady as the source


def test_eval_of_a_still_input_says_the_ratio_is_undefined_in_text_and_json(tmp_path, capfd):
    grey = grey_clip(tmp_path / "grey.mp4")
    moving = make_clip(tmp_path / "moving.mp4", num_frames=6, audio=False)
    code, out, err = run_cli(["eval", grey, moving], capfd)
    assert code == 0 and "flicker ratio:   undefined" in out and "inf" not in out, out
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and f"{grey} does not move" in notes[0] and "undefined" in notes[0], err
    code, out, err = run_cli(["eval", grey, moving, "--json"], capfd)
    report = json.loads(out)
    assert code == 0 and report["flicker_ratio"] is None and report["e_warp_input"] == 0.0
    assert report["e_warp_stylized"] > 0 and len([line for line in err.splitlines() if "does not move" in line]) == 1
    from vidstyle.evaluate import FlickerReport
    from vidstyle.evaluate_plot import _plot_title

    assert "Flicker ratio undefined (the input does not move)" in _plot_title(FlickerReport([0.1], [0.0]))
