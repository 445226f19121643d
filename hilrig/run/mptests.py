"""MicroPython's own test suite (its ``tests/`` folder) and the conventions run-tests.py applies.

A program lies in such a tree when a folder above it holds ``run-tests.py`` and
``feature_check/``. For those programs hilrig decides as run-tests.py does (see
docs/micropython-tests.md): skips from the capability probe's features and the program's file
name, the hand-written skip lists, programs whose ``.exp`` holds patterns, and the module path.

The hand-written lists are read from the tree's own ``run-tests.py`` (its top-level tuples and
dicts, and the ``skip_tests.add(...)`` calls under conditions hilrig knows), so they always match
the checkout being run; a list run-tests.py no longer has is simply empty.
"""

from __future__ import annotations

import ast
import io
import logging
import sys
import tokenize
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from hilrig.capabilities import Capabilities, ErrorReporting

log = logging.getLogger(__name__)

PC_PLATFORMS = ("darwin", "linux", "win32")

# run-tests.py's name rules (run_one_test): a program whose name says it uses a feature is skipped
# when the feature check finds the target without it. (prefixes, suffixes, substrings) per feature.
_NAME_RULES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("native", ("native_", "viper_"), (), ()),
    ("int_big", ("int_big", "ffi_int"), ("_intbig",), ()),
    ("int_64", ("int_64",), ("_int64",), ()),
    ("bytearray", ("bytearray",), ("_bytearray",), ()),
    ("set", ("set_", "frozenset"), ("_set",), ()),
    ("slice", (), (), ("slice",)),
    ("async", ("async_", "asyncio_"), ("_async",), ()),
    ("const", ("const",), (), ()),
    ("reverse_ops", (), (), ("reverse_op",)),
    ("fstring", ("string_fstring",), ("_fstring",), ()),
    ("tstring", ("string_tstring",), ("_tstring",), ()),
)
_FEATURE_TEXT = {
    "native": "the native emitter",
    "int_big": "arbitrary-precision integers",
    "int_64": "64-bit integers",
    "bytearray": "bytearray",
    "set": "set literals",
    "slice": "slice objects",
    "async": "async/await",
    "const": "const()",
    "reverse_ops": "reverse operator methods (__radd__ ...)",
    "fstring": "f-strings",
    "tstring": "t-strings",
}

_ERROR_LEVEL_NAMES = {
    ErrorReporting.NONE: "none",
    ErrorReporting.TERSE: "terse",
    ErrorReporting.NORMAL: "normal",
    ErrorReporting.DETAILED: "detailed",
}


@dataclass(frozen=True)
class Conditions:
    """What run-tests.py's skip conditions are asked about: the target and how programs run."""

    caps: Capabilities
    emit: str  # bytecode | native | viper
    via_mpy: bool

    @property
    def platform(self) -> str:
        """sys.platform of the target."""
        return self.caps.platform


# The conditions in run-tests.py's run_tests() that guard skip_tests.add(...) calls, as hilrig
# evaluates them. A condition not listed here is not applied (and is logged once).
_CONDITIONS: Mapping[str, Callable[[Conditions], bool]] = {
    "args.float_prec == 0": lambda c: c.caps.float_bits == 0,
    "args.float_prec < 32": lambda c: 0 < c.caps.float_bits < 32 or c.caps.float_bits == 0,
    "args.float_prec < 64": lambda c: c.caps.float_bits < 64,
    "skip_slice": lambda c: "slice" not in c.caps.features,
    "not has_complex": lambda c: "complex" not in c.caps.features,
    "not has_coverage": lambda c: "coverage" not in c.caps.features,
    "args.platform not in PC_PLATFORMS": lambda c: c.platform not in PC_PLATFORMS,
}
_WHY = {
    "args.float_prec == 0": "the firmware has no floats",
    "args.float_prec < 32": "the firmware's floats have fewer than 32 bits",
    "args.float_prec < 64": "the firmware's floats are single precision",
    "skip_slice": "the firmware has no slice objects",
    "not has_complex": "the firmware has no complex numbers",
    "not has_coverage": "the firmware is not a coverage build",
    "args.platform not in PC_PLATFORMS": "the target is not a PC port",
}


@dataclass(frozen=True)
class SkipRule:
    """Programs run-tests.py skips under one condition, with its comment as the reason."""

    condition: str
    names: Mapping[str, str]  # program name -> comment in run-tests.py ("" if none)


