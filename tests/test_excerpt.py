"""Failure reports show each frame's source line and flag lines the .mpy cannot produce."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hilrig.compare.excerpt import annotate
from hilrig.compare.tracebacks import split_exception
from hilrig.mpy.compiler import Compiler, CompileRequest, shipped_compilers

SOURCE = b"""def inner(x):
    return 10 // x

def outer(x):
    y = x - 1
    return inner(y)

print(outer(3))
print(outer(1))
"""


def compiled(tmp_path: Path) -> bytes:
    compiler = Compiler(shipped_compilers(tmp_path)[0], tmp_path)
    return compiler.compile(CompileRequest(SOURCE, "suites/div.py"))


def host_traceback(tmp_path: Path, mpy: bytes) -> str:
    (tmp_path / "div.mpy").write_bytes(mpy)
    proc = subprocess.run(
        ["micropython", "-m", "div"], cwd=tmp_path, capture_output=True, timeout=30, check=False
    )
    return split_exception((proc.stdout + proc.stderr).decode())[1]


def test_frames_show_source_lines_from_a_real_host_traceback(tmp_path: Path) -> None:
    mpy = compiled(tmp_path)
    text = annotate(host_traceback(tmp_path, mpy), "suites/div.py", SOURCE, mpy)
    assert text.splitlines() == [
        "board traceback with source:",
        "  suites/div.py:9 in <module>: print(outer(1))",
        "  suites/div.py:6 in outer: return inner(y)",
        "  suites/div.py:2 in inner: return 10 // x",
    ]


def test_a_line_outside_the_line_table_is_flagged(tmp_path: Path) -> None:
    mpy = compiled(tmp_path)
    forged = (
        "Traceback (most recent call last):\n"
        '  File "suites/div.py", line 9, in <module>\n'
        '  File "suites/div.py", line 8, in outer\n'
        "ZeroDivisionError: divide by zero\n"
    )
    rows = annotate(forged, "suites/div.py", SOURCE, mpy).splitlines()
    assert "line 9 is not in" not in rows[1]
    assert rows[2].endswith("<- line 8 is not in the .mpy line table of outer")


def test_source_mode_and_foreign_frames(tmp_path: Path) -> None:
    tb = (
        "Traceback (most recent call last):\n"
        '  File "lib/helper.py", line 3, in helper\n'
        '  File "suites/div.py", line 99, in <module>\n'
        "ValueError: x\n"
    )
    rows = annotate(tb, "suites/div.py", SOURCE, None).splitlines()
    assert rows[1] == "  lib/helper.py:3 in helper"
    assert rows[2] == "  suites/div.py:99 in <module>: (past the end)"
    assert annotate("no traceback here", "suites/div.py", SOURCE, None) == ""
