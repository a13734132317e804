"""Flags generated from the config fields: every field reachable, every flag
landing in its field, defaults and ranges from one place, and nonsense values
refused in one line with exit code 2 before anything is written."""

import dataclasses
from fractions import Fraction

import cv2
import numpy as np
import pytest
from conftest import STYLE_PATH

from vidstyle.cli.eval import build_eval_parser
from vidstyle.cli.file import build_file_parser
from vidstyle.cli.main import main
from vidstyle.cli.options import Parser, add_style_options, cli_coverage, config_options, export_options, style_options
from vidstyle.config import PRESET_OPTIONS, ExportConfig, StyleConfig, make_configs
from vidstyle.errors import InputError

# One valid, non-default value per generated flag, and the fields it must set.
EXAMPLES = {
    "--content-weight": (["--content-weight", "7"], {"content_weight": 7.0}),
    "--style-weight": (["--style-weight", "50"], {"style_weight": 50.0}),
    "--tv-weight": (["--tv-weight", "0"], {"tv_weight": 0.0}),
    "--temporal-weight": (["--temporal-weight", "300"], {"temporal_weight": 300.0}),
    "--style-weights": (["--style-weights", "0.7,0.3"], {"style_weights": (0.7, 0.3)}),
    "--style-scale": (["--style-scale", "0.5"], {"style_scale": 0.5}),
    "--preserve-colors": (["--preserve-colors"], {"preserve_colors": True}),
    "--no-preserve-colors": (["--no-preserve-colors"], {"preserve_colors": False}),
    "--optimizer": (["--optimizer", "adam"], {"optimizer": "adam"}),
    "--iters": (["--iters", "30,4"], {"iters_first": 30, "iters_later": 4}),
    "--tolerance": (["--tolerance", "0.01"], {"tolerance": 0.01}),
    "--init": (["--init", "noise"], {"init": "noise"}),
    "--seed": (["--seed", "7"], {"seed": 7}),
    "--engine": (["--engine", "optimize"], {"engine": "optimize"}),
    "--model": (["--model", "look.pt"], {"model": "look.pt", "engine": "net"}),
    "--net-blend": (["--net-blend", "0.3"], {"net_blend": 0.3}),
    "--net-refine": (["--net-refine", "3"], {"net_refine": 3}),
    "--train-minutes": (["--train-minutes", "2"], {"train_minutes": 2.0}),
    "--train-steps": (["--train-steps", "50"], {"train_steps": 50}),
    "--max-side": (["--max-side", "96"], {"max_side": 96}),
    "--size": (["--size", "64x48"], {"size": (64, 48)}),
    "--output-size": (["--output-size", "640x360"], {"output_size": (640, 360)}),
    "--detail-iters": (["--detail-iters", "3"], {"detail_iters": 3}),
    "--tile": (["--tile", "512"], {"tile": 512}),
    "--no-temporal": (["--no-temporal"], {"temporal": False, "warm_start": False}),
    "--flow": (["--flow", "farneback"], {"flow": "farneback"}),
    "--carry-warp": (["--carry-warp", "lanczos"], {"carry_warp": "lanczos"}),
    "--long-term": (["--long-term", "1,2,4"], {"long_term": (1, 2, 4)}),
    "--passes": (["--passes", "2"], {"passes": 2}),
    "--device": (["--device", "cpu"], {"device": "cpu"}),
    "--weights": (["--weights", "torchvision"], {"weights": "torchvision"}),
    "--threads": (["--threads", "3"], {"num_threads": 3}),
    "--compile": (["--compile"], {"compile": True}),
    "--precision": (["--precision", "bf16"], {"precision": "bf16"}),
    "--start": (["-ss", "1:05"], {"start_s": 65.0}),
    "--duration": (["-ss", "2", "-t", "1.5"], {"start_s": 2.0, "end_s": 3.5}),
    "--to": (["-to", "00:00:04.5"], {"end_s": 4.5}),
    "--codec": (["--codec", "libx265"], {"codec": "libx265"}),
    "--crf": (["--crf", "20"], {"crf": 20}),
    "--bitrate": (["--bitrate", "2M"], {"bitrate": 2_000_000}),
    "-y": (["-y"], {"overwrite": True}),
    "--no-resume": (["--no-resume"], {"resume": False}),
    "--keep-work": (["--keep-work"], {"keep_work": True}),
    "--work-dir": (["--work-dir", "/tmp/frames"], {"work_dir": "/tmp/frames"}),
    "--fps": (["--fps", "29.97"], {"fps": Fraction(30000, 1001)}),
    "--input-fps": (["--input-fps", "23.976"], {"input_fps": Fraction(24000, 1001)}),
    "--compare": (["--compare"], {"compare": True}),
    "--ray": (["--ray", "auto"], {"ray": "auto"}),
    "--workers": (["--workers", "2"], {"workers": 2}),
    "--segment-frames": (["--segment-frames", "24"], {"segment_frames": 24}),
    "--seam-frames": (["--seam-frames", "4"], {"seam_frames": 4}),
    "--anchor-frames": (["--anchor-frames", "0"], {"anchor_frames": 0}),
}


