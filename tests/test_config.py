"""StyleConfig / ExportConfig: one place for defaults and valid ranges, enforced
for the Python API exactly as for the command line."""

import dataclasses
import math
from fractions import Fraction

import pytest

import vidstyle
from vidstyle.checks import CRF_RANGES, NO_CRF, check_crf
from vidstyle.config import (
    PRESET_OPTIONS,
    PRESETS,
    ExportConfig,
    StyleConfig,
    describe_preset,
    make_configs,
    preset_options,
)
from vidstyle.errors import InputError

NAN, INF = float("nan"), float("inf")


def all_fields():
    return [(cls, f) for cls in (StyleConfig, ExportConfig) for f in dataclasses.fields(cls)]


def test_every_field_is_on_the_cli_or_explicitly_api_only():
    """A new field without a flag, a ``via`` or an ``api_only`` reason cannot
    be declared (``setting`` refuses it) and is caught here if declared with
    a bare ``dataclasses.field``: nothing is silently left off the CLI."""
    names = {f.name for _, f in all_fields()}
    via_targets = {}
    for cls, field in all_fields():
        meta = field.metadata
        assert "check" in meta, f"{cls.__name__}.{field.name} has no check (valid values)"
        kinds = [bool(meta.get("flags")), meta.get("via") is not None, bool(meta.get("api_only"))]
        assert sum(kinds) == 1, f"{cls.__name__}.{field.name}: needs exactly one of flags / via / api_only"
        for flag in meta.get("flags", ()):
            for target in flag.fields or (field.name,):
                assert target in names
                via_targets.setdefault(target, set()).update(flag.names)
            for target, _ in flag.also:
                via_targets.setdefault(target, set()).update(flag.names)
    for _, field in all_fields():
        if field.metadata.get("via"):  # set by another field's flag, which must exist and fill it
            assert field.metadata["via"] in via_targets.get(field.name, ()), field.name


def test_every_field_has_its_default_accepted_by_its_own_check():
    StyleConfig()
    ExportConfig()
    for name in PRESETS:
        StyleConfig(**preset_options(name))


def test_bare_dataclass_field_without_cli_facts_is_refused():
    from vidstyle.checks import Check, setting

    with pytest.raises(TypeError, match="exactly one of"):
        setting(1, Check("int"))


# Every numeric field, a value outside its range, and the words the error uses.
STYLE_NONSENSE = [
    ("net_blend", NAN, "net-blend must be a finite number"),
    ("net_blend", 1.5, "net-blend must be between 0 and 1"),
    ("net_refine", -1, "net-refine must be"),
    ("train_minutes", INF, "train-minutes must be a finite number"),
    ("train_minutes", 0.0, "train-minutes must be greater than 0 and at most 10080"),
    ("train_steps", 0, "train-steps must be between 1 and 10000000"),
    ("content_weight", NAN, "content-weight must be a finite number"),
    ("style_weight", INF, "style-weight must be a finite number"),
    ("tv_weight", NAN, "tv-weight must be a finite number"),
    ("tv_weight", -1.0, "tv-weight must be >= 0"),
    ("temporal_weight", -INF, "temporal-weight must be a finite number"),
    ("style_weights", (1.0, NAN), "style-weights must be a finite number"),
    ("style_weights", (1.0, -0.5), "style-weights must be >= 0"),
    ("style_weights", (), "style-weights needs at least one value"),
    ("style_scale", NAN, "style-scale must be a finite number"),
    ("style_scale", 0.0, "style-scale must be greater than 0 and at most 4.0"),
    ("style_scale", 1e9, "style-scale must be greater than 0 and at most 4.0"),
    ("learning_rate", INF, "learning-rate must be a finite number"),
    ("learning_rate", 0.0, "learning-rate must be positive"),
    ("range_weight", NAN, "range-weight must be a finite number"),
    ("range_weight", -1.0, "range-weight must be >= 0"),
    ("iters_first", 0, "iters-first must be between 1 and 100000"),
    ("iters_later", -3, "iters-later must be between 1 and 100000"),
    ("iters_first", 2.5, "iters-first must be a whole number"),
    ("iters_first", True, "iters-first must be a whole number"),
    ("tolerance", NAN, "tolerance must be a finite number"),
    ("tolerance", 2.0, "tolerance must be between 0 and 1"),
    ("tolerance_window", 0, "tolerance-window must be positive"),
    ("min_iters_later", -1, "min-iters-later must be >= 0"),
    ("seed", -1, "seed must be between 0 and"),
    ("seed", NAN, "seed must be a whole number"),
    ("max_side", 0, "max-side must be between 16 and 8192 pixels"),
    ("max_side", 99999, "max-side must be between 16 and 8192 pixels"),
    ("max_side", INF, "max-side must be a whole number"),
    ("tile", 32, "tile must be >= 64 pixels"),
    ("tile", NAN, "tile must be a whole number"),
    ("tile_halo", -16, "tile-halo must be >= 0 pixels"),
    ("size", (8, 64), "size must be between 16 and 8192 pixels"),
    ("size", (16, 99999), "size must be between 16 and 8192 pixels"),
    ("size", (64,), "size needs 2 values"),
    ("output_size", (8, 64), "output-size must be between 16 and 8192 pixels"),
    ("output_size", (99999, 99999), "output-size must be between 16 and 8192 pixels"),
    ("output_size", (64, INF), "output-size must be a whole number"),
    ("detail_iters", -1, "detail-iters must be between 0 and 1000"),
    ("detail_iters", NAN, "detail-iters must be a whole number"),
    ("long_term", (1, 0), "long-term offsets must be between 1 and 64"),
    ("long_term", (), "long-term offsets needs at least one value"),
    ("passes", 0, "passes must be between 1 and 100"),
    ("passes", 10**6, "passes must be between 1 and 100"),
    ("iters_first", 10**20, "iters-first must be between 1 and 100000"),
    ("scene_cut_threshold", NAN, "scene-cut-threshold must be a finite number"),
    ("scene_cut_threshold", 1.5, "scene-cut-threshold must be between 0 and 1"),
    ("num_threads", 0, "num-threads must be between 1 and 256"),
    ("num_threads", 100000, "num-threads must be between 1 and 256"),
    ("num_threads", 1.5, "num-threads must be a whole number"),
    # booleans given as numbers, and the other way round
    ("preserve_colors", 1, "preserve-colors must be True or False"),
    ("temporal", 0, "temporal must be True or False"),
    ("precision", "fp64", "unknown precision 'fp64'"),
    ("compile", "yes", "compile must be True or False"),
    # names
    ("flow", "magic", "unknown flow method 'magic'"),
    ("optimizer", "sgd", "unknown optimizer 'sgd'"),
    ("init", "zeros", "unknown init 'zeros'"),
    ("engine", "", "engine must be a non-empty string"),
]

