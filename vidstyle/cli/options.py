"""Command-line options generated from the config fields' metadata.

Every flag that sets a ``StyleConfig`` or ``ExportConfig`` field is built here
from that field's ``Flag`` (see ``vidstyle.config``): names, help, metavar,
text parser, choices, group. Its default and valid range come from the field
too, so the help text cannot drift from the library, and a value is checked
by the same ``check_value`` the config's ``__post_init__`` runs: a bad value
is an argparse error naming the flag (one line, exit code 2).

    parser = Parser(prog="vidstyle live")
    add_style_options(parser, default_preset="live")   # style + optimizer + hardware flags
    options = style_options(parser.parse_args(argv))   # preset overridden by what was typed
    config = StyleConfig(**options)

Generated options default to None, so that only what the user typed
overrides the preset and the config defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vidstyle import config as cfg
from vidstyle import parsing
from vidstyle.checks import Flag, check_value
from vidstyle.config import CONFIG_CLASSES, PRESET_OPTIONS, ExportConfig, StyleConfig
from vidstyle.errors import InputError

PROG = "vidstyle"

__all__ = [
    "PROG",
    "Parser",
    "Option",
    "add_style_options",
    "add_export_options",
    "style_options",
    "export_options",
    "config_options",
    "cli_coverage",
    "field_type",
    "argparse_type",
    "preset_help",
    "parse_duration",
    "parse_time",
    "parse_size",
]


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (InputError: exit code 2).

    A word that starts with ``-`` and a digit or a point (``-1,5``, ``-5M``,
    ``-.5``) is a value, not an option: argparse takes only plain negative
    numbers (``-1``) for values, and ``--iters -1,5`` would be refused with
    "expected one argument" instead of the range error the value deserves.
    No option of vidstyle's is named like that."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message):
        raise InputError(f"{message} (see '{self.prog} --help')")


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option: a ``Flag`` and the config field it is declared on."""

    flag: Flag
    field: dataclasses.Field
    owner: type  # StyleConfig or ExportConfig

    @property
    def targets(self) -> tuple[str, ...]:
        """The fields its value fills."""
        return self.flag.fields or (self.field.name,)

    @property
    def dest(self) -> str:
        return self.flag.dest or self.field.name


def config_options(*classes: type, groups: Iterable[str] | None = None) -> list[Option]:
    """The options of ``classes`` (default: both configs) in field order,
    limited to ``groups`` when given."""
    wanted = set(groups) if groups is not None else None
    return [
        Option(flag, field, owner)
        for owner in (classes or CONFIG_CLASSES)
        for field in dataclasses.fields(owner)
        for flag in field.metadata["flags"]
        if wanted is None or flag.group in wanted
    ]


def cli_coverage() -> dict[str, str]:
    """How each config field is reached from the command line, by field name:
    ``--tv-weight``, ``via --iters`` or ``api-only: <reason>``."""
    coverage = {}
    for owner in CONFIG_CLASSES:
        for field in dataclasses.fields(owner):
            meta = field.metadata
            if meta.get("flags"):
                coverage[field.name] = " | ".join("/".join(flag.names) for flag in meta["flags"])
            elif meta.get("via"):
                coverage[field.name] = f"via {meta['via']}"
            elif meta.get("api_only"):
                coverage[field.name] = f"api-only: {meta['api_only']}"
    return coverage


def argparse_type(parse: Callable[[str], Any], check: Callable[[Any], Any] | None = None) -> Callable[[str], Any]:
    """``parse`` (text -> value, raising InputError) and then ``check`` as an
    argparse ``type=``: a bad value becomes argparse's one-line error naming
    the flag."""

    def convert(text: str):
        try:
            value = parse(text)
            if check is not None:
                check(value)
        except InputError as err:
            raise argparse.ArgumentTypeError(str(err)) from err
        return value

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _fields(owner: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(owner)}


def _option_type(option: Option) -> Callable[[str], Any]:
    flag, fields = option.flag, _fields(option.owner)
    assert flag.parse is not None, "switches have no type"

    def check(value):
        if flag.after:  # an offset (-t DURATION): positive here, the end it makes checked in the config
            _positive(value)
            return
        values = value if len(option.targets) > 1 else (value,)
        for name, item in zip(option.targets, values, strict=True):
            check_value(fields[name], item)

    return argparse_type(flag.parse, check)