def parse_file_args(*argv):
    args = build_file_parser().parse_args(["in.mp4", "--style", "s.jpg", *argv])
    options = {**style_options(args), **export_options(args)}
    style, export = make_configs(**options)
    return args, options, style, export


def long_name(names):
    return max(names, key=len) if any(n.startswith("--") for n in names) else names[0]


def test_the_examples_cover_every_generated_flag():
    flags = {long_name(o.flag.names) for o in config_options()}
    assert flags == set(EXAMPLES), "add an example for each new flag"


@pytest.mark.parametrize("flag", sorted(EXAMPLES))
def test_every_flag_reaches_its_config_field(flag):
    argv, expected = EXAMPLES[flag]
    _, options, style, export = parse_file_args(*argv)
    for name, value in expected.items():
        config = style if name in {f.name for f in dataclasses.fields(StyleConfig)} else export
        assert getattr(config, name) == value, (flag, name)
    defaults = {**dataclasses.asdict(StyleConfig()), **dataclasses.asdict(ExportConfig())}
    changed = {k for k, v in options.items() if v != defaults[k]}
    assert changed == {k for k, v in expected.items() if v != defaults[k]}, flag  # nothing else moves


def test_cli_coverage_names_every_field():
    coverage = cli_coverage()
    fields = [f.name for cls in (StyleConfig, ExportConfig) for f in dataclasses.fields(cls)]
    assert sorted(coverage) == sorted(fields)
    assert coverage["iters_later"] == "via --iters" and coverage["num_threads"] == "--threads"
    assert coverage["coarse_to_fine"].startswith("api-only: ")


def test_preset_is_overridden_only_by_what_the_user_typed():
    _, options, style, _ = parse_file_args("--preset", "quality", "--iters", "50,6")
    assert (style.iters_first, style.iters_later) == (50, 6)
    assert style.long_term == (1, 2, 4) and style.tolerance == 1e-3  # from the preset
    _, _, style, _ = parse_file_args("--preset", "quality")
    quality = PRESET_OPTIONS["quality"]["iters_first"]
    assert style.long_term == (1, 2, 4) and style.iters_first == quality != StyleConfig().iters_first
    _, options, _, _ = parse_file_args()
    assert options == {}  # nothing typed: the config defaults, not copies of them


def test_help_shows_defaults_and_ranges_from_the_config():
    text = " ".join(build_file_parser().format_help().split())
    assert f"default {StyleConfig().tv_weight:g}" in text
    assert f"default {StyleConfig().iters_first},{StyleConfig().iters_later}" in text
    assert "between 16 and 8192 pixels" in text and "between 0 and 63" in text


def test_live_preset_is_shown_in_help_when_it_is_the_default():
    parser = Parser(prog="vidstyle live")
    add_style_options(parser, default_preset="live")
    text = "".join(parser.format_help().split())  # argparse wraps lines at hyphens too
    assert "defaultlive:max-side128,optimizeradam,iters-first300,iters-later60" in text
    args = parser.parse_args(["--style", "s.jpg", "--max-side", "64"])
    options = style_options(args)
    assert options["optimizer"] == "adam" and options["max_side"] == 64  # typed beats preset