@dataclass(frozen=True)
class TestTree:
    """A checkout of MicroPython's tests/ folder and the lists its run-tests.py keeps."""

    root: Path
    regex_output: frozenset[str] = frozenset()
    rules: tuple[SkipRule, ...] = ()
    by_platform: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    by_emitter: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    by_error_level: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    via_mpy: Mapping[str, str] = field(default_factory=dict)

    def name(self, path: Path) -> str:
        """The program's name as run-tests.py prints it: relative to tests/, forward slashes."""
        return path.resolve().relative_to(self.root).as_posix()

    def module_path(self) -> tuple[Path, ...]:
        """What run-tests.py puts on MICROPYPATH: the repository's extmod/ and unittest."""
        repo = self.root.parent
        found = [repo / "extmod", repo / "lib/micropython-lib/python-stdlib/unittest"]
        return tuple(p for p in found if p.is_dir())

    def skip_reason(self, name: str, when: Conditions) -> str | None:
        """Why run-tests.py would skip this program on this target, or None."""
        return _by_name(name, when) or self._listed(name, when)

    def _listed(self, name: str, when: Conditions) -> str | None:
        for rule in self.rules:
            check = _CONDITIONS.get(rule.condition)
            if name in rule.names and check is not None and check(when):
                return _listed_reason(_WHY[rule.condition], rule.names[name])
        lists = (
            (self.by_platform.get(when.platform, {}), f"on platform {when.platform}"),
            (self.by_emitter.get(when.emit, {}), f"under the {when.emit} emitter"),
            (self.via_mpy if when.via_mpy else {}, "when run as .mpy"),
            (
                self.by_error_level.get(_ERROR_LEVEL_NAMES[when.caps.error_reporting], {}),
                f"at error reporting level {_ERROR_LEVEL_NAMES[when.caps.error_reporting]}",
            ),
        )
        for names, why in lists:
            if name in names:
                return _listed_reason(f"run-tests.py skips it {why}", names[name])
        return None


def _listed_reason(why: str, comment: str) -> str:
    return f"{why} (run-tests.py's list" + (f": {comment})" if comment else ")")


def _by_name(name: str, when: Conditions) -> str | None:
    stem = Path(name).stem
    for feature, prefixes, suffixes, parts in _NAME_RULES:
        named = stem.startswith(prefixes) if prefixes else False
        named |= stem.endswith(suffixes) if suffixes else False
        named |= any(part in stem for part in parts)
        if named and feature not in when.caps.features:
            return f"needs {_FEATURE_TEXT[feature]}, which the firmware lacks (its name says so)"
    if stem.endswith("_endian") and when.caps.byteorder != sys.byteorder:
        return f"the firmware is {when.caps.byteorder}-endian and CPython is {sys.byteorder}"
    if stem.startswith("asm"):
        return "inline assembler tests need the target's assembler (run-tests' --inlineasm-arch)"
    return None


def find_tree(path: Path) -> TestTree | None:
    """The MicroPython test tree a program (or a folder) lies in, or None."""
    resolved = path.resolve()
    return _tree_at(resolved if resolved.is_dir() else resolved.parent)


@cache
def _tree_at(start: Path) -> TestTree | None:
    for folder in (start, *start.parents):
        if (folder / "run-tests.py").is_file() and (folder / "feature_check").is_dir():
            return load_tree(folder)
    return None


@cache
def load_tree(root: Path) -> TestTree:
    """Read the lists of ``root/run-tests.py``; a file hilrig cannot parse gives empty lists."""
    source = (root / "run-tests.py").read_text(encoding="utf-8", errors="replace")
    try:
        module = ast.parse(source)
    except SyntaxError as exc:
        log.warning("cannot read the skip lists of %s: %s", root / "run-tests.py", exc)
        return TestTree(root)
    comments = _Comments(source)
    top = _top_level(module, comments)
    dicts = {k: v for k, v in top.items() if isinstance(v, dict)}
    return TestTree(
        root=root,
        regex_output=frozenset(_regex_output(module)),
        rules=tuple(_rules(module, comments, top)),
        by_platform=_nested(dicts.get("platform_tests_to_skip", {})),
        by_emitter=_nested(dicts.get("emitter_tests_to_skip", {})),
        by_error_level=_error_levels(module, comments, dicts),
        via_mpy=_nested(dicts.get("via_mpy_tests_to_skip", {})).get("True", {}),
    )