EXPORT_NONSENSE = [
    ("workers", 0, "workers must be positive"),
    ("segment_frames", 1, "segment-frames must be >= 2"),
    ("seam_frames", -1, "seam-frames must be >= 0"),
    ("anchor_frames", -1, "anchor-frames must be >= 0"),
    ("start_s", NAN, "start must be a finite number"),
    ("start_s", -1.0, "start must be >= 0 seconds"),
    ("end_s", INF, "end must be a finite number"),
    ("end_s", 0.0, "end must be positive"),
    ("crf", 99, "crf must be between 0 and 63"),
    ("crf", -1, "crf must be between 0 and 63"),
    ("crf", 20.5, "crf must be a whole number"),
    ("bitrate", 0, "bitrate must be between 1 and 2000000000"),
    ("bitrate", 10**30, "bitrate must be between 1 and 2000000000"),
    ("bitrate", INF, "bitrate must be a whole number"),
    ("fps", INF, "not a frame rate"),
    ("fps", NAN, "not a frame rate"),
    ("fps", 0, "frame rate must be between 1/100 and 1000"),
    ("fps", 0.001, "frame rate must be between 1/100 and 1000"),
    ("fps", True, "fps must be a frame rate"),
    ("input_fps", INF, "not a frame rate"),
    ("input_fps", NAN, "not a frame rate"),
    ("input_fps", 0, "frame rate must be between 1/100 and 1000"),
    ("input_fps", 2000, "frame rate must be between 1/100 and 1000"),
    ("input_fps", True, "input-fps must be a frame rate"),
    ("overwrite", 1, "overwrite must be True or False"),
]


@pytest.mark.parametrize(
    "name, value, message",
    STYLE_NONSENSE + EXPORT_NONSENSE,
    ids=[f"{n}={v!r}" for n, v, _ in STYLE_NONSENSE + EXPORT_NONSENSE],
)
def test_python_api_rejects_nonsense_with_one_clear_message(name, value, message):
    with pytest.raises(InputError, match="^" + message.replace("(", r"\(")) as caught:
        make_configs(**{name: value})
    assert "\n" not in str(caught.value)