NONSENSE = [
    (["--tv-weight", "nan"], "tv-weight must be a finite number"),
    (["--style-weight", "inf"], "style-weight must be a finite number"),
    (["--content-weight", "-1"], "content-weight must be >= 0"),
    (["--temporal-weight=-inf"], "temporal-weight must be a finite number"),
    (["--style-weights", "1,nan"], "style-weights must be a finite number"),
    (["--crf", "99"], "crf must be between 0 and 63"),
    (["--crf", "-1"], "crf must be between 0 and 63"),
    (["--codec", "libx264", "--crf", "52"], "crf must be between 0 and 51 for libx264"),
    (["--codec", "prores_ks", "--crf", "10"], "prores_ks has no crf"),
    (["--max-side", "0"], "max-side must be between 16 and 8192 pixels"),
    (["--max-side", "99999"], "max-side must be between 16 and 8192 pixels"),
    (["--size", "8x8"], "size must be between 16 and 8192"),
    (["--size", "16x99999"], "size must be between 16 and 8192"),
    (["--output-size", "99999x99999"], "output-size must be between 16 and 8192"),
    (["--iters", "0,5"], "iters-first must be between 1 and 100000"),
    (["--iters", "5,0"], "iters-later must be between 1 and 100000"),
    (["--iters", "ten"], "FIRST,LATER"),
    (["--fps", "inf"], "not a frame rate"),
    (["--fps", "0"], "frame rate must be between 1/100 and 1000"),
    (["--fps", "1/1000"], "frame rate must be between 1/100 and 1000"),
    (["--fps", "0.001"], "got 0.001"),
    (["--style-scale", "nan"], "style-scale must be a finite number"),
    (["--style-scale", "1e9"], "style-scale must be greater than 0 and at most 4"),
    (["--tolerance", "nan"], "tolerance must be a finite number"),
    (["--seed", "-1"], "seed must be between 0 and"),
    (["--long-term", "0"], "long-term offsets must be between 1 and 64"),
    (["--carry-warp", "area"], "unknown carry warp 'area'"),
    (["--passes", "0"], "passes must be between 1 and 100"),
    (["--threads", "0"], "num-threads must be between 1 and 256"),
    (["--threads", "100000"], "num-threads must be between 1 and 256"),
    (["--bitrate", "inf"], "expected a bitrate"),
    (["--bitrate", "0"], "bitrate must be between 1 and"),
    (["--bitrate", "1e99"], "expected a bitrate"),
    (["--bitrate", "5G"], "expected a bitrate"),
    (["--bitrate", "5000000000"], "bitrate must be between 1 and"),
    (["-ss", "nan"], "not a time"),
    (["-ss", "inf"], "not a time"),
    (["-t", "-1"], "not a time"),
    (["-ss", "3", "-to", "2"], "end (2s) must come after start (3s)"),
    (["-t", "1", "-to", "2"], "not allowed with argument"),
    (["--engine", "nosuchengine"], "invalid choice: 'nosuchengine'"),
    (["--model", "look.pt", "--engine", "optimize"], "--model sets --engine net; --engine optimize contradicts it"),
]


@pytest.mark.parametrize("argv, message", NONSENSE, ids=[" ".join(a) for a, _ in NONSENSE])
def test_nonsense_numbers_get_one_line_exit_2_and_no_output(tmp_path, capsys, argv, message):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"never read: the options are refused first")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main([str(src), "--style", str(STYLE_PATH), "-o", str(tmp_path / "out.mp4"), *argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("vidstyle: error:") and message in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_eval_max_side_is_checked_like_the_config_field(capsys):
    with pytest.raises(InputError, match="max-side must be between 16 and 8192"):
        build_eval_parser().parse_args(["a.mp4", "b.mp4", "--max-side", "0"])
    assert build_eval_parser().parse_args(["a.mp4", "b.mp4", "--max-side", "64"]).max_side == 64


def test_still_image_notices_are_rendered_like_the_videos(tmp_path, capsys, monkeypatch):
    """The library reports a reduced size as a Notice event; the still-image
    path prints it as a ``note:`` line (and stays silent with -q)."""
    import vidstyle.api  # noqa: F401  (binds the real stylize_image before the patch, for later tests)
    import vidstyle.pipeline as pipeline

    def fake_stylize_image(src, dst=None, *, style, on_event=None, **options):
        on_event(pipeline.Notice("processing size reduced to 32x24 to fit in memory"))
        image = np.zeros((24, 32, 3), np.uint8)
        cv2.imwrite(str(dst), image)
        return image

    monkeypatch.setattr(pipeline, "stylize_image", fake_stylize_image)
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.full((48, 64, 3), 128, np.uint8))
    assert main([str(photo), "--style", str(STYLE_PATH), "-o", str(tmp_path / "a.png")]) == 0
    err = capsys.readouterr().err
    assert "note: processing size reduced to 32x24" in err and "wrote" in err
    assert main([str(photo), "--style", str(STYLE_PATH), "-o", str(tmp_path / "b.png"), "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_still_image_refuses_video_only_options(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.full((48, 64, 3), 128, np.uint8))
    code = main([str(photo), "--style", str(STYLE_PATH), "-o", str(tmp_path / "p.png"), "-ss", "1", "--fps", "10"])
    err = capsys.readouterr().err
    assert code == 2 and "-ss, --fps apply to videos" in err


def test_live_command_gets_the_same_checks(capsys):
    """``vidstyle live`` shares the generated style flags, so their checks too."""
    code = main(["live", "lavfi:testsrc2", "--style", str(STYLE_PATH), "--tv-weight", "nan"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "tv-weight must be a finite number" in err, err
