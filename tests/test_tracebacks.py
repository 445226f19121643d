"""Traceback parsing against real output of the host MicroPython VM and of CPython."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hilrig.compare.tracebacks import (
    HEADER,
    Frame,
    Traceback,
    first_frame_difference,
    format_traceback,
    frame_table,
    parse_traceback,
    split_exception,
)

MICROPYTHON = shutil.which("micropython")
needs_micropython = pytest.mark.skipif(MICROPYTHON is None, reason="host micropython not on PATH")

NESTED = """\
def f(x):
    return g(x)

def g(x):
    return 1 / x

print("start")
f(0)
"""


def traceback_of(command: list[str], source: str, cwd: Path) -> str:
    """Run ``source`` as cwd/prog.py; the traceback text it ended with (stdout on unix >= 1.27)."""
    (cwd / "prog.py").write_text(source)
    proc = subprocess.run(
        [*command, "prog.py"], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    if HEADER in proc.stdout:
        return split_exception(proc.stdout)[1]
    return proc.stderr


def micropython(source: str, cwd: Path) -> Traceback:
    assert MICROPYTHON is not None
    tb = parse_traceback(traceback_of([MICROPYTHON], source, cwd))
    assert tb is not None
    return tb


def cpython(source: str, cwd: Path) -> Traceback:
    tb = parse_traceback(traceback_of([sys.executable, "-B"], source, cwd))
    assert tb is not None
    return tb


@needs_micropython
def test_host_vm_nested_calls(tmp_path: Path) -> None:
    tb = micropython(NESTED, tmp_path)
    assert tb == Traceback(
        frames=(
            Frame("prog.py", 8, "<module>"),
            Frame("prog.py", 2, "f"),
            Frame("prog.py", 5, "g"),
        ),
        exc_type="ZeroDivisionError",
        message="divide by zero",
    )


@needs_micropython
def test_host_vm_generator_and_empty_message(tmp_path: Path) -> None:
    source = "def gen():\n    yield 1\n    raise ValueError\n\nfor x in gen():\n    print(x)\n"
    tb = micropython(source, tmp_path)
    assert tb.frames == (Frame("prog.py", 5, "<module>"), Frame("prog.py", 3, "gen"))
    assert (tb.exc_type, tb.message) == ("ValueError", "")


@needs_micropython
def test_host_vm_with_statement(tmp_path: Path) -> None:
    source = (
        "class C:\n    def __enter__(self):\n        return self\n"
        "    def __exit__(self, *a):\n        return False\n\n"
        "with C():\n    raise KeyboardInterrupt\n"
    )
    tb = micropython(source, tmp_path)
    assert tb.frames == (Frame("prog.py", 8, "<module>"),)
    assert (tb.exc_type, tb.message) == ("KeyboardInterrupt", "")


@needs_micropython
def test_host_vm_reraise_keeps_original_frames(tmp_path: Path) -> None:
    source = (
        "def f():\n    raise OSError(2)\n\n"
        'try:\n    f()\nexcept OSError:\n    print("caught")\n    raise\n'
    )
    tb = micropython(source, tmp_path)
    assert tb.frames == (Frame("prog.py", 5, "<module>"), Frame("prog.py", 2, "f"))
    assert (tb.exc_type, tb.message) == ("OSError", "[Errno 2] ENOENT")


@needs_micropython
def test_host_vm_syntax_error_frame_has_no_function(tmp_path: Path) -> None:
    tb = micropython("x = 1\ny = (\n", tmp_path)
    assert tb.frames == (Frame("prog.py", 3, None),)  # the line after the open bracket: EOF
    assert tb.exc_type == "SyntaxError"
    assert tb.message == "invalid syntax"


@needs_micropython
def test_host_vm_multi_line_message(tmp_path: Path) -> None:
    tb = micropython('raise ValueError("first\\nsecond")\n', tmp_path)
    assert tb.message == "first\nsecond"


@needs_micropython
def test_host_vm_stdin_program(tmp_path: Path) -> None:
    assert MICROPYTHON is not None
    proc = subprocess.run(
        [MICROPYTHON, "-c", "print(1)\n1/0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    before, text = split_exception(proc.stdout + proc.stderr)
    assert before == "1\n"
    tb = parse_traceback(text)
    assert tb is not None
    assert tb.frames == (Frame("<stdin>", 2, "<module>"),)


def test_cpython_source_echo_and_markers(tmp_path: Path) -> None:
    tb = cpython(NESTED, tmp_path)
    assert [(f.line, f.function) for f in tb.frames] == [(8, "<module>"), (2, "f"), (5, "g")]
    assert all(Path(f.file).name == "prog.py" for f in tb.frames)
    assert (tb.exc_type, tb.message) == ("ZeroDivisionError", "division by zero")


def test_cpython_bare_exception_name(tmp_path: Path) -> None:
    tb = cpython("raise ValueError\n", tmp_path)
    assert (tb.exc_type, tb.message) == ("ValueError", "")


def test_cpython_syntax_error_has_no_header(tmp_path: Path) -> None:
    tb = cpython("x = 1\ny = (\n", tmp_path)
    assert tb.exc_type == "SyntaxError"
    assert len(tb.frames) == 1 and tb.frames[0].function is None


def test_cpython_chain_takes_last_exception(tmp_path: Path) -> None:
    source = 'try:\n    {}["k"]\nexcept KeyError as e:\n    raise ValueError("bad") from e\n'
    tb = cpython(source, tmp_path)
    assert (tb.exc_type, tb.message) == ("ValueError", "bad")
    assert [f.line for f in tb.frames] == [4]


def test_cpython_during_handling(tmp_path: Path) -> None:
    source = "try:\n    1/0\nexcept ZeroDivisionError:\n    undefined_name\n"
    tb = cpython(source, tmp_path)
    assert tb.exc_type == "NameError"
    assert [f.line for f in tb.frames] == [4]


def test_cpython_recursion_repeat_line(tmp_path: Path) -> None:
    tb = cpython("def f(n):\n    return f(n + 1)\n\nf(0)\n", tmp_path)
    assert tb.exc_type == "RecursionError"
    assert tb.frames[0] == Frame(tb.frames[0].file, 4, "<module>")


def test_microbit_crlf_output() -> None:
    text = (
        "Traceback (most recent call last):\r\n"
        '  File "<stdin>", line 1, in <module>\r\n'
        "ZeroDivisionError: division by zero\r\n"
    )
    tb = parse_traceback(text)
    assert tb == Traceback(
        (Frame("<stdin>", 1, "<module>"),), "ZeroDivisionError", "division by zero"
    )


def test_frames_without_line_numbers() -> None:
    text = f'{HEADER}\n  File "x.py", in <module>\n  File "x.py", in f\nKeyboardInterrupt: \n'
    tb = parse_traceback(text)
    assert tb is not None
    assert tb.frames == (Frame("x.py", None, "<module>"), Frame("x.py", None, "f"))
    assert (tb.exc_type, tb.message) == ("KeyboardInterrupt", "")


@pytest.mark.parametrize(
    "text",
    ["", "hello\n", f"{HEADER}\n", f'{HEADER}\n  File "x.py", line 1\n', f"{HEADER}\n!!\n"],
)
def test_not_a_traceback(text: str) -> None:
    assert parse_traceback(text) is None


def test_format_round_trips() -> None:
    tb = Traceback(
        (Frame("a.py", 3, "<module>"), Frame("a.py", None, "f"), Frame("a.py", 9)),
        "ValueError",
        "two\nlines",
    )
    text = format_traceback(tb)
    assert text == (
        f'{HEADER}\n  File "a.py", line 3, in <module>\n  File "a.py", in f\n'
        '  File "a.py", line 9\nValueError: two\nlines\n'
    )
    assert parse_traceback(text) == tb


def test_split_exception_without_traceback() -> None:
    assert split_exception("just output\n") == ("just output\n", "")


def test_split_exception_keeps_crlf_and_chain() -> None:
    first = f"{HEADER}\r\n  File \"a.py\", line 2, in <module>\r\nKeyError: 'k'\r\n"
    separator = "\r\nThe above exception was the direct cause of the following exception:\r\n\r\n"
    last = f'{HEADER}\r\n  File "a.py", line 4, in <module>\r\nValueError: bad\r\n'
    before, tb = split_exception("out\r\n" + first + separator + last)
    assert before == "out\r\n"
    assert tb == first + separator + last


def test_first_frame_difference() -> None:
    a = (Frame("a.py", 1, "<module>"), Frame("a.py", 2, "f"))
    assert first_frame_difference(a, a) is None
    assert first_frame_difference(a, (a[0], Frame("a.py", 3, "f"))) == 1
    assert first_frame_difference(a, a[:1]) == 1
    assert first_frame_difference((Frame("a.py", None, "<module>"),), a[:1]) is None


def test_frame_table_marks_first_difference() -> None:
    ref = (Frame("a.py", 1, "<module>"), Frame("a.py", 2, "f"))
    rows = frame_table(ref, ref[:1], width=40)
    assert rows == [
        '      1  "a.py", line 1, in <module> | "a.py", line 1, in <module>',
        '  >   2  "a.py", line 2, in f        | (no frame)',
    ]