def field_type(owner: type, name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that parses like the flag of ``owner.name`` and
    accepts what that field accepts (for options outside the configs that
    mean the same thing: ``vidstyle eval --max-side``, ``live --input-size``)."""
    field = _fields(owner)[name]
    (flag, *_) = field.metadata["flags"] or (None,)
    if flag is None or flag.parse is None:
        raise ValueError(f"{owner.__name__}.{name} has no flag with a value")
    return argparse_type(flag.parse, lambda value: check_value(field, value))


def _positive(seconds: float) -> None:
    if seconds <= 0:  # "-t 0": as typed, not as the end it would make ("end must be positive")
        raise InputError(f"must be positive, got {seconds:g}")


parse_time = argparse_type(parsing.parse_time)  # -ss; times are >= 0 and finite
parse_duration = argparse_type(parsing.parse_time, _positive)  # -t (eval's -to too): a span that is not empty
parse_size = field_type(StyleConfig, "size")  # WxH, each side at least config.MIN_SIDE


def _choices(option: Option) -> Sequence[str] | None:
    if option.flag.choices_from:
        module_name, _, function = option.flag.choices_from.partition(":")
        try:
            return list(getattr(importlib.import_module(module_name), function)())
        except (ImportError, AttributeError):  # no registry yet: the library checks the name when it is used
            return None
    return option.field.metadata["check"].choices or None


def _help(option: Option, preset: dict | None = None) -> str:
    """The flag's help with its default (the command's default preset wins
    over the field's own default) and its valid range."""
    flag, check = option.flag, option.field.metadata["check"]
    preset = preset or {}
    notes = []
    if flag.switch is None and not flag.after:
        fields = _fields(option.owner)
        defaults = [preset.get(name, fields[name].default) for name in option.targets]
        if all(d is not None for d in defaults):
            notes.append("default " + ",".join(_show(d) for d in defaults))
        if check.kind in ("real", "int") and check.describe():
            notes.append(check.describe())
    text = flag.help + (f" ({'; '.join(notes)})" if notes else "")
    return text.replace("%", "%%")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_show(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _add_options(
    parser: argparse.ArgumentParser, container, options: Iterable[Option], preset: dict | None = None
) -> None:
    exclusive: dict[str, Any] = {}
    for option in options:
        flag = option.flag
        where = container if container is not None else parser
        if flag.exclusive:
            if flag.exclusive not in exclusive:
                exclusive[flag.exclusive] = where.add_mutually_exclusive_group()
            where = exclusive[flag.exclusive]
        kwargs: dict[str, Any] = {"dest": option.dest, "default": None, "help": _help(option, preset)}
        if flag.switch is not None:
            kwargs.update(action="store_const", const=flag.switch)
        else:
            kwargs.update(type=_option_type(option), metavar=flag.metavar, choices=_choices(option))
        where.add_argument(*flag.names, **kwargs)


def preset_help(default_preset: str) -> str:
    """The --preset help: the choices and what the default preset sets."""
    return (
        f"speed/quality trade-off: {', '.join(PRESET_OPTIONS)} "
        f"(default {default_preset}: {cfg.describe_preset(default_preset)})"
    )


def add_style_options(
    parser: argparse.ArgumentParser, *, default_preset: str = "balanced", style_required: bool = False
) -> None:
    """The options of every command that stylizes (file and live) or trains:
    --style (optional where a look file, --model, can bring the style),
    --preset and the StyleConfig flags of the ``style`` group."""
    g = parser.add_argument_group("style")
    g.add_argument(
        "--style",
        action="append",
        required=style_required,
        metavar="IMAGE",
        help="style image (repeat to blend several)"
        + ("" if style_required else "; not needed with --model (a look paints its own style)"),
    )
    g.add_argument(
        "--preset",
        choices=tuple(PRESET_OPTIONS),
        default=default_preset,
        help=preset_help(default_preset).replace("%", "%%"),
    )
    _add_options(parser, g, config_options(StyleConfig, groups=["style"]), PRESET_OPTIONS[default_preset])


def add_export_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The file command's options: the ``video`` group (StyleConfig and
    ExportConfig flags) and the ``main`` flags (-y). Returns the video group,
    for command-specific options."""
    _add_options(parser, None, config_options(ExportConfig, StyleConfig, groups=["main"]))
    g = parser.add_argument_group("video")
    _add_options(parser, g, config_options(StyleConfig, ExportConfig, groups=["video"]))
    return g


def _typed(args: argparse.Namespace, options: Iterable[Option]) -> dict:
    """The fields set by what the user typed; offsets (-t) after the rest."""
    values: dict[str, Any] = {}
    given = [o for o in options if getattr(args, o.dest, None) is not None]
    for option in sorted(given, key=lambda o: o.flag.after is not None):
        value = getattr(args, option.dest)
        if option.flag.after:
            value = (values.get(option.flag.after) or 0.0) + value
        values.update(zip(option.targets, value if len(option.targets) > 1 else (value,), strict=True))
    for option in given:  # --model sets the engine: a different one typed beside it is a contradiction
        for name, implied in option.flag.also:
            other = next((o for o in given if name in o.targets), None)
            if other is not None and values[name] != implied:
                raise InputError(
                    f"{option.flag.names[0]} sets {other.flag.names[0]} {implied}; "
                    f"{other.flag.names[0]} {values[name]} contradicts it"
                )
            values[name] = implied
    return values


def style_options(args: argparse.Namespace) -> dict:
    """StyleConfig keyword options: the preset's overridden by every option
    the user gave (``args.preset``; no preset attribute: the defaults)."""
    options = cfg.preset_options(getattr(args, "preset", None) or "balanced")
    options.update(_typed(args, config_options(StyleConfig)))
    return options


def export_options(args: argparse.Namespace) -> dict:
    """ExportConfig keyword options for what the user gave."""
    return _typed(args, config_options(ExportConfig))