def test_every_numeric_field_is_covered_by_the_nonsense_table():
    tested = {name for name, _, _ in STYLE_NONSENSE + EXPORT_NONSENSE}
    numeric = {f.name for _, f in all_fields() if f.metadata["check"].kind in ("real", "int", "rate")}
    assert numeric <= tested, sorted(numeric - tested)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("tv_weight", NAN, "tv-weight must be a finite number"),
        ("style_weight", INF, "style-weight must be a finite number"),
        ("crf", 99, "crf must be between 0 and 63"),
        ("max_side", 0, "max-side must be between 16 and 8192"),
        ("iters_first", 0, "iters-first must be between 1 and 100000"),
        ("fps", INF, "not a frame rate"),
        ("style_scale", NAN, "style-scale must be a finite number"),
    ],
)
def test_stylize_video_and_image_refuse_before_any_work(tmp_path, name, value, message):
    """The options are checked before the input is even opened: a missing
    input would otherwise be the error; nothing is written."""
    missing = tmp_path / "no-such-input.mp4"
    with pytest.raises(InputError, match=message):
        vidstyle.stylize_video(missing, tmp_path / "out.mp4", style="no-such-style.jpg", **{name: value})
    with pytest.raises(InputError, match=message):
        vidstyle.stylize_image(
            tmp_path / "no-such.png", tmp_path / "out.png", style="no-such-style.jpg", **{name: value}
        )
    assert list(tmp_path.iterdir()) == []


def test_values_are_normalized_once():
    import numpy as np

    config = StyleConfig(long_term=[1, 2], max_side=np.int64(64), style_weights=[0.5, 0.5])
    assert config.long_term == (1, 2) and config.style_weights == (0.5, 0.5)
    assert type(config.max_side) is int
    assert ExportConfig(fps=29.97).fps == Fraction(30000, 1001)
    assert ExportConfig(fps="30000/1001").fps == Fraction(30000, 1001)
    assert StyleConfig(tv_weight=0).tv_weight == 0  # ints are fine where floats are expected
    hash(config)  # still usable as a key


def test_end_must_come_after_start():
    with pytest.raises(InputError, match=r"end \(1s\) must come after start \(2s\)"):
        ExportConfig(start_s=2.0, end_s=1.0)


@pytest.mark.parametrize(
    "codec, crf, ok",
    [
        ("libx264", 0, True),
        ("libx264", 51, True),
        ("libx264", 52, False),
        ("libx265", 51, True),
        ("libx265", 60, False),
        ("libvpx-vp9", 63, True),
        ("libvpx-vp9", 64, False),
        ("libsvtav1", 63, True),
        ("libaom-av1", -1, False),
        (None, 63, True),
        (None, 64, False),
        ("prores_ks", 10, False),
        ("gif", 0, False),
        ("prores_ks", None, True),
        ("somefuturecodec", 40, True),
    ],
)
def test_crf_range_per_codec(codec, crf, ok):
    if ok:
        check_crf(codec, crf)
        ExportConfig(codec=codec, crf=crf)
        return
    with pytest.raises(InputError, match="crf") as caught:
        check_crf(codec, crf)
    if codec in CRF_RANGES:
        low, high = CRF_RANGES[codec]
        assert f"between {low} and {high} for {codec}" in str(caught.value)
    with pytest.raises(InputError, match="crf"):
        ExportConfig(codec=codec, crf=crf)


def test_crf_table_covers_the_writer_codecs():
    assert {"libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1"} <= set(CRF_RANGES)
    assert {"prores_ks", "gif"} <= NO_CRF


def test_live_preset_holds_the_measured_live_defaults():
    assert PRESET_OPTIONS["live"] == {
        "max_side": 128,
        "optimizer": "adam",
        "iters_first": 300,
        "iters_later": 60,
        "temporal_weight": 1000.0,
        "tolerance": 1e-3,
        "tolerance_window": 10,
        "min_iters_later": 10,
    }
    assert "live" in PRESETS
    text = describe_preset("live")
    assert "max-side 128" in text and "optimizer adam" in text and "iters-later 60" in text
    assert describe_preset("balanced") == "the defaults"
    with pytest.raises(InputError, match="unknown preset 'turbo'"):
        preset_options("turbo")


def test_error_values_are_shown_as_given():
    with pytest.raises(InputError, match=r"got 256\.0$"):
        StyleConfig(max_side=256.0)
    with pytest.raises(InputError, match="got nan$"):
        StyleConfig(tv_weight=math.nan)


@pytest.mark.parametrize(
    "keyword, hint",
    [
        ("threads", "did you mean num_threads?"),
        ("duration", "did you mean end_s = start_s + duration?"),
        ("iters", "did you mean iters_first, iters_later?"),
        ("stylescale", "did you mean style_scale?"),
    ],
)
def test_an_unknown_keyword_names_the_one_it_probably_means(keyword, hint):
    with pytest.raises(InputError) as caught:
        make_configs(**{keyword: 1})
    assert str(caught.value) == f"unknown option(s): {keyword} ({hint})"
    with pytest.raises(InputError, match="unknown option\\(s\\): zzz$"):
        make_configs(zzz=1)
