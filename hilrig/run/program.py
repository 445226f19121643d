"""The program model: a test program file, what its tracebacks call it, and its own directives.

A program may carry ``# hilrig: key=value`` lines (``timeout``, ``emit``); they override the
target's settings for that program only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hilrig.errors import ConfigError
from hilrig.limits import TIMEOUT
from hilrig.run.mptests import TestTree, find_tree

EMITTERS = ("bytecode", "native", "viper")
_DIRECTIVE = re.compile(rb"^#\s*hilrig:\s*(.+)$", re.MULTILINE)
_WIRING_IMPORT = re.compile(rb"^[ \t]*(?:import|from)[ \t]+target_wiring\b", re.MULTILINE)
_WIRING_FROM = re.compile(
    rb"^[ \t]*from[ \t]+target_wiring[ \t]+import[ \t]*(?:\(([^)]*)\)|((?:[\w \t,]|\\\n)+))", re.M
)
_WIRING_ATTR = re.compile(rb"\btarget_wiring\.(\w+)")
_NATIVE = re.compile(rb"^\s*@micropython\.(native|viper|asm_thumb|asm_xtensa)\b", re.MULTILINE)


@dataclass(frozen=True)
class Program:
    """A test program: where it is, what tracebacks call it, and its own overrides."""

    path: Path
    name: str  # path relative to rootdir, with forward slashes
    source: bytes
    timeout_s: float | None = None  # `# hilrig: timeout_s=30`
    emit: str | None = None  # `# hilrig: emit=native`
    expected: bytes | None = None  # contents of <program>.py.exp
    # <program>.py.<emitter>.exp files, which win over .py.exp under that emitter
    emit_expected: Mapping[str, bytes] = field(default_factory=dict, compare=False)
    tree: TestTree | None = field(default=None, compare=False)  # MicroPython's tests/, if in it

    def expected_for(self, emit: str) -> tuple[bytes, str] | None:
        """The expected output under ``emit`` and the file it comes from, or None."""
        if emit in self.emit_expected:
            return self.emit_expected[emit], f"{self.name}.{emit}.exp"
        if self.expected is not None:
            return self.expected, f"{self.name}.exp"
        return None

    @property
    def needs_native(self) -> bool:
        """True if the program asks for native code (decorators or emit)."""
        return self.emit in ("native", "viper") or bool(_NATIVE.search(self.source))

    @property
    def wiring_needed(self) -> frozenset[str] | None:
        """The names of ``target_wiring`` the program uses; None when it does not import it."""
        if not _WIRING_IMPORT.search(self.source):
            return None
        names = {m.group(1).decode() for m in _WIRING_ATTR.finditer(self.source)}
        for match in _WIRING_FROM.finditer(self.source):
            text = (match.group(1) or match.group(2)).decode().replace("\\", " ")
            names.update(part.split()[0] for part in text.split(",") if part.split())
        return frozenset(names)


def read_program(path: Path, rootdir: Path) -> Program:
    """Read a program and its ``# hilrig: key=value`` directives and ``.py.exp`` file."""
    source = path.read_bytes()
    tree = find_tree(path)
    if tree is not None:
        name = tree.name(path)  # basics/int1.py, as run-tests.py names it
    else:
        try:
            name = path.resolve().relative_to(rootdir.resolve()).as_posix()
        except ValueError:
            name = path.as_posix()
    settings: dict[str, str] = {}
    for match in _DIRECTIVE.finditer(source[:4096]):
        for pair in match.group(1).decode(errors="replace").replace(",", " ").split():
            key, _, value = pair.partition("=")
            settings[key.strip()] = value.strip()
    exp = path.with_name(path.name + ".exp")
    by_emit = {}
    for emit in EMITTERS:
        emit_exp = path.with_name(f"{path.name}.{emit}.exp")
        if emit_exp.is_file():
            by_emit[emit] = emit_exp.read_bytes()
    return Program(
        path=path,
        name=name,
        source=source,
        timeout_s=_directive_timeout(settings, name),
        emit=_directive_emit(settings, name),
        expected=exp.read_bytes() if exp.is_file() else None,
        emit_expected=by_emit,
        tree=tree,
    )


def _directive_timeout(settings: dict[str, str], name: str) -> float | None:
    if "timeout_s" not in settings:
        return None
    return TIMEOUT.check(settings["timeout_s"], f"{name}: '# hilrig: timeout_s'")


def _directive_emit(settings: dict[str, str], name: str) -> str | None:
    emit = settings.get("emit")
    if emit is not None and emit not in EMITTERS:
        raise ConfigError(f"{name}: '# hilrig: emit=' must be bytecode, native or viper")
    return emit
