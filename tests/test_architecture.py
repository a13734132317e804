"""The layout rules of DESIGN.md, checked on the source: one import direction
(no circles, the library never imports the CLI), only the media package
imports PyAV, the library never prints, and modules stay small."""

import ast

from conftest import ROOT

PACKAGE = ROOT / "vidstyle"
MAX_MODULE_LINES = 400
LONG_MODULE_REASON = "Why this module is long:"  # a long module says why in its header


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name, parsed."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), filename=str(path))
    return found


def imported(tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules a module imports, at any depth (function-local imports count)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vidstyle"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("vidstyle"))
    return {name for name in names if name in known}


def test_no_import_circle_between_packages():
    trees = modules()
    graph = {name: imported(tree, set(trees)) for name, tree in trees.items()}

    def group(name: str) -> str:  # vidstyle.media.reading -> vidstyle.media
        parts = name.split(".")
        return ".".join(parts[:2])

    edges = {(group(a), group(b)) for a, targets in graph.items() for b in targets if group(a) != group(b)}
    # The package root re-exports the API lazily; it is the one allowed hub.
    edges = {(a, b) for a, b in edges if "vidstyle" not in (a, b)}
    circles = sorted((a, b) for a, b in edges if (b, a) in edges)
    assert not circles, f"packages that import each other: {circles}"


def test_the_library_never_imports_the_cli():
    trees = modules()
    offenders = sorted(
        name
        for name, tree in trees.items()
        if not name.startswith(("vidstyle.cli", "vidstyle.__main__"))
        and any(target.startswith("vidstyle.cli") for target in imported(tree, set(trees)))
    )
    assert not offenders, offenders


def test_only_the_media_package_imports_av():
    offenders = []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "av" for a in node.names):
                offenders.append(name)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "av":
                offenders.append(name)
    assert all(name.startswith("vidstyle.media") for name in offenders), offenders


def test_the_library_never_prints():
    offenders = []
    for name, tree in modules().items():
        if name.startswith(("vidstyle.cli", "vidstyle.__main__")):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, offenders


def test_long_modules_say_why():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if LONG_MODULE_REASON not in docstring:
                offenders.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines without '{LONG_MODULE_REASON}': {offenders}"