_Names = dict[str, str]


class _Comments(Mapping[int, str]):
    """The comment on each line of a source, read when a line is asked for: the names in the
    lists sit on a few hundred of run-tests.py's lines, and tokenizing the whole file costs more
    than a worker's collection of its programs. A line is tokenized alone; a bracket it leaves
    open ends its tokens after its comment has been read."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.read: dict[int, str | None] = {}

    def __getitem__(self, lineno: int) -> str:
        if not isinstance(lineno, int):
            raise KeyError(lineno)
        if lineno not in self.read:
            line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
            self.read[lineno] = _comment(line) if "#" in line else None
        found = self.read[lineno]
        if found is None:
            raise KeyError(lineno)
        return found

    def __iter__(self) -> Iterator[int]:
        return (n for n in range(1, len(self.lines) + 1) if n in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _comment(line: str) -> str | None:
    found = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type == tokenize.COMMENT:
                found = token.string.lstrip("# ").strip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def _strings(node: ast.AST, comments: Mapping[int, str]) -> _Names:
    """Every string constant under ``node`` that names a program, with its line's comment."""
    return {
        n.value: comments.get(n.lineno, "")
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.endswith(".py")
    }


def _top_level(module: ast.Module, comments: Mapping[int, str]) -> dict[str, object]:
    """Top-level ``name = (...)`` / ``{...}`` assignments: tuples as names, dicts per key."""
    found: dict[str, object] = {}
    for stmt in module.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        target = stmt.targets[0]
        if not isinstance(target, ast.Name):
            continue
        if isinstance(stmt.value, ast.Dict):
            found[target.id] = {
                ast.unparse(k): _strings(v, comments)
                for k, v in zip(stmt.value.keys, stmt.value.values, strict=True)
                if k is not None
            }
        elif isinstance(stmt.value, ast.Tuple | ast.List):
            found[target.id] = _strings(stmt.value, comments)
    return found


def _nested(value: object) -> dict[str, _Names]:
    if not isinstance(value, dict):
        return {}
    return {str(k).strip("'\""): dict(v) for k, v in value.items() if isinstance(v, dict)}


def _regex_output(module: ast.Module) -> Iterable[str]:
    for stmt in module.body:
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == "tests_with_regex_output"
        ):
            yield from _strings(stmt.value, {})


def _rules(
    module: ast.Module, comments: Mapping[int, str], top: Mapping[str, object]
) -> Iterable[SkipRule]:
    """``if <condition>: skip_tests.add("x.py")`` / ``.update(LIST)`` inside run_tests()."""
    for func in module.body:
        if not (isinstance(func, ast.FunctionDef) and func.name == "run_tests"):
            continue
        for node in ast.walk(func):
            if not isinstance(node, ast.If):
                continue
            condition = ast.unparse(node.test)
            if condition not in _CONDITIONS:
                continue
            names: _Names = {}
            for stmt in node.body:
                names.update(_skip_calls(stmt, comments, top))
            if names:
                yield SkipRule(condition, names)


def _skip_calls(stmt: ast.stmt, comments: Mapping[int, str], top: Mapping[str, object]) -> _Names:
    names: _Names = {}
    for call in ast.walk(stmt):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and ast.unparse(call.func.value) == "skip_tests"
        ):
            continue
        if call.func.attr == "add":
            names.update(_strings(call, comments))
        elif call.func.attr == "update" and call.args and isinstance(call.args[0], ast.Name):
            listed = top.get(call.args[0].id)
            if isinstance(listed, dict):
                names.update({k: v for k, v in listed.items() if isinstance(v, str)})
    return names


def _error_levels(
    module: ast.Module, comments: Mapping[int, str], dicts: Mapping[str, object]
) -> dict[str, _Names]:
    """error_reporting_tests_to_skip, with ``["none"] = ["terse"] + (...)`` folded in."""
    levels = _nested(dicts.get("error_reporting_tests_to_skip", {}))
    for stmt in module.body:
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.targets[0], ast.Subscript)
            and ast.unparse(stmt.targets[0].value) == "error_reporting_tests_to_skip"
        ):
            key = ast.unparse(stmt.targets[0].slice).strip("'\"")
            names = dict(levels.get("terse", {})) if "terse" in ast.unparse(stmt.value) else {}
            names.update(_strings(stmt.value, comments))
            levels[key] = names
    return levels
